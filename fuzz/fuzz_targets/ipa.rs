//! Fuzz IPA reading: the bytes as a whole archive, and as the `Info.plist` and
//! `iTunesMetadata.plist` of an otherwise well-formed IPA (so the plist paths are reached).
#![no_main]
use appsweep::ipa;
use libfuzzer_sys::fuzz_target;
use std::io::{Cursor, Write};

fn wrap(info: &[u8], meta: &[u8]) -> Option<Vec<u8>> {
    let mut zw = zip::ZipWriter::new(Cursor::new(Vec::new()));
    let opts = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Stored);
    zw.start_file("Payload/App.app/Info.plist", opts).ok()?;
    zw.write_all(info).ok()?;
    if !meta.is_empty() {
        zw.start_file("iTunesMetadata.plist", opts).ok()?;
        zw.write_all(meta).ok()?;
    }
    Some(zw.finish().ok()?.into_inner())
}

fuzz_target!(|data: &[u8]| {
    let _ = ipa::analyze(Cursor::new(data));
    let split = data.iter().position(|&b| b == 0xFF).unwrap_or(data.len());
    let (info, meta) = data.split_at(split);
    if let Some(archive) = wrap(info, meta.get(1..).unwrap_or_default()) {
        let _ = ipa::analyze(Cursor::new(archive));
    }
});
