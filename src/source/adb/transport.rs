//! Devices behind the adb server, through our own host-protocol client ([`super::host`]): every
//! operation is one connection with one deadline for the whole operation.
//!
//! - Shell commands go over shell protocol v2 (`shell,v2,raw:`: binary-clean, stdout and
//!   stderr apart, exit status) when the device has the `shell_v2` feature (Android 7+);
//!   otherwise over `exec:` (raw, binary-clean since Android 5, stderr merged), and only if a
//!   device refuses `exec:`, over `shell:`, whose pseudo-terminal turns `\n` into `\r\n`
//!   (undone here for text; binary output needs a text encoding on such a device).
//! - Requests are never longer than the device and the server accept ([`Limits`]): an adb
//!   server aborts, dropping every attached phone, on a service request over the device's max
//!   payload (4 KiB before Android 7), and old servers refuse host requests over 4 KiB or 1 KiB.
//! - Sync `STAT` (size and mtime without `stat` on the phone) and `RECV` (the whole-file pull of
//!   last resort) use one sync session each.
//!
//! Nothing here writes to a phone: the services used are `shell`/`exec` (with read-only
//! commands built by the caller) and sync `STAT`/`RECV`. No `SEND`, no install.

use std::net::{SocketAddr, SocketAddrV4, ToSocketAddrs};
use std::sync::atomic::{AtomicU64, AtomicU8, AtomicUsize, Ordering};
use std::time::Duration;

use super::host::{self, HostConn, HostError, MAX_FRAMED};

/// Largest output kept from one shell command.
const MAX_OUTPUT: usize = 512 << 20;
/// Bytes kept free under a request limit (service prefix slack, the OPEN's NUL).
const SLACK: usize = 64;
/// Sync requests written before their answers are read.
const SYNC_WINDOW: usize = 256;

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

/// Outcome of checking for a running server.
#[derive(Debug)]
pub enum ServerCheck {
    /// A server answered `host:version` with this version (0x29 = 41 for platform-tools 29+).
    Running(u32),
    /// Nothing listens on a loopback address.
    Refused(std::io::Error),
}

/// Asks the server its version; distinguishes "no server" (connection refused) from other
/// failures.
pub fn check_server(addr: SocketAddrV4, timeout: Duration) -> Result<ServerCheck, HostError> {
    match host::query(addr, "host:version", timeout) {
        Ok(v) => Ok(ServerCheck::Running(
            u32::from_str_radix(v.trim(), 16).unwrap_or(0),
        )),
        Err(HostError::Connect { source, .. })
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

/// The longest host request a server of `version` accepts: platform-tools 28+ (version 40+)
/// take anything the `%04x` frame holds; servers built from Android 7.0-8.0 sources
/// (versions 33-39) 4 KiB; older ones 1 KiB.
pub fn server_request_limit(version: u32) -> usize {
    match version {
        0..=32 => 1024,
        33..=39 => 4096,
        _ => MAX_FRAMED,
    }
}

/// A device's max payload per packet: 4 KiB before Android 7 (and on any device without
/// `shell_v2`), 256 KiB on Android 7-8.1, 1 MiB from Android 9. `sdk` is `None` until read.
pub fn device_max_payload(shell_v2: bool, sdk: Option<u32>) -> usize {
    match (shell_v2, sdk) {
        (false, _) | (_, None) | (_, Some(0..=23)) => 4096,
        (true, Some(24..=27)) => 256 << 10,
        (true, Some(_)) => 1 << 20,
    }
}

/// How shell commands reach the device.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Channel {
    /// `shell,v2,raw:`: binary-clean, exit status, stderr apart.
    ShellV2,
    /// `exec:`: binary-clean, stderr merged into stdout.
    Exec,
    /// `shell:` under a pseudo-terminal: `\r\n` line ends, binary output mangled.
    Pty,
}

impl Channel {
    pub fn prefix(self) -> &'static str {
        match self {
            Channel::ShellV2 => "shell,v2,raw:",
            Channel::Exec => "exec:",
            Channel::Pty => "shell:",
        }
    }

    /// Whether raw bytes survive the trip.
    pub fn binary_clean(self) -> bool {
        !matches!(self, Channel::Pty)
    }
}

/// What a shell command returned.
#[derive(Debug, Default)]
pub struct ShellOutput {
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
    /// Only over shell v2; callers read exit statuses from their own sentinels.
    pub exit: Option<u8>,
}

/// Counters for one device: services opened and bytes received.
#[derive(Debug, Default)]
pub struct Counters {
    round_trips: AtomicU64,
    bytes: AtomicU64,
}

impl Counters {
    pub fn round_trips(&self) -> u64 {
        self.round_trips.load(Ordering::Relaxed)
    }
    pub fn bytes(&self) -> u64 {
        self.bytes.load(Ordering::Relaxed)
    }
    fn add(&self, bytes: usize) {
        self.bytes.fetch_add(bytes as u64, Ordering::Relaxed);
    }
}

/// One sync `STAT` answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SyncStat {
    pub mode: u32,
    pub size: u32,
    pub mtime: u32,
}

/// One device behind the adb server. Every operation opens its own connection, so a `Device`
/// is shared by the threads of one phone's scan (`&self` everywhere).
#[derive(Debug)]
pub struct Device {
    pub serial: String,
    addr: SocketAddrV4,
    /// A [`Channel`] as its index; `exec:` becomes `shell:` when the device refuses it.
    channel: AtomicU8,
    /// Longest service request (prefix + command) this device and server take; lowered or
    /// raised once the SDK level is known.
    max_request: AtomicUsize,
    pub counters: Counters,
}

const CHANNELS: [Channel; 3] = [Channel::ShellV2, Channel::Exec, Channel::Pty];

impl Device {
    /// A device reached over `channel`, with requests up to `max_request` bytes.
    pub fn new(serial: &str, addr: SocketAddrV4, channel: Channel, max_request: usize) -> Self {
        let d = Self {
            serial: serial.to_string(),
            addr,
            channel: AtomicU8::new(0),
            max_request: AtomicUsize::new(max_request),
            counters: Counters::default(),
        };
        d.set_channel(channel);
        d
    }

    pub fn channel(&self) -> Channel {
        let i = usize::from(self.channel.load(Ordering::SeqCst));
        CHANNELS.get(i).copied().unwrap_or(Channel::Pty)
    }

    pub fn set_channel(&self, channel: Channel) {
        let i = CHANNELS.iter().position(|c| *c == channel).unwrap_or(2);
        self.channel
            .store(u8::try_from(i).unwrap_or(2), Ordering::SeqCst);
    }

    pub fn set_max_request(&self, max_request: usize) {
        self.max_request.store(max_request, Ordering::SeqCst);
    }

    fn max_request(&self) -> usize {
        self.max_request.load(Ordering::SeqCst)
    }

    /// The longest command line [`Device::shell`] sends.
    pub fn max_command(&self) -> usize {
        self.max_request()
            .saturating_sub(self.channel().prefix().len() + SLACK)
    }

    /// The device's features, as the server knows them from its banner (no device round trip).
    pub fn features(&self, timeout: Duration) -> Result<Vec<String>, HostError> {
        let body = host::query(
            self.addr,
            &format!("host-serial:{}:features", self.serial),
            timeout,
        )?;
        Ok(body
            .trim()
            .split(',')
            .filter(|f| !f.is_empty())
            .map(str::to_string)
            .collect())
    }

    fn open(&self, service: &str, what: &str, timeout: Duration) -> Result<HostConn, HostError> {
        self.counters.round_trips.fetch_add(1, Ordering::Relaxed);
        host::open_service(self.addr, &self.serial, service, what, timeout)
    }

    /// Runs one shell command and returns what it printed. A command longer than
    /// [`Device::max_command`] is refused here, never sent. A device that refuses `exec:` is
    /// asked over `shell:` from then on.
    pub fn shell(&self, cmd: &str, timeout: Duration) -> Result<ShellOutput, HostError> {
        let channel = self.channel();
        match self.shell_over(channel, cmd, timeout) {
            Err(HostError::ServiceRefused { .. }) if channel == Channel::Exec => {
                self.set_channel(Channel::Pty);
                self.shell_over(Channel::Pty, cmd, timeout)
            }
            r => r,
        }
    }

    fn shell_over(
        &self,
        channel: Channel,
        cmd: &str,
        timeout: Duration,
    ) -> Result<ShellOutput, HostError> {
        let what = format!(
            "device {}: shell command ({} bytes)",
            self.serial,
            cmd.len()
        );
        let service = format!("{}{cmd}", channel.prefix());
        let limit = self.max_request();
        if service.len() + SLACK > limit {
            return Err(HostError::TooLong {
                addr: self.addr,
                what,
                len: service.len(),
                limit: limit.saturating_sub(SLACK),
            });
        }
        let started = std::time::Instant::now();
        log::trace!("{}: {}{cmd}", self.serial, channel.prefix());
        let mut c = self.open(&service, &what, timeout)?;
        let out = match channel {
            Channel::ShellV2 => read_v2(&mut c)?,
            Channel::Exec => ShellOutput {
                stdout: c.read_to_end(MAX_OUTPUT)?,
                ..ShellOutput::default()
            },
            Channel::Pty => ShellOutput {
                stdout: undo_pty(&c.read_to_end(MAX_OUTPUT)?),
                ..ShellOutput::default()
            },
        };
        self.counters.add(out.stdout.len() + out.stderr.len());
        log::debug!(
            "{}: {}{}-byte command: {} bytes back in {} ms",
            self.serial,
            channel.prefix(),
            cmd.len(),
            out.stdout.len() + out.stderr.len(),
            started.elapsed().as_millis()
        );
        Ok(out)
    }

    /// Sync `STAT` of every path, in one sync session: `None` for a path the device says is
    /// missing (mode 0). Sizes and mtimes are 32-bit in sync v1.
    pub fn stat_sync(
        &self,
        paths: &[&str],
        timeout: Duration,
    ) -> Result<Vec<Option<SyncStat>>, HostError> {
        let what = format!("device {}: sync STAT of {} files", self.serial, paths.len());
        log::debug!("{}: sync: STAT of {} files", self.serial, paths.len());
        let mut c = self.open("sync:", &what, timeout)?;
        let mut out = Vec::with_capacity(paths.len());
        for window in paths.chunks(SYNC_WINDOW) {
            let mut req = Vec::new();
            for p in window {
                req.extend_from_slice(&sync_request(b"STAT", p));
            }
            c.write_all(&req)?;
            for _ in window {
                let mut a = [0u8; 16];
                c.read_exact(&mut a)?;
                self.counters.add(16);
                if a.get(..4) != Some(b"STAT") {
                    return Err(HostError::Protocol {
                        addr: self.addr,
                        what: what.clone(),
                        detail: "sync STAT answer is not STAT",
                    });
                }
                let w = |i: usize| le32(&a, i);
                let st = SyncStat {
                    mode: w(4),
                    size: w(8),
                    mtime: w(12),
                };
                out.push((st.mode != 0).then_some(st));
            }
        }
        let _ = c.write_all(&sync_request(b"QUIT", ""));
        Ok(out)
    }

    /// Streams a whole file over sync `RECV` into `sink`, checking its length.
    pub fn pull_with(
        &self,
        path: &str,
        expected_len: u64,
        timeout: Duration,
        sink: &mut dyn FnMut(&[u8]),
    ) -> Result<(), HostError> {
        let what = format!("device {}: pull {path}", self.serial);
        let proto = |detail| HostError::Protocol {
            addr: self.addr,
            what: what.clone(),
            detail,
        };
        let mut c = self.open("sync:", &what, timeout)?;
        c.write_all(&sync_request(b"RECV", path))?;
        let mut got = 0u64;
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let mut head = [0u8; 8];
            c.read_exact(&mut head)?;
            let len = le32(&head, 4) as usize;
            match head.get(..4) {
                Some(b"DATA") => {
                    if len > buf.len() || got.saturating_add(len as u64) > expected_len {
                        return Err(proto("file larger than announced"));
                    }
                    let chunk = buf.get_mut(..len).unwrap_or_default();
                    c.read_exact(chunk)?;
                    sink(chunk);
                    got += len as u64;
                    self.counters.add(len + 8);
                }
                Some(b"DONE") => break,
                Some(b"FAIL") => {
                    let mut msg = vec![0u8; len.min(4096)];
                    c.read_exact(&mut msg)?;
                    return Err(HostError::Refused {
                        addr: self.addr,
                        what,
                        message: String::from_utf8_lossy(&msg).into_owned(),
                    });
                }
                _ => return Err(proto("unexpected sync answer")),
            }
        }
        let _ = c.write_all(&sync_request(b"QUIT", ""));
        if got != expected_len {
            return Err(proto("file shorter than announced (truncated)"));
        }
        Ok(())
    }
}

fn le32(b: &[u8], at: usize) -> u32 {
    let mut w = [0u8; 4];
    for (i, x) in w.iter_mut().enumerate() {
        *x = b.get(at + i).copied().unwrap_or(0);
    }
    u32::from_le_bytes(w)
}

fn sync_request(id: &[u8; 4], path: &str) -> Vec<u8> {
    let mut r = Vec::with_capacity(8 + path.len());
    r.extend_from_slice(id);
    r.extend_from_slice(&u32::try_from(path.len()).unwrap_or(0).to_le_bytes());
    r.extend_from_slice(path.as_bytes());
    r
}

/// Reads shell v2 frames (`[id u8][len u32 LE][bytes]`: 1 stdout, 2 stderr, 3 exit) until the
/// exit frame or the end of the stream.
fn read_v2(c: &mut HostConn) -> Result<ShellOutput, HostError> {
    let mut out = ShellOutput::default();
    loop {
        let mut head = [0u8; 5];
        let mut got = 0usize;
        while got < head.len() {
            let n = c.read(head.get_mut(got..).unwrap_or_default())?;
            if n == 0 {
                // Closed without an exit frame (a device lost mid-command): the caller's
                // sentinels tell a complete answer from a cut one.
                return Ok(out);
            }
            got += n;
        }
        let len = le32(&head, 1) as usize;
        if out
            .stdout
            .len()
            .saturating_add(out.stderr.len())
            .saturating_add(len)
            > MAX_OUTPUT
        {
            return Err(HostError::Protocol {
                addr: c.addr(),
                what: "shell v2".to_string(),
                detail: "output over the size limit",
            });
        }
        let mut data = vec![0u8; len];
        c.read_exact(&mut data)?;
        match head.first() {
            Some(1) => out.stdout.extend_from_slice(&data),
            Some(2) => out.stderr.extend_from_slice(&data),
            Some(3) => {
                out.exit = data.first().copied();
                return Ok(out);
            }
            _ => {}
        }
    }
}

/// Undoes a pseudo-terminal's `\n` → `\r\n`.
fn undo_pty(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len());
    let mut i = 0usize;
    while let Some(&b) = data.get(i) {
        if b == b'\r' && data.get(i + 1) == Some(&b'\n') {
            i += 1;
            continue;
        }
        out.push(b);
        i += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_by_server_version_and_device() {
        assert_eq!(server_request_limit(0x29), MAX_FRAMED);
        assert_eq!(server_request_limit(39), 4096);
        assert_eq!(server_request_limit(31), 1024);
        assert_eq!(device_max_payload(false, Some(34)), 4096);
        assert_eq!(device_max_payload(true, None), 4096);
        assert_eq!(device_max_payload(true, Some(23)), 4096);
        assert_eq!(device_max_payload(true, Some(25)), 256 << 10);
        assert_eq!(device_max_payload(true, Some(28)), 1 << 20);
    }

    #[test]
    fn pty_line_ends_are_undone() {
        assert_eq!(undo_pty(b"a\r\nb\r\n\r\r\nc\r"), b"a\nb\n\r\nc\r");
    }

    #[test]
    fn commands_longer_than_the_limit_are_never_sent() {
        // Nothing listens on this address: a refused request must fail before connecting.
        let addr = SocketAddrV4::new(std::net::Ipv4Addr::LOCALHOST, 9);
        let d = Device::new("x", addr, Channel::Exec, 4096);
        let cmd = "e".repeat(d.max_command() + 1);
        let e = d.shell(&cmd, Duration::from_secs(1)).unwrap_err();
        assert!(matches!(e, HostError::TooLong { .. }), "{e}");
        assert_eq!(d.counters.round_trips(), 0);
    }
}
