//! Hand-off to ticketing systems: a durable outbox folder and an HTTP(S) webhook.
//!
//! Every device record is first written atomically into the outbox folder (`<record_id>.json`
//! with the record, `<record_id>.url` with where it goes), then sent with
//! `POST <url>` (`Content-Type: application/json`, `Idempotency-Key: <record_id>`, and
//! `Authorization: Bearer <token>` when a token is given) through `ureq` (rustls with ring; the
//! system's root certificates, or only those of `SSL_CERT_FILE`/`SSL_CERT_DIR` when set; proxies
//! from `HTTPS_PROXY`/`NO_PROXY`). A record leaves the outbox only after the endpoint answered
//! 2xx (redirects are not followed); failures are retried with exponential backoff a bounded
//! number of times, then left for `appsweep outbox flush`. So a killed run, a laptop offline for
//! a while or an endpoint down loses nothing, and the idempotency key (the record id, unique per
//! record) lets the receiver drop the duplicates that at-least-once delivery implies.
//!
//! **Each record is sent by one process at a time.** A sender holds an exclusive lock
//! (`flock`) on the record's file while it posts and removes it; another sender skips a locked
//! record, and one that gets the lock after the file was removed sees it gone (no second
//! send). The kernel drops the lock when its holder dies, so a killed sender blocks nothing.
//!
//! **One bad entry stops nothing.** An entry that cannot be sent (a folder named `x.json`, a
//! symlink or FIFO, a truncated record, an unreadable URL file) is reported, left where it is,
//! and makes `outbox flush` exit 3; the others are still sent.
//!
//! **Private.** The folder is created `0700` (and tightened to it when it exists), records and
//! URLs are `0600`, written through the atomic writer (unpredictable temporary names, never
//! following a planted symlink); a temporary file a killed writer left is removed by the next
//! flush once it is ten minutes old. Entries are opened without following symlinks. The webhook URL
//! is shown only without its user info, query and fragment ([`redact_url`]), in messages too;
//! tokens are never printed.
//!
//! The parts: `folder` (the outbox folder: queueing, listing, claiming, sweeping what a killed
//! writer left), `http` (the webhook client: one request, the checks of URL and token, errors in
//! words without secrets), `redact` (URLs and messages as they may be shown). This module ties
//! them together: a flush sends each pending record with retries and removes it once acknowledged.

mod folder;
mod http;
mod redact;

pub use folder::{enqueue, pending, Pending};
pub use http::{check_token, check_url};
pub use redact::redact_url;

use folder::{claim, read_capped, sweep_stale_temporaries, ClaimResult, MAX_RECORD_BYTES};
use http::{agent, post_with};
use std::path::{Path, PathBuf};
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum OutboxError {
    #[error("outbox {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("bad URL {0:?}: expected http://host[:port]/path or https://...")]
    BadUrl(String),
    #[error("POST {url}: {message}")]
    Send {
        url: String,
        message: String,
        /// The endpoint's certificate was refused.
        untrusted: bool,
    },
    #[error("POST {url}: the endpoint answered {status}")]
    Status { url: String, status: u16 },
}

impl OutboxError {
    /// Whether another attempt in this run may succeed. A bad URL, an untrusted certificate or a
    /// client error (4xx but 408 and 429) will not: the record stays for a later flush.
    fn worth_retrying(&self) -> bool {
        match self {
            OutboxError::BadUrl(_) => false,
            OutboxError::Status { status, .. } => {
                !(400..500).contains(status) || matches!(status, 408 | 429)
            }
            OutboxError::Send { untrusted, .. } => !untrusted,
            OutboxError::Io { .. } => true,
        }
    }
}

/// Where and how records are delivered.
#[derive(Debug, Clone)]
pub struct Delivery {
    pub outbox: PathBuf,
    /// Default URL for records (each record keeps the URL it was queued with).
    pub url: Option<String>,
    pub token: Option<String>,
    /// Attempts per record in one run (at least 1).
    pub attempts: u32,
    /// First backoff delay; doubles after each failure.
    pub backoff: Duration,
    /// Connect, read and write timeout for one request.
    pub timeout: Duration,
}

impl Delivery {
    pub fn new(outbox: PathBuf, url: Option<String>, token: Option<String>) -> Self {
        Self {
            outbox,
            url,
            token,
            attempts: 5,
            backoff: Duration::from_millis(500),
            timeout: Duration::from_secs(15),
        }
    }
}

/// The default outbox folder: `$XDG_STATE_HOME/appsweep/outbox` or `~/.local/state/appsweep/outbox`.
pub fn default_dir() -> Option<PathBuf> {
    std::env::var_os("XDG_STATE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/state")))
        .map(|d| d.join("appsweep").join("outbox"))
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> OutboxError + '_ {
    move |source| OutboxError::Io {
        path: path.to_path_buf(),
        source,
    }
}

fn safe_id(id: &str) -> String {
    id.chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
        .collect()
}

/// What a flush achieved.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct FlushResult {
    pub sent: usize,
    /// (record id, why), the why free of URL secrets.
    pub failed: Vec<(String, String)>,
}

/// Sends every pending record; removes each one the endpoint acknowledged. An entry that
/// cannot be read is a failure of that entry only.
pub fn flush(d: &Delivery) -> Result<FlushResult, OutboxError> {
    let mut result = FlushResult::default();
    sweep_stale_temporaries(&d.outbox);
    let sender = Sender::new(d);
    for p in pending(&d.outbox)? {
        sender.deliver(p, &mut result);
    }
    Ok(result)
}

/// Sends one pending record (if it is still pending).
pub fn flush_one(d: &Delivery, record_id: &str) -> Result<FlushResult, OutboxError> {
    let mut result = FlushResult::default();
    let id = safe_id(record_id);
    if let Some(p) = pending(&d.outbox)?.into_iter().find(|p| p.id == id) {
        Sender::new(d).deliver(p, &mut result);
    }
    Ok(result)
}

struct Sender<'a> {
    d: &'a Delivery,
    agent: ureq::Agent,
}

impl<'a> Sender<'a> {
    fn new(d: &'a Delivery) -> Self {
        Self {
            d,
            agent: agent(d.timeout),
        }
    }

    fn deliver(&self, p: Pending, result: &mut FlushResult) {
        if let Some(why) = p.problem {
            result.failed.push((p.id, why));
            return;
        }
        let Some(url) = p
            .url
            .clone()
            .filter(|u| !u.is_empty())
            .or_else(|| self.d.url.clone())
        else {
            result.failed.push((p.id, "no URL: give --post URL".into()));
            return;
        };
        let path = self.d.outbox.join(format!("{}.json", p.id));
        let claim = match claim(&path) {
            Ok(ClaimResult::Claimed(c)) => c,
            Ok(ClaimResult::Elsewhere) => return,
            Err(e) => {
                result.failed.push((p.id, format!("cannot be read: {e}")));
                return;
            }
        };
        let body = match read_capped(&claim.file, MAX_RECORD_BYTES) {
            Ok(b) => b,
            Err(why) => {
                result.failed.push((p.id, format!("the record {why}")));
                return;
            }
        };
        if serde_json::from_slice::<serde::de::IgnoredAny>(&body).is_err() {
            result.failed.push((
                p.id,
                "the record is not whole JSON (truncated or damaged); it is left as it is".into(),
            ));
            return;
        }
        let mut delay = self.d.backoff;
        let mut last = String::new();
        for attempt in 0..self.d.attempts.max(1) {
            if attempt > 0 {
                std::thread::sleep(delay);
                delay = delay.saturating_mul(2).min(Duration::from_secs(30));
            }
            match post_with(&self.agent, &url, &p.id, self.d.token.as_deref(), &body) {
                Ok(()) => {
                    // Removed while still locked, so no other sender can take it again; the
                    // record first, so a kill in between leaves no record without its URL.
                    let _ = std::fs::remove_file(&path);
                    let _ = std::fs::remove_file(self.d.outbox.join(format!("{}.url", p.id)));
                    drop(claim);
                    result.sent += 1;
                    return;
                }
                Err(e) => {
                    last = e.to_string();
                    if !e.worth_retrying() {
                        break;
                    }
                }
            }
        }
        result.failed.push((p.id, last));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use folder::STALE_TEMPORARY;

    #[test]
    fn a_flush_removes_the_temporary_files_a_killed_writer_left_once_stale() {
        let d = tempfile::tempdir().unwrap();
        let old = d.path().join(".appsweep-AbC123.tmp");
        let fresh = d.path().join(".appsweep-XyZ789.tmp");
        let other = d.path().join(".keep.tmp");
        for p in [&old, &fresh, &other] {
            std::fs::write(p, b"{").unwrap();
        }
        let long_ago = std::time::SystemTime::now() - STALE_TEMPORARY * 2;
        for p in [&old, &other] {
            std::fs::File::options()
                .write(true)
                .open(p)
                .unwrap()
                .set_modified(long_ago)
                .unwrap();
        }
        flush(&Delivery::new(d.path().to_path_buf(), None, None)).unwrap();
        assert!(!old.exists());
        assert!(fresh.exists(), "a write in progress is left alone");
        assert!(other.exists(), "only the atomic writer's names are touched");
    }

    #[test]
    fn a_truncated_record_stays_and_is_reported_without_a_request() {
        let d = tempfile::tempdir().unwrap();
        // Nothing listens on port 9: had a request been made, the failure would say so.
        enqueue(
            d.path(),
            "cut",
            "http://127.0.0.1:9/x",
            br#"{"schema":"appsw"#,
        )
        .unwrap();
        let mut delivery = Delivery::new(d.path().to_path_buf(), None, None);
        delivery.attempts = 1;
        let r = flush(&delivery).unwrap();
        assert_eq!(r.sent, 0);
        assert_eq!(r.failed.len(), 1);
        assert!(r.failed[0].1.contains("not whole JSON"), "{:?}", r.failed);
        assert!(d.path().join("cut.json").exists());
    }
}
