//! The adb host protocol, client side: one TCP connection to the adb server per operation, with
//! a deadline for the **whole operation** (every read and write gets only the time left), so a
//! server or device that trickles bytes cannot keep appsweep waiting longer than the operation's
//! deadline.
//!
//! Requests are `%04x` + text; answers `OKAY`, or `FAIL` + `%04x` + message. Host queries
//! (`host:version`, `host:devices-l`, `host-serial:S:features`) answer `OKAY` + `%04x` + body.
//! A device service is `host:transport:SERIAL` then the service (`shell,v2,raw:CMD`,
//! `exec:CMD`, `shell:CMD`, `sync:`) on the same connection, after which the stream belongs
//! to the service.

use std::io::{Read, Write};
use std::net::{SocketAddr, SocketAddrV4, TcpStream};
use std::time::{Duration, Instant};

/// Why a host-protocol exchange failed.
#[derive(Debug, thiserror::Error)]
pub enum HostError {
    #[error("cannot connect to the adb server at {addr}: {source}")]
    Connect {
        addr: SocketAddrV4,
        #[source]
        source: std::io::Error,
    },
    #[error("adb server at {addr}: {what}: {source}")]
    Io {
        addr: SocketAddrV4,
        what: String,
        #[source]
        source: std::io::Error,
    },
    #[error("adb server at {addr}: {what} did not finish within {secs} s")]
    Deadline {
        addr: SocketAddrV4,
        what: String,
        secs: u64,
    },
    #[error("adb server at {addr} refused {what}: {message}")]
    Refused {
        addr: SocketAddrV4,
        what: String,
        message: String,
    },
    /// The device did not open the service (an unknown service closes without `OKAY`).
    #[error("{what}: the device refused the service: {message}")]
    ServiceRefused { what: String, message: String },
    #[error("adb server at {addr}: malformed answer to {what}: {detail}")]
    Protocol {
        addr: SocketAddrV4,
        what: String,
        detail: &'static str,
    },
    #[error("adb server at {addr}: {what}: request of {len} bytes is over the {limit}-byte limit")]
    TooLong {
        addr: SocketAddrV4,
        what: String,
        len: usize,
        limit: usize,
    },
}

/// The largest request the host protocol can frame (`%04x` length).
pub const MAX_FRAMED: usize = 0xffff;

/// One connection to the adb server under one deadline.
#[derive(Debug)]
pub struct HostConn {
    stream: TcpStream,
    addr: SocketAddrV4,
    what: String,
    started: Instant,
    timeout: Duration,
}

impl HostConn {
    /// Connects for the operation `what`, which must finish within `timeout`.
    pub fn connect(addr: SocketAddrV4, what: &str, timeout: Duration) -> Result<Self, HostError> {
        let started = Instant::now();
        let stream = TcpStream::connect_timeout(&SocketAddr::V4(addr), timeout.max(ms(1)))
            .map_err(|source| HostError::Connect { addr, source })?;
        let _ = stream.set_nodelay(true);
        Ok(Self {
            stream,
            addr,
            what: what.to_string(),
            started,
            timeout,
        })
    }

    pub fn addr(&self) -> SocketAddrV4 {
        self.addr
    }

    /// The time left, or the deadline error.
    fn left(&self) -> Result<Duration, HostError> {
        let left = self.timeout.saturating_sub(self.started.elapsed());
        if left.is_zero() {
            return Err(self.deadline());
        }
        Ok(left)
    }

    fn deadline(&self) -> HostError {
        HostError::Deadline {
            addr: self.addr,
            what: self.what.clone(),
            secs: self.timeout.as_secs(),
        }
    }

    fn io(&self, source: std::io::Error) -> HostError {
        if matches!(
            source.kind(),
            std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
        ) {
            return self.deadline();
        }
        HostError::Io {
            addr: self.addr,
            what: self.what.clone(),
            source,
        }
    }

    fn protocol(&self, detail: &'static str) -> HostError {
        HostError::Protocol {
            addr: self.addr,
            what: self.what.clone(),
            detail,
        }
    }

    /// Sends one `%04x`-framed request.
    pub fn send(&mut self, request: &str) -> Result<(), HostError> {
        if request.len() > MAX_FRAMED {
            return Err(HostError::TooLong {
                addr: self.addr,
                what: self.what.clone(),
                len: request.len(),
                limit: MAX_FRAMED,
            });
        }
        let framed = format!("{:04x}{request}", request.len());
        self.write_all(framed.as_bytes())
    }

    /// Writes raw bytes (sync requests) under the deadline.
    pub fn write_all(&mut self, mut data: &[u8]) -> Result<(), HostError> {
        while !data.is_empty() {
            let left = self.left()?;
            self.stream
                .set_write_timeout(Some(left))
                .map_err(|e| self.io(e))?;
            match self.stream.write(data) {
                Ok(0) => return Err(self.io(std::io::ErrorKind::WriteZero.into())),
                Ok(n) => data = data.get(n..).unwrap_or_default(),
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(self.io(e)),
            }
        }
        Ok(())
    }

    /// Reads up to `buf.len()` bytes; `Ok(0)` at end of stream.
    pub fn read(&mut self, buf: &mut [u8]) -> Result<usize, HostError> {
        loop {
            let left = self.left()?;
            self.stream
                .set_read_timeout(Some(left))
                .map_err(|e| self.io(e))?;
            match self.stream.read(buf) {
                Ok(n) => return Ok(n),
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(self.io(e)),
            }
        }
    }

    /// Reads exactly `buf.len()` bytes.
    pub fn read_exact(&mut self, buf: &mut [u8]) -> Result<(), HostError> {
        let mut got = 0usize;
        while got < buf.len() {
            let n = self.read(buf.get_mut(got..).unwrap_or_default())?;
            if n == 0 {
                return Err(self.io(std::io::ErrorKind::UnexpectedEof.into()));
            }
            got += n;
        }
        Ok(())
    }

    /// Reads `OKAY`, or turns `FAIL` + message into [`HostError::Refused`].
    pub fn status(&mut self) -> Result<(), HostError> {
        let mut st = [0u8; 4];
        self.read_exact(&mut st)?;
        match &st {
            b"OKAY" => Ok(()),
            b"FAIL" => {
                let message = self.hex_body()?;
                Err(HostError::Refused {
                    addr: self.addr,
                    what: self.what.clone(),
                    message,
                })
            }
            _ => Err(self.protocol("status is neither OKAY nor FAIL")),
        }
    }

    /// Reads `%04x` + that many bytes.
    pub fn hex_body(&mut self) -> Result<String, HostError> {
        let mut len = [0u8; 4];
        self.read_exact(&mut len)?;
        let len = std::str::from_utf8(&len)
            .ok()
            .and_then(|t| usize::from_str_radix(t, 16).ok())
            .ok_or_else(|| self.protocol("bad length prefix"))?;
        let mut body = vec![0u8; len];
        self.read_exact(&mut body)?;
        Ok(String::from_utf8_lossy(&body).into_owned())
    }

    /// Reads everything until the other side closes, at most `limit` bytes.
    pub fn read_to_end(&mut self, limit: usize) -> Result<Vec<u8>, HostError> {
        let mut out = Vec::new();
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let n = self.read(&mut buf)?;
            if n == 0 {
                return Ok(out);
            }
            if out.len().saturating_add(n) > limit {
                return Err(self.protocol("answer larger than expected"));
            }
            out.extend_from_slice(buf.get(..n).unwrap_or_default());
        }
    }
}

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// One host query (`host:version`, `host:devices-l`, `host-serial:S:features`): the body of
/// its `OKAY` answer, all within `timeout`.
pub fn query(addr: SocketAddrV4, request: &str, timeout: Duration) -> Result<String, HostError> {
    let mut c = HostConn::connect(addr, request, timeout)?;
    c.send(request)?;
    c.status()?;
    c.hex_body()
}

/// Opens `service` on device `serial`; the returned connection carries the service's stream.
pub fn open_service(
    addr: SocketAddrV4,
    serial: &str,
    service: &str,
    what: &str,
    timeout: Duration,
) -> Result<HostConn, HostError> {
    let mut c = HostConn::connect(addr, what, timeout)?;
    c.send(&format!("host:transport:{serial}"))?;
    c.status()?;
    c.send(service)?;
    match c.status() {
        Ok(()) => Ok(c),
        Err(HostError::Refused { message, .. }) => Err(HostError::ServiceRefused {
            what: what.to_string(),
            message,
        }),
        Err(HostError::Io { source, .. }) if source.kind() == std::io::ErrorKind::UnexpectedEof => {
            Err(HostError::ServiceRefused {
                what: what.to_string(),
                message: "closed without an answer".to_string(),
            })
        }
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;

    /// A loopback "server" that runs `f` on the first connection.
    fn serve(f: impl FnOnce(TcpStream) + Send + 'static) -> SocketAddrV4 {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let SocketAddr::V4(addr) = l.local_addr().unwrap() else {
            unreachable!()
        };
        std::thread::spawn(move || {
            if let Ok((s, _)) = l.accept() {
                f(s);
            }
        });
        addr
    }

    #[test]
    fn query_reads_okay_body_and_fail_message() {
        let addr = serve(|mut s| {
            let mut req = [0u8; 16];
            let _ = s.read(&mut req);
            let _ = s.write_all(b"OKAY00040029");
        });
        assert_eq!(query(addr, "host:version", ms(5000)).unwrap(), "0029");
        let addr = serve(|mut s| {
            let mut req = [0u8; 64];
            let _ = s.read(&mut req);
            let _ = s.write_all(b"FAIL0010device not found");
        });
        let e = query(addr, "host-serial:x:features", ms(5000)).unwrap_err();
        assert!(
            matches!(e, HostError::Refused { ref message, .. } if message == "device not found"),
            "{e}"
        );
    }

    #[test]
    fn a_trickling_server_meets_the_deadline_of_the_whole_operation() {
        // One byte every 300 ms: each read succeeds, the operation must still end at 1 s.
        let addr = serve(|mut s| {
            let mut req = [0u8; 64];
            let _ = s.read(&mut req);
            for b in b"OKAYffff".iter().chain([b'x'; 100].iter()) {
                if s.write_all(&[*b]).is_err() {
                    return;
                }
                std::thread::sleep(ms(300));
            }
        });
        let t0 = Instant::now();
        let e = query(addr, "host:devices-l", ms(1000)).unwrap_err();
        assert!(matches!(e, HostError::Deadline { .. }), "{e}");
        assert!(t0.elapsed() < ms(3000), "{:?}", t0.elapsed());
    }

    #[test]
    fn requests_over_the_frame_limit_are_not_sent() {
        let addr = serve(|_| {});
        let mut c = HostConn::connect(addr, "x", ms(2000)).unwrap();
        let long = "x".repeat(MAX_FRAMED + 1);
        assert!(matches!(c.send(&long), Err(HostError::TooLong { .. })));
    }
}
