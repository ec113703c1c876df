//! Fake iPhones (`fake-iphone`) behind a private usbmuxd socket, and the commands that talk to
//! them: appsweep and Debian's libimobiledevice tools, with `USBMUXD_SOCKET_ADDRESS` pointing at
//! the fake. The RSA keys the fake makes are kept for the whole test run (making them is slow).
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::sync::OnceLock;
use std::time::Duration;

use serde_json::{json, Value};

use super::cmd::{appsweep, both, hermetic};

pub const FAKE_IPHONE: &str = env!("CARGO_BIN_EXE_fake-iphone");

pub const TIKTOK: &str = "com.zhiliaoapp.musically";
pub const TIKTOK_STORE_ID: u64 = 835_599_320;
pub const DOUYIN: &str = "com.ss.iphone.ugc.Aweme";
pub const APPLE_ID: &str = "buyer@example.com";

/// A UDID for phone `n` of a test (modern form, `8hex-16hex`).
pub fn udid(n: u32) -> String {
    format!("00008110-{:016X}", 0x000A_1B2C_0000_0000u64 + u64::from(n))
}

fn key_cache() -> &'static Path {
    static DIR: OnceLock<tempfile::TempDir> = OnceLock::new();
    DIR.get_or_init(|| tempfile::tempdir().unwrap()).path()
}

/// True when Debian's libimobiledevice tools run. Panics with what to install when they do not,
/// unless tool tests are skipped (`APPSWEEP_SKIP_TOOL_TESTS=1`, then false).
pub fn tools_available() -> bool {
    let ok = ["ideviceinfo", "idevicepair", "ideviceinstaller"]
        .iter()
        .all(|t| {
            Command::new(t)
                .arg("--help")
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_ok()
        });
    if ok {
        return true;
    }
    if std::env::var("APPSWEEP_SKIP_TOOL_TESTS").is_ok_and(|v| v == "1") {
        return false;
    }
    panic!(
        "Debian's libimobiledevice tools are required (apt-get install -y libimobiledevice-utils \
         ideviceinstaller); set APPSWEEP_SKIP_TOOL_TESTS=1 to skip tool tests"
    );
}

/// A paired iPhone with `apps` (JSON app objects) and the given number of filler user apps.
pub fn iphone(n: u32, apps: Value, filler_user_apps: usize) -> Value {
    json!({
        "udid": udid(n), "paired": true, "serial": format!("F2LZK0AA{n:04}"),
        "imei": "356789012345678", "phone_number": "+1 555 0100",
        "iccid": "8901260000000000001", "device_name": "Alice's iPhone",
        "apps": apps, "filler_user_apps": filler_user_apps, "filler_system_apps": 30
    })
}

pub fn tiktok() -> Value {
    json!({"id": TIKTOK, "name": "TikTok", "version": "34.1.0", "item_id": TIKTOK_STORE_ID,
           "artist": "TikTok Ltd.", "apple_id": APPLE_ID})
}

/// Sets `key` of a JSON object.
pub fn with(mut v: Value, key: &str, value: Value) -> Value {
    v[key] = value;
    v
}

/// `phone` with every field of the object `fields` set (`with` for several at once).
pub fn with_all(mut phone: Value, fields: Value) -> Value {
    if let (Some(p), Some(f)) = (phone.as_object_mut(), fields.as_object()) {
        p.extend(f.clone());
    }
    phone
}

/// A running fake usbmuxd with its phones; killed on drop.
pub struct FakeIphone {
    child: Child,
    dir: tempfile::TempDir,
    address: String,
}

impl FakeIphone {
    /// Starts the fake with `phones` and `round_trip_ms` of latency per answer.
    pub fn start(phones: Vec<Value>, round_trip_ms: u64) -> FakeIphone {
        let dir = tempfile::tempdir().unwrap();
        let scenario = json!({
            "round_trip_ms": round_trip_ms,
            "key_cache": key_cache(),
            "phones": phones,
        });
        let path = dir.path().join("scenario.json");
        std::fs::write(&path, serde_json::to_vec_pretty(&scenario).unwrap()).unwrap();
        let mut child = Command::new(FAKE_IPHONE)
            .arg("--scenario")
            .arg(&path)
            .arg("--socket")
            .arg(dir.path().join("usbmuxd"))
            .arg("--stats-file")
            .arg(dir.path().join("stats.json"))
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            let _ = BufReader::new(stdout).read_line(&mut line);
            let _ = tx.send(line);
        });
        // Generous: the first start of a run makes RSA keys, on a machine that may be busy.
        let line = rx
            .recv_timeout(Duration::from_secs(300))
            .unwrap_or_default();
        let Some(address) = line.trim().strip_prefix("LISTENING ") else {
            let _ = child.kill();
            panic!("fake-iphone did not start: {line:?}");
        };
        FakeIphone {
            address: address.to_string(),
            child,
            dir,
        }
    }

    /// `UNIX:/path`, as `USBMUXD_SOCKET_ADDRESS` takes it.
    pub fn address(&self) -> &str {
        &self.address
    }

    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// What each phone was asked so far (by UDID).
    pub fn stats(&self) -> Value {
        std::fs::read(self.dir.path().join("stats.json"))
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or(Value::Null)
    }

    /// One counter of one phone (0 when never counted).
    pub fn count(&self, udid: &str, what: &str) -> u64 {
        self.stats()[udid][what].as_u64().unwrap_or(0)
    }

    /// `appsweep` talking to this fake.
    pub fn appsweep(&self) -> Command {
        let mut c = appsweep();
        c.env("USBMUXD_SOCKET_ADDRESS", &self.address);
        c
    }

    /// A libimobiledevice tool talking to this fake (with a private HOME and config folder).
    pub fn tool(&self, program: &str) -> Command {
        let mut c = hermetic(program);
        c.env("USBMUXD_SOCKET_ADDRESS", &self.address)
            .env("HOME", self.dir.path())
            .stdin(Stdio::null());
        c
    }

    /// Runs `program ARGS` against the fake, asserts that it succeeded and returns its stdout.
    pub fn tool_ok(&self, program: &str, args: &[&str]) -> String {
        let o = self.tool(program).args(args).output().unwrap();
        assert!(o.status.success(), "{program} {args:?}: {}", both(&o));
        String::from_utf8_lossy(&o.stdout).into_owned()
    }

    /// Runs `program ARGS` against the fake, asserts that it failed and returns what it printed
    /// (stdout and stderr).
    pub fn tool_refused(&self, program: &str, args: &[&str]) -> String {
        let o = self.tool(program).args(args).output().unwrap();
        assert!(!o.status.success(), "{program} {args:?}: {}", both(&o));
        both(&o)
    }

    pub fn socket_path(&self) -> PathBuf {
        self.dir.path().join("usbmuxd")
    }
}

impl Drop for FakeIphone {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
