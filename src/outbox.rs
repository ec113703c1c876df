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

use crate::report::atomic_file;
use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};
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

/// A URL as it may be shown: scheme, host, port and path. User info, query and fragment (where
/// secrets live), and path segments that look like tokens, are replaced by `…`; an authority that is not a plain `host[:port]` (a password
/// holding an unescaped `/`, `?` or `#` would make one) is shown as `…` whole, and so is a path
/// holding an `@`.
pub fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return "…".to_string();
    };
    if scheme.is_empty()
        || !scheme
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c))
    {
        return "…".to_string();
    }
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at_checked(end).unwrap_or((rest, ""));
    let (userinfo, host) = match authority.rsplit_once('@') {
        Some((_, h)) => ("…@", h),
        None => ("", authority),
    };
    if !is_plain_host_port(host) {
        return format!("{scheme}://…");
    }
    let cut = tail.find(['?', '#']).unwrap_or(tail.len());
    let (path, secret_tail) = tail.split_at_checked(cut).unwrap_or((tail, ""));
    let path = if path.contains('@') {
        "/…".to_string()
    } else {
        path.split('/')
            .map(|seg| if looks_like_token(seg) { "…" } else { seg })
            .collect::<Vec<_>>()
            .join("/")
    };
    let secret_tail = if secret_tail.is_empty() { "" } else { "?…" };
    format!("{scheme}://{userinfo}{host}{path}{secret_tail}")
}

/// A path segment that may be a secret (chat webhooks carry their token in the path): 16
/// characters or more, mixing letters and digits.
fn looks_like_token(segment: &str) -> bool {
    segment.len() >= 16
        && segment.chars().any(|c| c.is_ascii_digit())
        && segment.chars().any(|c| c.is_ascii_alphabetic())
}

/// `host`, `host:port`, `[v6]` or `[v6]:port`, with nothing else in it.
fn is_plain_host_port(s: &str) -> bool {
    let (host, port) = if let Some(v6) = s.strip_prefix('[') {
        let Some((inside, after)) = v6.split_once(']') else {
            return false;
        };
        if inside.is_empty()
            || !inside
                .chars()
                .all(|c| c.is_ascii_hexdigit() || ":.".contains(c))
        {
            return false;
        }
        match after.strip_prefix(':') {
            Some(p) => ("v6", Some(p)),
            None if after.is_empty() => ("v6", None),
            None => return false,
        }
    } else {
        match s.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (s, None),
        }
    };
    !host.is_empty()
        && host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-._".contains(c))
        && port.is_none_or(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_digit()))
}

/// Removes from a message every secret part of `url` (the URL itself, its user info, query,
/// fragment and token-like path segments), in case a library quoted them.
fn scrub(message: &str, url: &str) -> String {
    let mut out = message.replace(url, &redact_url(url));
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let mut secrets: Vec<&str> = Vec::new();
    if let Some((userinfo, _)) = rest.get(..authority_end).and_then(|a| a.rsplit_once('@')) {
        secrets.push(userinfo);
        secrets.extend(userinfo.split(':'));
    }
    let path_end = rest.find(['?', '#']).unwrap_or(rest.len());
    let path = rest.get(authority_end..path_end).unwrap_or("");
    secrets.extend(path.split('/').filter(|seg| looks_like_token(seg)));
    if let Some(i) = rest.find(['?', '#']) {
        let tail = rest.get(i + 1..).unwrap_or("");
        secrets.push(tail);
        secrets.extend(tail.split(['&', '=', '#']));
    }
    secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
    for secret in secrets.into_iter().filter(|s| s.len() >= 4) {
        out = out.replace(secret, "…");
    }
    out
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

/// Queues a record: writes its URL, then the record, atomically into the outbox, both `0600`
/// (the record last: a listed record always has its URL). Nothing is left when it fails.
pub fn enqueue(outbox: &Path, record_id: &str, url: &str, body: &[u8]) -> Result<(), OutboxError> {
    ensure_dir(outbox)?;
    let id = safe_id(record_id);
    let url_path = outbox.join(format!("{id}.url"));
    atomic_file::write_private(&url_path, url.as_bytes()).map_err(io_err(&url_path))?;
    let json_path = outbox.join(format!("{id}.json"));
    atomic_file::write_private(&json_path, body).map_err(|e| {
        // No URL file without its record.
        let _ = std::fs::remove_file(&url_path);
        io_err(&json_path)(e)
    })
}

/// Largest URL file read back (a URL is a line; anything longer is not ours).
const MAX_URL_BYTES: u64 = 16 * 1024;

/// Largest record read back; a record is a few megabytes at most.
const MAX_RECORD_BYTES: u64 = 64 << 20;

/// One pending record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pending {
    pub id: String,
    pub url: Option<String>,
    pub bytes: u64,
    /// Why this entry cannot be sent (not a regular file, unreadable URL...), if so.
    pub problem: Option<String>,
}

/// Opens an outbox entry for reading: never through a symlink, never blocking on a FIFO, and
/// only when it is a regular file.
fn open_regular(path: &Path) -> std::io::Result<std::fs::File> {
    let mut options = std::fs::OpenOptions::new();
    options.read(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK);
    }
    let file = options.open(path)?;
    if !file.metadata()?.is_file() {
        return Err(std::io::Error::other("not a regular file"));
    }
    Ok(file)
}

/// Reads at most `max` bytes of `file`; `Err` names the limit when there is more.
fn read_capped(file: impl std::io::Read, max: u64) -> Result<Vec<u8>, String> {
    let mut bytes = Vec::new();
    file.take(max + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| format!("cannot be read: {e}"))?;
    if bytes.len() as u64 > max {
        return Err(format!("is over the {max}-byte limit"));
    }
    Ok(bytes)
}

fn read_url(path: &Path) -> Result<Option<String>, String> {
    match std::fs::symlink_metadata(path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(format!("its URL file cannot be read: {e}")),
        Ok(m) if !m.is_file() => return Err("its URL file is not a regular file".into()),
        Ok(_) => {}
    }
    let file = open_regular(path).map_err(|e| format!("its URL file cannot be read: {e}"))?;
    let bytes = read_capped(file, MAX_URL_BYTES).map_err(|why| format!("its URL file {why}"))?;
    String::from_utf8(bytes)
        .map(Some)
        .map_err(|_| "its URL file is not UTF-8".to_string())
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
    sweep_stale_temporaries(&d.outbox);
    let sender = Sender::new(d);
    for p in pending(&d.outbox)? {
        sender.deliver(p, &mut result);
    }
    Ok(result)
}

/// A temporary file the atomic writer left when its process was killed mid-write is removed
/// once it is this old (a write in progress takes milliseconds).
const STALE_TEMPORARY: Duration = Duration::from_secs(10 * 60);

/// Removes the atomic writer's temporary files (regular files only) that a killed run left in
/// the outbox.
fn sweep_stale_temporaries(outbox: &Path) {
    let Ok(rd) = std::fs::read_dir(outbox) else {
        return;
    };
    for e in rd.filter_map(Result::ok) {
        let name = e.file_name();
        let name = name.to_string_lossy();
        if !atomic_file::is_temporary_name(&name) {
            continue;
        }
        let stale = std::fs::symlink_metadata(e.path()).is_ok_and(|m| {
            m.is_file()
                && m.modified()
                    .ok()
                    .and_then(|t| t.elapsed().ok())
                    .is_some_and(|age| age > STALE_TEMPORARY)
        });
        if stale {
            let _ = std::fs::remove_file(e.path());
        }
    }
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
    let file = match open_regular(path) {
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

/// Root certificates to trust: the system's (`rustls-native-certs`: `SSL_CERT_FILE` or
/// `SSL_CERT_DIR` when set, the platform store otherwise), loaded once per process. `Err` says
/// why there are none.
fn root_certs() -> &'static Result<Arc<Vec<ureq::tls::Certificate<'static>>>, String> {
    static ROOTS: OnceLock<Result<Arc<Vec<ureq::tls::Certificate<'static>>>, String>> =
        OnceLock::new();
    ROOTS.get_or_init(|| {
        let found = rustls_native_certs::load_native_certs();
        let certs: Vec<ureq::tls::Certificate<'static>> = found
            .certs
            .iter()
            .map(|c| ureq::tls::Certificate::from_der(c.as_ref()).to_owned())
            .collect();
        if certs.is_empty() {
            let why: Vec<String> = found.errors.iter().map(|e| e.to_string()).collect();
            return Err(if why.is_empty() {
                "no trusted root certificates found (set SSL_CERT_FILE to a PEM bundle)".into()
            } else {
                format!("no trusted root certificates: {}", why.join("; "))
            });
        }
        Ok(Arc::new(certs))
    })
}

/// One client for a run: rustls with ring and the system roots, no redirects, one deadline per
/// request. Proxies come from the usual `*_PROXY`/`NO_PROXY` variables.
fn agent(timeout: Duration) -> ureq::Agent {
    let roots = match root_certs() {
        Ok(certs) => certs.clone(),
        // No roots: http still works; https fails, and says why (see `post_with`).
        Err(_) => Arc::new(Vec::new()),
    };
    let tls = ureq::tls::TlsConfig::builder()
        .provider(ureq::tls::TlsProvider::Rustls)
        .unversioned_rustls_crypto_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .root_certs(ureq::tls::RootCerts::Specific(roots))
        .build();
    ureq::Agent::config_builder()
        .timeout_global(Some(timeout))
        .http_status_as_error(false)
        .max_redirects(0)
        .user_agent(format!("appsweep/{}", env!("CARGO_PKG_VERSION")))
        .tls_config(tls)
        .build()
        .into()
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

/// The TLS error behind a failure, whether ureq reports it as such or inside an I/O error.
fn tls_error(e: &ureq::Error) -> Option<&rustls::Error> {
    match e {
        ureq::Error::Rustls(err) => Some(err),
        ureq::Error::Io(io) => io.get_ref().and_then(|inner| inner.downcast_ref()),
        _ => None,
    }
}

fn is_untrusted(e: &ureq::Error) -> bool {
    matches!(tls_error(e), Some(rustls::Error::InvalidCertificate(_)))
}

/// What went wrong, in words that never quote the URL's secrets.
fn describe(e: &ureq::Error, url: &str) -> String {
    let message = match (e, tls_error(e)) {
        (ureq::Error::BadUri(_) | ureq::Error::Http(_), _) => "the URL is not valid".to_string(),
        (_, Some(err @ rustls::Error::InvalidCertificate(_))) => {
            let roots = match root_certs() {
                Err(why) => why.clone(),
                Ok(_) => "trusted roots: the system's, or SSL_CERT_FILE/SSL_CERT_DIR when set"
                    .to_string(),
            };
            format!("TLS: {err}: the endpoint's certificate is not trusted ({roots})")
        }
        (_, Some(err)) => format!("TLS: {err}"),
        (other, None) => other.to_string(),
    };
    scrub(&message, url)
}

fn post_with(
    agent: &ureq::Agent,
    url: &str,
    record_id: &str,
    token: Option<&str>,
    body: &[u8],
) -> Result<(), OutboxError> {
    check_url(url)?;
    let shown = redact_url(url);
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
        Err(e) => Err(OutboxError::Send {
            message: describe(&e, url),
            url: shown,
            untrusted: is_untrusted(&e),
        }),
    }
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
        for (url, shown) in [
            (
                "https://user:pass@h.example:8443/a/b?token=s3cret#f",
                "https://…@h.example:8443/a/b?…",
            ),
            ("http://h/x", "http://h/x"),
            ("http://[::1]:8080/x#frag", "http://[::1]:8080/x?…"),
            ("https://tickets.example.org", "https://tickets.example.org"),
            ("no scheme", "…"),
            // Unescaped separators in a password: nothing of the authority is shown.
            ("https://user:p?ss@h.example/x", "https://…"),
            ("https://user:p#ss@h.example/x", "https://…"),
            ("https://user:pa/ss@h.example/x", "https://…"),
            ("https://h.example/a@b/c", "https://h.example/…"),
            (
                "https://hooks.example.com/services/T0AB12CD3/B0EF45GH6/x1Y2z3W4v5U6t7S8r9Q0p1O2",
                "https://hooks.example.com/services/T0AB12CD3/B0EF45GH6/…",
            ),
            (
                "https://tickets.example.org/api/v2/intake-endpoint/",
                "https://tickets.example.org/api/v2/intake-endpoint/",
            ),
            ("https://h.example:80x/", "https://…"),
        ] {
            assert_eq!(redact_url(url), shown, "{url}");
        }
    }

    #[test]
    fn messages_lose_the_secret_parts_of_the_url() {
        let url = "https://alice:hunter22@h.example/hook?token=s3cret-value&x=1";
        let m = scrub(
            &format!("bad uri: {url} is missing host; token=s3cret-value; alice:hunter22"),
            url,
        );
        assert!(!m.contains("hunter22"), "{m}");
        assert!(!m.contains("s3cret-value"), "{m}");
        assert!(m.contains("https://…@h.example/hook?…"), "{m}");
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

    /// Whether this process runs as root (from `/proc/self/status`).
    fn is_root() -> bool {
        std::fs::read_to_string("/proc/self/status")
            .unwrap()
            .lines()
            .find_map(|l| l.strip_prefix("Uid:"))
            .and_then(|ids| ids.split_whitespace().nth(1).map(|euid| euid == "0"))
            .unwrap()
    }

    #[test]
    fn planted_symlinks_are_never_followed_even_by_root() {
        use std::os::unix::fs::{symlink, PermissionsExt};
        // As root, a followed symlink could overwrite any file, a read-only one too: this is
        // the case that matters, and the one CI runs.
        assert!(
            is_root(),
            "run as root: a followed symlink must be able to do harm here"
        );
        let d = tempfile::tempdir().unwrap();
        let outbox = d.path().join("outbox");
        std::fs::create_dir(&outbox).unwrap();
        std::fs::set_permissions(&outbox, std::fs::Permissions::from_mode(0o777)).unwrap();
        let victim = d.path().join("passwd");
        std::fs::write(&victim, b"root:x:0:0").unwrap();
        std::fs::set_permissions(&victim, std::fs::Permissions::from_mode(0o444)).unwrap();
        let pid = std::process::id();
        for name in [
            "r1.json".to_string(),
            "r1.url".to_string(),
            format!(".r1.json.tmp-{pid}"),
            format!(".r1.url.tmp-{pid}"),
        ] {
            symlink(&victim, outbox.join(name)).unwrap();
        }
        enqueue(&outbox, "r1", "https://h.example/x?k=secret", b"{\"a\":1}").unwrap();
        assert_eq!(std::fs::read(&victim).unwrap(), b"root:x:0:0");
        let mode = |p: &Path| std::fs::symlink_metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&victim), 0o444);
        for (name, body) in [
            ("r1.json", &b"{\"a\":1}"[..]),
            ("r1.url", b"https://h.example/x?k=secret"),
        ] {
            let p = outbox.join(name);
            assert!(std::fs::symlink_metadata(&p).unwrap().is_file(), "{name}");
            assert_eq!(mode(&p), 0o600, "{name}");
            assert_eq!(std::fs::read(&p).unwrap(), body);
        }
        // The folder was tightened; no temporary file of ours is left.
        assert_eq!(mode(&outbox), 0o700);
        let ours: Vec<String> = std::fs::read_dir(&outbox)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.starts_with(".appsweep-"))
            .collect();
        assert!(ours.is_empty(), "{ours:?}");
    }

    #[test]
    fn an_unreadable_entry_is_reported_and_the_others_still_go() {
        let d = tempfile::tempdir().unwrap();
        enqueue(d.path(), "good", "http://127.0.0.1:9/x", b"{}").unwrap();
        std::fs::create_dir(d.path().join("dir.json")).unwrap();
        std::fs::write(d.path().join("nourl.json"), b"{}").unwrap();
        enqueue(d.path(), "dirurl", "http://127.0.0.1:9/x", b"{}").unwrap();
        std::fs::remove_file(d.path().join("dirurl.url")).unwrap();
        std::fs::create_dir(d.path().join("dirurl.url")).unwrap();
        std::os::unix::fs::symlink(d.path().join("good.json"), d.path().join("link.json")).unwrap();
        let fifo = d.path().join("fifo.json");
        assert!(std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap()
            .success());
        let p = pending(d.path()).unwrap();
        let ids: Vec<(&str, bool)> = p
            .iter()
            .map(|p| (p.id.as_str(), p.problem.is_some()))
            .collect();
        assert_eq!(
            ids,
            vec![
                ("dir", true),
                ("dirurl", true),
                ("fifo", true),
                ("good", false),
                ("link", true),
                ("nourl", false)
            ]
        );
        // Opening never follows a symlink nor blocks on a FIFO.
        assert!(open_regular(&d.path().join("link.json")).is_err());
        assert!(open_regular(&fifo).is_err());
        assert!(open_regular(&d.path().join("good.json")).is_ok());
    }

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
