//! Fuzz what appsweep reads from a live iPhone and from usbmuxd (framed plist messages,
//! installation_proxy app entries, device lists, pair records, certificates): never a panic.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = appsweep::source::ios_live::parse_untrusted(data);
});
