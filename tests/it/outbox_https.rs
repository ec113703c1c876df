//! `--post` over HTTPS, on the real binary, to a local endpoint whose certificate comes from its
//! own CA (made with rcgen) and is trusted only through `SSL_CERT_FILE`: records arrive with
//! their idempotency key and token; an endpoint whose certificate is not trusted is refused, the
//! record stays queued, and neither the URL's secrets nor the token are printed.

use std::io::{BufReader, Write};
use std::net::TcpListener;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

use crate::support::cmd::{appsweep, code, record_ids, stderr};
use crate::support::ipabuild::Ipa;
use crate::support::webhook::{read_request, Request};

/// A certificate authority of its own and a server certificate it signed for `127.0.0.1`.
struct Pki {
    ca_pem: String,
    server_cert: CertificateDer<'static>,
    server_key: Vec<u8>,
}

impl Pki {
    fn new(name: &str) -> Pki {
        let ca_key = KeyPair::generate().unwrap();
        let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca.distinguished_name.push(DnType::CommonName, name);
        ca.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let ca_cert = ca.self_signed(&ca_key).unwrap();
        let issuer = Issuer::new(ca, ca_key);
        let key = KeyPair::generate().unwrap();
        let mut leaf =
            CertificateParams::new(vec!["127.0.0.1".to_string(), "localhost".to_string()]).unwrap();
        leaf.distinguished_name
            .push(DnType::CommonName, "tickets.test");
        leaf.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        let server = leaf.signed_by(&key, &issuer).unwrap();
        Pki {
            ca_pem: ca_cert.pem(),
            server_cert: server.der().clone(),
            server_key: key.serialize_der(),
        }
    }

    fn write_ca(&self, path: &Path) {
        std::fs::write(path, &self.ca_pem).unwrap();
    }
}

/// An HTTPS webhook on `127.0.0.1` answering 204 to every request it reads.
struct HttpsReceiver {
    port: u16,
    requests: Arc<Mutex<Vec<Request>>>,
    /// TLS handshakes that did not complete (the client refused the certificate).
    refused: Arc<AtomicU64>,
}

impl HttpsReceiver {
    fn start(pki: &Pki) -> HttpsReceiver {
        let config = rustls::ServerConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(
            vec![pki.server_cert.clone()],
            PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(pki.server_key.clone())),
        )
        .unwrap();
        let config = Arc::new(config);
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let requests: Arc<Mutex<Vec<Request>>> = Arc::default();
        let refused = Arc::new(AtomicU64::new(0));
        let (reqs, refs) = (requests.clone(), refused.clone());
        std::thread::spawn(move || {
            for tcp in listener.incoming() {
                let Ok(tcp) = tcp else { continue };
                let (config, reqs, refs) = (config.clone(), reqs.clone(), refs.clone());
                std::thread::spawn(move || {
                    tcp.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
                    let conn = rustls::ServerConnection::new(config).unwrap();
                    let mut tls = rustls::StreamOwned::new(conn, tcp);
                    while tls.conn.is_handshaking() {
                        if tls.conn.complete_io(&mut tls.sock).is_err() {
                            refs.fetch_add(1, Ordering::SeqCst);
                            return;
                        }
                    }
                    let Some(req) = read_request(&mut BufReader::new(&mut tls)) else {
                        return;
                    };
                    reqs.lock().unwrap().push(req);
                    let _ = tls.write_all(b"HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n");
                    tls.conn.send_close_notify();
                    let _ = tls.flush();
                });
            }
        });
        HttpsReceiver {
            port,
            requests,
            refused,
        }
    }

    fn requests(&self) -> Vec<Request> {
        self.requests.lock().unwrap().clone()
    }
}

fn queued(outbox: &Path) -> Vec<String> {
    let mut ids: Vec<String> = std::fs::read_dir(outbox)
        .map(|rd| {
            rd.filter_map(Result::ok)
                .filter_map(|e| {
                    let n = e.file_name().to_string_lossy().into_owned();
                    n.strip_suffix(".json").map(str::to_string)
                })
                .collect()
        })
        .unwrap_or_default();
    ids.sort();
    ids
}

#[test]
fn records_are_posted_over_https_to_an_endpoint_trusted_through_ssl_cert_file() {
    let pki = Pki::new("appsweep test CA");
    let rx = HttpsReceiver::start(&pki);
    let tmp = tempfile::tempdir().unwrap();
    let ca = tmp.path().join("ca.pem");
    pki.write_ca(&ca);
    let (bad, good) = (tmp.path().join("bad"), tmp.path().join("good"));
    Ipa::new("com.zhiliaoapp.musically").write(&bad.join("t.ipa"));
    Ipa::new("com.example.notes").write(&good.join("n.ipa"));
    let outbox = tmp.path().join("outbox");
    let out = appsweep()
        .args(["scan", "files", "--format", "jsonl", "--post"])
        .arg(format!("https://127.0.0.1:{}/hook", rx.port))
        .arg("--outbox")
        .arg(&outbox)
        .args([&bad, &good])
        .env("SSL_CERT_FILE", &ca)
        .env("APPSWEEP_POST_TOKEN", "tok-over-tls")
        .output()
        .unwrap();
    let err = stderr(&out);
    assert_eq!(code(&out), 1, "{err}");
    let ids = record_ids(&out);
    assert_eq!(ids.len(), 2);
    let reqs = rx.requests();
    let mut keys: Vec<String> = reqs
        .iter()
        .map(|r| r.headers["idempotency-key"].clone())
        .collect();
    keys.sort();
    assert_eq!(keys, ids, "{err}");
    for r in &reqs {
        assert_eq!(r.target, "/hook");
        assert_eq!(r.headers["authorization"], "Bearer tok-over-tls");
        assert_eq!(r.headers["content-type"], "application/json");
        let v: serde_json::Value = serde_json::from_str(&r.body).unwrap();
        assert_eq!(
            v["record_id"].as_str(),
            Some(&*r.headers["idempotency-key"])
        );
    }
    assert!(queued(&outbox).is_empty(), "{err}");
    assert!(err.contains("2 record(s) delivered"), "{err}");
}

#[test]
fn an_untrusted_certificate_is_refused_and_the_record_stays_queued_with_its_secrets_unshown() {
    let trusted = Pki::new("the CA appsweep is told to trust");
    let other = Pki::new("a CA appsweep does not know");
    let rx = HttpsReceiver::start(&other);
    let tmp = tempfile::tempdir().unwrap();
    let ca = tmp.path().join("ca.pem");
    trusted.write_ca(&ca);
    let dev = tmp.path().join("bad");
    Ipa::new("com.zhiliaoapp.musically").write(&dev.join("t.ipa"));
    let outbox = tmp.path().join("outbox");
    let url = format!(
        "https://alice:hunter22-pass@127.0.0.1:{}/hook?token=s3cret-in-query",
        rx.port
    );
    let secrets = ["hunter22-pass", "s3cret-in-query", "tok-never-shown"];

    // Trusting another CA through SSL_CERT_FILE, then the system's roots only.
    for cert_file in [Some(&ca), None] {
        let mut cmd = appsweep();
        cmd.args(["scan", "files", "--format", "jsonl", "--post", &url])
            .arg("--outbox")
            .arg(&outbox)
            .arg(&dev)
            .env("APPSWEEP_POST_TOKEN", "tok-never-shown");
        if let Some(f) = cert_file {
            cmd.env("SSL_CERT_FILE", f);
        }
        let out = cmd.output().unwrap();
        let err = stderr(&out);
        assert_eq!(code(&out), 1, "the violation still wins: {err}");
        assert_eq!(record_ids(&out).len(), 1, "the report still comes out");
        assert!(err.contains("not delivered"), "{err}");
        assert!(err.contains("not trusted"), "{err}");
        assert!(
            err.contains(&format!("https://…@127.0.0.1:{}/hook?…", rx.port)),
            "{err}"
        );
        let shown = format!("{err}{}", String::from_utf8_lossy(&out.stdout));
        for s in secrets {
            assert!(!shown.contains(s), "{s} shown: {err}");
        }
    }
    assert!(rx.requests().is_empty(), "nothing was sent in the clear");
    // One attempt per record and run (the second run sends both): an untrusted certificate is
    // not retried with backoff. Every attempt ended before appsweep exited; the endpoint's
    // threads may still be counting them.
    let start = std::time::Instant::now();
    while rx.refused.load(Ordering::SeqCst) < 3 && start.elapsed() < Duration::from_secs(60) {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(rx.refused.load(Ordering::SeqCst), 3);

    // Both records are queued, private, with the whole URL kept for the next flush.
    let ids = queued(&outbox);
    assert_eq!(ids.len(), 2);
    let url_file = outbox.join(format!("{}.url", ids[0]));
    assert_eq!(std::fs::read_to_string(&url_file).unwrap(), url);
    use std::os::unix::fs::PermissionsExt;
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&url_file), 0o600);
    assert_eq!(mode(&outbox), 0o700);

    let list = appsweep()
        .args(["outbox", "list", "--outbox"])
        .arg(&outbox)
        .output()
        .unwrap();
    let listed = String::from_utf8_lossy(&list.stdout);
    assert_eq!(listed.lines().count(), 2, "{listed}");
    for s in secrets {
        assert!(!listed.contains(s), "{listed}");
    }

    // Once the endpoint's CA is trusted, a flush sends both, to the whole URL.
    let ca_other = tmp.path().join("other.pem");
    other.write_ca(&ca_other);
    let flush = appsweep()
        .args(["outbox", "flush", "--outbox"])
        .arg(&outbox)
        .env("SSL_CERT_FILE", &ca_other)
        .env("APPSWEEP_POST_TOKEN", "tok-never-shown")
        .output()
        .unwrap();
    assert_eq!(code(&flush), 0, "{}", stderr(&flush));
    let reqs = rx.requests();
    assert_eq!(reqs.len(), 2);
    assert!(reqs
        .iter()
        .all(|r| r.target == "/hook?token=s3cret-in-query"));
    assert!(queued(&outbox).is_empty());
}
