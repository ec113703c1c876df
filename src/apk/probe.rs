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

use super::{axml, pkcs7, sigblock, zip, ApkError, ByteRange, Fingerprint, Step};
use crate::model::{CertScheme, Certificate, Sha256};

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

enum Got<'a> {
    Have(&'a [u8]),
    Pending,
    Missing,
}

enum Outcome {
    Need(Vec<ByteRange>),
    Done(Box<Fingerprint>),
}

/// One evaluation pass: the bytes at hand and what is still wanted.
struct Pass<'a> {
    st: &'a State,
    needs: Vec<ByteRange>,
    last: bool,
}

impl<'a> Pass<'a> {
    /// The bytes `[off, off+len)` clamped to the file, or a note to read `ask` (widened to cover
    /// them) next round.
    fn want(&mut self, off: u64, len: u64, ask: Option<ByteRange>) -> Got<'a> {
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

fn merge(mut ranges: Vec<ByteRange>) -> Vec<ByteRange> {
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

/// `META-INF/<name>.RSA|DSA|EC` directly under META-INF (any case), as the JAR signing scheme.
fn is_v1_signature_block(name: &[u8]) -> bool {
    let Some(rest) = name.strip_prefix(b"META-INF/") else {
        return false;
    };
    if rest.contains(&b'/') {
        return false;
    }
    let upper = rest.to_ascii_uppercase();
    [&b".RSA"[..], b".DSA", b".EC"]
        .iter()
        .any(|ext| upper.ends_with(ext) && upper.len() > ext.len())
}

/// `lib/<abi>/<name>.so` → `<name>.so`.
fn native_lib_name(name: &[u8]) -> Option<String> {
    let rest = name.strip_prefix(b"lib/")?;
    let mut parts = rest.split(|b| *b == b'/');
    let abi = parts.next()?;
    let file = parts.next()?;
    if abi.is_empty() || parts.next().is_some() || !file.ends_with(b".so") || file.len() <= 3 {
        return None;
    }
    Some(String::from_utf8_lossy(file).into_owned())
}

enum EntryRead {
    Data(Vec<u8>),
    Pending,
    Failed(String),
}

/// Reads and decodes one entry: local header, then data (sizes from the central directory, the
/// local header if the central directory says 0, else up to the next entry).
fn read_entry(
    pass: &mut Pass<'_>,
    e: &zip::CdEntry,
    shift: u64,
    boundary: u64,
    max_comp: u64,
    max_out: usize,
    warnings: &mut Vec<String>,
) -> EntryRead {
    let name = e.name_lossy();
    let Some(lho) = e.local_offset.checked_add(shift) else {
        return EntryRead::Failed(format!("{name}: local header offset overflows"));
    };
    if e.comp_size > max_comp {
        return EntryRead::Failed(format!(
            "{name}: compressed size {} is over the {max_comp}-byte limit",
            e.comp_size
        ));
    }
    let unknown_len = |start: u64| {
        let end = if boundary > start {
            boundary
        } else {
            pass.st.len
        };
        end.saturating_sub(start).min(MAX_UNKNOWN_SIZE)
    };
    let est = if e.comp_size > 0 {
        e.comp_size
    } else {
        unknown_len(lho)
    };
    let ask_len = (zip::LFH_LEN as u64)
        .saturating_add(u64::from(e.name_len))
        .saturating_add(u64::from(e.extra_len))
        .saturating_add(est)
        .saturating_add(LOCAL_SLACK);
    let header = match pass.want(lho, zip::LFH_LEN as u64, Some(ByteRange::new(lho, ask_len))) {
        Got::Have(h) => h,
        Got::Pending => return EntryRead::Pending,
        Got::Missing => {
            return EntryRead::Failed(format!(
                "{name}: local header at offset {lho} is beyond the file"
            ))
        }
    };
    let lh = match zip::parse_local_header(header) {
        Ok(lh) => lh,
        Err(w) => return EntryRead::Failed(format!("{name}: {w} at offset {lho}")),
    };
    let data_start = lho.saturating_add(lh.data_offset());
    let size = if e.comp_size > 0 {
        e.comp_size
    } else if lh.comp_size > 0 && lh.comp_size <= max_comp {
        lh.comp_size
    } else {
        unknown_len(data_start)
    };
    let data = match pass.want(data_start, size, None) {
        Got::Have(d) => d,
        Got::Pending => return EntryRead::Pending,
        Got::Missing => {
            return EntryRead::Failed(format!(
                "{name}: data at offset {data_start} is beyond the file"
            ))
        }
    };
    if (data.len() as u64) < size {
        warnings.push(format!("{name}: data cut short by the end of the file"));
    }
    match zip::decode_entry(e.method, data, e.uncomp_size, max_out) {
        Ok((out, note)) => {
            if let Some(note) = note {
                warnings.push(format!("{name}: {note}"));
            }
            EntryRead::Data(out)
        }
        Err(w) => EntryRead::Failed(format!("{name}: {w}")),
    }
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

    fn evaluate(&self, last: bool) -> Result<Outcome, ApkError> {
        let flen = self.len;
        let mut pass = Pass {
            st: self,
            needs: Vec::new(),
            last,
        };
        let mut warnings = Vec::new();

        // 1. End record.
        let tail_off = flen.saturating_sub(TAIL_LEN);
        let tail = match pass.want(tail_off, flen - tail_off, None) {
            Got::Have(t) => t,
            Got::Pending => return Ok(Outcome::Need(pass.needs)),
            Got::Missing => return Err(ApkError::NotZip("the end of the file could not be read")),
        };
        if flen < zip::EOCD_LEN as u64 {
            return Err(ApkError::NotZip(
                "shorter than an end of central directory record",
            ));
        }
        let mut eocd = zip::find_eocd(tail, tail_off, flen)
            .ok_or(ApkError::NotZip("no end of central directory record"))?;
        if let Some(rec) = eocd.zip64_record {
            match pass.want(rec, zip::ZIP64_EOCD_LEN as u64, None) {
                Got::Have(b) => {
                    if let Err(what) = zip::apply_zip64(&mut eocd, b) {
                        if eocd.needs_zip64() {
                            return Err(ApkError::Corrupt { offset: rec, what });
                        }
                        warnings.push(format!("ZIP64 end record at offset {rec}: {what}"));
                    }
                }
                Got::Pending => return Ok(Outcome::Need(pass.needs)),
                Got::Missing => {
                    if eocd.needs_zip64() {
                        return Err(ApkError::Corrupt {
                            offset: rec,
                            what: "ZIP64 end record is beyond the file",
                        });
                    }
                    warnings.push(format!("ZIP64 locator points beyond the file ({rec})"));
                }
            }
        }

        // 2. Central directory.
        if eocd.cd_size > MAX_CD {
            return Err(ApkError::Corrupt {
                offset: eocd.offset,
                what: "central directory larger than 64 MiB",
            });
        }
        let Some((cd_start, cd_bytes)) = self.locate_cd(&mut pass, &eocd, &mut warnings)? else {
            return Ok(Outcome::Need(pass.needs));
        };
        let shift = cd_start.saturating_sub(eocd.cd_offset);
        if shift > 0 {
            warnings.push(format!(
                "central directory is {shift} bytes after where the end record says (data before the archive)"
            ));
        }
        if cd_start.saturating_add(eocd.cd_size) > eocd.offset {
            warnings.push(format!(
                "central directory (ends at {}) overlaps the end record (at {})",
                cd_start.saturating_add(eocd.cd_size),
                eocd.offset
            ));
        }
        let cd = zip::parse_central_directory(cd_bytes, cd_start, eocd.entries);
        warnings.extend(cd.warnings);

        // 3. Signing block, right before the central directory.
        let (block, block_start) = self.signing_block(&mut pass, cd_start, &mut warnings);

        // 4. Entries.
        let mut starts: Vec<u64> = cd
            .entries
            .iter()
            .filter_map(|e| e.local_offset.checked_add(shift))
            .collect();
        starts.sort_unstable();
        starts.dedup();
        let end_of_data = block_start.unwrap_or(cd_start);
        let boundary = |lho: u64| {
            starts
                .iter()
                .copied()
                .find(|s| *s > lho)
                .unwrap_or(end_of_data)
                .min(if end_of_data > lho {
                    end_of_data
                } else {
                    u64::MAX
                })
        };
        let manifests: Vec<&zip::CdEntry> = cd
            .entries
            .iter()
            .filter(|e| e.name == MANIFEST_NAME)
            .collect();
        if manifests.len() > 1 {
            warnings.push(format!(
                "{} entries are named AndroidManifest.xml; read the first",
                manifests.len()
            ));
        }
        let manifest_read = manifests.first().map(|e| {
            let lho = e.local_offset.saturating_add(shift);
            read_entry(
                &mut pass,
                e,
                shift,
                boundary(lho),
                MAX_MANIFEST_COMPRESSED,
                MAX_MANIFEST,
                &mut warnings,
            )
        });
        let sig_entries: Vec<&zip::CdEntry> = cd
            .entries
            .iter()
            .filter(|e| is_v1_signature_block(&e.name))
            .collect();
        if sig_entries.len() > MAX_SIGFILES {
            warnings.push(format!(
                "{} v1 signature block files; read the first {MAX_SIGFILES}",
                sig_entries.len()
            ));
        }
        let mut sig_reads = Vec::new();
        for e in sig_entries.iter().take(MAX_SIGFILES) {
            let lho = e.local_offset.saturating_add(shift);
            let r = read_entry(
                &mut pass,
                e,
                shift,
                boundary(lho),
                MAX_SIGFILE,
                MAX_SIGFILE as usize,
                &mut warnings,
            );
            sig_reads.push((e.name_lossy(), r));
        }

        let pending = manifest_read
            .as_ref()
            .is_some_and(|r| matches!(r, EntryRead::Pending))
            || sig_reads
                .iter()
                .any(|(_, r)| matches!(r, EntryRead::Pending));
        if !pass.needs.is_empty() || pending {
            return Ok(Outcome::Need(pass.needs));
        }

        // 5. Assemble.
        let mut certs = Vec::new();
        if let Some(block) = block {
            for c in block.certs {
                certs.push(Certificate {
                    sha256: Sha256::of(&c.der),
                    scheme: c.scheme,
                    entry: None,
                });
            }
            warnings.extend(
                block
                    .warnings
                    .into_iter()
                    .map(|w| format!("APK Signing Block: {w}")),
            );
        }
        for (name, r) in sig_reads {
            match r {
                EntryRead::Data(d) => match pkcs7::certificates(&d) {
                    Ok(list) => {
                        if list.is_empty() {
                            warnings.push(format!("{name}: signature block holds no certificate"));
                        }
                        for der in list {
                            certs.push(Certificate {
                                sha256: Sha256::of(der),
                                scheme: CertScheme::V1,
                                entry: Some(name.clone()),
                            });
                        }
                    }
                    Err(e) => warnings.push(format!("{name}: unreadable PKCS#7: {e}")),
                },
                EntryRead::Failed(w) => warnings.push(w),
                EntryRead::Pending => {}
            }
        }
        certs.sort();
        certs.dedup();

        let mut libs: Vec<String> = cd
            .entries
            .iter()
            .filter_map(|e| native_lib_name(&e.name))
            .collect();
        libs.sort();
        libs.dedup();

        // The manifest's fields, then what the rest of the archive says.
        let mut info = Fingerprint::default();
        let manifest_error = match manifest_read {
            None => Some(ApkError::NoManifest),
            Some(EntryRead::Data(d)) => match axml::parse_manifest(&d) {
                Ok(mut m) => {
                    warnings.extend(
                        std::mem::take(&mut m.warnings)
                            .into_iter()
                            .map(|w| format!("AndroidManifest.xml: {w}")),
                    );
                    info = m;
                    if info.package.is_none() {
                        warnings.push("AndroidManifest.xml: no package name".to_string());
                    }
                    None
                }
                Err(e) => Some(ApkError::Manifest {
                    offset: e.offset(),
                    what: e.what(),
                }),
            },
            Some(EntryRead::Failed(w)) => {
                warnings.push(w);
                Some(ApkError::Corrupt {
                    offset: manifests
                        .first()
                        .map_or(0, |e| e.local_offset.saturating_add(shift)),
                    what: "AndroidManifest.xml entry unreadable",
                })
            }
            Some(EntryRead::Pending) => None,
        };
        info.certificates = certs;
        info.native_libs = libs;
        if let Some(err) = manifest_error {
            if info.certificates.is_empty() && info.native_libs.is_empty() {
                return Err(err);
            }
            warnings.push(format!("no manifest data: {err}"));
        }
        info.warnings = warnings;
        Ok(Outcome::Done(Box::new(info)))
    }

    /// Finds the central directory: where the end record says, or — when that is not a
    /// central directory record — right before the end record (the archive was prefixed).
    /// `Ok(None)` means "waiting for bytes".
    fn locate_cd<'a>(
        &'a self,
        pass: &mut Pass<'a>,
        eocd: &zip::Eocd,
        warnings: &mut Vec<String>,
    ) -> Result<Option<(u64, &'a [u8])>, ApkError> {
        let flen = self.len;
        let size = eocd.cd_size;
        if size == 0 {
            return Ok(Some((eocd.cd_offset.min(eocd.offset), &[])));
        }
        let valid = |b: &[u8]| {
            b.len() as u64 == size && b.get(..4) == Some(&zip::CDFH_SIG.to_le_bytes()[..])
        };
        let fetch = |pass: &mut Pass<'a>, off: u64| {
            let ask = ByteRange::new(
                off.saturating_sub(PRE_CD),
                size.saturating_add(off.min(PRE_CD)),
            );
            pass.want(off, size, Some(ask))
        };
        let stated = eocd.cd_offset;
        let alt = eocd.offset.checked_sub(size).filter(|a| *a > stated);
        let primary = if stated.saturating_add(size) <= flen {
            fetch(pass, stated)
        } else {
            Got::Missing
        };
        let primary = match primary {
            Got::Have(b) if valid(b) => return Ok(Some((stated, b))),
            Got::Pending => {
                // Ask for the other candidate in the same round: it costs nothing on a normal
                // archive (there is none) and saves a round on a prefixed one.
                if let Some(alt) = alt {
                    let _ = fetch(pass, alt);
                }
                return Ok(None);
            }
            Got::Have(b) => Some(b),
            Got::Missing => None,
        };
        if let Some(alt) = alt {
            match fetch(pass, alt) {
                Got::Have(b) if valid(b) => return Ok(Some((alt, b))),
                Got::Pending => return Ok(None),
                _ => {}
            }
        }
        match primary {
            Some(b) => {
                warnings.push(format!("no central directory record at offset {stated}"));
                Ok(Some((stated, b)))
            }
            None => Err(ApkError::Corrupt {
                offset: stated,
                what: "central directory lies beyond the file",
            }),
        }
    }

    /// Reads the APK Signing Block before `cd_start`, if there is one. Returns the parsed block
    /// and where it starts.
    fn signing_block(
        &self,
        pass: &mut Pass<'_>,
        cd_start: u64,
        warnings: &mut Vec<String>,
    ) -> (Option<sigblock::SigningBlock>, Option<u64>) {
        let footer_len = sigblock::FOOTER_LEN as u64;
        if cd_start < sigblock::MIN_BLOCK_LEN {
            return (None, None);
        }
        let ask = ByteRange::new(cd_start.saturating_sub(PRE_CD), cd_start.min(PRE_CD));
        let footer = match pass.want(cd_start - footer_len, footer_len, Some(ask)) {
            Got::Have(f) => f,
            Got::Pending => return (None, None),
            Got::Missing => {
                warnings
                    .push("the bytes before the central directory could not be read".to_string());
                return (None, None);
            }
        };
        let Some(size) = sigblock::footer_size(footer) else {
            return (None, None);
        };
        let total = size.saturating_add(8);
        if size < footer_len || total > cd_start {
            warnings.push(format!("APK Signing Block size {size} is impossible"));
            return (None, None);
        }
        if total > MAX_SIGBLOCK {
            warnings.push(format!("APK Signing Block of {total} bytes is over the {MAX_SIGBLOCK}-byte limit; not read"));
            return (None, Some(cd_start - total));
        }
        let start = cd_start - total;
        match pass.want(start, total, None) {
            Got::Have(b) => match sigblock::parse_signing_block(b) {
                Ok(block) => (Some(block), Some(start)),
                Err(e) => {
                    warnings.push(format!("APK Signing Block at offset {start}: {e}"));
                    (None, Some(start))
                }
            },
            Got::Pending => (None, Some(start)),
            Got::Missing => {
                warnings.push(format!(
                    "APK Signing Block at offset {start} could not be read"
                ));
                (None, Some(start))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::apk::axml::tests::sample_manifest;
    use crate::apk::pkcs7::tests::{fake_cert, signed_data};
    use crate::apk::sigblock::tests::{block, scheme_value, signer};
    use crate::apk::zip::tests::TestZip;
    use crate::apk::{analyze, ApkProbe, SliceSource};

    fn apk(t: TestZip) -> Vec<u8> {
        t.build()
    }

    fn basic() -> TestZip {
        TestZip::new()
            .entry("AndroidManifest.xml", &sample_manifest(false), true)
            .entry("classes.dex", b"dex\n035", true)
            .entry("lib/arm64-v8a/libfoo.so", b"\x7fELF", false)
            .entry("lib/armeabi-v7a/libfoo.so", b"\x7fELF", false)
            .entry("lib/x86/sub/libnot.so", b"\x7fELF", false)
            .entry(
                "META-INF/CERT.RSA",
                &signed_data(&[fake_cert(1), fake_cert(2)]),
                true,
            )
            .entry("META-INF/sub/X.RSA", &signed_data(&[fake_cert(9)]), true)
    }

    #[test]
    fn reads_manifest_v1_certs_and_libs() {
        let z = apk(basic());
        let info = analyze(&SliceSource(&z)).unwrap();
        assert_eq!(info.package.as_deref(), Some("com.example.app"));
        assert_eq!(info.version_code, Some((2 << 32) | 7));
        assert_eq!(info.native_libs, vec!["libfoo.so"]);
        let mut want = vec![Sha256::of(&fake_cert(1)), Sha256::of(&fake_cert(2))];
        want.sort();
        let got: Vec<_> = info.certificates.iter().map(|c| c.sha256.clone()).collect();
        assert_eq!(got, want);
        assert!(
            info.certificates
                .iter()
                .all(|c| c.scheme == CertScheme::V1
                    && c.entry.as_deref() == Some("META-INF/CERT.RSA"))
        );
        assert!(info.warnings.is_empty(), "{:?}", info.warnings);
        assert_eq!(info.bytes_read, z.len() as u64);
    }

    #[test]
    fn junk_before_archive_and_comment() {
        let mut t = basic();
        t.prefix = vec![0x55; 3000];
        t.comment = b"a comment".to_vec();
        let z = apk(t);
        let info = analyze(&SliceSource(&z)).unwrap();
        assert_eq!(info.package.as_deref(), Some("com.example.app"));
        assert_eq!(info.certificates.len(), 2);
        assert!(info
            .warnings
            .iter()
            .any(|w| w.contains("after where the end record says")));
    }

    #[test]
    fn zip64_archive() {
        let mut t = basic();
        t.zip64 = true;
        let info = analyze(&SliceSource(&apk(t))).unwrap();
        assert_eq!(info.package.as_deref(), Some("com.example.app"));
        assert_eq!(info.certificates.len(), 2);
    }

    #[test]
    fn signing_block_with_duplicate_ids_and_lineage() {
        let v2 = scheme_value(&[signer(&[&fake_cert(3)], false, &[])]);
        let v3 = scheme_value(&[signer(
            &[&fake_cert(4)],
            true,
            &[&fake_cert(3), &fake_cert(4)],
        )]);
        let decoy = scheme_value(&[signer(&[&fake_cert(5)], false, &[])]);
        let mut t = TestZip::new().entry("AndroidManifest.xml", &sample_manifest(true), false);
        t.before_cd = block(&[
            (sigblock::V2_BLOCK_ID, v2),
            (sigblock::V3_BLOCK_ID, v3),
            (sigblock::V2_BLOCK_ID, decoy),
        ]);
        let info = analyze(&SliceSource(&apk(t))).unwrap();
        let got: Vec<(Sha256, CertScheme)> = info
            .certificates
            .iter()
            .map(|c| (c.sha256.clone(), c.scheme))
            .collect();
        let mut want = vec![
            (Sha256::of(&fake_cert(3)), CertScheme::V2),
            (Sha256::of(&fake_cert(4)), CertScheme::V3),
            (Sha256::of(&fake_cert(3)), CertScheme::Lineage),
            (Sha256::of(&fake_cert(4)), CertScheme::Lineage),
            (Sha256::of(&fake_cert(5)), CertScheme::V2),
        ];
        want.sort();
        let mut got_sorted = got.clone();
        got_sorted.sort();
        assert_eq!(got_sorted, want);
    }

    #[test]
    fn big_archive_is_read_in_few_rounds_and_few_bytes() {
        // 3 MB of stored filler before the manifest and many entries.
        let filler = vec![7u8; 3 << 20];
        let mut t = TestZip::new().entry("assets/big.bin", &filler, false);
        for i in 0..3000 {
            t = t.entry(&format!("res/drawable/icon_{i:05}.png"), b"png", false);
        }
        t = t
            .entry("AndroidManifest.xml", &sample_manifest(false), true)
            .entry("META-INF/CERT.RSA", &signed_data(&[fake_cert(1)]), true);
        let z = apk(t);
        let (info, rounds, bytes) = rounds_and_bytes(&z);
        assert_eq!(info.package.as_deref(), Some("com.example.app"));
        assert_eq!(info.certificates.len(), 1);
        assert_eq!(info.bytes_read, bytes as u64);
        assert!(rounds <= 3, "rounds {rounds}");
        assert!(bytes < 400_000, "bytes {bytes}");
    }

    fn rounds_and_bytes(z: &[u8]) -> (Fingerprint, u32, usize) {
        let mut probe = ApkProbe::new(z.len() as u64);
        let mut step = probe.start();
        let (mut rounds, mut bytes) = (0, 0);
        let src = SliceSource(z);
        loop {
            match step {
                Step::Done(info) => return (*info, rounds, bytes),
                Step::Need(r) => {
                    rounds += 1;
                    let d = crate::apk::ByteSource::read_ranges(&src, &r).unwrap();
                    bytes += d.iter().map(Vec::len).sum::<usize>();
                    step = probe.feed(d).unwrap();
                }
            }
        }
    }

    #[test]
    fn prefixed_big_archive_costs_three_rounds() {
        let mut t = TestZip::new()
            .entry("AndroidManifest.xml", &sample_manifest(false), true)
            .entry("META-INF/CERT.RSA", &signed_data(&[fake_cert(1)]), true);
        for i in 0..3000 {
            t = t.entry(&format!("res/raw/file_{i:05}.bin"), b"x", false);
        }
        t.prefix = vec![0x11; 1 << 20];
        let z = apk(t);
        let (info, rounds, bytes) = rounds_and_bytes(&z);
        assert_eq!(info.package.as_deref(), Some("com.example.app"));
        assert_eq!(info.certificates.len(), 1);
        assert!(rounds <= 3, "rounds {rounds}");
        assert!(bytes < 700_000, "bytes {bytes}");
    }

    #[test]
    fn truncated_central_directory_still_reads_the_manifest() {
        let z = apk(basic());
        // Claim one more byte of central directory than there is.
        let e = z.len() - 22;
        let mut z2 = z.clone();
        let size = u32::from_le_bytes(z[e + 12..e + 16].try_into().unwrap()) + 1;
        z2[e + 12..e + 16].copy_from_slice(&size.to_le_bytes());
        let info = analyze(&SliceSource(&z2)).unwrap();
        assert_eq!(info.package.as_deref(), Some("com.example.app"));
        assert!(!info.warnings.is_empty());
    }

    #[test]
    fn sizes_zero_in_central_directory_use_the_deflate_stream_end() {
        let mut z = apk(basic());
        let e = z.len() - 22;
        let cd = u32::from_le_bytes(z[e + 16..e + 20].try_into().unwrap()) as usize;
        // Zero the manifest's sizes in its central directory record and local header.
        assert_eq!(&z[cd + 46..cd + 46 + 19], b"AndroidManifest.xml");
        z[cd + 20..cd + 28].fill(0);
        z[18..26].fill(0);
        let info = analyze(&SliceSource(&z)).unwrap();
        assert_eq!(info.package.as_deref(), Some("com.example.app"));
    }

    #[test]
    fn empty_and_garbage_inputs_are_errors() {
        assert!(analyze(&SliceSource(&[])).is_err());
        assert!(analyze(&SliceSource(&[0u8; 1000])).is_err());
        let empty_zip = apk(TestZip::new());
        assert!(matches!(
            analyze(&SliceSource(&empty_zip)),
            Err(ApkError::NoManifest)
        ));
    }

    #[test]
    fn feeding_wrong_counts_is_an_error() {
        let mut p = ApkProbe::new(100);
        let _ = p.start();
        assert!(p.feed(vec![]).is_err());
    }

    #[test]
    fn name_filters() {
        assert!(is_v1_signature_block(b"META-INF/CERT.RSA"));
        assert!(is_v1_signature_block(b"META-INF/x.ec"));
        assert!(!is_v1_signature_block(b"META-INF/.RSA"));
        assert!(!is_v1_signature_block(b"META-INF/a/CERT.RSA"));
        assert!(!is_v1_signature_block(b"CERT.RSA"));
        assert_eq!(
            native_lib_name(b"lib/x86_64/libz.so").as_deref(),
            Some("libz.so")
        );
        assert_eq!(native_lib_name(b"lib/x86_64/a/libz.so"), None);
        assert_eq!(native_lib_name(b"lib//libz.so"), None);
        assert_eq!(native_lib_name(b"assets/lib/x/libz.so"), None);
    }

    #[test]
    fn merge_ranges() {
        let m = merge(vec![
            ByteRange::new(100, 10),
            ByteRange::new(0, 10),
            ByteRange::new(20_000, 5),
        ]);
        assert_eq!(m, vec![ByteRange::new(0, 110), ByteRange::new(20_000, 5)]);
    }
}
