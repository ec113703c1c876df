//! `scan files`: special files, empty folders and blank bundle ids.

use super::*;

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
        assert_incomplete(r, &["not a regular file (a FIFO)"]);
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
    assert_incomplete(r, &["nothing was scanned"]);
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
