//! Live Android phones through an adb server: every attached phone (concurrently, one thread
//! each), every user and work profile, fingerprints of the APKs without pulling them.
//!
//! Per phone, a handful of round trips regardless of the number of packages (see
//! [`device`]): identity, users and the whole `dumpsys package` in one shell command; every
//! user's package list in one more; `pm path` for the APKs to fingerprint; `stat` (and
//! `sha256sum` with `--hash all`); then a few rounds of batched range reads
//! ([`fingerprint`]). Fingerprints are cached by (path, size, mtime) ([`cache`]).
//!
//! **Read-only.** The only commands sent to a phone are `getprop`, `pm list users`,
//! `pm list packages`, `pm path`, `dumpsys package`, `stat`, `dd` (reading), `base64`,
//! `sha256sum` and `echo`, plus sync `RECV` (pull) as a last resort. Nothing is pushed,
//! installed, granted or changed.
//!
//! A device that is unauthorized, offline, missing or lost mid-scan still gets an inventory,
//! with a [`Problem`](crate::model::Problem) saying what could not be read (status
//! `incomplete`): it is never skipped silently.
//!
//! The parts: `host` and `transport` (the adb host protocol, one deadline per operation), `state`
//! (device states and what to tell the user), `batch` (many shell commands in one service),
//! `caps` (what a phone can do), [`parse`] and `dumpsys` (pure parsers of what the shell prints),
//! `device` (the rounds of one phone's scan), `merge` (their results into app records),
//! `fingerprint` (APK range reads in lockstep), `cache` and `memo` (what a re-scan reuses).

mod batch;
mod cache;
mod caps;
mod device;
mod dumpsys;
mod fingerprint;
mod host;
mod memo;
mod merge;
pub mod parse;
mod state;
mod transport;

use std::time::Duration;

use super::Emit;

pub use cache::default_dir as default_cache_dir;
pub use state::DeviceState;

/// Options for `scan adb` and `devices`.
#[derive(Debug, Clone, Default)]
pub struct AdbOptions {
    /// `HOST:PORT` of the adb server; `None`: `ANDROID_ADB_SERVER_PORT` or 127.0.0.1:5037.
    pub server: Option<String>,
    /// Only these serials; empty: every attached device.
    pub serials: Vec<String>,
    /// Compute file SHA-256 on the phone for every APK (`--hash all`).
    pub hash_all: bool,
    /// Fingerprint cache directory; `None` disables the cache.
    pub cache_dir: Option<std::path::PathBuf>,
    /// Deadline for one adb operation (one shell command or pull); `None`: 120 s.
    pub timeout: Option<Duration>,
    /// Show a progress line for long work (an APK pulled whole) on a terminal stderr.
    pub progress: bool,
}

impl AdbOptions {
    fn op_timeout(&self) -> Duration {
        self.timeout.unwrap_or(Duration::from_secs(120))
    }
}

/// Why the adb source could not run at all (per-device failures are problems in inventories).
#[derive(Debug, thiserror::Error)]
pub enum AdbError {
    #[error("bad adb server address: {0}")]
    BadServer(String),
    #[error(
        "no adb server is running on {addr} and `adb` is not on PATH: install Android \
         platform-tools (Debian/Ubuntu: `apt install adb`; others: \
         https://developer.android.com/tools/releases/platform-tools) or start a server"
    )]
    AdbMissing { addr: std::net::SocketAddrV4 },
    #[error("no adb server on {addr}, and `adb -P {port} start-server` failed: {message}", port = addr.port())]
    StartServer {
        addr: std::net::SocketAddrV4,
        message: String,
    },
    #[error(transparent)]
    Server(#[from] host::HostError),
    #[error("no Android device is attached to the adb server at {addr} (check the cable, enable USB debugging, and see `adb devices`)")]
    NoDevices { addr: std::net::SocketAddrV4 },
}

/// One line of `appsweep devices`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct DeviceEntry {
    pub serial: String,
    pub state: DeviceState,
    pub model: Option<String>,
    pub product: Option<String>,
    /// `usb:1-1`, or the TCP address for a network device.
    pub transport: Option<String>,
    /// What the user should do, for states other than `device`.
    pub hint: Option<String>,
}

fn entry_from(line: &parse::DeviceLine) -> DeviceEntry {
    DeviceEntry {
        serial: line.serial.clone(),
        state: DeviceState::from_adb(&line.state),
        model: line.model.clone(),
        product: line.product.clone(),
        transport: line
            .usb
            .as_ref()
            .map(|u| format!("usb:{u}"))
            .or_else(|| line.serial.contains(':').then(|| line.serial.clone())),
        hint: DeviceState::from_adb(&line.state).hint(),
    }
}

/// Connects to the adb server, starting one only when none runs on a loopback address and
/// `adb` is on PATH (said on stderr). Returns its address and the longest request it takes.
fn connect(opts: &AdbOptions) -> Result<(std::net::SocketAddrV4, usize), AdbError> {
    let addr = transport::resolve_server(opts.server.as_deref()).map_err(AdbError::BadServer)?;
    let t = HOST_TIMEOUT;
    let running = |v| (addr, transport::server_request_limit(v));
    match transport::check_server(addr, t)? {
        transport::ServerCheck::Running(v) => Ok(running(v)),
        transport::ServerCheck::Refused(_) => {
            let adb = transport::find_adb().ok_or(AdbError::AdbMissing { addr })?;
            eprintln!(
                "appsweep: no adb server on {addr}; starting one with `{} -P {} start-server`",
                adb.display(),
                addr.port()
            );
            let status =
                transport::start_server(&adb, addr.port()).map_err(|e| AdbError::StartServer {
                    addr,
                    message: e.to_string(),
                })?;
            if !status.success() {
                return Err(AdbError::StartServer {
                    addr,
                    message: format!("it exited with {status}"),
                });
            }
            match transport::check_server(addr, t)? {
                transport::ServerCheck::Running(v) => Ok(running(v)),
                transport::ServerCheck::Refused(e) => Err(AdbError::StartServer {
                    addr,
                    message: format!("the server still refuses connections: {e}"),
                }),
            }
        }
    }
}

/// Deadline of one host query (`host:version`, `host:devices-l`), however slowly the server
/// answers.
const HOST_TIMEOUT: Duration = Duration::from_secs(10);

fn device_lines(addr: std::net::SocketAddrV4) -> Result<Vec<parse::DeviceLine>, AdbError> {
    let body = host::query(addr, "host:devices-l", HOST_TIMEOUT)?;
    let mut lines = parse::parse_devices_l(&body);
    lines.sort_by(|a, b| a.serial.cmp(&b.serial));
    Ok(lines)
}

/// Lists attached devices through the adb server.
pub fn list_devices(opts: &AdbOptions) -> Result<Vec<DeviceEntry>, AdbError> {
    let (addr, _) = connect(opts)?;
    Ok(device_lines(addr)?.iter().map(entry_from).collect())
}

/// Scans every selected device concurrently, emitting one inventory per device as it finishes.
/// With no serials given, every attached device is scanned (never just the first).
pub fn scan(opts: &AdbOptions, emit: Emit<'_>) -> Result<(), AdbError> {
    let (addr, server_limit) = connect(opts)?;
    let lines = device_lines(addr)?;
    let mut selected: Vec<DeviceEntry> = Vec::new();
    if opts.serials.is_empty() {
        if lines.is_empty() {
            return Err(AdbError::NoDevices { addr });
        }
        selected.extend(lines.iter().map(entry_from));
    } else {
        let mut serials = opts.serials.clone();
        serials.sort();
        serials.dedup();
        for s in serials {
            match lines.iter().find(|l| l.serial == s) {
                Some(l) => selected.push(entry_from(l)),
                None => selected.push(DeviceEntry {
                    serial: s,
                    state: DeviceState::Missing,
                    model: None,
                    product: None,
                    transport: None,
                    hint: DeviceState::Missing.hint(),
                }),
            }
        }
    }
    let tag = batch::make_tag();
    std::thread::scope(|s| {
        for entry in &selected {
            let tag = tag.as_str();
            let spawned = std::thread::Builder::new()
                .name(format!("scan {}", entry.serial))
                .spawn_scoped(s, move || {
                    emit(device::scan_device(entry, addr, opts, tag, server_limit))
                });
            if let Err(e) = spawned {
                let mut inv = device::empty_inventory(entry);
                inv.problems.push(crate::model::Problem::new(
                    "device",
                    format!("could not start a scan thread: {e}"),
                ));
                emit(inv);
            }
        }
    });
    Ok(())
}
