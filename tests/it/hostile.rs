//! Hostile inputs, each a class of attack made by a generator (no stored megabytes): every run
//! is the real binary under an address-space cap and a time limit, beside a real TikTok so the
//! test also shows that the other results and the violation survive.

use crate::support::cmd::{appsweep_limited, code, json, stderr};
use crate::support::ipabuild::Ipa;
use serde_json::Value;
use std::path::{Path, PathBuf};

/// Address space for one run: far above what appsweep needs, far below what an amplification
/// attack would take.
const MEM_MIB: u64 = 1024;
/// Seconds for one run.
const SECS: u64 = 60;

/// A folder holding a real TikTok IPA.
fn tiktok(root: &Path) -> PathBuf {
    let dir = root.join("tiktok");
    Ipa::new("com.zhiliaoapp.musically").write(&dir.join("t.ipa"));
    dir
}

/// `scan files` of `paths` plus the TikTok folder; returns exit code, report doc and stderr.
fn scan_files(root: &Path, paths: &[&Path]) -> (i32, Value, String) {
    let mut c = appsweep_limited(MEM_MIB, SECS);
    c.args(["scan", "files", "--format", "json"])
        .args(paths)
        .arg(tiktok(root));
    let out = c.output().unwrap();
    let err = stderr(&out);
    assert_ne!(code(&out), 124, "timed out: {err}");
    (code(&out), json(&out), err)
}

fn report<'a>(doc: &'a Value, id: &Path) -> &'a Value {
    let id = id.to_str().unwrap();
    doc["reports"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["device"]["id"] == id)
        .unwrap_or_else(|| panic!("no report for {id}: {doc}"))
}

fn assert_tiktok_survives(doc: &Value, root: &Path) {
    let r = report(doc, &root.join("tiktok"));
    assert_eq!(r["status"], "violation", "{r}");
}

fn problem_text(r: &Value) -> String {
    r["problems"].to_string()
}

#[test]
fn a_fifo_named_like_an_apk_is_a_problem_not_a_hang() {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("fifo");
    std::fs::create_dir(&dir).unwrap();
    let fifo = dir.join("x.apk");
    assert!(std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap()
        .success());
    let (rc, doc, _) = scan_files(root.path(), &[&dir, &fifo]);
    assert_eq!(rc, 1);
    assert_tiktok_survives(&doc, root.path());
    for id in [&dir, &fifo] {
        let r = report(&doc, id);
        assert_eq!(r["status"], "incomplete", "{r}");
        assert!(
            problem_text(r).contains("not a regular file (a FIFO)"),
            "{r}"
        );
    }
}

#[test]
fn an_empty_folder_is_incomplete_not_clean() {
    let root = tempfile::tempdir().unwrap();
    let empty = root.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    let (rc, doc, _) = scan_files(root.path(), &[&empty]);
    assert_eq!(rc, 1);
    let r = report(&doc, &empty);
    assert_eq!(r["status"], "incomplete");
    assert!(problem_text(r).contains("nothing was scanned"), "{r}");
    // Alone, it exits 3.
    let out = appsweep_limited(MEM_MIB, SECS)
        .args(["scan", "files", "--format", "json"])
        .arg(&empty)
        .output()
        .unwrap();
    assert_eq!(code(&out), 3);
}

#[test]
fn an_ipa_with_an_empty_bundle_id_is_a_problem() {
    let root = tempfile::tempdir().unwrap();
    let ipa = Ipa::new("").write(&root.path().join("blank/x.ipa"));
    let (rc, doc, _) = scan_files(root.path(), &[&ipa]);
    assert_eq!(rc, 1);
    let r = report(&doc, &ipa);
    assert_eq!(r["status"], "incomplete");
    assert_eq!(r["counts"]["apps"], 0);
    assert!(
        problem_text(r).contains("CFBundleIdentifier is missing or empty"),
        "{r}"
    );
}
