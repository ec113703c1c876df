//! appsweep: finds prohibited apps (TikTok and its variants, other ByteDance apps, ByteDance SDKs)
//! on Android phones over ADB, in iOS backups and in APK/IPA files.
//!
//! The pipeline (see the README):
//! `source` (acquire an [`model::Inventory`]) → `apk` / `ipa` (fingerprint artifacts) →
//! `engine` (pure matching against `signatures` under a `policy`) → `report` (render).
//! Only `report` renders records; `pipeline` runs the stages for each device; `cli` → `config` →
//! `commands` is the command line.

pub mod apk;
pub mod cli;
pub mod commands;
pub mod config;
pub mod engine;
pub mod exit;
pub mod hex;
pub mod input;
pub mod ipa;
pub mod model;
pub mod outbox;
pub mod pipeline;
pub mod plists;
pub mod policy;
pub mod progress;
pub mod report;
pub mod signatures;
pub mod source;
pub mod watch;
