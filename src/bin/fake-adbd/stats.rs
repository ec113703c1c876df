//! Counters of what the host asked for, written atomically to the stats file.

use serde::Serialize;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Mutex;

#[derive(Debug, Default, Clone, Serialize)]
pub struct Counters {
    /// Transport connections accepted (the adb server connects once per `adb connect`).
    pub connections: u64,
    /// Connections that completed the CNXN (and AUTH) handshake.
    pub online_connections: u64,
    /// Services opened: every OPEN is one round trip.
    pub opens: u64,
    /// Services that completed (CLSE sent or received).
    pub services_closed: u64,
    /// OPENs per service kind (`shell`, `shell_v2`, `exec`, `sync`, `unknown:...`).
    pub services: BTreeMap<String, u64>,
    /// Shell services run (`shell:` / `shell,v2,...:` / `exec:`).
    pub shell_commands: u64,
    /// Simple commands executed inside those shells, by name (`pm list packages` counts as `pm`).
    pub commands: BTreeMap<String, u64>,
    /// Full command lines of every shell service, in order.
    pub command_lines: Vec<String>,
    /// Bytes sent in WRTE payloads.
    pub bytes_sent: u64,
    /// Bytes received in WRTE payloads.
    pub bytes_received: u64,
    /// WRTE packets sent.
    pub wrte_sent: u64,
    /// Sync requests by id (`STAT`, `LIST`, `RECV`, `SEND`, `QUIT`, ...).
    pub sync_requests: BTreeMap<String, u64>,
    /// File bytes sent in sync DATA chunks.
    pub sync_recv_bytes: u64,
    /// Bytes of served files read by shell commands (`sha256sum`, `dd`, `cat`, ...).
    pub file_bytes_read: u64,
    /// Anything that would change the phone (push, install, rm, ...): refused and listed here.
    pub write_attempts: Vec<String>,
    /// Longest OPEN payload (service string and its NUL) received, in bytes.
    pub longest_open: u64,
    /// Packets longer than the device's max payload. A real adbd drops the connection (the
    /// fake does too); the adb server aborts before sending such an OPEN (`CHECK_LE` in
    /// `connect_to_remote`), dropping every phone, so a host must never build one.
    pub oversized_packets: u64,
    /// What those packets were (command, length, max, first bytes).
    pub oversized: Vec<String>,
    /// Phone time spent by the cost model, in ms (before `scale`).
    pub phone_ms: f64,
    /// `dumpsys` runs cut by the per-service budget (a `DUMP TIMEOUT` line was printed).
    pub dumpsys_timeouts: u64,
    /// Whether the device hung up because of `drop_after_services`.
    pub dropped: bool,
}

pub struct Stats {
    pub counters: Mutex<Counters>,
    path: Option<PathBuf>,
}

impl Stats {
    pub fn new(path: Option<PathBuf>) -> Stats {
        Stats {
            counters: Mutex::new(Counters::default()),
            path,
        }
    }

    pub fn update(&self, f: impl FnOnce(&mut Counters)) {
        let mut g = match self.counters.lock() {
            Ok(g) => g,
            Err(poisoned) => poisoned.into_inner(),
        };
        f(&mut g);
    }

    pub fn snapshot(&self) -> Counters {
        match self.counters.lock() {
            Ok(g) => g.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// Writes the counters to the stats file (temp file + rename, so readers never see half).
    pub fn write(&self) {
        let Some(path) = &self.path else { return };
        let snap = self.snapshot();
        let Ok(text) = serde_json::to_string_pretty(&snap) else {
            return;
        };
        let mut tmp = path.clone().into_os_string();
        tmp.push(format!(".tmp{}", std::process::id()));
        let tmp = PathBuf::from(tmp);
        // Serialise writers so two services closing together cannot interleave temp files.
        static WRITE_LOCK: Mutex<()> = Mutex::new(());
        let _g = WRITE_LOCK.lock();
        if std::fs::write(&tmp, text.as_bytes()).is_ok() && std::fs::rename(&tmp, path).is_err() {
            let _ = std::fs::remove_file(&tmp);
        }
    }
}
