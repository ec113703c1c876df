//! Round 2: every user's package list (with fallbacks for older `pm`s), and `dumpsys package`
//! in its own service.

use super::{split, Ctx, Out};
use std::collections::{BTreeMap, BTreeSet};

use crate::model::Problem;
use crate::source::adb::batch::{run_parts, PartOutput, RunError};
use crate::source::adb::caps::Caps;
use crate::source::adb::dumpsys::{parse_dumpsys_package, Dumpsys};
use crate::source::adb::merge::{self, ListStep, Listing};
use crate::source::adb::parse::{PmFailure, UserInfo};

/// Parallel services for the listing round (one user per service).
const LIST_SPREAD: usize = 4;

/// `dumpsys package packages` (only the section the scan needs), in its own service.
pub(super) fn round_dumpsys(ctx: &Ctx<'_>) -> Result<PartOutput, RunError> {
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
pub(super) fn read_dumpsys(out: &mut Out, r: Option<Result<PartOutput, RunError>>) -> Dumpsys {
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
pub(super) fn round_listing(
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
