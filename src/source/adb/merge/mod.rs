//! The pure half of a phone scan: what the listings, `dumpsys package`, APK paths, sizes and
//! fingerprints say, merged into app records, problems and notes. No I/O: every function takes
//! what the rounds of [`super::device`] read and is tested on captured text.
//!
//! - [`coverage`]: which users were listed, and what a user that could not be listed costs (a
//!   problem, unless dumpsys showed that user's install states);
//! - [`records`]: one [`AppRecord`] per (package, user), from the listings and dumpsys;
//! - [`wanted`]: the packages whose APKs are fingerprinted (every installed app that is not a
//!   system app; not archived apps, which have no APK);
//! - [`assign_paths`]: base and split APKs per package, from the listing (`pm list packages
//!   -f`) and dumpsys (code path, split names): no `pm path` per package;
//! - [`targets`] and [`apply_stats`]: what `stat` (and `sha256sum`) said about the base APKs;
//! - [`apply_fingerprints`]: certificates and manifest markers into the records.
//!
//! Apart: `listing` (the `pm list packages` commands, their fallbacks, and what the listings
//! cover), `records` (app records from the listings and dumpsys), `paths` (APK paths, sizes and
//! fingerprints into the records).

mod listing;
mod paths;
mod records;
#[cfg(test)]
mod samples;

pub use listing::{coverage, list_command, list_step, user_name, ListStep, Listing};
pub use paths::{apply_fingerprints, apply_stats, assign_paths, targets};
pub use records::{records, wanted, Apps};
