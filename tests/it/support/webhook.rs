//! A webhook receiver on loopback for tests of `--post`: healthy, flaky (answers 500, stalls or
//! drops the connection at random, from a seed), stalled or slow; it keeps the bodies it acknowledged
//! (2xx) by `Idempotency-Key`.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::sync::atomic::{AtomicU64, AtomicU8, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

pub const HEALTHY: u8 = 0;
pub const FLAKY: u8 = 1;
pub const STALL: u8 = 2;
/// Acknowledges every request, a tenth of a second after reading it.
pub const SLOW: u8 = 3;

/// A webhook on `127.0.0.1`, answering until the test process ends.
pub struct Receiver {
    port: u16,
    /// [`HEALTHY`], [`FLAKY`] (the start), [`STALL`] or [`SLOW`].
    pub mode: Arc<AtomicU8>,
    /// Bodies acknowledged, by idempotency key.
    pub received: Arc<Mutex<BTreeMap<String, Vec<String>>>>,
    /// Requests read, whatever the answer.
    pub requests: Arc<AtomicU64>,
    /// `Authorization` headers seen.
    pub auth: Arc<Mutex<Vec<String>>>,
}

/// One HTTP request as a webhook reads it.
#[derive(Debug, Clone)]
pub struct Request {
    /// The request target (`/hook?...`).
    pub target: String,
    /// Header names in lowercase.
    pub headers: BTreeMap<String, String>,
    pub body: String,
}

/// A request line, headers and a `Content-Length` body.
pub fn read_request(r: &mut impl BufRead) -> Option<Request> {
    let mut line = String::new();
    r.read_line(&mut line).ok()?;
    let target = line.split_whitespace().nth(1)?.to_string();
    let mut headers = BTreeMap::new();
    loop {
        let mut h = String::new();
        r.read_line(&mut h).ok()?;
        let h = h.trim_end();
        if h.is_empty() {
            break;
        }
        let (k, v) = h.split_once(':')?;
        headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_string());
    }
    let len: usize = headers.get("content-length")?.parse().ok()?;
    let mut body = vec![0; len];
    r.read_exact(&mut body).ok()?;
    Some(Request {
        target,
        headers,
        body: String::from_utf8(body).ok()?,
    })
}

impl Receiver {
    /// A flaky receiver whose failures follow `seed`.
    pub fn start(seed: u64) -> Receiver {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let mode = Arc::new(AtomicU8::new(FLAKY));
        let received: Arc<Mutex<BTreeMap<String, Vec<String>>>> = Arc::default();
        let requests = Arc::new(AtomicU64::new(0));
        let auth: Arc<Mutex<Vec<String>>> = Arc::default();
        let (m, rcv, req, au) = (
            mode.clone(),
            received.clone(),
            requests.clone(),
            auth.clone(),
        );
        std::thread::spawn(move || {
            let mut rng = seed;
            for conn in listener.incoming() {
                let Ok(mut s) = conn else { continue };
                rng ^= rng << 13;
                rng ^= rng >> 7;
                rng ^= rng << 17;
                let roll = rng % 10;
                let (m, rcv, req, au) = (m.clone(), rcv.clone(), req.clone(), au.clone());
                std::thread::spawn(move || {
                    let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
                    let Ok(read_half) = s.try_clone() else {
                        return;
                    };
                    let Some(Request { headers, body, .. }) =
                        read_request(&mut BufReader::new(read_half))
                    else {
                        return;
                    };
                    req.fetch_add(1, Ordering::SeqCst);
                    if let Some(a) = headers.get("authorization") {
                        au.lock().unwrap().push(a.clone());
                    }
                    let mode = m.load(Ordering::SeqCst);
                    if mode == STALL {
                        std::thread::sleep(Duration::from_secs(4));
                        return;
                    }
                    if mode == FLAKY {
                        match roll {
                            0..=2 => {
                                let _ = s.write_all(b"HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\n\r\n");
                                return;
                            }
                            3 => {
                                std::thread::sleep(Duration::from_millis(1500));
                                return;
                            }
                            4 => return, // drop the connection without an answer
                            _ => {}
                        }
                    }
                    if mode == SLOW {
                        std::thread::sleep(Duration::from_millis(100));
                    }
                    let key = headers.get("idempotency-key").cloned().unwrap_or_default();
                    rcv.lock().unwrap().entry(key).or_default().push(body);
                    let _ = s.write_all(b"HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n");
                });
            }
        });
        Receiver {
            port,
            mode,
            received,
            requests,
            auth,
        }
    }

    /// A receiver that acknowledges every request.
    pub fn healthy() -> Receiver {
        Receiver::in_mode(HEALTHY)
    }

    /// A receiver that starts in `mode` ([`HEALTHY`], [`STALL`], [`SLOW`]).
    pub fn in_mode(mode: u8) -> Receiver {
        let rx = Receiver::start(0);
        rx.mode.store(mode, Ordering::SeqCst);
        rx
    }

    /// Records acknowledged so far (one per idempotency key).
    pub fn records(&self) -> usize {
        self.received.lock().unwrap().len()
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}/hook", self.port)
    }
}
