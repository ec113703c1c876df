//! Kills mid-scan: a decrypted `Manifest.db` is plaintext of the phone's file list. It must never
//! reach the disk: no file appears in the temporary folder during a scan, and SIGKILL, SIGTERM or
//! SIGINT at any moment (while the password is stretched, while the database is decrypted, while
//! it is queried) leaves nothing behind.

use super::*;
use crate::support::backupbuild::{encrypt_manifest_db, Encryption};
use crate::support::cmd::appsweep;
use std::time::{Duration, Instant};

/// An encrypted backup whose Manifest.db holds `domains` distinct domains (so that reading it
/// takes long enough to be interrupted), and TikTok's container.
fn big_encrypted_backup(root: &Path, domains: u32) -> (PathBuf, PathBuf) {
    let enc = Encryption {
        dpic: 60_000,
        ..Encryption::new("hunter2")
    };
    let dir = Backup {
        db: None,
        ..Backup::new("00008101-000A1B2C3D4E5F61")
    }
    .write(&root.join("enc"));
    let scratch = root.join("plain.db");
    rusqlite::Connection::open(&scratch)
        .unwrap()
        .execute_batch(&format!(
            "PRAGMA page_size = 4096;
             CREATE TABLE Files (fileID TEXT PRIMARY KEY, domain TEXT, relativePath TEXT, flags INTEGER, file BLOB);
             CREATE INDEX FilesDomainIdx ON Files(domain);
             INSERT INTO Files VALUES ('0', 'AppDomain-{TIKTOK}', 'Documents', 2, NULL);
             WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < {domains})
             INSERT INTO Files SELECT x, 'SysContainerDomain-' || x, '', 2, NULL FROM c;"
        ))
        .unwrap();
    let plain = std::fs::read(&scratch).unwrap();
    std::fs::remove_file(&scratch).unwrap();
    let (keybag, manifest_key, ciphertext) = encrypt_manifest_db(&enc, &plain);
    std::fs::write(dir.join("Manifest.db"), ciphertext).unwrap();
    let mpath = dir.join("Manifest.plist");
    let mut m: plist::Dictionary = plist::from_file(&mpath).unwrap();
    m.insert("IsEncrypted".into(), true.into());
    m.insert("BackupKeyBag".into(), plist::Value::Data(keybag));
    m.insert("ManifestKey".into(), plist::Value::Data(manifest_key));
    plist::to_file_xml(&mpath, &m).unwrap();
    let pw = root.join("pw");
    std::fs::write(&pw, "hunter2").unwrap();
    (dir, pw)
}

fn start(dir: &Path, pw: &Path, tmp: &Path) -> std::process::Child {
    appsweep()
        .args(["scan", "backup", "--format", "json", "--password-file"])
        .arg(pw)
        .arg(dir)
        .env("TMPDIR", tmp)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap()
}

fn names(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect()
}

/// Sends `sig`; the process may have just exited (counted by the caller).
fn signal(pid: u32, sig: &str) {
    let _ = std::process::Command::new("kill")
        .args([sig, &pid.to_string()])
        .status();
}

#[test]
fn kills_mid_decrypt_and_mid_query_leave_no_plaintext() {
    let root = tempfile::tempdir().unwrap();
    let (dir, pw) = big_encrypted_backup(root.path(), 150_000);
    let tmp = root.path().join("tmp");
    std::fs::create_dir(&tmp).unwrap();

    // Undisturbed, the run finds TikTok in the decrypted database, and nothing ever appears in
    // the temporary folder while it runs.
    let started = Instant::now();
    let mut child = start(&dir, &pw, &tmp);
    let mut seen = Vec::new();
    while child.try_wait().unwrap().is_none() {
        seen.extend(names(&tmp));
        std::thread::sleep(Duration::from_millis(1));
    }
    let whole = started.elapsed();
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let doc = json(&out);
    assert!(
        doc["reports"][0]["notes"].to_string().contains("decrypted"),
        "{doc}"
    );
    assert_eq!(seen, Vec::<String>::new());
    assert_eq!(names(&tmp), Vec::<String>::new());

    let mut killed = 0;
    for sig in ["-KILL", "-TERM", "-INT"] {
        // At points spread over the run: stretching the password, decrypting, querying.
        for eighth in [1u32, 4, 7] {
            let mut child = start(&dir, &pw, &tmp);
            std::thread::sleep(whole * eighth / 8);
            if child.try_wait().unwrap().is_none() {
                signal(child.id(), sig);
            }
            if child.wait().unwrap().code().is_none() {
                killed += 1;
            }
            assert_eq!(names(&tmp), Vec::<String>::new(), "{sig} at {eighth}/8");
        }
    }
    assert!(killed >= 6, "only {killed} of 9 runs were killed mid-scan");
}
