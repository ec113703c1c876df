//! Every plist appsweep reads (an IPA's `Info.plist` and `iTunesMetadata.plist`, a backup's
//! `Info.plist`, `Manifest.plist` and `Status.plist`, the `iTunesMetadata` blob inside them) goes
//! through this one reader, with the same limits:
//! - nesting at most [`MAX_DEPTH`] levels (the `plist` crate's builder recurses once per level: a
//!   few hundred bytes nesting 20,000 levels would overflow the stack);
//! - at most [`MAX_NODES`] values once expanded: a binary plist's objects may reference the same
//!   children many times, so ~400 bytes can stand for 2^40 values; the object graph is walked
//!   (each object once, sizes memoised) before anything is built.
//!
//! Pure functions over bytes. Values come from a device or a file: every key may be missing or
//! have the wrong type, and that is tolerated (the field stays `None`); only bytes that are not a
//! plist, exceed a limit, or whose top level is not a dictionary are errors.

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
    #[error("malformed plist: {0}")]
    Malformed(&'static str),
}

/// Deepest nesting accepted. Backup plists nest a handful of levels; a hostile file nesting
/// hundreds of thousands would otherwise exhaust the stack of a recursive builder.
pub const MAX_DEPTH: usize = 128;

/// Most values a binary plist may expand to. A backup `Info.plist` with hundreds of apps holds
/// tens of thousands; a hostile one sharing objects could stand for 2^40.
pub const MAX_NODES: u64 = 4_000_000;

fn uint(b: &[u8], at: usize, size: usize) -> Option<u64> {
    if size == 0 || size > 8 {
        return None;
    }
    let bytes = b.get(at..at.checked_add(size)?)?;
    Some(bytes.iter().fold(0u64, |acc, &x| (acc << 8) | u64::from(x)))
}

/// Checks that a binary plist nests at most `max` containers deep and expands to at most
/// `max_nodes` values, walking its object graph without recursion (each object once; heights
/// and expanded sizes memoised). Cycles and references out of range are errors.
fn check_binary(b: &[u8], max: usize, max_nodes: u64) -> Result<(), PlistError> {
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
    // Values an object expands to (itself and everything under it, shared children counted
    // each time they are referenced), saturating.
    let mut nodes = vec![1u64; count];
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
            let w = nodes.get(obj).copied().unwrap_or(1);
            if w > max_nodes {
                return Err(PlistError::TooManyNodes);
            }
            if let Some(parent) = stack.last() {
                if let Some(ph) = height.get_mut(parent.0) {
                    *ph = (*ph).max(h + 1);
                }
                if let Some(pw) = nodes.get_mut(parent.0) {
                    *pw = pw.saturating_add(w);
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
                let w = nodes.get(child).copied().unwrap_or(1);
                if let Some(pw) = nodes.get_mut(obj) {
                    *pw = pw.saturating_add(w);
                    if *pw > max_nodes {
                        return Err(PlistError::TooManyNodes);
                    }
                }
            }
            _ => match refs(child)? {
                None => {
                    if let Some(s) = state.get_mut(child) {
                        *s = 2;
                    }
                    if let Some(pw) = nodes.get_mut(obj) {
                        *pw = pw.saturating_add(1);
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

/// Parses a plist with the `plist` crate once its nesting and expanded size are known to be
/// bounded (its builder recurses once per level and copies shared objects).
pub fn parse_value(bytes: &[u8]) -> Result<Value, PlistError> {
    if bytes.starts_with(b"bplist") {
        check_binary(bytes, MAX_DEPTH, MAX_NODES)?;
    } else {
        check_xml_depth(bytes, MAX_DEPTH)?;
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
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn xml(v: Value) -> Vec<u8> {
        let mut out = Vec::new();
        v.to_writer_xml(&mut out).unwrap();
        out
    }
    fn binary(v: Value) -> Vec<u8> {
        let mut out = Vec::new();
        v.to_writer_binary(&mut out).unwrap();
        out
    }

    /// A binary plist of `objects` (each object's bytes), top object 0, 1-byte refs and
    /// 4-byte offsets.
    fn bplist(objects: &[Vec<u8>]) -> Vec<u8> {
        let mut bin = b"bplist00".to_vec();
        let mut offsets = Vec::new();
        for o in objects {
            offsets.push(bin.len() as u32);
            bin.extend_from_slice(o);
        }
        let table = bin.len() as u64;
        for o in offsets {
            bin.extend_from_slice(&o.to_be_bytes());
        }
        bin.extend_from_slice(&[0, 0, 0, 0, 0, 0, 4, 1]);
        bin.extend_from_slice(&(objects.len() as u64).to_be_bytes());
        bin.extend_from_slice(&0u64.to_be_bytes());
        bin.extend_from_slice(&table.to_be_bytes());
        bin
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
    }

    #[test]
    fn shared_objects_cannot_expand_without_bound() {
        // Object i is an array holding object i+1 twice: 41 objects, 2^40 values expanded.
        let n = 41u8;
        let mut objects: Vec<Vec<u8>> = (0..n - 1).map(|i| vec![0xA2, i + 1, i + 1]).collect();
        objects.push(vec![0x09]); // true
        let bomb = bplist(&objects);
        assert!(bomb.len() < 400, "{}", bomb.len());
        assert!(matches!(parse_value(&bomb), Err(PlistError::TooManyNodes)));
        // The same shape 20 levels deep (a million values) is within the budget and parses.
        let mut small: Vec<Vec<u8>> = (0..19u8).map(|i| vec![0xA2, i + 1, i + 1]).collect();
        small.push(vec![0x09]);
        assert!(parse_value(&bplist(&small)).is_ok());
        // Dictionaries share too: keys and values all pointing at one child.
        let mut dicts: Vec<Vec<u8>> = (0..n - 1).map(|i| vec![0xD2, n, n, i + 1, i + 1]).collect();
        dicts.push(vec![0x09]);
        dicts.push(vec![0x51, b'k']);
        assert!(matches!(
            parse_value(&bplist(&dicts)),
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
