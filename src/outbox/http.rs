//! The webhook client: one `POST` through `ureq` (rustls with ring, the system's roots, no
//! redirects, one deadline per request), the checks of a URL and a token before anything is
//! queued, and failures described in words that never quote the URL's secrets.

use super::redact::{redact_url, scrub};
use super::OutboxError;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

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
pub(super) fn agent(timeout: Duration) -> ureq::Agent {
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

/// Checks a webhook URL: `http://` or `https://`, a host, and nothing an HTTP request line
/// cannot carry. The error shows the URL without its secrets.
pub fn check_url(url: &str) -> Result<(), OutboxError> {
    let bad = || OutboxError::BadUrl(redact_url(url));
    let uri: ureq::http::Uri = url.parse().map_err(|_| bad())?;
    let scheme_ok = matches!(uri.scheme_str(), Some("http" | "https"));
    let host_ok = uri.host().is_some_and(|h| !h.is_empty());
    if scheme_ok && host_ok {
        Ok(())
    } else {
        Err(bad())
    }
}

/// Checks a bearer token: it goes into a header, so it holds no control character or space.
pub fn check_token(token: &str) -> Result<(), String> {
    if token.is_empty() {
        return Err("the bearer token is empty".into());
    }
    if token.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return Err("the bearer token holds a space or a control character".into());
    }
    Ok(())
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
        (ureq::Error::BadUri(_) | ureq::Error::Http(_), _) => {
            "the request could not be made (the URL or the token is not valid)".to_string()
        }
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

pub(super) fn post_with(
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
    let started = std::time::Instant::now();
    let sent = req.send(body);
    log::debug!(
        "{record_id}: POST {shown}: {} in {} ms",
        sent.as_ref()
            .map_or_else(|e| describe(e, url), |r| r.status().to_string()),
        started.elapsed().as_millis()
    );
    match sent {
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
            "https://alice:pw@h.example:8443/x?t=1",
            "http://[::1]:8080/hook",
        ] {
            assert!(check_url(good).is_ok(), "{good}");
        }
        for bad in [
            "ftp://x",
            "http://",
            "https:///x",
            "tickets.example.org",
            "http://h.example/a b",
            "http://h.example/\nHost: x",
            "http://:80/x",
        ] {
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
    fn tokens_fit_in_a_header() {
        assert!(check_token("abc.DEF-123_~+/=").is_ok());
        for bad in ["", "a b", "a\r\nX-Evil: 1", "a\u{7f}"] {
            assert!(check_token(bad).is_err(), "{bad:?}");
        }
    }
}
