//! IPA fingerprinting: `Payload/<name>.app/Info.plist` (bundle id, version, name) and the root
//! `iTunesMetadata.plist` (App Store `itemId`, name, seller) when present. Reads the zip central
//! directory and those two entries only (each at most 8 MiB), through the crate's one plist
//! reader ([`crate::plists`]: depth and expansion limits) and its one `iTunesMetadata` parser.

use crate::plists;
use std::io::{Read, Seek};

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
}

#[derive(Debug, thiserror::Error)]
pub enum IpaError {
    #[error("not a readable zip archive: {0}")]
    Zip(String),
    #[error("no Payload/*.app/Info.plist in the archive")]
    NoInfoPlist,
    #[error("{entry} is not a readable plist: {message}")]
    Plist { entry: String, message: String },
}

const MAX_PLIST: u64 = 8 * 1024 * 1024;

fn read_entry<R: Read + Seek>(
    zip: &mut zip::ZipArchive<R>,
    name: &str,
) -> Result<Vec<u8>, IpaError> {
    let entry = zip
        .by_name(name)
        .map_err(|e| IpaError::Zip(format!("{name}: {e}")))?;
    let mut buf = Vec::new();
    entry
        .take(MAX_PLIST)
        .read_to_end(&mut buf)
        .map_err(|e| IpaError::Zip(format!("{name}: {e}")))?;
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
        let meta = plists::parse_itunes_metadata(&read_entry(&mut zip, META)?)
            .map_err(plist_error(META))?;
        out.app_store_id = meta.item_id;
        out.store_name = meta.item_name;
        out.seller = meta.artist_name;
        if out.bundle_id.is_none() {
            out.bundle_id = meta.bundle_id;
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Cursor, Write};

    pub(crate) fn build_ipa(bundle: &str, item_id: Option<u64>, binary: bool) -> Vec<u8> {
        let mut info = plist::Dictionary::new();
        info.insert("CFBundleIdentifier".into(), bundle.into());
        info.insert("CFBundleShortVersionString".into(), "33.2.3".into());
        info.insert("CFBundleVersion".into(), "332003".into());
        info.insert("CFBundleDisplayName".into(), "TikTok".into());
        let mut buf = Vec::new();
        if binary {
            plist::to_writer_binary(&mut buf, &info).unwrap();
        } else {
            plist::to_writer_xml(&mut buf, &info).unwrap();
        }
        let mut zw = zip::ZipWriter::new(Cursor::new(Vec::new()));
        let opts = zip::write::SimpleFileOptions::default();
        zw.start_file("Payload/TikTok.app/Info.plist", opts)
            .unwrap();
        zw.write_all(&buf).unwrap();
        zw.start_file("Payload/TikTok.app/Frameworks/X.framework/Info.plist", opts)
            .unwrap();
        zw.write_all(b"not the app").unwrap();
        if let Some(id) = item_id {
            let mut meta = plist::Dictionary::new();
            meta.insert("itemId".into(), plist::Value::Integer(id.into()));
            meta.insert("itemName".into(), "TikTok".into());
            meta.insert("artistName".into(), "TikTok Ltd.".into());
            let mut mb = Vec::new();
            plist::to_writer_xml(&mut mb, &meta).unwrap();
            zw.start_file("iTunesMetadata.plist", opts).unwrap();
            zw.write_all(&mb).unwrap();
        }
        zw.finish().unwrap().into_inner()
    }

    #[test]
    fn reads_bundle_and_store_id_from_xml_and_binary_plists() {
        for binary in [false, true] {
            let ipa = build_ipa("com.zhiliaoapp.musically", Some(835599320), binary);
            let info = analyze(Cursor::new(ipa)).unwrap();
            assert_eq!(info.bundle_id.as_deref(), Some("com.zhiliaoapp.musically"));
            assert_eq!(info.version.as_deref(), Some("33.2.3"));
            assert_eq!(info.app_store_id, Some(835599320));
            assert_eq!(info.app_dir.as_deref(), Some("Payload/TikTok.app"));
        }
    }

    #[test]
    fn garbage_and_missing_info_are_errors() {
        assert!(analyze(Cursor::new(b"garbage".to_vec())).is_err());
        let mut zw = zip::ZipWriter::new(Cursor::new(Vec::new()));
        zw.start_file("readme.txt", zip::write::SimpleFileOptions::default())
            .unwrap();
        let empty = zw.finish().unwrap().into_inner();
        assert!(matches!(
            analyze(Cursor::new(empty)),
            Err(IpaError::NoInfoPlist)
        ));
    }
}
