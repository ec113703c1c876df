//! Hand-off to ticketing systems: a durable outbox folder and an HTTP(S) webhook.
//!
//! Every device record is first written atomically into the outbox folder (`<record_id>.json`
//! with the record, `<record_id>.url` with where it goes), then sent with
//! `POST <url>` (`Content-Type: application/json`, `Idempotency-Key: <record_id>`, and
//! `Authorization: Bearer <token>` when a token is given). A record leaves the outbox only after
//! the endpoint answered 2xx; failures are retried with exponential backoff a bounded number of
//! times, then left for `appsweep outbox flush`. So a killed run, a laptop offline for a while or
//! an endpoint down loses nothing, and the idempotency key lets the receiver drop the duplicates
//! that at-least-once delivery implies. Posting happens after the report is rendered, never inside
//! the scan path.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
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

/// Queues a record: writes it (and its URL) atomically into the outbox.
pub fn enqueue(outbox: &Path, record_id: &str, url: &str, body: &[u8]) -> Result<(), OutboxError> {
    std::fs::create_dir_all(outbox).map_err(io_err(outbox))?;
    let id = safe_id(record_id);
    let url_path = outbox.join(format!("{id}.url"));
    crate::report::write_atomic(&url_path, url.as_bytes()).map_err(io_err(&url_path))?;
    let json_path = outbox.join(format!("{id}.json"));
    crate::report::write_atomic(&json_path, body).map_err(io_err(&json_path))
}

/// One pending record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pending {
    pub id: String,
    pub url: Option<String>,
    pub bytes: u64,
}

/// Records waiting in the outbox, sorted by id.
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
            let url = std::fs::read_to_string(outbox.join(format!("{id}.url"))).ok();
            Some(Pending {
                bytes: e.metadata().map(|m| m.len()).unwrap_or(0),
                id,
                url,
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
    pub failed: Vec<(String, String)>,
}

/// Sends every pending record; removes each one the endpoint acknowledged.
pub fn flush(d: &Delivery) -> Result<FlushResult, OutboxError> {
    let mut result = FlushResult::default();
    for p in pending(&d.outbox)? {
        deliver(d, p, &mut result)?;
    }
    Ok(result)
}

/// Sends one pending record (if it is still pending).
pub fn flush_one(d: &Delivery, record_id: &str) -> Result<FlushResult, OutboxError> {
    let mut result = FlushResult::default();
    let id = safe_id(record_id);
    if let Some(p) = pending(&d.outbox)?.into_iter().find(|p| p.id == id) {
        deliver(d, p, &mut result)?;
    }
    Ok(result)
}

fn deliver(d: &Delivery, p: Pending, result: &mut FlushResult) -> Result<(), OutboxError> {
    let Some(url) = p
        .url
        .clone()
        .filter(|u| !u.is_empty())
        .or_else(|| d.url.clone())
    else {
        result.failed.push((p.id, "no URL: give --post URL".into()));
        return Ok(());
    };
    let path = d.outbox.join(format!("{}.json", p.id));
    let body = match std::fs::read(&path) {
        Ok(b) => b,
        // Sent and removed by a concurrent flush.
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(io_err(&path)(e)),
    };
    let mut delay = d.backoff;
    let mut last = String::new();
    for attempt in 0..d.attempts.max(1) {
        if attempt > 0 {
            std::thread::sleep(delay);
            delay = delay.saturating_mul(2).min(Duration::from_secs(30));
        }
        match post(&url, &p.id, d.token.as_deref(), &body, d.timeout) {
            Ok(()) => {
                let _ = std::fs::remove_file(&path);
                let _ = std::fs::remove_file(d.outbox.join(format!("{}.url", p.id)));
                result.sent += 1;
                return Ok(());
            }
            Err(e) => last = e.to_string(),
        }
    }
    result.failed.push((p.id, last));
    Ok(())
}

struct Url {
    tls: bool,
    host: String,
    port: u16,
    path: String,
}

fn parse_url(url: &str) -> Result<Url, OutboxError> {
    let bad = || OutboxError::BadUrl(url.to_string());
    let (tls, rest) = if let Some(r) = url.strip_prefix("http://") {
        (false, r)
    } else if let Some(r) = url.strip_prefix("https://") {
        (true, r)
    } else {
        return Err(bad());
    };
    let (authority, path) = match rest.find('/') {
        Some(i) => (
            rest.get(..i).ok_or_else(bad)?,
            rest.get(i..).ok_or_else(bad)?,
        ),
        None => (rest, "/"),
    };
    if authority.is_empty() || authority.contains('@') {
        return Err(bad());
    }
    let (host, port) = match authority.rsplit_once(':') {
        Some((h, p)) if !h.ends_with(']') || authority.starts_with('[') => (
            h.trim_matches(['[', ']']).to_string(),
            p.parse().map_err(|_| bad())?,
        ),
        _ => (authority.to_string(), if tls { 443 } else { 80 }),
    };
    Ok(Url {
        tls,
        host,
        port,
        path: path.to_string(),
    })
}

fn tls_config() -> Result<Arc<rustls::ClientConfig>, String> {
    let mut roots = rustls::RootCertStore::empty();
    let found = rustls_native_certs::load_native_certs();
    for cert in found.certs {
        let _ = roots.add(cert);
    }
    if roots.is_empty() {
        return Err("no system root certificates found".into());
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

/// One `POST` of a record; `Ok` only for a 2xx answer.
pub fn post(
    url: &str,
    record_id: &str,
    token: Option<&str>,
    body: &[u8],
    timeout: Duration,
) -> Result<(), OutboxError> {
    let u = parse_url(url)?;
    let send_err = |message: String| OutboxError::Send {
        url: url.to_string(),
        message,
    };
    let addr = (u.host.as_str(), u.port)
        .to_socket_addrs()
        .map_err(|e| send_err(format!("cannot resolve {}: {e}", u.host)))?
        .next()
        .ok_or_else(|| send_err(format!("no address for {}", u.host)))?;
    let tcp = TcpStream::connect_timeout(&addr, timeout).map_err(|e| send_err(e.to_string()))?;
    tcp.set_read_timeout(Some(timeout))
        .map_err(|e| send_err(e.to_string()))?;
    tcp.set_write_timeout(Some(timeout))
        .map_err(|e| send_err(e.to_string()))?;
    let host_header = if (u.tls && u.port == 443) || (!u.tls && u.port == 80) {
        u.host.clone()
    } else {
        format!("{}:{}", u.host, u.port)
    };
    let mut head = format!(
        "POST {} HTTP/1.1\r\nHost: {host_header}\r\nUser-Agent: appsweep/{}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nIdempotency-Key: {record_id}\r\nConnection: close\r\n",
        u.path,
        env!("CARGO_PKG_VERSION"),
        body.len()
    );
    if let Some(t) = token {
        head.push_str(&format!("Authorization: Bearer {t}\r\n"));
    }
    head.push_str("\r\n");
    let status = if u.tls {
        let config = tls_config().map_err(send_err)?;
        let name = rustls::pki_types::ServerName::try_from(u.host.clone())
            .map_err(|e| send_err(format!("bad TLS server name: {e}")))?;
        let conn =
            rustls::ClientConnection::new(config, name).map_err(|e| send_err(e.to_string()))?;
        let mut stream = rustls::StreamOwned::new(conn, tcp);
        exchange(&mut stream, head.as_bytes(), body).map_err(|e| send_err(e.to_string()))?
    } else {
        let mut stream = tcp;
        exchange(&mut stream, head.as_bytes(), body).map_err(|e| send_err(e.to_string()))?
    };
    if (200..300).contains(&status) {
        Ok(())
    } else {
        Err(OutboxError::Status {
            url: url.to_string(),
            status,
        })
    }
}

fn exchange<S: Read + Write>(stream: &mut S, head: &[u8], body: &[u8]) -> std::io::Result<u16> {
    stream.write_all(head)?;
    stream.write_all(body)?;
    stream.flush()?;
    let mut line = String::new();
    BufReader::new(stream.take(8192)).read_line(&mut line)?;
    // "HTTP/1.1 204 No Content"
    line.split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| {
            std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!("not an HTTP status line: {line:?}"),
            )
        })
}

#[cfg(test)]
mod tests {
    #![allow(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::indexing_slicing
    )]
    use super::*;

    #[test]
    fn urls() {
        let u = parse_url("http://127.0.0.1:8080/hook?x=1").unwrap();
        assert_eq!(
            (u.tls, u.host.as_str(), u.port, u.path.as_str()),
            (false, "127.0.0.1", 8080, "/hook?x=1")
        );
        let u = parse_url("https://tickets.example.org").unwrap();
        assert_eq!((u.tls, u.port, u.path.as_str()), (true, 443, "/"));
        for bad in [
            "ftp://x",
            "http://",
            "http://user@host/",
            "http://h:notaport/",
        ] {
            assert!(parse_url(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn enqueue_and_pending_round_trip() {
        let d = tempfile::tempdir().unwrap();
        enqueue(d.path(), "abc123", "http://127.0.0.1:9/x", b"{}").unwrap();
        let p = pending(d.path()).unwrap();
        assert_eq!(
            p,
            vec![Pending {
                id: "abc123".into(),
                url: Some("http://127.0.0.1:9/x".into()),
                bytes: 2
            }]
        );
        assert!(pending(&d.path().join("missing")).unwrap().is_empty());
    }
}
