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

use super::parse::{split_batch, BatchError, PartOutput};
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
