//! ZIP end records, central directory and local headers, read leniently.
//!
//! Only what APK fingerprinting needs: where the central directory is, what each entry is called,
//! how it is compressed (as the central directory says: Android ignores the local header's
//! method and treats anything but STORED as DEFLATE), its sizes and where its local header is.
//! Junk before the archive, archive comments, ZIP64 end records, truncated or lying records are
//! tolerated where a reader can still make sense of them; the caller gets warnings.

use super::cursor::{u16_at, u32_at, u64_at, Cursor};

pub(crate) const EOCD_SIG: u32 = 0x0605_4b50;
pub(crate) const EOCD_LEN: usize = 22;
pub(crate) const ZIP64_LOCATOR_SIG: u32 = 0x0706_4b50;
pub(crate) const ZIP64_LOCATOR_LEN: usize = 20;
pub(crate) const ZIP64_EOCD_SIG: u32 = 0x0606_4b50;
pub(crate) const ZIP64_EOCD_LEN: usize = 56;
pub(crate) const CDFH_SIG: u32 = 0x0201_4b50;
pub(crate) const CDFH_LEN: usize = 46;
pub(crate) const LFH_SIG: u32 = 0x0403_4b50;
pub(crate) const LFH_LEN: usize = 30;
pub(crate) const MAX_COMMENT: usize = 0xffff;
/// ZIP64 extended information extra field.
const ZIP64_EXTRA_ID: u16 = 0x0001;
/// Compression method STORED.
pub(crate) const METHOD_STORED: u16 = 0;

/// The end of central directory record (with ZIP64 values once they are known).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Eocd {
    /// File offset of the record.
    pub offset: u64,
    pub entries: u64,
    pub cd_size: u64,
    pub cd_offset: u64,
    pub comment_len: u16,
    /// File offset of the ZIP64 end record, when a ZIP64 locator precedes this record.
    pub zip64_record: Option<u64>,
}

impl Eocd {
    /// Whether a field is saturated, i.e. its real value is in the ZIP64 record.
    pub(crate) fn needs_zip64(&self) -> bool {
        self.entries == 0xffff || self.cd_size == 0xffff_ffff || self.cd_offset == 0xffff_ffff
    }
}

fn parse_eocd_at(tail: &[u8], pos: usize, tail_offset: u64) -> Option<Eocd> {
    let rec = tail.get(pos..pos.checked_add(EOCD_LEN)?)?;
    if u32_at(rec, 0)? != EOCD_SIG {
        return None;
    }
    let entries = u64::from(u16_at(rec, 10)?);
    let cd_size = u64::from(u32_at(rec, 12)?);
    let cd_offset = u64::from(u32_at(rec, 16)?);
    let comment_len = u16_at(rec, 20)?;
    let offset = tail_offset.checked_add(pos as u64)?;
    let zip64_record = pos
        .checked_sub(ZIP64_LOCATOR_LEN)
        .and_then(|lp| tail.get(lp..pos))
        .filter(|loc| u32_at(loc, 0) == Some(ZIP64_LOCATOR_SIG))
        .and_then(|loc| u64_at(loc, 8));
    Some(Eocd {
        offset,
        entries,
        cd_size,
        cd_offset,
        comment_len,
        zip64_record,
    })
}

/// Finds the end of central directory record in `tail`, the last bytes of a file of
/// `file_len` bytes starting at `tail_offset`. Scans backwards from the end, as far as the
/// longest possible comment. Prefers a record whose comment ends exactly at the end of the file;
/// failing that, takes the last record whose central directory lies before it (a comment
/// length that lies).
pub(crate) fn find_eocd(tail: &[u8], tail_offset: u64, file_len: u64) -> Option<Eocd> {
    if tail_offset.checked_add(tail.len() as u64) != Some(file_len) {
        return None;
    }
    let last = tail.len().checked_sub(EOCD_LEN)?;
    let first = last.saturating_sub(MAX_COMMENT);
    let mut fallback = None;
    for pos in (first..=last).rev() {
        if tail.get(pos..pos + 4) != Some(&EOCD_SIG.to_le_bytes()[..]) {
            continue;
        }
        let Some(e) = parse_eocd_at(tail, pos, tail_offset) else {
            continue;
        };
        if pos + EOCD_LEN + usize::from(e.comment_len) == tail.len() {
            return Some(e);
        }
        if fallback.is_none() && e.cd_offset.saturating_add(e.cd_size) <= e.offset.saturating_add(1)
        {
            fallback = Some(e);
        }
    }
    fallback
}

/// Applies a ZIP64 end of central directory record (56+ bytes) to `eocd`.
pub(crate) fn apply_zip64(eocd: &mut Eocd, rec: &[u8]) -> Result<(), &'static str> {
    if u32_at(rec, 0) != Some(ZIP64_EOCD_SIG) {
        return Err("ZIP64 end record signature mismatch");
    }
    let entries = u64_at(rec, 32).ok_or("ZIP64 end record truncated")?;
    let cd_size = u64_at(rec, 40).ok_or("ZIP64 end record truncated")?;
    let cd_offset = u64_at(rec, 48).ok_or("ZIP64 end record truncated")?;
    eocd.entries = entries;
    eocd.cd_size = cd_size;
    eocd.cd_offset = cd_offset;
    Ok(())
}

/// One central directory record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CdEntry {
    /// The raw name bytes.
    pub name: Vec<u8>,
    pub method: u16,
    pub flags: u16,
    pub comp_size: u64,
    pub uncomp_size: u64,
    /// Offset of the local header as recorded (before any junk-before-archive shift).
    pub local_offset: u64,
    pub name_len: u16,
    pub extra_len: u16,
}

impl CdEntry {
    pub(crate) fn name_lossy(&self) -> String {
        String::from_utf8_lossy(&self.name).into_owned()
    }
}

/// Reads the ZIP64 extra field of a central directory record: values saturated in the fixed
/// part are replaced, in order (uncompressed size, compressed size, local header offset).
fn apply_zip64_extra(e: &mut CdEntry, extra: &[u8]) {
    let mut c = Cursor::new(extra);
    while c.remaining() >= 4 {
        let (Some(id), Some(len)) = (c.u16(), c.u16()) else {
            return;
        };
        let Some(body) = c.take(usize::from(len)) else {
            return;
        };
        if id != ZIP64_EXTRA_ID {
            continue;
        }
        let mut b = Cursor::new(body);
        if e.uncomp_size == 0xffff_ffff {
            match b.u64() {
                Some(v) => e.uncomp_size = v,
                None => return,
            }
        }
        if e.comp_size == 0xffff_ffff {
            match b.u64() {
                Some(v) => e.comp_size = v,
                None => return,
            }
        }
        if e.local_offset == 0xffff_ffff {
            if let Some(v) = b.u64() {
                e.local_offset = v;
            }
        }
        return;
    }
}

/// The parsed central directory.
#[derive(Debug, Default)]
pub(crate) struct CentralDirectory {
    pub entries: Vec<CdEntry>,
    pub warnings: Vec<String>,
}

/// Upper bound on records read, whatever the end record claims.
const MAX_ENTRIES: usize = 1 << 20;

/// Parses central directory records from `cd` (which starts at file offset `cd_offset`).
/// A record whose signature is wrong makes the reader look for the next record signature
/// (a lying extra-field length); a record cut short ends the walk. Both leave a warning.
pub(crate) fn parse_central_directory(
    cd: &[u8],
    cd_offset: u64,
    expected: u64,
) -> CentralDirectory {
    let mut out = CentralDirectory::default();
    let mut pos = 0usize;
    let sig = CDFH_SIG.to_le_bytes();
    while pos < cd.len() && out.entries.len() < MAX_ENTRIES {
        if u32_at(cd, pos) != Some(CDFH_SIG) {
            let rest = cd.get(pos..).unwrap_or_default();
            match rest.windows(4).position(|w| w == sig) {
                Some(skip) => {
                    out.warnings.push(format!(
                        "central directory record expected at offset {} is not there; resynchronised {skip} bytes later",
                        cd_offset.saturating_add(pos as u64)
                    ));
                    pos += skip;
                }
                None => {
                    if !out.entries.is_empty() || rest.len() >= 4 {
                        out.warnings.push(format!(
                            "{} bytes after the last central directory record at offset {} are not a record",
                            rest.len(),
                            cd_offset.saturating_add(pos as u64)
                        ));
                    }
                    break;
                }
            }
        }
        let Some(fixed) = cd.get(pos..pos.saturating_add(CDFH_LEN)) else {
            out.warnings.push(format!(
                "central directory record at offset {} is truncated",
                cd_offset.saturating_add(pos as u64)
            ));
            break;
        };
        let mut c = Cursor::new(fixed);
        let _sig = c.u32();
        let _made_by = c.u16();
        let h = shared_fields(&mut c);
        let comment_len = c.u16().unwrap_or(0);
        let _disk = c.u16();
        let _internal = c.u16();
        let _external = c.u32();
        let local_offset = u64::from(c.u32().unwrap_or(0));
        let name_start = pos + CDFH_LEN;
        let name_end = name_start + usize::from(h.name_len);
        let extra_end = name_end + usize::from(h.extra_len);
        let record_end = extra_end + usize::from(comment_len);
        let Some(name) = cd.get(name_start..name_end) else {
            out.warnings.push(format!(
                "central directory record at offset {} is truncated in its name",
                cd_offset.saturating_add(pos as u64)
            ));
            break;
        };
        let mut e = CdEntry {
            name: name.to_vec(),
            method: h.method,
            flags: h.flags,
            comp_size: h.comp_size,
            uncomp_size: h.uncomp_size,
            local_offset,
            name_len: h.name_len,
            extra_len: h.extra_len,
        };
        if let Some(extra) = cd.get(name_end..extra_end) {
            apply_zip64_extra(&mut e, extra);
        }
        out.entries.push(e);
        if record_end > cd.len() {
            out.warnings.push(format!(
                "central directory record at offset {} runs past the end of the central directory",
                cd_offset.saturating_add(pos as u64)
            ));
            break;
        }
        pos = record_end;
    }
    if out.entries.len() as u64 != expected && expected != 0xffff {
        out.warnings.push(format!(
            "end record announces {expected} entries, central directory holds {}",
            out.entries.len()
        ));
    }
    out
}

/// A local file header (its fields are also the ones a central directory record shares with it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct LocalHeader {
    pub method: u16,
    pub flags: u16,
    pub comp_size: u64,
    pub uncomp_size: u64,
    pub name_len: u16,
    pub extra_len: u16,
}

impl LocalHeader {
    /// Bytes from the start of the header to the start of the data.
    pub(crate) fn data_offset(&self) -> u64 {
        LFH_LEN as u64 + u64::from(self.name_len) + u64::from(self.extra_len)
    }
}

/// Parses the 30 fixed bytes of a local file header.
pub(crate) fn parse_local_header(b: &[u8]) -> Result<LocalHeader, &'static str> {
    let mut c = Cursor::new(b.get(..LFH_LEN).ok_or("local header truncated")?);
    if c.u32() != Some(LFH_SIG) {
        return Err("local header signature mismatch");
    }
    Ok(shared_fields(&mut c))
}

/// The fields a central directory record and a local header share, in the same order: from
/// "version needed to extract" to "extra field length".
fn shared_fields(c: &mut Cursor<'_>) -> LocalHeader {
    let _needed = c.u16();
    let flags = c.u16().unwrap_or(0);
    let method = c.u16().unwrap_or(0);
    let _time = c.u32();
    let _crc = c.u32();
    let comp_size = u64::from(c.u32().unwrap_or(0));
    let uncomp_size = u64::from(c.u32().unwrap_or(0));
    let name_len = c.u16().unwrap_or(0);
    let extra_len = c.u16().unwrap_or(0);
    LocalHeader {
        method,
        flags,
        comp_size,
        uncomp_size,
        name_len,
        extra_len,
    }
}

/// Decodes an entry as Android does: method 0 is STORED, anything else DEFLATE. Output is capped
/// at `limit` bytes; a partial result comes with a note.
pub(crate) fn decode_entry(
    method: u16,
    data: &[u8],
    uncomp_size: u64,
    limit: usize,
) -> Result<(Vec<u8>, Option<&'static str>), &'static str> {
    if method == METHOD_STORED {
        let n = usize::try_from(uncomp_size).unwrap_or(usize::MAX);
        let take = if n > 0 && n < data.len() {
            n
        } else {
            data.len()
        };
        let out = data.get(..take.min(limit)).unwrap_or_default().to_vec();
        return Ok((out, None));
    }
    let (out, status) = inflate_raw(data, limit);
    use miniz_oxide::inflate::TINFLStatus;
    match status {
        TINFLStatus::Done => Ok((out, None)),
        TINFLStatus::HasMoreOutput if !out.is_empty() => Ok((
            out,
            Some("inflated size over the limit; kept the first part"),
        )),
        TINFLStatus::HasMoreOutput => Err("inflated size over the limit"),
        TINFLStatus::FailedCannotMakeProgress | TINFLStatus::NeedsMoreInput if !out.is_empty() => {
            Ok((out, Some("deflate stream truncated; kept what inflated")))
        }
        TINFLStatus::FailedCannotMakeProgress | TINFLStatus::NeedsMoreInput => {
            Err("deflate stream truncated")
        }
        _ if !out.is_empty() => Ok((
            out,
            Some("deflate stream corrupt; kept what inflated before the error"),
        )),
        _ => Err("deflate stream corrupt"),
    }
}

/// Inflates a raw deflate stream into at most `limit` bytes; returns exactly the bytes produced
/// and the final status (trailing input after the final block is ignored).
fn inflate_raw(mut input: &[u8], limit: usize) -> (Vec<u8>, miniz_oxide::inflate::TINFLStatus) {
    use miniz_oxide::inflate::core::{decompress, inflate_flags, DecompressorOxide};
    use miniz_oxide::inflate::TINFLStatus;
    let flags = inflate_flags::TINFL_FLAG_USING_NON_WRAPPING_OUTPUT_BUF;
    let mut out = vec![
        0u8;
        input
            .len()
            .saturating_mul(3)
            .clamp(64, limit.max(64))
            .min(limit)
    ];
    let mut d = Box::<DecompressorOxide>::default();
    let mut pos = 0usize;
    loop {
        let (status, consumed, produced) = decompress(&mut d, input, &mut out, pos, flags);
        pos = pos.saturating_add(produced).min(out.len());
        match status {
            TINFLStatus::HasMoreOutput if out.len() < limit => {
                input = input.get(consumed..).unwrap_or_default();
                let new_len = out.len().saturating_mul(2).min(limit);
                out.resize(new_len, 0);
            }
            other => {
                out.truncate(pos);
                return (out, other);
            }
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A minimal in-memory zip writer for tests: stored or deflated entries, optional junk
    /// before the archive, a comment, and an optional blob (e.g. a signing block) before the
    /// central directory.
    pub(crate) struct TestZip {
        pub prefix: Vec<u8>,
        pub entries: Vec<(String, Vec<u8>, bool)>,
        pub before_cd: Vec<u8>,
        pub comment: Vec<u8>,
        pub zip64: bool,
    }

    impl TestZip {
        pub(crate) fn new() -> Self {
            Self {
                prefix: Vec::new(),
                entries: Vec::new(),
                before_cd: Vec::new(),
                comment: Vec::new(),
                zip64: false,
            }
        }

        pub(crate) fn entry(mut self, name: &str, data: &[u8], deflate: bool) -> Self {
            self.entries
                .push((name.to_string(), data.to_vec(), deflate));
            self
        }

        pub(crate) fn build(&self) -> Vec<u8> {
            let mut out = self.prefix.clone();
            let base = out.len() as u32;
            let mut cd = Vec::new();
            for (name, data, deflate) in &self.entries {
                let lho = out.len() as u32 - base;
                let (method, body) = if *deflate {
                    (8u16, miniz_oxide::deflate::compress_to_vec(data, 6))
                } else {
                    (0u16, data.clone())
                };
                // From "version needed" to "extra field length", the same in both headers.
                let shared = |v: &mut Vec<u8>| {
                    v.extend_from_slice(&20u16.to_le_bytes());
                    v.extend_from_slice(&0u16.to_le_bytes());
                    v.extend_from_slice(&method.to_le_bytes());
                    v.extend_from_slice(&0u32.to_le_bytes());
                    v.extend_from_slice(&0u32.to_le_bytes());
                    v.extend_from_slice(&(body.len() as u32).to_le_bytes());
                    v.extend_from_slice(&(data.len() as u32).to_le_bytes());
                    v.extend_from_slice(&(name.len() as u16).to_le_bytes());
                    v.extend_from_slice(&0u16.to_le_bytes());
                };
                out.extend_from_slice(&LFH_SIG.to_le_bytes());
                shared(&mut out);
                out.extend_from_slice(name.as_bytes());
                out.extend_from_slice(&body);
                cd.extend_from_slice(&CDFH_SIG.to_le_bytes());
                cd.extend_from_slice(&20u16.to_le_bytes());
                shared(&mut cd);
                cd.extend_from_slice(&0u16.to_le_bytes());
                cd.extend_from_slice(&0u16.to_le_bytes());
                cd.extend_from_slice(&0u16.to_le_bytes());
                cd.extend_from_slice(&0u32.to_le_bytes());
                cd.extend_from_slice(&lho.to_le_bytes());
                cd.extend_from_slice(name.as_bytes());
            }
            out.extend_from_slice(&self.before_cd);
            let cd_offset = out.len() as u32 - base;
            out.extend_from_slice(&cd);
            let n = self.entries.len() as u16;
            if self.zip64 {
                let rec_off = (out.len() as u32 - base) as u64;
                out.extend_from_slice(&ZIP64_EOCD_SIG.to_le_bytes());
                out.extend_from_slice(&44u64.to_le_bytes());
                out.extend_from_slice(&45u16.to_le_bytes());
                out.extend_from_slice(&45u16.to_le_bytes());
                out.extend_from_slice(&0u32.to_le_bytes());
                out.extend_from_slice(&0u32.to_le_bytes());
                out.extend_from_slice(&u64::from(n).to_le_bytes());
                out.extend_from_slice(&u64::from(n).to_le_bytes());
                out.extend_from_slice(&(cd.len() as u64).to_le_bytes());
                out.extend_from_slice(&u64::from(cd_offset).to_le_bytes());
                out.extend_from_slice(&ZIP64_LOCATOR_SIG.to_le_bytes());
                out.extend_from_slice(&0u32.to_le_bytes());
                out.extend_from_slice(&rec_off.to_le_bytes());
                out.extend_from_slice(&1u32.to_le_bytes());
            }
            out.extend_from_slice(&EOCD_SIG.to_le_bytes());
            out.extend_from_slice(&0u16.to_le_bytes());
            out.extend_from_slice(&0u16.to_le_bytes());
            if self.zip64 {
                out.extend_from_slice(&0xffffu16.to_le_bytes());
                out.extend_from_slice(&0xffffu16.to_le_bytes());
                out.extend_from_slice(&0xffff_ffffu32.to_le_bytes());
                out.extend_from_slice(&0xffff_ffffu32.to_le_bytes());
            } else {
                out.extend_from_slice(&n.to_le_bytes());
                out.extend_from_slice(&n.to_le_bytes());
                out.extend_from_slice(&(cd.len() as u32).to_le_bytes());
                out.extend_from_slice(&cd_offset.to_le_bytes());
            }
            out.extend_from_slice(&(self.comment.len() as u16).to_le_bytes());
            out.extend_from_slice(&self.comment);
            out
        }
    }

    fn eocd_of(z: &[u8]) -> Eocd {
        let start = z.len().saturating_sub(70_000);
        find_eocd(&z[start..], start as u64, z.len() as u64).unwrap()
    }

    #[test]
    fn finds_eocd_and_entries() {
        let z = TestZip::new()
            .entry("a.txt", b"hello", false)
            .entry("lib/arm64-v8a/libx.so", b"ELF", true)
            .build();
        let e = eocd_of(&z);
        assert_eq!(e.entries, 2);
        assert_eq!(e.offset as usize, z.len() - EOCD_LEN);
        let cd = &z[e.cd_offset as usize..(e.cd_offset + e.cd_size) as usize];
        let parsed = parse_central_directory(cd, e.cd_offset, e.entries);
        assert!(parsed.warnings.is_empty(), "{:?}", parsed.warnings);
        assert_eq!(parsed.entries[1].name, b"lib/arm64-v8a/libx.so");
        assert_eq!(parsed.entries[1].method, 8);
    }

    #[test]
    fn comment_containing_a_fake_eocd_is_skipped() {
        let mut t = TestZip::new().entry("a", b"x", false);
        // A fake end record inside the comment, whose own comment length does not reach EOF.
        let mut fake = EOCD_SIG.to_le_bytes().to_vec();
        fake.extend_from_slice(&[0u8; 18]);
        fake.extend_from_slice(b"tail");
        t.comment = fake;
        let z = t.build();
        let e = eocd_of(&z);
        assert_eq!(e.comment_len as usize, 26);
        assert_eq!(e.entries, 1);
    }

    #[test]
    fn junk_before_archive_is_visible_as_a_shift() {
        let mut t = TestZip::new().entry("a", b"x", false);
        t.prefix = vec![0xAA; 1000];
        let z = t.build();
        let e = eocd_of(&z);
        // The recorded offset ignores the prefix: the real CD is 1000 bytes later.
        assert_eq!(e.offset - e.cd_size - e.cd_offset, 1000);
    }

    #[test]
    fn zip64_end_record_is_applied() {
        let mut t = TestZip::new()
            .entry("a", b"x", false)
            .entry("b", b"y", false);
        t.zip64 = true;
        let z = t.build();
        let mut e = eocd_of(&z);
        assert!(e.needs_zip64());
        let rec = e.zip64_record.unwrap() as usize;
        apply_zip64(&mut e, &z[rec..rec + ZIP64_EOCD_LEN]).unwrap();
        assert_eq!(e.entries, 2);
        assert_eq!(
            &z[e.cd_offset as usize..e.cd_offset as usize + 4],
            &CDFH_SIG.to_le_bytes()
        );
    }

    #[test]
    fn truncated_central_directory_keeps_earlier_records() {
        let z = TestZip::new()
            .entry("first", b"1", false)
            .entry("second", b"2", false)
            .build();
        let e = eocd_of(&z);
        let cd = &z[e.cd_offset as usize..(e.cd_offset + e.cd_size - 3) as usize];
        let parsed = parse_central_directory(cd, e.cd_offset, e.entries);
        assert_eq!(parsed.entries.len(), 1);
        assert!(!parsed.warnings.is_empty());
    }

    #[test]
    fn no_eocd_in_random_bytes() {
        assert!(find_eocd(&[0u8; 100], 0, 100).is_none());
        assert!(find_eocd(&[0u8; 10], 0, 10).is_none());
        // A tail that does not reach the end of the file is refused.
        assert!(find_eocd(&[0u8; 100], 0, 200).is_none());
    }

    #[test]
    fn stored_and_deflated_decode() {
        let data = b"abcabcabcabc".repeat(50);
        let comp = miniz_oxide::deflate::compress_to_vec(&data, 6);
        assert_eq!(decode_entry(8, &comp, 0, 1 << 20).unwrap().0, data);
        // Any non-zero method is deflate.
        assert_eq!(decode_entry(21, &comp, 0, 1 << 20).unwrap().0, data);
        // Trailing bytes after the stream end are ignored.
        let mut with_tail = comp.clone();
        with_tail.extend_from_slice(b"PK\x03\x04junk");
        assert_eq!(decode_entry(8, &with_tail, 0, 1 << 20).unwrap().0, data);
        assert_eq!(decode_entry(0, b"hello", 3, 1 << 20).unwrap().0, b"hel");
        let r = decode_entry(8, &[0x07, 0, 0, 0], 0, 1 << 20);
        assert!(r.is_err(), "{r:?}");
    }
}
