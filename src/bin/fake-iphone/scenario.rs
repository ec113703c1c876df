//! The scenario file: the phones behind the fake usbmuxd and how each behaves.
//!
//! ```json
//! {"round_trip_ms": 2, "key_cache": "/tmp/keys",
//!  "phones": [{"udid": "00008110-000A1B2C3D4E5F60", "product_type": "iPhone14,2",
//!              "product_version": "17.4.1", "paired": true,
//!              "apps": [{"id": "com.zhiliaoapp.musically", "name": "TikTok", "item_id": 835599320}],
//!              "filler_user_apps": 79, "filler_system_apps": 40}]}
//! ```

use serde::Deserialize;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    /// Sleep this long before each answer of a phone (one USB round trip).
    #[serde(default)]
    pub round_trip_ms: u64,
    /// Folder where RSA keys are kept between runs (making them is the slow part).
    #[serde(default)]
    pub key_cache: Option<String>,
    /// The host's system BUID (usbmuxd `ReadBUID`).
    #[serde(default = "default_buid")]
    pub system_buid: String,
    pub phones: Vec<Phone>,
}

fn default_buid() -> String {
    "A1B2C3D4-0000-4000-8000-00000000B01D".to_string()
}

/// How the phone answers `Pair`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Pairing {
    /// The user taps Trust at once.
    #[default]
    Accept,
    /// `PairingDialogResponsePending` for the first two requests, then accepted.
    PendingThenAccept,
    /// A passcode-locked phone: `PasswordProtected`.
    Locked,
    /// The user taps Don't Trust: `UserDeniedPairing`.
    Deny,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Phone {
    pub udid: String,
    #[serde(default = "default_product_type")]
    pub product_type: String,
    #[serde(default = "default_version")]
    pub product_version: String,
    #[serde(default = "default_build")]
    pub build_version: String,
    /// `iPhone` or `iPad`.
    #[serde(default = "default_class")]
    pub device_class: String,
    #[serde(default = "default_name")]
    pub device_name: String,
    #[serde(default)]
    pub serial: Option<String>,
    #[serde(default)]
    pub imei: Option<String>,
    #[serde(default)]
    pub phone_number: Option<String>,
    #[serde(default)]
    pub iccid: Option<String>,
    /// The host holds a pair record for this phone (in the fake usbmuxd) made before the run.
    #[serde(default)]
    pub paired: bool,
    /// The phone still knows that record; `false`: it forgot this host (`InvalidHostID`).
    #[serde(default = "yes")]
    pub trusts_host: bool,
    #[serde(default)]
    pub pairing: Pairing,
    /// Not the phone the pair record was made for: it presents a certificate for its own key,
    /// not the record's `DeviceCertificate` (what a device in the middle would do).
    #[serde(default)]
    pub impostor: bool,
    /// installation_proxy asks for TLS (`EnableServiceSSL`).
    #[serde(default)]
    pub service_ssl: bool,
    /// Offer TLS 1.3 besides 1.2 on lockdown sessions.
    #[serde(default)]
    pub tls13: bool,
    /// Pull the cable once this many apps have been sent by `Browse`.
    #[serde(default)]
    pub unplug_after_apps: Option<usize>,
    /// Not attached at start: plugged in this many ms after the fake starts.
    #[serde(default)]
    pub attach_after_ms: u64,
    /// Unplugged this many ms after it was attached...
    #[serde(default)]
    pub detach_after_ms: Option<u64>,
    /// ...and plugged in again this many ms after that.
    #[serde(default)]
    pub reattach_after_ms: Option<u64>,
    /// Apps per `Browse` chunk.
    #[serde(default = "default_chunk")]
    pub chunk: usize,
    #[serde(default)]
    pub apps: Vec<App>,
    /// Plain user apps added after `apps` (`com.example.filler<N>`).
    #[serde(default)]
    pub filler_user_apps: usize,
    /// Apple system apps added (`com.apple.system<N>`).
    #[serde(default)]
    pub filler_system_apps: usize,
}

fn yes() -> bool {
    true
}
fn default_product_type() -> String {
    "iPhone14,2".to_string()
}
fn default_version() -> String {
    "17.4.1".to_string()
}
fn default_build() -> String {
    "21E236".to_string()
}
fn default_class() -> String {
    "iPhone".to_string()
}
fn default_name() -> String {
    "Alice's iPhone".to_string()
}
fn default_chunk() -> usize {
    20
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct App {
    pub id: String,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default = "default_app_version")]
    pub version: String,
    /// `User` or `System`.
    #[serde(default = "default_type", rename = "type")]
    pub app_type: String,
    /// App Store id, written into `iTunesMetadata`.
    #[serde(default)]
    pub item_id: Option<u64>,
    #[serde(default)]
    pub artist: Option<String>,
    /// The buyer's Apple ID in `iTunesMetadata`.
    #[serde(default)]
    pub apple_id: Option<String>,
    #[serde(default = "default_signer")]
    pub signer: String,
}

fn default_app_version() -> String {
    "1.0".to_string()
}
fn default_type() -> String {
    "User".to_string()
}
fn default_signer() -> String {
    "Apple iPhone OS Application Signing".to_string()
}

impl Phone {
    /// Every app of the phone, scenario apps first, then fillers.
    pub fn all_apps(&self) -> Vec<App> {
        let mut apps = self.apps.clone();
        for i in 0..self.filler_user_apps {
            apps.push(App {
                id: format!("com.example.filler{i}"),
                name: Some(format!("Filler {i}")),
                version: format!("2.{i}"),
                app_type: "User".to_string(),
                item_id: Some(1_000_000_000 + i as u64),
                artist: Some("Example Ltd".to_string()),
                apple_id: Some("owner@example.com".to_string()),
                signer: default_signer(),
            });
        }
        for i in 0..self.filler_system_apps {
            apps.push(App {
                id: format!("com.apple.system{i}"),
                name: Some(format!("System {i}")),
                version: self.product_version.clone(),
                app_type: "System".to_string(),
                item_id: None,
                artist: None,
                apple_id: None,
                signer: "Apple iPhone OS Application Signing".to_string(),
            });
        }
        apps
    }
}
