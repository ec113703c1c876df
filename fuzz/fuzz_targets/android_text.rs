//! Fuzzes the parsers of Android shell output (`getprop`, `pm list users`, `pm list packages`,
//! `pm path`, `dumpsys package`, `stat`, `sha256sum`, `adb devices -l`, batched output, base64, od, times).
#![no_main]

use appsweep::source::adb::parse;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let _ = parse::parse_getprop(&text);
    let _ = parse::parse_users(&text);
    let _ = parse::parse_package_list(&text);
    let _ = parse::parse_pm_path(&text);
    let _ = parse::parse_stat(&text);
    let _ = parse::parse_sha256sum(&text);
    let _ = parse::parse_devices_l(&text);
    let _ = parse::parse_dumpsys_package(&text);
    let _ = parse::split_batch(data, "__AS0_", 4);
    let _ = parse::decode_base64(data);
    let _ = parse::decode_od(data);
    let _ = parse::utc_offset(&text);
    let _ = parse::local_time_rfc3339(&text, "+00:00");
    let _ = parse::pm_failure(&text, Some(255));
});
