//! Batched shell commands: many read-only commands ("parts") in one shell service, each framed
//! by markers carrying its exit status, the whole ended by a final marker.
//!
//! `echo TAG B0; PART0; echo TAG R0=$?; echo TAG B1; PART1; echo TAG R1=$?; ...; echo TAG END`
//! (without the spaces). The tag holds a per-run nonce, so output from the phone cannot forge a
//! marker. A missing end marker means the output was cut (a phone unplugged mid-command, which
//! the adb client reports as success): the parts read so far are kept, the rest is an error.
//! Parts are packed into as few commands as fit under [`MAX_COMMAND`]; the number of round trips
//! depends on the total command length, not on the number of packages.

use std::time::Duration;

use super::transport::{Device, TransportError, MAX_COMMAND};

/// The marker prefix for this process: `__APPSWEEP_<nonce>_`.
pub fn make_tag() -> String {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0),
    );
    h.write_u32(std::process::id());
    format!("__APPSWEEP_{:016x}_", h.finish())
}

/// Quotes a path for the device shell (single quotes). Paths with a quote or a control
/// character are refused: no Android APK path has them, and refusing is safer than escaping.
pub fn quote(path: &str) -> Option<String> {
    (!path.is_empty() && !path.chars().any(|c| c == '\'' || c.is_control()))
        .then(|| format!("'{path}'"))
}

/// Why a batch did not complete.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error(transparent)]
    Transport(#[from] TransportError),
    #[error("device {serial}: {source}{stderr}")]
    Cut {
        serial: String,
        #[source]
        source: BatchError,
        /// The end of what the device printed on stderr, prefixed by `; stderr: `, or empty.
        stderr: String,
    },
}

/// Runs `parts` in as few shell commands as fit, in order. On failure, returns the outputs of
/// the parts that completed (a prefix of `parts`) with the error.
pub fn run_parts(
    dev: &mut Device,
    tag: &str,
    parts: &[String],
    timeout: Duration,
) -> Result<Vec<PartOutput>, (Vec<PartOutput>, RunError)> {
    let mut outputs: Vec<PartOutput> = Vec::with_capacity(parts.len());
    let end = format!("echo {tag}END");
    let mut i = 0usize;
    while i < parts.len() {
        let mut cmd = String::new();
        let mut n = 0usize;
        while let Some(part) = parts.get(i + n) {
            let piece = format!("echo {tag}B{n}; {part}; echo {tag}R{n}=$?; ");
            if n > 0 && cmd.len() + piece.len() + end.len() > MAX_COMMAND {
                break;
            }
            cmd.push_str(&piece);
            n += 1;
        }
        cmd.push_str(&end);
        let out = match dev.shell(&cmd, timeout) {
            Ok(o) => o,
            Err(e) => return Err((outputs, e.into())),
        };
        let text = String::from_utf8_lossy(&out.stdout);
        let (got, err) = split_batch(&text, tag, n);
        outputs.extend(got);
        if let Some(source) = err {
            return Err((
                outputs,
                RunError::Cut {
                    serial: dev.serial.clone(),
                    source,
                    stderr: stderr_tail(&out.stderr),
                },
            ));
        }
        i += n;
    }
    Ok(outputs)
}

fn stderr_tail(stderr: &[u8]) -> String {
    let text = String::from_utf8_lossy(stderr);
    let text = text.trim();
    if text.is_empty() {
        return String::new();
    }
    let tail: String = text
        .chars()
        .rev()
        .take(200)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    format!("; stderr: {tail}")
}
/// The output of one part of a batched command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartOutput {
    pub text: String,
    /// Exit status of the part (`$?` after it).
    pub rc: Option<i32>,
}

/// Why batched output could not be split.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BatchError {
    #[error("output ended before part {part} of {parts} (truncated: the device dropped or the command was cut)")]
    Truncated { part: usize, parts: usize },
}

/// Splits the output of a command built by [`run_parts`]: each part is framed by
/// `<tag>B<i>\n` ... `<tag>R<i>=<rc>\n`, the whole ends with `<tag>END`. The begin marker is at a
/// line start; the exit marker may follow output without a newline (`base64 -w 0`). Parts that
/// completed before a truncation are returned together with the error position, so a caller
/// keeps what was read.
pub fn split_batch(out: &str, tag: &str, parts: usize) -> (Vec<PartOutput>, Option<BatchError>) {
    let mut result = Vec::with_capacity(parts.min(100_000));
    let mut pos = 0usize;
    for i in 0..parts {
        let begin = format!("{tag}B{i}\n");
        let end = format!("{tag}R{i}=");
        let Some(b) = out.get(pos..).and_then(|s| s.find(&begin)) else {
            return (result, Some(BatchError::Truncated { part: i, parts }));
        };
        let start = pos + b + begin.len();
        let Some(e) = out.get(start..).and_then(|s| s.find(&end)) else {
            return (result, Some(BatchError::Truncated { part: i, parts }));
        };
        let text_end = start + e;
        let rc_start = text_end + end.len();
        let rest = out.get(rc_start..).unwrap_or("");
        let rc_len = rest.find('\n').unwrap_or(rest.len());
        let rc = rest
            .get(..rc_len)
            .and_then(|s| s.trim().parse::<i32>().ok());
        if rc.is_none() {
            // An exit marker without its newline or number: the stream was cut here.
            return (result, Some(BatchError::Truncated { part: i, parts }));
        }
        result.push(PartOutput {
            text: out.get(start..text_end).unwrap_or("").to_string(),
            rc,
        });
        pos = rc_start + rc_len;
    }
    let done = format!("{tag}END");
    if out.get(pos..).is_some_and(|s| s.contains(&done)) {
        (result, None)
    } else {
        (result, Some(BatchError::Truncated { part: parts, parts }))
    }
}

/// Decodes base64 (standard alphabet, padding optional, whitespace ignored). `None` on any
/// other character.
pub fn decode_base64(text: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(text.len() / 4 * 3 + 3);
    let mut acc: u32 = 0;
    let mut bits = 0u32;
    let mut ended = false;
    for b in text.bytes() {
        let v = match b {
            b'A'..=b'Z' => b - b'A',
            b'a'..=b'z' => b - b'a' + 26,
            b'0'..=b'9' => b - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            b'=' => {
                ended = true;
                continue;
            }
            b' ' | b'\n' | b'\r' | b'\t' => continue,
            _ => return None,
        };
        if ended {
            return None;
        }
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push(((acc >> bits) & 0xff) as u8);
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batch_split_and_truncation() {
        let tag = "__T_";
        let out = "__T_B0\nhello\n__T_R0=0\n__T_B1\nQUJD__T_R1=1\n__T_END\n";
        let (parts, err) = split_batch(out, tag, 2);
        assert_eq!(err, None);
        assert_eq!(parts[0].text, "hello\n");
        assert_eq!(parts[1].text, "QUJD");
        assert_eq!(parts[1].rc, Some(1));
        let (parts, err) = split_batch(&out[..30], tag, 2);
        assert_eq!(parts.len(), 1);
        assert!(err.is_some());
        let (_, err) = split_batch(out.trim_end_matches("__T_END\n"), tag, 2);
        assert!(err.is_some());
    }

    #[test]
    fn base64_roundtrip() {
        assert_eq!(decode_base64("QUJD").unwrap(), b"ABC");
        assert_eq!(decode_base64("QUI=\n").unwrap(), b"AB");
        assert_eq!(decode_base64("QQ==").unwrap(), b"A");
        assert!(decode_base64("Q!==").is_none());
    }

    proptest::proptest! {
        #[test]
        fn never_panics(s in "(?s).{0,400}") {
            let _ = split_batch(&s, "__T_", 3);
            let _ = decode_base64(&s);
        }

        #[test]
        fn base64_decodes_what_it_encodes(data in proptest::collection::vec(proptest::num::u8::ANY, 0..300)) {
            const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
            let mut enc = String::new();
            for c in data.chunks(3) {
                let b = [c[0], *c.get(1).unwrap_or(&0), *c.get(2).unwrap_or(&0)];
                let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
                for k in 0..4 {
                    if k <= c.len() {
                        enc.push(A[((n >> (18 - 6 * k)) & 63) as usize] as char);
                    } else {
                        enc.push('=');
                    }
                }
            }
            proptest::prop_assert_eq!(decode_base64(&enc).unwrap(), data);
        }
    }
}
