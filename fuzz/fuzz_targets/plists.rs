//! Fuzz the one plist reader every plist goes through (depth, value and byte budgets checked
//! before the `plist` crate builds anything), its XML fast path and the iTunesMetadata parser:
//! never a panic, never an unbounded build.
#![no_main]
use appsweep::plists::{self, xmlfast};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = plists::parse_value(data);
    let _ = plists::parse_itunes_metadata(data);
    let _ = xmlfast::parse(data, &["PlaceholderIcon"]);
});
