//! The whole APK probe over arbitrary bytes: must return a value or an error, never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = appsweep::apk::analyze(&appsweep::apk::SliceSource(data));
});
