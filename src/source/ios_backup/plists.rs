//! The plists at the top of a backup folder (`Info.plist`, `Manifest.plist`, `Status.plist`) and
//! the `iTunesMetadata` plist nested inside `Info.plist`, XML or binary alike.
//!
//! Pure functions over bytes. Values come from the device: every key may be missing or have the
//! wrong type, and that is tolerated (the field stays `None`); only a file that is not a plist at
//! all, or whose top level is not a dictionary, is an error.

use plist::{Dictionary, Value};

#[derive(Debug, thiserror::Error)]
pub enum PlistError {
    #[error("not a readable plist: {0}")]
    Parse(#[from] plist::Error),
    #[error("the top level is not a dictionary")]
    NotDictionary,
    #[error("plist nested deeper than {MAX_DEPTH} levels")]
    TooDeep,
    #[error("malformed plist: {0}")]
    Malformed(&'static str),
}

/// Deepest nesting accepted. Backup plists nest a handful of levels; a hostile file nesting
/// hundreds of thousands would otherwise exhaust the stack of a recursive builder.
pub const MAX_DEPTH: usize = 128;

fn uint(b: &[u8], at: usize, size: usize) -> Option<u64> {
    if size == 0 || size > 8 {
        return None;
    }
    let bytes = b.get(at..at.checked_add(size)?)?;
    Some(bytes.iter().fold(0u64, |acc, &x| (acc << 8) | u64::from(x)))
}

/// Checks that a binary plist nests at most `max` containers deep, walking its object graph
/// without recursion (each object once; heights memoised). Cycles and references out of range
/// are errors.
fn check_binary_depth(b: &[u8], max: usize) -> Result<(), PlistError> {
    let bad = |what| PlistError::Malformed(what);
    let t = b
        .len()
        .checked_sub(32)
        .ok_or(bad("binary plist shorter than its trailer"))?;
    let off_size = usize::from(*b.get(t + 6).ok_or(bad("trailer"))?);
    let ref_size = usize::from(*b.get(t + 7).ok_or(bad("trailer"))?);
    let count = uint(b, t + 8, 8).ok_or(bad("trailer"))?;
    let top = uint(b, t + 16, 8).ok_or(bad("trailer"))?;
    let table = uint(b, t + 24, 8).ok_or(bad("trailer"))?;
    let count = usize::try_from(count)
        .ok()
        .filter(|&c| c <= b.len())
        .ok_or(bad("object count larger than the file"))?;
    let table = usize::try_from(table).map_err(|_| bad("offset table"))?;
    let offset = |i: usize| -> Result<usize, PlistError> {
        let at = i
            .checked_mul(off_size)
            .and_then(|x| x.checked_add(table))
            .ok_or(bad("offset table"))?;
        uint(b, at, off_size)
            .and_then(|o| usize::try_from(o).ok())
            .ok_or(bad("offset table truncated"))
    };
    // (first reference position, number of references) of a container object, or None.
    let refs = |i: usize| -> Result<Option<(usize, usize)>, PlistError> {
        let off = offset(i)?;
        let marker = *b.get(off).ok_or(bad("object offset out of range"))?;
        let kind = marker >> 4;
        if !matches!(kind, 0xA..=0xD) {
            return Ok(None);
        }
        let (n, start) = if marker & 0xF == 0xF {
            let int_marker = *b.get(off + 1).ok_or(bad("container length"))?;
            if int_marker >> 4 != 0x1 || int_marker & 0xF > 3 {
                return Err(bad("container length"));
            }
            let size = 1usize << (int_marker & 0xF);
            let n = uint(b, off + 2, size).ok_or(bad("container length"))?;
            (n, off + 2 + size)
        } else {
            (u64::from(marker & 0xF), off + 1)
        };
        let n = usize::try_from(n).map_err(|_| bad("container length"))?;
        let n = if kind == 0xD {
            n.checked_mul(2).ok_or(bad("container length"))?
        } else {
            n
        };
        let end = n
            .checked_mul(ref_size)
            .and_then(|x| x.checked_add(start))
            .ok_or(bad("container length"))?;
        if end > b.len() {
            return Err(bad("container runs past the end"));
        }
        Ok(Some((start, n)))
    };
    let top = usize::try_from(top)
        .ok()
        .filter(|&t| t < count)
        .ok_or(bad("top object out of range"))?;
    // 0: unseen, 1: on the stack, 2: done (height known).
    let mut state = vec![0u8; count];
    let mut height = vec![0usize; count];
    // (object, first reference position, references, next reference).
    let mut stack: Vec<(usize, usize, usize, usize)> = Vec::new();
    match refs(top)? {
        None => return Ok(()),
        Some((start, n)) => {
            stack.push((top, start, n, 0));
            if let Some(s) = state.get_mut(top) {
                *s = 1;
            }
        }
    }
    while let Some(frame) = stack.last_mut() {
        let (obj, start, n, next) = *frame;
        if next == n {
            stack.pop();
            if let Some(s) = state.get_mut(obj) {
                *s = 2;
            }
            let h = height.get(obj).copied().unwrap_or(0);
            if let Some(parent) = stack.last() {
                if let Some(ph) = height.get_mut(parent.0) {
                    *ph = (*ph).max(h + 1);
                }
            }
            continue;
        }
        frame.3 += 1;
        let child = uint(b, start + next * ref_size, ref_size)
            .and_then(|c| usize::try_from(c).ok())
            .filter(|&c| c < count)
            .ok_or(bad("object reference out of range"))?;
        match state.get(child).copied().unwrap_or(0) {
            1 => return Err(bad("object reference cycle")),
            2 => {
                let h = height.get(child).copied().unwrap_or(0);
                if stack.len() + h > max {
                    return Err(PlistError::TooDeep);
                }
                if let Some(ph) = height.get_mut(obj) {
                    *ph = (*ph).max(h + 1);
                }
            }
            _ => match refs(child)? {
                None => {
                    if let Some(s) = state.get_mut(child) {
                        *s = 2;
                    }
                }
                Some((cs, cn)) => {
                    if stack.len() >= max {
                        return Err(PlistError::TooDeep);
                    }
                    if let Some(s) = state.get_mut(child) {
                        *s = 1;
                    }
                    stack.push((child, cs, cn, 0));
                }
            },
        }
    }
    Ok(())
}

/// Checks that an XML plist nests at most `max` `<array>`/`<dict>` deep (comments, CDATA,
/// processing instructions and the DOCTYPE skipped; namespace prefixes ignored, as the parser
/// does).
fn check_xml_depth(b: &[u8], max: usize) -> Result<(), PlistError> {
    let find = |from: usize, needle: &[u8]| {
        b.get(from..)
            .and_then(|rest| memchr::memmem::find(rest, needle))
            .map(|p| from + p + needle.len())
    };
    let mut depth = 0usize;
    let mut pos = 0usize;
    while let Some(lt) = b
        .get(pos..)
        .and_then(|rest| memchr::memchr(b'<', rest))
        .map(|p| pos + p)
    {
        let rest = b.get(lt..).unwrap_or(&[]);
        let skip_to = if rest.starts_with(b"<!--") {
            find(lt + 4, b"-->")
        } else if rest.starts_with(b"<![CDATA[") {
            find(lt + 9, b"]]>")
        } else if rest.starts_with(b"<?") {
            find(lt + 2, b"?>")
        } else if rest.starts_with(b"<!") {
            let gt = find(lt + 2, b">");
            let bracket = b
                .get(lt..gt.unwrap_or(b.len()))
                .is_some_and(|d| d.contains(&b'['));
            if bracket {
                find(lt + 2, b"]>")
            } else {
                gt
            }
        } else {
            None
        };
        if rest.starts_with(b"<!") || rest.starts_with(b"<?") {
            match skip_to {
                Some(p) => {
                    pos = p;
                    continue;
                }
                None => return Ok(()),
            }
        }
        let Some(gt) = find(lt + 1, b">") else {
            return Ok(());
        };
        let tag = b.get(lt + 1..gt - 1).unwrap_or(&[]);
        let (closing, tag) = match tag.strip_prefix(b"/") {
            Some(t) => (true, t),
            None => (false, tag),
        };
        let name_end = tag
            .iter()
            .position(|c| c.is_ascii_whitespace() || *c == b'/')
            .unwrap_or(tag.len());
        let name = tag.get(..name_end).unwrap_or(&[]);
        let local = name.rsplit(|&c| c == b':').next().unwrap_or(name);
        if local == b"array" || local == b"dict" {
            if closing {
                depth = depth.saturating_sub(1);
            } else if !tag.ends_with(b"/") {
                depth += 1;
                if depth > max {
                    return Err(PlistError::TooDeep);
                }
            }
        }
        pos = gt;
    }
    Ok(())
}

/// Parses a plist with the `plist` crate once its nesting is known to be bounded (its builder
/// recurses once per level).
pub fn parse_value(bytes: &[u8]) -> Result<Value, PlistError> {
    if bytes.starts_with(b"bplist") {
        check_binary_depth(bytes, MAX_DEPTH)?;
    } else {
        check_xml_depth(bytes, MAX_DEPTH)?;
    }
    Ok(plist::from_bytes(bytes)?)
}

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

/// What `iTunesMetadata` says about an app.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ItunesMetadata {
    /// App Store numeric id (`itemId`).
    pub item_id: Option<u64>,
    pub item_name: Option<String>,
    pub artist_name: Option<String>,
    pub short_version: Option<String>,
    pub bundle_version: Option<String>,
    /// `softwareVersionBundleId` (may be missing, mvt-project/mvt#344).
    pub bundle_id: Option<String>,
    pub source_app: Option<String>,
    pub purchase_date: Option<String>,
    pub genre: Option<String>,
    /// Buyer Apple IDs: personal data.
    pub apple_ids: Vec<String>,
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

fn dictionary(bytes: &[u8]) -> Result<Dictionary, PlistError> {
    dictionary_skipping(bytes, &[])
}

/// Binary plists go to the `plist` crate; XML ones first try the fast path, which leaves the
/// `<data>` under `skip_data_keys` undecoded, and fall back to the `plist` crate.
fn dictionary_skipping(bytes: &[u8], skip_data_keys: &[&str]) -> Result<Dictionary, PlistError> {
    let value = if bytes.starts_with(b"bplist") {
        None
    } else {
        super::xmlfast::parse(bytes, skip_data_keys)
    };
    let value = match value {
        Some(v) => v,
        None => parse_value(bytes)?,
    };
    value.into_dictionary().ok_or(PlistError::NotDictionary)
}

/// `Info.plist` data the scanner never reads (app icons, DRM blobs): not decoded.
pub const INFO_SKIPPED_DATA: [&str; 2] = ["PlaceholderIcon", "ApplicationSINF"];

/// A value as text: strings as they are, integers and reals in decimal, dates in ISO 8601.
fn text(value: Option<&Value>) -> Option<String> {
    let s = match value? {
        Value::String(s) => s.clone(),
        Value::Integer(i) => i.to_string(),
        Value::Real(r) => r.to_string(),
        Value::Date(d) => d.to_xml_format(),
        Value::Boolean(b) => b.to_string(),
        _ => return None,
    };
    let trimmed = s.trim();
    if trimmed.is_empty() {
        None
    } else {
        Some(trimmed.to_string())
    }
}

fn first_text(dict: &Dictionary, keys: &[&str]) -> Option<String> {
    keys.iter().find_map(|k| text(dict.get(k)))
}

fn unsigned(value: Option<&Value>) -> Option<u64> {
    match value? {
        Value::Integer(i) => i.as_unsigned(),
        Value::String(s) => s.trim().parse().ok(),
        Value::Real(r) if r.is_finite() && *r >= 0.0 && r.fract() == 0.0 && *r < 1.8e19 => {
            format!("{r:.0}").parse().ok()
        }
        _ => None,
    }
}

fn boolean(value: Option<&Value>) -> Option<bool> {
    match value? {
        Value::Boolean(b) => Some(*b),
        Value::Integer(i) => i.as_signed().map(|v| v != 0),
        Value::String(s) => match s.trim().to_ascii_lowercase().as_str() {
            "true" | "yes" | "1" => Some(true),
            "false" | "no" | "0" => Some(false),
            _ => None,
        },
        _ => None,
    }
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

/// Reads an `iTunesMetadata` blob (a plist inside a data value of `Info.plist`).
pub fn parse_itunes_metadata(bytes: &[u8]) -> Result<ItunesMetadata, PlistError> {
    let dict = dictionary(bytes)?;
    let download_info = dict
        .get("com.apple.iTunesStore.downloadInfo")
        .and_then(Value::as_dictionary);
    let account_info = download_info
        .and_then(|d| d.get("accountInfo"))
        .and_then(Value::as_dictionary);
    let mut apple_ids: Vec<String> = Vec::new();
    if let Some(account) = account_info {
        apple_ids.extend(first_text(account, &["AppleID"]));
    }
    apple_ids.extend(first_text(&dict, &["appleId", "AppleID"]));
    apple_ids.sort();
    apple_ids.dedup();
    let purchase_date = first_text(&dict, &["purchaseDate"])
        .or_else(|| download_info.and_then(|d| first_text(d, &["purchaseDate"])));
    Ok(ItunesMetadata {
        item_id: unsigned(dict.get("itemId")).or_else(|| unsigned(dict.get("adamId"))),
        item_name: first_text(&dict, &["itemName", "title"]),
        artist_name: first_text(&dict, &["artistName", "playlistArtistName"]),
        short_version: first_text(&dict, &["bundleShortVersionString"]),
        bundle_version: first_text(&dict, &["bundleVersion"]),
        bundle_id: first_text(&dict, &["softwareVersionBundleId"]),
        source_app: first_text(&dict, &["sourceApp"]),
        purchase_date,
        genre: first_text(&dict, &["genre"]),
        apple_ids,
    })
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
    use proptest::prelude::*;

    fn binary(v: Value) -> Vec<u8> {
        let mut out = Vec::new();
        v.to_writer_binary(&mut out).unwrap();
        out
    }
    fn xml(v: Value) -> Vec<u8> {
        let mut out = Vec::new();
        v.to_writer_xml(&mut out).unwrap();
        out
    }
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

    #[test]
    fn deep_nesting_is_an_error_not_a_crash() {
        let n = 200_000;
        let xml = format!(
            "<plist>{}{}</plist>",
            "<array>".repeat(n),
            "</array>".repeat(n)
        );
        assert!(matches!(
            parse_value(xml.as_bytes()),
            Err(PlistError::TooDeep)
        ));
        assert!(parse_info_plist(xml.as_bytes()).is_err());
        // Binary: n arrays, each holding a reference to the next.
        let mut bin = b"bplist00".to_vec();
        let mut offsets = Vec::new();
        for i in 0..n {
            offsets.push(bin.len() as u32);
            if i + 1 < n {
                bin.push(0xA1);
                bin.extend_from_slice(&(i as u32 + 1).to_be_bytes());
            } else {
                bin.push(0xA0);
            }
        }
        let table = bin.len() as u64;
        for o in offsets {
            bin.extend_from_slice(&o.to_be_bytes());
        }
        bin.extend_from_slice(&[0, 0, 0, 0, 0, 0, 4, 4]);
        bin.extend_from_slice(&(n as u64).to_be_bytes());
        bin.extend_from_slice(&0u64.to_be_bytes());
        bin.extend_from_slice(&table.to_be_bytes());
        assert!(matches!(parse_value(&bin), Err(PlistError::TooDeep)));
        assert!(parse_manifest_plist(&bin).is_err());
    }

    fn arb_value() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            any::<bool>().prop_map(Value::Boolean),
            any::<i64>().prop_map(|i| Value::Integer(i.into())),
            "[ -~]{0,12}".prop_map(Value::String),
            proptest::collection::vec(any::<u8>(), 0..20).prop_map(Value::Data),
        ];
        leaf.prop_recursive(4, 30, 5, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
                proptest::collection::vec(("[a-z]{0,6}", inner), 0..5)
                    .prop_map(|kv| Value::Dictionary(kv.into_iter().collect())),
            ]
        })
    }

    proptest! {
        #[test]
        fn parse_value_matches_the_plist_crate(v in arb_value()) {
            for bytes in [xml(v.clone()), binary(v.clone())] {
                let expected: Value = plist::from_bytes(&bytes).unwrap();
                prop_assert_eq!(parse_value(&bytes).unwrap(), expected);
            }
        }

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
