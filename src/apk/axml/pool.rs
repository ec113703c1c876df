//! The AXML string pool (UTF-8 or UTF-16), each string decoded on demand, once: a string is
//! kept by where it starts, so every index (and every attribute) naming it shares one copy.

use std::collections::BTreeMap;
use std::rc::Rc;

use super::budget::Budget;
use super::UTF8_FLAG;
use crate::apk::cursor::{u32_at, Cursor};

/// The string pool, decoded on demand.
pub(super) struct StringPool<'a> {
    chunk: &'a [u8],
    offsets: Vec<u32>,
    strings_start: usize,
    utf8: bool,
    /// Strings decoded so far, by their start in the chunk.
    decoded: BTreeMap<usize, Rc<str>>,
}

impl StringPool<'_> {
    /// String `idx`, decoded the first time it is asked for and charged to `budget` then;
    /// `None` when it is absent or over the budget.
    pub(super) fn get(&mut self, idx: u32, budget: &mut Budget) -> Option<Rc<str>> {
        let off = *self.offsets.get(usize::try_from(idx).ok()?)?;
        let start = self.strings_start.checked_add(usize::try_from(off).ok()?)?;
        if let Some(s) = self.decoded.get(&start) {
            return Some(Rc::clone(s));
        }
        let s = decode(self.chunk.get(start..)?, self.utf8, budget)?;
        if !budget.bytes(s.len()) {
            return None;
        }
        self.decoded.insert(start, Rc::clone(&s));
        Some(s)
    }
}

/// Decodes the string at the start of `bytes`, when at least its length fits in `budget`.
fn decode(bytes: &[u8], utf8: bool, budget: &mut Budget) -> Option<Rc<str>> {
    let mut c = Cursor::new(bytes);
    if utf8 {
        let _chars = utf8_len(&mut c)?;
        let bytes = utf8_len(&mut c)?;
        let raw = c.take(bytes).or_else(|| c.take(c.remaining()))?;
        let raw = raw.split(|b| *b == 0).next().unwrap_or_default();
        if !budget.fits(raw.len()) {
            return None;
        }
        Some(Rc::from(&*String::from_utf8_lossy(raw)))
    } else {
        let first = c.u16()?;
        let len = if first & 0x8000 != 0 {
            (usize::from(first & 0x7fff) << 16) | usize::from(c.u16()?)
        } else {
            usize::from(first)
        };
        let n = len.min(c.remaining() / 2);
        if !budget.fits(n) {
            return None;
        }
        let units: Vec<u16> = (0..n)
            .map_while(|_| c.u16())
            .take_while(|u| *u != 0)
            .collect();
        Some(Rc::from(String::from_utf16_lossy(&units)))
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
        decoded: BTreeMap::new(),
    })
}
