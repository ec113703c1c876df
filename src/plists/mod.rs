//! Every plist appsweep reads (an IPA's `Info.plist` and `iTunesMetadata.plist`, a backup's
//! `Info.plist`, `Manifest.plist` and `Status.plist`, the `iTunesMetadata` blob inside them) goes
//! through this one reader, with the same limits:
//! - nesting at most [`MAX_DEPTH`] levels (the `plist` crate's builder recurses once per level: a
//!   few hundred bytes nesting 20,000 levels would overflow the stack);
//! - at most [`MAX_NODES`] values and [`MAX_EXPANDED_BYTES`] of strings and data once expanded:
//!   a binary plist's objects may reference the same children many times, so ~400 bytes can
//!   stand for 2^40 values, and a few kilobytes for terabytes of copies of one string; the object
//!   graph is walked (each object once, sizes memoised) before anything is built. An XML plist
//!   cannot share, but its values are counted the same way, by the fast path too.
//!
//! Pure functions over bytes. Values come from a device or a file: every key may be missing or
//! have the wrong type, and that is tolerated (the field stays `None`); only bytes that are not a
//! plist, exceed a limit, or whose top level is not a dictionary are errors.
//!
//! The parts: `budget` (the depth and expansion limits, checked before anything is built),
//! [`xmlfast`] (the fast path for large XML plists); this module the entry points, the value
//! helpers the readers share and the `iTunesMetadata` reader.

mod budget;
pub mod xmlfast;

use plist::{Dictionary, Value};

#[derive(Debug, thiserror::Error)]
pub enum PlistError {
    #[error("not a readable plist: {0}")]
    Parse(#[from] plist::Error),
    #[error("the top level is not a dictionary")]
    NotDictionary,
    #[error("plist nested deeper than {MAX_DEPTH} levels")]
    TooDeep,
    #[error("plist expands to more than {MAX_NODES} values (objects shared over and over)")]
    TooManyNodes,
    #[error(
        "plist expands to more than {MAX_EXPANDED_BYTES} bytes of strings and data (objects shared over and over)"
    )]
    TooManyBytes,
    #[error("malformed plist: {0}")]
    Malformed(&'static str),
}

/// Deepest nesting accepted. Backup plists nest a handful of levels; a hostile file nesting
/// hundreds of thousands would otherwise exhaust the stack of a recursive builder.
pub const MAX_DEPTH: usize = 128;

/// Most values a binary plist may expand to. A backup `Info.plist` with hundreds of apps holds
/// tens of thousands; a hostile one sharing objects could stand for 2^40.
pub const MAX_NODES: u64 = 4_000_000;

/// Most bytes of strings and data a plist may expand to (a real `Info.plist` holds a few
/// megabytes of icons).
pub const MAX_EXPANDED_BYTES: u64 = 256 << 20;

/// Parses a plist with the `plist` crate once its nesting and expanded size are known to be
/// bounded (its builder recurses once per level and copies shared objects).
pub fn parse_value(bytes: &[u8]) -> Result<Value, PlistError> {
    if bytes.starts_with(b"bplist") {
        budget::check_binary(bytes, MAX_DEPTH, MAX_NODES, MAX_EXPANDED_BYTES)?;
    } else {
        budget::check_xml(bytes, MAX_DEPTH, MAX_NODES)?;
    }
    Ok(plist::from_bytes(bytes)?)
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

pub(crate) fn dictionary(bytes: &[u8]) -> Result<Dictionary, PlistError> {
    dictionary_skipping(bytes, &[])
}

/// Binary plists go to the `plist` crate; XML ones first try the fast path, which leaves the
/// `<data>` under `skip_data_keys` undecoded, and fall back to the `plist` crate.
pub(crate) fn dictionary_skipping(
    bytes: &[u8],
    skip_data_keys: &[&str],
) -> Result<Dictionary, PlistError> {
    let value = if bytes.starts_with(b"bplist") {
        None
    } else {
        xmlfast::parse(bytes, skip_data_keys)
    };
    let value = match value {
        Some(v) => v,
        None => parse_value(bytes)?,
    };
    value.into_dictionary().ok_or(PlistError::NotDictionary)
}

/// A value as text: strings as they are, integers and reals in decimal, dates in ISO 8601.
pub(crate) fn text(value: Option<&Value>) -> Option<String> {
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

pub(crate) fn first_text(dict: &Dictionary, keys: &[&str]) -> Option<String> {
    keys.iter().find_map(|k| text(dict.get(k)))
}

pub(crate) fn unsigned(value: Option<&Value>) -> Option<u64> {
    match value? {
        Value::Integer(i) => i.as_unsigned(),
        Value::String(s) => s.trim().parse().ok(),
        Value::Real(r) if r.is_finite() && *r >= 0.0 && r.fract() == 0.0 && *r < 1.8e19 => {
            format!("{r:.0}").parse().ok()
        }
        _ => None,
    }
}

pub(crate) fn boolean(value: Option<&Value>) -> Option<bool> {
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

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use proptest::prelude::*;

    /// `v` as an XML plist, as the `plist` crate writes it.
    pub(crate) fn xml(v: Value) -> Vec<u8> {
        let mut out = Vec::new();
        v.to_writer_xml(&mut out).unwrap();
        out
    }

    /// `v` as a binary plist, as the `plist` crate writes it.
    pub(crate) fn binary(v: Value) -> Vec<u8> {
        let mut out = Vec::new();
        v.to_writer_binary(&mut out).unwrap();
        out
    }

    // Binary plists nested deep or sharing objects over and over are written object by object in
    // the integration tests (`hostile::plists`), beside the same bombs inside IPAs and backups.

    #[test]
    fn deep_xml_nesting_is_an_error_not_a_crash() {
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
    }

    #[test]
    fn xml_values_are_counted_by_both_paths() {
        let n = MAX_NODES as usize + 10;
        let doc = format!("<plist><array>{}</array></plist>", "<true/>".repeat(n));
        assert!(matches!(
            parse_value(doc.as_bytes()),
            Err(PlistError::TooManyNodes)
        ));
        assert!(xmlfast::parse(doc.as_bytes(), &[]).is_none());
        assert!(matches!(
            dictionary(doc.as_bytes()),
            Err(PlistError::TooManyNodes)
        ));
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
            let _ = parse_value(&bytes);
            let _ = parse_itunes_metadata(&bytes);
        }
    }
}
