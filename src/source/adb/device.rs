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
//! A user whose apps cannot be listed (a `SecurityException` on a work profile) is a problem
//! naming that user, unless `dumpsys package` (which runs in system_server) showed that user's
//! install states: then the apps of that user come from dumpsys, with a note. System apps are
//! told apart by dumpsys `flags=[ SYSTEM ...]`, else by an APK path outside `/data/`.

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddrV4;
use std::time::{Duration, Instant};

use super::batch::{quote, run_parts, RunError};
use super::cache::{Cache, Fingerprint};
use super::fingerprint::{fingerprint_all, FpCounters, Target};
use super::parse::{self, Dumpsys, PartOutput, PmFailure, PmPackage, UserInfo};
use super::transport::Device;
use super::{AdbOptions, DeviceEntry};
use crate::model::{AppRecord, DeviceInfo, Inventory, Platform, Problem, ScanStats, SourceKind};

/// Largest list of paths given to one `stat`/`sha256sum` part.
const PATHS_PER_PART: usize = 16_000;

/// Flag sets for `pm list packages`, newest first.
const LIST_LEVELS: [(&str, bool, &str); 4] = [
    ("-f -U -i --show-versioncode", true, ""),
    ("-f -U -i", true, "--show-versioncode"),
    ("-f -i", true, "-U"),
    ("-f -i", false, "--user"),
];

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

/// How listing one user's packages went.
enum Listing {
    Ok(Vec<PmPackage>),
    Failed(PmFailure),
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

fn scan_apps(scan: &mut Scan<'_>, opts: &AdbOptions) {
    // Round 1: identity, users, whole dumpsys package.
    let parts = vec![
        "getprop".to_string(),
        "pm list users 2>&1".to_string(),
        "dumpsys package".to_string(),
    ];
    let (outs, lost) = match scan.run(&parts) {
        Ok(o) => (o, None),
        Err((o, e)) => (o, Some(e)),
    };
    if let Some(o) = outs.first() {
        identity(&mut scan.inv, &parse::parse_getprop(&o.text));
    }
    let mut users: Vec<UserInfo> = Vec::new();
    match outs.get(1) {
        Some(o) => {
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
        None if lost.is_none() => {}
        None => {}
    }
    let dumpsys: Dumpsys = match outs.get(2) {
        Some(o) => {
            let d = parse::parse_dumpsys_package(&o.text);
            if !d.saw_packages_section {
                scan.inv.problems.push(Problem::new(
                    "device",
                    format!("`dumpsys package` printed no Packages section (exit {:?}): install states, versions and install times are missing", o.rc),
                ));
            }
            d
        }
        None => Dumpsys::default(),
    };
    if let Some(e) = lost {
        scan.lost("reading identity, users and dumpsys", &e);
        return;
    }
    let mut user_ids: BTreeSet<u32> = users.iter().map(|u| u.id).collect();
    user_ids.extend(dumpsys.users());
    if user_ids.is_empty() {
        user_ids.insert(0);
    }
    let user_name = |id: u32| {
        users
            .iter()
            .find(|u| u.id == id)
            .map(|u| format!("user {id} ({})", u.name))
            .unwrap_or_else(|| format!("user {id}"))
    };

    // Round 2 (+ fallbacks): every user's package list in one command.
    let mut listings: BTreeMap<u32, Listing> = BTreeMap::new();
    let mut level_of: BTreeMap<u32, usize> = user_ids.iter().map(|u| (*u, 0)).collect();
    let mut pending: Vec<u32> = user_ids.iter().copied().collect();
    let mut fallback_notes: BTreeSet<String> = BTreeSet::new();
    while !pending.is_empty() {
        let mut parts = Vec::new();
        let mut asked = Vec::new();
        for u in &pending {
            let level = level_of.get(u).copied().unwrap_or(0);
            let Some((flags, with_user, _)) = LIST_LEVELS.get(level) else {
                continue;
            };
            if !with_user && *u != 0 {
                // Without --user only user 0 can be listed.
                continue;
            }
            parts.push(if *with_user {
                format!("pm list packages {flags} --user {u} 2>&1")
            } else {
                format!("pm list packages {flags} 2>&1")
            });
            asked.push(*u);
        }
        for u in &pending {
            if !asked.contains(u) {
                listings.insert(
                    *u,
                    Listing::Failed(PmFailure::UnsupportedOption(
                        "this pm has no --user option".to_string(),
                    )),
                );
            }
        }
        if parts.is_empty() {
            break;
        }
        let (outs, lost) = match scan.run(&parts) {
            Ok(o) => (o, None),
            Err((o, e)) => (o, Some(e)),
        };
        let mut retry = Vec::new();
        for (u, o) in asked.iter().zip(outs.iter()) {
            let level = level_of.get(u).copied().unwrap_or(0);
            let list = parse::parse_package_list(&o.text);
            match parse::pm_failure(&o.text, o.rc) {
                None => {
                    if level > 0 {
                        let dropped: Vec<&str> = LIST_LEVELS
                            .iter()
                            .take(level + 1)
                            .skip(1)
                            .map(|l| l.2)
                            .collect();
                        fallback_notes.insert(format!(
                            "{}: `pm list packages` lacks {}; listed without (details from dumpsys)",
                            user_name(*u),
                            dropped.join(", ")
                        ));
                    }
                    listings.insert(*u, Listing::Ok(list.packages));
                }
                Some(PmFailure::Refused(m)) => {
                    listings.insert(*u, Listing::Failed(PmFailure::Refused(m)));
                }
                Some(f) => {
                    if level + 1 < LIST_LEVELS.len() {
                        level_of.insert(*u, level + 1);
                        retry.push(*u);
                    } else {
                        listings.insert(*u, Listing::Failed(f));
                    }
                }
            }
        }
        if let Some(e) = lost {
            scan.lost("listing packages", &e);
            return;
        }
        pending = retry;
    }
    scan.inv.notes.extend(fallback_notes);

    // Coverage of every user.
    let dumpsys_users = dumpsys.users();
    let mut listed_ok: BTreeSet<u32> = BTreeSet::new();
    for (u, l) in &listings {
        match l {
            Listing::Ok(_) => {
                listed_ok.insert(*u);
            }
            Listing::Failed(f) => {
                let why = match f {
                    PmFailure::Refused(m) => format!("refused: {m}"),
                    PmFailure::UnsupportedOption(m) | PmFailure::Other(m) => m.clone(),
                };
                if dumpsys_users.contains(u) {
                    scan.inv.notes.push(format!(
                        "{}: `pm list packages` failed ({why}); its apps were read from dumpsys package",
                        user_name(*u)
                    ));
                } else {
                    scan.inv.problems.push(Problem::new(
                        format!("user {u}"),
                        format!("apps of {} could not be listed ({why}), and dumpsys package shows no install state for this user", user_name(*u)),
                    ));
                }
            }
        }
    }

    // App records per (package, user).
    let mut apps: BTreeMap<(String, u32), AppRecord> = BTreeMap::new();
    for (u, l) in &listings {
        let Listing::Ok(pkgs) = l else { continue };
        for p in pkgs {
            let mut a = AppRecord::new(p.name.clone());
            a.user = Some(*u);
            a.add_seen_in("pm_list");
            a.path = p.path.clone();
            a.version_code = p.version_code.clone();
            a.installer = p.installer.clone();
            if let Some(uid) = p.uid {
                a.details.push(("uid".to_string(), uid.to_string()));
            }
            apps.insert((p.name.clone(), *u), a);
        }
    }
    for (name, d) in &dumpsys.packages {
        let installed_anywhere = d.users.values().any(|s| s.installed);
        for (u, state) in &d.users {
            let key = (name.clone(), *u);
            if let Some(a) = apps.get_mut(&key) {
                if state.installed {
                    a.add_seen_in("dumpsys");
                }
                continue;
            }
            let weak = !installed_anywhere && Some(u) == d.users.keys().next();
            if state.installed || weak {
                let mut a = AppRecord::new(name.clone());
                a.user = Some(*u);
                a.installed = state.installed;
                a.add_seen_in("dumpsys");
                apps.insert(key, a);
            }
        }
    }
    for ((name, _), a) in apps.iter_mut() {
        let d = dumpsys.packages.get(name);
        if let Some(d) = d {
            a.version = d.version_name.clone();
            if a.version_code.is_none() {
                a.version_code = d.version_code.clone();
            }
            if a.installer.is_none() {
                a.installer = d.installer.clone();
            }
            a.first_install = d.first_install.clone();
            a.last_update = d.last_update.clone();
            a.system = d.system;
            if let Some(cp) = &d.code_path {
                a.details.push(("code_path".to_string(), cp.clone()));
            }
        } else if let Some(p) = &a.path {
            a.system = !p.starts_with("/data/");
        }
    }

    // Which packages to fingerprint, and for which user to ask `pm path`.
    let mut wanted: BTreeMap<String, Option<u32>> = BTreeMap::new();
    for ((name, u), a) in &apps {
        if !a.installed || (a.system && *u == 0) {
            continue;
        }
        let ask = if listed_ok.contains(u) {
            Some(*u)
        } else {
            None
        };
        let e = wanted.entry(name.clone()).or_insert(ask);
        if e.is_none() || (ask == Some(0)) {
            *e = ask.or(*e);
        }
    }
    // Without --user support, ask without it.
    let user_flag_ok = listings.is_empty()
        || level_of
            .values()
            .any(|l| LIST_LEVELS.get(*l).is_some_and(|x| x.1));

    // Round 3: `pm path` of every wanted package.
    let names: Vec<&String> = wanted.keys().collect();
    let parts: Vec<String> = wanted
        .iter()
        .map(|(name, u)| match u {
            Some(u) if user_flag_ok => format!("pm path --user {u} {name} 2>&1"),
            _ => format!("pm path {name} 2>&1"),
        })
        .collect();
    let mut apk_paths: BTreeMap<String, Vec<String>> = BTreeMap::new();
    if !parts.is_empty() {
        let (outs, lost) = match scan.run(&parts) {
            Ok(o) => (o, None),
            Err((o, e)) => (o, Some(e)),
        };
        for (name, o) in names.iter().zip(outs.iter()) {
            let paths = parse::parse_pm_path(&o.text);
            if !paths.is_empty() {
                apk_paths.insert((*name).clone(), paths);
            }
        }
        if let Some(e) = lost {
            scan.inv.apps = apps.into_values().collect();
            scan.lost("listing APK paths", &e);
            return;
        }
    }
    // Base and splits per package.
    let mut base_of: BTreeMap<String, String> = BTreeMap::new();
    for name in wanted.keys() {
        let listed = apps
            .range((name.clone(), 0)..=(name.clone(), u32::MAX))
            .find_map(|(_, a)| a.path.clone());
        let from_dumpsys = dumpsys
            .packages
            .get(name)
            .and_then(|d| d.code_path.clone())
            .map(|cp| {
                if cp.ends_with(".apk") {
                    cp
                } else {
                    format!("{cp}/base.apk")
                }
            });
        let paths = apk_paths.get(name).cloned().unwrap_or_default();
        let base = paths
            .iter()
            .find(|p| Some(*p) == listed.as_ref())
            .or_else(|| paths.iter().find(|p| p.ends_with("/base.apk")))
            .or_else(|| paths.first())
            .cloned()
            .or(listed)
            .or(from_dumpsys);
        let Some(base) = base else {
            scan.inv.problems.push(Problem::new(
                format!("app {name}"),
                "no APK path found (pm path and dumpsys gave none): not fingerprinted",
            ));
            continue;
        };
        let splits: Vec<String> = paths.iter().filter(|p| **p != base).cloned().collect();
        for ((_, _), a) in apps.range_mut((name.clone(), 0)..=(name.clone(), u32::MAX)) {
            a.path = Some(base.clone());
            a.split_paths = splits.clone();
        }
        base_of.insert(name.clone(), base);
    }

    // Round 4: sizes and mtimes (and hashes with --hash all).
    let uniq: BTreeSet<&String> = base_of.values().collect();
    let quoted: Vec<(String, &String)> = uniq
        .iter()
        .filter_map(|p| quote(p).map(|q| (q, *p)))
        .collect();
    let mut parts = Vec::new();
    let mut chunk = String::new();
    let mut chunks = Vec::new();
    for (q, _) in &quoted {
        if !chunk.is_empty() && chunk.len() + q.len() > PATHS_PER_PART {
            chunks.push(std::mem::take(&mut chunk));
        }
        chunk.push(' ');
        chunk.push_str(q);
    }
    if !chunk.is_empty() {
        chunks.push(chunk);
    }
    for c in &chunks {
        parts.push(format!("stat -c '%s %Y %n'{c} 2>&1"));
    }
    if opts.hash_all {
        for c in &chunks {
            parts.push(format!("sha256sum{c} 2>&1"));
        }
    }
    let mut stats: BTreeMap<String, (u64, i64)> = BTreeMap::new();
    let mut hashes: BTreeMap<String, String> = BTreeMap::new();
    if !parts.is_empty() {
        let hash_timeout = scan
            .timeout
            .saturating_mul(if opts.hash_all { 5 } else { 1 });
        let saved = scan.timeout;
        scan.timeout = hash_timeout;
        let r = scan.run(&parts);
        scan.timeout = saved;
        let (outs, lost) = match r {
            Ok(o) => (o, None),
            Err((o, e)) => (o, Some(e)),
        };
        for (i, o) in outs.iter().enumerate() {
            if i < chunks.len() {
                for s in parse::parse_stat(&o.text) {
                    stats.insert(s.path, (s.size, s.mtime));
                }
            } else {
                hashes.extend(parse::parse_sha256sum(&o.text));
            }
        }
        if let Some(e) = lost {
            scan.inv.apps = apps.into_values().collect();
            scan.lost("reading APK sizes", &e);
            return;
        }
    }
    let mut targets = Vec::new();
    for (name, base) in &base_of {
        match stats.get(base) {
            Some((size, mtime)) => targets.push(Target {
                path: base.clone(),
                size: *size,
                mtime: *mtime,
            }),
            None => scan.inv.problems.push(Problem::new(
                format!("app {name}"),
                format!("base APK {base} could not be read (stat failed): not fingerprinted"),
            )),
        }
    }
    targets.sort_by(|a, b| a.path.cmp(&b.path));
    targets.dedup_by(|a, b| a.path == b.path);
    for a in apps.values_mut() {
        if let Some(p) = &a.path {
            if let Some((size, _)) = stats.get(p) {
                a.size = Some(*size);
            }
            if let Some(h) = hashes.get(p) {
                a.file_sha256 = Some(h.clone());
            }
        }
    }
    if opts.hash_all {
        for t in &targets {
            if !hashes.contains_key(&t.path) {
                scan.inv
                    .notes
                    .push(format!("sha256sum gave no hash for {}", t.path));
            }
        }
    }

    // Round 5+: fingerprints.
    let mut cache = Cache::load(opts.cache_dir.as_deref(), &scan.dev.serial);
    let mut counters = FpCounters::default();
    let result = fingerprint_all(
        &mut scan.dev,
        scan.tag,
        &targets,
        &mut cache,
        scan.timeout,
        &mut counters,
    );
    scan.counters = counters;
    let (results, lost) = match result {
        Ok(r) => (r, None),
        Err((r, e)) => (r, Some(e)),
    };
    if let Err(e) = cache.save() {
        scan.inv
            .notes
            .push(format!("fingerprint cache not saved: {e}"));
    }
    let mut reported: BTreeSet<String> = BTreeSet::new();
    for ((name, _), a) in apps.iter_mut() {
        let Some(p) = a.path.clone() else { continue };
        if !base_of.contains_key(name) {
            continue;
        }
        match results.get(&p) {
            Some(Ok(fp)) => apply(a, fp),
            Some(Err(e)) if lost.is_none() && reported.insert(name.clone()) => {
                scan.inv.problems.push(Problem::new(
                    format!("app {name}"),
                    format!("base APK {p} could not be fingerprinted: {e}"),
                ));
            }
            Some(Err(_)) => {}
            None => {}
        }
    }
    scan.inv.apps = apps.into_values().collect();
    if let Some(e) = lost {
        scan.lost("reading APK fingerprints", &e);
    }
}

fn apply(a: &mut AppRecord, fp: &Fingerprint) {
    a.add_certificates(fp.certificates());
    a.components.extend(fp.components.iter().cloned());
    a.native_libs.extend(fp.native_libs.iter().cloned());
    a.meta_data.extend(fp.meta_data());
    a.permissions.extend(fp.permissions.iter().cloned());
    if a.version.is_none() {
        a.version = fp.version_name.clone();
    }
    if a.version_code.is_none() {
        a.version_code = fp.version_code.map(|v| v.to_string());
    }
    if let Some(p) = &fp.package {
        if *p != a.id {
            a.details.push(("apk_package".to_string(), p.clone()));
        }
    }
    for w in &fp.warnings {
        a.details
            .push(("fingerprint_warning".to_string(), w.clone()));
    }
}
