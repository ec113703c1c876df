//! Files appsweep writes, on the real binary: the mode a plain create gives, and writes that
//! fail mid-run (a full disk, a read-only folder): the report still comes out, the record says
//! what was not written, violations still win the exit code, records already queued are still
//! sent, and no temporary file is left behind.

use crate::support::cmd::{appsweep_on_small_fs, code, hermetic, json, stderr, SmallFs, APPSWEEP};
use crate::support::ipabuild::Ipa;
use crate::support::webhook::Receiver;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// Two devices (a folder with TikTok, a clean one) and a folder `dir` to mount a small file
/// system on.
struct Setup {
    root: tempfile::TempDir,
    bad: PathBuf,
    good: PathBuf,
    dir: PathBuf,
}

fn setup(dir: &str) -> Setup {
    let root = tempfile::tempdir().unwrap();
    let bad = root.path().join("bad");
    let good = root.path().join("good");
    Ipa::new("com.zhiliaoapp.musically").write(&bad.join("t.ipa"));
    Ipa::new("com.example.notes").write(&good.join("n.ipa"));
    let dir = root.path().join(dir);
    std::fs::create_dir(&dir).unwrap();
    Setup {
        root,
        bad,
        good,
        dir,
    }
}

impl Setup {
    /// `appsweep scan files --format json DEVICES...` with `dir` mounted as `fs`.
    fn scan(&self, fs: SmallFs, devices: &[&Path]) -> Command {
        let mut c = appsweep_on_small_fs(&self.dir, fs);
        c.args(["scan", "files", "--format", "json"]).args(devices);
        c
    }

    /// `--post` to `url` through an outbox beside the devices.
    fn post(&self, url: &str) -> [std::ffi::OsString; 4] {
        [
            "--post".into(),
            url.into(),
            "--outbox".into(),
            self.root.path().join("outbox").into(),
        ]
    }
}

/// Runs `c`; returns its output and stderr.
fn run(c: &mut Command) -> (Output, String) {
    let out = c.output().unwrap();
    let err = stderr(&out);
    (out, err)
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
    let s = setup("out");
    let (out, err) = run(s
        .scan(SmallFs::Full, &[&s.bad, &s.good])
        .arg("--out-dir")
        .arg(&s.dir));
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
    let s = setup("out");
    let rx = Receiver::healthy();
    let (out, err) = run(s
        .scan(SmallFs::Full, &[&s.bad, &s.good])
        .args(s.post(&rx.url()))
        .arg("--out-dir")
        .arg(&s.dir));
    assert_eq!(code(&out), 1, "{err}");
    assert_eq!(json(&out)["reports"].as_array().unwrap().len(), 2);
    assert_eq!(rx.records(), 2, "{err}");
    // What was sent says its local copy was not written.
    let sent = rx.received.lock().unwrap().clone();
    assert!(sent
        .values()
        .all(|bodies| bodies[0].contains("the record file could not be written")));
}

/// `scan files --post` of both devices with the outbox on a small file system `fs`: the report
/// still comes out, the violation still wins, the clean device's record says it was not queued.
/// Returns stderr.
fn scan_with_outbox_on(fs: SmallFs) -> String {
    let s = setup("outbox");
    let (out, err) = run(s
        .scan(fs, &[&s.bad, &s.good])
        .args(s.post("http://127.0.0.1:9/hook")));
    assert_eq!(code(&out), 1, "{err}");
    let doc = json(&out);
    assert_eq!(report(&doc, "bad")["status"], "violation");
    assert_eq!(scopes(report(&doc, "bad")), ["outbox"]);
    assert_eq!(report(&doc, "good")["status"], "incomplete");
    assert!(err.contains("not queued for --post"), "{err}");
    err
}

#[test]
fn a_read_only_outbox_keeps_the_report_and_says_the_record_was_not_queued() {
    scan_with_outbox_on(SmallFs::ReadOnly);
}

#[test]
fn a_full_outbox_keeps_the_report_says_the_record_was_not_queued_and_leaves_no_temporary_file() {
    let err = scan_with_outbox_on(SmallFs::Full);
    assert!(err.contains("No space left on device"), "{err}");
    assert_eq!(left(&err), "", "{err}");
}

#[test]
fn a_clean_device_whose_record_cannot_be_written_is_not_clean() {
    let s = setup("out");
    let (out, err) = run(s
        .scan(SmallFs::ReadOnly, &[&s.good])
        .arg("--out-dir")
        .arg(&s.dir));
    assert_eq!(code(&out), 3, "{err}");
    assert_eq!(json(&out)["reports"][0]["status"], "incomplete");
}

#[test]
fn a_full_disk_under_output_is_an_error_and_leaves_no_temporary_file() {
    let s = setup("reports");
    let rx = Receiver::healthy();
    let (out, err) = run(s
        .scan(SmallFs::Full, &[&s.bad])
        .arg("--output")
        .arg(s.dir.join("report.json"))
        .args(s.post(&rx.url())));
    assert_eq!(code(&out), 2, "{err}");
    assert!(err.contains("writing the report"), "{err}");
    assert_eq!(left(&err), "", "{err}");
    assert_eq!(rx.records(), 1, "the queued record is still sent: {err}");
}

#[test]
fn report_files_get_the_mode_a_plain_create_gives() {
    let s = setup("devices");
    let report = s.root.path().join("report.json");
    let (out, err) = run(hermetic("sh")
        .args(["-c", r#"umask 027 && exec "$0" "$@""#, APPSWEEP])
        .args(["scan", "files", "--format", "json"])
        .arg(&s.bad)
        .arg("--output")
        .arg(&report)
        .arg("--out-dir")
        .arg(&s.dir));
    assert_eq!(code(&out), 1, "{err}");
    let mode = |p: &Path| {
        use std::os::unix::fs::PermissionsExt;
        std::fs::metadata(p).unwrap().permissions().mode() & 0o777
    };
    assert_eq!(mode(&report), 0o640);
    let one = std::fs::read_dir(&s.dir).unwrap().next().unwrap().unwrap();
    assert_eq!(mode(&one.path()), 0o640);
}
