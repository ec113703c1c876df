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

use super::cursor::{u16_at, u32_at, Cursor};
use super::Fingerprint;
use crate::model::MetaData;

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
}

impl AxmlError {
    pub fn offset(&self) -> u64 {
        match self {
            Self::NotAxml { offset, .. } | Self::Malformed { offset, .. } => *offset,
        }
    }

    pub fn what(&self) -> &'static str {
        match self {
            Self::NotAxml { what, .. } | Self::Malformed { what, .. } => what,
        }
    }
}

/// The string pool, decoded on demand.
struct StringPool<'a> {
    chunk: &'a [u8],
    offsets: Vec<u32>,
    strings_start: usize,
    utf8: bool,
}

impl StringPool<'_> {
    fn get(&self, idx: u32) -> Option<String> {
        let off = *self.offsets.get(usize::try_from(idx).ok()?)?;
        let start = self.strings_start.checked_add(usize::try_from(off).ok()?)?;
        let mut c = Cursor::new(self.chunk.get(start..)?);
        if self.utf8 {
            let _chars = utf8_len(&mut c)?;
            let bytes = utf8_len(&mut c)?;
            let raw = c.take(bytes).or_else(|| c.take(c.remaining()))?;
            let raw = raw.split(|b| *b == 0).next().unwrap_or_default();
            Some(String::from_utf8_lossy(raw).into_owned())
        } else {
            let first = c.u16()?;
            let len = if first & 0x8000 != 0 {
                (usize::from(first & 0x7fff) << 16) | usize::from(c.u16()?)
            } else {
                usize::from(first)
            };
            let n = len.min(c.remaining() / 2);
            let units: Vec<u16> = (0..n)
                .map_while(|_| c.u16())
                .take_while(|u| *u != 0)
                .collect();
            Some(String::from_utf16_lossy(&units))
        }
    }
}

fn utf8_len(c: &mut Cursor<'_>) -> Option<usize> {
    let first = c.u8()?;
    if first & 0x80 != 0 {
        Some((usize::from(first & 0x7f) << 8) | usize::from(c.u8()?))
    } else {
        Some(usize::from(first))
    }
}

fn parse_string_pool(chunk: &[u8], header_len: usize) -> Option<StringPool<'_>> {
    let count = u32_at(chunk, 8)?;
    let flags = u32_at(chunk, 16)?;
    let strings_start = usize::try_from(u32_at(chunk, 20)?).ok()?;
    let hl = if (28..=chunk.len()).contains(&header_len) {
        header_len
    } else {
        28
    };
    let table = chunk.get(hl..)?;
    // Never believe the count beyond the bytes that could hold it.
    let n = usize::try_from(count).ok()?.min(table.len() / 4);
    let mut offsets = Vec::with_capacity(n);
    let mut c = Cursor::new(table);
    for _ in 0..n {
        offsets.push(c.u32()?);
    }
    Some(StringPool {
        chunk,
        offsets,
        strings_start,
        utf8: flags & UTF8_FLAG != 0,
    })
}

/// A typed attribute value.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Value {
    Str(String),
    IntDec(u32),
    IntHex(u32),
    Bool(bool),
    Ref(u32),
    Other(u8, u32),
}

impl Value {
    fn as_string(&self) -> Option<&str> {
        match self {
            Self::Str(s) => Some(s),
            _ => None,
        }
    }

    fn as_u32(&self) -> Option<u32> {
        match self {
            Self::IntDec(v) | Self::IntHex(v) => Some(*v),
            Self::Str(s) => s.trim().parse().ok(),
            _ => None,
        }
    }

    fn render(&self) -> String {
        match self {
            Self::Str(s) => s.clone(),
            Self::IntDec(v) => (*v as i32).to_string(),
            Self::IntHex(v) => format!("0x{v:x}"),
            Self::Bool(b) => b.to_string(),
            Self::Ref(r) => format!("@0x{r:08x}"),
            Self::Other(TYPE_FLOAT, v) => f32::from_bits(*v).to_string(),
            Self::Other(_, v) => v.to_string(),
        }
    }
}

#[derive(Debug, Clone)]
struct Attr {
    name: Option<String>,
    res_id: Option<u32>,
    value: Value,
}

struct Doc<'a> {
    pool: Option<StringPool<'a>>,
    res_map: Vec<u32>,
}

impl Doc<'_> {
    fn string(&self, idx: u32) -> Option<String> {
        if idx == NO_INDEX {
            return None;
        }
        self.pool.as_ref()?.get(idx)
    }
}

/// Finds an `android:` attribute: by resource id first; by name only among attributes that
/// carry no resource id.
fn find<'b>(attrs: &'b [Attr], res_id: u32, name: &str) -> Option<&'b Value> {
    attrs
        .iter()
        .find(|a| a.res_id == Some(res_id))
        .or_else(|| {
            attrs
                .iter()
                .find(|a| a.res_id.is_none() && a.name.as_deref() == Some(name))
        })
        .map(|a| &a.value)
}

/// `Class` or `.Class` is relative to the package; a name with a dot elsewhere is absolute.
fn qualify(package: Option<&str>, name: &str) -> String {
    match package {
        Some(p) if name.starts_with('.') => format!("{p}{name}"),
        Some(p) if !name.contains('.') => format!("{p}.{name}"),
        _ => name.to_string(),
    }
}

/// Element-level collection while walking the tree.
#[derive(Default)]
struct Collect {
    m: Fingerprint,
    /// (element name) for each open element.
    stack: Vec<String>,
    /// Component names as written, qualified once the package is known.
    raw_components: Vec<String>,
}

impl Collect {
    fn start(&mut self, name: &str, attrs: &[Attr]) {
        let parent = self.stack.last().map(String::as_str);
        let depth = self.stack.len();
        match (name, parent) {
            ("manifest", None) if depth == 0 => {
                if self.m.package.is_none() {
                    self.m.package = attrs
                        .iter()
                        .find(|a| a.name.as_deref() == Some("package"))
                        .and_then(|a| a.value.as_string().map(str::to_string));
                }
                let code = find(attrs, ATTR_VERSION_CODE, "versionCode").and_then(Value::as_u32);
                let major = find(attrs, ATTR_VERSION_CODE_MAJOR, "versionCodeMajor")
                    .and_then(Value::as_u32);
                if let Some(code) = code {
                    self.m.version_code =
                        Some((u64::from(major.unwrap_or(0)) << 32) | u64::from(code));
                }
                self.m.version_name = find(attrs, ATTR_VERSION_NAME, "versionName")
                    .and_then(Value::as_string)
                    .map(str::to_string);
            }
            ("application", Some("manifest")) => {
                if let Some(label) = find(attrs, ATTR_LABEL, "label").and_then(Value::as_string) {
                    self.m.label = Some(label.to_string());
                }
                self.component(attrs);
            }
            ("activity" | "activity-alias" | "service" | "receiver", Some("application")) => {
                self.component(attrs);
            }
            ("provider", Some("application")) => {
                self.component(attrs);
                if let Some(auth) =
                    find(attrs, ATTR_AUTHORITIES, "authorities").and_then(Value::as_string)
                {
                    for a in auth.split(';').map(str::trim).filter(|a| !a.is_empty()) {
                        self.m.components.push(format!("authority:{a}"));
                    }
                }
            }
            ("meta-data", Some(_)) => {
                let name = find(attrs, ATTR_NAME, "name").and_then(Value::as_string);
                let value = find(attrs, ATTR_VALUE, "value").map(Value::render);
                if let (Some(name), Some(value)) = (name, value) {
                    self.m.meta_data.push(MetaData {
                        name: name.to_string(),
                        value,
                    });
                }
            }
            (
                "uses-permission"
                | "uses-permission-sdk-23"
                | "uses-permission-sdk-m"
                | "permission",
                Some("manifest"),
            ) => {
                if let Some(p) = find(attrs, ATTR_NAME, "name").and_then(Value::as_string) {
                    self.m.permissions.push(p.to_string());
                }
            }
            _ => {}
        }
        self.stack.push(name.to_string());
    }

    fn component(&mut self, attrs: &[Attr]) {
        if let Some(n) = find(attrs, ATTR_NAME, "name").and_then(Value::as_string) {
            if !n.is_empty() {
                self.raw_components.push(n.to_string());
            }
        }
    }

    fn finish(mut self) -> Fingerprint {
        let pkg = self.m.package.clone();
        for raw in &self.raw_components {
            self.m.components.push(qualify(pkg.as_deref(), raw));
        }
        self.m.components.sort();
        self.m.components.dedup();
        self.m.meta_data.sort();
        self.m.meta_data.dedup();
        self.m.permissions.sort();
        self.m.permissions.dedup();
        self.m
    }
}

fn read_attrs(doc: &Doc<'_>, chunk: &[u8], ext: usize) -> Vec<Attr> {
    let attr_start = usize::from(u16_at(chunk, ext + 8).unwrap_or(20));
    let attr_size = usize::from(u16_at(chunk, ext + 10).unwrap_or(20)).max(ATTR_LEN);
    let count = usize::from(u16_at(chunk, ext + 12).unwrap_or(0));
    let mut out = Vec::new();
    for i in 0..count {
        let Some(p) = i
            .checked_mul(attr_size)
            .and_then(|o| o.checked_add(ext + attr_start))
        else {
            break;
        };
        let Some(a) = chunk.get(p..p + ATTR_LEN) else {
            break;
        };
        let name_idx = u32_at(a, 4).unwrap_or(NO_INDEX);
        let raw = u32_at(a, 8).unwrap_or(NO_INDEX);
        let data_type = a.get(15).copied().unwrap_or(0);
        let data = u32_at(a, 16).unwrap_or(0);
        let res_id = usize::try_from(name_idx)
            .ok()
            .and_then(|i| doc.res_map.get(i))
            .copied()
            .filter(|id| *id != 0);
        let value = match data_type {
            TYPE_STRING => match doc.string(data).or_else(|| doc.string(raw)) {
                Some(s) => Value::Str(s),
                None => continue,
            },
            TYPE_INT_DEC => Value::IntDec(data),
            TYPE_INT_HEX => Value::IntHex(data),
            TYPE_INT_BOOLEAN => Value::Bool(data != 0),
            TYPE_REFERENCE | TYPE_ATTRIBUTE => Value::Ref(data),
            t => match doc.string(raw) {
                Some(s) if t == 0 => Value::Str(s),
                _ => Value::Other(t, data),
            },
        };
        out.push(Attr {
            name: doc.string(name_idx),
            res_id,
            value,
        });
    }
    out
}

/// Parses a binary `AndroidManifest.xml` into the manifest fields of a [`Fingerprint`] (package,
/// versions, label, components, meta-data, permissions, and warnings for parts that could not
/// be read); certificates and native libraries are the probe's.
pub fn parse_manifest(data: &[u8]) -> Result<Fingerprint, AxmlError> {
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
    let mut warnings = Vec::new();
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
                let name = u32_at(chunk, ext + 4).and_then(|i| doc.string(i));
                match name {
                    Some(name) => {
                        let attrs = read_attrs(&doc, chunk, ext);
                        col.start(&name, &attrs);
                        elements += 1;
                    }
                    None => {
                        warnings.push(format!("element at offset {pos} has no readable name"));
                        col.stack.push(String::new());
                    }
                }
            }
            RES_XML_END_ELEMENT_TYPE => {
                col.stack.pop();
            }
            _ => {}
        }
        pos += csize;
    }
    if doc.pool.is_none() {
        return Err(AxmlError::Malformed {
            offset: 8,
            what: "no string pool",
        });
    }
    if elements == 0 {
        return Err(AxmlError::Malformed {
            offset: pos as u64,
            what: "no elements",
        });
    }
    let mut m = col.finish();
    m.warnings = warnings;
    Ok(m)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A tiny AXML writer for tests.
    pub(crate) struct AxmlBuilder {
        strings: Vec<String>,
        res_ids: Vec<u32>,
        nodes: Vec<u8>,
        pub utf8: bool,
        pub zero_size_end_ns: bool,
    }

    pub(crate) enum V<'a> {
        S(&'a str),
        I(u32),
        Hex(u32),
        B(bool),
        R(u32),
    }

    const NS: &str = "http://schemas.android.com/apk/res/android";

    impl AxmlBuilder {
        pub(crate) fn new(android_attrs: &[(&str, u32)]) -> Self {
            let mut b = Self {
                strings: Vec::new(),
                res_ids: Vec::new(),
                nodes: Vec::new(),
                utf8: false,
                zero_size_end_ns: false,
            };
            // Attribute names with resource ids come first in the pool.
            for (name, id) in android_attrs {
                b.strings.push((*name).to_string());
                b.res_ids.push(*id);
            }
            b.intern("android");
            b.intern(NS);
            let prefix = b.intern("android");
            let uri = b.intern(NS);
            b.node(RES_XML_START_NAMESPACE_TYPE, &[prefix, uri]);
            b
        }

        pub(crate) fn intern(&mut self, s: &str) -> u32 {
            if let Some(i) = self.strings.iter().position(|x| x == s) {
                return i as u32;
            }
            self.strings.push(s.to_string());
            (self.strings.len() - 1) as u32
        }

        fn node(&mut self, ty: u16, ext: &[u32]) {
            self.nodes.extend_from_slice(&ty.to_le_bytes());
            self.nodes.extend_from_slice(&16u16.to_le_bytes());
            self.nodes
                .extend_from_slice(&((16 + ext.len() * 4) as u32).to_le_bytes());
            self.nodes.extend_from_slice(&1u32.to_le_bytes());
            self.nodes.extend_from_slice(&NO_INDEX.to_le_bytes());
            for e in ext {
                self.nodes.extend_from_slice(&e.to_le_bytes());
            }
        }

        pub(crate) fn start(&mut self, name: &str, attrs: &[(bool, &str, V<'_>)]) -> &mut Self {
            let name_i = self.intern(name);
            let ns_i = self.intern(NS);
            let mut body = Vec::new();
            body.extend_from_slice(&NO_INDEX.to_le_bytes());
            body.extend_from_slice(&name_i.to_le_bytes());
            body.extend_from_slice(&20u16.to_le_bytes());
            body.extend_from_slice(&20u16.to_le_bytes());
            body.extend_from_slice(&(attrs.len() as u16).to_le_bytes());
            body.extend_from_slice(&[0u8; 6]);
            for (android, an, v) in attrs {
                let an_i = self.intern(an);
                let (ty, data, raw) = match v {
                    V::S(s) => {
                        let i = self.intern(s);
                        (TYPE_STRING, i, i)
                    }
                    V::I(i) => (TYPE_INT_DEC, *i, NO_INDEX),
                    V::Hex(i) => (TYPE_INT_HEX, *i, NO_INDEX),
                    V::B(b) => (TYPE_INT_BOOLEAN, u32::from(*b) * 0xffff_ffff, NO_INDEX),
                    V::R(r) => (TYPE_REFERENCE, *r, NO_INDEX),
                };
                body.extend_from_slice(&(if *android { ns_i } else { NO_INDEX }).to_le_bytes());
                body.extend_from_slice(&an_i.to_le_bytes());
                body.extend_from_slice(&raw.to_le_bytes());
                body.extend_from_slice(&8u16.to_le_bytes());
                body.push(0);
                body.push(ty);
                body.extend_from_slice(&data.to_le_bytes());
            }
            self.nodes
                .extend_from_slice(&RES_XML_START_ELEMENT_TYPE.to_le_bytes());
            self.nodes.extend_from_slice(&16u16.to_le_bytes());
            self.nodes
                .extend_from_slice(&((16 + body.len()) as u32).to_le_bytes());
            self.nodes.extend_from_slice(&1u32.to_le_bytes());
            self.nodes.extend_from_slice(&NO_INDEX.to_le_bytes());
            self.nodes.extend_from_slice(&body);
            self
        }

        pub(crate) fn end(&mut self, name: &str) -> &mut Self {
            let n = self.intern(name);
            self.node(RES_XML_END_ELEMENT_TYPE, &[NO_INDEX, n]);
            self
        }

        pub(crate) fn build(&mut self) -> Vec<u8> {
            let prefix = self.intern("android");
            let uri = self.intern(NS);
            let at = self.nodes.len();
            self.node(RES_XML_END_NAMESPACE_TYPE, &[prefix, uri]);
            let mut nodes = std::mem::take(&mut self.nodes);
            if self.zero_size_end_ns {
                nodes[at + 2..at + 8].fill(0);
            }
            // String pool.
            let mut data = Vec::new();
            let mut offsets = Vec::new();
            for s in &self.strings {
                offsets.push(data.len() as u32);
                if self.utf8 {
                    data.push(s.chars().count() as u8);
                    data.push(s.len() as u8);
                    data.extend_from_slice(s.as_bytes());
                    data.push(0);
                } else {
                    let u: Vec<u16> = s.encode_utf16().collect();
                    data.extend_from_slice(&(u.len() as u16).to_le_bytes());
                    for x in u {
                        data.extend_from_slice(&x.to_le_bytes());
                    }
                    data.extend_from_slice(&[0, 0]);
                }
            }
            while data.len() % 4 != 0 {
                data.push(0);
            }
            let strings_start = 28 + offsets.len() * 4;
            let mut pool = Vec::new();
            pool.extend_from_slice(&RES_STRING_POOL_TYPE.to_le_bytes());
            pool.extend_from_slice(&28u16.to_le_bytes());
            pool.extend_from_slice(&((strings_start + data.len()) as u32).to_le_bytes());
            pool.extend_from_slice(&(offsets.len() as u32).to_le_bytes());
            pool.extend_from_slice(&0u32.to_le_bytes());
            pool.extend_from_slice(&(if self.utf8 { UTF8_FLAG } else { 0 }).to_le_bytes());
            pool.extend_from_slice(&(strings_start as u32).to_le_bytes());
            pool.extend_from_slice(&0u32.to_le_bytes());
            for o in offsets {
                pool.extend_from_slice(&o.to_le_bytes());
            }
            pool.extend_from_slice(&data);
            let mut map = Vec::new();
            map.extend_from_slice(&RES_XML_RESOURCE_MAP_TYPE.to_le_bytes());
            map.extend_from_slice(&8u16.to_le_bytes());
            map.extend_from_slice(&((8 + self.res_ids.len() * 4) as u32).to_le_bytes());
            for id in &self.res_ids {
                map.extend_from_slice(&id.to_le_bytes());
            }
            let total = 8 + pool.len() + map.len() + nodes.len();
            let mut out = Vec::new();
            out.extend_from_slice(&RES_XML_TYPE.to_le_bytes());
            out.extend_from_slice(&8u16.to_le_bytes());
            out.extend_from_slice(&(total as u32).to_le_bytes());
            out.extend(pool);
            out.extend(map);
            out.extend(nodes);
            out
        }
    }

    pub(crate) const ANDROID_ATTRS: &[(&str, u32)] = &[
        ("label", ATTR_LABEL),
        ("name", ATTR_NAME),
        ("authorities", ATTR_AUTHORITIES),
        ("value", ATTR_VALUE),
        ("versionCode", ATTR_VERSION_CODE),
        ("versionName", ATTR_VERSION_NAME),
        ("versionCodeMajor", ATTR_VERSION_CODE_MAJOR),
    ];

    /// A typical manifest, for tests elsewhere too.
    pub(crate) fn sample_manifest(utf8: bool) -> Vec<u8> {
        let mut b = AxmlBuilder::new(ANDROID_ATTRS);
        b.utf8 = utf8;
        b.start(
            "manifest",
            &[
                (true, "versionCode", V::I(7)),
                (true, "versionName", V::S("7.0")),
                (true, "versionCodeMajor", V::I(2)),
                (false, "package", V::S("com.example.app")),
            ],
        )
        .start(
            "uses-permission",
            &[(true, "name", V::S("android.permission.INTERNET"))],
        )
        .end("uses-permission")
        .start(
            "application",
            &[
                (true, "label", V::S("Example")),
                (true, "name", V::S(".App")),
            ],
        )
        .start("activity", &[(true, "name", V::S("Main"))])
        .start(
            "meta-data",
            &[(true, "name", V::S("inner")), (true, "value", V::B(true))],
        )
        .end("meta-data")
        .end("activity")
        .start(
            "activity-alias",
            &[(
                true,
                "name",
                V::S("com.ss.android.ugc.aweme.share.SystemShareActivity"),
            )],
        )
        .end("activity-alias")
        .start("service", &[(true, "name", V::S(".svc.S"))])
        .end("service")
        .start("receiver", &[(true, "name", V::S("org.other.R"))])
        .end("receiver")
        .start(
            "provider",
            &[
                (true, "name", V::S(".P")),
                (true, "authorities", V::S("a.b;c.d")),
            ],
        )
        .end("provider")
        .start(
            "meta-data",
            &[
                (true, "name", V::S("org.chromium.webapk.shell_apk.startUrl")),
                (true, "value", V::S("https://www.tiktok.com/")),
            ],
        )
        .end("meta-data")
        .start(
            "meta-data",
            &[(true, "name", V::S("hex")), (true, "value", V::Hex(255))],
        )
        .end("meta-data")
        .start(
            "meta-data",
            &[
                (true, "name", V::S("ref")),
                (true, "value", V::R(0x7f01_0001)),
            ],
        )
        .end("meta-data")
        .end("application")
        .end("manifest");
        b.build()
    }

    #[test]
    fn parses_a_full_manifest_utf16_and_utf8() {
        for utf8 in [false, true] {
            let m = parse_manifest(&sample_manifest(utf8)).unwrap();
            assert_eq!(m.package.as_deref(), Some("com.example.app"));
            assert_eq!(m.version_code, Some((2u64 << 32) | 7));
            assert_eq!(m.version_name.as_deref(), Some("7.0"));
            assert_eq!(m.label.as_deref(), Some("Example"));
            assert_eq!(
                m.components,
                vec![
                    "authority:a.b",
                    "authority:c.d",
                    "com.example.app.App",
                    "com.example.app.Main",
                    "com.example.app.P",
                    "com.example.app.svc.S",
                    "com.ss.android.ugc.aweme.share.SystemShareActivity",
                    "org.other.R",
                ]
            );
            assert_eq!(m.permissions, vec!["android.permission.INTERNET"]);
            let md: Vec<(&str, &str)> = m
                .meta_data
                .iter()
                .map(|x| (x.name.as_str(), x.value.as_str()))
                .collect();
            assert_eq!(
                md,
                vec![
                    ("hex", "0xff"),
                    ("inner", "true"),
                    (
                        "org.chromium.webapk.shell_apk.startUrl",
                        "https://www.tiktok.com/"
                    ),
                    ("ref", "@0x7f010001"),
                ]
            );
            assert!(m.warnings.is_empty(), "{:?}", m.warnings);
        }
    }

    #[test]
    fn resource_ids_win_over_names() {
        // The resource map says the attribute called "versionName" is really versionCode:
        // Android goes by the id.
        let mut b = AxmlBuilder::new(&[("versionName", ATTR_VERSION_CODE), ("name", ATTR_NAME)]);
        b.start(
            "manifest",
            &[
                (true, "versionName", V::I(42)),
                (false, "package", V::S("p.q")),
            ],
        )
        .end("manifest");
        let m = parse_manifest(&b.build()).unwrap();
        assert_eq!(m.version_code, Some(42));
        assert_eq!(m.version_name, None);
    }

    #[test]
    fn names_are_used_without_a_resource_map() {
        let mut b = AxmlBuilder::new(&[]);
        b.start(
            "manifest",
            &[
                (true, "versionCode", V::I(5)),
                (true, "versionName", V::S("five")),
                (false, "package", V::S("p.q")),
            ],
        )
        .end("manifest");
        let m = parse_manifest(&b.build()).unwrap();
        assert_eq!(m.version_code, Some(5));
        assert_eq!(m.version_name.as_deref(), Some("five"));
    }

    #[test]
    fn zero_sized_end_namespace_is_tolerated() {
        let mut b = AxmlBuilder::new(ANDROID_ATTRS);
        b.zero_size_end_ns = true;
        b.start(
            "manifest",
            &[
                (true, "versionCode", V::I(1)),
                (false, "package", V::S("z.z")),
            ],
        )
        .end("manifest");
        let m = parse_manifest(&b.build()).unwrap();
        assert_eq!(m.package.as_deref(), Some("z.z"));
        assert_eq!(m.version_code, Some(1));
    }

    #[test]
    fn garbage_is_an_error_and_truncation_never_panics() {
        assert!(parse_manifest(b"").is_err());
        assert!(parse_manifest(b"<?xml version='1.0'?><manifest/>").is_err());
        let full = sample_manifest(false);
        for cut in 0..full.len() {
            let _ = parse_manifest(&full[..cut]);
        }
    }

    #[test]
    fn qualify_rules() {
        assert_eq!(qualify(Some("a.b"), ".C"), "a.b.C");
        assert_eq!(qualify(Some("a.b"), "C"), "a.b.C");
        assert_eq!(qualify(Some("a.b"), "x.C"), "x.C");
        assert_eq!(qualify(None, ".C"), ".C");
    }
}
