//! Binary XML (AXML), the compiled `AndroidManifest.xml` inside an APK.
//!
//! Chunks: a file header (`0x0003`), a string pool (`0x0001`, UTF-8 or UTF-16), a resource map
//! (`0x0180`, the `android:` resource id of each attribute name), then namespace, element and
//! text nodes. Attributes carry a raw string and a typed value (string, decimal or hex integer,
//! boolean, reference...).
//!
//! What is extracted: the package, `versionCode` (with `versionCodeMajor` in the upper 32 bits),
//! `versionName`, the application label (a literal string only; a resource reference is not
//! resolved), the fully qualified names of the application class and of every activity,
//! activity-alias, service, receiver and provider, provider authorities (`authority:<value>`),
//! `<meta-data>` name/value pairs and permission names.
//!
//! `android:` attributes are found the way the platform does it, by resource id through the
//! resource map, and by name only when no attribute carries the id (a stripped or obfuscated
//! resource map). Evasion tricks seen in the wild are tolerated: chunk header sizes of 0, a
//! final chunk whose size is 0, lying string counts, file sizes that disagree with the data.
//!
//! The parts: `pool` (the string pool, each string decoded once and shared), `budget` (what
//! reading may cost), `element` (typed attribute values, `android:` attributes by resource id,
//! what each element says); this module walks the chunks and fills the manifest fields of a
//! `Fingerprint`. `tests` holds a small AXML writer that the tests build their inputs with.
//!
//! Reading is budgeted (`budget`): each pool string is decoded once and shared, and a manifest
//! may decode at most 16 MiB of strings (counting what is copied into the fingerprint), hold at
//! most 100,000 elements and 1,000,000 attributes. Real manifests stay far below: the largest
//! third-party fixture decodes to 11 KB, and manifests of apps with thousands of
//! components to well under 1 MiB. A manifest over a limit is read up to it: what was read
//! (package, versions...) is kept, with a warning naming the limit and
//! [`Fingerprint::partial`] set; when the package had not been read by then, it is an error.

mod budget;
mod element;
mod pool;
#[cfg(test)]
pub(crate) mod tests;

use super::cursor::{u16_at, u32_at, Cursor};
use super::Fingerprint;
use budget::Budget;
pub use budget::{MAX_ATTRIBUTES, MAX_DECODED_BYTES, MAX_ELEMENTS};
use element::{read_attrs, Collect, Doc};
use pool::parse_string_pool;

const RES_XML_TYPE: u16 = 0x0003;
const RES_STRING_POOL_TYPE: u16 = 0x0001;
const RES_XML_RESOURCE_MAP_TYPE: u16 = 0x0180;
const RES_XML_START_NAMESPACE_TYPE: u16 = 0x0100;
const RES_XML_END_NAMESPACE_TYPE: u16 = 0x0101;
const RES_XML_START_ELEMENT_TYPE: u16 = 0x0102;
const RES_XML_END_ELEMENT_TYPE: u16 = 0x0103;
const RES_XML_CDATA_TYPE: u16 = 0x0104;
const UTF8_FLAG: u32 = 0x100;
const NODE_HEADER_LEN: usize = 16;
const ATTR_LEN: usize = 20;
const NO_INDEX: u32 = 0xffff_ffff;

/// `android:` attribute resource ids (android.R.attr).
pub const ATTR_LABEL: u32 = 0x0101_0001;
pub const ATTR_NAME: u32 = 0x0101_0003;
pub const ATTR_AUTHORITIES: u32 = 0x0101_0018;
pub const ATTR_VALUE: u32 = 0x0101_0024;
pub const ATTR_VERSION_CODE: u32 = 0x0101_021b;
pub const ATTR_VERSION_NAME: u32 = 0x0101_021c;
pub const ATTR_VERSION_CODE_MAJOR: u32 = 0x0101_0576;

const TYPE_REFERENCE: u8 = 0x01;
const TYPE_ATTRIBUTE: u8 = 0x02;
const TYPE_STRING: u8 = 0x03;
const TYPE_FLOAT: u8 = 0x04;
const TYPE_INT_DEC: u8 = 0x10;
const TYPE_INT_HEX: u8 = 0x11;
const TYPE_INT_BOOLEAN: u8 = 0x12;

/// Why a binary manifest could not be read at all.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AxmlError {
    #[error("not binary XML (offset {offset}): {what}")]
    NotAxml { offset: u64, what: &'static str },
    #[error("malformed at offset {offset}: {what}")]
    Malformed { offset: u64, what: &'static str },
    /// A limit of the reader was reached before the package name was read.
    #[error("over the limit of {what} at offset {offset}, before the package name")]
    OverBudget { offset: u64, what: &'static str },
}

impl AxmlError {
    pub fn offset(&self) -> u64 {
        match self {
            Self::NotAxml { offset, .. }
            | Self::Malformed { offset, .. }
            | Self::OverBudget { offset, .. } => *offset,
        }
    }

    pub fn what(&self) -> &'static str {
        match self {
            Self::NotAxml { what, .. }
            | Self::Malformed { what, .. }
            | Self::OverBudget { what, .. } => what,
        }
    }
}

/// Parses a binary `AndroidManifest.xml` into the manifest fields of a [`Fingerprint`] (package,
/// versions, label, components, meta-data, permissions, and warnings for parts that could not
/// be read); certificates and native libraries are the probe's.
pub fn parse_manifest(data: &[u8]) -> Result<Fingerprint, AxmlError> {
    parse_budgeted(data).0
}

/// [`parse_manifest`], and what the reading cost.
pub(crate) fn parse_budgeted(data: &[u8]) -> (Result<Fingerprint, AxmlError>, Budget) {
    let mut budget = Budget::default();
    let r = parse(data, &mut budget);
    (r, budget)
}

fn parse(data: &[u8], budget: &mut Budget) -> Result<Fingerprint, AxmlError> {
    let (Some(ty), Some(hsize), Some(size)) = (u16_at(data, 0), u16_at(data, 2), u32_at(data, 4))
    else {
        return Err(AxmlError::NotAxml {
            offset: 0,
            what: "shorter than a chunk header",
        });
    };
    if ty != RES_XML_TYPE {
        return Err(AxmlError::NotAxml {
            offset: 0,
            what: "first chunk is not an XML document",
        });
    }
    let mut warnings = Warnings::default();
    let declared = usize::try_from(size).unwrap_or(usize::MAX);
    let end = if declared < 8 || declared > data.len() {
        warnings.push(format!(
            "document size {size} disagrees with the {} bytes present",
            data.len()
        ));
        data.len()
    } else {
        declared
    };
    let mut pos = match usize::from(hsize) {
        h if (8..=end).contains(&h) => h,
        _ => 8,
    };
    let mut doc = Doc {
        pool: None,
        res_map: Vec::new(),
        budget: std::mem::take(budget),
    };
    let mut col = Collect::default();
    let mut elements = 0usize;
    while pos.saturating_add(8) <= end {
        let (Some(ty), Some(hsize), Some(csize)) = (
            u16_at(data, pos),
            u16_at(data, pos + 2),
            u32_at(data, pos + 4),
        ) else {
            break;
        };
        let hsize = usize::from(hsize);
        let mut csize = usize::try_from(csize).unwrap_or(usize::MAX);
        if csize < 8 || csize > end - pos {
            // A chunk size of 0 (or one that runs past the end): node chunks have known sizes.
            let guess = match ty {
                RES_XML_START_NAMESPACE_TYPE
                | RES_XML_END_NAMESPACE_TYPE
                | RES_XML_END_ELEMENT_TYPE => Some(24),
                RES_XML_CDATA_TYPE => Some(28),
                _ => None,
            };
            match guess.filter(|g| pos + g <= end) {
                Some(g) => {
                    warnings.push(format!(
                        "chunk at offset {pos} has size {csize}; assumed {g}"
                    ));
                    csize = g;
                }
                None => {
                    if ty != RES_XML_START_ELEMENT_TYPE || doc.pool.is_none() {
                        warnings.push(format!(
                            "chunk at offset {pos} (type 0x{ty:04x}) has an impossible size {csize}; stopped there"
                        ));
                        break;
                    }
                    warnings.push(format!(
                        "element chunk at offset {pos} has an impossible size {csize}"
                    ));
                    csize = end - pos;
                }
            }
        }
        let Some(chunk) = data.get(pos..pos + csize) else {
            break;
        };
        match ty {
            RES_STRING_POOL_TYPE if doc.pool.is_none() => {
                doc.pool = parse_string_pool(chunk, hsize);
                if doc.pool.is_none() {
                    return Err(AxmlError::Malformed {
                        offset: pos as u64,
                        what: "string pool header truncated",
                    });
                }
            }
            RES_XML_RESOURCE_MAP_TYPE if doc.res_map.is_empty() => {
                let hl = if (8..=csize).contains(&hsize) {
                    hsize
                } else {
                    8
                };
                let mut c = Cursor::new(chunk.get(hl..).unwrap_or_default());
                while let Some(id) = c.u32() {
                    doc.res_map.push(id);
                }
            }
            RES_XML_START_ELEMENT_TYPE => {
                let ext = if (NODE_HEADER_LEN..csize).contains(&hsize) {
                    hsize
                } else {
                    NODE_HEADER_LEN
                };
                if !doc.budget.element() {
                    break;
                }
                let name = u32_at(chunk, ext + 4).and_then(|i| doc.string(i));
                match name {
                    Some(name) => {
                        let attrs = read_attrs(&mut doc, chunk, ext);
                        if doc.budget.over().is_some() {
                            break;
                        }
                        col.start(name, &attrs, &mut doc.budget);
                        elements += 1;
                    }
                    None if doc.budget.over().is_some() => break,
                    None => {
                        warnings.push(format!("element at offset {pos} has no readable name"));
                        col.stack.push(std::rc::Rc::from(""));
                    }
                }
            }
            RES_XML_END_ELEMENT_TYPE => {
                col.stack.pop();
            }
            _ => {}
        }
        if doc.budget.over().is_some() {
            break;
        }
        pos += csize;
    }
    if doc.pool.is_none() {
        return Err(AxmlError::Malformed {
            offset: 8,
            what: "no string pool",
        });
    }
    if let Some(what) = doc.budget.over() {
        if !col.has_package() {
            *budget = doc.budget;
            return Err(AxmlError::OverBudget {
                offset: pos as u64,
                what,
            });
        }
    } else if elements == 0 {
        return Err(AxmlError::Malformed {
            offset: pos as u64,
            what: "no elements",
        });
    }
    let mut m = col.finish(&mut doc.budget);
    m.warnings = warnings.finish();
    if let Some(what) = doc.budget.over() {
        let why = format!("read up to offset {pos} only: over the limit of {what}");
        m.warnings.push(why.clone());
        m.partial = Some(why);
    }
    *budget = doc.budget;
    Ok(m)
}

/// Warnings kept per manifest: one per odd chunk would let a manifest of tiny chunks fill a
/// report.
const MAX_WARNINGS: usize = 16;

/// The first [`MAX_WARNINGS`] warnings, and how many more there were.
#[derive(Default)]
struct Warnings {
    kept: Vec<String>,
    more: usize,
}

impl Warnings {
    fn push(&mut self, w: String) {
        if self.kept.len() < MAX_WARNINGS {
            self.kept.push(w);
        } else {
            self.more += 1;
        }
    }

    fn finish(mut self) -> Vec<String> {
        if self.more > 0 {
            self.kept
                .push(format!("and {} more warnings like these", self.more));
        }
        self.kept
    }
}
