//! `scan backup`: special files in place of a backup's files, hostile `Manifest.db` schemas,
//! more domains than read, rows only in the write-ahead log.

use super::*;
use crate::support::backupbuild::{snapshot, Encryption};
use rusqlite::Connection;

const UDID: &str = "00008101-000A1B2C3D4E5F60";

fn plain_backup(root: &Path, name: &str) -> PathBuf {
    Backup::new(UDID).write(&root.join(name))
}

#[test]
fn fifos_and_devices_in_a_backup_are_problems_not_hangs() {
    let root = tempfile::tempdir().unwrap();
    let fifo_info = plain_backup(root.path(), "fifo-info");
    std::fs::remove_file(fifo_info.join("Info.plist")).unwrap();
    mkfifo(&fifo_info.join("Info.plist"));
    let zero_info = plain_backup(root.path(), "zero-info");
    std::fs::remove_file(zero_info.join("Info.plist")).unwrap();
    std::os::unix::fs::symlink("/dev/zero", zero_info.join("Info.plist")).unwrap();
    let fifo_db = plain_backup(root.path(), "fifo-db");
    std::fs::remove_file(fifo_db.join("Manifest.db")).unwrap();
    mkfifo(&fifo_db.join("Manifest.db"));
    let fifo_wal = plain_backup(root.path(), "fifo-wal");
    mkfifo(&fifo_wal.join("Manifest.db-wal"));

    let (rc, doc, err) = scan_backups(
        root.path(),
        &[&fifo_info, &zero_info, &fifo_db, &fifo_wal],
        &[],
    );
    assert_eq!(rc, 1, "{err}");
    assert_tiktok_survives(&doc, root.path());
    for (dir, kind) in [
        (&fifo_info, "Info.plist"),
        (&zero_info, "Info.plist"),
        (&fifo_db, "Manifest.db"),
        (&fifo_wal, "Manifest.db-wal"),
    ] {
        assert_incomplete(report(&doc, dir), &[kind, "is not a regular file"]);
    }
    assert!(problem_text(report(&doc, &zero_info)).contains("(a device)"));
    // What else the backup holds is still read.
    let apps = report(&doc, &fifo_db)["apps"].to_string();
    assert!(apps.contains("com.apple.Pages"), "{apps}");
}

/// A backup whose `Manifest.db` is made by `sql`.
fn backup_with_db(root: &Path, name: &str, sql: &str) -> PathBuf {
    let dir = plain_backup(root, name);
    std::fs::remove_file(dir.join("Manifest.db")).unwrap();
    Connection::open(dir.join("Manifest.db"))
        .unwrap()
        .execute_batch(sql)
        .unwrap();
    dir
}

#[test]
fn a_files_view_over_an_endless_query_is_refused_at_once() {
    let root = tempfile::tempdir().unwrap();
    let view = backup_with_db(
        root.path(),
        "view",
        "CREATE VIEW Files AS WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) \
         SELECT 'AppDomain-' || x AS domain, '' AS relativePath FROM c;",
    );
    let computed = backup_with_db(
        root.path(),
        "computed",
        "CREATE TABLE Files (n INTEGER, domain TEXT AS (zeroblob(n))); \
         INSERT INTO Files VALUES (900000000);",
    );
    let started = std::time::Instant::now();
    let (rc, doc, err) = scan_backups(root.path(), &[&view, &computed], &[]);
    assert!(started.elapsed().as_secs() < 30, "{:?}", started.elapsed());
    assert_eq!(rc, 1, "{err}");
    assert_tiktok_survives(&doc, root.path());
    let r = report(&doc, &view);
    assert_incomplete(r, &["its Files is a view, not a table"]);
    let r = report(&doc, &computed);
    assert_incomplete(r, &["computed column"]);
}

#[test]
fn more_domains_than_read_is_said_and_what_was_read_still_counts() {
    let root = tempfile::tempdir().unwrap();
    // TikTok's container sorts first; then 1,000,001 other domains.
    let many = backup_with_db(
        root.path(),
        "many",
        "CREATE TABLE Files (fileID TEXT, domain TEXT, relativePath TEXT, flags INTEGER, file BLOB);
         CREATE INDEX FilesDomainIdx ON Files(domain);
         INSERT INTO Files VALUES ('a', 'AppDomain-com.zhiliaoapp.musically', 'Documents', 2, NULL);
         WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 1000001)
         INSERT INTO Files SELECT x, 'SysDomain-' || x, '', 2, NULL FROM c;",
    );
    let (rc, doc, err) = scan_backups(root.path(), &[&many], &[]);
    assert_eq!(rc, 1, "{err}");
    assert_tiktok_survives(&doc, root.path());
    let r = report(&doc, &many);
    assert!(
        problem_text(r).contains("more than 1000000 distinct domains"),
        "{}",
        problem_text(r)
    );
    // The violation read before the limit is kept (a violation outranks incomplete).
    assert_eq!(r["status"], "violation", "{}", r["problems"]);
}

/// Copies a live WAL-mode database whose last transaction is only in its log.
fn wal_backup(root: &Path, name: &str, late_domain: &str) -> PathBuf {
    let dir = plain_backup(root, name);
    let live = root.join(format!("{name}-live.db"));
    let c = Connection::open(&live).unwrap();
    c.execute_batch(
        "PRAGMA journal_mode=WAL; PRAGMA wal_autocheckpoint=0;
         CREATE TABLE Files (fileID TEXT PRIMARY KEY, domain TEXT, relativePath TEXT, flags INTEGER, file BLOB);
         CREATE INDEX FilesDomainIdx ON Files(domain);
         INSERT INTO Files VALUES ('1', 'HomeDomain', 'Library', 2, NULL);
         PRAGMA wal_checkpoint(TRUNCATE);",
    )
    .unwrap();
    c.execute(
        "INSERT INTO Files VALUES ('2', ?1, 'Documents', 2, NULL)",
        [late_domain],
    )
    .unwrap();
    std::fs::copy(&live, dir.join("Manifest.db")).unwrap();
    std::fs::copy(
        root.join(format!("{name}-live.db-wal")),
        dir.join("Manifest.db-wal"),
    )
    .unwrap();
    drop(c);
    dir
}

#[test]
fn rows_only_in_the_write_ahead_log_are_read_without_writing_to_the_backup() {
    let root = tempfile::tempdir().unwrap();
    let dir = wal_backup(root.path(), "wal", &format!("AppDomain-{TIKTOK}"));
    let before = snapshot(&dir);
    let out = appsweep_limited(MEM_MIB, SECS)
        .args(["scan", "backup", "--format", "json"])
        .arg(&dir)
        .output()
        .unwrap();
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    let doc = json(&out);
    let r = &doc["reports"][0];
    assert_eq!(r["status"], "violation", "{r}");
    assert!(r["notes"].to_string().contains("Manifest.db-wal"), "{r}");
    let app = crate::support::cmd::app(r, TIKTOK);
    assert!(app["seen_in"].to_string().contains("app_domain"), "{app}");
    assert_eq!(before, snapshot(&dir), "the backup folder changed");
}

#[test]
fn a_log_beside_an_encrypted_database_is_a_problem() {
    let root = tempfile::tempdir().unwrap();
    let dir = Backup::new(UDID)
        .encrypted(Encryption::new("pw"))
        .write(&root.path().join("enc"));
    std::fs::write(dir.join("Manifest.db-wal"), b"anything").unwrap();
    let pw = root.path().join("pw.txt");
    std::fs::write(&pw, "pw").unwrap();
    let (rc, doc, err) = scan_backups(
        root.path(),
        &[&dir],
        &["--password-file", pw.to_str().unwrap()],
    );
    assert_eq!(rc, 1, "{err}");
    let r = report(&doc, &dir);
    assert_incomplete(r, &["Manifest.db-wal beside an encrypted Manifest.db"]);
    assert!(r["notes"].to_string().contains("decrypted"), "{r}");
}
