//! Batched shell commands: many read-only commands ("parts") in one shell service, each framed
//! by markers carrying its exit status, the whole ended by a final marker.
//!
//! `echo TAG B0; PART0; echo TAG R0=$?; echo TAG B1; PART1; echo TAG R1=$?; ...; echo TAG END`
//! (without the spaces). The tag holds a per-run nonce, so output from the phone cannot forge a
//! marker, and output is split as bytes: a part may print binary data (a raw `dd`). A missing
//! end marker means the output was cut (a phone unplugged mid-command): the parts read so far
//! are kept, the rest is an error.
//!
//! Parts are packed into commands no longer than the device and the server accept
//! ([`Device::max_command`]), and spread over up to `spread` services that run at the same
//! time (a phone runs several commands at once). The number of round trips depends on the total
//! command length, not on the number of packages.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use super::host::HostError;
use super::transport::Device;

/// The marker prefix for this process: `__AS<nonce>_`.
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
    format!("__AS{:016x}_", h.finish())
}

/// Quotes a path for the device shell (single quotes). Paths with a quote or a control
/// character are refused: no Android APK path has them, and refusing is safer than escaping.
pub fn quote(path: &str) -> Option<String> {
    (!path.is_empty() && !path.chars().any(|c| c == '\'' || c.is_control()))
        .then(|| format!("'{path}'"))
}

/// The output of one part of a batched command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartOutput {
    pub data: Vec<u8>,
    /// Exit status of the part (`$?` after it).
    pub rc: Option<i32>,
}

impl PartOutput {
    pub fn new(data: Vec<u8>, rc: Option<i32>) -> Self {
        Self { data, rc }
    }

    /// The output as text (invalid UTF-8 replaced).
    pub fn text(&self) -> std::borrow::Cow<'_, str> {
        String::from_utf8_lossy(&self.data)
    }
}

/// Why batched output could not be split.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BatchError {
    #[error("output ended before part {part} of {parts} (truncated: the device dropped or the command was cut)")]
    Truncated { part: usize, parts: usize },
}

/// Why a batch did not complete.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error(transparent)]
    Transport(#[from] HostError),
    #[error("device {serial}: {source}{stderr}")]
    Cut {
        serial: String,
        #[source]
        source: BatchError,
        /// The end of what the device printed on stderr, prefixed by `; stderr: `, or empty.
        stderr: String,
    },
    #[error("device {serial}: one command part is {len} bytes, over the {limit}-byte request limit of this device and adb server (not sent)")]
    PartTooLong {
        serial: String,
        len: usize,
        limit: usize,
    },
}

fn piece(tag: &str, n: usize, part: &str) -> String {
    format!("echo {tag}B{n};{part};echo {tag}R{n}=$?;")
}

/// Groups `parts` into commands of at most `limit` bytes: `spread` groups of near-equal counts
/// (fewer when there are fewer parts), each cut further where it would pass the limit. Returns
/// the index ranges, or the first part that fits in no command.
fn plan(
    tag: &str,
    parts: &[String],
    limit: usize,
    spread: usize,
) -> Result<Vec<std::ops::Range<usize>>, (usize, usize)> {
    let end = format!("echo {tag}END").len();
    let groups = spread.clamp(1, parts.len().max(1));
    let (base, extra) = (parts.len() / groups, parts.len() % groups);
    let mut out = Vec::new();
    let mut at = 0usize;
    for g in 0..groups {
        let group_end = at + base + usize::from(g < extra);
        let mut start = at;
        let mut len = end;
        for i in at..group_end {
            let p = parts.get(i).map(String::as_str).unwrap_or_default();
            let l = piece(tag, i - start, p).len();
            if end + piece(tag, 0, p).len() > limit {
                return Err((i, l));
            }
            if i > start && len + l > limit {
                out.push(start..i);
                start = i;
                len = end;
            }
            len += piece(tag, i - start, p).len();
        }
        if start < group_end {
            out.push(start..group_end);
        }
        at = group_end;
    }
    Ok(out)
}

type BatchResult = Result<Vec<PartOutput>, (Vec<PartOutput>, RunError)>;

/// Runs `parts` in as few shell commands as fit (at least `spread` when there are enough parts),
/// up to `spread` at a time, and returns their outputs in order. On failure, returns the outputs
/// of the parts that completed before the first failed command (a prefix of `parts`) with the
/// error. Nothing is sent when a part alone is over the request limit.
pub fn run_parts(
    dev: &Device,
    tag: &str,
    parts: &[String],
    timeout: Duration,
    spread: usize,
) -> BatchResult {
    let limit = dev.max_command();
    let batches = plan(tag, parts, limit, spread).map_err(|(_, len)| {
        (
            Vec::new(),
            RunError::PartTooLong {
                serial: dev.serial.clone(),
                len,
                limit,
            },
        )
    })?;
    let run_one = |range: &std::ops::Range<usize>| -> BatchResult {
        let slice = parts.get(range.clone()).unwrap_or_default();
        let mut cmd = String::new();
        for (n, p) in slice.iter().enumerate() {
            cmd.push_str(&piece(tag, n, p));
        }
        cmd.push_str(&format!("echo {tag}END"));
        let out = dev
            .shell(&cmd, timeout)
            .map_err(|e| (Vec::new(), e.into()))?;
        let (got, err) = split_batch(&out.stdout, tag, slice.len());
        match err {
            None => Ok(got),
            Some(source) => Err((
                got,
                RunError::Cut {
                    serial: dev.serial.clone(),
                    source,
                    stderr: stderr_tail(&out.stderr),
                },
            )),
        }
    };
    let results: Vec<Mutex<Option<BatchResult>>> =
        batches.iter().map(|_| Mutex::new(None)).collect();
    let next = AtomicUsize::new(0);
    let workers = spread.clamp(1, batches.len().max(1));
    std::thread::scope(|s| {
        for _ in 0..workers {
            s.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::SeqCst);
                let Some(range) = batches.get(i) else { break };
                let r = run_one(range);
                if let Some(slot) = results.get(i) {
                    if let Ok(mut g) = slot.lock() {
                        *g = Some(r);
                    }
                }
            });
        }
    });
    let mut outputs = Vec::with_capacity(parts.len());
    for slot in results {
        let r = slot.into_inner().ok().flatten();
        match r {
            Some(Ok(o)) => outputs.extend(o),
            Some(Err((o, e))) => {
                outputs.extend(o);
                return Err((outputs, e));
            }
            None => {
                return Err((
                    outputs,
                    RunError::Cut {
                        serial: dev.serial.clone(),
                        source: BatchError::Truncated {
                            part: 0,
                            parts: parts.len(),
                        },
                        stderr: "; a worker stopped without an answer".to_string(),
                    },
                ))
            }
        }
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

fn find(hay: &[u8], from: usize, needle: &[u8]) -> Option<usize> {
    let h = hay.get(from..)?;
    memchr::memmem::find(h, needle).map(|i| i + from)
}

/// Splits the output of a command built by [`run_parts`]: each part is framed by
/// `<tag>B<i>\n` ... `<tag>R<i>=<rc>\n`, the whole ends with `<tag>END`. The exit marker may
/// follow output without a newline (`base64 -w 0`, raw bytes). Parts that completed before a
/// truncation are returned together with the error position, so a caller keeps what was read.
pub fn split_batch(out: &[u8], tag: &str, parts: usize) -> (Vec<PartOutput>, Option<BatchError>) {
    let mut result = Vec::with_capacity(parts.min(100_000));
    let mut pos = 0usize;
    for i in 0..parts {
        let begin = format!("{tag}B{i}\n");
        let end = format!("{tag}R{i}=");
        let Some(b) = find(out, pos, begin.as_bytes()) else {
            return (result, Some(BatchError::Truncated { part: i, parts }));
        };
        let start = b + begin.len();
        let Some(text_end) = find(out, start, end.as_bytes()) else {
            return (result, Some(BatchError::Truncated { part: i, parts }));
        };
        let rc_start = text_end + end.len();
        let rest = out.get(rc_start..).unwrap_or_default();
        let Some(rc_len) = memchr::memchr(b'\n', rest) else {
            // An exit marker without its newline: the stream was cut here.
            return (result, Some(BatchError::Truncated { part: i, parts }));
        };
        let rc = rest
            .get(..rc_len)
            .and_then(|s| std::str::from_utf8(s).ok())
            .and_then(|s| s.trim().parse::<i32>().ok());
        if rc.is_none() {
            return (result, Some(BatchError::Truncated { part: i, parts }));
        }
        result.push(PartOutput {
            data: out.get(start..text_end).unwrap_or_default().to_vec(),
            rc,
        });
        pos = rc_start + rc_len;
    }
    let done = format!("{tag}END");
    if find(out, pos, done.as_bytes()).is_some() {
        (result, None)
    } else {
        (result, Some(BatchError::Truncated { part: parts, parts }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batch_split_and_truncation() {
        let tag = "__T_";
        let out = b"__T_B0\nhello\n__T_R0=0\n__T_B1\n\x00\xff\n\r__T_R1=1\n__T_END\n";
        let (parts, err) = split_batch(out, tag, 2);
        assert_eq!(err, None);
        assert_eq!(parts[0].text(), "hello\n");
        assert_eq!(parts[1].data, b"\x00\xff\n\r");
        assert_eq!(parts[1].rc, Some(1));
        let (parts, err) = split_batch(&out[..30], tag, 2);
        assert_eq!(parts.len(), 1);
        assert!(err.is_some());
        let (_, err) = split_batch(&out[..out.len() - 8], tag, 2);
        assert!(err.is_some());
        let (_, err) = split_batch(b"__T_B0\nx__T_R0=", tag, 1);
        assert_eq!(err, Some(BatchError::Truncated { part: 0, parts: 1 }));
    }

    #[test]
    fn plan_respects_the_limit_and_the_spread() {
        let tag = "__T_";
        let parts: Vec<String> = (0..10).map(|i| format!("stat /p{i}")).collect();
        let one = piece(tag, 0, &parts[0]).len();
        let end = format!("echo {tag}END").len();
        // Everything fits in one command.
        assert_eq!(plan(tag, &parts, 10_000, 1).unwrap(), vec![0..10]);
        // Spread over 3 and 4 services, near-equal counts.
        assert_eq!(
            plan(tag, &parts, 10_000, 3).unwrap(),
            vec![0..4, 4..7, 7..10]
        );
        assert_eq!(
            plan(tag, &parts[..5], 10_000, 4).unwrap(),
            vec![0..2, 2..3, 3..4, 4..5]
        );
        // Three parts per command by size.
        let r = plan(tag, &parts, end + 3 * one, 1).unwrap();
        assert_eq!(r, vec![0..3, 3..6, 6..9, 9..10]);
        // A part that fits nowhere.
        assert_eq!(plan(tag, &parts, one, 1), Err((0, one)));
        assert_eq!(plan(tag, &parts, end + one - 1, 1), Err((0, one)));
        assert_eq!(
            plan(tag, &[], 100, 4).unwrap(),
            Vec::<std::ops::Range<usize>>::new()
        );
    }

    proptest::proptest! {
        #[test]
        fn never_panics(s in proptest::collection::vec(proptest::num::u8::ANY, 0..400)) {
            let _ = split_batch(&s, "__T_", 3);
        }

        #[test]
        fn planned_commands_fit(lens in proptest::collection::vec(1usize..300, 0..60), limit in 400usize..5000, spread in 1usize..6) {
            let tag = "__T_";
            let parts: Vec<String> = lens.iter().map(|l| "x".repeat(*l)).collect();
            if let Ok(batches) = plan(tag, &parts, limit, spread) {
                let mut next = 0;
                for b in &batches {
                    proptest::prop_assert_eq!(b.start, next);
                    next = b.end;
                    let mut cmd = String::new();
                    for (n, p) in parts[b.clone()].iter().enumerate() {
                        cmd.push_str(&piece(tag, n, p));
                    }
                    cmd.push_str(&format!("echo {tag}END"));
                    proptest::prop_assert!(cmd.len() <= limit);
                }
                proptest::prop_assert_eq!(next, parts.len());
            }
        }
    }
}
