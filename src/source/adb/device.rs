//! The inventory of one phone, in a fixed number of batched round trips, independent rounds
//! overlapping (a phone runs several commands at once):
//!
//! 0. the device's features from the adb server (no device round trip): shell v2 or not;
//! 1. `getprop`, `pm list users` and the capability probe ([`super::caps`]) in one command,
//!    while `dumpsys package packages` runs in its own service from the start;
//! 2. every user's `pm list packages -f ...` at once (flags by SDK level; older `pm`s that reject
//!    a flag are asked again with fewer, each fallback a note);
//! 3. `stat` of the base APKs (sync `STAT` for what `stat` did not report; `sha256sum` with
//!    `--hash all`);
//! 4. a few rounds of range reads ([`super::fingerprint`]);
//! 5. once dumpsys is in: the users only dumpsys showed, and the apps only dumpsys showed (a
//!    refused work profile, Secure Folder, a clone user), through rounds 2-4 again.
//!
//! Each round is one function here; what they read is merged by the pure functions of
//! [`super::merge`]. Every fallback used (channel, listing flags, stat, range reads, pulls,
//! hashing) is a note in the report.

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddrV4;
use std::time::{Duration, Instant};

use sha2::Digest;

use super::batch::{quote, run_parts, PartOutput, RunError};
use super::cache::Cache;
use super::caps::{self, Caps, Tool};
use super::dumpsys::{parse_dumpsys_package, Dumpsys};
use super::fingerprint::{chain_from, fingerprint_all, FpCounters, FpResults, Read, Target};
use super::memo::Memo;
use super::merge::{self, Apps, ListStep, Listing};
use super::parse::{self, PmFailure, StatLine, UserInfo};
use super::transport::{device_max_payload, Channel, Device};
use super::{AdbOptions, DeviceEntry};
use crate::model::{DeviceInfo, Inventory, Platform, Problem, ScanStats, SourceKind};

/// Parallel services for the listing round (one user per service).
const LIST_SPREAD: usize = 4;
/// Deadline of the features query (answered by the server from its cache).
const FEATURES_TIMEOUT: Duration = Duration::from_secs(10);

/// An inventory with only what the adb server said about the device.
pub fn empty_inventory(entry: &DeviceEntry) -> Inventory {
    let mut d = DeviceInfo::new(Platform::Android, SourceKind::Adb, entry.serial.clone());
    d.model = entry.model.as_ref().map(|m| m.replace('_', " "));
    d.location = entry.transport.clone();
    Inventory::new(d)
}

/// What a scan needs that does not change while it runs.
struct Ctx<'a> {
    dev: &'a Device,
    tag: &'a str,
    timeout: Duration,
    opts: &'a AdbOptions,
    /// `APPSWEEP_ADB_READ`: the way of reading APK ranges to start from.
    read_from: Option<Read>,
}

/// `APPSWEEP_ADB_READ=raw|base64-w0|base64|od|pull` starts range reads at that way (to
/// diagnose a phone whose output is mangled, or to measure a fallback); a note says so.
fn read_from_env(out: &mut Out) -> Option<Read> {
    let v = std::env::var("APPSWEEP_ADB_READ").ok()?;
    let r = Read::from_name(v.trim());
    match r {
        Some(r) => out.inv.notes.push(format!(
            "APPSWEEP_ADB_READ={v}: APK ranges read with `{}` where the phone has it",
            r.describe()
        )),
        None => out.inv.notes.push(format!(
            "APPSWEEP_ADB_READ={v:?} is not raw, base64-w0, base64, od or pull: ignored"
        )),
    }
    r
}

/// What a scan has found so far.
struct Out {
    inv: Inventory,
    counters: FpCounters,
}

impl Out {
    fn lost(&mut self, during: &str, e: &RunError) {
        self.inv.problems.push(Problem::new(
            "device",
            format!("scan stopped while {during}: {e}; what was read before is reported"),
        ));
    }
}

fn split<T>(r: Result<T, (T, RunError)>) -> (T, Option<RunError>) {
    match r {
        Ok(o) => (o, None),
        Err((o, e)) => (o, Some(e)),
    }
}

/// Scans one device; never fails: what could not be read is in `problems`. `server_limit` is
/// the longest request the adb server takes.
pub fn scan_device(
    entry: &DeviceEntry,
    addr: SocketAddrV4,
    opts: &AdbOptions,
    tag: &str,
    server_limit: usize,
) -> Inventory {
    let started = Instant::now();
    let dev = Device::new(
        &entry.serial,
        addr,
        Channel::ShellV2,
        server_limit.min(device_max_payload(false, None)),
    );
    let mut out = Out {
        inv: empty_inventory(entry),
        counters: FpCounters::default(),
    };
    if entry.state != "device" {
        let hint = entry.hint.clone().unwrap_or_default();
        out.inv.problems.push(Problem::new(
            "device",
            format!("device is {}: not scanned; {hint}", entry.state),
        ));
    } else {
        let ctx = Ctx {
            dev: &dev,
            tag,
            timeout: opts.op_timeout(),
            opts,
            read_from: read_from_env(&mut out),
        };
        scan_apps(&ctx, &mut out, server_limit);
    }
    let mut inv = out.inv;
    inv.stats = Some(ScanStats {
        round_trips: dev.counters.round_trips(),
        bytes_transferred: dev.counters.bytes(),
        full_pulls: out.counters.full_pulls,
        cache_hits: out.counters.cache_hits,
        duration_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
    });
    inv.normalize();
    inv
}

fn identity(inv: &mut Inventory, props: &BTreeMap<String, String>) {
    let get = |k: &str| props.get(k).filter(|v| !v.trim().is_empty()).cloned();
    let d = &mut inv.device;
    d.manufacturer = get("ro.product.manufacturer");
    d.model = get("ro.product.model").or(d.model.take());
    d.os_version = get("ro.build.version.release");
    d.security_patch = get("ro.build.version.security_patch");
    d.os_build = get("ro.build.id").or_else(|| get("ro.build.display.id"));
    d.serial = get("ro.serialno").or_else(|| get("ro.boot.serialno"));
    d.name = get("persist.sys.device_name");
}

/// What the first round read.
struct First {
    users: Vec<UserInfo>,
    caps: Caps,
    /// The phone's software build (`ro.build.fingerprint`, else its parts).
    build: String,
}

/// Round 1: identity, users and capabilities. `None` when the device was lost.
fn round_first(ctx: &Ctx<'_>, out: &mut Out, server_limit: usize, cmd: bool) -> Option<First> {
    let users_cmd = if cmd {
        "cmd package list users 2>&1 || pm list users 2>&1"
    } else {
        "pm list users 2>&1"
    };
    let mut parts = vec!["getprop".to_string(), users_cmd.to_string()];
    parts.extend(caps::probe_parts());
    let (outs, lost) = split(run_parts(ctx.dev, ctx.tag, &parts, ctx.timeout, 1));
    let props = outs
        .first()
        .map(|o| parse::parse_getprop(&o.text()))
        .unwrap_or_default();
    identity(&mut out.inv, &props);
    let mut users = Vec::new();
    if let Some(o) = outs.get(1) {
        users = parse::parse_users(&o.text());
        if users.is_empty() {
            out.inv.problems.push(Problem::new(
                "device",
                format!(
                    "`pm list users` gave no users (exit {:?}): only the users seen in dumpsys (or user 0) were scanned",
                    o.rc
                ),
            ));
        }
    }
    if let Some(e) = lost {
        out.lost("reading identity, users and capabilities", &e);
        return None;
    }
    let (tools, utc_offset) = caps::read_probes(outs.get(2..).unwrap_or_default());
    let sdk = props
        .get("ro.build.version.sdk")
        .and_then(|s| s.trim().parse::<u32>().ok());
    let channel = ctx.dev.channel();
    let caps = Caps {
        sdk,
        channel,
        cmd: cmd && sdk.is_none_or(|s| s >= 24),
        tools,
        utc_offset,
    };
    ctx.dev
        .set_max_request(server_limit.min(device_max_payload(channel == Channel::ShellV2, sdk)));
    match channel {
        Channel::ShellV2 => {}
        Channel::Exec => out.inv.notes.push(
            "no shell protocol v2 on this phone (before Android 7): commands ran over exec: (binary-clean), requests kept under its 4 KiB limit".to_string(),
        ),
        Channel::Pty => out.inv.notes.push(
            "no shell protocol v2 and exec: refused: commands ran in a pseudo-terminal shell (line ends undone; APK bytes read through a text encoding)".to_string(),
        ),
    }
    if caps.utc_offset.is_none() {
        out.inv.notes.push(
            "the phone's UTC offset could not be read (`date +%z`): install times are given phone-local in details".to_string(),
        );
    }
    let build = props
        .get("ro.build.fingerprint")
        .cloned()
        .unwrap_or_else(|| {
            [
                "ro.build.id",
                "ro.build.version.incremental",
                "ro.build.version.sdk",
            ]
            .iter()
            .map(|k| props.get(*k).map(String::as_str).unwrap_or(""))
            .collect::<Vec<_>>()
            .join("/")
        });
    Some(First { users, caps, build })
}

/// `dumpsys package packages` (only the section the scan needs), in its own service.
fn round_dumpsys(ctx: &Ctx<'_>) -> Result<PartOutput, RunError> {
    let parts = ["dumpsys package packages 2>&1".to_string()];
    let outs = run_parts(ctx.dev, ctx.tag, &parts, ctx.timeout, 1).map_err(|(_, e)| e)?;
    Ok(outs
        .into_iter()
        .next()
        .unwrap_or_else(|| PartOutput::new(Vec::new(), None)))
}

/// What dumpsys gave, with a problem when it cannot be trusted: cut by its own timeout, cut in
/// transit, or without a Packages section. A dump that cannot be trusted may hide the apps of
/// a user `pm` could not list, so the scan is never clean.
fn read_dumpsys(out: &mut Out, r: Option<Result<PartOutput, RunError>>) -> Dumpsys {
    let o = match r {
        Some(Ok(o)) => o,
        Some(Err(e)) => {
            out.inv.problems.push(Problem::new(
                "device",
                format!("`dumpsys package` could not be read: {e}; install states of users pm cannot list, and install times, are missing"),
            ));
            return Dumpsys::default();
        }
        None => {
            out.inv.problems.push(Problem::new(
                "device",
                "`dumpsys package` did not run: install states of users pm cannot list are missing",
            ));
            return Dumpsys::default();
        }
    };
    let d = parse_dumpsys_package(&o.text());
    if d.timed_out {
        out.inv.problems.push(Problem::new(
            "device",
            format!("`dumpsys package` hit its own timeout and was cut after {} packages (DUMP TIMEOUT): install states of the rest are missing; run again when the phone is idle", d.packages.len()),
        ));
    } else if !d.saw_packages_section {
        out.inv.problems.push(Problem::new(
            "device",
            format!("`dumpsys package packages` printed no Packages section (exit {:?}): install states, versions and install times are missing", o.rc),
        ));
    }
    d
}

/// Round 2 (+ fallbacks): the package list of each user in `ids`, one service per user (up to
/// [`LIST_SPREAD`] at once); when an older `pm` rejects a flag, the users concerned are asked
/// again with fewer flags. `None` when the device was lost.
fn round_listing(
    ctx: &Ctx<'_>,
    out: &mut Out,
    caps: &Caps,
    users: &[UserInfo],
    ids: &BTreeSet<u32>,
) -> Option<BTreeMap<u32, Listing>> {
    let mut listings: BTreeMap<u32, Listing> = BTreeMap::new();
    // `-U` and `--show-versioncode` from Android 8; before, a rejected flag costs a JVM start.
    let first = if caps.sdk.is_some_and(|s| s < 26) {
        2
    } else {
        0
    };
    let mut level_of: BTreeMap<u32, usize> = ids.iter().map(|u| (*u, first)).collect();
    let mut pending: Vec<u32> = ids.iter().copied().collect();
    let mut notes: BTreeSet<String> = BTreeSet::new();
    while !pending.is_empty() {
        let mut parts = Vec::new();
        let mut asked = Vec::new();
        for u in &pending {
            let level = level_of.get(u).copied().unwrap_or(0);
            match merge::list_command(level, *u, caps.cmd) {
                Some(cmd) => {
                    parts.push(cmd);
                    asked.push(*u);
                }
                None => {
                    listings.insert(
                        *u,
                        Listing::Failed(PmFailure::UnsupportedOption(
                            "this pm has no --user option".to_string(),
                        )),
                    );
                }
            }
        }
        if parts.is_empty() {
            break;
        }
        let spread = parts.len().min(LIST_SPREAD);
        let (outs, lost) = split(run_parts(ctx.dev, ctx.tag, &parts, ctx.timeout, spread));
        let mut retry = Vec::new();
        for (u, o) in asked.iter().zip(outs.iter()) {
            let level = level_of.get(u).copied().unwrap_or(0);
            let name = merge::user_name(users, *u);
            match merge::list_step(level, first, &name, &o.text(), o.rc) {
                ListStep::Done(l, note) => {
                    notes.extend(note);
                    listings.insert(*u, l);
                }
                ListStep::Retry(next) => {
                    level_of.insert(*u, next);
                    retry.push(*u);
                }
            }
        }
        if let Some(e) = lost {
            out.lost("listing packages", &e);
            return None;
        }
        pending = retry;
    }
    if first > 0 && !listings.is_empty() {
        notes.insert(format!(
            "Android SDK {}: `pm list packages` has no -U or --show-versioncode; uids and version codes come from dumpsys",
            caps.sdk.unwrap_or(0)
        ));
    }
    out.inv.notes.extend(notes);
    Some(listings)
}

/// Sizes and mtimes of base APKs (and their SHA-256 with `--hash all`), accumulated over passes.
struct Files {
    stats: BTreeMap<String, StatLine>,
    hashes: BTreeMap<String, String>,
    results: FpResults,
    /// The fingerprint cache, loaded once and saved once per scan (it keeps what this scan
    /// used).
    cache: Cache,
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
        let mut h = sha2::Sha256::new();
        let r = ctx
            .dev
            .pull_with(&t.path, t.size, ctx.timeout.saturating_mul(5), &mut |c| {
                h.update(c)
            });
        match r {
            Ok(()) => {
                bytes += t.size;
                files
                    .hashes
                    .insert(t.path.clone(), crate::hex::encode(&h.finalize()));
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
    let result = fingerprint_all(
        ctx.dev,
        ctx.tag,
        targets,
        &ways,
        &mut files.cache,
        ctx.timeout,
        &mut out.counters,
    );
    let (results, lost) = split(result);
    files.results.extend(results);
    match lost {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

/// Rounds 3-4 for the wanted packages whose base APK was not read yet.
fn pass(
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
fn read_notes(out: &mut Out, caps: &Caps, read_from: Option<Read>) {
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

/// The rounds, merged as they come; a lost device stops the scan with what was read.
fn scan_apps(ctx: &Ctx<'_>, out: &mut Out, server_limit: usize) {
    let features = match ctx.dev.features(FEATURES_TIMEOUT) {
        Ok(f) => f,
        Err(e) => {
            out.inv.problems.push(Problem::new(
                "device",
                format!("the adb server could not tell this device's features: {e}"),
            ));
            return;
        }
    };
    if !features.iter().any(|f| f == "shell_v2") {
        ctx.dev.set_channel(Channel::Exec);
    }
    let cmd = features.iter().any(|f| f == "cmd");
    let memo = Memo::load(ctx.opts.cache_dir.as_deref(), &ctx.dev.serial);
    let known_users = memo.as_ref().map(|m| m.dumpsys.users()).unwrap_or_default();
    std::thread::scope(|s| {
        // Without a memo dumpsys is surely needed: start it now, beside everything else.
        let early = memo.is_none().then(|| s.spawn(|| round_dumpsys(ctx)));
        let get_dumpsys = |out: &mut Out, build: &str, listings: &BTreeMap<u32, Listing>| {
            if let Some(h) = early {
                return (read_dumpsys(out, h.join().ok()), true);
            }
            match memo {
                Some(m) if m.covers(build, listings) => {
                    out.inv.notes.push(
                        "the package lists match the previous scan's exactly: install details come from that scan's dumpsys".to_string(),
                    );
                    (m.dumpsys, false)
                }
                _ => (read_dumpsys(out, Some(round_dumpsys(ctx))), true),
            }
        };
        scan_with(ctx, out, server_limit, cmd, &known_users, get_dumpsys);
    });
}

/// Everything after the features: `join_dumpsys` waits for the dumpsys service.
fn scan_with(
    ctx: &Ctx<'_>,
    out: &mut Out,
    server_limit: usize,
    cmd: bool,
    known_users: &BTreeSet<u32>,
    get_dumpsys: impl FnOnce(&mut Out, &str, &BTreeMap<u32, Listing>) -> (Dumpsys, bool),
) {
    let Some(First { users, caps, build }) = round_first(ctx, out, server_limit, cmd) else {
        return;
    };
    let offset = caps.utc_offset.clone();
    // The users `pm list users` shows, and those the last dumpsys showed (a clone user some
    // phones leave out of `pm list users`).
    let mut ids: BTreeSet<u32> = users.iter().map(|u| u.id).collect();
    ids.extend(known_users);
    if ids.is_empty() {
        ids.insert(0);
    }
    let Some(mut listings) = round_listing(ctx, out, &caps, &users, &ids) else {
        return;
    };
    // Pass 1, while dumpsys runs: what the listings show.
    let mut files = Files {
        stats: BTreeMap::new(),
        hashes: BTreeMap::new(),
        results: BTreeMap::new(),
        cache: Cache::load(ctx.opts.cache_dir.as_deref(), &ctx.dev.serial),
    };
    let mut apps = merge::records(&listings, &Dumpsys::default(), offset.as_deref());
    let wanted = merge::wanted(&apps);
    let (base_of, _) = merge::assign_paths(&mut apps, &wanted, &Dumpsys::default());
    if let Err((during, e)) = pass(ctx, out, &caps, &base_of, &mut files) {
        finish(
            out,
            &caps,
            ctx.read_from,
            apps,
            &base_of,
            &files,
            Some((during, e)),
        );
        return;
    }
    // Pass 2: users and apps only dumpsys showed.
    let (dumpsys, fresh) = get_dumpsys(out, &build, &listings);
    let extra: BTreeSet<u32> = dumpsys
        .users()
        .into_iter()
        .filter(|u| !listings.contains_key(u))
        .collect();
    if !extra.is_empty() {
        let Some(more) = round_listing(ctx, out, &caps, &users, &extra) else {
            finish(out, &caps, ctx.read_from, apps, &base_of, &files, None);
            return;
        };
        listings.extend(more);
    }
    let cov = merge::coverage(&users, &listings, &dumpsys);
    out.inv.notes.extend(cov.notes);
    out.inv.problems.extend(cov.problems);
    if fresh {
        let dir = ctx.opts.cache_dir.as_deref();
        if let Some(m) = Memo::new(&ctx.dev.serial, &build, &listings, &dumpsys) {
            if let Err(e) = m.save(dir) {
                out.inv.notes.push(format!("dumpsys memo not saved: {e}"));
            }
        }
    }
    let mut apps = merge::records(&listings, &dumpsys, offset.as_deref());
    let wanted = merge::wanted(&apps);
    let (base_of, problems) = merge::assign_paths(&mut apps, &wanted, &dumpsys);
    out.inv.problems.extend(problems);
    let lost = pass(ctx, out, &caps, &base_of, &mut files).err();
    finish(out, &caps, ctx.read_from, apps, &base_of, &files, lost);
}

/// Sizes, hashes and fingerprints into the records; the records, notes and problems into the
/// inventory.
fn finish(
    out: &mut Out,
    caps: &Caps,
    read_from: Option<Read>,
    mut apps: Apps,
    base_of: &BTreeMap<String, String>,
    files: &Files,
    lost: Option<(&'static str, RunError)>,
) {
    if let Err(e) = files.cache.save() {
        out.inv
            .notes
            .push(format!("fingerprint cache not saved: {e}"));
    }
    merge::apply_stats(&mut apps, &files.stats, &files.hashes);
    let problems = merge::apply_fingerprints(&mut apps, base_of, &files.results, lost.is_some());
    out.inv.problems.extend(problems);
    read_notes(out, caps, read_from);
    out.inv.apps = apps.into_values().collect();
    if let Some((during, e)) = lost {
        out.lost(during, &e);
    }
}
