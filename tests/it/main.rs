//! The integration tests: one binary, one module per area, all driving the real `appsweep`
//! binary or library against real inputs (see `support/`).
//!
//! Run one area with `cargo test --test it -- adb_scan::`.
//!
//! The whole crate is test code (`cfg(test)`), so clippy's test allowances (`clippy.toml`)
//! apply to every module.
#![cfg(test)]

mod support;

mod adb_scan;
mod apk_built;
mod apk_conformance;
mod cli;
mod fakephone;
mod hostile;
mod ios_backup;
// Fake iPhones make pair records, which needs the `pair` feature (on by default).
#[cfg(feature = "pair")]
mod ios_live;
mod ipa_reader;
mod outbox;
mod outbox_https;
mod sanitize;
mod scan_files_apk;
mod watch;
mod writes;
