//! A database image appsweep holds in memory (a decrypted `Manifest.db`, or one with its
//! write-ahead log applied), handed to SQLite without ever being given a name on disk.
//!
//! The image goes into SQLite's own memory: a `memdb` database is grown to the image's size and
//! each page is written through the `sqlite_dbpage` table (SQLite built with
//! `SQLITE_ENABLE_DBPAGE_VTAB`, see `.cargo/config.toml`); a second, read-only connection then
//! reads it with a fresh page cache. No file is involved, so no kill can leave plaintext behind.
//! (rusqlite's `deserialize` needs `unsafe`, which this crate forbids; SQLite resolves
//! `/proc/self/fd/N` to the deleted name, so an anonymous file cannot be handed to it either.)
//!
//! When that is not possible (a SQLite built without `sqlite_dbpage`, an image over the 1 GiB a
//! `memdb` database may hold) the image goes to a 0600 file in the temporary folder whose name is
//! removed as soon as SQLite has opened it, before a byte is written: then only a kill in the
//! instant between the two can leave a name behind, and an empty file at that.

use std::fs::File;
use std::io::Write;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

use rusqlite::{params, Connection, OpenFlags};

#[derive(Debug, thiserror::Error)]
pub enum ImageError {
    #[error("is not a SQLite database ({0})")]
    Header(&'static str),
    #[error("cannot be loaded: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("cannot hold a private copy in the temporary folder: {0}")]
    TempFile(#[from] std::io::Error),
}

/// Largest image loaded into memory (SQLite's default for a `memdb` database).
pub const MAX_MEMORY_IMAGE: usize = 1 << 30;

/// A connection to an image, and the private file behind it when it is not in memory.
pub struct Opened {
    pub conn: Connection,
    pub file: Option<File>,
}

/// Page size from the header (`1` stands for 65536).
fn page_size(image: &[u8]) -> Result<usize, ImageError> {
    if !image.starts_with(b"SQLite format 3\0") || image.len() < 100 {
        return Err(ImageError::Header("no SQLite header"));
    }
    let raw = image
        .get(16..18)
        .and_then(|b| <[u8; 2]>::try_from(b).ok())
        .map(u16::from_be_bytes)
        .ok_or(ImageError::Header("no page size"))?;
    let ps = if raw == 1 { 65536 } else { usize::from(raw) };
    if !(512..=65536).contains(&ps) || !ps.is_power_of_two() {
        return Err(ImageError::Header("bad page size"));
    }
    Ok(ps)
}

/// The image is read as a plain database: no log beside it to look for.
fn rollback_mode(image: &mut [u8]) {
    if let Some(b) = image.get_mut(18..20) {
        b.copy_from_slice(&[1, 1]);
    }
}

/// Opens `image` read-only through SQLite, in memory if possible (see the module docs), else
/// through a nameless private file in `tmp`. `configure` is applied to the reading connection
/// before anything is read.
pub fn open(
    mut image: Vec<u8>,
    tmp: &Path,
    configure: fn(&Connection),
) -> Result<Opened, ImageError> {
    let ps = page_size(&image)?;
    rollback_mode(&mut image);
    if image.len() <= MAX_MEMORY_IMAGE {
        if let Ok(conn) = in_memory(&image, ps, configure) {
            return Ok(Opened { conn, file: None });
        }
    }
    let (conn, file) = private_file(&image, tmp, configure)?;
    Ok(Opened {
        conn,
        file: Some(file),
    })
}

fn in_memory(
    image: &[u8],
    ps: usize,
    configure: fn(&Connection),
) -> Result<Connection, ImageError> {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let uri = format!(
        "file:/appsweep-{}-{}?vfs=memdb",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    );
    let writer = Connection::open_with_flags(
        &uri,
        OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_URI
            | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    writer.execute_batch(&format!(
        "PRAGMA page_size = {ps}; PRAGMA cache_size = -2048; PRAGMA journal_mode = OFF; \
         CREATE TABLE pad (x);"
    ))?;
    // Grow the database to at least as many pages as the image (values stay under SQLite's
    // length limit), then overwrite every page.
    let mut grown = 0usize;
    while grown < image.len() {
        let n = (image.len() - grown).min(256 << 20);
        writer.execute("INSERT INTO pad VALUES (zeroblob(?1))", params![n as i64])?;
        grown += n;
    }
    writer.execute_batch("BEGIN")?;
    {
        let mut put = writer.prepare("UPDATE sqlite_dbpage SET data = ?2 WHERE pgno = ?1")?;
        for (i, page) in image.chunks(ps).enumerate() {
            let page: std::borrow::Cow<'_, [u8]> = if page.len() == ps {
                page.into()
            } else {
                let mut last = page.to_vec();
                last.resize(ps, 0);
                last.into()
            };
            put.execute(params![i as i64 + 1, page.as_ref()])?;
        }
    }
    writer.execute_batch("COMMIT")?;
    let reader = Connection::open_with_flags(
        &uri,
        OpenFlags::SQLITE_OPEN_READ_ONLY
            | OpenFlags::SQLITE_OPEN_URI
            | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    configure(&reader);
    // The database lives as long as a connection to it does.
    drop(writer);
    Ok(reader)
}

/// `file:` URI for `path` with every byte outside the unreserved set percent-encoded.
pub fn file_uri(path: &Path, query: &str) -> String {
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
    uri.push('?');
    uri.push_str(query);
    uri
}

fn private_file(
    image: &[u8],
    tmp: &Path,
    configure: fn(&Connection),
) -> Result<(Connection, File), ImageError> {
    let named = tempfile::Builder::new()
        .prefix("appsweep-")
        .suffix(".db")
        .tempfile_in(tmp)?;
    // Not immutable: an immutable open reads the (still empty) file once and trusts it.
    let conn = Connection::open_with_flags(
        file_uri(named.path(), "mode=ro"),
        OpenFlags::SQLITE_OPEN_READ_ONLY
            | OpenFlags::SQLITE_OPEN_URI
            | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    let mut file = named.into_file();
    file.write_all(image)?;
    file.flush()?;
    configure(&conn);
    Ok((conn, file))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn image(rows: u32) -> Vec<u8> {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("x.db");
        Connection::open(&p)
            .unwrap()
            .execute_batch(&format!(
                "PRAGMA journal_mode = WAL; CREATE TABLE Files (domain TEXT);
                 WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < {rows})
                 INSERT INTO Files SELECT 'AppDomain-' || x FROM c;
                 CREATE INDEX FilesDomainIdx ON Files(domain);
                 PRAGMA wal_checkpoint(TRUNCATE);"
            ))
            .unwrap();
        std::fs::read(&p).unwrap()
    }

    fn count(c: &Connection) -> i64 {
        c.query_row("SELECT count(DISTINCT domain) FROM Files", [], |r| r.get(0))
            .unwrap()
    }

    #[test]
    fn images_load_into_memory_without_touching_the_disk() {
        let tmp = tempfile::tempdir().unwrap();
        let o = open(image(5000), tmp.path(), |_| {}).unwrap();
        assert!(o.file.is_none(), "not loaded in memory");
        assert_eq!(count(&o.conn), 5000);
        let ok: String = o
            .conn
            .query_row("PRAGMA integrity_check", [], |r| r.get(0))
            .unwrap();
        assert_eq!(ok, "ok");
        assert_eq!(std::fs::read_dir(tmp.path()).unwrap().count(), 0);
        // The reading connection cannot write.
        assert!(o.conn.execute_batch("DELETE FROM Files").is_err());
    }

    #[test]
    fn the_fallback_file_has_no_name() {
        let tmp = tempfile::tempdir().unwrap();
        let mut img = image(300);
        rollback_mode(&mut img);
        let (conn, _file) = private_file(&img, tmp.path(), |_| {}).unwrap();
        assert_eq!(count(&conn), 300);
        assert_eq!(std::fs::read_dir(tmp.path()).unwrap().count(), 0);
    }

    #[test]
    fn garbage_is_an_error_and_odd_lengths_load() {
        let tmp = tempfile::tempdir().unwrap();
        assert!(matches!(
            open(b"garbage".to_vec(), tmp.path(), |_| {}),
            Err(ImageError::Header(_))
        ));
        let mut img = image(10);
        img.truncate(img.len() - 100);
        // Loads (the last page is padded); reading it may fail, but as an error.
        if let Ok(o) = open(img, tmp.path(), |_| {}) {
            let _ = o
                .conn
                .query_row("SELECT count(*) FROM Files", [], |r| r.get::<_, i64>(0));
        }
    }
}
