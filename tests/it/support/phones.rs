//! Scenarios for `fake-adbd`: real phones of the Android versions appsweep supports, each able to
//! hold TikTok in a different place. `fake-adbd` gives a scenario with `sdk` the transport, tools,
//! `pm`, `dumpsys` and costs of that version (see `src/bin/fake-adbd/profile.rs`).
//!
//! ```ignore
//! let sc = phones::phone(24, Place::SecureFolder, &phones::Apks { tiktok, split: Some(split), clean });
//! let phone = FakePhone::spawn(&server, sc);
//! ```
//! [`matrix`] lists the phones the scanner must get right: SDK 21, 23, 24, 26, 28, 30, 33, 34,
//! 35 and 36 (Android 16, which behaves as 15 in everything the scanner uses), each with TikTok somewhere different, and [`Place::expect`] what a correct scan reports.
//! The returned JSON can be adjusted before spawning (e.g. `sc["costs"]["scale"] = 0.into()` for
//! a free phone, `sc["users"][1]["refuse_listing"] = true.into()`).
#![allow(dead_code)]

use serde_json::{json, Value};
use std::path::Path;

/// The API levels of the test matrix.
pub const MATRIX_SDKS: [u32; 10] = [21, 23, 24, 26, 28, 30, 33, 34, 35, 36];

pub const TIKTOK: &str = "com.zhiliaoapp.musically";
pub const CLEAN_APP: &str = "org.fdroid.fdroid";

/// Where TikTok is on the phone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Place {
    /// Installed for the owner (user 0).
    Owner,
    /// A managed work profile (user 10) whose listing the shell may not read (Samsung-style
    /// SecurityException); dumpsys shows it.
    WorkProfile,
    /// Samsung Secure Folder (user 150), listing refused; dumpsys shows it.
    SecureFolder,
    /// Samsung Dual Messenger clone (user 95) only.
    DualMessenger,
    /// Xiaomi Dual Apps / Second Space (user 999) only.
    XiaomiDualApps,
    /// Android 15 Private Space (user 11), locked: listing prints nothing; dumpsys shows it.
    PrivateSpaceLocked,
    /// The same, locked, and dumpsys shows nothing of user 11 either.
    PrivateSpaceLockedHidden,
    /// Android 15 Private Space, unlocked.
    PrivateSpaceUnlocked,
    /// Android 15 archived for user 0: listed, no APK, data kept.
    Archived,
    /// Installed for user 0 and disabled (`pm disable-user`).
    Disabled,
    /// Uninstalled with its data kept (`pm uninstall -k`): known, installed for nobody.
    UninstalledKeptData,
    /// Not on the phone at all.
    Nowhere,
}

/// What a correct scan of such a phone reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expect {
    /// TikTok found: status `violation`.
    Violation,
    /// Nothing found, and a place that could hide it was not read: status `incomplete`.
    Incomplete,
    /// No installed TikTok; its kept data is a notice: status `clean`.
    CleanWithNotice,
    /// Status `clean`.
    Clean,
}

impl Place {
    pub const ALL: [Place; 12] = [
        Place::Owner,
        Place::WorkProfile,
        Place::SecureFolder,
        Place::DualMessenger,
        Place::XiaomiDualApps,
        Place::PrivateSpaceLocked,
        Place::PrivateSpaceLockedHidden,
        Place::PrivateSpaceUnlocked,
        Place::Archived,
        Place::Disabled,
        Place::UninstalledKeptData,
        Place::Nowhere,
    ];

    /// The first API level where this place exists.
    pub fn since_sdk(self) -> u32 {
        match self {
            Place::SecureFolder | Place::DualMessenger => 24,
            Place::XiaomiDualApps => 23,
            Place::PrivateSpaceLocked
            | Place::PrivateSpaceLockedHidden
            | Place::PrivateSpaceUnlocked
            | Place::Archived => 35,
            _ => 21,
        }
    }

    pub fn expect(self) -> Expect {
        match self {
            Place::PrivateSpaceLockedHidden => Expect::Incomplete,
            Place::UninstalledKeptData => Expect::CleanWithNotice,
            Place::Nowhere => Expect::Clean,
            // A refused or locked user whose install states dumpsys shows is still read.
            _ => Expect::Violation,
        }
    }

    /// The user TikTok is in (`None`: no user).
    pub fn user(self) -> Option<u32> {
        match self {
            Place::Owner | Place::Archived | Place::Disabled => Some(0),
            Place::WorkProfile => Some(10),
            Place::SecureFolder => Some(150),
            Place::DualMessenger => Some(95),
            Place::XiaomiDualApps => Some(999),
            Place::PrivateSpaceLocked
            | Place::PrivateSpaceLockedHidden
            | Place::PrivateSpaceUnlocked => Some(11),
            Place::UninstalledKeptData | Place::Nowhere => None,
        }
    }
}

/// The phones of the test matrix: every SDK of [`MATRIX_SDKS`], every [`Place`] at least once.
pub fn matrix() -> Vec<(u32, Place)> {
    vec![
        (21, Place::Owner),
        (23, Place::Disabled),
        (24, Place::SecureFolder),
        (26, Place::XiaomiDualApps),
        (28, Place::DualMessenger),
        (30, Place::WorkProfile),
        (33, Place::UninstalledKeptData),
        (34, Place::SecureFolder),
        (35, Place::PrivateSpaceLocked),
        (35, Place::PrivateSpaceLockedHidden),
        (35, Place::PrivateSpaceUnlocked),
        (35, Place::Archived),
        (34, Place::Nowhere),
        (36, Place::WorkProfile),
    ]
}

/// The APK files the phone serves (real APKs for a scanner test; any bytes for the fake's own).
pub struct Apks<'a> {
    pub tiktok: &'a Path,
    /// TikTok's `split_config.arm64_v8a.apk`, if any.
    pub split: Option<&'a Path>,
    pub clean: &'a Path,
}

fn release(sdk: u32) -> &'static str {
    match sdk {
        21 => "5.0.2",
        22 => "5.1.1",
        23 => "6.0.1",
        24 => "7.0",
        25 => "7.1.2",
        26 => "8.0.0",
        27 => "8.1.0",
        28 => "9",
        29 => "10",
        30 => "11",
        31 => "12",
        32 => "12L",
        33 => "13",
        34 => "14",
        35 => "15",
        _ => "16",
    }
}

/// The directory an app's APKs are installed in, in the style of that Android version.
pub fn code_dir(sdk: u32, package: &str, salt: &str) -> String {
    match sdk {
        ..=25 => format!("/data/app/{package}-1"),
        26..=29 => format!("/data/app/{package}-{salt}Qx9Z3w=="),
        _ => format!("/data/app/~~{salt}Kq2w==/{package}-{salt}Zm8x=="),
    }
}

/// TikTok's base APK path on a phone of this SDK.
pub fn tiktok_base(sdk: u32) -> String {
    format!("{}/base.apk", code_dir(sdk, TIKTOK, "t1"))
}

/// A phone of API level `sdk` with TikTok in `place`. Panics on a place that does not exist at
/// that level (a test bug).
pub fn phone(sdk: u32, place: Place, apks: &Apks) -> Value {
    assert!(
        sdk >= place.since_sdk(),
        "{place:?} does not exist on SDK {sdk} (from {})",
        place.since_sdk()
    );
    let (maker, model, product) = match place {
        Place::WorkProfile | Place::SecureFolder | Place::DualMessenger => {
            ("samsung", "SM-G991B", "o1sxeea")
        }
        Place::XiaomiDualApps => ("Xiaomi", "M2101K9G", "renoir_global"),
        _ => ("Google", "Pixel 8", "shiba"),
    };
    let owner_flags = match sdk {
        ..=23 => "13",
        24..=33 => "c13",
        _ => "4c13",
    };
    let mut users = vec![json!({"id": 0, "name": "Owner", "flags": owner_flags, "running": true})];
    let extra = match place {
        Place::WorkProfile => {
            Some(json!({"id": 10, "name": "Work profile", "flags": "1030", "refuse_listing": true}))
        }
        Place::SecureFolder => Some(
            json!({"id": 150, "name": "Secure Folder", "flags": "10061030", "refuse_listing": true}),
        ),
        Place::DualMessenger => Some(json!({"id": 95, "name": "DUAL_APP", "flags": "20001030"})),
        Place::XiaomiDualApps => Some(json!({"id": 999, "name": "XSpace", "flags": "801010"})),
        Place::PrivateSpaceLocked => {
            Some(json!({"id": 11, "name": "Private space", "flags": "1090", "locked": true}))
        }
        Place::PrivateSpaceLockedHidden => Some(json!({"id": 11, "name": "Private space",
            "flags": "1090", "locked": true, "hidden_from_dumpsys": true})),
        Place::PrivateSpaceUnlocked => {
            Some(json!({"id": 11, "name": "Private space", "flags": "1010"}))
        }
        _ => None,
    };
    let extra_id = extra.as_ref().and_then(|u| u["id"].as_u64());
    users.extend(extra);
    let mut settings_users = vec![json!(0)];
    settings_users.extend(extra_id.map(|id| json!(id)));

    let clean_dir = code_dir(sdk, CLEAN_APP, "c2");
    let mut packages = vec![
        json!({"name": "com.android.settings", "users": settings_users, "system": true,
               "uid": 1000, "version_code": sdk, "version_name": release(sdk),
               "apks": [{"path": "/system/priv-app/Settings/Settings.apk", "synthetic_size": 300_000}]}),
        json!({"name": "com.android.providers.contacts", "users": settings_users, "system": true,
               "uid": 10002, "version_code": sdk, "version_name": release(sdk),
               "apks": [{"path": "/system/priv-app/ContactsProvider/ContactsProvider.apk",
                         "synthetic_size": 200_000}]}),
        json!({"name": CLEAN_APP, "users": [0], "uid": 10150, "version_code": 1_019_050,
               "version_name": "1.19.5", "installer": null,
               "first_install": "2023-03-01 09:00:00", "last_update": "2024-02-01 09:00:00",
               "apks": [{"path": format!("{clean_dir}/base.apk"), "file": apks.clean}]}),
    ];
    if place != Place::Nowhere {
        let dir = code_dir(sdk, TIKTOK, "t1");
        let mut tiktok_apks = vec![json!({"path": format!("{dir}/base.apk"), "file": apks.tiktok})];
        if let Some(split) = apks.split {
            tiktok_apks
                .push(json!({"path": format!("{dir}/split_config.arm64_v8a.apk"), "file": split}));
        }
        let users: Vec<u32> = place.user().into_iter().collect();
        let mut t = json!({"name": TIKTOK, "users": users, "uid": 10234,
            "version_code": 2_024_307_030u64, "version_name": "43.7.3",
            "installer": "com.android.vending",
            "first_install": "2024-05-01 10:00:00", "last_update": "2024-05-02 10:00:00",
            "apks": tiktok_apks});
        match place {
            Place::Archived => t["archived"] = true.into(),
            Place::Disabled => t["enabled"] = false.into(),
            _ => {}
        }
        packages.push(t);
    }
    json!({
        "sdk": sdk,
        "serial_banner": {"product": product, "model": model.replace(' ', "_"), "device": product},
        "auth": "accept",
        "props": {"ro.product.manufacturer": maker, "ro.product.model": model,
                  "ro.product.brand": maker.to_lowercase(),
                  "ro.build.version.release": release(sdk),
                  "ro.build.version.sdk": sdk.to_string(),
                  "ro.serialno": format!("FAKE{sdk:02}{:02}", place as u8)},
        "users": users,
        "packages": packages,
        "link": {"latency_ms": 0, "bandwidth_bytes_per_s": 0},
        "costs": {"scale": 1.0}
    })
}
