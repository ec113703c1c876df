//! Fuzz the backup plist readers (Info.plist with its XML fast path, Manifest.plist,
//! Status.plist, iTunesMetadata): never a panic.
#![no_main]
use libfuzzer_sys::fuzz_target;
use appsweep::plists::xmlfast;
use appsweep::source::ios_backup::plists;

fuzz_target!(|data: &[u8]| {
    let _ = plists::parse_info_plist(data);
    let _ = plists::parse_manifest_plist(data);
    let _ = plists::parse_status_plist(data);
    let _ = plists::parse_itunes_metadata(data);
    let _ = xmlfast::parse(data, &plists::INFO_SKIPPED_DATA);
});
