//! Fingerprints APKs on the phone without pulling them: every APK's resumable
//! [`ApkProbe`](crate::apk::ApkProbe) runs in lockstep; each round, the byte ranges all probes
//! want are read with `dd if=PATH bs=4096 skip=K count=M 2>/dev/null | base64 -w 0` (whole
//! 4096-byte blocks covering the range, sliced locally), packed into as few shell commands as
//! fit. A 200 MB APK costs the few hundred KB its zip directory, signing block and manifest
//! take, and the number of round trips is the number of probe rounds, not of APKs.
//!
//! A range that cannot be read that way (no `dd` or `base64` on the phone, a short read) makes
//! that APK fall back to a whole-file pull (sync `RECV`), counted in `full_pulls`.

use std::collections::BTreeMap;
use std::time::Duration;

use super::batch::{decode_base64, quote, run_parts, PartOutput, RunError};
use super::cache::{Cache, Fingerprint};
use super::transport::Device;
use crate::apk::{analyze, ApkProbe, ByteRange, SliceSource, Step};

const BLOCK: u64 = 4096;
/// Probe rounds before giving up on an APK (a sane probe needs a handful).
const MAX_ROUNDS: usize = 32;
/// Largest APK pulled whole as a last resort (kept in memory).
const MAX_PULL: u64 = 1 << 30;

/// An APK to fingerprint, as `stat` saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub path: String,
    pub size: u64,
    pub mtime: i64,
}

/// Counters of one fingerprinting pass.
#[derive(Debug, Default, Clone, Copy)]
pub struct FpCounters {
    pub cache_hits: u64,
    pub full_pulls: u64,
    pub probe_rounds: u64,
}

/// The result per APK path: a fingerprint or why there is none.
pub type FpResults = BTreeMap<String, Result<Fingerprint, String>>;

struct Active {
    target: usize,
    probe: ApkProbe,
    ranges: Vec<ByteRange>,
}

/// The shell part reading `r` of `path` (of `size` bytes), and where the range starts in the
/// decoded output. `None` when the range is empty after clamping.
fn dd_part(quoted: &str, size: u64, r: ByteRange) -> Option<(String, u64, u64)> {
    let start = r.offset.min(size);
    let end = r.offset.saturating_add(r.len).min(size);
    if end <= start {
        return None;
    }
    let skip = start / BLOCK;
    let count = end.div_ceil(BLOCK) - skip;
    Some((
        format!("dd if={quoted} bs={BLOCK} skip={skip} count={count} 2>/dev/null | base64 -w 0"),
        start - skip * BLOCK,
        end - start,
    ))
}

/// Fingerprints `targets`, using and filling `cache`. `Err` only when the device itself was lost
/// (results so far are returned with it).
pub fn fingerprint_all(
    dev: &mut Device,
    tag: &str,
    targets: &[Target],
    cache: &mut Cache,
    timeout: Duration,
    counters: &mut FpCounters,
) -> Result<FpResults, (FpResults, RunError)> {
    let mut results: FpResults = BTreeMap::new();
    let mut active = start(targets, cache, counters, &mut results);
    let mut to_pull: Vec<usize> = Vec::new();
    let mut round = 0usize;
    while !active.is_empty() {
        round += 1;
        counters.probe_rounds += 1;
        let (parts, slots) = round_parts(targets, &active);
        let outputs = match run_parts(dev, tag, &parts, timeout) {
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
            let Some(data) = slice_outputs(&outputs, s) else {
                to_pull.push(a.target);
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
fn round_parts(targets: &[Target], active: &[Active]) -> (Vec<String>, Vec<Vec<Slot>>) {
    let mut parts: Vec<String> = Vec::new();
    let mut slots: Vec<Vec<Slot>> = Vec::with_capacity(active.len());
    for a in active {
        let Some(t) = targets.get(a.target) else {
            slots.push(Vec::new());
            continue;
        };
        let q = quote(&t.path).unwrap_or_default();
        let mut s = Vec::with_capacity(a.ranges.len());
        for r in &a.ranges {
            s.push(dd_part(&q, t.size, *r).map(|(cmd, off, len)| {
                parts.push(cmd);
                (parts.len() - 1, off, len)
            }));
        }
        slots.push(s);
    }
    (parts, slots)
}

/// The bytes of each range of one probe, or `None` when one of them could not be read.
fn slice_outputs(outputs: &[PartOutput], slots: Vec<Slot>) -> Option<Vec<Vec<u8>>> {
    let mut data: Vec<Vec<u8>> = Vec::with_capacity(slots.len());
    for slot in slots {
        let Some((idx, off, len)) = slot else {
            data.push(Vec::new());
            continue;
        };
        let bytes = outputs
            .get(idx)
            .filter(|o| o.rc == Some(0))
            .and_then(|o| decode_base64(&o.text))
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
    dev: &mut Device,
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

    #[test]
    fn dd_covers_range_with_blocks() {
        let (cmd, off, len) = dd_part("'/a.apk'", 10_000, ByteRange::new(5000, 100)).unwrap();
        assert_eq!(
            cmd,
            "dd if='/a.apk' bs=4096 skip=1 count=1 2>/dev/null | base64 -w 0"
        );
        assert_eq!((off, len), (5000 - 4096, 100));
        let (cmd, off, len) = dd_part("'/a.apk'", 10_000, ByteRange::new(4000, 9000)).unwrap();
        assert_eq!(
            cmd,
            "dd if='/a.apk' bs=4096 skip=0 count=3 2>/dev/null | base64 -w 0"
        );
        assert_eq!((off, len), (4000, 6000));
        assert!(dd_part("'/a.apk'", 10_000, ByteRange::new(10_000, 5)).is_none());
    }
}
