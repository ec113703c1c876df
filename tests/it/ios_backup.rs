//! iOS backups: one backup or a tree of many, encrypted ones included. Backups are built by
//! `support/backupbuild.rs` with real plists and SQLite; the encrypted third-party fixtures are
//! read in place.

use crate::support::backupbuild;
use crate::support::cmd::appsweep;

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use appsweep::model::{AppRecord, Inventory, Platform, SourceKind};
use appsweep::source::ios_backup::{scan, BackupOptions};
use backupbuild::*;
use plist::Value;

fn scan_all(paths: &[PathBuf], opts: &BackupOptions) -> Vec<Inventory> {
    let out = Mutex::new(Vec::new());
    scan(paths, opts, &|inv| out.lock().unwrap().push(inv)).unwrap();
    let mut v = out.into_inner().unwrap();
    v.sort_by(|a, b| a.device.location.cmp(&b.device.location));
    v
}

fn scan_one(dir: &Path, opts: &BackupOptions) -> Inventory {
    let mut v = scan_all(&[dir.to_path_buf()], opts);
    assert_eq!(v.len(), 1, "{v:#?}");
    v.remove(0)
}

fn app<'a>(inv: &'a Inventory, id: &str) -> &'a AppRecord {
    inv.apps
        .iter()
        .find(|a| a.id == id)
        .unwrap_or_else(|| panic!("no app {id} in {:#?}", inv.apps))
}

fn detail<'a>(app: &'a AppRecord, key: &str) -> Option<&'a str> {
    app.details
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
}

fn problems(inv: &Inventory) -> String {
    inv.problems
        .iter()
        .map(|p| format!("{}: {}\n", p.scope, p.message))
        .collect()
}

const UDID: &str = "00008030-001A35E83C38802E";

#[test]
fn device_identity_from_binary_info_plist_without_personal_data() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = Backup::new(UDID).binary().write(&tmp.path().join("backup"));
    let inv = scan_one(&dir, &BackupOptions::default());
    let d = &inv.device;
    assert_eq!((d.platform, d.source), (Platform::Ios, SourceKind::Backup));
    assert_eq!(d.id, UDID);
    assert_eq!(d.model.as_deref(), Some("iPhone15,2"));
    assert_eq!(d.manufacturer.as_deref(), Some("Apple"));
    assert_eq!(d.os_version.as_deref(), Some("17.4.1"));
    assert_eq!(d.os_build.as_deref(), Some("21E237"));
    // Asset identifiers are reported; the owner's name for the device is personal data.
    assert_eq!(d.name, None);
    assert_eq!(d.serial.as_deref(), Some("F2LXK0ABCDEF"));
    assert_eq!(d.imei.as_deref(), Some("356789012345678"));
    assert_eq!(d.location.as_deref(), Some(dir.to_str().unwrap()));
    assert_eq!(d.personal, None);
    let opts = BackupOptions {
        include_personal_data: true,
        ..BackupOptions::default()
    };
    let d = scan_one(&dir, &opts).device;
    assert_eq!(d.name.as_deref(), Some("Audit iPhone"));
    assert_eq!(
        d.personal.unwrap().phone_number.as_deref(),
        Some("+32 470 12 34 56")
    );
    assert!(inv.problems.is_empty(), "{}", problems(&inv));
    assert_eq!(
        app(&inv, "com.apple.Pages").seen_in,
        vec!["app_domain", "installed_applications"]
    );
}

#[test]
fn identity_falls_back_to_lockdown_then_folder_name() {
    let tmp = tempfile::tempdir().unwrap();
    let mut b = Backup::new(UDID);
    b.info = Some(dict(vec![("Installed Applications", Value::Array(vec![]))]));
    let dir = b.write(&tmp.path().join("lockdown"));
    let inv = scan_one(&dir, &BackupOptions::default());
    assert_eq!(inv.device.id, UDID);
    assert_eq!(inv.device.model.as_deref(), Some("iPhone15,2"));

    let mut b = Backup::new(UDID);
    b.info = Some(dict(vec![]));
    b.manifest.as_mut().unwrap().remove("Lockdown");
    let dir = b.write(&tmp.path().join("nameless"));
    assert_eq!(
        scan_one(&dir, &BackupOptions::default()).device.id,
        "nameless"
    );
}

#[test]
fn tiktok_only_in_installed_applications() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = Backup::new(UDID)
        .installed_app(TIKTOK)
        .write(&tmp.path().join("b"));
    let inv = scan_one(&dir, &BackupOptions::default());
    let a = app(&inv, TIKTOK);
    assert!(a.installed);
    assert_eq!(a.seen_in, vec!["installed_applications"]);
    assert!(inv.problems.is_empty(), "{}", problems(&inv));
}

#[test]
fn tiktok_only_in_info_applications_with_metadata() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = Backup::new(UDID)
        .binary()
        .info_app(
            TIKTOK,
            itunes_metadata(TIKTOK_STORE_ID, "TikTok", "33.2.3", Some(TIKTOK)),
        )
        .write(&tmp.path().join("b"));
    let inv = scan_one(&dir, &BackupOptions::default());
    let a = app(&inv, TIKTOK);
    assert!(a.installed);
    assert_eq!(a.seen_in, vec!["info_applications"]);
    assert_eq!(a.app_store_id, Some(TIKTOK_STORE_ID));
    assert_eq!(a.name.as_deref(), Some("TikTok"));
    assert_eq!(a.version.as_deref(), Some("33.2.3"));
    assert_eq!(detail(a, "seller"), Some("TikTok Ltd."));
    assert_eq!(detail(a, "source_app"), Some("com.apple.AppStore"));
    assert_eq!(detail(a, "purchase_date"), Some("2024-03-01T10:00:00Z"));
    // The buyer's Apple ID is personal data: nowhere unless asked for.
    assert!(!format!("{inv:?}").contains("buyer@example.com"));
    let personal = scan_one(
        &dir,
        &BackupOptions {
            include_personal_data: true,
            ..BackupOptions::default()
        },
    );
    let p = personal.device.personal.unwrap();
    assert_eq!(p.apple_ids, vec!["buyer@example.com"]);
    assert_eq!(p.phone_number.as_deref(), Some("+32 470 12 34 56"));
    assert_eq!(p.iccid.as_deref(), Some("8932000000000000000"));
}

#[test]
fn tiktok_identified_only_by_app_store_id_under_another_bundle_key() {
    let tmp = tempfile::tempdir().unwrap();
    let mut meta = itunes_metadata(TIKTOK_STORE_ID, "Video Player", "1.0", None);
    meta.remove("itemName");
    let dir = Backup::new(UDID)
        .info_app("com.example.renamed", meta)
        .write(&tmp.path().join("b"));
    let inv = scan_one(&dir, &BackupOptions::default());
    assert!(!inv.apps.iter().any(|a| a.id == TIKTOK));
    let a = app(&inv, "com.example.renamed");
    assert_eq!(a.app_store_id, Some(TIKTOK_STORE_ID));
    assert!(a.installed);
}

#[test]
fn irregular_and_unreadable_itunes_metadata() {
    let tmp = tempfile::tempdir().unwrap();
    let irregular = dict(vec![
        ("itemId", s("835599320")),
        ("itemName", Value::Array(vec![])),
        (
            "com.apple.iTunesStore.downloadInfo",
            Value::Integer(3.into()),
        ),
    ]);
    let dir = Backup::new(UDID)
        .info_app(TIKTOK, irregular)
        .info_app_raw("com.example.broken", b"bplist00 not really".to_vec())
        .write(&tmp.path().join("b"));
    let inv = scan_one(&dir, &BackupOptions::default());
    let a = app(&inv, TIKTOK);
    assert_eq!(a.app_store_id, Some(TIKTOK_STORE_ID));
    assert_eq!(a.name, None);
    assert!(app(&inv, "com.example.broken").installed);
    assert_eq!(inv.problems.len(), 1, "{}", problems(&inv));
    assert_eq!(inv.problems[0].scope, "app com.example.broken");
}

#[test]
fn tiktok_only_in_manifest_plist_applications_counts_as_installed() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = Backup::new(UDID)
        .manifest_app(TIKTOK, "330203")
        .write(&tmp.path().join("b"));
    let inv = scan_one(&dir, &BackupOptions::default());
    let a = app(&inv, TIKTOK);
    assert!(a.installed);
    assert_eq!(a.seen_in, vec!["manifest_applications"]);
    assert_eq!(detail(a, "bundle_version"), Some("330203"));
    assert_eq!(
        a.path.as_deref(),
        Some("/var/containers/Bundle/Application/0000/com.zhiliaoapp.musically.app")
    );
}

#[test]
fn tiktok_only_as_app_domain_in_manifest_db() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = Backup::new(UDID)
        .db_domain(&format!("AppDomain-{TIKTOK}"))
        .write(&tmp.path().join("b"));
    let inv = scan_one(&dir, &BackupOptions::default());
    let a = app(&inv, TIKTOK);
    assert!(a.installed);
    assert_eq!(a.seen_in, vec!["app_domain"]);
}

#[test]
fn tiktok_only_as_app_domain_in_mbdb() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = Backup::new(UDID)
        .with_mbdb(&[&format!("AppDomain-{TIKTOK}")])
        .write(&tmp.path().join("b"));
    assert!(!dir.join("Manifest.db").exists());
    let inv = scan_one(&dir, &BackupOptions::default());
    let a = app(&inv, TIKTOK);
    assert!(a.installed);
    assert_eq!(a.seen_in, vec!["app_domain"]);
    assert!(inv.problems.is_empty(), "{}", problems(&inv));
    assert!(
        inv.notes
            .iter()
            .any(|n| n == "Manifest.mbdb: 4 domains read"),
        "{:?}",
        inv.notes
    );
}

#[test]
fn tiktok_only_as_app_group_is_not_installed() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = Backup::new(UDID)
        .db_domain(&format!("AppDomainGroup-group.{TIKTOK}"))
        .db_domain(&format!("AppDomainPlugin-{TIKTOK}.share"))
        .write(&tmp.path().join("b"));
    let inv = scan_one(&dir, &BackupOptions::default());
    assert!(!inv.apps.iter().any(|a| a.id == TIKTOK));
    let g = app(&inv, &format!("group.{TIKTOK}"));
    assert!(!g.installed);
    assert_eq!(g.seen_in, vec!["app_group"]);
    let p = app(&inv, &format!("{TIKTOK}.share"));
    assert!(!p.installed);
    assert_eq!(p.seen_in, vec!["app_plugin"]);
}

#[test]
fn places_are_unioned_per_bundle_id() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = Backup::new(UDID)
        .installed_app(TIKTOK)
        .info_app(
            TIKTOK,
            itunes_metadata(TIKTOK_STORE_ID, "TikTok", "33.2.3", Some(TIKTOK)),
        )
        .manifest_app(TIKTOK, "330203")
        .db_domain(&format!("AppDomain-{TIKTOK}"))
        .db_domain(&format!("AppDomainGroup-{TIKTOK}"))
        .write(&tmp.path().join("b"));
    let inv = scan_one(&dir, &BackupOptions::default());
    assert_eq!(inv.apps.iter().filter(|a| a.id == TIKTOK).count(), 1);
    let a = app(&inv, TIKTOK);
    assert!(a.installed);
    assert_eq!(
        a.seen_in,
        vec![
            "app_domain",
            "app_group",
            "info_applications",
            "installed_applications",
            "manifest_applications"
        ]
    );
    assert_eq!(a.version.as_deref(), Some("33.2.3"));
    let ids: Vec<_> = inv.apps.iter().map(|a| a.id.as_str()).collect();
    let mut sorted = ids.clone();
    sorted.sort();
    assert_eq!(ids, sorted);
}

#[test]
fn encrypted_backup_without_password_reads_plaintext_lists_and_says_what_it_missed() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = Backup::new(UDID)
        .installed_app(TIKTOK)
        .db_domain("AppDomain-com.bytedance.other")
        .encrypted(Encryption::new("hunter2"))
        .write(&tmp.path().join("b"));
    let inv = scan_one(&dir, &BackupOptions::default());
    assert!(app(&inv, TIKTOK).installed);
    assert!(!inv.apps.iter().any(|a| a.id == "com.bytedance.other"));
    assert_eq!(inv.problems.len(), 1, "{}", problems(&inv));
    assert_eq!(inv.problems[0].scope, "file Manifest.db");
    assert!(
        inv.problems[0].message.contains("no password"),
        "{}",
        problems(&inv)
    );
}

#[test]
fn encrypted_backup_with_password_reads_domains_padded_unpadded_and_legacy() {
    let tmp = tempfile::tempdir().unwrap();
    let variants = [
        Encryption::new("hunter2"),
        Encryption {
            pkcs7: true,
            ..Encryption::new("hunter2")
        },
        Encryption {
            legacy: true,
            ..Encryption::new("hunter2")
        },
    ];
    for (i, enc) in variants.into_iter().enumerate() {
        let dir = Backup::new(UDID)
            .binary()
            .installed_app(TIKTOK)
            .db_domain("AppDomain-com.bytedance.other")
            .encrypted(enc)
            .write(&tmp.path().join(format!("b{i}")));
        let opts = BackupOptions {
            password: Some("hunter2".into()),
            ..BackupOptions::default()
        };
        let inv = scan_one(&dir, &opts);
        assert!(inv.problems.is_empty(), "variant {i}: {}", problems(&inv));
        assert_eq!(app(&inv, "com.bytedance.other").seen_in, vec!["app_domain"]);
        assert!(inv.notes.iter().any(|n| n.contains("decrypted")));
    }
}

#[test]
fn encrypted_backup_with_wrong_password_keeps_the_plaintext_report() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = Backup::new(UDID)
        .installed_app(TIKTOK)
        .manifest_app("com.example.other", "1")
        .encrypted(Encryption::new("hunter2"))
        .write(&tmp.path().join("b"));
    let opts = BackupOptions {
        password: Some("wrong".into()),
        ..BackupOptions::default()
    };
    let inv = scan_one(&dir, &opts);
    assert!(app(&inv, TIKTOK).installed);
    assert!(app(&inv, "com.example.other").installed);
    assert_eq!(inv.device.id, UDID);
    assert_eq!(inv.problems.len(), 1, "{}", problems(&inv));
    assert!(
        inv.problems[0].message.starts_with("wrong backup password"),
        "{}",
        problems(&inv)
    );
}

fn pyiosbackup(name: &str) -> PathBuf {
    let p = third_party().join("ios_backups/pyiosbackup").join(name);
    assert!(
        p.join("Manifest.plist").exists(),
        "missing fixture {}",
        p.display()
    );
    p
}

#[test]
fn third_party_encrypted_ios10_3() {
    let dir = pyiosbackup("encrypted_ios10_3");
    let before = snapshot(&dir);
    // No password: the plaintext lists (empty here) are read; Manifest.db is a problem.
    let inv = scan_one(&dir, &BackupOptions::default());
    assert!(inv.apps.is_empty());
    assert_eq!(inv.problems.len(), 1, "{}", problems(&inv));
    assert_eq!(inv.device.id, "encrypted_ios10_3");
    assert_eq!(inv.device.os_version.as_deref(), Some("10.3"));

    let with = |pw: &str| {
        scan_one(
            &dir,
            &BackupOptions {
                password: Some(pw.into()),
                ..BackupOptions::default()
            },
        )
    };
    let wrong = with("1234");
    assert_eq!(wrong.problems.len(), 1, "{}", problems(&wrong));
    assert!(
        wrong.problems[0]
            .message
            .starts_with("wrong backup password"),
        "{}",
        problems(&wrong)
    );

    let right = with("0000");
    assert!(right.problems.is_empty(), "{}", problems(&right));
    assert!(right.apps.is_empty());
    assert!(
        right
            .notes
            .iter()
            .any(|n| n == "Manifest.db: 1 domains read"),
        "{:?}",
        right.notes
    );
    assert!(right
        .notes
        .iter()
        .any(|n| n == "Manifest.db decrypted with the backup password"));
    assert_eq!(snapshot(&dir), before);
}

#[test]
fn third_party_encrypted_ios9_mbdb_is_read_without_password() {
    let dir = pyiosbackup("encrypted_ios9_mbdb");
    let inv = scan_one(&dir, &BackupOptions::default());
    assert!(inv.problems.is_empty(), "{}", problems(&inv));
    assert!(inv.apps.is_empty());
    assert!(
        inv.notes
            .iter()
            .any(|n| n == "Manifest.mbdb: 1 domains read"),
        "{:?}",
        inv.notes
    );
    assert_eq!(inv.device.os_version.as_deref(), Some("9.0.1"));
}

#[test]
fn unfinished_missing_and_corrupt_files_are_problems() {
    let tmp = tempfile::tempdir().unwrap();
    let unfinished = Backup::new("u1")
        .status("SnapshotState", s("uploading"))
        .installed_app(TIKTOK)
        .write(&tmp.path().join("unfinished"));
    let inv = scan_one(&unfinished, &BackupOptions::default());
    assert!(app(&inv, TIKTOK).installed);
    assert_eq!(inv.problems.len(), 1, "{}", problems(&inv));
    assert!(inv.problems[0].message.contains("unfinished"));

    let corrupt_db = Backup::new("u2").write(&tmp.path().join("corrupt_db"));
    std::fs::write(corrupt_db.join("Manifest.db"), vec![0x42; 8192]).unwrap();
    let inv = scan_one(&corrupt_db, &BackupOptions::default());
    assert_eq!(inv.problems.len(), 1, "{}", problems(&inv));
    assert_eq!(inv.problems[0].scope, "file Manifest.db");

    let truncated_db = Backup::new("u3")
        .db_domain("AppDomain-a.b")
        .write(&tmp.path().join("truncated_db"));
    let bytes = std::fs::read(truncated_db.join("Manifest.db")).unwrap();
    std::fs::write(truncated_db.join("Manifest.db"), &bytes[..4096]).unwrap();
    let inv = scan_one(&truncated_db, &BackupOptions::default());
    assert_eq!(inv.problems.len(), 1, "{}", problems(&inv));

    let corrupt_info = Backup::new("u4").write(&tmp.path().join("corrupt_info"));
    std::fs::write(
        corrupt_info.join("Info.plist"),
        b"<?xml version=\"1.0\"?><plist><dict><key>",
    )
    .unwrap();
    let inv = scan_one(&corrupt_info, &BackupOptions::default());
    assert_eq!(inv.problems.len(), 1, "{}", problems(&inv));
    assert_eq!(inv.problems[0].scope, "file Info.plist");
    assert_eq!(
        inv.device.id, "u4",
        "identity still comes from Manifest.plist Lockdown"
    );

    let mut b = Backup::new("u5");
    b.status = None;
    b.db = None;
    let bare = b.write(&tmp.path().join("bare"));
    let inv = scan_one(&bare, &BackupOptions::default());
    let scopes: Vec<_> = inv.problems.iter().map(|p| p.scope.as_str()).collect();
    assert_eq!(
        scopes,
        vec!["file Manifest.db", "file Status.plist"],
        "{}",
        problems(&inv)
    );

    let bad_mbdb = Backup::new("u6")
        .with_mbdb(&["AppDomain-a.b"])
        .write(&tmp.path().join("bad_mbdb"));
    let bytes = std::fs::read(bad_mbdb.join("Manifest.mbdb")).unwrap();
    std::fs::write(bad_mbdb.join("Manifest.mbdb"), &bytes[..bytes.len() - 5]).unwrap();
    let inv = scan_one(&bad_mbdb, &BackupOptions::default());
    assert_eq!(inv.problems.len(), 1, "{}", problems(&inv));
    assert_eq!(inv.problems[0].scope, "file Manifest.mbdb");
}

#[test]
fn scanning_never_writes_inside_a_backup_folder() {
    let tmp = tempfile::tempdir().unwrap();
    let plain = Backup::new("p1")
        .installed_app(TIKTOK)
        .db_domain("AppDomain-a.b")
        .write(&tmp.path().join("plain"));
    let enc = Backup::new("p2")
        .db_domain("AppDomain-a.b")
        .encrypted(Encryption::new("pw"))
        .write(&tmp.path().join("enc"));
    let mbdb = Backup::new("p3")
        .with_mbdb(&["AppDomain-a.b"])
        .write(&tmp.path().join("mbdb"));
    let corrupt = Backup::new("p4").write(&tmp.path().join("corrupt"));
    std::fs::write(corrupt.join("Manifest.db"), vec![0x42; 4096]).unwrap();
    let before = snapshot(tmp.path());
    let opts = BackupOptions {
        password: Some("pw".into()),
        ..BackupOptions::default()
    };
    let invs = scan_all(&[tmp.path().to_path_buf()], &opts);
    assert_eq!(invs.len(), 4);
    assert!(invs
        .iter()
        .all(|i| i.apps.iter().any(|a| a.id == "a.b") || i.device.id == "p4"));
    assert_eq!(snapshot(tmp.path()), before);
    let _ = (plain, enc, mbdb);
}

#[test]
fn a_tree_of_hundreds_of_backups_with_broken_ones() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    // One template per kind, copied many times (building SQLite 300 times is slow in debug).
    let good = Backup::new("template").installed_app(TIKTOK);
    let template = good.write(&root.join("_template_good"));
    let mut expected_good = Vec::new();
    for i in 0..300 {
        let dir = root.join(format!("site{}/{:040x}", i % 7, i));
        std::fs::create_dir_all(&dir).unwrap();
        for f in ["Manifest.db", "Manifest.plist", "Status.plist"] {
            std::fs::copy(template.join(f), dir.join(f)).unwrap();
        }
        let mut info = good.info.clone().unwrap();
        info.insert("Unique Identifier".into(), s(&format!("udid-{i:04}")));
        Value::Dictionary(info)
            .to_file_xml(dir.join("Info.plist"))
            .unwrap();
        expected_good.push(format!("udid-{i:04}"));
    }
    std::fs::remove_dir_all(&template).unwrap();
    // Broken ones: corrupt Info.plist, unfinished, UDID-named empty folder, missing manifests.
    Backup::new("broken-unfinished")
        .status("SnapshotState", s("new"))
        .write(&root.join("site1/broken-unfinished"));
    let corrupt = Backup::new("broken-corrupt").write(&root.join("site2/broken-corrupt"));
    std::fs::write(corrupt.join("Info.plist"), b"\x00\x01garbage").unwrap();
    std::fs::write(corrupt.join("Manifest.plist"), b"garbage").unwrap();
    std::fs::create_dir_all(root.join("site3/ffffffffffffffffffffffffffffffffffffffff")).unwrap();
    std::fs::create_dir_all(root.join("site4/not-a-backup/empty")).unwrap();
    #[cfg(unix)]
    std::os::unix::fs::symlink(root, root.join("site5/loop")).unwrap();

    let invs = scan_all(&[root.to_path_buf()], &BackupOptions::default());
    assert_eq!(invs.len(), 303);
    let mut good_ids: Vec<_> = invs
        .iter()
        .filter(|i| i.problems.is_empty())
        .map(|i| {
            assert!(app(i, TIKTOK).installed);
            i.device.id.clone()
        })
        .collect();
    good_ids.sort();
    assert_eq!(good_ids, expected_good);
    let broken: Vec<_> = invs
        .iter()
        .filter(|i| !i.problems.is_empty())
        .map(|i| i.device.id.clone())
        .collect();
    assert_eq!(broken.len(), 3, "{broken:?}");
    assert!(broken.contains(&"broken-unfinished".to_string()));
    assert!(broken.contains(&"broken-corrupt".to_string()));
    assert!(broken.contains(&"ffffffffffffffffffffffffffffffffffffffff".to_string()));
}

#[test]
fn paths_that_hold_no_backup_are_incomplete_not_silent() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(tmp.path().join("empty/sub")).unwrap();
    let invs = scan_all(
        &[tmp.path().join("empty"), tmp.path().join("nope")],
        &BackupOptions::default(),
    );
    assert_eq!(invs.len(), 2);
    for inv in &invs {
        assert_eq!(inv.problems.len(), 1, "{}", problems(inv));
        assert!(inv.apps.is_empty());
    }
    assert!(invs[0].problems[0]
        .message
        .starts_with("no iOS backup found"));
    assert!(invs[1].problems[0].message.starts_with("cannot read"));
}

// ---- The command line: `appsweep scan backup`, report and exit codes ----

fn cli(args: &[&str], env: &[(&str, &str)]) -> (i32, serde_json::Value, String) {
    let mut c = appsweep();
    for (k, v) in env {
        c.env(k, v);
    }
    let out = c
        .arg("scan")
        .arg("backup")
        .args(args)
        .args(["--format", "json"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let doc = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "not JSON ({e}): {}\n{stderr}",
            String::from_utf8_lossy(&out.stdout)
        )
    });
    (out.status.code().unwrap_or(-1), doc, stderr)
}

fn reports(doc: &serde_json::Value) -> &Vec<serde_json::Value> {
    crate::support::schema::assert_valid_run(doc)
}

#[test]
fn cli_tiktok_in_a_backup_is_a_violation_exit_1() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = Backup::new(UDID)
        .binary()
        .manifest_app(TIKTOK, "330203")
        .write(&tmp.path().join(UDID));
    let (code, doc, err) = cli(&[dir.to_str().unwrap()], &[]);
    assert_eq!(code, 1, "{err}");
    let r = &reports(&doc)[0];
    assert_eq!(r["status"], "violation");
    assert_eq!(r["device"]["platform"], "ios");
    assert_eq!(r["device"]["source"], "backup");
    assert_eq!(r["device"]["id"], UDID);
    let findings = r["findings"].as_array().unwrap();
    assert_eq!(findings.len(), 1, "{findings:#?}");
    assert_eq!(findings[0]["signature"], "tiktok.global");
    assert_eq!(findings[0]["app"]["id"], TIKTOK);
    for personal in ["+32 470", "Audit iPhone", "8932000000000000000"] {
        assert!(
            !doc.to_string().contains(personal),
            "personal data only on request: {personal}"
        );
    }
    assert_eq!(r["device"]["serial"], "F2LXK0ABCDEF");
    assert_eq!(r["device"]["imei"], "356789012345678");
    let (_, doc, _) = cli(&[dir.to_str().unwrap(), "--include-personal-data"], &[]);
    assert_eq!(
        reports(&doc)[0]["device"]["personal"]["phone_number"],
        "+32 470 12 34 56"
    );
    assert_eq!(reports(&doc)[0]["device"]["name"], "Audit iPhone");
}

#[test]
fn cli_clean_backup_exit_0_and_group_only_is_not_a_violation() {
    let tmp = tempfile::tempdir().unwrap();
    let clean = Backup::new(UDID).write(&tmp.path().join("clean"));
    let (code, doc, err) = cli(&[clean.to_str().unwrap()], &[]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(reports(&doc)[0]["status"], "clean");

    let group = Backup::new(UDID)
        .db_domain(&format!("AppDomainGroup-group.{TIKTOK}"))
        .write(&tmp.path().join("group"));
    let (code, doc, err) = cli(&[group.to_str().unwrap()], &[]);
    assert_ne!(code, 1, "{err}");
    let g = crate::support::cmd::app(&reports(&doc)[0], &format!("group.{TIKTOK}"));
    assert_eq!(g["installed"], false);
    assert_eq!(g["seen_in"], serde_json::json!(["app_group"]));
}

#[test]
fn cli_encrypted_backup_needs_the_password_for_manifest_db() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = Backup::new(UDID)
        .db_domain(&format!("AppDomain-{TIKTOK}"))
        .encrypted(Encryption::new("correct horse"))
        .write(&tmp.path().join("enc"));
    let path = dir.to_str().unwrap();
    let (code, doc, err) = cli(&[path], &[]);
    assert_eq!(code, 3, "{err}");
    assert_eq!(reports(&doc)[0]["status"], "incomplete");

    let pw = tmp.path().join("pw.txt");
    std::fs::write(&pw, "correct horse\n").unwrap();
    let (code, doc, err) = cli(&[path, "--password-file", pw.to_str().unwrap()], &[]);
    assert_eq!(code, 1, "{err}");
    assert_eq!(
        reports(&doc)[0]["findings"][0]["signature"],
        "tiktok.global"
    );

    let (code, _, err) = cli(&[path], &[("APPSWEEP_BACKUP_PASSWORD", "correct horse")]);
    assert_eq!(code, 1, "{err}");

    let (code, doc, err) = cli(&[path], &[("APPSWEEP_BACKUP_PASSWORD", "wrong")]);
    assert_eq!(code, 3, "{err}");
    let problems = doc["reports"][0]["problems"].to_string();
    assert!(problems.contains("wrong backup password"), "{problems}");
}

#[test]
fn cli_tree_exit_3_when_only_incomplete_and_1_with_a_violation() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("tree");
    let template = Backup::new("t").write(&tmp.path().join("template"));
    for i in 0..120 {
        let dir = root.join(format!("dept{}/{:040x}", i % 4, i));
        std::fs::create_dir_all(&dir).unwrap();
        for f in ["Manifest.db", "Manifest.plist", "Status.plist"] {
            std::fs::copy(template.join(f), dir.join(f)).unwrap();
        }
        let mut info = Backup::new("t").info.unwrap();
        info.insert("Unique Identifier".into(), s(&format!("udid-{i:04}")));
        Value::Dictionary(info)
            .to_file_binary(dir.join("Info.plist"))
            .unwrap();
    }
    let broken = Backup::new("broken").write(&root.join("dept1/broken"));
    std::fs::write(broken.join("Manifest.db"), b"not sqlite").unwrap();
    let (code, doc, err) = cli(&[root.to_str().unwrap()], &[]);
    assert_eq!(code, 3, "{err}");
    let rs = reports(&doc);
    assert_eq!(rs.len(), 121);
    assert_eq!(rs.iter().filter(|r| r["status"] == "clean").count(), 120);
    assert_eq!(rs.iter().filter(|r| r["status"] == "incomplete").count(), 1);

    Backup::new("tiktok-phone")
        .installed_app(TIKTOK)
        .write(&root.join("dept2/tiktok-phone"));
    let (code, doc, err) = cli(&[root.to_str().unwrap()], &[]);
    assert_eq!(code, 1, "{err}");
    assert_eq!(reports(&doc).len(), 122);
    assert_eq!(
        reports(&doc)
            .iter()
            .filter(|r| r["status"] == "violation")
            .count(),
        1
    );
}
