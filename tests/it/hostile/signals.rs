//! Kills mid-scan: a decrypted `Manifest.db` is plaintext of the phone's file list; SIGKILL,
//! SIGTERM or SIGINT at any moment (while the password is stretched, while the database is
//! decrypted, while it is queried) must leave no plaintext and no temporary file behind.

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

/// `true` once the process holds its private copy of the database open.
fn holds_private_copy(pid: u32, tmp: &Path) -> bool {
    let Ok(fds) = std::fs::read_dir(format!("/proc/{pid}/fd")) else {
        return false;
    };
    fds.filter_map(Result::ok).any(|fd| {
        std::fs::read_link(fd.path())
            .is_ok_and(|t| t.starts_with(tmp) && t.to_string_lossy().contains("appsweep-"))
    })
}

fn signal(pid: u32, sig: &str) {
    let ok = std::process::Command::new("kill")
        .args([sig, &pid.to_string()])
        .status()
        .unwrap()
        .success();
    assert!(ok, "kill {sig} {pid}");
}

#[test]
fn kills_mid_decrypt_and_mid_query_leave_no_plaintext() {
    let root = tempfile::tempdir().unwrap();
    let (dir, pw) = big_encrypted_backup(root.path(), 150_000);
    let tmp = root.path().join("tmp");
    std::fs::create_dir(&tmp).unwrap();

    // Undisturbed, the run finds TikTok in the decrypted database and leaves nothing.
    let started = Instant::now();
    let out = start(&dir, &pw, &tmp).wait_with_output().unwrap();
    let whole = started.elapsed();
    assert_eq!(out.status.code(), Some(1));
    let doc = json(&out);
    assert!(
        doc["reports"][0]["notes"].to_string().contains("decrypted"),
        "{doc}"
    );
    assert_eq!(names(&tmp), Vec::<String>::new());

    let mut killed_holding_copy = 0;
    for sig in ["-KILL", "-TERM", "-INT"] {
        // At fixed points of the run (stretching the password, decrypting, querying)...
        for eighth in [2u32, 5] {
            let mut child = start(&dir, &pw, &tmp);
            std::thread::sleep(whole * eighth / 8);
            let _ = std::process::Command::new("kill")
                .args([sig, &child.id().to_string()])
                .status();
            let _ = child.wait();
            assert_eq!(names(&tmp), Vec::<String>::new(), "{sig} at {eighth}/8");
        }
        // ...and at the moment the private copy is open.
        let mut child = start(&dir, &pw, &tmp);
        let deadline = Instant::now() + Duration::from_secs(120);
        while !holds_private_copy(child.id(), &tmp) && Instant::now() < deadline {
            if child.try_wait().unwrap().is_some() {
                break;
            }
            std::thread::sleep(Duration::from_millis(2));
        }
        if child.try_wait().unwrap().is_none() {
            signal(child.id(), sig);
            let status = child.wait().unwrap();
            if status.code().is_none() {
                killed_holding_copy += 1;
            }
        }
        assert_eq!(names(&tmp), Vec::<String>::new(), "{sig} holding the copy");
    }
    assert!(
        killed_holding_copy >= 2,
        "the private copy was seen open and the run killed only {killed_holding_copy} time(s)"
    );
}
