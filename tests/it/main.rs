//! The integration tests: one binary, one module per area, all driving the real `appsweep`
//! binary or library against real inputs (see `support/`).
//!
//! Run one area with `cargo test --test it adb_scan::`.

#[cfg(test)]
mod support;

#[cfg(test)]
mod adb_scan;
#[cfg(test)]
mod apk_built;
#[cfg(test)]
mod apk_conformance;
#[cfg(test)]
mod cli;
#[cfg(test)]
mod fakephone;
#[cfg(test)]
mod hostile;
#[cfg(test)]
mod ios_backup;
#[cfg(test)]
mod ios_live;
#[cfg(test)]
mod outbox;
#[cfg(test)]
mod outbox_https;
#[cfg(test)]
mod plist_limits;
#[cfg(test)]
mod scan_files_apk;
#[cfg(test)]
mod watch;
#[cfg(test)]
mod writes;
