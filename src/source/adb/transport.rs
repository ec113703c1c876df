//! The adb layer: the only module that talks to the adb server, and the only one that sees
//! `adb_client` types.
//!
//! - Device commands (`shell`, sync `RECV`) go through `adb_client`'s server path
//!   (`ADBServerDevice::new(serial, Some(addr))`, which spawns nothing). Each call runs on its own
//!   thread under a deadline, because the crate sets no socket timeouts: a phone that stops
//!   answering would otherwise block the scan forever. A call that misses its deadline is
//!   abandoned (its socket is closed when the process exits) and reported as a timeout.
//! - The crate's defects are guarded here and in [`super::batch`]: the exit status it loses on
//!   the server path is re-read from a sentinel that every command ends with (`echo ..R<i>=$?`),
//!   and output without the final sentinel (a phone unplugged mid-command, which the crate
//!   returns as success) is an error, never a short answer.
//! - Host queries (`host:version`, `host:devices-l`) use a tiny host-protocol client of our own
//!   with read/write timeouts, because the crate's `ADBServer` runs `adb start-server` on every
//!   call to a loopback address, behind the user's back. The only time appsweep starts a server
//!   is when none answers (connection refused) on a loopback address and `adb` is on `PATH`: it
//!   runs `adb -P PORT start-server` and says so on stderr.
//! - A host-protocol request is at most `0xffff` bytes (`%04x` length prefix), so a shell
//!   command line must stay under that; [`MAX_COMMAND`] leaves room for the service prefix.
//!
//! Nothing here writes to a phone: the services used are `shell` (with read-only commands
//! built by the caller) and sync `RECV` (pull). No `SEND`, no install, no `exec`.

use std::io::{Read, Write};
use std::net::{SocketAddr, SocketAddrV4, TcpStream, ToSocketAddrs};
use std::sync::mpsc;
use std::time::Duration;

use adb_client::ADBDeviceExt;

/// The longest shell command line sent in one request (the host protocol limit is 65535 bytes
/// including `shell,v2,TERM=...,raw:`).
pub const MAX_COMMAND: usize = 60_000;

/// Why talking to the adb server or a device failed.
#[derive(Debug, thiserror::Error)]
pub enum TransportError {
    #[error("cannot connect to the adb server at {addr}: {source}")]
    Connect {
        addr: SocketAddrV4,
        #[source]
        source: std::io::Error,
    },
    #[error("adb server at {addr}: {request}: {source}")]
    Io {
        addr: SocketAddrV4,
        request: String,
        #[source]
        source: std::io::Error,
    },
    #[error("adb server at {addr} refused {request}: {message}")]
    Refused {
        addr: SocketAddrV4,
        request: String,
        message: String,
    },
    #[error("adb server at {addr}: malformed answer to {request}: {what}")]
    Protocol {
        addr: SocketAddrV4,
        request: String,
        what: &'static str,
    },
    #[error("device {serial}: {what} did not finish within {secs} s")]
    Timeout {
        serial: String,
        what: String,
        secs: u64,
    },
    #[error("device {serial}: {what} failed: {message}")]
    Device {
        serial: String,
        what: String,
        message: String,
    },
}

/// Resolves `--adb-server HOST:PORT`, else `ANDROID_ADB_SERVER_PORT`, else 127.0.0.1:5037.
pub fn resolve_server(server: Option<&str>) -> Result<SocketAddrV4, String> {
    if let Some(s) = server {
        let addrs = s
            .to_socket_addrs()
            .map_err(|e| format!("--adb-server {s:?}: {e} (expected HOST:PORT)"))?;
        let mut v6 = false;
        for a in addrs {
            match a {
                SocketAddr::V4(v4) => return Ok(v4),
                SocketAddr::V6(_) => v6 = true,
            }
        }
        return Err(if v6 {
            format!("--adb-server {s:?}: only IPv4 adb servers are supported")
        } else {
            format!("--adb-server {s:?}: no address")
        });
    }
    let port = match std::env::var("ANDROID_ADB_SERVER_PORT") {
        Ok(p) if !p.trim().is_empty() => p
            .trim()
            .parse::<u16>()
            .map_err(|_| format!("ANDROID_ADB_SERVER_PORT={p:?} is not a port number"))?,
        _ => 5037,
    };
    Ok(SocketAddrV4::new(std::net::Ipv4Addr::LOCALHOST, port))
}

/// A host-protocol connection to the adb server with deadlines on every read and write.
fn host_connect(addr: SocketAddrV4, timeout: Duration) -> Result<TcpStream, TransportError> {
    let stream = TcpStream::connect_timeout(&SocketAddr::V4(addr), timeout)
        .map_err(|source| TransportError::Connect { addr, source })?;
    let io = |source| TransportError::Io {
        addr,
        request: "connect".to_string(),
        source,
    };
    stream.set_read_timeout(Some(timeout)).map_err(io)?;
    stream.set_write_timeout(Some(timeout)).map_err(io)?;
    let _ = stream.set_nodelay(true);
    Ok(stream)
}

/// Sends one host request and reads `OKAY` + `%04x` + body (or `FAIL` + `%04x` + message).
pub fn host_query(
    addr: SocketAddrV4,
    request: &str,
    timeout: Duration,
) -> Result<String, TransportError> {
    let mut s = host_connect(addr, timeout)?;
    let io = |source| TransportError::Io {
        addr,
        request: request.to_string(),
        source,
    };
    let proto = |what| TransportError::Protocol {
        addr,
        request: request.to_string(),
        what,
    };
    if request.len() > 0xffff {
        return Err(proto("request too long"));
    }
    s.write_all(format!("{:04x}{request}", request.len()).as_bytes())
        .map_err(io)?;
    let mut status = [0u8; 4];
    s.read_exact(&mut status).map_err(io)?;
    let body = read_hex_body(&mut s).map_err(|e| match e {
        HexBodyError::Io(source) => io(source),
        HexBodyError::BadLength => proto("bad length prefix"),
    })?;
    match &status {
        b"OKAY" => Ok(body),
        b"FAIL" => Err(TransportError::Refused {
            addr,
            request: request.to_string(),
            message: body,
        }),
        _ => Err(proto("status is neither OKAY nor FAIL")),
    }
}

enum HexBodyError {
    Io(std::io::Error),
    BadLength,
}

fn read_hex_body(s: &mut TcpStream) -> Result<String, HexBodyError> {
    let mut len = [0u8; 4];
    s.read_exact(&mut len).map_err(HexBodyError::Io)?;
    let len = std::str::from_utf8(&len)
        .ok()
        .and_then(|t| usize::from_str_radix(t, 16).ok())
        .ok_or(HexBodyError::BadLength)?;
    let mut body = vec![0u8; len];
    s.read_exact(&mut body).map_err(HexBodyError::Io)?;
    Ok(String::from_utf8_lossy(&body).into_owned())
}

/// Outcome of checking for a running server.
#[derive(Debug)]
pub enum ServerCheck {
    Running,
    /// Nothing listens on a loopback address.
    Refused(std::io::Error),
}

/// Asks the server its version; distinguishes "no server" (connection refused) from other
/// failures.
pub fn check_server(addr: SocketAddrV4, timeout: Duration) -> Result<ServerCheck, TransportError> {
    match host_query(addr, "host:version", timeout) {
        Ok(_) => Ok(ServerCheck::Running),
        Err(TransportError::Connect { source, .. })
            if source.kind() == std::io::ErrorKind::ConnectionRefused
                && addr.ip().is_loopback() =>
        {
            Ok(ServerCheck::Refused(source))
        }
        Err(e) => Err(e),
    }
}

/// Where `adb` is on `PATH`, if anywhere.
pub fn find_adb() -> Option<std::path::PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join("adb"))
        .find(|p| p.is_file())
}

/// Runs `adb -P PORT start-server` (only called when no server answers on a loopback port).
pub fn start_server(adb: &std::path::Path, port: u16) -> std::io::Result<std::process::ExitStatus> {
    std::process::Command::new(adb)
        .arg("-P")
        .arg(port.to_string())
        .arg("start-server")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .status()
}

/// What a shell command returned. `rc` is not the crate's (which is lost on the server path):
/// callers read exit statuses from their own sentinels in `stdout`.
#[derive(Debug, Default)]
pub struct ShellOutput {
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
}

/// Counters for one device: services opened and bytes received.
#[derive(Debug, Default, Clone, Copy)]
pub struct Counters {
    pub round_trips: u64,
    pub bytes: u64,
}

/// One device behind the adb server. Every operation opens a fresh connection (the crate's
/// server path), so one `Device` per thread shares nothing with other devices.
#[derive(Debug)]
pub struct Device {
    pub serial: String,
    addr: SocketAddrV4,
    pub counters: Counters,
}

/// A bounded in-memory writer (a pull stops past `limit` bytes).
struct Bounded {
    buf: Vec<u8>,
    limit: usize,
}

impl Write for Bounded {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        if self.buf.len().saturating_add(data.len()) > self.limit {
            return Err(std::io::Error::other("file larger than announced"));
        }
        self.buf.extend_from_slice(data);
        Ok(data.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Device {
    pub fn new(serial: &str, addr: SocketAddrV4) -> Self {
        Self {
            serial: serial.to_string(),
            addr,
            counters: Counters::default(),
        }
    }

    /// Runs `f` on a fresh crate device in its own thread, waiting at most `timeout`.
    fn with_deadline<T: Send + 'static>(
        &self,
        what: &str,
        timeout: Duration,
        f: impl FnOnce(&mut adb_client::server_device::ADBServerDevice) -> T + Send + 'static,
    ) -> Result<T, TransportError> {
        let (tx, rx) = mpsc::channel();
        let serial = self.serial.clone();
        let addr = self.addr;
        let spawned = std::thread::Builder::new()
            .name(format!("adb {serial}"))
            .spawn(move || {
                let mut dev = adb_client::server_device::ADBServerDevice::new(serial, Some(addr));
                let _ = tx.send(f(&mut dev));
            });
        if let Err(e) = spawned {
            return Err(TransportError::Device {
                serial: self.serial.clone(),
                what: what.to_string(),
                message: format!("cannot start a thread: {e}"),
            });
        }
        match rx.recv_timeout(timeout) {
            Ok(v) => Ok(v),
            Err(mpsc::RecvTimeoutError::Timeout) => Err(TransportError::Timeout {
                serial: self.serial.clone(),
                what: what.to_string(),
                secs: timeout.as_secs(),
            }),
            Err(mpsc::RecvTimeoutError::Disconnected) => Err(TransportError::Device {
                serial: self.serial.clone(),
                what: what.to_string(),
                message: "the adb worker stopped without an answer".to_string(),
            }),
        }
    }

    /// Runs one shell command (shell v2 when the device has it) and returns what it printed.
    /// A crate error is an error; a short answer is detected by the caller's sentinels.
    pub fn shell(&mut self, cmd: &str, timeout: Duration) -> Result<ShellOutput, TransportError> {
        let what = format!("shell command ({} bytes)", cmd.len());
        if cmd.len() > MAX_COMMAND {
            return Err(TransportError::Device {
                serial: self.serial.clone(),
                what,
                message: "command line too long".to_string(),
            });
        }
        self.counters.round_trips += 1;
        let owned = cmd.to_string();
        let result = self.with_deadline(&what, timeout, move |dev| {
            let mut out = Vec::new();
            let mut err = Vec::new();
            let r = dev.shell_command(&owned, Some(&mut out), Some(&mut err));
            (r.map(|_| ()).map_err(|e| e.to_string()), out, err)
        })?;
        let (r, stdout, stderr) = result;
        self.counters.bytes += (stdout.len() + stderr.len()) as u64;
        match r {
            Ok(()) => Ok(ShellOutput { stdout, stderr }),
            Err(message) => Err(TransportError::Device {
                serial: self.serial.clone(),
                what,
                message,
            }),
        }
    }

    /// Pulls a whole file with sync `RECV` (the last resort), checking its length.
    pub fn pull(
        &mut self,
        path: &str,
        expected_len: u64,
        timeout: Duration,
    ) -> Result<Vec<u8>, TransportError> {
        let what = format!("pull {path}");
        let limit = usize::try_from(expected_len).unwrap_or(usize::MAX);
        self.counters.round_trips += 1;
        let owned = path.to_string();
        let (r, data) = self.with_deadline(&what, timeout, move |dev| {
            let mut w = Bounded {
                buf: Vec::new(),
                limit,
            };
            let r = dev.pull(&owned, &mut w).map_err(|e| e.to_string());
            (r, w.buf)
        })?;
        self.counters.bytes += data.len() as u64;
        let err = |message: String| TransportError::Device {
            serial: self.serial.clone(),
            what: what.clone(),
            message,
        };
        r.map_err(err)?;
        if data.len() as u64 != expected_len {
            return Err(err(format!(
                "received {} bytes of {expected_len} (truncated)",
                data.len()
            )));
        }
        Ok(data)
    }
}
