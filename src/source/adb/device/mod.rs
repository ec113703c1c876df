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
//!
//! The rounds live beside this module: `identity` (round 1), `packages` (round 2 and dumpsys),
//! `apks` (rounds 3-4 and the notes on how APK bytes were read); this module runs them in order
//! and assembles the inventory.

mod apks;
mod identity;
mod packages;

use apks::{pass, read_notes, Files};
use identity::{round_first, First};
use packages::{read_dumpsys, round_dumpsys, round_listing};

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddrV4;
use std::time::{Duration, Instant};

use crate::model::{DeviceInfo, Inventory, Platform, Problem, ScanStats, SourceKind};
use crate::source::adb::batch::RunError;
use crate::source::adb::cache::Cache;
use crate::source::adb::caps::Caps;
use crate::source::adb::dumpsys::Dumpsys;
use crate::source::adb::fingerprint::{FpCounters, Read};
use crate::source::adb::memo::Memo;
use crate::source::adb::merge::{self, Apps, Listing};
use crate::source::adb::transport::{device_max_payload, Channel, Device};
use crate::source::adb::{AdbOptions, DeviceEntry, DeviceState};

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
    log::info!("{}: {}", entry.serial, entry.state);
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
    if entry.state != DeviceState::Device {
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
    log::info!(
        "{}: Android SDK {}, {} channel, requests up to {} bytes, tools: {}",
        ctx.dev.serial,
        caps.sdk
            .map_or_else(|| "unknown".to_string(), |s| s.to_string()),
        caps.channel.prefix().trim_end_matches(':'),
        ctx.dev.max_command(),
        caps.tools
            .iter()
            .map(|t| format!("{t:?}"))
            .collect::<Vec<_>>()
            .join(" ")
    );
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
