//! Hostile inputs, each a class of attack made by a generator (no stored megabytes): every run
//! is the real binary under an address-space cap and a time limit, beside a real TikTok so the
//! test also shows that the other results and the violation survive.

mod backup;
mod files;
mod inputs;
pub mod manifests;
mod plists;
mod signals;

use crate::support::backupbuild::Backup;
use crate::support::cmd::{appsweep_limited, code, json, stderr};
use crate::support::ipabuild::Ipa;
pub use serde_json::Value;
pub use std::path::{Path, PathBuf};

/// Address space for one run: far above what appsweep needs, far below what an amplification
/// attack would take.
pub const MEM_MIB: u64 = 1024;
/// Seconds for one run.
pub const SECS: u64 = 60;

pub const TIKTOK: &str = "com.zhiliaoapp.musically";

/// A folder holding a real TikTok IPA.
pub fn tiktok(root: &Path) -> PathBuf {
    let dir = root.join("tiktok");
    Ipa::new(TIKTOK).write(&dir.join("t.ipa"));
    dir
}

/// A real, finished backup of a phone with TikTok installed.
pub fn tiktok_backup(root: &Path) -> PathBuf {
    Backup::new("00008030-00AA11BB22CC33DD")
        .manifest_app(TIKTOK, "330203")
        .write(&root.join("tiktok-backup"))
}

fn run(mut c: std::process::Command) -> (i32, Value, String) {
    let out = c.output().unwrap();
    let err = stderr(&out);
    assert_ne!(code(&out), 124, "timed out: {err}");
    assert_ne!(code(&out), 137, "killed (time limit): {err}");
    (code(&out), json(&out), err)
}

/// `scan files` of `paths` plus the TikTok folder; returns exit code, report doc and stderr.
pub fn scan_files(root: &Path, paths: &[&Path]) -> (i32, Value, String) {
    let mut c = appsweep_limited(MEM_MIB, SECS);
    c.args(["scan", "files", "--format", "json"])
        .args(paths)
        .arg(tiktok(root));
    run(c)
}

/// `scan backup` of `paths` plus a TikTok backup; returns exit code, report doc and stderr.
pub fn scan_backups(root: &Path, paths: &[&Path], extra: &[&str]) -> (i32, Value, String) {
    let mut c = appsweep_limited(MEM_MIB, SECS);
    c.args(["scan", "backup", "--format", "json"])
        .args(extra)
        .args(paths)
        .arg(tiktok_backup(root));
    run(c)
}

/// The report whose `device.location` (backups) or `device.id` (files) is `path`.
pub fn report<'a>(doc: &'a Value, path: &Path) -> &'a Value {
    let p = path.to_str().unwrap();
    doc["reports"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["device"]["id"] == p || r["device"]["location"] == p)
        .unwrap_or_else(|| panic!("no report for {p}: {doc}"))
}

pub fn assert_tiktok_survives(doc: &Value, root: &Path) {
    let reports = doc["reports"].as_array().unwrap();
    let violations: Vec<&Value> = reports
        .iter()
        .filter(|r| {
            let loc = r["device"]["location"].as_str().unwrap_or_default();
            let id = r["device"]["id"].as_str().unwrap_or_default();
            id == root.join("tiktok").to_str().unwrap() || loc.ends_with("tiktok-backup")
        })
        .collect();
    assert_eq!(violations.len(), 1, "{doc}");
    assert_eq!(violations[0]["status"], "violation", "{doc}");
}

pub fn problem_text(r: &Value) -> String {
    r["problems"].to_string()
}

/// Asserts that report `r` is `incomplete` and that its problems say each of `why`.
pub fn assert_incomplete(r: &Value, why: &[&str]) {
    assert_eq!(r["status"], "incomplete", "{r}");
    let text = problem_text(r);
    for w in why {
        assert!(text.contains(w), "{w:?} not in {text}");
    }
}

/// Makes a FIFO at `path`.
pub fn mkfifo(path: &Path) {
    assert!(std::process::Command::new("mkfifo")
        .arg(path)
        .status()
        .unwrap()
        .success());
}
