//! Fuzz the Manifest.db-wal reader (header, salts, checksums, committed frames, page bounds).
#![no_main]
use appsweep::source::ios_backup::wal;
use libfuzzer_sys::fuzz_target;
use std::io::Cursor;

fuzz_target!(|data: &[u8]| {
    let mut db = Cursor::new(vec![0u8; 4096]);
    let _ = wal::apply(&mut Cursor::new(data), data.len() as u64, &mut db, 4096);
});
