//! `Manifest.mbdb`: the file list of backups made before iOS 10.
//!
//! Layout: the header `mbdb\x05\x00`, then records until the end of the file. Each record is
//! five strings (domain, path, link target, data hash, encryption key), then `mode` u16,
//! `inode` u64, `uid` u32, `gid` u32, `mtime`/`atime`/`ctime` u32, `size` u64, `protection` u8,
//! a property count u8 and that many (name, value) string pairs. A string is a big-endian u16
//! length followed by that many bytes; the length `0xFFFF` means empty. Integers are big-endian.
//! In encrypted backups the file itself is plaintext (only the content files are encrypted).

/// The 6-byte header.
pub const MAGIC: &[u8; 6] = b"mbdb\x05\x00";

/// One file record. Strings are raw bytes (not guaranteed UTF-8).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record<'a> {
    pub domain: &'a [u8],
    pub path: &'a [u8],
    pub link_target: &'a [u8],
    pub data_hash: &'a [u8],
    pub encryption_key: &'a [u8],
    pub mode: u16,
    pub inode: u64,
    pub uid: u32,
    pub gid: u32,
    pub mtime: u32,
    pub atime: u32,
    pub ctime: u32,
    pub size: u64,
    pub protection: u8,
    pub properties: Vec<(&'a [u8], &'a [u8])>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MbdbError {
    #[error("not a Manifest.mbdb: header is not mbdb\\x05\\x00")]
    BadMagic,
    #[error("Manifest.mbdb truncated at offset {offset} reading {what} of record {record}: needs {need} bytes, {left} left")]
    Truncated {
        offset: usize,
        record: usize,
        what: &'static str,
        need: usize,
        left: usize,
    },
}

struct Cursor<'a> {
    bytes: &'a [u8],
    pos: usize,
    record: usize,
}

impl<'a> Cursor<'a> {
    fn take(&mut self, n: usize, what: &'static str) -> Result<&'a [u8], MbdbError> {
        let out = self
            .pos
            .checked_add(n)
            .and_then(|end| self.bytes.get(self.pos..end))
            .ok_or(MbdbError::Truncated {
                offset: self.pos,
                record: self.record,
                what,
                need: n,
                left: self.bytes.len().saturating_sub(self.pos),
            })?;
        self.pos = self.pos.saturating_add(n);
        Ok(out)
    }

    fn array<const N: usize>(&mut self, what: &'static str) -> Result<[u8; N], MbdbError> {
        let mut arr = [0u8; N];
        arr.copy_from_slice(self.take(N, what)?);
        Ok(arr)
    }

    fn u8(&mut self, what: &'static str) -> Result<u8, MbdbError> {
        let [b] = self.array::<1>(what)?;
        Ok(b)
    }
    fn u16(&mut self, what: &'static str) -> Result<u16, MbdbError> {
        Ok(u16::from_be_bytes(self.array(what)?))
    }
    fn u32(&mut self, what: &'static str) -> Result<u32, MbdbError> {
        Ok(u32::from_be_bytes(self.array(what)?))
    }
    fn u64(&mut self, what: &'static str) -> Result<u64, MbdbError> {
        Ok(u64::from_be_bytes(self.array(what)?))
    }

    fn string(&mut self, what: &'static str) -> Result<&'a [u8], MbdbError> {
        match self.u16(what)? {
            0xFFFF => Ok(&[]),
            n => self.take(usize::from(n), what),
        }
    }

    fn record(&mut self) -> Result<Record<'a>, MbdbError> {
        let domain = self.string("domain")?;
        let path = self.string("path")?;
        let link_target = self.string("link target")?;
        let data_hash = self.string("data hash")?;
        let encryption_key = self.string("encryption key")?;
        let mode = self.u16("mode")?;
        let inode = self.u64("inode")?;
        let uid = self.u32("uid")?;
        let gid = self.u32("gid")?;
        let mtime = self.u32("mtime")?;
        let atime = self.u32("atime")?;
        let ctime = self.u32("ctime")?;
        let size = self.u64("size")?;
        let protection = self.u8("protection class")?;
        let count = self.u8("property count")?;
        // At most 255 properties, each at least 4 bytes: bounded, no hostile allocation.
        let mut properties = Vec::with_capacity(usize::from(count));
        for _ in 0..count {
            let name = self.string("property name")?;
            let value = self.string("property value")?;
            properties.push((name, value));
        }
        Ok(Record {
            domain,
            path,
            link_target,
            data_hash,
            encryption_key,
            mode,
            inode,
            uid,
            gid,
            mtime,
            atime,
            ctime,
            size,
            protection,
            properties,
        })
    }
}

/// Iterates over the records of a `Manifest.mbdb`; stops at the first error.
pub struct Records<'a> {
    cursor: Cursor<'a>,
    failed: bool,
}

impl<'a> Iterator for Records<'a> {
    type Item = Result<Record<'a>, MbdbError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed || self.cursor.pos >= self.cursor.bytes.len() {
            return None;
        }
        let item = self.cursor.record();
        self.cursor.record = self.cursor.record.saturating_add(1);
        if item.is_err() {
            self.failed = true;
        }
        Some(item)
    }
}

/// Checks the header and returns an iterator over the records.
pub fn records(bytes: &[u8]) -> Result<Records<'_>, MbdbError> {
    if !bytes.starts_with(MAGIC) {
        return Err(MbdbError::BadMagic);
    }
    Ok(Records {
        cursor: Cursor {
            bytes,
            pos: MAGIC.len(),
            record: 0,
        },
        failed: false,
    })
}

/// Every distinct domain named in the file, sorted.
pub fn domains(bytes: &[u8]) -> Result<Vec<String>, MbdbError> {
    let mut set = std::collections::BTreeSet::new();
    for record in records(bytes)? {
        let record = record?;
        if !set.contains(record.domain) {
            set.insert(record.domain);
        }
    }
    Ok(set
        .into_iter()
        .map(|d| String::from_utf8_lossy(d).into_owned())
        .collect())
}

/// Writes a record in the mbdb layout (used by tests and fixture builders).
pub fn encode_record(out: &mut Vec<u8>, r: &Record<'_>) {
    fn string(out: &mut Vec<u8>, s: &[u8]) {
        if s.is_empty() {
            out.extend_from_slice(&0xFFFFu16.to_be_bytes());
        } else {
            let len = u16::try_from(s.len()).unwrap_or(u16::MAX - 1);
            out.extend_from_slice(&len.to_be_bytes());
            out.extend_from_slice(s.get(..usize::from(len)).unwrap_or(s));
        }
    }
    string(out, r.domain);
    string(out, r.path);
    string(out, r.link_target);
    string(out, r.data_hash);
    string(out, r.encryption_key);
    out.extend_from_slice(&r.mode.to_be_bytes());
    out.extend_from_slice(&r.inode.to_be_bytes());
    out.extend_from_slice(&r.uid.to_be_bytes());
    out.extend_from_slice(&r.gid.to_be_bytes());
    out.extend_from_slice(&r.mtime.to_be_bytes());
    out.extend_from_slice(&r.atime.to_be_bytes());
    out.extend_from_slice(&r.ctime.to_be_bytes());
    out.extend_from_slice(&r.size.to_be_bytes());
    out.push(r.protection);
    let count = u8::try_from(r.properties.len()).unwrap_or(u8::MAX);
    out.push(count);
    for (name, value) in r.properties.iter().take(usize::from(count)) {
        string(out, name);
        string(out, value);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn rec<'a>(domain: &'a [u8], path: &'a [u8]) -> Record<'a> {
        Record {
            domain,
            path,
            link_target: b"",
            data_hash: b"",
            encryption_key: b"",
            mode: 0o100644,
            inode: 7,
            uid: 501,
            gid: 501,
            mtime: 1,
            atime: 2,
            ctime: 3,
            size: 9,
            protection: 4,
            properties: vec![(b"name".as_slice(), b"value".as_slice())],
        }
    }

    fn file(records: &[Record<'_>]) -> Vec<u8> {
        let mut out = MAGIC.to_vec();
        for r in records {
            encode_record(&mut out, r);
        }
        out
    }

    #[test]
    fn round_trip_and_domains() {
        let a = rec(
            b"AppDomain-com.zhiliaoapp.musically",
            b"Library/Preferences/x.plist",
        );
        let b = rec(b"HomeDomain", b"Library/SMS/sms.db");
        let c = rec(b"AppDomain-com.zhiliaoapp.musically", b"Documents");
        let bytes = file(&[a.clone(), b.clone(), c]);
        let parsed: Vec<_> = records(&bytes).unwrap().collect::<Result<_, _>>().unwrap();
        assert_eq!(parsed.len(), 3);
        assert_eq!(parsed[0], a);
        assert_eq!(parsed[1], b);
        assert_eq!(
            domains(&bytes).unwrap(),
            vec![
                "AppDomain-com.zhiliaoapp.musically".to_string(),
                "HomeDomain".to_string()
            ]
        );
    }

    #[test]
    fn truncation_reports_offset_and_field() {
        let bytes = file(&[rec(b"HomeDomain", b"x")]);
        let cut = &bytes[..bytes.len() - 3];
        match domains(cut) {
            Err(MbdbError::Truncated {
                record: 0,
                what: "property value",
                ..
            }) => {}
            other => panic!("{other:?}"),
        }
        assert_eq!(domains(b"mbdx\x05\x00"), Err(MbdbError::BadMagic));
        assert_eq!(domains(MAGIC).unwrap(), Vec::<String>::new());
    }

    proptest! {
        #[test]
        fn never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
            let mut with_magic = MAGIC.to_vec();
            with_magic.extend_from_slice(&bytes);
            let _ = domains(&bytes);
            let _ = domains(&with_magic);
        }

        #[test]
        fn never_panics_on_mutations(pos in 0usize..120, byte in any::<u8>(), cut in 0usize..130) {
            let mut bytes = file(&[rec(b"AppDomain-a.b", b"p"), rec(b"HomeDomain", b"q")]);
            if let Some(b) = bytes.get_mut(pos) { *b = byte; }
            bytes.truncate(cut);
            let _ = domains(&bytes);
        }
    }
}
