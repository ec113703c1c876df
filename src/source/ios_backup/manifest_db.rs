//! `Manifest.db` (iOS 10 and later): the `Files(fileID, domain, relativePath, flags, file)` table.
//!
//! - **The backup folder is never written.** The database is first opened by appsweep and
//!   checked to be a regular file (a FIFO would block SQLite's open forever), then opened by
//!   SQLite read-only and `immutable=1`, so SQLite takes no locks and creates no `-wal`, `-shm`
//!   or journal file. Rows that live only in a non-empty `Manifest.db-wal` (a backup copied while
//!   it was written) are read from a private copy with the log applied (see [`super::wal`]).
//! - **Bounded work.** `Files` must be a real table with a plain `domain` column (a view over an
//!   endless recursive query is refused); every query runs under a time budget (SQLite's
//!   progress handler interrupts it); a value longer than [`MAX_VALUE_BYTES`] is an error; more
//!   than [`MAX_DOMAINS`] domains, or more than [`MAX_DOMAIN_BYTES`] of them, is reported as an
//!   incomplete read, never a silent cut.
//! - **Plaintext never touches the disk.** A decrypted database, or one with its log applied, is
//!   loaded into SQLite's own memory (see [`super::dbimage`]): a kill at any moment, SIGKILL
//!   included, leaves nothing behind.

use std::fs::File;
use std::io::Read;
use std::path::Path;
use std::time::{Duration, Instant};

use rusqlite::limits::Limit;
use rusqlite::types::ValueRef;
use rusqlite::{Connection, OpenFlags};

use super::{dbimage, wal};
use crate::input::{self, InputError};

#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("{0}")]
    Input(#[from] InputError),
    #[error("cannot open: {0}")]
    Open(rusqlite::Error),
    #[error("cannot read the Files table: {0}")]
    Query(rusqlite::Error),
    #[error("has no Files table")]
    NoFilesTable,
    #[error("its Files is a {0}, not a table: not read")]
    FilesNotATable(String),
    #[error("its Files.domain is a computed column, not stored data: not read")]
    ComputedDomain,
    #[error("holds more than {MAX_DOMAINS} distinct domains: the rest were not read")]
    TooManyDomains,
    #[error("holds more than {MAX_DOMAIN_BYTES} bytes of domain names: the rest were not read")]
    TooManyDomainBytes,
    #[error("reading took longer than the {} s allowed: the rest was not read", BUDGET.as_secs())]
    TooSlow,
    #[error("{0}")]
    Wal(#[from] wal::WalError),
    #[error("cannot read: {0}")]
    TempFile(std::io::Error),
    #[error("{0}")]
    Image(#[from] dbimage::ImageError),
}

/// Time allowed for the queries over one database (real ones take milliseconds).
pub const BUDGET: Duration = Duration::from_secs(30);
/// Most distinct domains read (real backups have a few thousand).
pub const MAX_DOMAINS: usize = 1_000_000;
/// Most bytes of domain names read (real backups: well under a megabyte).
pub const MAX_DOMAIN_BYTES: usize = 64 << 20;
/// Longest string or blob SQLite may hand back (a domain is a few dozen bytes).
pub const MAX_VALUE_BYTES: i32 = 1 << 20;

/// A database opened for reading, under the limits above.
pub struct Database {
    conn: Connection,
    /// The checked evidence file, or a private copy: kept open as long as the connection.
    _file: Option<File>,
    /// What the caller should know about how it was read (a log applied).
    pub note: Option<String>,
}

/// The limits every connection reads under.
fn limit(conn: &Connection) {
    // Sorting and de-duplicating stay in memory: no temporary file holds a domain.
    let _ = conn.execute_batch("PRAGMA temp_store = MEMORY");
    conn.set_limit(Limit::SQLITE_LIMIT_LENGTH, MAX_VALUE_BYTES);
    conn.set_limit(Limit::SQLITE_LIMIT_SQL_LENGTH, 1 << 16);
}

impl Database {
    /// Opens a backup's `Manifest.db`: a regular file only; its non-empty `-wal`, if any, applied
    /// to a private copy in memory.
    pub fn open_backup(path: &Path) -> Result<Database, DbError> {
        let file = input::open_regular(path, "Manifest.db")?;
        let mut wal_name = path.as_os_str().to_owned();
        wal_name.push("-wal");
        let wal_path = Path::new(&wal_name);
        let wal_len = match std::fs::symlink_metadata(wal_path) {
            Err(_) => 0,
            Ok(_) => input::open_regular(wal_path, "Manifest.db-wal")?
                .metadata()
                .map(|m| m.len())
                .unwrap_or(0),
        };
        if wal_len == 0 {
            let flags = OpenFlags::SQLITE_OPEN_READ_ONLY
                | OpenFlags::SQLITE_OPEN_URI
                | OpenFlags::SQLITE_OPEN_NO_MUTEX;
            let uri = dbimage::file_uri(path, "mode=ro&immutable=1");
            let conn = Connection::open_with_flags(uri, flags).map_err(DbError::Open)?;
            limit(&conn);
            return Ok(Database {
                conn,
                _file: Some(file),
                note: None,
            }
            .guarded());
        }
        let mut wal_file = input::open_regular(wal_path, "Manifest.db-wal")?;
        let mut image = Vec::new();
        file.take(super::MAX_FILE_BYTES.saturating_add(1))
            .read_to_end(&mut image)
            .map_err(DbError::TempFile)?;
        if image.len() as u64 > super::MAX_FILE_BYTES {
            return Err(DbError::Input(InputError::TooLarge {
                what: "Manifest.db",
                path: path.to_path_buf(),
                limit: super::MAX_FILE_BYTES,
            }));
        }
        let db_len = image.len() as u64;
        let mut cursor = std::io::Cursor::new(image);
        let a = wal::apply(&mut wal_file, wal_len, &mut cursor, db_len)?;
        let mut image = cursor.into_inner();
        let note = if a.frames > 0 {
            let len = a.pages.saturating_mul(u64::from(a.page_size));
            image.resize(usize::try_from(len).unwrap_or(usize::MAX), 0);
            format!(
                "Manifest.db-wal: {} committed frame(s) applied to a private copy",
                a.frames
            )
        } else {
            "Manifest.db-wal holds no committed change".to_string()
        };
        let mut db = Self::from_image(image, &std::env::temp_dir())?;
        db.note = Some(note);
        Ok(db)
    }

    /// Opens a decrypted database held in memory, without writing it to disk.
    pub fn from_plaintext(bytes: Vec<u8>) -> Result<Database, DbError> {
        Self::from_image(bytes, &std::env::temp_dir())
    }

    fn from_image(image: Vec<u8>, tmp: &Path) -> Result<Database, DbError> {
        let opened = dbimage::open(image, tmp, limit)?;
        Ok(Database {
            conn: opened.conn,
            _file: opened.file,
            note: None,
        }
        .guarded())
    }

    /// Installs the time budget.
    fn guarded(self) -> Database {
        self.with_budget(BUDGET)
    }

    /// Replaces the time budget (from now).
    pub fn with_budget(self, budget: Duration) -> Database {
        let deadline = Instant::now() + budget;
        self.conn
            .progress_handler(1000, Some(move || Instant::now() >= deadline));
        self
    }

    fn query_err(e: rusqlite::Error) -> DbError {
        match e.sqlite_error_code() {
            Some(rusqlite::ErrorCode::OperationInterrupted) => DbError::TooSlow,
            _ => DbError::Query(e),
        }
    }

    /// `Files` is a real table whose `domain` is stored data.
    fn check_schema(&self) -> Result<(), DbError> {
        let kind: Option<String> = self
            .conn
            .query_row(
                "SELECT type FROM sqlite_master WHERE name = 'Files' COLLATE NOCASE",
                [],
                |row| row.get(0),
            )
            .map(Some)
            .or_else(|e| match e {
                rusqlite::Error::QueryReturnedNoRows => Ok(None),
                e => Err(Self::query_err(e)),
            })?;
        match kind.as_deref() {
            None => return Err(DbError::NoFilesTable),
            Some("table") => {}
            Some(other) => return Err(DbError::FilesNotATable(other.to_string())),
        }
        let hidden: i64 = self
            .conn
            .query_row(
                "SELECT COALESCE(MAX(hidden), 0) FROM pragma_table_xinfo('Files') \
                 WHERE name = 'domain' COLLATE NOCASE",
                [],
                |row| row.get(0),
            )
            .map_err(Self::query_err)?;
        if hidden != 0 {
            return Err(DbError::ComputedDomain);
        }
        Ok(())
    }

    /// `true` when an index of `Files` starts with the `domain` column (real backups have
    /// `FilesDomainIdx`).
    fn has_domain_index(&self) -> Result<bool, DbError> {
        self.conn
            .query_row(
                "SELECT COUNT(*) FROM sqlite_master AS m, pragma_index_info(m.name) AS i \
                 WHERE m.type = 'index' AND m.tbl_name = 'Files' AND i.seqno = 0 \
                 AND i.name = 'domain'",
                [],
                |row| row.get::<_, i64>(0),
            )
            .map(|n| n > 0)
            .map_err(Self::query_err)
    }

    /// Every distinct domain of the `Files` table, sorted. With the domain index real backups
    /// have, one index seek per domain (a few hundred) instead of a walk over every file row.
    /// A limit reached mid-way keeps what was read and says why the rest was not.
    pub fn domains(&self) -> Result<Domains, DbError> {
        self.check_schema()?;
        let mut out = Domains::default();
        let result = if self.has_domain_index()? {
            self.domains_by_index(&mut out)
        } else {
            self.domains_by_scan(&mut out)
        };
        if let Err(e) = result {
            match e {
                DbError::TooManyDomains | DbError::TooManyDomainBytes | DbError::TooSlow => {
                    out.cut = Some(e)
                }
                e => return Err(e),
            }
        }
        // Text and blob domains sort apart in SQLite; one order for the caller.
        out.list.sort();
        out.list.dedup();
        Ok(out)
    }

    fn domains_by_index(&self, out: &mut Domains) -> Result<(), DbError> {
        let mut first = self
            .conn
            .prepare("SELECT MIN(domain) FROM Files")
            .map_err(Self::query_err)?;
        let mut next = self
            .conn
            .prepare("SELECT MIN(domain) FROM Files WHERE domain > ?1")
            .map_err(Self::query_err)?;
        let mut current = first
            .query_row([], |row| row.get_ref(0).map(Key::from))
            .map_err(Self::query_err)?;
        while current != Key::Null {
            if let Some(domain) = text(current.as_ref()) {
                out.push(domain)?;
            }
            current = next
                .query_row([&current], |row| row.get_ref(0).map(Key::from))
                .map_err(Self::query_err)?;
        }
        Ok(())
    }

    fn domains_by_scan(&self, out: &mut Domains) -> Result<(), DbError> {
        let mut stmt = self
            .conn
            .prepare("SELECT DISTINCT domain FROM Files")
            .map_err(Self::query_err)?;
        let mut rows = stmt.query([]).map_err(Self::query_err)?;
        while let Some(row) = rows.next().map_err(Self::query_err)? {
            let value = row.get_ref(0).map_err(Self::query_err)?;
            if let Some(domain) = text(value) {
                out.push(domain)?;
            }
        }
        Ok(())
    }
}

/// The domains read, and why the read stopped early if it did.
#[derive(Debug, Default)]
pub struct Domains {
    pub list: Vec<String>,
    bytes: usize,
    /// The limit that cut the read short (the list holds what was read before it).
    pub cut: Option<DbError>,
}

impl Domains {
    fn push(&mut self, domain: String) -> Result<(), DbError> {
        if self.list.len() >= MAX_DOMAINS {
            return Err(DbError::TooManyDomains);
        }
        self.bytes = self.bytes.saturating_add(domain.len());
        if self.bytes > MAX_DOMAIN_BYTES {
            return Err(DbError::TooManyDomainBytes);
        }
        self.list.push(domain);
        Ok(())
    }
}

/// A domain as SQLite holds it, owned, and bound back as it was for the next index seek: text
/// that is not UTF-8 stays text (rusqlite's own owned value panics on it), so the walk goes on in
/// SQLite's order.
#[derive(Debug, PartialEq)]
enum Key {
    Null,
    Integer(i64),
    Real(f64),
    Text(Vec<u8>),
    Blob(Vec<u8>),
}

impl From<ValueRef<'_>> for Key {
    fn from(v: ValueRef<'_>) -> Self {
        match v {
            ValueRef::Null => Key::Null,
            ValueRef::Integer(i) => Key::Integer(i),
            ValueRef::Real(r) => Key::Real(r),
            ValueRef::Text(t) => Key::Text(t.to_vec()),
            ValueRef::Blob(b) => Key::Blob(b.to_vec()),
        }
    }
}

impl Key {
    fn as_ref(&self) -> ValueRef<'_> {
        match self {
            Key::Null => ValueRef::Null,
            Key::Integer(i) => ValueRef::Integer(*i),
            Key::Real(r) => ValueRef::Real(*r),
            Key::Text(t) => ValueRef::Text(t),
            Key::Blob(b) => ValueRef::Blob(b),
        }
    }
}

impl rusqlite::ToSql for Key {
    fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
        Ok(rusqlite::types::ToSqlOutput::Borrowed(self.as_ref()))
    }
}

fn text(value: ValueRef<'_>) -> Option<String> {
    match value {
        ValueRef::Text(t) | ValueRef::Blob(t) => Some(String::from_utf8_lossy(t).into_owned()),
        ValueRef::Integer(i) => Some(i.to_string()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uri_escapes_specials() {
        assert_eq!(
            dbimage::file_uri(Path::new("/a b/c?d#e%f"), "mode=ro&immutable=1"),
            "file:/a%20b/c%3Fd%23e%25f?mode=ro&immutable=1"
        );
    }

    fn listing(dir: &Path) -> Vec<std::ffi::OsString> {
        let mut v: Vec<_> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        v.sort();
        v
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
                     ('6',NULL,'',1,NULL),('7',42,'',1,NULL),('8',x'417070446f6d61696e2d62','',1,NULL),
                     ('9',CAST(x'417070446f6d61696e2d63ff' AS TEXT),'',1,NULL);",
                )
                .unwrap();
                if with_index {
                    c.execute_batch("CREATE INDEX FilesDomainIdx ON Files(domain);")
                        .unwrap();
                }
                c.execute_batch("PRAGMA journal_mode=DELETE;").unwrap();
            }
            let before = listing(dir.path());
            let d = Database::open_backup(&db).unwrap();
            assert_eq!(d.has_domain_index().unwrap(), with_index);
            let got = d.domains().unwrap();
            assert!(got.cut.is_none());
            assert_eq!(
                got.list,
                vec![
                    "42",
                    "AppDomain-a.b",
                    "AppDomain-b",
                    // Text that is not UTF-8 is read (lossily), and the walk goes on past it.
                    "AppDomain-c\u{fffd}",
                    "AppDomainGroup-group.a",
                    "AppDomainPlugin-a.b.ext",
                    "HomeDomain"
                ],
                "index: {with_index}"
            );
            drop(d);
            assert_eq!(before, listing(dir.path()));
        }
    }

    fn make(dir: &Path, sql: &str) -> std::path::PathBuf {
        let db = dir.join("Manifest.db");
        Connection::open(&db).unwrap().execute_batch(sql).unwrap();
        db
    }

    #[test]
    fn views_and_computed_columns_are_refused() {
        let d = tempfile::tempdir().unwrap();
        let db = make(
            d.path(),
            "CREATE VIEW Files AS WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) \
             SELECT 'AppDomain-' || x AS domain FROM c;",
        );
        let e = Database::open_backup(&db).unwrap().domains().unwrap_err();
        assert!(
            matches!(e, DbError::FilesNotATable(ref k) if k == "view"),
            "{e}"
        );
        let d = tempfile::tempdir().unwrap();
        let db = make(
            d.path(),
            "CREATE TABLE Files (n INTEGER, domain TEXT AS (zeroblob(n)));",
        );
        let e = Database::open_backup(&db).unwrap().domains().unwrap_err();
        assert!(matches!(e, DbError::ComputedDomain), "{e}");
        let d = tempfile::tempdir().unwrap();
        let db = make(d.path(), "CREATE TABLE Other (x);");
        let e = Database::open_backup(&db).unwrap().domains().unwrap_err();
        assert!(matches!(e, DbError::NoFilesTable), "{e}");
    }

    #[test]
    fn a_spent_budget_keeps_what_was_read_and_says_so() {
        let d = tempfile::tempdir().unwrap();
        let db = make(
            d.path(),
            "CREATE TABLE Files (domain TEXT);
             WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 200000)
             INSERT INTO Files SELECT 'AppDomain-' || x FROM c;",
        );
        let got = Database::open_backup(&db)
            .unwrap()
            .with_budget(Duration::ZERO)
            .domains();
        match got {
            Ok(got) => assert!(matches!(got.cut, Some(DbError::TooSlow)), "{got:?}"),
            Err(e) => assert!(matches!(e, DbError::TooSlow), "{e}"),
        }
        let got = Database::open_backup(&db).unwrap().domains().unwrap();
        assert_eq!(got.list.len(), 200_000);
    }

    #[test]
    fn too_long_values_are_errors() {
        let d = tempfile::tempdir().unwrap();
        let db = make(
            d.path(),
            "CREATE TABLE Files (domain TEXT); INSERT INTO Files VALUES (CAST(zeroblob(2000000) AS TEXT));",
        );
        assert!(Database::open_backup(&db).unwrap().domains().is_err());
    }

    #[test]
    fn a_log_is_applied_to_a_private_copy_and_the_backup_is_untouched() {
        let d = tempfile::tempdir().unwrap();
        let src = d.path().join("live.db");
        let c = Connection::open(&src).unwrap();
        c.execute_batch(
            "PRAGMA journal_mode=WAL; PRAGMA wal_autocheckpoint=0;
             CREATE TABLE Files (domain TEXT); INSERT INTO Files VALUES ('HomeDomain');
             PRAGMA wal_checkpoint(TRUNCATE);
             INSERT INTO Files VALUES ('AppDomain-com.zhiliaoapp.musically');",
        )
        .unwrap();
        let backup = d.path().join("backup");
        std::fs::create_dir(&backup).unwrap();
        std::fs::copy(&src, backup.join("Manifest.db")).unwrap();
        let mut wal_name = src.as_os_str().to_owned();
        wal_name.push("-wal");
        std::fs::copy(&wal_name, backup.join("Manifest.db-wal")).unwrap();
        drop(c);
        let before = listing(&backup);
        let db = Database::open_backup(&backup.join("Manifest.db")).unwrap();
        assert!(
            db.note.as_deref().unwrap().contains("applied"),
            "{:?}",
            db.note
        );
        assert_eq!(
            db.domains().unwrap().list,
            vec!["AppDomain-com.zhiliaoapp.musically", "HomeDomain"]
        );
        drop(db);
        assert_eq!(before, listing(&backup));
    }

    #[cfg(unix)]
    #[test]
    fn fifos_are_refused_without_blocking() {
        let d = tempfile::tempdir().unwrap();
        let db = d.path().join("Manifest.db");
        assert!(std::process::Command::new("mkfifo")
            .arg(&db)
            .status()
            .unwrap()
            .success());
        let e = Database::open_backup(&db).err().unwrap();
        assert!(e.to_string().contains("(a FIFO)"), "{e}");
    }

    #[test]
    fn plaintext_is_read_without_a_file() {
        let tmp = tempfile::tempdir().unwrap();
        let src = make(
            tmp.path(),
            "CREATE TABLE Files (domain TEXT); INSERT INTO Files VALUES ('AppDomain-x');",
        );
        let bytes = std::fs::read(&src).unwrap();
        let private = tempfile::tempdir().unwrap();
        let db = Database::from_image(bytes, private.path()).unwrap();
        assert!(listing(private.path()).is_empty());
        assert_eq!(db.domains().unwrap().list, vec!["AppDomain-x"]);
        drop(db);
        assert!(listing(private.path()).is_empty());
    }
}
