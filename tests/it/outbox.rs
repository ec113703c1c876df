//! Hand-off through the durable outbox to a local webhook that fails, times out and drops
//! connections at random (bounded runs, loopback only).

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use crate::support::cmd::{appsweep, record_ids};
use crate::support::ipabuild::Ipa;
use crate::support::webhook::{Receiver, HEALTHY, STALL};

fn ipa(path: &Path, bundle: &str) {
    Ipa::new(bundle).xml().write(path);
}

fn devices(root: &Path, n: usize) -> Vec<PathBuf> {
    (0..n)
        .map(|i| {
            let d = root.join(format!("device{i:02}"));
            ipa(
                &d.join("app.ipa"),
                if i % 3 == 0 {
                    "com.zhiliaoapp.musically"
                } else {
                    "com.example.notes"
                },
            );
            d
        })
        .collect()
}

fn pending(outbox: &Path) -> usize {
    std::fs::read_dir(outbox)
        .map(|rd| {
            rd.filter_map(Result::ok)
                .filter(|e| e.file_name().to_string_lossy().ends_with(".json"))
                .count()
        })
        .unwrap_or(0)
}

fn flush_until_empty(outbox: &Path) {
    for _ in 0..10 {
        if pending(outbox) == 0 {
            return;
        }
        let _ = appsweep()
            .args([
                "outbox",
                "flush",
                "--outbox",
                outbox.to_str().unwrap(),
                "--post-timeout",
                "1",
            ])
            .output()
            .unwrap();
    }
    assert_eq!(
        pending(outbox),
        0,
        "records left in the outbox after 10 flushes"
    );
}

#[test]
fn every_record_arrives_through_a_flaky_endpoint_exactly_once_after_dedup() {
    let rx = Receiver::start(0x9e3779b97f4a7c15);
    let tmp = tempfile::tempdir().unwrap();
    let outbox = tmp.path().join("outbox");
    let devs = devices(&tmp.path().join("data"), 12);
    let out = appsweep()
        .args([
            "scan",
            "files",
            "--format",
            "jsonl",
            "--post",
            &rx.url(),
            "--outbox",
            outbox.to_str().unwrap(),
            "--post-timeout",
            "1",
        ])
        .args(&devs)
        .env("APPSWEEP_POST_TOKEN", "s3cret")
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let ids = record_ids(&out);
    assert_eq!(ids.len(), 12);
    flush_until_empty(&outbox);
    let got = rx.received.lock().unwrap().clone();
    let keys: Vec<&String> = got.keys().collect();
    let mut want = ids.clone();
    want.sort();
    assert_eq!(
        keys,
        want.iter().collect::<Vec<_>>(),
        "one key per record after de-duplication"
    );
    for (k, bodies) in &got {
        let v: serde_json::Value = serde_json::from_str(&bodies[0]).unwrap();
        assert_eq!(v["record_id"], k.as_str());
        assert_eq!(v["schema"], "appsweep.report.v1");
    }
    assert!(
        rx.requests.load(Ordering::SeqCst) > 12,
        "the endpoint failed some attempts"
    );
    assert!(rx.auth.lock().unwrap().iter().all(|a| a == "Bearer s3cret"));
}

#[test]
fn nothing_is_lost_when_appsweep_is_killed_mid_send() {
    let rx = Receiver::start(7);
    rx.mode.store(STALL, Ordering::SeqCst);
    let tmp = tempfile::tempdir().unwrap();
    let outbox = tmp.path().join("outbox");
    let devs = devices(&tmp.path().join("data"), 6);
    let mut child = appsweep()
        .args([
            "scan",
            "files",
            "--format",
            "json",
            "--post",
            &rx.url(),
            "--outbox",
            outbox.to_str().unwrap(),
            "--post-timeout",
            "3",
        ])
        .args(&devs)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let start = Instant::now();
    while rx.requests.load(Ordering::SeqCst) == 0 && start.elapsed() < Duration::from_secs(20) {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(
        rx.requests.load(Ordering::SeqCst) > 0,
        "appsweep never tried to send"
    );
    child.kill().unwrap();
    child.wait().unwrap();
    assert_eq!(
        pending(&outbox),
        6,
        "every record is still queued after the kill"
    );
    let list = appsweep()
        .args(["outbox", "list", "--outbox", outbox.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&list.stdout).lines().count(), 6);

    rx.mode.store(HEALTHY, Ordering::SeqCst);
    flush_until_empty(&outbox);
    assert_eq!(rx.received.lock().unwrap().len(), 6);
}

#[test]
fn a_token_comes_from_a_file_and_is_never_taken_from_the_command_line() {
    let rx = Receiver::start(11);
    rx.mode.store(HEALTHY, Ordering::SeqCst);
    let tmp = tempfile::tempdir().unwrap();
    let outbox = tmp.path().join("outbox");
    let token = tmp.path().join("token");
    std::fs::write(&token, "from-file\n").unwrap();
    let devs = devices(&tmp.path().join("data"), 2);
    let out = appsweep()
        .args([
            "scan",
            "files",
            "--format",
            "json",
            "--post",
            &rx.url(),
            "--outbox",
            outbox.to_str().unwrap(),
        ])
        .args(["--post-token-file", token.to_str().unwrap()])
        .args(&devs)
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(pending(&outbox), 0);
    assert_eq!(rx.received.lock().unwrap().len(), 2);
    let auth = rx.auth.lock().unwrap().clone();
    assert_eq!(auth, vec!["Bearer from-file".to_string(); 2]);

    // There is no option that takes the token itself: clap refuses it as an unknown argument.
    let out = appsweep()
        .args([
            "scan",
            "files",
            ".",
            "--post",
            "http://127.0.0.1:9/",
            "--post-token",
            "x",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("unexpected argument '--post-token'"), "{err}");
}
