//! Files appsweep writes, on the real binary: the mode a plain create gives, and writes that
//! fail mid-run (a full disk, a read-only folder): the report still comes out, the record says
//! what was not written, violations still win the exit code, records already queued are still
//! sent, and no temporary file is left behind.

use crate::support::cmd::{appsweep_on_small_fs, code, hermetic, json, stderr, SmallFs, APPSWEEP};
use crate::support::ipabuild::Ipa;
use crate::support::webhook::Receiver;
use serde_json::Value;
use std::path::Path;

/// Two devices: a folder with TikTok and a clean one.
fn two_devices(root: &Path) -> (String, String) {
    let bad = root.join("bad");
    let good = root.join("good");
    Ipa::new("com.zhiliaoapp.musically").write(&bad.join("t.ipa"));
    Ipa::new("com.example.notes").write(&good.join("n.ipa"));
    (
        bad.to_str().unwrap().to_string(),
        good.to_str().unwrap().to_string(),
    )
}

fn report<'a>(doc: &'a Value, id_suffix: &str) -> &'a Value {
    doc["reports"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["device"]["id"].as_str().unwrap().ends_with(id_suffix))
        .unwrap_or_else(|| panic!("no report for {id_suffix}: {doc}"))
}

fn scopes(r: &Value) -> Vec<String> {
    r["problems"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["scope"].as_str().unwrap().to_string())
        .collect()
}

fn left(stderr: &str) -> String {
    stderr
        .lines()
        .find_map(|l| l.strip_prefix("LEFT:"))
        .unwrap_or_else(|| panic!("no LEFT line: {stderr}"))
        .trim()
        .to_string()
}

#[test]
fn a_full_out_dir_keeps_the_report_and_the_violation() {
    let root = tempfile::tempdir().unwrap();
    let (bad, good) = two_devices(root.path());
    let out_dir = root.path().join("out");
    std::fs::create_dir(&out_dir).unwrap();
    let out = appsweep_on_small_fs(&out_dir, SmallFs::Full)
        .args([
            "scan",
            "files",
            &bad,
            &good,
            "--format",
            "json",
            "--out-dir",
        ])
        .arg(&out_dir)
        .output()
        .unwrap();
    let err = stderr(&out);
    assert_eq!(code(&out), 1, "{err}");
    let doc = json(&out);
    let bad_report = report(&doc, "bad");
    assert_eq!(bad_report["status"], "violation");
    assert_eq!(scopes(bad_report), ["out-dir"]);
    let good_report = report(&doc, "good");
    assert_eq!(good_report["status"], "incomplete");
    assert!(good_report["problems"][0]["message"]
        .as_str()
        .unwrap()
        .contains("could not be written"));
    assert!(err.contains("--out-dir file not written"), "{err}");
    assert_eq!(left(&err), "", "temporary files left: {err}");
}

#[test]
fn records_are_still_sent_when_the_out_dir_is_full() {
    let root = tempfile::tempdir().unwrap();
    let (bad, good) = two_devices(root.path());
    let out_dir = root.path().join("out");
    std::fs::create_dir(&out_dir).unwrap();
    let rx = Receiver::healthy();
    let out = appsweep_on_small_fs(&out_dir, SmallFs::Full)
        .args(["scan", "files", &bad, &good, "--format", "json"])
        .args(["--post", &rx.url(), "--outbox"])
        .arg(root.path().join("outbox"))
        .arg("--out-dir")
        .arg(&out_dir)
        .output()
        .unwrap();
    let err = stderr(&out);
    assert_eq!(code(&out), 1, "{err}");
    assert_eq!(json(&out)["reports"].as_array().unwrap().len(), 2);
    assert_eq!(rx.records(), 2, "{err}");
    // What was sent says its local copy was not written.
    let sent = rx.received.lock().unwrap().clone();
    assert!(sent
        .values()
        .all(|bodies| bodies[0].contains("the record file could not be written")));
}

#[test]
fn a_read_only_outbox_keeps_the_report_and_says_the_record_was_not_queued() {
    let root = tempfile::tempdir().unwrap();
    let (bad, good) = two_devices(root.path());
    let outbox = root.path().join("outbox");
    std::fs::create_dir(&outbox).unwrap();
    let out = appsweep_on_small_fs(&outbox, SmallFs::ReadOnly)
        .args(["scan", "files", &bad, &good, "--format", "json"])
        .args(["--post", "http://127.0.0.1:9/hook", "--outbox"])
        .arg(&outbox)
        .output()
        .unwrap();
    let err = stderr(&out);
    assert_eq!(code(&out), 1, "{err}");
    let doc = json(&out);
    assert_eq!(report(&doc, "bad")["status"], "violation");
    assert_eq!(scopes(report(&doc, "bad")), ["outbox"]);
    assert_eq!(report(&doc, "good")["status"], "incomplete");
    assert!(err.contains("not queued for --post"), "{err}");
}

#[test]
fn a_clean_device_whose_record_cannot_be_written_is_not_clean() {
    let root = tempfile::tempdir().unwrap();
    let (_, good) = two_devices(root.path());
    let out_dir = root.path().join("out");
    std::fs::create_dir(&out_dir).unwrap();
    let out = appsweep_on_small_fs(&out_dir, SmallFs::ReadOnly)
        .args(["scan", "files", &good, "--format", "json", "--out-dir"])
        .arg(&out_dir)
        .output()
        .unwrap();
    assert_eq!(code(&out), 3, "{}", stderr(&out));
    assert_eq!(json(&out)["reports"][0]["status"], "incomplete");
}

#[test]
fn a_full_disk_under_output_is_an_error_and_leaves_no_temporary_file() {
    let root = tempfile::tempdir().unwrap();
    let (bad, _) = two_devices(root.path());
    let dir = root.path().join("reports");
    std::fs::create_dir(&dir).unwrap();
    let rx = Receiver::healthy();
    let out = appsweep_on_small_fs(&dir, SmallFs::Full)
        .args(["scan", "files", &bad, "--format", "json", "--output"])
        .arg(dir.join("report.json"))
        .args(["--post", &rx.url(), "--outbox"])
        .arg(root.path().join("outbox"))
        .output()
        .unwrap();
    let err = stderr(&out);
    assert_eq!(code(&out), 2, "{err}");
    assert!(err.contains("writing the report"), "{err}");
    assert_eq!(left(&err), "", "{err}");
    assert_eq!(rx.records(), 1, "the queued record is still sent: {err}");
}

#[test]
fn report_files_get_the_mode_a_plain_create_gives() {
    let root = tempfile::tempdir().unwrap();
    let (bad, _) = two_devices(root.path());
    let report = root.path().join("report.json");
    let per_device = root.path().join("devices");
    let out = hermetic("sh")
        .args(["-c", r#"umask 027 && exec "$0" "$@""#, APPSWEEP])
        .args(["scan", "files", &bad, "--format", "json", "--output"])
        .arg(&report)
        .arg("--out-dir")
        .arg(&per_device)
        .output()
        .unwrap();
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    let mode = |p: &Path| {
        use std::os::unix::fs::PermissionsExt;
        std::fs::metadata(p).unwrap().permissions().mode() & 0o777
    };
    assert_eq!(mode(&report), 0o640);
    let one = std::fs::read_dir(&per_device)
        .unwrap()
        .next()
        .unwrap()
        .unwrap();
    assert_eq!(mode(&one.path()), 0o640);
}
