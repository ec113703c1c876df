//! The data a source hands to the engine: a device, its apps, and the problems met reading it.
//!
//! Sources fill these in; they never decide what is prohibited. Everything here is plain data
//! with a deterministic serialisation (sorted lists, no maps with iteration order).

use serde::{Deserialize, Serialize};

pub use crate::digest::Sha256;

/// Which kind of device a report is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Platform {
    Android,
    Ios,
    /// `scan files` over a mix of APK and IPA files.
    Files,
}

/// How the device was read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SourceKind {
    Adb,
    Backup,
    Files,
    /// A live iPhone or iPad through usbmuxd (lockdownd and installation_proxy).
    Usbmuxd,
}

/// Personal data about the device's owner: only reported with `--include-personal-data`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct PersonalData {
    pub phone_number: Option<String>,
    pub iccid: Option<String>,
    pub apple_ids: Vec<String>,
}

/// Device identity. Fields a source cannot know stay `None` (serialised as `null`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DeviceInfo {
    pub platform: Platform,
    pub source: SourceKind,
    /// Stable identifier: adb serial, backup UDID (or folder name), or the `scan files` argument.
    pub id: String,
    pub model: Option<String>,
    pub manufacturer: Option<String>,
    pub os_version: Option<String>,
    pub os_build: Option<String>,
    pub security_patch: Option<String>,
    pub name: Option<String>,
    pub serial: Option<String>,
    pub imei: Option<String>,
    /// adb transport (`usb:1-1`, `127.0.0.1:5037`...) or the backup folder path.
    pub location: Option<String>,
    /// Only filled when personal data was asked for.
    pub personal: Option<PersonalData>,
}

impl DeviceInfo {
    pub fn new(platform: Platform, source: SourceKind, id: impl Into<String>) -> Self {
        Self {
            platform,
            source,
            id: id.into(),
            model: None,
            manufacturer: None,
            os_version: None,
            os_build: None,
            security_patch: None,
            name: None,
            serial: None,
            imei: None,
            location: None,
            personal: None,
        }
    }
}

/// Where a signer certificate was found in an APK.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CertScheme {
    /// JAR signing: a PKCS#7 block in `META-INF/*.RSA|DSA|EC`.
    V1,
    /// APK Signature Scheme v2 block.
    V2,
    /// APK Signature Scheme v3 block.
    V3,
    /// APK Signature Scheme v3.1 block.
    V31,
    /// A certificate from a v3/v3.1 proof-of-rotation lineage (an older or newer key).
    Lineage,
}

/// One certificate found in an app artifact. A *claimed* signer: appsweep extracts certificates,
/// it does not verify signatures.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Certificate {
    /// SHA-256 of the DER certificate.
    pub sha256: Sha256,
    pub scheme: CertScheme,
    /// For v1: the `META-INF/...` entry name; otherwise `None`.
    pub entry: Option<String>,
}

/// A `<meta-data android:name=.. android:value=..>` pair from a manifest.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct MetaData {
    pub name: String,
    pub value: String,
}

/// A place a source saw an app in. Serialised (and ordered) by its name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SeenIn {
    /// adb: `pm list packages`.
    PmList,
    /// adb: `dumpsys package`.
    Dumpsys,
    /// Backup: `Info.plist` `Installed Applications`.
    InstalledApplications,
    /// Backup: `Info.plist` `Applications`.
    InfoApplications,
    /// Backup: `Manifest.plist` `Applications`.
    ManifestApplications,
    /// Backup: an `AppDomain-<bundle id>` domain.
    AppDomain,
    /// Backup: an `AppDomainGroup-<group id>` domain (weak: a group another app may share).
    AppGroup,
    /// Backup: an `AppDomainPlugin-<extension bundle id>` domain (weak).
    AppPlugin,
    /// `scan files`: an IPA file.
    Ipa,
    /// `scan files`: an APK file.
    Apk,
    /// Live iPhone: lockdownd's `installation_proxy` `Browse`.
    InstallationProxy,
}

impl SeenIn {
    pub fn as_str(self) -> &'static str {
        match self {
            SeenIn::PmList => "pm_list",
            SeenIn::Dumpsys => "dumpsys",
            SeenIn::InstalledApplications => "installed_applications",
            SeenIn::InfoApplications => "info_applications",
            SeenIn::ManifestApplications => "manifest_applications",
            SeenIn::AppDomain => "app_domain",
            SeenIn::AppGroup => "app_group",
            SeenIn::AppPlugin => "app_plugin",
            SeenIn::Ipa => "ipa",
            SeenIn::Apk => "apk",
            SeenIn::InstallationProxy => "installation_proxy",
        }
    }
}

crate::closed_set::text_like!(SeenIn);

/// Everything learned about one app on one device (or in one file).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AppRecord {
    /// Android package name or iOS bundle id. For an unreadable file, the file name.
    pub id: String,
    /// Human label when known (iTunesMetadata `itemName`, ...). Comes from the device: untrusted.
    pub name: Option<String>,
    pub version: Option<String>,
    /// Decimal string: Android long version codes exceed 32 bits.
    pub version_code: Option<String>,
    /// Android user / profile id; `None` for iOS and files.
    pub user: Option<u32>,
    /// `false` for weaker evidence (an iOS app-group or plugin container, an uninstalled package).
    pub installed: bool,
    /// Every place the app was seen, sorted by name.
    pub seen_in: Vec<SeenIn>,
    /// Main artifact path (APK base path on the phone, file path for `scan files`).
    pub path: Option<String>,
    /// Split APKs and other artifact paths, sorted.
    pub split_paths: Vec<String>,
    /// Unique certificate digests (all schemes and lineage), sorted.
    pub signers_sha256: Vec<Sha256>,
    /// Each certificate with the scheme it came from, sorted.
    pub certificates: Vec<Certificate>,
    pub installer: Option<String>,
    pub system: bool,
    /// App Store numeric id (iOS `itemId`).
    pub app_store_id: Option<u64>,
    /// File SHA-256 when hashed.
    pub file_sha256: Option<Sha256>,
    pub size: Option<u64>,
    pub first_install: Option<String>,
    pub last_update: Option<String>,
    /// Free-form details from the source (seller, purchase date, source app, ...), sorted by key.
    pub details: Vec<(String, String)>,
    /// Manifest components (activities, services, receivers, providers, application class).
    /// Content markers: not serialised (matched ones appear as finding evidence).
    #[serde(skip)]
    pub components: Vec<String>,
    /// Native library file names (`libfoo.so`), from `lib/<abi>/`.
    #[serde(skip)]
    pub native_libs: Vec<String>,
    /// Manifest `<meta-data>`.
    #[serde(skip)]
    pub meta_data: Vec<MetaData>,
    /// Permissions the app declares or uses.
    #[serde(skip)]
    pub permissions: Vec<String>,
}

impl AppRecord {
    pub fn new(id: impl Into<String>) -> Self {
        Self {
            id: id.into(),
            name: None,
            version: None,
            version_code: None,
            user: None,
            installed: true,
            seen_in: Vec::new(),
            path: None,
            split_paths: Vec::new(),
            signers_sha256: Vec::new(),
            certificates: Vec::new(),
            installer: None,
            system: false,
            app_store_id: None,
            file_sha256: None,
            size: None,
            first_install: None,
            last_update: None,
            details: Vec::new(),
            components: Vec::new(),
            native_libs: Vec::new(),
            meta_data: Vec::new(),
            permissions: Vec::new(),
        }
    }

    /// Records that the app was seen in `place` (kept sorted and unique).
    pub fn add_seen_in(&mut self, place: SeenIn) {
        if let Err(pos) = self.seen_in.binary_search(&place) {
            self.seen_in.insert(pos, place);
        }
    }

    /// Adds certificates and keeps `certificates` and `signers_sha256` sorted and unique.
    pub fn add_certificates(&mut self, certs: impl IntoIterator<Item = Certificate>) {
        self.certificates.extend(certs);
        self.certificates.sort();
        self.certificates.dedup();
        self.signers_sha256 = self.certificates.iter().map(|c| c.sha256.clone()).collect();
        self.signers_sha256.sort();
        self.signers_sha256.dedup();
    }

    /// Sorts every list so output never depends on discovery order.
    pub fn normalize(&mut self) {
        self.seen_in.sort();
        self.seen_in.dedup();
        self.split_paths.sort();
        self.split_paths.dedup();
        self.certificates.sort();
        self.certificates.dedup();
        self.signers_sha256.sort();
        self.signers_sha256.dedup();
        self.details.sort();
        self.details.dedup();
        self.components.sort();
        self.components.dedup();
        self.native_libs.sort();
        self.native_libs.dedup();
        self.meta_data.sort();
        self.meta_data.dedup();
        self.permissions.sort();
        self.permissions.dedup();
    }
}

/// Something that could not be read. Any problem makes a device's status `incomplete` (unless a
/// violation was found): it is something that could hide an app.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Problem {
    /// What it concerns: `device`, `user 10`, `app com.x`, `file Manifest.db`, a path...
    pub scope: String,
    pub message: String,
}

impl Problem {
    pub fn new(scope: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            scope: scope.into(),
            message: message.into(),
        }
    }
}

/// Transfer and work counters a source may fill in (adb: round trips and bytes moved).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ScanStats {
    pub round_trips: u64,
    pub bytes_transferred: u64,
    /// Whole-APK pulls (the last resort on a phone).
    pub full_pulls: u64,
    pub cache_hits: u64,
    pub duration_ms: u64,
}

/// What a source produced for one device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Inventory {
    pub device: DeviceInfo,
    pub apps: Vec<AppRecord>,
    /// Things not read that could hide an app: each makes the scan incomplete.
    pub problems: Vec<Problem>,
    /// Informational remarks that do not make a scan incomplete (a fallback used, ...).
    pub notes: Vec<String>,
    pub stats: Option<ScanStats>,
}

impl Inventory {
    pub fn new(device: DeviceInfo) -> Self {
        Self {
            device,
            apps: Vec::new(),
            problems: Vec::new(),
            notes: Vec::new(),
            stats: None,
        }
    }

    /// Sorts apps (by id, then user), problems and notes; normalises each app.
    pub fn normalize(&mut self) {
        for app in &mut self.apps {
            app.normalize();
        }
        self.apps.sort_by(|a, b| {
            (a.id.as_str(), a.user, a.path.as_deref()).cmp(&(
                b.id.as_str(),
                b.user,
                b.path.as_deref(),
            ))
        });
        self.problems.sort();
        self.problems.dedup();
        self.notes.sort();
        self.notes.dedup();
    }
}
