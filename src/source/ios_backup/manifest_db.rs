//! `Manifest.db` (iOS 10 and later): the `Files(fileID, domain, relativePath, flags, file)` table.
//!
//! The backup folder is never written: the database is opened read-only and `immutable=1` through
//! a `file:` URI, so SQLite takes no locks and creates no `-wal`, `-shm` or journal file. A
//! decrypted copy lives in a private (0600) temporary file that is removed when the scan of that
//! backup ends, whatever happens.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use rusqlite::{Connection, OpenFlags};

#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("cannot open: {0}")]
    Open(rusqlite::Error),
    #[error("cannot read the Files table: {0}")]
    Query(rusqlite::Error),
    #[error("cannot write the decrypted copy to {path}: {source}")]
    TempFile {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// `file:` URI for `path` with every byte outside the unreserved set percent-encoded.
fn file_uri(path: &Path) -> String {
    #[cfg(unix)]
    let bytes: Vec<u8> = {
        use std::os::unix::ffi::OsStrExt;
        path.as_os_str().as_bytes().to_vec()
    };
    #[cfg(not(unix))]
    let bytes: Vec<u8> = path.to_string_lossy().replace('\\', "/").into_bytes();
    let mut uri = String::from("file:");
    for b in bytes {
        if b.is_ascii_alphanumeric() || matches!(b, b'/' | b'-' | b'_' | b'.' | b'~') {
            uri.push(char::from(b));
        } else {
            uri.push_str(&format!("%{b:02X}"));
        }
    }
    uri.push_str("?mode=ro&immutable=1");
    uri
}

/// Opens a database read-only and immutable (never writes next to it).
pub fn open_immutable(path: &Path) -> Result<Connection, DbError> {
    let flags = OpenFlags::SQLITE_OPEN_READ_ONLY
        | OpenFlags::SQLITE_OPEN_URI
        | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    Connection::open_with_flags(file_uri(path), flags).map_err(DbError::Open)
}

fn text(value: rusqlite::types::ValueRef<'_>) -> Option<String> {
    match value {
        rusqlite::types::ValueRef::Text(t) | rusqlite::types::ValueRef::Blob(t) => {
            Some(String::from_utf8_lossy(t).into_owned())
        }
        _ => None,
    }
}

/// `true` when an index of `Files` starts with the `domain` column (real backups have
/// `FilesDomainIdx`).
fn has_domain_index(conn: &Connection) -> Result<bool, DbError> {
    conn.query_row(
        "SELECT COUNT(*) FROM sqlite_master AS m, pragma_index_info(m.name) AS i \
         WHERE m.type = 'index' AND m.tbl_name = 'Files' AND i.seqno = 0 AND i.name = 'domain'",
        [],
        |row| row.get::<_, i64>(0),
    )
    .map(|n| n > 0)
    .map_err(DbError::Query)
}

/// Upper bound on distinct domains read (real backups have a few thousand at most).
const MAX_DOMAINS: usize = 1_000_000;

/// Every distinct domain of the `Files` table, sorted. With the domain index real backups have,
/// one index seek per domain (a few hundred) instead of a walk over every file row.
pub fn domains(conn: &Connection) -> Result<Vec<String>, DbError> {
    let mut out = Vec::new();
    if has_domain_index(conn)? {
        let mut first = conn
            .prepare("SELECT MIN(domain) FROM Files")
            .map_err(DbError::Query)?;
        let mut next = conn
            .prepare("SELECT MIN(domain) FROM Files WHERE domain > ?1")
            .map_err(DbError::Query)?;
        let mut current: rusqlite::types::Value = first
            .query_row([], |row| row.get(0))
            .map_err(DbError::Query)?;
        while current != rusqlite::types::Value::Null && out.len() < MAX_DOMAINS {
            if let Some(domain) = text((&current).into()) {
                out.push(domain);
            }
            current = next
                .query_row([&current], |row| row.get(0))
                .map_err(DbError::Query)?;
        }
        out.sort();
        out.dedup();
        return Ok(out);
    }
    let mut stmt = conn
        .prepare("SELECT DISTINCT domain FROM Files ORDER BY domain")
        .map_err(DbError::Query)?;
    let rows = stmt
        .query_map([], |row| Ok(text(row.get_ref(0)?)))
        .map_err(DbError::Query)?;
    for row in rows {
        if let Some(domain) = row.map_err(DbError::Query)? {
            out.push(domain);
        }
    }
    // Text and blob domains sort apart in SQLite; one order for the caller.
    out.sort();
    out.dedup();
    Ok(out)
}

/// A private temporary file removed on drop.
pub struct TempDb {
    path: PathBuf,
}

impl TempDb {
    /// Writes `bytes` to a new 0600 file in the system temporary directory.
    pub fn create(bytes: &[u8]) -> Result<TempDb, DbError> {
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let dir = std::env::temp_dir();
        let mut last_err = None;
        for _ in 0..16 {
            let n = COUNTER.fetch_add(1, Ordering::Relaxed);
            let nanos = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.subsec_nanos())
                .unwrap_or(0);
            let path = dir.join(format!(
                "appsweep-manifest-{}-{n}-{nanos:08x}.db",
                std::process::id()
            ));
            let mut options = std::fs::OpenOptions::new();
            options.write(true).create_new(true);
            #[cfg(unix)]
            {
                use std::os::unix::fs::OpenOptionsExt;
                options.mode(0o600);
            }
            match options.open(&path) {
                Ok(mut file) => {
                    let guard = TempDb { path };
                    file.write_all(bytes)
                        .and_then(|()| file.flush())
                        .map_err(|source| DbError::TempFile {
                            path: guard.path.clone(),
                            source,
                        })?;
                    return Ok(guard);
                }
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => last_err = Some(e),
                Err(source) => return Err(DbError::TempFile { path, source }),
            }
        }
        Err(DbError::TempFile {
            path: dir,
            source: last_err.unwrap_or_else(|| std::io::Error::other("no free temporary name")),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for TempDb {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uri_escapes_specials() {
        assert_eq!(
            file_uri(Path::new("/a b/c?d#e%f")),
            "file:/a%20b/c%3Fd%23e%25f?mode=ro&immutable=1"
        );
    }

    #[test]
    fn reads_domains_with_and_without_index_without_writing() {
        for with_index in [true, false] {
            let dir = tempfile::tempdir().unwrap();
            let db = dir.path().join("Manifest.db");
            {
                let c = Connection::open(&db).unwrap();
                c.execute_batch(
                    "PRAGMA journal_mode=WAL; CREATE TABLE Files (fileID TEXT PRIMARY KEY, domain TEXT, relativePath TEXT, flags INTEGER, file BLOB);
                     INSERT INTO Files VALUES ('1','AppDomain-a.b','x',1,NULL),('2','HomeDomain','y',1,NULL),
                     ('3','AppDomainGroup-group.a','z',1,NULL),('4','AppDomain-a.b','w',1,NULL),('5','AppDomainPlugin-a.b.ext','',2,NULL),
                     ('6',NULL,'',1,NULL),('7',42,'',1,NULL),('8',x'417070446f6d61696e2d62','',1,NULL);",
                )
                .unwrap();
                if with_index {
                    c.execute_batch("CREATE INDEX FilesDomainIdx ON Files(domain);")
                        .unwrap();
                }
                c.execute_batch("PRAGMA journal_mode=DELETE;").unwrap();
            }
            let before: Vec<_> = std::fs::read_dir(dir.path())
                .unwrap()
                .map(|e| e.unwrap().file_name())
                .collect();
            let c = open_immutable(&db).unwrap();
            assert_eq!(has_domain_index(&c).unwrap(), with_index);
            assert_eq!(
                domains(&c).unwrap(),
                vec![
                    "42",
                    "AppDomain-a.b",
                    "AppDomain-b",
                    "AppDomainGroup-group.a",
                    "AppDomainPlugin-a.b.ext",
                    "HomeDomain"
                ],
                "index: {with_index}"
            );
            drop(c);
            let after: Vec<_> = std::fs::read_dir(dir.path())
                .unwrap()
                .map(|e| e.unwrap().file_name())
                .collect();
            assert_eq!(before, after);
        }
    }

    #[test]
    fn temp_db_is_private_and_removed() {
        let t = TempDb::create(b"abc").unwrap();
        let p = t.path().to_path_buf();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(
                std::fs::metadata(&p).unwrap().permissions().mode() & 0o777,
                0o600
            );
        }
        drop(t);
        assert!(!p.exists());
    }
}
