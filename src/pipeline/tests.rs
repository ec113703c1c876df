//! The pipeline with real signatures, policy, files and outbox, fed inventories directly (the
//! sources are tested on their own) and writing into a buffer instead of stdout.

use super::*;
use crate::model::{AppRecord, DeviceInfo, Platform};
use crate::policy::Policy;
use crate::report::Style;
use crate::signatures::SignatureSet;
use serde_json::Value;
use std::io::{BufRead, BufReader, Read};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

/// A writer whose bytes the test reads afterwards.
#[derive(Clone, Default)]
struct Buffer(Arc<Mutex<Vec<u8>>>);

impl Write for Buffer {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Buffer {
    fn text(&self) -> String {
        String::from_utf8(self.0.lock().unwrap().clone()).unwrap()
    }
    fn json(&self) -> Value {
        serde_json::from_str(&self.text()).unwrap()
    }
}

fn config(format: Format) -> ScanConfig {
    ScanConfig {
        set: SignatureSet::load(None).unwrap(),
        policy: Policy::builtin(),
        format,
        style: Style { color: false },
        quiet: true,
        output: None,
        out_dir: None,
        hash: files::HashMode::Flagged,
        delivery: None,
        post_each: false,
    }
}

/// A `scan files` inventory holding one app per (id, path).
fn files_inv(device: &str, apps: &[(&str, Option<&Path>)]) -> Inventory {
    let mut inv = Inventory::new(DeviceInfo::new(Platform::Files, SourceKind::Files, device));
    for (id, path) in apps {
        let mut app = AppRecord::new(*id);
        app.path = path.map(|p| p.display().to_string());
        inv.apps.push(app);
    }
    inv
}

const TIKTOK: &str = "com.zhiliaoapp.musically";

/// Runs the pipeline over `inventories`; returns the outcome and what was written.
fn run_over(cfg: &ScanConfig, inventories: Vec<Inventory>) -> (Result<Outcome>, Buffer) {
    let out = Buffer::default();
    let outcome = run(cfg, Box::new(out.clone()), |emit| {
        inventories.into_iter().for_each(emit);
        Ok(())
    });
    (outcome, out)
}

fn report_of<'a>(doc: &'a Value, device: &str) -> &'a Value {
    doc["reports"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["device"]["id"] == device)
        .unwrap_or_else(|| panic!("no record for {device}: {doc}"))
}

fn problem_scopes(r: &Value) -> Vec<&str> {
    r["problems"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["scope"].as_str().unwrap())
        .collect()
}

#[test]
fn a_violation_wins_over_an_incomplete_device_and_both_are_rendered() {
    let mut broken = files_inv("b", &[("com.example.notes", None)]);
    broken
        .problems
        .push(Problem::new("file x.apk", "not a zip"));
    let (outcome, out) = run_over(
        &config(Format::Json),
        vec![broken, files_inv("a", &[(TIKTOK, None)])],
    );
    assert_eq!(outcome.unwrap(), Outcome::Violation);
    let doc = out.json();
    assert_eq!(doc["summary"]["devices"], 2);
    assert_eq!(
        doc["reports"][0]["device"]["id"], "a",
        "sorted by device id"
    );
    assert_eq!(doc["reports"][0]["status"], "violation");
    assert_eq!(doc["reports"][1]["status"], "incomplete");
}

#[test]
fn a_source_that_fails_before_any_device_is_an_error_and_writes_nothing() {
    let out = Buffer::default();
    let r = run(&config(Format::Json), Box::new(out.clone()), |_| {
        anyhow::bail!("adb server refused")
    });
    assert!(format!("{:#}", r.unwrap_err()).contains("adb server refused"));
    assert_eq!(out.text(), "");
}

#[test]
fn nothing_scanned_is_incomplete_not_clean() {
    let (outcome, out) = run_over(&config(Format::Json), Vec::new());
    assert_eq!(outcome.unwrap(), Outcome::Incomplete);
    assert_eq!(out.json()["summary"]["devices"], 0);
}

#[test]
fn flagged_local_files_are_hashed_and_clean_ones_are_not() {
    let dir = tempfile::tempdir().unwrap();
    let (bad, good) = (dir.path().join("t.ipa"), dir.path().join("n.ipa"));
    std::fs::write(&bad, b"abc").unwrap();
    std::fs::write(&good, b"def").unwrap();
    let inv = files_inv(
        "d",
        &[(TIKTOK, Some(&bad)), ("com.example.notes", Some(&good))],
    );
    let (outcome, out) = run_over(&config(Format::Json), vec![inv]);
    assert_eq!(outcome.unwrap(), Outcome::Violation);
    let r = &out.json()["reports"][0];
    let sha = |id: &str| {
        r["apps"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["id"] == id)
            .unwrap()["file_sha256"]
            .clone()
    };
    // SHA-256("abc").
    assert_eq!(
        sha(TIKTOK),
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    );
    assert!(sha("com.example.notes").is_null());
    let kinds: Vec<&str> = r["findings"][0]["evidence"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    assert!(kinds.contains(&"file_sha256"), "{kinds:?}");
}

#[test]
fn a_flagged_file_over_the_limit_is_noted_not_read() {
    let dir = tempfile::tempdir().unwrap();
    let huge = dir.path().join("huge.ipa");
    // Sparse: no disk used, and reading it whole would take long.
    std::fs::File::create(&huge)
        .unwrap()
        .set_len(FLAGGED_HASH_MAX + 1)
        .unwrap();
    let started = std::time::Instant::now();
    let (outcome, out) = run_over(
        &config(Format::Json),
        vec![files_inv("d", &[(TIKTOK, Some(&huge))])],
    );
    assert_eq!(outcome.unwrap(), Outcome::Violation);
    assert!(started.elapsed() < std::time::Duration::from_secs(60));
    let r = &out.json()["reports"][0];
    assert!(r["apps"][0]["file_sha256"].is_null());
    assert!(
        r["notes"][0].as_str().unwrap().contains("--hash flagged"),
        "{r}"
    );
}

#[test]
fn an_out_dir_write_that_fails_is_a_problem_in_each_record_and_the_report_still_comes_out() {
    let dir = tempfile::tempdir().unwrap();
    let out_dir = dir.path().join("records");
    let mut cfg = config(Format::Json);
    cfg.out_dir = Some(out_dir.clone());
    let out = Buffer::default();
    let outcome = run(&cfg, Box::new(out.clone()), |emit| {
        // The folder goes away after the run started (an unplugged stick, a cleaner).
        std::fs::remove_dir(&out_dir)?;
        emit(files_inv("bad", &[(TIKTOK, None)]));
        emit(files_inv("good", &[("com.example.notes", None)]));
        Ok(())
    });
    assert_eq!(outcome.unwrap(), Outcome::Violation);
    let doc = out.json();
    let bad = report_of(&doc, "bad");
    assert_eq!(bad["status"], "violation");
    assert_eq!(problem_scopes(bad), ["out-dir"]);
    let good = report_of(&doc, "good");
    assert_eq!(
        good["status"], "incomplete",
        "not clean: its record was lost"
    );
    assert_eq!(good["counts"]["problems"], 1);
}

#[test]
fn an_outbox_that_cannot_be_written_is_a_problem_and_a_violation_still_wins() {
    let dir = tempfile::tempdir().unwrap();
    let not_a_folder = dir.path().join("outbox");
    std::fs::write(&not_a_folder, b"").unwrap();
    let mut cfg = config(Format::Json);
    cfg.delivery = Some(Delivery::new(
        not_a_folder,
        Some("http://127.0.0.1:9/hook".into()),
        None,
    ));
    let (outcome, out) = run_over(&cfg, vec![files_inv("bad", &[(TIKTOK, None)])]);
    assert_eq!(outcome.unwrap(), Outcome::Violation);
    let doc = out.json();
    assert_eq!(problem_scopes(report_of(&doc, "bad")), ["outbox"]);
}

/// A webhook that answers `204` to every POST and counts them.
fn webhook() -> (String, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    let count = Arc::new(AtomicUsize::new(0));
    let seen = count.clone();
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(mut s) = conn else { continue };
            let mut r = BufReader::new(s.try_clone().unwrap());
            let mut len = 0usize;
            loop {
                let mut line = String::new();
                if r.read_line(&mut line).unwrap_or(0) == 0 || line.trim().is_empty() {
                    break;
                }
                if let Some((k, v)) = line.split_once(':') {
                    if k.eq_ignore_ascii_case("content-length") {
                        len = v.trim().parse().unwrap_or(0);
                    }
                }
            }
            let mut body = vec![0; len];
            if r.read_exact(&mut body).is_ok() {
                seen.fetch_add(1, Ordering::SeqCst);
                let _ = s.write_all(b"HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n");
            }
        }
    });
    (url, count)
}

#[test]
fn queued_records_are_sent_even_when_the_report_file_cannot_be_written() {
    let dir = tempfile::tempdir().unwrap();
    let (url, posted) = webhook();
    let mut cfg = config(Format::Json);
    cfg.output = Some(dir.path().join("missing-folder/report.json"));
    cfg.delivery = Some(Delivery::new(dir.path().join("outbox"), Some(url), None));
    let (outcome, out) = run_over(
        &cfg,
        vec![
            files_inv("bad", &[(TIKTOK, None)]),
            files_inv("good", &[("com.example.notes", None)]),
        ],
    );
    let err = format!("{:#}", outcome.unwrap_err());
    assert!(err.contains("writing the report"), "{err}");
    assert_eq!(out.text(), "", "the report goes to --output only");
    assert_eq!(posted.load(Ordering::SeqCst), 2);
    assert_eq!(
        std::fs::read_dir(dir.path().join("outbox"))
            .unwrap()
            .count(),
        0,
        "both records left the outbox"
    );
}

#[test]
fn human_and_csv_reach_the_injected_writer_as_devices_finish() {
    let mut cfg = config(Format::Csv);
    let (_, out) = run_over(
        &cfg,
        vec![files_inv("=cmd|' /C calc'!A0", &[(TIKTOK, None)])],
    );
    let text = out.text();
    assert!(text.starts_with(report::CSV_HEADER), "{text}");
    assert!(text.contains("\n'=cmd|' /C calc'!A0,files,"), "{text}");
    cfg.format = Format::Human;
    cfg.quiet = false;
    let (_, out) = run_over(
        &cfg,
        vec![files_inv("phone\x1b[2J\u{202e}", &[(TIKTOK, None)])],
    );
    let text = out.text();
    assert!(
        text.starts_with("VIOLATION   phone\\u{1b}[2J\\u{202e}  1 violation(s)"),
        "{text}"
    );
    assert!(text.ends_with("1 device(s): 1 violation, 0 incomplete, 0 clean\n"));
}

#[test]
fn out_dir_files_are_named_safely_and_never_overwrite_each_other() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(Format::Jsonl);
    cfg.out_dir = Some(dir.path().to_path_buf());
    let inventories = vec![
        files_inv("../../etc/passwd", &[("com.example.notes", None)]),
        files_inv("../../etc/passwd", &[("com.example.notes", None)]),
    ];
    let (outcome, out) = run_over(&cfg, inventories);
    assert_eq!(outcome.unwrap(), Outcome::Clean);
    assert_eq!(out.text().lines().count(), 2);
    let mut names: Vec<PathBuf> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    names.sort();
    assert_eq!(names.len(), 2, "{names:?}");
    for n in &names {
        assert_eq!(n.parent().unwrap(), dir.path());
        let name = n.file_name().unwrap().to_str().unwrap();
        assert!(name.starts_with("_.._etc_passwd-"), "{name}");
    }
}
