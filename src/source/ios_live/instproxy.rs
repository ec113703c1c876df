//! `com.apple.mobile.installation_proxy`: one `Browse` lists every installed app, user and system,
//! streamed in chunks (`Status: BrowsingApplications` with `CurrentList`, then
//! `Status: Complete`). Only the attributes the engine needs are asked for
//! ([`RETURN_ATTRIBUTES`]); nothing is installed, removed or changed.

use std::time::Duration;

use plist::{Dictionary, Value};

use super::lockdown::Conn;
use super::wire::{self, WireError};
use crate::plists::{parse_itunes_metadata, ItunesMetadata};

pub const SERVICE: &str = "com.apple.mobile.installation_proxy";

/// What `Browse` returns for each app. `iTunesMetadata` carries the App Store id (and the
/// buyer's Apple ID, kept only with `--include-personal-data`); `SignerIdentity` tells App Store
/// builds from enterprise or developer-signed copies.
pub const RETURN_ATTRIBUTES: [&str; 8] = [
    "CFBundleIdentifier",
    "CFBundleDisplayName",
    "CFBundleName",
    "CFBundleShortVersionString",
    "CFBundleVersion",
    "ApplicationType",
    "SignerIdentity",
    "iTunesMetadata",
];

/// Most apps accepted from one phone (a real one holds hundreds).
pub const MAX_APPS: usize = 100_000;

#[derive(Debug, thiserror::Error)]
pub enum BrowseError {
    #[error("{0}")]
    Wire(#[from] WireError),
    #[error("installation_proxy refused Browse: {0}")]
    Refused(String),
    #[error("installation_proxy listed more than {MAX_APPS} apps")]
    TooMany,
}

/// One app as `Browse` describes it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AppEntry {
    pub bundle_id: String,
    pub display_name: Option<String>,
    pub bundle_name: Option<String>,
    pub short_version: Option<String>,
    pub bundle_version: Option<String>,
    /// `User`, `System`, `Internal`, ...
    pub application_type: Option<String>,
    pub signer_identity: Option<String>,
    pub metadata: Option<ItunesMetadata>,
    /// Why `iTunesMetadata` could not be read, when it could not.
    pub metadata_error: Option<String>,
}

/// Reads one entry of a `CurrentList`; `None` without a bundle id.
pub fn parse_entry(d: &Dictionary) -> Option<AppEntry> {
    let bundle_id = wire::text(d, "CFBundleIdentifier")?;
    let (metadata, metadata_error) = match d.get("iTunesMetadata") {
        Some(Value::Data(bytes)) => match parse_itunes_metadata(bytes) {
            Ok(m) => (Some(m), None),
            Err(e) => (None, Some(e.to_string())),
        },
        _ => (None, None),
    };
    Some(AppEntry {
        bundle_id,
        display_name: wire::text(d, "CFBundleDisplayName"),
        bundle_name: wire::text(d, "CFBundleName"),
        short_version: wire::text(d, "CFBundleShortVersionString"),
        bundle_version: wire::text(d, "CFBundleVersion"),
        application_type: wire::text(d, "ApplicationType"),
        signer_identity: wire::text(d, "SignerIdentity"),
        metadata,
        metadata_error,
    })
}

/// What one `Browse` gave, even when it did not finish.
#[derive(Debug, Default)]
pub struct Browse {
    pub apps: Vec<AppEntry>,
    /// `Total` as the phone announced it.
    pub total: Option<u64>,
    /// Entries without a bundle id (skipped).
    pub skipped: usize,
    /// Why the listing stopped before `Status: Complete`.
    pub error: Option<BrowseError>,
}

/// The `Browse` command: every application type, only [`RETURN_ATTRIBUTES`].
pub fn command() -> Dictionary {
    let mut options = Dictionary::new();
    options.insert("ApplicationType".into(), "Any".into());
    options.insert("ShowLaunchProhibitedApps".into(), true.into());
    options.insert(
        "ReturnAttributes".into(),
        Value::Array(RETURN_ATTRIBUTES.iter().map(|a| (*a).into()).collect()),
    );
    let mut cmd = Dictionary::new();
    cmd.insert("Command".into(), "Browse".into());
    cmd.insert("ClientOptions".into(), Value::Dictionary(options));
    cmd
}

/// Runs `Browse` on an open installation_proxy connection. `budget` bounds the wait for each
/// chunk (a phone with thousands of apps takes a while in all, never long per chunk).
pub fn browse(conn: &mut Conn, budget: Duration) -> Browse {
    let mut out = Browse::default();
    if let Err(e) = conn.send(&command()) {
        out.error = Some(e.into());
        return out;
    }
    loop {
        let msg = match conn.receive(Some(budget)) {
            Ok(m) => m,
            Err(e) => {
                out.error = Some(e.into());
                return out;
            }
        };
        if let Some(error) = wire::text(&msg, "Error") {
            let detail = wire::text(&msg, "ErrorDescription")
                .map(|d| format!("{error}: {d}"))
                .unwrap_or(error);
            out.error = Some(BrowseError::Refused(detail));
            return out;
        }
        if let Some(t) = msg.get("Total").and_then(Value::as_unsigned_integer) {
            out.total = Some(t);
        }
        if let Some(list) = msg.get("CurrentList").and_then(Value::as_array) {
            for d in list.iter().filter_map(Value::as_dictionary) {
                match parse_entry(d) {
                    Some(app) => out.apps.push(app),
                    None => out.skipped += 1,
                }
            }
            if out.apps.len() > MAX_APPS {
                out.error = Some(BrowseError::TooMany);
                return out;
            }
        }
        if wire::text(&msg, "Status").as_deref() == Some("Complete") {
            return out;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_parse_with_their_metadata() {
        let mut meta = Dictionary::new();
        meta.insert("itemId".into(), Value::Integer(835599320u64.into()));
        meta.insert("itemName".into(), "TikTok".into());
        let mut blob = Vec::new();
        plist::to_writer_binary(&mut blob, &meta).unwrap();
        let mut d = Dictionary::new();
        d.insert(
            "CFBundleIdentifier".into(),
            "com.zhiliaoapp.musically".into(),
        );
        d.insert("CFBundleDisplayName".into(), "TikTok".into());
        d.insert("ApplicationType".into(), "User".into());
        d.insert("iTunesMetadata".into(), Value::Data(blob));
        let e = parse_entry(&d).unwrap();
        assert_eq!(e.bundle_id, "com.zhiliaoapp.musically");
        assert_eq!(e.metadata.unwrap().item_id, Some(835599320));
        d.insert(
            "iTunesMetadata".into(),
            Value::Data(b"not a plist".to_vec()),
        );
        assert!(parse_entry(&d).unwrap().metadata_error.is_some());
        d.remove("CFBundleIdentifier");
        assert!(parse_entry(&d).is_none());
        let cmd = command();
        let opts = cmd.get("ClientOptions").unwrap().as_dictionary().unwrap();
        assert_eq!(
            opts.get("ApplicationType").unwrap().as_string(),
            Some("Any")
        );
    }
}
