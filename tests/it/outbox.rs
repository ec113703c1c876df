//! Hand-off through the durable outbox to a local webhook that fails, times out and drops
//! connections at random (bounded runs, loopback only).

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use std::process::Command;

use crate::support::cmd::{appsweep, assert_code, json_files, record_ids};
use crate::support::ipabuild::Ipa;
use crate::support::webhook::{Receiver, HEALTHY, SLOW, STALL};

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
    json_files(outbox).len()
}

/// `appsweep scan files --format FORMAT --post URL --outbox OUTBOX DEVICES...`.
fn scan_posting(rx: &Receiver, outbox: &Path, format: &str, devs: &[PathBuf]) -> Command {
    let mut c = appsweep();
    c.args(["scan", "files", "--format", format, "--post", &rx.url()])
        .arg("--outbox")
        .arg(outbox)
        .args(devs);
    c
}

/// `appsweep outbox flush --outbox OUTBOX`.
fn flush(outbox: &Path) -> Command {
    let mut c = appsweep();
    c.args(["outbox", "flush", "--outbox"]).arg(outbox);
    c
}

fn flush_until_empty(outbox: &Path) {
    for _ in 0..10 {
        if pending(outbox) == 0 {
            return;
        }
        let _ = flush(outbox)
            .args(["--post-timeout", "1"])
            .output()
            .unwrap();
    }
    assert_eq!(
        pending(outbox),
        0,
        "records left in the outbox after 10 flushes"
    );
}

/// SIGKILLs `child` once `rx` has read its first request (a generous deadline: the machine may
/// be busy).
fn kill_once_sending(mut child: std::process::Child, rx: &Receiver) {
    let start = Instant::now();
    while rx.requests.load(Ordering::SeqCst) == 0 && start.elapsed() < Duration::from_secs(60) {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(
        rx.requests.load(Ordering::SeqCst) > 0,
        "appsweep never tried to send"
    );
    child.kill().unwrap();
    child.wait().unwrap();
}

#[test]
fn every_record_arrives_through_a_flaky_endpoint_exactly_once_after_dedup() {
    let rx = Receiver::start(0x9e3779b97f4a7c15);
    let tmp = tempfile::tempdir().unwrap();
    let outbox = tmp.path().join("outbox");
    let devs = devices(&tmp.path().join("data"), 12);
    let out = scan_posting(&rx, &outbox, "jsonl", &devs)
        .args(["--post-timeout", "1"])
        .env("APPSWEEP_POST_TOKEN", "s3cret")
        .output()
        .unwrap();
    assert_code(&out, 1);
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
    let rx = Receiver::in_mode(STALL);
    let tmp = tempfile::tempdir().unwrap();
    let outbox = tmp.path().join("outbox");
    let devs = devices(&tmp.path().join("data"), 6);
    let child = scan_posting(&rx, &outbox, "json", &devs)
        .args(["--post-timeout", "3"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    kill_once_sending(child, &rx);
    assert_eq!(
        pending(&outbox),
        6,
        "every record is still queued after the kill"
    );
    assert!(temporaries(&outbox).is_empty(), "no temporary file left");
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
    let rx = Receiver::healthy();
    let tmp = tempfile::tempdir().unwrap();
    let outbox = tmp.path().join("outbox");
    let token = tmp.path().join("token");
    std::fs::write(&token, "from-file\n").unwrap();
    let devs = devices(&tmp.path().join("data"), 2);
    let out = scan_posting(&rx, &outbox, "json", &devs)
        .arg("--post-token-file")
        .arg(&token)
        .output()
        .unwrap();
    assert_code(&out, 1);
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

#[test]
fn two_backups_of_one_phone_in_one_run_are_two_records_and_both_arrive() {
    use crate::support::backupbuild::Backup;
    const UDID: &str = "00008030-001A35E83C38802E";
    let rx = Receiver::healthy();
    let tmp = tempfile::tempdir().unwrap();
    let before = Backup::new(UDID)
        .installed_app("com.zhiliaoapp.musically")
        .write(&tmp.path().join("backups/monday"));
    let after = Backup::new(UDID).write(&tmp.path().join("backups/friday"));
    let outbox = tmp.path().join("outbox");
    let out = appsweep()
        .args(["scan", "backup", "--format", "jsonl", "--post", &rx.url()])
        .arg("--outbox")
        .arg(&outbox)
        .args([&before, &after])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    let lines: Vec<serde_json::Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2, "{err}");
    assert!(lines.iter().all(|r| r["device"]["id"] == UDID));
    assert!(lines
        .iter()
        .all(|r| r["scanned_at"] == lines[0]["scanned_at"]));
    let ids = record_ids(&out);
    assert_ne!(ids[0], ids[1], "one phone, one second, two records");
    let got = rx.received.lock().unwrap().clone();
    assert_eq!(got.keys().cloned().collect::<Vec<_>>(), ids, "{err}");
    let statuses: Vec<String> = got
        .values()
        .map(|b| {
            let v: serde_json::Value = serde_json::from_str(&b[0]).unwrap();
            v["status"].as_str().unwrap().to_string()
        })
        .collect();
    assert!(statuses.contains(&"violation".to_string()), "{statuses:?}");
    assert_eq!(pending(&outbox), 0);
}

#[test]
fn two_runs_at_once_over_one_outbox_lose_no_record() {
    let rx = Receiver::healthy();
    let tmp = tempfile::tempdir().unwrap();
    let outbox = tmp.path().join("outbox");
    let devs = devices(&tmp.path().join("data"), 3);
    // Same devices, same scanned_at (SOURCE_DATE_EPOCH), same outbox, at the same time.
    let children: Vec<_> = (0..2)
        .map(|_| {
            scan_posting(&rx, &outbox, "jsonl", &devs)
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let mut ids = Vec::new();
    for child in children {
        let out = child.wait_with_output().unwrap();
        assert_code(&out, 1);
        ids.extend(record_ids(&out));
    }
    ids.sort();
    assert_eq!(ids.len(), 6);
    assert!(ids.windows(2).all(|w| w[0] != w[1]), "{ids:?}");
    flush_until_empty(&outbox);
    let got = rx.received.lock().unwrap().clone();
    assert_eq!(got.keys().cloned().collect::<Vec<_>>(), ids);
}

/// Names the atomic writer's temporary files left in `dir`.
fn temporaries(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".tmp"))
        .collect()
}

/// Queues `n` records for `url` as a run that could not send them leaves them.
fn queue(outbox: &Path, url: &str, n: usize) -> Vec<String> {
    std::fs::create_dir_all(outbox).unwrap();
    let mut ids: Vec<String> = (0..n).map(|i| format!("{i:032x}")).collect();
    for id in &ids {
        std::fs::write(outbox.join(format!("{id}.url")), url).unwrap();
        std::fs::write(
            outbox.join(format!("{id}.json")),
            format!(r#"{{"schema":"appsweep.report.v1","record_id":"{id}"}}"#),
        )
        .unwrap();
    }
    ids.sort();
    ids
}

#[test]
fn concurrent_flushes_and_a_scan_send_each_record_once() {
    let rx = Receiver::in_mode(SLOW);
    let tmp = tempfile::tempdir().unwrap();
    let outbox = tmp.path().join("outbox");
    let mut ids = queue(&outbox, &rx.url(), 24);
    let devs = devices(&tmp.path().join("data"), 2);
    // Three flushes and a scan --post over the same outbox, all at once; at a tenth of a second
    // per answer, each is still sending while the others start.
    let mut children: Vec<_> = (0..3)
        .map(|_| flush(&outbox).stderr(Stdio::piped()).spawn().unwrap())
        .collect();
    children.push(
        scan_posting(&rx, &outbox, "jsonl", &devs)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let mut delivered = 0;
    for (i, child) in children.into_iter().enumerate() {
        let out = child.wait_with_output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(if i < 3 { 0 } else { 1 }), "{err}");
        delivered += err
            .lines()
            .filter_map(|l| l.strip_prefix("appsweep: "))
            .filter_map(|l| l.strip_suffix(" record(s) delivered"))
            .map(|n| n.parse::<usize>().unwrap())
            .sum::<usize>();
        if i == 3 {
            ids.extend(record_ids(&out));
        }
    }
    ids.sort();
    let got = rx.received.lock().unwrap().clone();
    let twice: Vec<(&String, usize)> = got
        .iter()
        .filter(|(_, bodies)| bodies.len() > 1)
        .map(|(k, b)| (k, b.len()))
        .collect();
    assert!(twice.is_empty(), "sent more than once: {twice:?}");
    assert_eq!(got.keys().cloned().collect::<Vec<_>>(), ids);
    assert_eq!(rx.requests.load(Ordering::SeqCst), 26);
    assert_eq!(
        delivered, 26,
        "each record is counted by the one process that sent it"
    );
    assert_eq!(pending(&outbox), 0);
}

#[test]
fn a_flush_killed_while_it_holds_a_record_leaves_it_queued_and_unlocked() {
    let rx = Receiver::in_mode(STALL);
    let tmp = tempfile::tempdir().unwrap();
    let outbox = tmp.path().join("outbox");
    let ids = queue(&outbox, &rx.url(), 4);
    let child = flush(&outbox)
        .args(["--post-timeout", "30"])
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // SIGKILL while the first record is locked and its answer awaited.
    kill_once_sending(child, &rx);
    assert_eq!(pending(&outbox), 4);
    assert!(temporaries(&outbox).is_empty());
    // The kernel dropped the dead sender's lock: the next flush sends everything.
    rx.mode.store(HEALTHY, Ordering::SeqCst);
    let out = flush(&outbox).output().unwrap();
    assert_code(&out, 0);
    let got = rx.received.lock().unwrap().clone();
    assert_eq!(got.keys().cloned().collect::<Vec<_>>(), ids);
    assert_eq!(pending(&outbox), 0);
}

#[test]
fn one_unreadable_entry_does_not_stop_the_others_and_the_exit_code_says_so() {
    let rx = Receiver::healthy();
    let tmp = tempfile::tempdir().unwrap();
    let outbox = tmp.path().join("outbox");
    let ids = queue(&outbox, &rx.url(), 3);
    std::fs::create_dir(outbox.join("a-folder.json")).unwrap();
    std::fs::write(outbox.join("truncated.json"), br#"{"schema":"appsweep.rep"#).unwrap();
    std::fs::write(outbox.join("truncated.url"), rx.url()).unwrap();
    std::fs::write(outbox.join("no-url.json"), b"{}").unwrap();
    let out = flush(&outbox).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{err}");
    let got = rx.received.lock().unwrap().clone();
    assert_eq!(got.keys().cloned().collect::<Vec<_>>(), ids, "{err}");
    for (id, why) in [
        ("a-folder", "not a regular file"),
        ("truncated", "not whole JSON"),
        ("no-url", "no URL"),
    ] {
        let line = err
            .lines()
            .find(|l| l.contains(&format!("record {id} not delivered")))
            .unwrap_or_else(|| panic!("{id} not reported: {err}"));
        assert!(line.contains(why), "{line}");
    }
    // What could not be sent is left as it was.
    assert!(outbox.join("a-folder.json").is_dir());
    assert!(outbox.join("truncated.json").is_file());
    assert!(outbox.join("no-url.json").is_file());
    assert_eq!(pending(&outbox), 3);
}

#[test]
fn a_bad_webhook_url_or_token_is_a_usage_error_before_anything_is_queued() {
    let tmp = tempfile::tempdir().unwrap();
    let outbox = tmp.path().join("outbox");
    let devs = devices(&tmp.path().join("data"), 1);
    let token = tmp.path().join("token");
    std::fs::write(&token, "two words\n").unwrap();
    for (url, token_file, why) in [
        (
            "ftp://alice:pw-secret@h.example/x?k=q-secret",
            None,
            "bad URL",
        ),
        ("http://h.example/a b?k=q-secret", None, "bad URL"),
        ("http://h.example/x", Some(&token), "bearer token"),
    ] {
        let mut cmd = appsweep();
        cmd.args(["scan", "files", "--post", url, "--outbox"])
            .arg(&outbox)
            .args(&devs);
        if let Some(t) = token_file {
            cmd.arg("--post-token-file").arg(t);
        }
        let out = cmd.output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{url}: {err}");
        assert!(err.contains(why), "{err}");
        assert!(!err.contains("-secret"), "{err}");
        assert!(out.stdout.is_empty());
        assert_eq!(pending(&outbox), 0);
    }

    // An empty token is no token.
    let rx = Receiver::healthy();
    let out = scan_posting(&rx, &outbox, "human", &devs)
        .env("APPSWEEP_POST_TOKEN", "")
        .output()
        .unwrap();
    assert_code(&out, 1);
    assert_eq!(rx.records(), 1);
    assert!(rx.auth.lock().unwrap().is_empty());
}
