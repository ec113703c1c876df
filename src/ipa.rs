//! IPA fingerprinting: `Payload/<name>.app/Info.plist` (bundle id, version, name) and the root
//! `iTunesMetadata.plist` (App Store `itemId`, name, seller) when present. Reads the zip central
//! directory and those two entries only (each at most 8 MiB), through the crate's one plist
//! reader ([`crate::plists`]: depth and expansion limits) and its one `iTunesMetadata` parser.
//!
//! An IPA costs at most [`READ_BUDGET`] bytes read, whatever its size: the zip reader searches a
//! file for its end records and central directory when they are not where they belong, and a
//! sparse file of terabytes must not be searched whole. An unreadable `iTunesMetadata.plist` does
//! not hide the app `Info.plist` names: it is reported beside it.

use crate::plists;
use std::cell::Cell;
use std::io::{self, Read, Seek, SeekFrom};

/// What an IPA says about its app.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IpaInfo {
    pub bundle_id: Option<String>,
    pub version: Option<String>,
    pub build: Option<String>,
    pub name: Option<String>,
    pub app_store_id: Option<u64>,
    pub store_name: Option<String>,
    pub seller: Option<String>,
    /// The `Payload/*.app` folder the Info.plist came from.
    pub app_dir: Option<String>,
    /// Why `iTunesMetadata.plist` was present but not read (its App Store id is then unknown).
    pub metadata_error: Option<IpaError>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IpaError {
    #[error("not a readable zip archive: {0}")]
    Zip(String),
    #[error("no Payload/*.app/Info.plist in the archive")]
    NoInfoPlist,
    #[error("{entry} is not a readable plist: {message}")]
    Plist { entry: String, message: String },
    #[error("{entry} is larger than the {MAX_PLIST}-byte limit for a plist in an IPA")]
    TooLarge { entry: String },
    #[error(
        "reading it would cost more than the {READ_BUDGET}-byte limit for an IPA (its end \
         records or central directory are not where they belong)"
    )]
    OverBudget,
}

const MAX_PLIST: u64 = 8 * 1024 * 1024;

/// Bytes an IPA may cost to read: its end records, central directory and two plists.
pub const READ_BUDGET: u64 = 64 * 1024 * 1024;

/// A reader that fails once it has delivered its budget of bytes, and says so in `spent` (the
/// zip reader keeps only the kind of an I/O error, not its message).
struct Budgeted<'a, R> {
    inner: R,
    left: u64,
    spent: &'a Cell<bool>,
}

impl<R: Read> Read for Budgeted<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.left == 0 && !buf.is_empty() {
            self.spent.set(true);
            return Err(io::Error::other(IpaError::OverBudget));
        }
        let n = usize::try_from(self.left)
            .unwrap_or(usize::MAX)
            .min(buf.len());
        let got = self.inner.read(buf.get_mut(..n).unwrap_or_default())?;
        self.left = self.left.saturating_sub(got as u64);
        Ok(got)
    }
}

impl<R: Seek> Seek for Budgeted<'_, R> {
    fn seek(&mut self, pos: SeekFrom) -> io::Result<u64> {
        self.inner.seek(pos)
    }
}

fn read_entry<R: Read + Seek>(
    zip: &mut zip::ZipArchive<R>,
    name: &str,
) -> Result<Vec<u8>, IpaError> {
    let entry = zip
        .by_name(name)
        .map_err(|e| IpaError::Zip(format!("{name}: {e}")))?;
    let mut buf = Vec::new();
    entry
        .take(MAX_PLIST + 1)
        .read_to_end(&mut buf)
        .map_err(|e| IpaError::Zip(format!("{name}: {e}")))?;
    if buf.len() as u64 > MAX_PLIST {
        return Err(IpaError::TooLarge {
            entry: name.to_string(),
        });
    }
    Ok(buf)
}

fn plist_error(entry: &str) -> impl FnOnce(crate::plists::PlistError) -> IpaError + '_ {
    move |e| IpaError::Plist {
        entry: entry.to_string(),
        message: e.to_string(),
    }
}

/// Reads an IPA.
pub fn analyze<R: Read + Seek>(reader: R) -> Result<IpaInfo, IpaError> {
    let spent = Cell::new(false);
    let over = |e: IpaError| if spent.get() { IpaError::OverBudget } else { e };
    analyze_within(reader, &spent)
        .map_err(over)
        .map(|mut info| {
            info.metadata_error = info.metadata_error.map(over);
            info
        })
}

fn analyze_within<R: Read + Seek>(reader: R, spent: &Cell<bool>) -> Result<IpaInfo, IpaError> {
    let reader = Budgeted {
        inner: reader,
        left: READ_BUDGET,
        spent,
    };
    let mut zip = zip::ZipArchive::new(reader).map_err(|e| IpaError::Zip(e.to_string()))?;
    let mut candidates: Vec<String> = zip
        .file_names()
        .filter(|n| {
            let parts: Vec<&str> = n.split('/').collect();
            parts.len() == 3
                && parts.first() == Some(&"Payload")
                && parts.get(1).is_some_and(|d| d.ends_with(".app"))
                && parts.get(2) == Some(&"Info.plist")
        })
        .map(str::to_string)
        .collect();
    candidates.sort();
    let name = candidates.first().cloned().ok_or(IpaError::NoInfoPlist)?;
    let info = plists::dictionary(&read_entry(&mut zip, &name)?).map_err(plist_error(&name))?;
    let mut out = IpaInfo {
        bundle_id: plists::first_text(&info, &["CFBundleIdentifier"]),
        version: plists::first_text(&info, &["CFBundleShortVersionString"]),
        build: plists::first_text(&info, &["CFBundleVersion"]),
        name: plists::first_text(&info, &["CFBundleDisplayName", "CFBundleName"]),
        app_dir: name.rsplit_once('/').map(|(d, _)| d.to_string()),
        ..IpaInfo::default()
    };
    const META: &str = "iTunesMetadata.plist";
    if zip.index_for_name(META).is_some() {
        let meta = read_entry(&mut zip, META)
            .and_then(|b| plists::parse_itunes_metadata(&b).map_err(plist_error(META)));
        match meta {
            Ok(meta) => {
                out.app_store_id = meta.item_id;
                out.store_name = meta.item_name;
                out.seller = meta.artist_name;
                if out.bundle_id.is_none() {
                    out.bundle_id = meta.bundle_id;
                }
            }
            Err(e) => out.metadata_error = Some(e),
        }
    }
    Ok(out)
}

// Tested through the library in the integration tests (`ipa_reader`), on IPAs their one
// builder writes.
