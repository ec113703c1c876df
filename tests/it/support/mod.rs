//! Test support shared by every integration test: the command under test, and builders of real
//! inputs (APKs by Google's tools, IPAs, iOS backups, fake phones on a real adb server, fake
//! iPhones behind a private usbmuxd socket).

pub mod apkbuild;
pub mod axmlbomb;
pub mod backupbuild;
pub mod bplist;
pub mod cmd;
#[cfg(feature = "pair")]
pub mod fakeiphone;
pub mod fakephone;
pub mod ipabuild;
pub mod phones;
pub mod schema;
pub mod webhook;
