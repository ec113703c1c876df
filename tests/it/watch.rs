//! `appsweep watch` against fake phones plugged and unplugged through the real adb server.

use crate::support::apkbuild;
use crate::support::cmd::{appsweep, interrupt, json_files};
use crate::support::fakephone;

use apkbuild::{build_apk, tools_available, ApkSpec, Signing};
use fakephone::{AdbServer, FakePhone, FAKE_ADBD};
use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn phone(apk: &Path, auth: &str) -> Value {
    fakephone::pixel8("com.zhiliaoapp.musically", apk, auth)
}

fn records(dir: &Path) -> usize {
    json_files(dir).len()
}

fn wait_records(dir: &Path, n: usize) -> bool {
    let t0 = Instant::now();
    while t0.elapsed() < Duration::from_secs(30) {
        if records(dir) >= n {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    false
}

fn watch(server: &AdbServer, out: &Path) -> Child {
    appsweep()
        .args([
            "watch",
            "--adb-server",
            &server.addr(),
            "--poll-ms",
            "100",
            "--no-cache",
            "--format",
            "jsonl",
            "--out-dir",
        ])
        .arg(out)
        .env("HOME", server.home())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

fn threads(pid: u32) -> usize {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("Threads:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0)
}

#[test]
fn every_attach_yields_exactly_one_record_and_threads_stay_bounded() {
    if !tools_available() {
        return;
    }
    let Some(server) = AdbServer::start_or_skip() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let apk = build_apk(
        &ApkSpec::new("com.zhiliaoapp.musically", Signing::V2),
        dir.path(),
    )
    .path;
    let out = dir.path().join("records");
    let mut w = watch(&server, &out);
    let p = FakePhone::spawn(&server, phone(&apk, "accept"));
    let serial = p.serial();
    assert!(wait_records(&out, 1), "no record for the first attach");
    std::thread::sleep(Duration::from_millis(800));
    assert_eq!(
        records(&out),
        1,
        "no re-scan while the phone stays attached"
    );
    let mut max_threads = 0;
    let cycles = 100;
    for i in 0..cycles {
        server.adb(&["disconnect", &serial]);
        assert!(server.wait_state(&serial, None, Duration::from_secs(10)));
        std::thread::sleep(Duration::from_millis(250));
        server.adb(&["connect", &serial]);
        assert!(server.wait_state(&serial, Some("device"), Duration::from_secs(10)));
        assert!(wait_records(&out, i + 2), "no record for re-attach {i}");
        max_threads = max_threads.max(threads(w.id()));
    }
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(records(&out), cycles + 1, "exactly one record per attach");
    assert!(max_threads <= 12, "threads grew to {max_threads}");
    let (code, stderr) = interrupt(&mut w);
    assert_eq!(code, 1, "TikTok was found: {stderr}");
    assert!(
        stderr.contains("device(s)"),
        "a summary on Ctrl-C: {stderr}"
    );
}

#[test]
fn an_unauthorized_phone_gets_instructions_then_is_scanned_once_authorized() {
    if !tools_available() {
        return;
    }
    let Some(server) = AdbServer::start_or_skip() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let apk = build_apk(&ApkSpec::new("org.example.notes", Signing::V2), dir.path()).path;
    let out = dir.path().join("records");
    let mut w = watch(&server, &out);
    // An unauthorized phone on a port we choose, then the same phone accepting the key.
    let port = fakephone::free_port();
    let start = |auth: &str| -> Child {
        let sc = dir.path().join(format!("{auth}.json"));
        std::fs::write(&sc, serde_json::to_vec(&phone(&apk, auth)).unwrap()).unwrap();
        let mut c = Command::new(FAKE_ADBD)
            .args([
                "--scenario",
                sc.to_str().unwrap(),
                "--port",
                &port.to_string(),
            ])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(c.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        assert!(line.starts_with("LISTENING"), "{line}");
        c
    };
    let serial = format!("127.0.0.1:{port}");
    let mut locked = start("never");
    server.adb(&["connect", &serial]);
    assert!(server.wait_state(&serial, Some("unauthorized"), Duration::from_secs(20)));
    std::thread::sleep(Duration::from_millis(600));
    assert_eq!(records(&out), 0, "an unauthorized phone is not scanned");
    locked.kill().unwrap();
    locked.wait().unwrap();
    server.adb(&["disconnect", &serial]);
    let mut open = start("accept");
    server.adb(&["connect", &serial]);
    assert!(server.wait_state(&serial, Some("device"), Duration::from_secs(20)));
    assert!(
        wait_records(&out, 1),
        "the phone is scanned once authorized"
    );
    let (code, stderr) = interrupt(&mut w);
    open.kill().unwrap();
    let _ = open.wait();
    server.adb(&["disconnect", &serial]);
    assert_eq!(code, 1, "the listed package is TikTok's: {stderr}");
    assert!(
        stderr.to_lowercase().contains("unauthorized")
            && stderr.to_lowercase().contains("usb debugging"),
        "{stderr}"
    );
}
