//! Fuzzes the parsers of Android shell output (`getprop`, `pm list users`, `pm list packages`,
//! `pm path`, `dumpsys package`, `stat`, `sha256sum`, `adb devices -l`, batched output, base64).
#![no_main]

use appsweep::source::adb::parse;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let _ = parse::parse_getprop(&text);
    let _ = parse::parse_users(&text);
    let _ = parse::parse_package_list(&text);
    let _ = parse::parse_pm_path(&text);
    let _ = parse::parse_dumpsys_package(&text);
    let _ = parse::parse_stat(&text);
    let _ = parse::parse_sha256sum(&text);
    let _ = parse::parse_devices_l(&text);
    let _ = parse::split_batch(&text, "__APPSWEEP_0_", 4);
    let _ = parse::decode_base64(&text);
    let _ = parse::pm_failure(&text, Some(255));
});
