//! appsweep: finds prohibited apps (TikTok and its variants, other ByteDance apps, ByteDance SDKs)
//! on Android phones over ADB, in iOS backups and in APK/IPA files.
//!
//! The pipeline (see the README):
//! `source` (acquire an [`model::Inventory`]) → `apk` / `ipa` (fingerprint artifacts) →
//! `engine` (pure matching against `signatures` under a `policy`) → `report` (render).
//! Only `report` writes to stdout.

pub mod apk;
pub mod engine;
pub mod exit;
pub mod ipa;
pub mod model;
pub mod outbox;
pub mod policy;
pub mod progress;
pub mod report;
pub mod signatures;
pub mod source;
