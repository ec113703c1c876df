//! Fuzz reading a database image the way a decrypted Manifest.db is read: loaded into SQLite's
//! memory, schema checked, domains read under the limits. Never a panic, never a file left.
#![no_main]
use appsweep::source::ios_backup::manifest_db::Database;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(db) = Database::from_plaintext(data.to_vec()) {
        let _ = db.domains();
    }
});
