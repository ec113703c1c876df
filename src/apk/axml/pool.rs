//! The AXML string pool (UTF-8 or UTF-16), decoded one string at a time on demand.

use super::UTF8_FLAG;
use crate::apk::cursor::{u32_at, Cursor};

/// The string pool, decoded on demand.
pub(super) struct StringPool<'a> {
    chunk: &'a [u8],
    offsets: Vec<u32>,
    strings_start: usize,
    utf8: bool,
}

impl StringPool<'_> {
    pub(super) fn get(&self, idx: u32) -> Option<String> {
        let off = *self.offsets.get(usize::try_from(idx).ok()?)?;
        let start = self.strings_start.checked_add(usize::try_from(off).ok()?)?;
        let mut c = Cursor::new(self.chunk.get(start..)?);
        if self.utf8 {
            let _chars = utf8_len(&mut c)?;
            let bytes = utf8_len(&mut c)?;
            let raw = c.take(bytes).or_else(|| c.take(c.remaining()))?;
            let raw = raw.split(|b| *b == 0).next().unwrap_or_default();
            Some(String::from_utf8_lossy(raw).into_owned())
        } else {
            let first = c.u16()?;
            let len = if first & 0x8000 != 0 {
                (usize::from(first & 0x7fff) << 16) | usize::from(c.u16()?)
            } else {
                usize::from(first)
            };
            let n = len.min(c.remaining() / 2);
            let units: Vec<u16> = (0..n)
                .map_while(|_| c.u16())
                .take_while(|u| *u != 0)
                .collect();
            Some(String::from_utf16_lossy(&units))
        }
    }
}

fn utf8_len(c: &mut Cursor<'_>) -> Option<usize> {
    let first = c.u8()?;
    if first & 0x80 != 0 {
        Some((usize::from(first & 0x7f) << 8) | usize::from(c.u8()?))
    } else {
        Some(usize::from(first))
    }
}

pub(super) fn parse_string_pool(chunk: &[u8], header_len: usize) -> Option<StringPool<'_>> {
    let count = u32_at(chunk, 8)?;
    let flags = u32_at(chunk, 16)?;
    let strings_start = usize::try_from(u32_at(chunk, 20)?).ok()?;
    let hl = if (28..=chunk.len()).contains(&header_len) {
        header_len
    } else {
        28
    };
    let table = chunk.get(hl..)?;
    // Never believe the count beyond the bytes that could hold it.
    let n = usize::try_from(count).ok()?.min(table.len() / 4);
    let mut offsets = Vec::with_capacity(n);
    let mut c = Cursor::new(table);
    for _ in 0..n {
        offsets.push(c.u32()?);
    }
    Some(StringPool {
        chunk,
        offsets,
        strings_start,
        utf8: flags & UTF8_FLAG != 0,
    })
}
