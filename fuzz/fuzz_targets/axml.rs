//! The binary AndroidManifest.xml parser over arbitrary bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = appsweep::apk::axml::parse_manifest(data);
});
