//! Hand-off to ticketing systems: a durable outbox folder and an HTTP(S) webhook.
//!
//! Every device record is first written atomically into the outbox folder (`<record_id>.json`
//! with the record, `<record_id>.url` with where it goes), then sent with
//! `POST <url>` (`Content-Type: application/json`, `Idempotency-Key: <record_id>`, and
//! `Authorization: Bearer <token>` when a token is given) through `ureq` (rustls with the system's
//! root certificates; `SSL_CERT_FILE`/`SSL_CERT_DIR` are honoured). A record leaves the outbox
//! only after the endpoint answered 2xx (redirects are not followed); failures are retried with
//! exponential backoff a bounded number of times, then left for `appsweep outbox flush`. So a
//! killed run, a laptop offline for a while or an endpoint down loses nothing, and the
//! idempotency key lets the receiver drop the duplicates that at-least-once delivery implies.
//!
//! **Each record is sent by one process at a time.** A sender holds an exclusive lock
//! (`flock`) on the record's file while it posts and removes it; another sender skips a locked
//! record, and one that gets the lock after the file was removed sees it gone (no second
//! send). The kernel drops the lock when its holder dies, so a killed sender blocks nothing.
//!
//! **Private.** The folder is created `0700` (and tightened to it when it exists), records and
//! URLs are `0600`. The webhook URL is shown only without its user info and query
//! ([`redact_url`]); tokens are never printed. One entry that cannot be read (a folder named
//! `x.json`, a record without its URL) is reported and left; the others are still sent.

use crate::report::atomic_file;
use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;
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
    Send { url: String, message: String },
    #[error("POST {url}: the endpoint answered {status}")]
    Status { url: String, status: u16 },
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

/// A URL as it may be shown: scheme, host, port and path; user info, query and fragment (where
/// secrets live) are replaced by `…`.
pub fn redact_url(url: &str) -> String {
    let (scheme, rest) = match url.split_once("://") {
        Some((s, r)) => (s, r),
        None => return "…".to_string(),
    };
    let cut = rest.find(['?', '#']);
    let (before, secret_tail) = match cut {
        Some(i) => (rest.get(..i).unwrap_or(rest), true),
        None => (rest, false),
    };
    let (authority, path) = match before.find('/') {
        Some(i) => (
            before.get(..i).unwrap_or(before),
            before.get(i..).unwrap_or(""),
        ),
        None => (before, ""),
    };
    let host = match authority.rsplit_once('@') {
        Some((_, h)) => format!("…@{h}"),
        None => authority.to_string(),
    };
    format!(
        "{scheme}://{host}{path}{}",
        if secret_tail { "?…" } else { "" }
    )
}

/// Creates the outbox folder `0700`, or tightens an existing one to it.
fn ensure_dir(outbox: &Path) -> Result<(), OutboxError> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(outbox)
            .map_err(io_err(outbox))?;
        let meta = std::fs::metadata(outbox).map_err(io_err(outbox))?;
        if meta.permissions().mode() & 0o077 != 0 {
            std::fs::set_permissions(outbox, std::fs::Permissions::from_mode(0o700))
                .map_err(io_err(outbox))?;
        }
        Ok(())
    }
    #[cfg(not(unix))]
    std::fs::create_dir_all(outbox).map_err(io_err(outbox))
}

/// Queues a record: writes it (and its URL) atomically into the outbox, both `0600`.
pub fn enqueue(outbox: &Path, record_id: &str, url: &str, body: &[u8]) -> Result<(), OutboxError> {
    ensure_dir(outbox)?;
    let id = safe_id(record_id);
    let url_path = outbox.join(format!("{id}.url"));
    atomic_file::write_private(&url_path, url.as_bytes()).map_err(io_err(&url_path))?;
    let json_path = outbox.join(format!("{id}.json"));
    atomic_file::write_private(&json_path, body).map_err(io_err(&json_path))
}

/// Largest URL file read back (a URL is a line; anything longer is not ours).
const MAX_URL_BYTES: u64 = 16 * 1024;

/// One pending record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pending {
    pub id: String,
    pub url: Option<String>,
    pub bytes: u64,
    /// Why this entry cannot be sent (not a regular file, unreadable URL...), if so.
    pub problem: Option<String>,
}

fn read_url(path: &Path) -> Result<Option<String>, String> {
    match std::fs::symlink_metadata(path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(format!("its URL file cannot be read: {e}")),
        Ok(m) if !m.is_file() => return Err("its URL file is not a regular file".into()),
        Ok(_) => {}
    }
    let mut text = String::new();
    std::fs::File::open(path)
        .and_then(|f| f.take(MAX_URL_BYTES + 1).read_to_string(&mut text))
        .map_err(|e| format!("its URL file cannot be read: {e}"))?;
    if text.len() as u64 > MAX_URL_BYTES {
        return Err(format!("its URL file is over {MAX_URL_BYTES} bytes"));
    }
    Ok(Some(text))
}

/// Records waiting in the outbox, sorted by id. Entries that cannot be sent carry a `problem`.
pub fn pending(outbox: &Path) -> Result<Vec<Pending>, OutboxError> {
    let rd = match std::fs::read_dir(outbox) {
        Ok(rd) => rd,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(io_err(outbox)(e)),
    };
    let mut out: Vec<Pending> = rd
        .filter_map(Result::ok)
        .filter_map(|e| {
            let name = e.file_name().into_string().ok()?;
            let id = name.strip_suffix(".json")?.to_string();
            if id.starts_with('.') {
                return None;
            }
            let meta = std::fs::symlink_metadata(e.path());
            let mut problem = match &meta {
                Ok(m) if m.is_file() => None,
                Ok(_) => Some("not a regular file".to_string()),
                Err(err) => Some(format!("cannot be read: {err}")),
            };
            let url = match read_url(&outbox.join(format!("{id}.url"))) {
                Ok(u) => u,
                Err(why) => {
                    problem.get_or_insert(why);
                    None
                }
            };
            Some(Pending {
                bytes: meta.map(|m| m.len()).unwrap_or(0),
                id,
                url,
                problem,
            })
        })
        .collect();
    out.sort_by(|a, b| a.id.cmp(&b.id));
    Ok(out)
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

/// A record file held under an exclusive lock while it is sent.
struct Claim {
    file: std::fs::File,
}

enum ClaimResult {
    Claimed(Claim),
    /// Another sender holds it, or it was sent and removed already.
    Elsewhere,
}

fn claim(path: &Path) -> std::io::Result<ClaimResult> {
    let file = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(ClaimResult::Elsewhere),
        Err(e) => return Err(e),
    };
    match file.try_lock() {
        Ok(()) => {}
        Err(std::fs::TryLockError::WouldBlock) => return Ok(ClaimResult::Elsewhere),
        Err(std::fs::TryLockError::Error(e)) => return Err(e),
    }
    // Locked: if the file was removed meanwhile (sent by the previous holder), it is done.
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        if file.metadata()?.nlink() == 0 {
            return Ok(ClaimResult::Elsewhere);
        }
    }
    Ok(ClaimResult::Claimed(Claim { file }))
}

struct Sender<'a> {
    d: &'a Delivery,
    agent: Result<ureq::Agent, String>,
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
        let mut claim = match claim(&path) {
            Ok(ClaimResult::Claimed(c)) => c,
            Ok(ClaimResult::Elsewhere) => return,
            Err(e) => {
                result.failed.push((p.id, format!("cannot be read: {e}")));
                return;
            }
        };
        let mut body = Vec::new();
        if let Err(e) = claim.file.read_to_end(&mut body) {
            result.failed.push((p.id, format!("cannot be read: {e}")));
            return;
        }
        let mut delay = self.d.backoff;
        let mut last = String::new();
        for attempt in 0..self.d.attempts.max(1) {
            if attempt > 0 {
                std::thread::sleep(delay);
                delay = delay.saturating_mul(2).min(Duration::from_secs(30));
            }
            match self.post(&url, &p.id, &body) {
                Ok(()) => {
                    // Removed while still locked, so no other sender can take it again.
                    let _ = std::fs::remove_file(self.d.outbox.join(format!("{}.url", p.id)));
                    let _ = std::fs::remove_file(&path);
                    drop(claim);
                    result.sent += 1;
                    return;
                }
                Err(e) => last = e.to_string(),
            }
        }
        result.failed.push((p.id, last));
    }

    fn post(&self, url: &str, record_id: &str, body: &[u8]) -> Result<(), OutboxError> {
        post_with(
            self.agent.as_ref(),
            url,
            record_id,
            self.d.token.as_deref(),
            body,
        )
    }
}

/// System root certificates (`rustls-native-certs`, which honours `SSL_CERT_FILE` and
/// `SSL_CERT_DIR`).
fn root_certs() -> Result<ureq::tls::RootCerts, String> {
    let found = rustls_native_certs::load_native_certs();
    let certs: Vec<ureq::tls::Certificate<'static>> = found
        .certs
        .iter()
        .map(|c| ureq::tls::Certificate::from_der(c.as_ref()).to_owned())
        .collect();
    if certs.is_empty() {
        return Err("no system root certificates found".into());
    }
    Ok(ureq::tls::RootCerts::Specific(Arc::new(certs)))
}

fn agent(timeout: Duration) -> Result<ureq::Agent, String> {
    let tls = ureq::tls::TlsConfig::builder()
        .provider(ureq::tls::TlsProvider::Rustls)
        .root_certs(root_certs()?)
        .build();
    Ok(ureq::Agent::config_builder()
        .timeout_global(Some(timeout))
        .http_status_as_error(false)
        .max_redirects(0)
        .user_agent(format!("appsweep/{}", env!("CARGO_PKG_VERSION")))
        .tls_config(tls)
        .build()
        .into())
}

fn check_url(url: &str) -> Result<(), OutboxError> {
    let ok = ["http://", "https://"].iter().any(|s| {
        url.strip_prefix(s)
            .is_some_and(|rest| !rest.is_empty() && !rest.starts_with(['/', '?', '#']))
    });
    if ok {
        Ok(())
    } else {
        Err(OutboxError::BadUrl(redact_url(url)))
    }
}

fn post_with(
    agent: Result<&ureq::Agent, &String>,
    url: &str,
    record_id: &str,
    token: Option<&str>,
    body: &[u8],
) -> Result<(), OutboxError> {
    check_url(url)?;
    let shown = redact_url(url);
    let agent = agent.map_err(|e| OutboxError::Send {
        url: shown.clone(),
        message: e.clone(),
    })?;
    let mut req = agent
        .post(url)
        .header("Content-Type", "application/json")
        .header("Idempotency-Key", record_id);
    if let Some(t) = token {
        req = req.header("Authorization", &format!("Bearer {t}"));
    }
    match req.send(body) {
        Ok(resp) => {
            let status = resp.status().as_u16();
            if (200..300).contains(&status) {
                Ok(())
            } else {
                Err(OutboxError::Status { url: shown, status })
            }
        }
        Err(e) => {
            // ureq's messages may quote the URL: show it only redacted.
            let message = e.to_string().replace(url, &shown);
            Err(OutboxError::Send {
                url: shown,
                message,
            })
        }
    }
}

/// One `POST` of a record; `Ok` only for a 2xx answer.
pub fn post(
    url: &str,
    record_id: &str,
    token: Option<&str>,
    body: &[u8],
    timeout: Duration,
) -> Result<(), OutboxError> {
    let agent = agent(timeout);
    post_with(agent.as_ref(), url, record_id, token, body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_checked_and_redacted() {
        for good in [
            "http://127.0.0.1:8080/hook?x=1",
            "https://tickets.example.org",
        ] {
            assert!(check_url(good).is_ok(), "{good}");
        }
        for bad in ["ftp://x", "http://", "https:///x", "tickets.example.org"] {
            assert!(check_url(bad).is_err(), "{bad}");
        }
        assert_eq!(
            redact_url("https://user:pass@h.example:8443/a/b?token=s3cret#f"),
            "https://…@h.example:8443/a/b?…"
        );
        assert_eq!(redact_url("http://h/x"), "http://h/x");
        assert_eq!(redact_url("no scheme"), "…");
    }

    #[test]
    fn enqueue_and_pending_round_trip() {
        let d = tempfile::tempdir().unwrap();
        let outbox = d.path().join("outbox");
        enqueue(&outbox, "abc123", "http://127.0.0.1:9/x", b"{}").unwrap();
        let p = pending(&outbox).unwrap();
        assert_eq!(
            p,
            vec![Pending {
                id: "abc123".into(),
                url: Some("http://127.0.0.1:9/x".into()),
                bytes: 2,
                problem: None,
            }]
        );
        assert!(pending(&d.path().join("missing")).unwrap().is_empty());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode(&outbox), 0o700);
            assert_eq!(mode(&outbox.join("abc123.json")), 0o600);
            assert_eq!(mode(&outbox.join("abc123.url")), 0o600);
        }
    }

    #[test]
    fn an_unreadable_entry_is_reported_and_the_others_still_go() {
        let d = tempfile::tempdir().unwrap();
        enqueue(d.path(), "good", "http://127.0.0.1:9/x", b"{}").unwrap();
        std::fs::create_dir(d.path().join("dir.json")).unwrap();
        std::fs::write(d.path().join("nourl.json"), b"{}").unwrap();
        let p = pending(d.path()).unwrap();
        let ids: Vec<(&str, bool)> = p
            .iter()
            .map(|p| (p.id.as_str(), p.problem.is_some()))
            .collect();
        assert_eq!(ids, vec![("dir", true), ("good", false), ("nourl", false)]);
    }

    #[test]
    fn a_claimed_record_is_not_claimed_twice_and_a_sent_one_is_gone() {
        let d = tempfile::tempdir().unwrap();
        enqueue(d.path(), "r1", "http://127.0.0.1:9/x", b"{}").unwrap();
        let path = d.path().join("r1.json");
        let first = match claim(&path).unwrap() {
            ClaimResult::Claimed(c) => c,
            ClaimResult::Elsewhere => panic!("first claim must succeed"),
        };
        // A second sender opened the file before the first removed it.
        let early = std::fs::File::open(&path).unwrap();
        assert!(matches!(claim(&path).unwrap(), ClaimResult::Elsewhere));
        std::fs::remove_file(&path).unwrap();
        drop(first);
        early.try_lock().unwrap();
        use std::os::unix::fs::MetadataExt;
        assert_eq!(early.metadata().unwrap().nlink(), 0);
        assert!(matches!(claim(&path).unwrap(), ClaimResult::Elsewhere));
    }
}
