//! Rounds 3-4: sizes, times and hashes of the base APKs, then their fingerprints; and the notes
//! on every way APK bytes were read other than the phone's best.

use super::{split, Ctx, Out};
use std::collections::{BTreeMap, BTreeSet};

use crate::source::adb::batch::{quote, run_parts, RunError};
use crate::source::adb::cache::Cache;
use crate::source::adb::caps::{Caps, Tool};
use crate::source::adb::fingerprint::{
    chain_from, fingerprint_all, FpResults, FpRun, Read, Target,
};
use crate::source::adb::merge;
use crate::source::adb::parse::{self, StatLine};

/// Sizes and mtimes of base APKs (and their SHA-256 with `--hash all`), accumulated over passes.
pub(super) struct Files {
    pub(super) stats: BTreeMap<String, StatLine>,
    pub(super) hashes: BTreeMap<String, String>,
    pub(super) results: FpResults,
    /// The fingerprint cache, loaded once and saved once per scan (it keeps what this scan
    /// used).
    pub(super) cache: Cache,
}

/// Round 3: `stat` of `paths` (when the phone has it), then sync `STAT` of whatever `stat` did
/// not report, and `sha256sum` with `--hash all` when the phone has it. `Err` when the device was
/// lost.
fn round_stat(
    ctx: &Ctx<'_>,
    out: &mut Out,
    caps: &Caps,
    paths: &[&String],
    files: &mut Files,
) -> Result<(), RunError> {
    let quoted: Vec<String> = paths.iter().filter_map(|p| quote(p)).collect();
    let per_part = (ctx.dev.max_command() / 2).max(256);
    let mut chunks: Vec<String> = Vec::new();
    let mut chunk = String::new();
    for q in &quoted {
        if !chunk.is_empty() && chunk.len() + q.len() + 1 > per_part {
            chunks.push(std::mem::take(&mut chunk));
        }
        chunk.push(' ');
        chunk.push_str(q);
    }
    if !chunk.is_empty() {
        chunks.push(chunk);
    }
    let mut parts: Vec<String> = Vec::new();
    let with_stat = caps.has(Tool::Stat);
    if with_stat {
        parts.extend(chunks.iter().map(|c| format!("stat -c '%s %Y %n'{c} 2>&1")));
    }
    let hash_parts = ctx.opts.hash_all && caps.has(Tool::Sha256sum);
    if hash_parts {
        parts.extend(chunks.iter().map(|c| format!("sha256sum{c} 2>&1")));
    }
    if !parts.is_empty() {
        let timeout = ctx.timeout.saturating_mul(if hash_parts { 5 } else { 1 });
        let (outs, lost) = split(run_parts(ctx.dev, ctx.tag, &parts, timeout, 1));
        let stat_parts = if with_stat { chunks.len() } else { 0 };
        for (i, o) in outs.iter().enumerate() {
            if i < stat_parts {
                for s in parse::parse_stat(&o.text()) {
                    files.stats.insert(s.path.clone(), s);
                }
            } else {
                files.hashes.extend(parse::parse_sha256sum(&o.text()));
            }
        }
        if let Some(e) = lost {
            return Err(e);
        }
    }
    let missing: Vec<&str> = paths
        .iter()
        .filter(|p| !files.stats.contains_key(**p) && quote(p).is_some())
        .map(|p| p.as_str())
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    if !with_stat {
        out.inv.notes.push(
            "no `stat` on this phone (before Android 6): APK sizes and times read with sync STAT"
                .to_string(),
        );
    }
    let st = ctx.dev.stat_sync(&missing, ctx.timeout)?;
    for (p, s) in missing.iter().zip(st) {
        // Mode 0x8000: a regular file.
        if let Some(s) = s.filter(|s| s.mode & 0o170000 == 0o100000) {
            files.stats.insert(
                (*p).to_string(),
                StatLine {
                    size: u64::from(s.size),
                    mtime: i64::from(s.mtime),
                    path: (*p).to_string(),
                },
            );
        }
    }
    Ok(())
}

/// `--hash all` on a phone without `sha256sum`: each APK is read whole (sync `RECV`) and hashed
/// here, said in a note with the bytes it cost. `Err` when the device was lost.
fn round_hash_here(
    ctx: &Ctx<'_>,
    out: &mut Out,
    targets: &[Target],
    files: &mut Files,
) -> Result<(), RunError> {
    let todo: Vec<&Target> = targets
        .iter()
        .filter(|t| !files.hashes.contains_key(&t.path))
        .collect();
    if todo.is_empty() {
        return Ok(());
    }
    let mut bytes = 0u64;
    let mut failed = Vec::new();
    for t in &todo {
        let mut h = crate::digest::Hasher::new();
        let r = ctx
            .dev
            .pull_with(&t.path, t.size, ctx.timeout.saturating_mul(5), &mut |c| {
                h.update(c)
            });
        match r {
            Ok(()) => {
                bytes += t.size;
                files.hashes.insert(t.path.clone(), h.finish().into());
            }
            Err(e) => failed.push(format!("{}: {e}", t.path)),
        }
    }
    out.inv.notes.push(format!(
        "--hash all: no sha256sum on this phone (before Android 8); the SHA-256 of {} APK(s) was computed on this computer from a full read ({:.1} MB moved)",
        todo.len() - failed.len(),
        bytes as f64 / 1e6
    ));
    for f in failed {
        out.inv
            .notes
            .push(format!("--hash all: no SHA-256 for {f}"));
    }
    Ok(())
}

/// Round 4+: fingerprints of `targets` (from the cache, else read on the phone). `Err` when the
/// device was lost.
fn round_fingerprint(
    ctx: &Ctx<'_>,
    out: &mut Out,
    caps: &Caps,
    targets: &[Target],
    files: &mut Files,
) -> Result<(), RunError> {
    let ways = chain_from(caps, ctx.read_from);
    let run = FpRun {
        dev: ctx.dev,
        tag: ctx.tag,
        chain: &ways,
        timeout: ctx.timeout,
        progress: ctx.opts.progress,
    };
    let result = fingerprint_all(&run, targets, &mut files.cache, &mut out.counters);
    let (results, lost) = split(result);
    files.results.extend(results);
    match lost {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

/// Rounds 3-4 for the wanted packages whose base APK was not read yet.
pub(super) fn pass(
    ctx: &Ctx<'_>,
    out: &mut Out,
    caps: &Caps,
    base_of: &BTreeMap<String, String>,
    files: &mut Files,
) -> Result<(), (&'static str, RunError)> {
    let new: BTreeSet<&String> = base_of
        .values()
        .filter(|p| !files.results.contains_key(*p) && !files.stats.contains_key(*p))
        .collect();
    if new.is_empty() {
        return Ok(());
    }
    let paths: Vec<&String> = new.iter().copied().collect();
    round_stat(ctx, out, caps, &paths, files).map_err(|e| ("reading APK sizes", e))?;
    let only_new: BTreeMap<String, String> = base_of
        .iter()
        .filter(|(_, p)| new.contains(p))
        .map(|(n, p)| (n.clone(), p.clone()))
        .collect();
    let (targets, problems) = merge::targets(&only_new, &files.stats);
    out.inv.problems.extend(problems);
    if ctx.opts.hash_all {
        if caps.has(Tool::Sha256sum) {
            for t in targets
                .iter()
                .filter(|t| !files.hashes.contains_key(&t.path))
            {
                out.inv
                    .notes
                    .push(format!("--hash all: sha256sum gave no hash for {}", t.path));
            }
        } else {
            round_hash_here(ctx, out, &targets, files).map_err(|e| ("hashing APKs", e))?;
        }
    }
    round_fingerprint(ctx, out, caps, &targets, files).map_err(|e| ("reading APK fingerprints", e))
}

/// Notes for every way of reading APK bytes other than the phone's best.
pub(super) fn read_notes(out: &mut Out, caps: &Caps, read_from: Option<Read>) {
    let ways = chain_from(caps, read_from);
    if let Some(first) = ways
        .first()
        .filter(|w| **w != Read::Raw && read_from.is_none())
    {
        out.inv.notes.push(format!(
            "APK ranges read with `{}` (no binary-clean shell channel on this phone)",
            first.describe()
        ));
    }
    let fallbacks = std::mem::take(&mut out.counters.fallbacks);
    for (way, n) in &fallbacks {
        if *way == Read::Pull {
            out.inv.notes.push(format!(
                "{} APK(s) pulled whole ({:.1} MB) because their ranges could not be read on the phone",
                out.counters.full_pulls,
                out.counters.pulled_bytes as f64 / 1e6
            ));
        } else {
            out.inv.notes.push(format!(
                "{n} APK(s) read with `{}` after a better way failed",
                way.describe()
            ));
        }
    }
    out.counters.fallbacks = fallbacks;
}
