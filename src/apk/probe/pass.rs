//! One evaluation pass over the bytes fed so far: [`Pass::want`] hands out what is at hand and
//! notes what is missing as the next round's request; [`merge`] joins nearby requests.

use super::{State, MERGE_GAP};
use crate::apk::ByteRange;

pub(super) enum Got<'a> {
    Have(&'a [u8]),
    Pending,
    Missing,
}

/// One evaluation pass: the bytes at hand and what is still wanted.
pub(super) struct Pass<'a> {
    pub st: &'a State,
    pub needs: Vec<ByteRange>,
    pub last: bool,
}

impl<'a> Pass<'a> {
    /// The bytes `[off, off+len)` clamped to the file, or a note to read `ask` (widened to cover
    /// them) next round.
    pub(super) fn want(&mut self, off: u64, len: u64, ask: Option<ByteRange>) -> Got<'a> {
        let flen = self.st.len;
        if off > flen || (off == flen && len > 0) {
            return Got::Missing;
        }
        let end = off.saturating_add(len).min(flen);
        if let Some(s) = self.st.get(off, end - off) {
            return Got::Have(s);
        }
        if self.last
            || self
                .st
                .history
                .iter()
                .any(|r| r.offset <= off && end <= r.offset.saturating_add(r.len))
        {
            return Got::Missing;
        }
        let (mut a_off, mut a_end) =
            ask.map_or((off, end), |a| (a.offset, a.offset.saturating_add(a.len)));
        a_off = a_off.min(off);
        a_end = a_end.max(end).min(flen);
        self.needs.push(ByteRange::new(a_off, a_end - a_off));
        Got::Pending
    }
}

/// Sorts `ranges` and joins those closer than `MERGE_GAP`.
pub(super) fn merge(mut ranges: Vec<ByteRange>) -> Vec<ByteRange> {
    ranges.sort();
    let mut out: Vec<ByteRange> = Vec::new();
    for r in ranges {
        if let Some(last) = out.last_mut() {
            let last_end = last.offset.saturating_add(last.len);
            if r.offset <= last_end.saturating_add(MERGE_GAP) {
                let end = last_end.max(r.offset.saturating_add(r.len));
                last.len = end - last.offset;
                continue;
            }
        }
        out.push(r);
    }
    out
}
