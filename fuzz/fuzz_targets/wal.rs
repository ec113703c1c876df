//! Fuzz the Manifest.db-wal reader (header, salts, checksums, committed frames, page bounds).
//! The input is read as a log as is, and as edits (2-byte offset, byte) of a real log with four
//! committed frames, which get past the magic and the checksums.
#![no_main]
use appsweep::source::ios_backup::wal;
use libfuzzer_sys::fuzz_target;
use std::io::Cursor;

const LOG: &[u8] = include_bytes!("../templates/wal.db-wal");
const DB: &[u8] = include_bytes!("../templates/wal.db");

fn apply(log: &[u8], db: &[u8]) {
    let mut image = Cursor::new(db.to_vec());
    let _ = wal::apply(
        &mut Cursor::new(log),
        log.len() as u64,
        &mut image,
        db.len() as u64,
    );
}

fuzz_target!(|data: &[u8]| {
    apply(data, &[0u8; 4096]);
    let mut log = LOG.to_vec();
    for e in data.chunks_exact(3) {
        let at = usize::from(u16::from_le_bytes([e[0], e[1]])) % log.len();
        if let Some(b) = log.get_mut(at) {
            *b = e[2];
        }
    }
    apply(&log, DB);
});
