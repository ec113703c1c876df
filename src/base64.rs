//! Base64 decoding, the one decoder of the crate: a plist's `<data>` and what a phone's
//! `base64` prints both come through here.
//!
//! Standard alphabet (`+`, `/`); `=` padding optional; ASCII whitespace (space, tab, line feed,
//! carriage return, form feed) ignored anywhere, so wrapped output decodes as unwrapped. Anything
//! else, a letter after padding, more than two `=`, or a lone trailing sextet is refused (`None`).

/// Sextet values of the alphabet; `WS` for ASCII whitespace, `PAD` for `=`, `BAD` else.
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

/// Decodes `raw` (see the module documentation for what is accepted).
pub fn decode(raw: impl AsRef<[u8]>) -> Option<Vec<u8>> {
    let raw = raw.as_ref();
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

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// A plain encoder, to check the decoder against.
    fn encode(data: &[u8]) -> String {
        const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        let mut s = String::new();
        for chunk in data.chunks(3) {
            let b = [
                chunk[0],
                chunk.get(1).copied().unwrap_or(0),
                chunk.get(2).copied().unwrap_or(0),
            ];
            let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
            for i in 0..4 {
                if i <= chunk.len() {
                    s.push(A[((n >> (18 - 6 * i)) & 63) as usize] as char);
                } else {
                    s.push('=');
                }
            }
        }
        s
    }

    #[test]
    fn vectors() {
        assert_eq!(decode(b"").unwrap(), b"");
        assert_eq!(decode(b"Zg==").unwrap(), b"f");
        assert_eq!(decode(b"Zm8=").unwrap(), b"fo");
        assert_eq!(decode(b"Zm8").unwrap(), b"fo");
        assert_eq!(decode(b"Zm9v\n\tYmFy").unwrap(), b"foobar");
        assert_eq!(decode("QUI=\n").unwrap(), b"AB");
        assert_eq!(decode(b"Zm9=v"), None);
        assert_eq!(decode(b"Z"), None);
        assert_eq!(decode(b"Zm9v!"), None);
        assert_eq!(decode(b"Q!=="), None);
        assert_eq!(decode(b"QQ==="), None);
    }

    proptest! {
        #[test]
        fn decodes_what_it_encodes(data in proptest::collection::vec(any::<u8>(), 0..300), wrap in 1usize..80) {
            let enc = encode(&data);
            prop_assert_eq!(decode(&enc).unwrap(), data.clone());
            let wrapped: String = enc
                .as_bytes()
                .chunks(wrap)
                .map(|c| format!("{}\n", String::from_utf8_lossy(c)))
                .collect();
            prop_assert_eq!(decode(&wrapped).unwrap(), data);
        }

        #[test]
        fn never_panics(raw in proptest::collection::vec(any::<u8>(), 0..300)) {
            let _ = decode(&raw);
        }
    }
}
