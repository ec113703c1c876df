//! The inventory of one phone, in a fixed number of batched round trips:
//!
//! 1. `getprop`, `pm list users`, `dumpsys package` (one shell command);
//! 2. `pm list packages -f -U -i --show-versioncode --user N` for every user at once; when an
//!    older `pm` rejects a flag, the users concerned are retried with fewer flags
//!    (`--show-versioncode`, then `-U`, then `--user` dropped), each fallback recorded in `notes`;
//! 3. `pm path` of every APK to fingerprint (every non-system app, and every app of a user
//!    other than 0);
//! 4. `stat` of their base APKs (and `sha256sum` with `--hash all`);
//! 5. a few rounds of range reads ([`super::fingerprint`]).
//!
//! Each round is one function here; what they read is merged by the pure functions of
//! [`super::merge`] (a refused user, system apps, base and split APKs, fingerprints).

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddrV4;
use std::time::{Duration, Instant};

use super::batch::{quote, run_parts, PartOutput, RunError};
use super::cache::Cache;
use super::dumpsys::{parse_dumpsys_package, Dumpsys};
use super::fingerprint::{fingerprint_all, FpCounters, FpResults, Target};
use super::merge::{self, ListStep, Listing};
use super::parse::{self, PmFailure, StatLine, UserInfo};
use super::transport::Device;
use super::{AdbOptions, DeviceEntry};
use crate::model::{DeviceInfo, Inventory, Platform, Problem, ScanStats, SourceKind};

/// Largest list of paths given to one `stat`/`sha256sum` part.
const PATHS_PER_PART: usize = 16_000;

/// An inventory with only what the adb server said about the device.
pub fn empty_inventory(entry: &DeviceEntry) -> Inventory {
    let mut d = DeviceInfo::new(Platform::Android, SourceKind::Adb, entry.serial.clone());
    d.model = entry.model.as_ref().map(|m| m.replace('_', " "));
    d.location = entry.transport.clone();
    Inventory::new(d)
}

struct Scan<'a> {
    dev: Device,
    tag: &'a str,
    timeout: Duration,
    inv: Inventory,
    counters: FpCounters,
}

impl Scan<'_> {
    fn run(&mut self, parts: &[String]) -> Result<Vec<PartOutput>, (Vec<PartOutput>, RunError)> {
        run_parts(&mut self.dev, self.tag, parts, self.timeout)
    }

    fn lost(&mut self, during: &str, e: &RunError) {
        self.inv.problems.push(Problem::new(
            "device",
            format!("scan stopped while {during}: {e}; what was read before is reported"),
        ));
    }
}

/// Scans one device; never fails: what could not be read is in `problems`.
pub fn scan_device(
    entry: &DeviceEntry,
    addr: SocketAddrV4,
    opts: &AdbOptions,
    tag: &str,
) -> Inventory {
    let started = Instant::now();
    let mut scan = Scan {
        dev: Device::new(&entry.serial, addr),
        tag,
        timeout: opts.op_timeout(),
        inv: empty_inventory(entry),
        counters: FpCounters::default(),
    };
    if entry.state != "device" {
        let hint = entry.hint.clone().unwrap_or_default();
        scan.inv.problems.push(Problem::new(
            "device",
            format!("device is {}: not scanned; {hint}", entry.state),
        ));
    } else {
        scan_apps(&mut scan, opts);
    }
    let mut inv = scan.inv;
    inv.stats = Some(ScanStats {
        round_trips: scan.dev.counters.round_trips,
        bytes_transferred: scan.dev.counters.bytes,
        full_pulls: scan.counters.full_pulls,
        cache_hits: scan.counters.cache_hits,
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
    dumpsys: Dumpsys,
}

fn split<T>(r: Result<T, (T, RunError)>) -> (T, Option<RunError>) {
    match r {
        Ok(o) => (o, None),
        Err((o, e)) => (o, Some(e)),
    }
}

/// Round 1: identity, users, whole dumpsys package. `None` when the device was lost.
fn round_identity(scan: &mut Scan<'_>) -> Option<First> {
    let parts = [
        "getprop".to_string(),
        "pm list users 2>&1".to_string(),
        "dumpsys package".to_string(),
    ];
    let (outs, lost) = split(scan.run(&parts));
    if let Some(o) = outs.first() {
        identity(&mut scan.inv, &parse::parse_getprop(&o.text));
    }
    let mut users = Vec::new();
    if let Some(o) = outs.get(1) {
        users = parse::parse_users(&o.text);
        if users.is_empty() {
            scan.inv.problems.push(Problem::new(
                "device",
                format!(
                    "`pm list users` gave no users (exit {:?}): only the users seen in dumpsys (or user 0) were scanned",
                    o.rc
                ),
            ));
        }
    }
    let mut dumpsys = Dumpsys::default();
    if let Some(o) = outs.get(2) {
        dumpsys = parse_dumpsys_package(&o.text);
        if !dumpsys.saw_packages_section {
            scan.inv.problems.push(Problem::new(
                "device",
                format!("`dumpsys package` printed no Packages section (exit {:?}): install states, versions and install times are missing", o.rc),
            ));
        }
    }
    if let Some(e) = lost {
        scan.lost("reading identity, users and dumpsys", &e);
        return None;
    }
    Some(First { users, dumpsys })
}

/// What the listing round gave.
struct Listed {
    listings: BTreeMap<u32, Listing>,
    /// Whether `pm` took `--user` (else `pm path` is asked without it).
    user_flag: bool,
}

/// Round 2 (+ fallbacks): every user's package list in one command; when an older `pm`
/// rejects a flag, the users concerned are asked again with fewer flags. `None` when the
/// device was lost.
fn round_listing(scan: &mut Scan<'_>, users: &[UserInfo], ids: &BTreeSet<u32>) -> Option<Listed> {
    let mut listings: BTreeMap<u32, Listing> = BTreeMap::new();
    let mut level_of: BTreeMap<u32, usize> = ids.iter().map(|u| (*u, 0)).collect();
    let mut pending: Vec<u32> = ids.iter().copied().collect();
    let mut notes: BTreeSet<String> = BTreeSet::new();
    while !pending.is_empty() {
        let mut parts = Vec::new();
        let mut asked = Vec::new();
        for u in &pending {
            let level = level_of.get(u).copied().unwrap_or(0);
            match merge::list_command(level, *u) {
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
        let (outs, lost) = split(scan.run(&parts));
        let mut retry = Vec::new();
        for (u, o) in asked.iter().zip(outs.iter()) {
            let level = level_of.get(u).copied().unwrap_or(0);
            match merge::list_step(level, &merge::user_name(users, *u), &o.text, o.rc) {
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
            scan.lost("listing packages", &e);
            return None;
        }
        pending = retry;
    }
    scan.inv.notes.extend(notes);
    let user_flag = listings.is_empty()
        || level_of
            .values()
            .any(|l| merge::LIST_LEVELS.get(*l).is_some_and(|x| x.1));
    Some(Listed {
        listings,
        user_flag,
    })
}

/// Round 3: `pm path` of every wanted package, in one command. `Err` when the device was lost.
fn round_paths(
    scan: &mut Scan<'_>,
    wanted: &BTreeMap<String, Option<u32>>,
    user_flag: bool,
) -> Result<BTreeMap<String, Vec<String>>, RunError> {
    let mut apk_paths = BTreeMap::new();
    if wanted.is_empty() {
        return Ok(apk_paths);
    }
    let parts: Vec<String> = wanted
        .iter()
        .map(|(name, u)| match u {
            Some(u) if user_flag => format!("pm path --user {u} {name} 2>&1"),
            _ => format!("pm path {name} 2>&1"),
        })
        .collect();
    let (outs, lost) = split(scan.run(&parts));
    for (name, o) in wanted.keys().zip(outs.iter()) {
        let paths = parse::parse_pm_path(&o.text);
        if !paths.is_empty() {
            apk_paths.insert(name.clone(), paths);
        }
    }
    match lost {
        Some(e) => Err(e),
        None => Ok(apk_paths),
    }
}

/// Sizes and mtimes of the base APKs (and their SHA-256 with `--hash all`).
#[derive(Default)]
struct Stats {
    stats: BTreeMap<String, StatLine>,
    hashes: BTreeMap<String, String>,
}

/// Round 4: `stat` of every base APK (and `sha256sum` with `--hash all`), in as few commands as
/// fit. `Err` (with what was read) when the device was lost.
fn round_stat(
    scan: &mut Scan<'_>,
    bases: &BTreeSet<&String>,
    hash_all: bool,
) -> Result<Stats, (Stats, RunError)> {
    let mut chunks: Vec<String> = Vec::new();
    let mut chunk = String::new();
    for q in bases.iter().filter_map(|p| quote(p)) {
        if !chunk.is_empty() && chunk.len() + q.len() > PATHS_PER_PART {
            chunks.push(std::mem::take(&mut chunk));
        }
        chunk.push(' ');
        chunk.push_str(&q);
    }
    if !chunk.is_empty() {
        chunks.push(chunk);
    }
    let mut parts: Vec<String> = chunks
        .iter()
        .map(|c| format!("stat -c '%s %Y %n'{c} 2>&1"))
        .collect();
    if hash_all {
        parts.extend(chunks.iter().map(|c| format!("sha256sum{c} 2>&1")));
    }
    let mut out = Stats::default();
    if parts.is_empty() {
        return Ok(out);
    }
    let saved = scan.timeout;
    scan.timeout = saved.saturating_mul(if hash_all { 5 } else { 1 });
    let (outs, lost) = split(scan.run(&parts));
    scan.timeout = saved;
    for (i, o) in outs.iter().enumerate() {
        if i < chunks.len() {
            for s in parse::parse_stat(&o.text) {
                out.stats.insert(s.path.clone(), s);
            }
        } else {
            out.hashes.extend(parse::parse_sha256sum(&o.text));
        }
    }
    match lost {
        Some(e) => Err((out, e)),
        None => Ok(out),
    }
}

/// Round 5+: fingerprints of `targets` (from the cache, else read on the phone). `Err` (with
/// what was read) when the device was lost.
fn round_fingerprint(
    scan: &mut Scan<'_>,
    targets: &[Target],
    cache_dir: Option<&std::path::Path>,
) -> Result<FpResults, (FpResults, RunError)> {
    let mut cache = Cache::load(cache_dir, &scan.dev.serial);
    let mut counters = FpCounters::default();
    let result = fingerprint_all(
        &mut scan.dev,
        scan.tag,
        targets,
        &mut cache,
        scan.timeout,
        &mut counters,
    );
    scan.counters = counters;
    if let Err(e) = cache.save() {
        scan.inv
            .notes
            .push(format!("fingerprint cache not saved: {e}"));
    }
    result
}

/// The rounds, merged as they come; a lost device stops the scan with what was read.
fn scan_apps(scan: &mut Scan<'_>, opts: &AdbOptions) {
    let Some(First { users, dumpsys }) = round_identity(scan) else {
        return;
    };
    let ids = merge::user_ids(&users, &dumpsys);
    let Some(Listed {
        listings,
        user_flag,
    }) = round_listing(scan, &users, &ids)
    else {
        return;
    };
    let cov = merge::coverage(&users, &listings, &dumpsys);
    scan.inv.notes.extend(cov.notes);
    scan.inv.problems.extend(cov.problems);
    let mut apps = merge::records(&listings, &dumpsys);
    let wanted = merge::wanted(&apps, &cov.listed_ok);

    let pm_paths = match round_paths(scan, &wanted, user_flag) {
        Ok(p) => p,
        Err(e) => {
            scan.inv.apps = apps.into_values().collect();
            scan.lost("listing APK paths", &e);
            return;
        }
    };
    let (base_of, problems) = merge::assign_paths(&mut apps, &wanted, &pm_paths, &dumpsys);
    scan.inv.problems.extend(problems);

    let bases: BTreeSet<&String> = base_of.values().collect();
    let stats = match round_stat(scan, &bases, opts.hash_all) {
        Ok(s) => s,
        Err((s, e)) => {
            merge::apply_stats(&mut apps, &s.stats, &s.hashes);
            scan.inv.apps = apps.into_values().collect();
            scan.lost("reading APK sizes", &e);
            return;
        }
    };
    let (targets, problems) = merge::targets(&base_of, &stats.stats);
    scan.inv.problems.extend(problems);
    merge::apply_stats(&mut apps, &stats.stats, &stats.hashes);
    if opts.hash_all {
        for t in targets
            .iter()
            .filter(|t| !stats.hashes.contains_key(&t.path))
        {
            scan.inv
                .notes
                .push(format!("sha256sum gave no hash for {}", t.path));
        }
    }

    let (results, lost) = split(round_fingerprint(scan, &targets, opts.cache_dir.as_deref()));
    let problems = merge::apply_fingerprints(&mut apps, &base_of, &results, lost.is_some());
    scan.inv.problems.extend(problems);
    scan.inv.apps = apps.into_values().collect();
    if let Some(e) = lost {
        scan.lost("reading APK fingerprints", &e);
    }
}
