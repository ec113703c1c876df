//! Fuzz the Manifest.mbdb parser: any bytes, never a panic.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(records) = appsweep::source::ios_backup::mbdb::records(data) {
        for record in records {
            if record.is_err() {
                break;
            }
        }
    }
    let _ = appsweep::source::ios_backup::mbdb::domains(data);
});
