//! Sources turn a device into an [`Inventory`](crate::model::Inventory). A source never decides
//! what is prohibited; it reports what it read and what it could not read.
//!
//! One module each: [`adb`] (live Android phones through an adb server), [`ios_backup`] (iOS
//! backup folders), [`ios_live`] (live iPhones and iPads through usbmuxd), [`files`] (APK and IPA
//! files).

pub mod adb;
pub mod files;
pub mod ios_backup;
pub mod ios_live;

use crate::model::Inventory;

/// Where a source hands each finished inventory (called from worker threads, in completion order).
pub type Emit<'a> = &'a (dyn Fn(Inventory) + Sync);
