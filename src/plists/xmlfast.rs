//! A fast path for XML plists such as a backup's `Info.plist`: megabytes of base64 `<data>`
//! (app icons, `ApplicationSINF`) around a few kilobytes the scanner needs.
//!
//! [`parse`] builds the same [`plist::Value`] as the `plist` crate for the plain XML plists
//! Apple's tools write, except that `<data>` under the keys named in `skip_data_keys` is not
//! decoded (it becomes empty data). Whenever the input holds anything it does not handle
//! (CDATA, a DOCTYPE with an internal subset, unknown elements, bad base64, ...) it returns
//! `None` and the caller parses with the `plist` crate, which gives the real answer or error.
//! Skipping a blob needs only a scan for the next `<`, done eight bytes at a time.

use plist::{Date, Dictionary, Integer, Value};

struct Reader<'a> {
    b: &'a [u8],
    pos: usize,
    skip: &'a [&'a str],
}

/// Index of the next `<` at or after `from`.
fn find_lt(b: &[u8], from: usize) -> Option<usize> {
    memchr::memchr(b'<', b.get(from..)?).and_then(|p| from.checked_add(p))
}

fn find(b: &[u8], from: usize, needle: &[u8]) -> Option<usize> {
    memchr::memmem::find(b.get(from..)?, needle).and_then(|p| from.checked_add(p))
}

impl<'a> Reader<'a> {
    fn rest(&self) -> &'a [u8] {
        self.b.get(self.pos..).unwrap_or(&[])
    }

    fn skip_ws_and_comments(&mut self) -> Option<()> {
        loop {
            while self.rest().first().is_some_and(|c| c.is_ascii_whitespace()) {
                self.pos += 1;
            }
            if self.rest().starts_with(b"<!--") {
                self.pos = find(self.b, self.pos + 4, b"-->")? + 3;
            } else {
                return Some(());
            }
        }
    }

    /// Reads `<name attrs>` or `<name/>`: returns the name and whether it was self-closing.
    fn open_tag(&mut self) -> Option<(&'a [u8], bool)> {
        self.skip_ws_and_comments()?;
        if self.rest().first() != Some(&b'<') {
            return None;
        }
        let start = self.pos + 1;
        let end = start + self.b.get(start..)?.iter().position(|&c| c == b'>')?;
        let inner = self.b.get(start..end)?;
        self.pos = end + 1;
        let (inner, self_closing) = match inner.strip_suffix(b"/") {
            Some(i) => (i, true),
            None => (inner, false),
        };
        let name_len = inner
            .iter()
            .position(|c| c.is_ascii_whitespace())
            .unwrap_or(inner.len());
        let name = inner.get(..name_len)?;
        if name.is_empty() || !name.iter().all(|c| c.is_ascii_alphanumeric()) {
            return None;
        }
        Some((name, self_closing))
    }

    /// Text up to `</name>`, raw (not unescaped); moves past the closing tag.
    fn text(&mut self, name: &[u8]) -> Option<&'a [u8]> {
        let lt = find_lt(self.b, self.pos)?;
        let text = self.b.get(self.pos..lt)?;
        let after = self.b.get(lt + 2..)?;
        if self.b.get(lt + 1) != Some(&b'/')
            || !after.starts_with(name)
            || after.get(name.len()) != Some(&b'>')
        {
            return None;
        }
        self.pos = lt + 2 + name.len() + 1;
        Some(text)
    }

    fn closes(&mut self, name: &[u8]) -> Option<bool> {
        self.skip_ws_and_comments()?;
        let rest = self.rest();
        if rest.starts_with(b"</")
            && rest.get(2..)?.starts_with(name)
            && rest.get(2 + name.len()) == Some(&b'>')
        {
            self.pos += 3 + name.len();
            return Some(true);
        }
        Some(false)
    }

    fn value(&mut self, key: Option<&str>, depth: usize) -> Option<Value> {
        if depth > 64 {
            return None;
        }
        let (name, empty) = self.open_tag()?;
        Some(match name {
            b"dict" => {
                let mut dict = Dictionary::new();
                if !empty {
                    while !self.closes(b"dict")? {
                        let (tag, key_empty) = self.open_tag()?;
                        if tag != b"key" {
                            return None;
                        }
                        let k = if key_empty {
                            String::new()
                        } else {
                            unescape(self.text(b"key")?)?
                        };
                        let v = self.value(Some(&k), depth + 1)?;
                        dict.insert(k, v);
                    }
                }
                Value::Dictionary(dict)
            }
            b"array" => {
                let mut items = Vec::new();
                if !empty {
                    while !self.closes(b"array")? {
                        items.push(self.value(None, depth + 1)?);
                    }
                }
                Value::Array(items)
            }
            b"true" | b"false" => {
                if !empty && !self.text(name)?.iter().all(u8::is_ascii_whitespace) {
                    return None;
                }
                Value::Boolean(name == b"true")
            }
            b"string" => Value::String(if empty {
                String::new()
            } else {
                unescape(self.text(name)?)?
            }),
            b"data" => {
                let raw = if empty { &[][..] } else { self.text(name)? };
                if key.is_some_and(|k| self.skip.contains(&k)) {
                    Value::Data(Vec::new())
                } else {
                    Value::Data(base64_decode(raw)?)
                }
            }
            b"integer" => {
                let s = unescape(if empty { &[][..] } else { self.text(name)? })?;
                let s = s.trim();
                if let Ok(v) = s.parse::<i64>() {
                    Value::Integer(Integer::from(v))
                } else {
                    Value::Integer(Integer::from(s.parse::<u64>().ok()?))
                }
            }
            b"real" => Value::Real(
                unescape(if empty { &[][..] } else { self.text(name)? })?
                    .trim()
                    .parse()
                    .ok()?,
            ),
            b"date" => Value::Date(
                Date::from_xml_format(
                    unescape(if empty { &[][..] } else { self.text(name)? })?.trim(),
                )
                .ok()?,
            ),
            _ => return None,
        })
    }
}

/// Resolves the five XML entities and numeric character references.
fn unescape(raw: &[u8]) -> Option<String> {
    let s = std::str::from_utf8(raw).ok()?;
    if s.contains("<![CDATA[") {
        return None;
    }
    if !s.contains('&') {
        return Some(s.to_string());
    }
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(amp) = rest.find('&') {
        out.push_str(rest.get(..amp)?);
        let after = rest.get(amp + 1..)?;
        let semi = after.find(';')?;
        let entity = after.get(..semi)?;
        let ch = match entity {
            "amp" => '&',
            "lt" => '<',
            "gt" => '>',
            "quot" => '"',
            "apos" => '\'',
            e => {
                let code = if let Some(hex) = e.strip_prefix("#x").or_else(|| e.strip_prefix("#X"))
                {
                    u32::from_str_radix(hex, 16).ok()?
                } else {
                    e.strip_prefix('#')?.parse::<u32>().ok()?
                };
                char::from_u32(code)?
            }
        };
        out.push(ch);
        rest = after.get(semi + 1..)?;
    }
    out.push_str(rest);
    Some(out)
}

/// Sextet values of the base64 alphabet; `WS` for ASCII whitespace, `PAD` for `=`, `BAD` else.
const WS: u8 = 0xFE;
const PAD: u8 = 0xFD;
const BAD: u8 = 0xFF;
// Evaluated at compile time: an index out of range is a build error, never a runtime panic.
#[allow(clippy::indexing_slicing)]
const DECODE: [u8; 256] = {
    let mut t = [BAD; 256];
    let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut i = 0;
    while i < 64 {
        t[alphabet[i] as usize] = i as u8;
        i += 1;
    }
    t[b' ' as usize] = WS;
    t[b'\t' as usize] = WS;
    t[b'\n' as usize] = WS;
    t[b'\r' as usize] = WS;
    t[0x0C] = WS;
    t[b'=' as usize] = PAD;
    t
};

/// Standard base64 with padding; ASCII whitespace ignored. `None` on anything else.
pub fn base64_decode(raw: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(raw.len() / 4 * 3 + 3);
    let mut acc = 0u32;
    let mut n = 0u8;
    let mut pad = 0u8;
    for &c in raw {
        let v = DECODE.get(usize::from(c)).copied().unwrap_or(BAD);
        if v < 64 {
            if pad > 0 {
                return None;
            }
            acc = (acc << 6) | u32::from(v);
            n += 1;
            if n == 4 {
                out.extend_from_slice(&[(acc >> 16) as u8, (acc >> 8) as u8, acc as u8]);
                acc = 0;
                n = 0;
            }
        } else if v == PAD {
            pad += 1;
            if pad > 2 {
                return None;
            }
        } else if v != WS {
            return None;
        }
    }
    match (n, pad) {
        (0, 0) => {}
        (2, 2) | (2, 0) => out.push((acc >> 4) as u8),
        (3, 1) | (3, 0) => out.extend_from_slice(&[(acc >> 10) as u8, (acc >> 2) as u8]),
        _ => return None,
    }
    Some(out)
}

/// Parses an XML plist, leaving `<data>` under the keys in `skip_data_keys` undecoded (empty).
/// `None`: not handled here, parse with the `plist` crate.
pub fn parse(bytes: &[u8], skip_data_keys: &[&str]) -> Option<Value> {
    let mut r = Reader {
        b: bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes),
        pos: 0,
        skip: skip_data_keys,
    };
    loop {
        r.skip_ws_and_comments()?;
        let rest = r.rest();
        if rest.starts_with(b"<?") {
            r.pos = find(r.b, r.pos, b"?>")? + 2;
        } else if rest.starts_with(b"<!DOCTYPE") {
            let end = r.pos + rest.iter().position(|&c| c == b'>')?;
            if r.b.get(r.pos..end)?.contains(&b'[') {
                return None;
            }
            r.pos = end + 1;
        } else {
            break;
        }
    }
    let (name, empty) = r.open_tag()?;
    if name != b"plist" || empty {
        return None;
    }
    let value = r.value(None, 0)?;
    if !r.closes(b"plist")? {
        return None;
    }
    r.skip_ws_and_comments()?;
    r.rest().is_empty().then_some(value)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn xml(v: &Value) -> Vec<u8> {
        let mut out = Vec::new();
        v.to_writer_xml(&mut out).unwrap();
        out
    }

    fn arb_value() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            any::<bool>().prop_map(Value::Boolean),
            any::<i64>().prop_map(|i| Value::Integer(i.into())),
            any::<u64>().prop_map(|i| Value::Integer(i.into())),
            "[ -~&<>\"'éü\\t\\n]{0,20}".prop_map(Value::String),
            proptest::collection::vec(any::<u8>(), 0..40).prop_map(Value::Data),
            (-1e6f64..1e6).prop_map(Value::Real),
            (0u64..4_000_000_000).prop_map(|s| Value::Date(
                (std::time::UNIX_EPOCH + std::time::Duration::from_secs(s)).into()
            )),
        ];
        leaf.prop_recursive(4, 40, 6, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
                proptest::collection::vec(("[a-zA-Z &<]{0,8}", inner), 0..6)
                    .prop_map(|kv| Value::Dictionary(kv.into_iter().collect())),
            ]
        })
    }

    #[test]
    fn base64_vectors() {
        assert_eq!(base64_decode(b"").unwrap(), b"");
        assert_eq!(base64_decode(b"Zg==").unwrap(), b"f");
        assert_eq!(base64_decode(b"Zm8=").unwrap(), b"fo");
        assert_eq!(base64_decode(b"Zm9v\n\tYmFy").unwrap(), b"foobar");
        assert_eq!(base64_decode(b"Zm9=v"), None);
        assert_eq!(base64_decode(b"Z"), None);
        assert_eq!(base64_decode(b"Zm9v!"), None);
    }

    #[test]
    fn skips_only_the_named_data_keys() {
        let mut d = Dictionary::new();
        d.insert("PlaceholderIcon".into(), Value::Data(vec![1; 5000]));
        d.insert("iTunesMetadata".into(), Value::Data(vec![2; 10]));
        let parsed = parse(&xml(&Value::Dictionary(d)), &["PlaceholderIcon"]).unwrap();
        let parsed = parsed.as_dictionary().unwrap();
        assert_eq!(
            parsed.get("PlaceholderIcon").unwrap().as_data().unwrap(),
            b""
        );
        assert_eq!(
            parsed.get("iTunesMetadata").unwrap().as_data().unwrap(),
            &[2; 10]
        );
    }

    #[test]
    fn falls_back_on_what_it_does_not_handle() {
        assert!(parse(b"<plist><string><![CDATA[x]]></string></plist>", &[]).is_none());
        assert!(parse(
            b"<!DOCTYPE plist [<!ENTITY e \"x\">]><plist><string>&e;</string></plist>",
            &[]
        )
        .is_none());
        assert!(parse(b"<plist><weird/></plist>", &[]).is_none());
        assert_eq!(
            parse(b"<?xml version=\"1.0\"?>\n<!-- c --><plist version=\"1.0\"><dict><key>a</key><true/></dict></plist>\n", &[]),
            Some(Value::Dictionary([("a".to_string(), Value::Boolean(true))].into_iter().collect()))
        );
    }

    proptest! {
        #[test]
        fn same_tree_as_the_plist_crate(v in arb_value()) {
            let bytes = xml(&v);
            let expected: Value = plist::from_bytes(&bytes).unwrap();
            prop_assert_eq!(parse(&bytes, &[]), Some(expected));
        }

        #[test]
        fn never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
            let _ = parse(&bytes, &["x"]);
        }

        #[test]
        fn never_panics_on_mutations(v in arb_value(), pos in 0usize..2000, byte in any::<u8>(), cut in 0usize..2000) {
            let mut bytes = xml(&v);
            if let Some(b) = bytes.get_mut(pos) { *b = byte; }
            bytes.truncate(cut);
            if let Some(mine) = parse(&bytes, &[]) {
                // When the fast path accepts mutated input, the plist crate must agree.
                if let Ok(theirs) = plist::from_bytes::<Value>(&bytes) {
                    prop_assert_eq!(mine, theirs);
                }
            }
        }
    }
}
