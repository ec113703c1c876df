//! Fingerprints APKs on the phone without pulling them: every APK's resumable
//! [`ApkProbe`](crate::apk::ApkProbe) runs in lockstep; each round, the byte ranges all probes
//! want are read with `dd if=PATH bs=4096 skip=K count=M` (whole 4096-byte blocks covering the
//! range, sliced here), packed into as few shell commands as fit and spread over a few services
//! at once. A 200 MB APK costs the few hundred KB its zip directory, signing block and manifest
//! take, and the number of round trips is the number of probe rounds, not of APKs.
//!
//! How the bytes come back depends on the phone ([`Read`]), best first: raw over a
//! binary-clean channel (shell v2 or `exec:`), else through `base64 -w 0`, plain `base64`,
//! `od -A n -t x1 -v`. An APK whose ranges cannot be read one way is asked again the next way,
//! and after the last one pulled whole (sync `RECV`, counted in `full_pulls`). Every way used
//! other than the first is counted, for a note in the report.

use std::collections::BTreeMap;
use std::time::Duration;

use super::batch::{quote, run_parts, PartOutput, RunError};
use super::cache::{Cache, Fingerprint};
use super::caps::{Caps, Tool};
use super::transport::Device;
use crate::apk::{analyze, ApkProbe, ByteRange, SliceSource, Step};

const BLOCK: u64 = 4096;
/// Probe rounds before giving up on an APK (a sane probe needs a handful, plus one per way of
/// reading that failed).
const MAX_ROUNDS: usize = 32;
/// Largest APK pulled whole as a last resort (kept in memory).
const MAX_PULL: u64 = 1 << 30;
/// Services a round of range reads is spread over.
const SPREAD: usize = 4;

/// A way to read byte ranges on the phone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Read {
    /// `dd` alone, bytes as they are (shell v2 or `exec:`).
    Raw,
    Base64NoWrap,
    Base64,
    Od,
    /// The whole file over sync `RECV`.
    Pull,
}

impl Read {
    pub fn describe(self) -> &'static str {
        match self {
            Read::Raw => "raw dd",
            Read::Base64NoWrap => "dd | base64 -w 0",
            Read::Base64 => "dd | base64",
            Read::Od => "dd | od",
            Read::Pull => "whole-file pull",
        }
    }
}

impl Read {
    /// The names `APPSWEEP_ADB_READ` takes.
    pub fn from_name(name: &str) -> Option<Read> {
        Some(match name {
            "raw" => Read::Raw,
            "base64-w0" => Read::Base64NoWrap,
            "base64" => Read::Base64,
            "od" => Read::Od,
            "pull" => Read::Pull,
            _ => return None,
        })
    }
}

/// The ways this phone can read ranges, best first, ending with [`Read::Pull`]; with `start`
/// (`APPSWEEP_ADB_READ`, to diagnose a phone or measure a fallback), from that way on.
pub fn chain_from(caps: &Caps, start: Option<Read>) -> Vec<Read> {
    let c = chain(caps);
    match start.and_then(|s| c.iter().position(|w| *w == s)) {
        Some(i) => c.get(i..).unwrap_or_default().to_vec(),
        None => c,
    }
}

/// The ways this phone can read ranges, best first, ending with [`Read::Pull`].
pub fn chain(caps: &Caps) -> Vec<Read> {
    let mut c = Vec::new();
    if caps.channel.binary_clean() {
        c.push(Read::Raw);
    }
    for (tool, read) in [
        (Tool::Base64NoWrap, Read::Base64NoWrap),
        (Tool::Base64, Read::Base64),
        (Tool::Od, Read::Od),
    ] {
        if caps.has(tool) {
            c.push(read);
        }
    }
    c.push(Read::Pull);
    c
}

/// An APK to fingerprint, as `stat` saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub path: String,
    pub size: u64,
    pub mtime: i64,
}

/// Counters of one fingerprinting pass.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct FpCounters {
    pub cache_hits: u64,
    pub full_pulls: u64,
    pub pulled_bytes: u64,
    pub probe_rounds: u64,
    /// APKs read (at least partly) each way other than the phone's best.
    pub fallbacks: BTreeMap<Read, u64>,
}

/// The result per APK path: a fingerprint or why there is none.
pub type FpResults = BTreeMap<String, Result<Fingerprint, String>>;

struct Active {
    target: usize,
    probe: ApkProbe,
    ranges: Vec<ByteRange>,
    /// Index in the chain of the way this APK is read now.
    way: usize,
}

/// The shell part reading `r` of `path` (of `size` bytes) the way `read` says, and where the
/// range starts in the decoded output. `None` when the range is empty after clamping.
fn dd_part(quoted: &str, size: u64, r: ByteRange, read: Read) -> Option<(String, u64, u64)> {
    let start = r.offset.min(size);
    let end = r.offset.saturating_add(r.len).min(size);
    if end <= start {
        return None;
    }
    let skip = start / BLOCK;
    let count = end.div_ceil(BLOCK) - skip;
    let dd = format!("dd if={quoted} bs={BLOCK} skip={skip} count={count} 2>/dev/null");
    let cmd = match read {
        Read::Raw | Read::Pull => dd,
        Read::Base64NoWrap => format!("{dd}|base64 -w 0"),
        Read::Base64 => format!("{dd}|base64"),
        Read::Od => format!("{dd}|od -A n -t x1 -v"),
    };
    Some((cmd, start - skip * BLOCK, end - start))
}

/// Decodes base64 (standard alphabet, padding optional, whitespace ignored). `None` on any
/// other character.
pub fn decode_base64(text: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(text.len() / 4 * 3 + 3);
    let mut acc: u32 = 0;
    let mut bits = 0u32;
    let mut ended = false;
    for &b in text {
        let v = match b {
            b'A'..=b'Z' => b - b'A',
            b'a'..=b'z' => b - b'a' + 26,
            b'0'..=b'9' => b - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            b'=' => {
                ended = true;
                continue;
            }
            b' ' | b'\n' | b'\r' | b'\t' => continue,
            _ => return None,
        };
        if ended {
            return None;
        }
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push(((acc >> bits) & 0xff) as u8);
        }
    }
    Some(out)
}

/// Decodes `od -A n -t x1 -v` (two-digit hex bytes separated by whitespace). `None` on anything
/// else.
pub fn decode_od(text: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(text.len() / 3);
    for w in text
        .split(|b| b.is_ascii_whitespace())
        .filter(|w| !w.is_empty())
    {
        let [h, l] = w else { return None };
        let hex = |c: u8| char::from(c).to_digit(16);
        out.push(u8::try_from(hex(*h)? * 16 + hex(*l)?).ok()?);
    }
    Some(out)
}

fn decode(read: Read, data: &[u8]) -> Option<Vec<u8>> {
    match read {
        Read::Raw | Read::Pull => Some(data.to_vec()),
        Read::Base64NoWrap | Read::Base64 => decode_base64(data),
        Read::Od => decode_od(data),
    }
}

/// Fingerprints `targets`, using and filling `cache`, reading ranges the ways `chain` lists.
/// `Err` only when the device itself was lost (results so far are returned with it).
pub fn fingerprint_all(
    dev: &Device,
    tag: &str,
    targets: &[Target],
    chain: &[Read],
    cache: &mut Cache,
    timeout: Duration,
    counters: &mut FpCounters,
) -> Result<FpResults, (FpResults, RunError)> {
    let mut results: FpResults = BTreeMap::new();
    let mut active = start(targets, cache, counters, &mut results);
    let mut to_pull: Vec<usize> = Vec::new();
    // APKs that moved to each way.
    let mut moved: BTreeMap<Read, u64> = BTreeMap::new();
    if chain.first().is_none_or(|w| *w == Read::Pull) {
        // No way to read ranges on this phone: every APK is pulled whole.
        to_pull.extend(active.drain(..).map(|a| a.target));
        *moved.entry(Read::Pull).or_default() += to_pull.len() as u64;
    }
    let mut round = 0usize;
    while !active.is_empty() {
        round += 1;
        counters.probe_rounds += 1;
        let (parts, slots) = round_parts(targets, &active, chain);
        let outputs = match run_parts(dev, tag, &parts, timeout, SPREAD) {
            Ok(o) => o,
            Err((_, e)) => {
                for a in &active {
                    if let Some(t) = targets.get(a.target) {
                        results.insert(
                            t.path.clone(),
                            Err(format!("device lost while reading: {e}")),
                        );
                    }
                }
                return Err((results, e));
            }
        };
        let mut next: Vec<Active> = Vec::with_capacity(active.len());
        for (mut a, s) in active.into_iter().zip(slots) {
            let Some(t) = targets.get(a.target) else {
                continue;
            };
            let read = chain.get(a.way).copied().unwrap_or(Read::Pull);
            let Some(data) = slice_outputs(&outputs, s, read) else {
                // Ask the same ranges again the next way, or pull the whole file.
                a.way += 1;
                let way = chain.get(a.way).copied().unwrap_or(Read::Pull);
                *moved.entry(way).or_default() += 1;
                if way == Read::Pull || round >= MAX_ROUNDS {
                    to_pull.push(a.target);
                } else {
                    next.push(a);
                }
                continue;
            };
            match a.probe.feed(data) {
                Ok(Step::Need(ranges)) if round < MAX_ROUNDS => {
                    a.ranges = ranges;
                    next.push(a);
                }
                Ok(Step::Need(_)) => {
                    results.insert(
                        t.path.clone(),
                        Err(format!("APK probe did not finish in {MAX_ROUNDS} rounds")),
                    );
                }
                Ok(Step::Done(info)) => {
                    let fp = Fingerprint::from_info(&info);
                    cache.put(&t.path, t.size, t.mtime, fp.clone());
                    results.insert(t.path.clone(), Ok(fp));
                }
                Err(e) => {
                    results.insert(t.path.clone(), Err(e.to_string()));
                }
            }
        }
        active = next;
    }
    for i in to_pull {
        if let Some(t) = targets.get(i) {
            let r = pull_whole(dev, t, cache, timeout, counters);
            results.insert(t.path.clone(), r);
        }
    }
    for (way, n) in moved {
        *counters.fallbacks.entry(way).or_default() += n;
    }
    Ok(results)
}

/// Cache hits and refused paths go straight into `results`; every other target gets a probe.
fn start(
    targets: &[Target],
    cache: &mut Cache,
    counters: &mut FpCounters,
    results: &mut FpResults,
) -> Vec<Active> {
    let mut active: Vec<Active> = Vec::new();
    for (i, t) in targets.iter().enumerate() {
        if results.contains_key(&t.path) || active.iter().any(|a| a.target == i) {
            continue;
        }
        if let Some(fp) = cache.get(&t.path, t.size, t.mtime) {
            counters.cache_hits += 1;
            results.insert(t.path.clone(), Ok(fp));
            continue;
        }
        if quote(&t.path).is_none() {
            results.insert(
                t.path.clone(),
                Err("path has characters appsweep will not pass to a shell".to_string()),
            );
            continue;
        }
        let mut probe = ApkProbe::new(t.size);
        match probe.start() {
            Step::Need(ranges) => active.push(Active {
                target: i,
                probe,
                ranges,
                way: 0,
            }),
            Step::Done(info) => {
                let fp = Fingerprint::from_info(&info);
                cache.put(&t.path, t.size, t.mtime, fp.clone());
                results.insert(t.path.clone(), Ok(fp));
            }
        }
    }
    active
}

/// Where one range's bytes are: (part index, offset in the decoded blocks, length); `None` for
/// a range that is empty after clamping.
type Slot = Option<(usize, u64, u64)>;

/// One part per non-empty range of every active probe; `slots[a][k]` locates range `k` of
/// probe `a` in the outputs.
fn round_parts(
    targets: &[Target],
    active: &[Active],
    chain: &[Read],
) -> (Vec<String>, Vec<Vec<Slot>>) {
    let mut parts: Vec<String> = Vec::new();
    let mut slots: Vec<Vec<Slot>> = Vec::with_capacity(active.len());
    for a in active {
        let Some(t) = targets.get(a.target) else {
            slots.push(Vec::new());
            continue;
        };
        let q = quote(&t.path).unwrap_or_default();
        let read = chain.get(a.way).copied().unwrap_or(Read::Pull);
        let mut s = Vec::with_capacity(a.ranges.len());
        for r in &a.ranges {
            s.push(dd_part(&q, t.size, *r, read).map(|(cmd, off, len)| {
                parts.push(cmd);
                (parts.len() - 1, off, len)
            }));
        }
        slots.push(s);
    }
    (parts, slots)
}

/// The bytes of each range of one probe, or `None` when one of them could not be read.
fn slice_outputs(outputs: &[PartOutput], slots: Vec<Slot>, read: Read) -> Option<Vec<Vec<u8>>> {
    let mut data: Vec<Vec<u8>> = Vec::with_capacity(slots.len());
    for slot in slots {
        let Some((idx, off, len)) = slot else {
            data.push(Vec::new());
            continue;
        };
        let bytes = outputs
            .get(idx)
            .filter(|o| o.rc == Some(0))
            .and_then(|o| decode(read, &o.data))
            .and_then(|d| {
                let from = usize::try_from(off).ok()?;
                let to = from.checked_add(usize::try_from(len).ok()?)?;
                d.get(from..to).map(<[u8]>::to_vec)
            })?;
        data.push(bytes);
    }
    Some(data)
}

/// The last resort: the whole APK over sync `RECV`, analysed here.
fn pull_whole(
    dev: &Device,
    t: &Target,
    cache: &mut Cache,
    timeout: Duration,
    counters: &mut FpCounters,
) -> Result<Fingerprint, String> {
    if t.size > MAX_PULL {
        return Err(format!(
            "ranges could not be read on the phone and the APK ({} bytes) is too large to pull",
            t.size
        ));
    }
    counters.full_pulls += 1;
    match dev.pull(&t.path, t.size, timeout) {
        Ok(bytes) => {
            counters.pulled_bytes += bytes.len() as u64;
            let r = analyze(&SliceSource(&bytes)).map(|info| Fingerprint::from_info(&info));
            if let Ok(fp) = &r {
                cache.put(&t.path, t.size, t.mtime, fp.clone());
            }
            r.map_err(|e| e.to_string())
        }
        Err(e) => Err(format!(
            "ranges could not be read on the phone, and pulling failed: {e}"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::adb::transport::Channel;

    #[test]
    fn dd_covers_range_with_blocks() {
        let (cmd, off, len) =
            dd_part("'/a.apk'", 10_000, ByteRange::new(5000, 100), Read::Raw).unwrap();
        assert_eq!(cmd, "dd if='/a.apk' bs=4096 skip=1 count=1 2>/dev/null");
        assert_eq!((off, len), (5000 - 4096, 100));
        let (cmd, off, len) =
            dd_part("'/a.apk'", 10_000, ByteRange::new(4000, 9000), Read::Od).unwrap();
        assert_eq!(
            cmd,
            "dd if='/a.apk' bs=4096 skip=0 count=3 2>/dev/null|od -A n -t x1 -v"
        );
        assert_eq!((off, len), (4000, 6000));
        assert!(dd_part("'/a.apk'", 10_000, ByteRange::new(10_000, 5), Read::Raw).is_none());
    }

    #[test]
    fn chains_by_phone() {
        let caps = |channel, tools: &[Tool]| Caps {
            sdk: None,
            channel,
            cmd: true,
            tools: tools.to_vec(),
            utc_offset: None,
        };
        use Read::*;
        let table: &[(Caps, &[Read])] = &[
            (
                caps(
                    Channel::ShellV2,
                    &[Tool::Base64NoWrap, Tool::Base64, Tool::Od],
                ),
                &[Raw, Base64NoWrap, Base64, Od, Pull],
            ),
            (caps(Channel::Exec, &[Tool::Od]), &[Raw, Od, Pull]),
            (caps(Channel::Pty, &[Tool::Base64]), &[Base64, Pull]),
            (caps(Channel::Pty, &[]), &[Pull]),
        ];
        for (c, want) in table {
            assert_eq!(&chain(c), want);
        }
        let c = &table[0].0;
        assert_eq!(chain_from(c, Read::from_name("od")), [Od, Pull]);
        assert_eq!(chain_from(&table[2].0, Some(Od)), [Base64, Pull]);
        assert_eq!(Read::from_name("nope"), None);
    }

    #[test]
    fn decoders() {
        assert_eq!(decode_base64(b"QUJD").unwrap(), b"ABC");
        assert_eq!(decode_base64(b"QUI=\n").unwrap(), b"AB");
        assert_eq!(decode_base64(b"QQ==").unwrap(), b"A");
        assert!(decode_base64(b"Q!==").is_none());
        assert_eq!(
            decode_od(b" 00 ff 0a\r\n 7f\n").unwrap(),
            vec![0, 0xff, 0x0a, 0x7f]
        );
        assert!(decode_od(b" 0g").is_none());
        assert!(decode_od(b" 000").is_none());
    }

    proptest::proptest! {
        #[test]
        fn decoders_never_panic(s in proptest::collection::vec(proptest::num::u8::ANY, 0..300)) {
            let _ = decode_base64(&s);
            let _ = decode_od(&s);
        }

        #[test]
        fn od_and_base64_decode_what_they_encode(data in proptest::collection::vec(proptest::num::u8::ANY, 0..300)) {
            const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
            let mut enc = String::new();
            for (i, c) in data.chunks(3).enumerate() {
                let b = [c[0], *c.get(1).unwrap_or(&0), *c.get(2).unwrap_or(&0)];
                let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
                for k in 0..4 {
                    if k <= c.len() {
                        enc.push(A[((n >> (18 - 6 * k)) & 63) as usize] as char);
                    } else {
                        enc.push('=');
                    }
                }
                if i % 19 == 18 {
                    enc.push('\n');
                }
            }
            proptest::prop_assert_eq!(decode_base64(enc.as_bytes()).unwrap(), data.clone());
            let od: String = data.iter().enumerate().map(|(i, b)| format!(" {b:02x}{}", if i % 16 == 15 { "\n" } else { "" })).collect();
            proptest::prop_assert_eq!(decode_od(od.as_bytes()).unwrap(), data);
        }
    }
}
