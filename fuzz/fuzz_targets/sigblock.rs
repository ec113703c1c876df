//! The APK Signing Block and PKCS#7 certificate parsers over arbitrary bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = appsweep::apk::sigblock::parse_signing_block(data);
    let _ = appsweep::apk::pkcs7::certificates(data);
});
