//! A `Manifest.db-wal` read the way SQLite's own recovery reads it, applied to a private copy of
//! the database (never to the backup).
//!
//! A backup copied while it was being written can hold rows only in its write-ahead log: opening
//! the database `immutable=1` (the only open that never writes beside it) ignores the log, and
//! opening it any other way would create a `-shm` file in the backup or checkpoint into it. So
//! the log is read here: its header (magic, version, page size, salts, checksum), then each frame
//! whose salts match and whose cumulative checksum is right, up to the last commit frame; those
//! pages are written into the copy in log order and the copy is cut to the committed size.
//! Frames after the last commit, or after the first bad checksum, are not part of the database
//! (SQLite ignores them too).
//!
//! Two passes over the log (find the last commit, then apply): memory is one page.

use std::io::{Read, Seek, SeekFrom, Write};

#[derive(Debug, thiserror::Error)]
pub enum WalError {
    #[error("Manifest.db-wal has a bad header ({0})")]
    Header(&'static str),
    #[error("Manifest.db-wal frame {frame} names page {page}, beyond what the database can hold")]
    PageOutOfRange { frame: u64, page: u64 },
    #[error("cannot read Manifest.db-wal or write the private copy: {0}")]
    Io(#[from] std::io::Error),
}

const HEADER: usize = 32;
const FRAME_HEADER: usize = 24;
const MAGIC_LE: u32 = 0x377f_0682;
const MAGIC_BE: u32 = 0x377f_0683;
const VERSION: u32 = 3_007_000;

/// What applying the log did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Applied {
    /// Committed frames written into the copy (0: the log held no committed transaction).
    pub frames: u64,
    /// Database size in pages after the last commit (0 when nothing was applied).
    pub pages: u64,
    pub page_size: u32,
}

fn be32(b: &[u8], at: usize) -> u32 {
    let mut w = [0u8; 4];
    if let Some(s) = b.get(at..at + 4) {
        w.copy_from_slice(s);
    }
    u32::from_be_bytes(w)
}

/// SQLite's WAL checksum over `data` (a multiple of 8 bytes), continuing from `s`.
fn checksum(big_endian: bool, data: &[u8], mut s: (u32, u32)) -> (u32, u32) {
    for pair in data.chunks_exact(8) {
        let word = |i: usize| {
            let mut w = [0u8; 4];
            if let Some(x) = pair.get(i..i + 4) {
                w.copy_from_slice(x);
            }
            if big_endian {
                u32::from_be_bytes(w)
            } else {
                u32::from_le_bytes(w)
            }
        };
        s.0 = s.0.wrapping_add(word(0)).wrapping_add(s.1);
        s.1 = s.1.wrapping_add(word(4)).wrapping_add(s.0);
    }
    s
}

/// Reads exactly `buf.len()` bytes; `Ok(false)` at a clean or partial end of the log.
fn read_full(r: &mut impl Read, buf: &mut [u8]) -> std::io::Result<bool> {
    let mut got = 0;
    while got < buf.len() {
        match r.read(buf.get_mut(got..).unwrap_or_default()) {
            Ok(0) => return Ok(false),
            Ok(n) => got += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(true)
}

struct Header {
    big_endian: bool,
    page_size: u32,
    salts: [u8; 8],
    sum: (u32, u32),
}

fn header(wal: &mut impl Read) -> Result<Option<Header>, WalError> {
    let mut h = [0u8; HEADER];
    if !read_full(wal, &mut h)? {
        return Ok(None);
    }
    let big_endian = match be32(&h, 0) {
        MAGIC_BE => true,
        MAGIC_LE => false,
        _ => return Err(WalError::Header("not a SQLite write-ahead log")),
    };
    if be32(&h, 4) != VERSION {
        return Err(WalError::Header("unknown version"));
    }
    let page_size = match be32(&h, 8) {
        1 => 65536,
        n if (512..=65536).contains(&n) && n.is_power_of_two() => n,
        _ => return Err(WalError::Header("page size")),
    };
    let sum = checksum(big_endian, h.get(..24).unwrap_or_default(), (0, 0));
    if sum != (be32(&h, 24), be32(&h, 28)) {
        return Err(WalError::Header("checksum"));
    }
    let mut salts = [0u8; 8];
    salts.copy_from_slice(h.get(16..24).unwrap_or(&[0; 8]));
    Ok(Some(Header {
        big_endian,
        page_size,
        salts,
        sum,
    }))
}

/// Walks the valid frames, calling `each(index, page number, commit size, page)`; returns the
/// index one past the last commit frame.
fn frames(
    wal: &mut impl Read,
    h: &Header,
    mut each: impl FnMut(u64, u64, u64, &[u8]) -> Result<(), WalError>,
    stop_after: Option<u64>,
) -> Result<u64, WalError> {
    let mut buf = vec![0u8; FRAME_HEADER + h.page_size as usize];
    let mut sum = h.sum;
    let mut index = 0u64;
    let mut committed = 0u64;
    while stop_after.is_none_or(|n| index < n) {
        if !read_full(wal, &mut buf)? {
            break;
        }
        let (fh, page) = buf.split_at(FRAME_HEADER);
        if fh.get(8..16) != Some(&h.salts[..]) {
            break;
        }
        let s = checksum(h.big_endian, fh.get(..8).unwrap_or_default(), sum);
        let s = checksum(h.big_endian, page, s);
        if s != (be32(fh, 16), be32(fh, 20)) {
            break;
        }
        sum = s;
        let pgno = u64::from(be32(fh, 0));
        if pgno == 0 {
            break;
        }
        let commit = u64::from(be32(fh, 4));
        each(index, pgno, commit, page)?;
        index += 1;
        if commit != 0 {
            committed = index;
        }
    }
    Ok(committed)
}

/// Applies the committed frames of `wal` to `db` (a private copy of the database, `db_len` bytes
/// long). Pages may not lie beyond what the database and the log together could hold.
pub fn apply<W, D>(wal: &mut W, wal_len: u64, db: &mut D, db_len: u64) -> Result<Applied, WalError>
where
    W: Read + Seek,
    D: Write + Seek,
{
    let Some(h) = header(wal)? else {
        return Ok(Applied {
            frames: 0,
            pages: 0,
            page_size: 0,
        });
    };
    let page_size = u64::from(h.page_size);
    let max_pages = (db_len.saturating_add(wal_len)) / page_size + 1;
    let check = |frame: u64, page: u64| {
        if page > max_pages {
            Err(WalError::PageOutOfRange { frame, page })
        } else {
            Ok(())
        }
    };
    let committed = frames(
        wal,
        &h,
        |i, pgno, commit, _| {
            check(i, pgno)?;
            check(i, commit)
        },
        None,
    )?;
    let mut pages = 0;
    if committed > 0 {
        wal.seek(SeekFrom::Start(HEADER as u64))?;
        frames(
            wal,
            &h,
            |_, pgno, commit, page| {
                db.seek(SeekFrom::Start((pgno - 1) * page_size))?;
                db.write_all(page)?;
                if commit != 0 {
                    pages = commit;
                }
                Ok(())
            },
            Some(committed),
        )?;
    }
    Ok(Applied {
        frames: committed,
        pages,
        page_size: h.page_size,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Cursor;

    /// A database in WAL mode whose last rows are only in its log (no checkpoint).
    fn db_and_wal(dir: &std::path::Path) -> (Vec<u8>, Vec<u8>) {
        let path = dir.join("m.db");
        let c = rusqlite::Connection::open(&path).unwrap();
        c.execute_batch(
            "PRAGMA journal_mode=WAL; PRAGMA wal_autocheckpoint=0;
             CREATE TABLE Files (domain TEXT); INSERT INTO Files VALUES ('HomeDomain');",
        )
        .unwrap();
        c.execute_batch("PRAGMA wal_checkpoint(TRUNCATE);").unwrap();
        c.execute_batch("INSERT INTO Files VALUES ('AppDomain-com.zhiliaoapp.musically');")
            .unwrap();
        let db = std::fs::read(&path).unwrap();
        let wal = std::fs::read(dir.join("m.db-wal")).unwrap();
        drop(c);
        (db, wal)
    }

    fn rows(image: &[u8]) -> Vec<String> {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("x.db");
        let mut image = image.to_vec();
        image[18] = 1;
        image[19] = 1;
        std::fs::write(&p, image).unwrap();
        let c = rusqlite::Connection::open(&p).unwrap();
        let mut s = c
            .prepare("SELECT domain FROM Files ORDER BY domain")
            .unwrap();
        let r = s.query_map([], |r| r.get(0)).unwrap();
        r.map(Result::unwrap).collect()
    }

    #[test]
    fn committed_frames_are_applied() {
        let d = tempfile::tempdir().unwrap();
        let (db, wal) = db_and_wal(d.path());
        assert_eq!(rows(&db), vec!["HomeDomain"]);
        let mut copy = Cursor::new(db.clone());
        let a = apply(
            &mut Cursor::new(&wal),
            wal.len() as u64,
            &mut copy,
            db.len() as u64,
        )
        .unwrap();
        assert!(a.frames > 0);
        let mut image = copy.into_inner();
        image.truncate((a.pages * u64::from(a.page_size)) as usize);
        assert_eq!(
            rows(&image),
            vec!["AppDomain-com.zhiliaoapp.musically", "HomeDomain"]
        );
        // A torn last frame, or a flipped byte in it, drops that transaction only.
        let mut torn = wal.clone();
        let last = torn.len() - 1;
        torn[last] ^= 0xff;
        let a = apply(
            &mut Cursor::new(&torn),
            torn.len() as u64,
            &mut Cursor::new(db.clone()),
            db.len() as u64,
        )
        .unwrap();
        assert_eq!(a.frames, 0);
    }

    #[test]
    fn bad_headers_and_hostile_pages_are_errors() {
        let mut db = Cursor::new(Vec::new());
        assert!(matches!(
            apply(&mut Cursor::new(vec![0u8; 32]), 32, &mut db, 0),
            Err(WalError::Header(_))
        ));
        assert_eq!(
            apply(&mut Cursor::new(vec![1u8; 5]), 5, &mut db, 0)
                .unwrap()
                .frames,
            0
        );
        // A valid log whose frame names page 4,000,000,000.
        let d = tempfile::tempdir().unwrap();
        let (dbb, mut wal) = db_and_wal(d.path());
        let h = header(&mut Cursor::new(&wal)).unwrap().unwrap();
        wal[32..36].copy_from_slice(&4_000_000_000u32.to_be_bytes());
        let s = checksum(h.big_endian, &wal[32..40], h.sum);
        let ps = h.page_size as usize;
        let s = checksum(h.big_endian, &wal[56..56 + ps], s);
        wal[48..52].copy_from_slice(&s.0.to_be_bytes());
        wal[52..56].copy_from_slice(&s.1.to_be_bytes());
        let e = apply(
            &mut Cursor::new(&wal),
            wal.len() as u64,
            &mut Cursor::new(dbb.clone()),
            dbb.len() as u64,
        )
        .unwrap_err();
        assert!(matches!(e, WalError::PageOutOfRange { .. }), "{e}");
    }

    proptest::proptest! {
        #[test]
        fn never_panics(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..2000)) {
            let mut db = Cursor::new(Vec::new());
            let _ = apply(&mut Cursor::new(&bytes), bytes.len() as u64, &mut db, 0);
        }
    }
}
