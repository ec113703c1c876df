//! The plists at the top of a backup folder (`Info.plist`, `Manifest.plist`, `Status.plist`),
//! XML or binary alike, read through the crate's one plist reader ([`crate::plists`], with its
//! depth and size limits). The `iTunesMetadata` blob inside `Info.plist` is parsed there too.

use crate::plists::{boolean, dictionary, dictionary_skipping, first_text, text};
pub use crate::plists::{parse_itunes_metadata, ItunesMetadata, PlistError};
use plist::{Dictionary, Value};

/// `Info.plist` data the scanner never reads (app icons, DRM blobs): not decoded.
pub const INFO_SKIPPED_DATA: [&str; 2] = ["PlaceholderIcon", "ApplicationSINF"];

/// Device identity fields, from `Info.plist` or `Manifest.plist` `Lockdown`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeviceFields {
    pub udid: Option<String>,
    pub name: Option<String>,
    pub product_type: Option<String>,
    pub product_version: Option<String>,
    pub build_version: Option<String>,
    pub serial: Option<String>,
    pub imei: Option<String>,
    pub meid: Option<String>,
    pub phone_number: Option<String>,
    pub iccid: Option<String>,
}

impl DeviceFields {
    /// Fills each field that is `None` from `other`.
    pub fn or(mut self, other: &DeviceFields) -> DeviceFields {
        fn fill(a: &mut Option<String>, b: &Option<String>) {
            if a.is_none() {
                a.clone_from(b);
            }
        }
        fill(&mut self.udid, &other.udid);
        fill(&mut self.name, &other.name);
        fill(&mut self.product_type, &other.product_type);
        fill(&mut self.product_version, &other.product_version);
        fill(&mut self.build_version, &other.build_version);
        fill(&mut self.serial, &other.serial);
        fill(&mut self.imei, &other.imei);
        fill(&mut self.meid, &other.meid);
        fill(&mut self.phone_number, &other.phone_number);
        fill(&mut self.iccid, &other.iccid);
        self
    }
}

/// One entry of `Info.plist` `Applications`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InfoApp {
    pub bundle_id: String,
    pub metadata: Option<ItunesMetadata>,
    /// Why the `iTunesMetadata` blob could not be read, when it was present but unreadable.
    pub metadata_error: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct InfoPlist {
    pub device: DeviceFields,
    /// `Installed Applications`, in file order.
    pub installed_applications: Vec<String>,
    /// `Applications`, sorted by bundle id.
    pub applications: Vec<InfoApp>,
    pub last_backup_date: Option<String>,
    /// Entries of the wrong type that were skipped (informational).
    pub skipped: Vec<String>,
}

/// One entry of `Manifest.plist` `Applications`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ManifestApp {
    pub bundle_id: String,
    pub bundle_version: Option<String>,
    pub short_version: Option<String>,
    pub path: Option<String>,
    pub container_content_class: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ManifestPlist {
    pub is_encrypted: bool,
    pub version: Option<String>,
    pub date: Option<String>,
    pub lockdown: DeviceFields,
    pub applications: Vec<ManifestApp>,
    pub keybag: Option<Vec<u8>>,
    pub manifest_key: Option<Vec<u8>>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StatusPlist {
    pub snapshot_state: Option<String>,
    pub backup_state: Option<String>,
    pub is_full_backup: Option<bool>,
    pub date: Option<String>,
}

fn device_from_info(dict: &Dictionary) -> DeviceFields {
    DeviceFields {
        udid: first_text(
            dict,
            &["Unique Identifier", "Target Identifier", "UniqueDeviceID"],
        ),
        name: first_text(dict, &["Device Name", "Display Name"]),
        product_type: first_text(dict, &["Product Type"]),
        product_version: first_text(dict, &["Product Version"]),
        build_version: first_text(dict, &["Build Version"]),
        serial: first_text(dict, &["Serial Number"]),
        imei: first_text(dict, &["IMEI"]),
        meid: first_text(dict, &["MEID"]),
        phone_number: first_text(dict, &["Phone Number"]),
        iccid: first_text(dict, &["ICCID"]),
    }
}

fn device_from_lockdown(dict: &Dictionary) -> DeviceFields {
    DeviceFields {
        udid: first_text(dict, &["UniqueDeviceID"]),
        name: first_text(dict, &["DeviceName"]),
        product_type: first_text(dict, &["ProductType"]),
        product_version: first_text(dict, &["ProductVersion"]),
        build_version: first_text(dict, &["BuildVersion"]),
        serial: first_text(dict, &["SerialNumber"]),
        imei: first_text(dict, &["InternationalMobileEquipmentIdentity", "IMEI"]),
        meid: first_text(dict, &["MobileEquipmentIdentifier", "MEID"]),
        phone_number: first_text(dict, &["PhoneNumber"]),
        iccid: first_text(dict, &["IntegratedCircuitCardIdentity", "ICCID"]),
    }
}

/// Reads `Info.plist`.
pub fn parse_info_plist(bytes: &[u8]) -> Result<InfoPlist, PlistError> {
    let dict = dictionary_skipping(bytes, &INFO_SKIPPED_DATA)?;
    let mut info = InfoPlist {
        device: device_from_info(&dict),
        last_backup_date: first_text(&dict, &["Last Backup Date"]),
        ..InfoPlist::default()
    };
    match dict.get("Installed Applications") {
        None => {}
        Some(Value::Array(items)) => {
            for item in items {
                match text(Some(item)) {
                    Some(id) => info.installed_applications.push(id),
                    None => info
                        .skipped
                        .push("an Installed Applications entry that is not a string".to_string()),
                }
            }
        }
        Some(_) => info
            .skipped
            .push("Installed Applications is not an array".to_string()),
    }
    match dict.get("Applications") {
        None => {}
        Some(Value::Dictionary(apps)) => {
            for (bundle_id, entry) in apps {
                let bundle_id = bundle_id.trim();
                if bundle_id.is_empty() {
                    continue;
                }
                let mut app = InfoApp {
                    bundle_id: bundle_id.to_string(),
                    metadata: None,
                    metadata_error: None,
                };
                match entry.as_dictionary().and_then(|d| d.get("iTunesMetadata")) {
                    None => {}
                    Some(Value::Data(blob)) => match parse_itunes_metadata(blob) {
                        Ok(m) => app.metadata = Some(m),
                        Err(e) => app.metadata_error = Some(e.to_string()),
                    },
                    // Some writers nest the dictionary itself.
                    Some(Value::Dictionary(d)) => {
                        let mut buf = Vec::new();
                        match Value::Dictionary(d.clone())
                            .to_writer_binary(&mut buf)
                            .map_err(PlistError::from)
                            .and_then(|()| parse_itunes_metadata(&buf))
                        {
                            Ok(m) => app.metadata = Some(m),
                            Err(e) => app.metadata_error = Some(e.to_string()),
                        }
                    }
                    Some(_) => {
                        app.metadata_error =
                            Some("iTunesMetadata is neither data nor a dictionary".to_string())
                    }
                }
                info.applications.push(app);
            }
        }
        Some(_) => info
            .skipped
            .push("Applications is not a dictionary".to_string()),
    }
    info.applications
        .sort_by(|a, b| a.bundle_id.cmp(&b.bundle_id));
    Ok(info)
}

/// Reads `Manifest.plist`.
pub fn parse_manifest_plist(bytes: &[u8]) -> Result<ManifestPlist, PlistError> {
    let dict = dictionary(bytes)?;
    let mut manifest = ManifestPlist {
        is_encrypted: boolean(dict.get("IsEncrypted")).unwrap_or(false),
        version: first_text(&dict, &["Version"]),
        date: first_text(&dict, &["Date"]),
        lockdown: dict
            .get("Lockdown")
            .and_then(Value::as_dictionary)
            .map(device_from_lockdown)
            .unwrap_or_default(),
        keybag: dict
            .get("BackupKeyBag")
            .and_then(Value::as_data)
            .map(<[u8]>::to_vec),
        manifest_key: dict
            .get("ManifestKey")
            .and_then(Value::as_data)
            .map(<[u8]>::to_vec),
        applications: Vec::new(),
    };
    if let Some(apps) = dict.get("Applications").and_then(Value::as_dictionary) {
        for (key, entry) in apps {
            let entry = entry.as_dictionary();
            let field = |k: &str| entry.and_then(|d| text(d.get(k)));
            let bundle_id = match key.trim() {
                "" => match field("CFBundleIdentifier") {
                    Some(id) => id,
                    None => continue,
                },
                k => k.to_string(),
            };
            manifest.applications.push(ManifestApp {
                bundle_id,
                bundle_version: field("CFBundleVersion"),
                short_version: field("CFBundleShortVersionString"),
                path: field("Path"),
                container_content_class: field("ContainerContentClass"),
            });
        }
    }
    manifest
        .applications
        .sort_by(|a, b| a.bundle_id.cmp(&b.bundle_id));
    Ok(manifest)
}

/// Reads `Status.plist`.
pub fn parse_status_plist(bytes: &[u8]) -> Result<StatusPlist, PlistError> {
    let dict = dictionary(bytes)?;
    Ok(StatusPlist {
        snapshot_state: first_text(&dict, &["SnapshotState"]),
        backup_state: first_text(&dict, &["BackupState"]),
        is_full_backup: boolean(dict.get("IsFullBackup")),
        date: first_text(&dict, &["Date"]),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plists::tests::{binary, xml};
    use proptest::prelude::*;

    fn dict(pairs: Vec<(&str, Value)>) -> Value {
        Value::Dictionary(pairs.into_iter().map(|(k, v)| (k.to_string(), v)).collect())
    }

    fn metadata() -> Value {
        dict(vec![
            ("itemId", Value::Integer(835599320u64.into())),
            ("itemName", Value::String("TikTok".into())),
            ("artistName", Value::String("TikTok Ltd.".into())),
            ("bundleShortVersionString", Value::String("33.2.3".into())),
            (
                "softwareVersionBundleId",
                Value::String("com.zhiliaoapp.musically".into()),
            ),
            (
                "com.apple.iTunesStore.downloadInfo",
                dict(vec![
                    (
                        "accountInfo",
                        dict(vec![("AppleID", Value::String("buyer@example.com".into()))]),
                    ),
                    ("purchaseDate", Value::String("2024-01-02T03:04:05Z".into())),
                ]),
            ),
        ])
    }

    #[test]
    fn info_plist_xml_and_binary() {
        let v = dict(vec![
            ("Device Name", Value::String("Audit iPhone".into())),
            ("Product Type", Value::String("iPhone9,3".into())),
            ("Unique Identifier", Value::String("00008030-001A".into())),
            (
                "Installed Applications",
                Value::Array(vec![Value::String("a.b".into()), Value::Integer(3.into())]),
            ),
            (
                "Applications",
                dict(vec![(
                    "com.zhiliaoapp.musically",
                    dict(vec![("iTunesMetadata", Value::Data(binary(metadata())))]),
                )]),
            ),
        ]);
        for bytes in [xml(v.clone()), binary(v)] {
            let info = parse_info_plist(&bytes).unwrap();
            assert_eq!(info.device.name.as_deref(), Some("Audit iPhone"));
            assert_eq!(info.device.udid.as_deref(), Some("00008030-001A"));
            assert_eq!(info.installed_applications, vec!["a.b", "3"]);
            let m = info.applications[0].metadata.as_ref().unwrap();
            assert_eq!(m.item_id, Some(835599320));
            assert_eq!(m.short_version.as_deref(), Some("33.2.3"));
            assert_eq!(m.apple_ids, vec!["buyer@example.com"]);
            assert_eq!(m.purchase_date.as_deref(), Some("2024-01-02T03:04:05Z"));
        }
    }

    #[test]
    fn irregular_metadata_is_tolerated() {
        let m = parse_itunes_metadata(&binary(dict(vec![
            ("itemId", Value::String("835599320".into())),
            ("itemName", Value::Integer(5.into())),
            ("artistName", Value::Array(vec![])),
            (
                "com.apple.iTunesStore.downloadInfo",
                Value::String("x".into()),
            ),
        ])))
        .unwrap();
        assert_eq!(m.item_id, Some(835599320));
        assert_eq!(m.item_name.as_deref(), Some("5"));
        assert_eq!(m.artist_name, None);
        assert!(parse_itunes_metadata(b"garbage").is_err());
        assert!(matches!(
            parse_itunes_metadata(&xml(Value::Array(vec![]))),
            Err(PlistError::NotDictionary)
        ));
    }

    #[test]
    fn manifest_and_status() {
        let m = parse_manifest_plist(&xml(dict(vec![
            ("IsEncrypted", Value::Boolean(true)),
            (
                "Lockdown",
                dict(vec![("UniqueDeviceID", Value::String("abc".into()))]),
            ),
            (
                "Applications",
                dict(vec![(
                    "com.zhiliaoapp.musically",
                    dict(vec![("CFBundleVersion", Value::String("330203".into()))]),
                )]),
            ),
            ("BackupKeyBag", Value::Data(vec![1, 2])),
        ])))
        .unwrap();
        assert!(m.is_encrypted);
        assert_eq!(m.lockdown.udid.as_deref(), Some("abc"));
        assert_eq!(m.applications[0].bundle_version.as_deref(), Some("330203"));
        assert_eq!(m.keybag, Some(vec![1, 2]));
        let s = parse_status_plist(&binary(dict(vec![(
            "SnapshotState",
            Value::String("uploading".into()),
        )])))
        .unwrap();
        assert_eq!(s.snapshot_state.as_deref(), Some("uploading"));
    }

    proptest! {
        #[test]
        fn never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
            let _ = parse_info_plist(&bytes);
            let _ = parse_manifest_plist(&bytes);
            let _ = parse_status_plist(&bytes);
            let _ = parse_itunes_metadata(&bytes);
        }

        #[test]
        fn never_panic_on_mutated_binary(pos in 0usize..600, byte in any::<u8>(), cut in 0usize..700) {
            let mut bytes = binary(dict(vec![
                ("Installed Applications", Value::Array(vec![Value::String("a.b".into())])),
                ("Applications", dict(vec![("x.y", dict(vec![("iTunesMetadata", Value::Data(binary(metadata())))]))])),
            ]));
            if let Some(b) = bytes.get_mut(pos) { *b = byte; }
            bytes.truncate(cut);
            let _ = parse_info_plist(&bytes);
        }
    }
}
