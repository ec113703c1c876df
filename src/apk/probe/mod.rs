//! The probe state machine: decides which byte ranges to read, in a small fixed number of rounds.
//!
//! Each round the whole analysis is re-run over the bytes read so far; whatever it lacks becomes
//! the next request. That keeps the logic a plain top-to-bottom function and makes every round
//! idempotent. Typical costs:
//!
//! 1. the tail of the file (the end record with the longest possible comment, usually the whole
//!    central directory and the APK Signing Block of a small APK);
//! 2. the central directory plus 16 KiB before it (where the signing block sits), when the
//!    central directory was not in the tail;
//! 3. the local header and data of `AndroidManifest.xml` and of every `META-INF/*.RSA|DSA|EC`,
//!    and the signing block if it was larger than what was read before the central directory;
//! 4. rarely: entry data beyond what round 3 guessed (a very long local extra field).
//!
//! A prefixed archive (junk before it) whose central directory is not in the tail asks for both
//! candidate central directory positions in round 2. After [`MAX_ROUNDS`] reads the probe
//! finishes with what it has and says what is missing.
//!
//! The steps, each in its module: `archive` (end record, central directory, signing block),
//! `entries` (the manifest and v1 signature block entries), `assemble` (the fingerprint);
//! `pass` is what one evaluation has at hand and still wants.

mod archive;
mod assemble;
mod entries;
mod pass;
#[cfg(test)]
mod tests;

use super::{ApkError, ByteRange, Fingerprint, Step};
use pass::{merge, Pass};

/// The end of the file read first: a 64 KiB comment, the end record, a ZIP64 locator and end
/// record, and some of the central directory.
const TAIL_LEN: u64 = 66 * 1024;
/// Read before the central directory when it is fetched: the signing block is there.
const PRE_CD: u64 = 16 * 1024;
/// Extra bytes asked after an entry's expected end (the local extra field may be longer than
/// the central directory's).
const LOCAL_SLACK: u64 = 1024;
/// Ranges closer than this are merged into one read.
const MERGE_GAP: u64 = 4096;
/// Rounds after which the probe stops asking.
pub(super) const MAX_ROUNDS: u32 = 4;
const MAX_CD: u64 = 64 << 20;
const MAX_SIGBLOCK: u64 = 16 << 20;
const MAX_MANIFEST_COMPRESSED: u64 = 16 << 20;
const MAX_MANIFEST: usize = 32 << 20;
const MAX_SIGFILE: u64 = 1 << 20;
const MAX_SIGFILES: usize = 16;
/// How far to read an entry whose size is recorded as 0 everywhere.
const MAX_UNKNOWN_SIZE: u64 = 4 << 20;
const MANIFEST_NAME: &[u8] = b"AndroidManifest.xml";

struct Chunk {
    offset: u64,
    data: Vec<u8>,
}

pub(super) struct State {
    len: u64,
    chunks: Vec<Chunk>,
    asked: Vec<ByteRange>,
    history: Vec<ByteRange>,
    rounds: u32,
    finished: bool,
    /// Bytes fed so far (reported as `Fingerprint::bytes_read`).
    fed: u64,
}

impl std::fmt::Debug for State {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("State")
            .field("len", &self.len)
            .field(
                "chunks",
                &self
                    .chunks
                    .iter()
                    .map(|c| (c.offset, c.data.len()))
                    .collect::<Vec<_>>(),
            )
            .field("asked", &self.asked)
            .field("rounds", &self.rounds)
            .field("finished", &self.finished)
            .finish()
    }
}

enum Outcome {
    Need(Vec<ByteRange>),
    Done(Box<Fingerprint>),
}

impl State {
    pub(super) fn new(len: u64) -> Self {
        Self {
            len,
            chunks: Vec::new(),
            asked: Vec::new(),
            history: Vec::new(),
            rounds: 0,
            finished: false,
            fed: 0,
        }
    }

    fn get(&self, off: u64, len: u64) -> Option<&[u8]> {
        let end = off.checked_add(len)?;
        self.chunks.iter().find_map(|c| {
            let c_end = c.offset.checked_add(c.data.len() as u64)?;
            if c.offset <= off && end <= c_end {
                let s = usize::try_from(off - c.offset).ok()?;
                let e = usize::try_from(end - c.offset).ok()?;
                c.data.get(s..e)
            } else {
                None
            }
        })
    }

    fn ask(&mut self, ranges: Vec<ByteRange>) -> Step {
        self.rounds += 1;
        self.history.extend(ranges.iter().copied());
        self.asked = ranges.clone();
        Step::Need(ranges)
    }

    pub(super) fn start(&mut self) -> Step {
        self.chunks.clear();
        self.history.clear();
        self.rounds = 0;
        self.finished = false;
        self.fed = 0;
        let off = self.len.saturating_sub(TAIL_LEN);
        self.ask(vec![ByteRange::new(off, self.len - off)])
    }

    pub(super) fn feed(&mut self, data: Vec<Vec<u8>>) -> Result<Step, ApkError> {
        if self.finished || self.asked.is_empty() {
            return Err(ApkError::Protocol("fed bytes that were not asked for"));
        }
        if data.len() != self.asked.len() {
            return Err(ApkError::Protocol(
                "fed a different number of buffers than ranges asked",
            ));
        }
        let asked = std::mem::take(&mut self.asked);
        for (r, mut d) in asked.into_iter().zip(data) {
            d.truncate(usize::try_from(r.len).unwrap_or(usize::MAX));
            self.fed = self.fed.saturating_add(d.len() as u64);
            self.chunks.push(Chunk {
                offset: r.offset,
                data: d,
            });
        }
        let last = self.rounds >= MAX_ROUNDS;
        match self.evaluate(last) {
            Ok(Outcome::Need(ranges)) => Ok(self.ask(merge(ranges))),
            Ok(Outcome::Done(mut info)) => {
                info.bytes_read = self.fed;
                self.finished = true;
                self.chunks.clear();
                Ok(Step::Done(info))
            }
            Err(e) => {
                self.finished = true;
                self.chunks.clear();
                Err(e)
            }
        }
    }

    /// Runs the analysis over the bytes fed so far: the fingerprint, or the ranges still
    /// wanted.
    fn evaluate(&self, last: bool) -> Result<Outcome, ApkError> {
        let mut pass = Pass {
            st: self,
            needs: Vec::new(),
            last,
        };
        let mut warnings = Vec::new();
        // 1. End record.
        let Some(eocd) = archive::end_record(&mut pass, &mut warnings)? else {
            return Ok(Outcome::Need(pass.needs));
        };
        // 2. Central directory.
        let Some(cd) = archive::central_directory(&mut pass, &eocd, &mut warnings)? else {
            return Ok(Outcome::Need(pass.needs));
        };
        // 3. Signing block, right before the central directory.
        let (block, block_start) = archive::signing_block(&mut pass, cd.start, &mut warnings);
        // 4. Entries.
        let reads = entries::read_entries(&mut pass, &cd, block_start, &mut warnings);
        if !pass.needs.is_empty() || reads.pending() {
            return Ok(Outcome::Need(pass.needs));
        }
        // 5. Assemble.
        let info = assemble::fingerprint(block, reads, &cd.entries, warnings)?;
        Ok(Outcome::Done(Box::new(info)))
    }
}
