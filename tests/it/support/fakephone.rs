//! Test harness: the real Debian `adb` server on a private port and HOME, and fake phones
//! (`fake-adbd`) adopted by it with `adb connect`.
//!
//! Include from a test file with `#[path = "support/fakephone.rs"] mod fakephone;`.
//! Tests that use it need the `adb` program: they fail with a clear message when it is missing,
//! unless `APPSWEEP_SKIP_TOOL_TESTS=1` (then [`AdbServer::start_or_skip`] returns `None`).
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// The fake phone binary built by cargo for this test run.
pub const FAKE_ADBD: &str = env!("CARGO_BIN_EXE_fake-adbd");

pub fn tool_tests_skipped() -> bool {
    std::env::var("APPSWEEP_SKIP_TOOL_TESTS").is_ok_and(|v| v == "1")
}

/// True when `adb` runs. Panics with a clear message when it does not, unless tool tests are
/// skipped (then false).
pub fn adb_available() -> bool {
    let ok = Command::new("adb")
        .arg("version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if ok {
        return true;
    }
    if tool_tests_skipped() {
        eprintln!("adb not found: skipping (APPSWEEP_SKIP_TOOL_TESTS=1)");
        return false;
    }
    panic!(
        "the `adb` program is required for this test (apt-get install -y adb); \
         set APPSWEEP_SKIP_TOOL_TESTS=1 to skip tool tests"
    );
}

/// A free loopback port, well away from 5037 and the emulator range 5554-5585.
pub fn free_port() -> u16 {
    loop {
        let l = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        let p = l.local_addr().expect("local_addr").port();
        if p > 6000 {
            return p;
        }
    }
}

/// An `adb -P PORT` command with HOME set, and nothing inherited that would pick another device.
pub fn adb_command(port: u16, home: &Path) -> Command {
    let mut c = Command::new("adb");
    c.arg("-P")
        .arg(port.to_string())
        .env("HOME", home)
        .env("ANDROID_ADB_SERVER_PORT", port.to_string())
        .env_remove("ANDROID_SERIAL")
        .env_remove("ADB_VENDOR_KEYS")
        .stdin(Stdio::null());
    c
}

/// A real `adb` server on a private port with a private HOME; killed on drop.
pub struct AdbServer {
    port: u16,
    home: tempfile::TempDir,
}

impl AdbServer {
    /// Starts the server; panics when `adb` is missing (even when tool tests are skipped:
    /// use [`AdbServer::start_or_skip`] to honour `APPSWEEP_SKIP_TOOL_TESTS`).
    pub fn start() -> AdbServer {
        assert!(adb_available(), "adb is not available");
        let home = tempfile::tempdir().expect("temp HOME");
        let mut last_err = String::new();
        for _ in 0..5 {
            let port = free_port();
            let out = adb_command(port, home.path())
                .arg("start-server")
                .output()
                .expect("run adb start-server");
            if out.status.success() {
                return AdbServer { port, home };
            }
            last_err = String::from_utf8_lossy(&out.stderr).into_owned();
        }
        panic!("adb start-server failed: {last_err}");
    }

    /// `None` when `adb` is missing and `APPSWEEP_SKIP_TOOL_TESTS=1`.
    pub fn start_or_skip() -> Option<AdbServer> {
        if !adb_available() {
            return None;
        }
        Some(AdbServer::start())
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// `127.0.0.1:PORT`, for `appsweep scan adb --adb-server`.
    pub fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    pub fn home(&self) -> &Path {
        self.home.path()
    }

    /// An `adb -P PORT` command with the private HOME.
    pub fn command(&self) -> Command {
        adb_command(self.port, self.home.path())
    }

    pub fn adb(&self, args: &[&str]) -> Output {
        self.command().args(args).output().expect("run adb")
    }

    /// `adb -s SERIAL shell CMD`.
    pub fn shell(&self, serial: &str, cmd: &str) -> Output {
        self.adb(&["-s", serial, "shell", cmd])
    }

    /// (serial, state) pairs from `adb devices`.
    pub fn devices(&self) -> Vec<(String, String)> {
        let out = self.adb(&["devices"]);
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter_map(|l| {
                let mut it = l.split('\t');
                Some((it.next()?.to_string(), it.next()?.to_string()))
            })
            .collect()
    }

    pub fn state_of(&self, serial: &str) -> Option<String> {
        self.devices()
            .into_iter()
            .find(|(s, _)| s == serial)
            .map(|(_, st)| st)
    }

    /// Waits until `serial` is in `state` (None: absent). True if it got there in time.
    pub fn wait_state(&self, serial: &str, state: Option<&str>, timeout: Duration) -> bool {
        let t0 = Instant::now();
        loop {
            if self.state_of(serial).as_deref() == state {
                return true;
            }
            if t0.elapsed() > timeout {
                return false;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for AdbServer {
    fn drop(&mut self) {
        let _ = self
            .command()
            .arg("kill-server")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

/// A running fake phone, connected to an [`AdbServer`]; killed and disconnected on drop.
pub struct FakePhone {
    child: Child,
    port: u16,
    dir: tempfile::TempDir,
    stats_path: PathBuf,
    server_port: u16,
    server_home: PathBuf,
}

impl FakePhone {
    /// Starts `fake-adbd` with this scenario and connects the server to it; waits until the
    /// server shows it as `device` (or `unauthorized` when the scenario's auth is `never`).
    pub fn spawn(server: &AdbServer, scenario: serde_json::Value) -> FakePhone {
        let never = scenario.get("auth").and_then(|a| a.as_str()) == Some("never");
        let phone = FakePhone::start(server, scenario);
        let serial = phone.serial();
        let out = server.adb(&["connect", &serial]);
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(
            text.contains("connected to") || text.contains("failed to authenticate"),
            "adb connect {serial}: {text} {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let want = if never { "unauthorized" } else { "device" };
        assert!(
            server.wait_state(&serial, Some(want), Duration::from_secs(20)),
            "{serial} never became {want}: {:?}",
            server.devices()
        );
        phone
    }

    /// Starts `fake-adbd` without connecting it (for tests of the connection itself).
    pub fn start(server: &AdbServer, scenario: serde_json::Value) -> FakePhone {
        let dir = tempfile::tempdir().expect("tempdir");
        let sc_path = dir.path().join("scenario.json");
        std::fs::write(&sc_path, serde_json::to_vec_pretty(&scenario).unwrap()).unwrap();
        let stats_path = dir.path().join("stats.json");
        let mut child = Command::new(FAKE_ADBD)
            .arg("--scenario")
            .arg(&sc_path)
            .arg("--port")
            .arg("0")
            .arg("--stats-file")
            .arg(&stats_path)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn fake-adbd");
        let stdout = child.stdout.take().expect("fake-adbd stdout");
        let mut line = String::new();
        BufReader::new(stdout)
            .read_line(&mut line)
            .expect("read LISTENING line");
        let port: u16 = match line.trim().strip_prefix("LISTENING ") {
            Some(p) => p.parse().expect("port number"),
            None => {
                let _ = child.kill();
                panic!("fake-adbd did not start (scenario error?): {line:?}");
            }
        };
        FakePhone {
            child,
            port,
            dir,
            stats_path,
            server_port: server.port,
            server_home: server.home().to_path_buf(),
        }
    }

    pub fn serial(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The fake's counters (see src/bin/fake-adbd/stats.rs): `opens` (round trips),
    /// `bytes_sent`, `commands`, `command_lines`, `sync_requests`, `write_attempts`, `dropped`...
    /// Waits (bounded) until two reads 100 ms apart agree: the fake writes its counters when a
    /// service closes, which can be just after the client returned.
    pub fn stats(&self) -> serde_json::Value {
        let read = || -> serde_json::Value {
            let text = std::fs::read_to_string(&self.stats_path).expect("stats file");
            serde_json::from_str(&text).expect("stats JSON")
        };
        let mut last = read();
        for _ in 0..20 {
            std::thread::sleep(Duration::from_millis(100));
            let now = read();
            if now == last {
                return now;
            }
            last = now;
        }
        last
    }

    /// Whether the fake process has exited (e.g. after `drop_after_services`).
    pub fn exited(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(Some(_)))
    }
}

impl Drop for FakePhone {
    fn drop(&mut self) {
        let _ = adb_command(self.server_port, &self.server_home)
            .args(["disconnect", &self.serial()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A Pixel 8 (Android 14, owner user only) with one app, `package`, whose base APK is `apk`;
/// `auth` as the scenario takes it (`accept`, `never`, `none`).
pub fn pixel8(package: &str, apk: &Path, auth: &str) -> serde_json::Value {
    serde_json::json!({
        "serial_banner": {"product": "p", "model": "Pixel_8", "device": "d"},
        "auth": auth, "android_sdk": 34,
        "props": {"ro.product.manufacturer": "Google", "ro.product.model": "Pixel 8",
                  "ro.build.version.release": "14", "ro.build.version.sdk": "34"},
        "users": [{"id": 0, "name": "Owner", "flags": "c13", "running": true}],
        "packages": [{"name": package, "users": [0], "uid": 10150, "version_code": 5,
                      "version_name": "1.0", "installer": null,
                      "apks": [{"path": format!("/data/app/~~Qw==/{package}-Er==/base.apk"), "file": apk}]}],
        "link": {"latency_ms": 0, "bandwidth_bytes_per_s": 0}, "shell_v2": true
    })
}

/// A scenario like the contract's example: a Samsung with an owner and a work profile that
/// refuses listing, TikTok in the work profile, Settings in both. `apk` is served as TikTok's
/// base.apk; `split` as its split.
pub fn sample_scenario(apk: &Path, split: &Path) -> serde_json::Value {
    serde_json::json!({
        "serial_banner": {"product": "o1s", "model": "SM_G991B", "device": "o1s"},
        "auth": "accept",
        "android_sdk": 34,
        "props": {"ro.product.manufacturer": "samsung", "ro.product.model": "SM-G991B",
                  "ro.build.version.release": "14", "ro.build.version.sdk": "34",
                  "ro.build.version.security_patch": "2024-05-01", "ro.serialno": "R58M12ABCDE"},
        "users": [{"id": 0, "name": "Owner", "flags": "c13", "running": true},
                  {"id": 10, "name": "Work profile", "flags": "1030", "running": true,
                   "refuse_listing": true}],
        "packages": [
            {"name": "com.zhiliaoapp.musically", "users": [10], "uid": 10234,
             "version_code": 2024307030u64, "version_name": "43.7.3",
             "installer": "com.android.vending",
             "first_install": "2024-05-01 10:00:00", "last_update": "2024-05-02 10:00:00",
             "apks": [{"path": "/data/app/~~AbC==/com.zhiliaoapp.musically-XyZ==/base.apk",
                       "file": apk},
                      {"path": "/data/app/~~AbC==/com.zhiliaoapp.musically-XyZ==/split_config.arm64_v8a.apk",
                       "file": split}]},
            {"name": "org.fdroid.fdroid", "users": [0], "uid": 10150, "version_code": 1019050,
             "version_name": "1.19.5", "installer": null,
             "apks": [{"path": "/data/app/~~Qw==/org.fdroid.fdroid-Er==/base.apk",
                       "file": apk, "prefix_junk": 70000}]},
            {"name": "com.android.settings", "users": [0, 10], "system": true, "version_code": 34,
             "version_name": "14",
             "apks": [{"path": "/system/priv-app/Settings/Settings.apk", "synthetic_size": 3000000}]}
        ],
        "link": {"latency_ms": 0, "bandwidth_bytes_per_s": 0},
        "drop_after_services": null,
        "shell_v2": true
    })
}
