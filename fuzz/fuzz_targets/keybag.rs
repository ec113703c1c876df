//! Fuzz the BackupKeyBag TLV parser and the cheap steps of the key chain: never a panic.
#![no_main]
use libfuzzer_sys::fuzz_target;
use appsweep::source::ios_backup::keybag;

fuzz_target!(|data: &[u8]| {
    if let Ok(kb) = keybag::parse(data) {
        // Unwrapping with a fixed key exercises the class-key records without the slow PBKDF2.
        if let Ok(keys) = keybag::unwrap_class_keys(&kb, &[0u8; 32]) {
            let _ = keybag::unwrap_manifest_key(data, &keys);
        }
    }
    let _ = keybag::decrypt_manifest_db(data, &[0u8; 32]);
});
