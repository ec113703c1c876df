//! IPAs for tests: a zip with `Payload/App.app/Info.plist` (binary or XML plist, written by the
//! `plist` crate), optionally `iTunesMetadata.plist` and any other files.

use std::io::{Cursor, Write};
use std::path::{Path, PathBuf};

/// An IPA to write.
pub struct Ipa {
    info: plist::Dictionary,
    metadata: Option<plist::Dictionary>,
    xml: bool,
    /// `Info.plist` bytes as given, instead of `info`.
    raw_info: Option<Vec<u8>>,
    /// `iTunesMetadata.plist` bytes as given, instead of `metadata`.
    raw_metadata: Option<Vec<u8>>,
    /// No `Info.plist` at all.
    no_info: bool,
    /// Other entries (name, bytes), after `Info.plist`.
    files: Vec<(String, Vec<u8>)>,
}

impl Ipa {
    /// An app with this bundle id, version 1.0 (100).
    pub fn new(bundle: &str) -> Self {
        let mut info = plist::Dictionary::new();
        info.insert("CFBundleIdentifier".into(), bundle.into());
        info.insert("CFBundleShortVersionString".into(), "1.0".into());
        info.insert("CFBundleVersion".into(), "100".into());
        Self {
            info,
            metadata: None,
            xml: false,
            raw_info: None,
            raw_metadata: None,
            no_info: false,
            files: Vec::new(),
        }
    }

    /// Sets an `Info.plist` key.
    pub fn info(mut self, key: &str, value: impl Into<plist::Value>) -> Self {
        self.info.insert(key.into(), value.into());
        self
    }

    /// Adds `iTunesMetadata.plist` with this App Store `itemId`.
    pub fn item_id(self, id: u64) -> Self {
        self.metadata("itemId", plist::Value::Integer(id.into()))
    }

    /// Sets an `iTunesMetadata.plist` key (the file is added if it was not there).
    pub fn metadata(mut self, key: &str, value: impl Into<plist::Value>) -> Self {
        self.metadata
            .get_or_insert_with(plist::Dictionary::new)
            .insert(key.into(), value.into());
        self
    }

    /// Adds an entry `name` holding `bytes`.
    pub fn file(mut self, name: &str, bytes: &[u8]) -> Self {
        self.files.push((name.to_string(), bytes.to_vec()));
        self
    }

    /// Leaves `Info.plist` out (a zip that is not an app).
    pub fn no_info_plist(mut self) -> Self {
        self.no_info = true;
        self
    }

    /// Uses these bytes as `Info.plist` (a hostile or hand-made plist).
    pub fn raw_info(mut self, bytes: Vec<u8>) -> Self {
        self.raw_info = Some(bytes);
        self
    }

    /// Uses these bytes as `iTunesMetadata.plist` (a hostile or hand-made plist).
    pub fn raw_metadata(mut self, bytes: Vec<u8>) -> Self {
        self.raw_metadata = Some(bytes);
        self
    }

    /// Writes `Info.plist` as XML instead of binary.
    pub fn xml(mut self) -> Self {
        self.xml = true;
        self
    }

    /// Writes the IPA to `path` (its folder is created) and returns the path.
    pub fn write(&self, path: &Path) -> PathBuf {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).unwrap();
        }
        std::fs::write(path, self.bytes()).unwrap();
        path.to_path_buf()
    }

    /// The IPA's bytes.
    pub fn bytes(&self) -> Vec<u8> {
        let mut buf = Vec::new();
        if let Some(raw) = &self.raw_info {
            buf.clone_from(raw);
        } else if self.xml {
            plist::to_writer_xml(&mut buf, &self.info).unwrap();
        } else {
            plist::to_writer_binary(&mut buf, &self.info).unwrap();
        }
        let mut zw = zip::ZipWriter::new(Cursor::new(Vec::new()));
        let opts = zip::write::SimpleFileOptions::default();
        if !self.no_info {
            zw.start_file("Payload/App.app/Info.plist", opts).unwrap();
            zw.write_all(&buf).unwrap();
        }
        for (name, bytes) in &self.files {
            zw.start_file(name.as_str(), opts).unwrap();
            zw.write_all(bytes).unwrap();
        }
        let meta = self.raw_metadata.clone().or_else(|| {
            self.metadata.as_ref().map(|meta| {
                let mut mb = Vec::new();
                plist::to_writer_xml(&mut mb, meta).unwrap();
                mb
            })
        });
        if let Some(mb) = meta {
            zw.start_file("iTunesMetadata.plist", opts).unwrap();
            zw.write_all(&mb).unwrap();
        }
        zw.finish().unwrap().into_inner()
    }
}
