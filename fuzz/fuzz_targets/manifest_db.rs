//! Fuzz reading a database image the way a decrypted Manifest.db is read: loaded into SQLite's
//! memory, schema checked, domains read under the limits. Never a panic, never a file left.
//! The input is read as is, and as edits (2-byte offset, byte) of a real Manifest.db, which get
//! past SQLite's header checks into the schema and the rows.
#![no_main]
use appsweep::source::ios_backup::manifest_db::Database;
use libfuzzer_sys::fuzz_target;

const TEMPLATE: &[u8] = include_bytes!("../templates/manifest.db");

fn read(image: Vec<u8>) {
    if let Ok(db) = Database::from_plaintext(image) {
        let _ = db.domains();
    }
}

/// `template` with each (little-endian 2-byte offset, byte) of `edits` written into it.
fn edited(template: &[u8], edits: &[u8]) -> Vec<u8> {
    let mut out = template.to_vec();
    for e in edits.chunks_exact(3) {
        let at = usize::from(u16::from_le_bytes([e[0], e[1]])) % out.len();
        if let Some(b) = out.get_mut(at) {
            *b = e[2];
        }
    }
    out
}

fuzz_target!(|data: &[u8]| {
    read(data.to_vec());
    read(edited(TEMPLATE, data));
});
