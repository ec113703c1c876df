//! Writes that fail mid-run (a full disk, a read-only folder) on the real binary: the report
//! still comes out, the record says what was not written, violations still win the exit code,
//! and no temporary file is left behind.

use crate::support::cmd::{appsweep_on_small_fs, code, json, stderr, SmallFs};
use crate::support::ipabuild::Ipa;
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
    let out = appsweep_on_small_fs(&dir, SmallFs::Full)
        .args(["scan", "files", &bad, "--format", "json", "--output"])
        .arg(dir.join("report.json"))
        .output()
        .unwrap();
    let err = stderr(&out);
    assert_eq!(code(&out), 2, "{err}");
    assert!(err.contains("writing the report"), "{err}");
    assert_eq!(left(&err), "", "{err}");
}
