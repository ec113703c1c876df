//! Fuzz the Manifest.mbdb parser: any bytes, never a panic. The input is read as is and behind
//! the `mbdb\x05\x00` magic, so the records are reached.
#![no_main]
use appsweep::source::ios_backup::mbdb;
use libfuzzer_sys::fuzz_target;

fn read(data: &[u8]) {
    if let Ok(records) = mbdb::records(data) {
        for record in records {
            if record.is_err() {
                break;
            }
        }
    }
    let _ = mbdb::domains(data);
}

fuzz_target!(|data: &[u8]| {
    read(data);
    read(&[&mbdb::MAGIC[..], data].concat());
});
