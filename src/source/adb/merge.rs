//! The pure half of a phone scan: what the listings, `dumpsys package`, APK paths, sizes and
//! fingerprints say, merged into app records, problems and notes. No I/O: every function takes
//! what the rounds of [`super::device`] read and is tested on captured text.
//!
//! - [`coverage`]: which users were listed, and what a user that could not be listed costs (a
//!   problem, unless dumpsys showed that user's install states);
//! - [`records`]: one [`AppRecord`] per (package, user), from the listings and dumpsys;
//! - [`wanted`]: the packages whose APKs are fingerprinted (every installed app that is not a
//!   system app; not archived apps, which have no APK);
//! - [`assign_paths`]: base and split APKs per package, from the listing (`pm list packages
//!   -f`) and dumpsys (code path, split names): no `pm path` per package;
//! - [`targets`] and [`apply_stats`]: what `stat` (and `sha256sum`) said about the base APKs;
//! - [`apply_fingerprints`]: certificates and manifest markers into the records.

use std::collections::{BTreeMap, BTreeSet};

use super::cache::Fingerprint;
use super::caps::local_time_rfc3339;
use super::dumpsys::{Dumpsys, UserState};
use super::fingerprint::{FpResults, Target};
use super::parse::{parse_package_list, pm_failure, PmFailure, PmPackage, StatLine, UserInfo};
use crate::model::{AppRecord, Problem};

/// How listing one user's packages went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Listing {
    Ok(Vec<PmPackage>),
    Failed(PmFailure),
}

/// Flag sets for `pm list packages`, newest first: (flags, with `--user`, what this level
/// dropped).
pub const LIST_LEVELS: [(&str, bool, &str); 4] = [
    ("-f -U -i --show-versioncode", true, ""),
    ("-f -U -i", true, "--show-versioncode"),
    ("-f -i", true, "-U"),
    ("-f -i", false, "--user"),
];

/// The listing command for `user` at flag level `level`, through `pm` or (where the phone has
/// it, Android 7+) `cmd package`, which skips the Java VM start `pm` costs before Android 9;
/// `None` when that level cannot list this user (without `--user`, only user 0).
pub fn list_command(level: usize, user: u32, via_cmd: bool) -> Option<String> {
    let (flags, with_user, _) = LIST_LEVELS.get(level)?;
    let pm = if via_cmd { "cmd package" } else { "pm" };
    match (with_user, user) {
        (true, u) => Some(format!("{pm} list packages {flags} --user {u} 2>&1")),
        (false, 0) => Some(format!("{pm} list packages {flags} 2>&1")),
        (false, _) => None,
    }
}

/// What one listing attempt means.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ListStep {
    /// Listed; with a note when flags had to be dropped.
    Done(Listing, Option<String>),
    /// An older `pm` rejected a flag: try the next level.
    Retry(usize),
}

/// Classifies the output of [`list_command`] at `level` (the scan started at `first`) for the
/// user named `name`: a note says which flags were dropped after `first`. A listing
/// without a single package did not read the user (every Android user has system packages): a
/// locked Private Space or a paused profile lists nothing and exits 0.
pub fn list_step(level: usize, first: usize, name: &str, text: &str, rc: Option<i32>) -> ListStep {
    match pm_failure(text, rc) {
        None if parse_package_list(text).packages.is_empty() => ListStep::Done(
            Listing::Failed(PmFailure::Other(
                "it listed no package at all (a locked or paused profile)".to_string(),
            )),
            None,
        ),
        None => {
            let note = (level > first).then(|| {
                let dropped: Vec<&str> = LIST_LEVELS
                    .iter()
                    .take(level + 1)
                    .skip(first + 1)
                    .map(|l| l.2)
                    .collect();
                format!(
                    "{name}: `pm list packages` lacks {}; listed without (details from dumpsys)",
                    dropped.join(", ")
                )
            });
            ListStep::Done(Listing::Ok(parse_package_list(text).packages), note)
        }
        Some(f @ PmFailure::Refused(_)) => ListStep::Done(Listing::Failed(f), None),
        Some(_) if level + 1 < LIST_LEVELS.len() => ListStep::Retry(level + 1),
        Some(f) => ListStep::Done(Listing::Failed(f), None),
    }
}

/// The state of a package the phone knows but installed for no user appsweep could read: most
/// often uninstalled with its data kept (`pm uninstall -k`).
pub const DATA_KEPT: &str = "installed for no readable user (data kept)";

/// App records by (package, user).
pub type Apps = BTreeMap<(String, u32), AppRecord>;

/// `user 10 (Work profile)`, or `user 10` when `pm list users` did not name it.
pub fn user_name(users: &[UserInfo], id: u32) -> String {
    users
        .iter()
        .find(|u| u.id == id)
        .map(|u| format!("user {id} ({})", u.name))
        .unwrap_or_else(|| format!("user {id}"))
}

/// What the person at the phone should do about a user whose apps could not be read.
pub fn user_hint(user: Option<&UserInfo>, id: u32) -> &'static str {
    let name = user
        .map(|u| u.name.to_ascii_lowercase())
        .unwrap_or_default();
    let running = user.is_none_or(|u| u.running);
    if name.contains("private") {
        "unlock the Private Space on the phone (it stops its apps while locked), then run again"
    } else if name.contains("secure folder") || id == 150 {
        "open and unlock Secure Folder on the phone, then run again; if it still refuses, check the apps inside Secure Folder on the phone itself"
    } else if name.contains("work") || !running {
        "turn the profile on (unpause work apps) and unlock it, then run again"
    } else if matches!(id, 95 | 999) || name.contains("dual") || name.contains("second") {
        "open the cloned apps / second space once so it is running, then run again; if it still refuses, check its apps on the phone"
    } else {
        "switch to that user on the phone (or unlock it), then run again"
    }
}

/// What the listings cover.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Coverage {
    /// Users whose packages `pm list packages` gave.
    pub listed_ok: BTreeSet<u32>,
    pub problems: Vec<Problem>,
    pub notes: Vec<String>,
}

/// Every user that could not be listed is a note (dumpsys showed its install states, so its
/// apps come from there) or a problem (nothing showed its apps).
pub fn coverage(
    users: &[UserInfo],
    listings: &BTreeMap<u32, Listing>,
    dumpsys: &Dumpsys,
) -> Coverage {
    let dumpsys_users = dumpsys.users();
    let mut c = Coverage::default();
    for (u, l) in listings {
        let f = match l {
            Listing::Ok(_) => {
                c.listed_ok.insert(*u);
                continue;
            }
            Listing::Failed(f) => f,
        };
        let why = match f {
            PmFailure::Refused(m) => format!("refused: {m}"),
            PmFailure::UnsupportedOption(m) | PmFailure::Other(m) => m.clone(),
        };
        let name = user_name(users, *u);
        if dumpsys_users.contains(u) {
            c.notes.push(format!(
                "{name}: `pm list packages` failed ({why}); its apps were read from dumpsys package"
            ));
        } else {
            let hint = user_hint(users.iter().find(|x| x.id == *u), *u);
            c.problems.push(Problem::new(
                format!("user {u}"),
                format!("apps of {name} could not be listed ({why}), and dumpsys package shows no install state for this user: {hint}"),
            ));
        }
    }
    c
}

/// One record per (package, user) listed by `pm`, plus every (package, user) dumpsys shows
/// installed that no listing had. A package installed for no user at all (uninstalled with its
/// data kept) keeps one record, not installed, for its first user. Versions, install times
/// (RFC 3339 with the phone's UTC offset, when known), installer and the system flag come from
/// dumpsys when it has the package, else the system flag from the APK path (outside `/data/`).
/// Disabled, hidden and archived states are details; an archived app stays installed (its data
/// and account stay on the phone and one tap brings it back).
pub fn records(
    listings: &BTreeMap<u32, Listing>,
    dumpsys: &Dumpsys,
    utc_offset: Option<&str>,
) -> Apps {
    let mut apps: Apps = BTreeMap::new();
    for (u, l) in listings {
        let Listing::Ok(pkgs) = l else { continue };
        for p in pkgs {
            let mut a = AppRecord::new(p.name.clone());
            a.user = Some(*u);
            a.add_seen_in("pm_list");
            a.path = p.path.clone().filter(|p| p.starts_with('/'));
            a.version_code = p.version_code.clone();
            a.installer = p.installer.clone();
            if let Some(uid) = p.uid {
                a.details.push(("uid".to_string(), uid.to_string()));
            }
            apps.insert((p.name.clone(), *u), a);
        }
    }
    for (name, d) in &dumpsys.packages {
        let installed_anywhere = d.users.values().any(|s| s.installed || s.archived);
        for (u, state) in &d.users {
            let key = (name.clone(), *u);
            let present = state.installed || state.archived;
            if let Some(a) = apps.get_mut(&key) {
                if present {
                    a.add_seen_in("dumpsys");
                }
                user_state(a, state);
                continue;
            }
            let weak = !installed_anywhere && Some(u) == d.users.keys().next();
            if present || weak {
                let mut a = AppRecord::new(name.clone());
                a.user = Some(*u);
                a.installed = present;
                a.add_seen_in("dumpsys");
                if weak {
                    a.details.push(("state".to_string(), DATA_KEPT.to_string()));
                }
                user_state(&mut a, state);
                apps.insert(key, a);
            }
        }
    }
    for ((name, _), a) in apps.iter_mut() {
        if let Some(d) = dumpsys.packages.get(name) {
            a.version = d.version_name.clone();
            if a.version_code.is_none() {
                a.version_code = d.version_code.clone();
            }
            if a.installer.is_none() {
                a.installer = d.installer.clone();
            }
            for (field, local, key) in [
                (
                    &mut a.first_install,
                    &d.first_install,
                    "first_install_local",
                ),
                (&mut a.last_update, &d.last_update, "last_update_local"),
            ] {
                let Some(local) = local else { continue };
                match utc_offset.and_then(|o| local_time_rfc3339(local, o)) {
                    Some(t) => *field = Some(t),
                    None => a.details.push((key.to_string(), local.clone())),
                }
            }
            a.system = d.system;
            if let Some(cp) = &d.code_path {
                a.details.push(("code_path".to_string(), cp.clone()));
            }
        } else if let Some(p) = &a.path {
            a.system = !p.starts_with("/data/");
        }
    }
    apps
}

fn user_state(a: &mut AppRecord, st: &UserState) {
    for (on, what) in [
        (st.archived, "archived"),
        (st.disabled, "disabled"),
        (st.hidden, "hidden"),
    ] {
        if on {
            a.details.push(("state".to_string(), what.to_string()));
        }
    }
    if st.archived {
        a.installed = true;
    }
}

/// Whether a record is archived (no APK on the phone, by design).
pub fn archived(a: &AppRecord) -> bool {
    a.details
        .iter()
        .any(|(k, v)| k == "state" && v == "archived")
}

/// The packages to fingerprint: installed, not archived (no APK) and not system apps (the
/// same APK on the system partition for every user).
pub fn wanted(apps: &Apps) -> BTreeSet<String> {
    apps.iter()
        .filter(|(_, a)| a.installed && !archived(a) && !a.system)
        .map(|((name, _), _)| name.clone())
        .collect()
}

/// The base APK of a package that only dumpsys knows: `CODEPATH/base.apk` for an installed
/// app, `CODEPATH/NAME.apk` for a system app's folder (`/system/app/Foo` → `Foo.apk`).
fn base_from_code_path(cp: &str) -> String {
    if cp.ends_with(".apk") {
        return cp.to_string();
    }
    let dir = cp.trim_end_matches('/');
    if dir.starts_with("/data/") {
        return format!("{dir}/base.apk");
    }
    let last = dir.rsplit('/').next().unwrap_or("base");
    format!("{dir}/{last}.apk")
}

/// The base APK of each wanted package (the listed path, else from dumpsys' code path), written
/// into every record of the package with the split APKs dumpsys names. A package with no path
/// at all is a problem.
pub fn assign_paths(
    apps: &mut Apps,
    wanted: &BTreeSet<String>,
    dumpsys: &Dumpsys,
) -> (BTreeMap<String, String>, Vec<Problem>) {
    let mut base_of = BTreeMap::new();
    let mut problems = Vec::new();
    for name in wanted {
        let range = (name.clone(), 0)..=(name.clone(), u32::MAX);
        let listed = apps.range(range.clone()).find_map(|(_, a)| a.path.clone());
        let d = dumpsys.packages.get(name);
        let base = listed.or_else(|| {
            d.and_then(|d| d.code_path.as_deref())
                .map(base_from_code_path)
        });
        let Some(base) = base else {
            problems.push(Problem::new(
                format!("app {name}"),
                "no APK path found (the listing and dumpsys gave none): not fingerprinted",
            ));
            continue;
        };
        let splits: Vec<String> = match (d, base.strip_suffix("/base.apk")) {
            (Some(d), Some(dir)) => d
                .splits
                .iter()
                .map(|s| format!("{dir}/split_{s}.apk"))
                .collect(),
            _ => Vec::new(),
        };
        for (_, a) in apps.range_mut(range) {
            a.path = Some(base.clone());
            a.split_paths = splits.clone();
        }
        base_of.insert(name.clone(), base);
    }
    (base_of, problems)
}

/// The APKs to fingerprint (one per distinct base path), and a problem for each base APK that
/// `stat` did not report.
pub fn targets(
    base_of: &BTreeMap<String, String>,
    stats: &BTreeMap<String, StatLine>,
) -> (Vec<Target>, Vec<Problem>) {
    let mut targets = Vec::new();
    let mut problems = Vec::new();
    for (name, base) in base_of {
        match stats.get(base) {
            Some(s) => targets.push(Target {
                path: base.clone(),
                size: s.size,
                mtime: s.mtime,
            }),
            None => problems.push(Problem::new(
                format!("app {name}"),
                format!("base APK {base} could not be read (stat failed): not fingerprinted"),
            )),
        }
    }
    targets.sort_by(|a, b| a.path.cmp(&b.path));
    targets.dedup_by(|a, b| a.path == b.path);
    (targets, problems)
}

/// Sizes (and file hashes) into the records whose path `stat` (and `sha256sum`) reported.
pub fn apply_stats(
    apps: &mut Apps,
    stats: &BTreeMap<String, StatLine>,
    hashes: &BTreeMap<String, String>,
) {
    for a in apps.values_mut() {
        let Some(p) = &a.path else { continue };
        if let Some(s) = stats.get(p) {
            a.size = Some(s.size);
        }
        if let Some(h) = hashes.get(p) {
            a.file_sha256 = Some(h.clone());
        }
    }
}

/// Fingerprints into the records of each fingerprinted package; a failed APK is one problem
/// per package (none when the device was lost: that is reported once, by the caller).
pub fn apply_fingerprints(
    apps: &mut Apps,
    base_of: &BTreeMap<String, String>,
    results: &FpResults,
    device_lost: bool,
) -> Vec<Problem> {
    let mut problems = Vec::new();
    let mut reported: BTreeSet<String> = BTreeSet::new();
    for ((name, _), a) in apps.iter_mut() {
        let Some(p) = a.path.clone() else { continue };
        if !base_of.contains_key(name) {
            continue;
        }
        match results.get(&p) {
            Some(Ok(fp)) => apply(a, fp),
            Some(Err(e)) if !device_lost && reported.insert(name.clone()) => {
                problems.push(Problem::new(
                    format!("app {name}"),
                    format!("base APK {p} could not be fingerprinted: {e}"),
                ));
            }
            Some(Err(_)) | None => {}
        }
    }
    problems
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::adb::dumpsys::parse_dumpsys_package;
    use crate::source::adb::parse::parse_users;

    const USERS: &str =
        "Users:\n\tUserInfo{0:Owner:c13} running\n\tUserInfo{10:Work profile:1030} running\n";
    const LIST0: &str = "package:/data/app/~~Qw==/org.fdroid.fdroid-Er==/base.apk=org.fdroid.fdroid versionCode:1019050 installer=null uid:10150\n\
        package:/system/priv-app/Settings/Settings.apk=com.android.settings versionCode:34 installer=null uid:1000\n";
    const REFUSED: &str = "Exception occurred while executing 'list':\njava.lang.SecurityException: Shell does not have permission to access user 10\n";
    const DUMPSYS: &str = "Packages:\n\
        \x20 Package [com.zhiliaoapp.musically] (1a2b):\n\
        \x20   userId=10234\n\
        \x20   codePath=/data/app/~~AbC==/com.zhiliaoapp.musically-XyZ==\n\
        \x20   versionCode=2024307030 minSdk=21 targetSdk=34\n\
        \x20   versionName=43.7.3\n\
        \x20   flags=[ HAS_CODE ALLOW_CLEAR_USER_DATA ]\n\
        \x20   firstInstallTime=2024-05-01 10:00:00\n\
        \x20   lastUpdateTime=2024-05-02 10:00:00\n\
        \x20   installerPackageName=com.android.vending\n\
        \x20   User 0: ceDataInode=0 installed=false hidden=false\n\
        \x20   User 10: ceDataInode=5 installed=true hidden=false\n\
        \x20 Package [org.fdroid.fdroid] (3c4d):\n\
        \x20   userId=10150\n\
        \x20   codePath=/data/app/~~Qw==/org.fdroid.fdroid-Er==\n\
        \x20   versionCode=1019050 minSdk=21 targetSdk=34\n\
        \x20   versionName=1.19.5\n\
        \x20   flags=[ HAS_CODE ]\n\
        \x20   User 0: ceDataInode=7 installed=true hidden=false\n\
        \x20   User 10: ceDataInode=0 installed=false hidden=false\n\
        \x20 Package [com.android.settings] (5e6f):\n\
        \x20   userId=1000\n\
        \x20   codePath=/system/priv-app/Settings\n\
        \x20   versionName=14\n\
        \x20   flags=[ SYSTEM HAS_CODE ]\n\
        \x20   User 0: ceDataInode=1 installed=true hidden=false\n\
        \x20   User 10: ceDataInode=2 installed=true hidden=false\n\
        \x20 Package [com.example.gone] (7a8b):\n\
        \x20   userId=10300\n\
        \x20   codePath=/data/app/com.example.gone-1\n\
        \x20   flags=[ HAS_CODE ]\n\
        \x20   User 0: ceDataInode=9 installed=false hidden=false\n\
        \x20   User 10: ceDataInode=0 installed=false hidden=false\n";

    fn listing(text: &str, rc: i32) -> Listing {
        match pm_failure(text, Some(rc)) {
            None => Listing::Ok(parse_package_list(text).packages),
            Some(f) => Listing::Failed(f),
        }
    }

    fn sample() -> (Vec<UserInfo>, BTreeMap<u32, Listing>, Dumpsys) {
        let users = parse_users(USERS);
        let listings = BTreeMap::from([(0, listing(LIST0, 0)), (10, listing(REFUSED, 255))]);
        (users, listings, parse_dumpsys_package(DUMPSYS))
    }

    #[test]
    fn refused_user_is_a_note_when_dumpsys_has_it_else_a_problem() {
        let (users, listings, dumpsys) = sample();
        let c = coverage(&users, &listings, &dumpsys);
        assert_eq!(c.listed_ok, BTreeSet::from([0]));
        assert!(c.problems.is_empty(), "{c:?}");
        assert_eq!(c.notes.len(), 1);
        assert!(c.notes[0].starts_with("user 10 (Work profile): `pm list packages` failed (refused: java.lang.SecurityException"), "{c:?}");

        let c = coverage(&users, &listings, &Dumpsys::default());
        assert_eq!(c.problems.len(), 1);
        assert_eq!(c.problems[0].scope, "user 10");
        assert!(c.problems[0].message.contains("could not be listed"));
    }

    #[test]
    fn records_table() {
        let (_, listings, dumpsys) = sample();
        let apps = records(&listings, &dumpsys, Some("+02:00"));
        // (package, user, installed, system, seen_in, version, first_install)
        type Row<'a> = (
            &'a str,
            u32,
            bool,
            bool,
            &'a str,
            Option<&'a str>,
            Option<&'a str>,
        );
        let want: &[Row] = &[
            (
                "com.android.settings",
                0,
                true,
                true,
                "dumpsys,pm_list",
                Some("14"),
                None,
            ),
            (
                "com.android.settings",
                10,
                true,
                true,
                "dumpsys",
                Some("14"),
                None,
            ),
            ("com.example.gone", 0, false, false, "dumpsys", None, None),
            (
                "com.zhiliaoapp.musically",
                10,
                true,
                false,
                "dumpsys",
                Some("43.7.3"),
                Some("2024-05-01T10:00:00+02:00"),
            ),
            (
                "org.fdroid.fdroid",
                0,
                true,
                false,
                "dumpsys,pm_list",
                Some("1.19.5"),
                None,
            ),
        ];
        let got: Vec<_> = apps
            .iter()
            .map(|((n, u), a)| {
                (
                    n.as_str(),
                    *u,
                    a.installed,
                    a.system,
                    a.seen_in.join(","),
                    a.version.as_deref(),
                    a.first_install.as_deref(),
                )
            })
            .collect();
        let got: Vec<_> = got
            .iter()
            .map(|(n, u, i, s, seen, v, f)| (*n, *u, *i, *s, seen.as_str(), *v, *f))
            .collect();
        assert_eq!(got, want);
        let t = &apps[&("com.zhiliaoapp.musically".to_string(), 10)];
        assert_eq!(t.version_code.as_deref(), Some("2024307030"));
        assert_eq!(t.installer.as_deref(), Some("com.android.vending"));
        let f = &apps[&("org.fdroid.fdroid".to_string(), 0)];
        assert_eq!(f.version_code.as_deref(), Some("1019050"));
        assert!(f
            .details
            .contains(&("uid".to_string(), "10150".to_string())));
    }

    #[test]
    fn without_dumpsys_the_system_flag_comes_from_the_path() {
        let (_, listings, _) = sample();
        let apps = records(&listings, &Dumpsys::default(), None);
        assert!(apps[&("com.android.settings".to_string(), 0)].system);
        assert!(!apps[&("org.fdroid.fdroid".to_string(), 0)].system);
        assert_eq!(apps.len(), 2);
    }

    #[test]
    fn wanted_and_paths() {
        let (_, listings, dumpsys) = sample();
        let mut apps = records(&listings, &dumpsys, None);
        let w = wanted(&apps);
        let names: Vec<&str> = w.iter().map(String::as_str).collect();
        assert_eq!(names, ["com.zhiliaoapp.musically", "org.fdroid.fdroid"]);
        let (base_of, problems) = assign_paths(&mut apps, &w, &dumpsys);
        assert!(problems.is_empty());
        // Only dumpsys knows TikTok (user 10 refused): its code path gives the base APK.
        assert_eq!(
            base_of["com.zhiliaoapp.musically"],
            "/data/app/~~AbC==/com.zhiliaoapp.musically-XyZ==/base.apk"
        );
        assert!(!base_of.contains_key("com.android.settings"));
        assert_eq!(
            base_from_code_path("/system/priv-app/Settings"),
            "/system/priv-app/Settings/Settings.apk"
        );
        assert_eq!(
            base_from_code_path("/system/app/Foo/"),
            "/system/app/Foo/Foo.apk"
        );
        let stats = BTreeMap::from([(
            base_of["org.fdroid.fdroid"].clone(),
            StatLine {
                size: 10,
                mtime: 5,
                path: base_of["org.fdroid.fdroid"].clone(),
            },
        )]);
        let (t, problems) = targets(&base_of, &stats);
        assert_eq!(t.len(), 1);
        assert_eq!(problems.len(), 1, "{problems:?}");
        apply_stats(&mut apps, &stats, &BTreeMap::new());
        assert_eq!(apps[&("org.fdroid.fdroid".to_string(), 0)].size, Some(10));
    }

    #[test]
    fn splits_come_from_dumpsys_and_times_without_offset_stay_local() {
        let text = "Packages:\n  Package [com.a] (1):\n    codePath=/data/app/~~x==/com.a-y==\n    splits=[base, config.arm64_v8a]\n    firstInstallTime=2024-01-02 03:04:05\n    User 0: ceDataInode=1 installed=true hidden=false enabled=3\n";
        let d = parse_dumpsys_package(text);
        let mut apps = records(&BTreeMap::new(), &d, None);
        let w = wanted(&apps);
        let (base_of, _) = assign_paths(&mut apps, &w, &d);
        let a = &apps[&("com.a".to_string(), 0)];
        assert_eq!(base_of["com.a"], "/data/app/~~x==/com.a-y==/base.apk");
        assert_eq!(
            a.split_paths,
            ["/data/app/~~x==/com.a-y==/split_config.arm64_v8a.apk"]
        );
        assert_eq!(a.first_install, None);
        assert!(a.details.contains(&(
            "first_install_local".to_string(),
            "2024-01-02 03:04:05".to_string()
        )));
        // Disabled is still installed.
        assert!(a.installed);
        assert!(a
            .details
            .contains(&("state".to_string(), "disabled".to_string())));
    }

    #[test]
    fn archived_and_data_kept_table() {
        let text = "Packages:\n\
            \x20 Package [com.zhiliaoapp.musically] (1):\n    codePath=/data/app/com.zhiliaoapp.musically-1\n\
            \x20   User 0: ceDataInode=1 installed=true hidden=false enabled=0\n      archiveState=ArchiveState{mActivityInfos=[]}\n\
            \x20 Package [com.ss.android.ugc.trill] (2):\n    codePath=/data/app/com.ss.android.ugc.trill-1\n\
            \x20   User 0: ceDataInode=2 installed=false hidden=false enabled=0\n\
            \x20   User 10: ceDataInode=0 installed=false hidden=false enabled=0\n";
        let d = parse_dumpsys_package(text);
        let apps = records(&BTreeMap::new(), &d, None);
        let t = &apps[&("com.zhiliaoapp.musically".to_string(), 0)];
        assert!(t.installed && archived(t));
        let k = &apps[&("com.ss.android.ugc.trill".to_string(), 0)];
        assert!(!k.installed);
        assert!(k
            .details
            .contains(&("state".to_string(), DATA_KEPT.to_string())));
        assert!(!apps.contains_key(&("com.ss.android.ugc.trill".to_string(), 10)));
        // Neither has an APK to read.
        assert!(wanted(&apps).is_empty());
    }

    #[test]
    fn hints_for_users_that_refuse() {
        let users = parse_users("Users:\n\tUserInfo{0:Owner:c13} running\n\tUserInfo{11:Private space:1010}\n\tUserInfo{150:Secure Folder:10061030} running\n\tUserInfo{95:DUAL_APP:20000010} running\n\tUserInfo{10:Work profile:1030}\n");
        let hint = |id| user_hint(users.iter().find(|u| u.id == id), id);
        assert!(hint(11).contains("unlock the Private Space"));
        assert!(hint(150).contains("Secure Folder"));
        assert!(hint(95).contains("cloned apps"));
        assert!(hint(999).contains("cloned apps"));
        assert!(hint(10).contains("work apps"));
    }

    #[test]
    fn listing_fallbacks_table() {
        let ok = "package:/data/app/a-1/base.apk=com.a\n";
        let unknown_stdout = "Error: Unknown option: -U\n"; // Android 7: on stdout, exit 0
        let unknown = "Error: Unknown option: --show-versioncode\n";
        let table: &[(usize, &str, i32, ListStep)] = &[
            (0, ok, 0, ListStep::Done(listing(ok, 0), None)),
            (0, unknown, 255, ListStep::Retry(1)),
            (1, unknown_stdout, 0, ListStep::Retry(2)),
            (3, unknown, 1, ListStep::Done(listing(unknown, 1), None)),
            (0, REFUSED, 255, ListStep::Done(listing(REFUSED, 255), None)),
        ];
        for (level, text, rc, want) in table {
            assert_eq!(
                &list_step(*level, 0, "user 0", text, Some(*rc)),
                want,
                "{level} {text}"
            );
        }
        // Started at level 2 by SDK: nothing was dropped, no note.
        assert!(matches!(
            list_step(2, 2, "user 0", ok, Some(0)),
            ListStep::Done(_, None)
        ));
        let ListStep::Done(_, Some(note)) = list_step(2, 0, "user 0", ok, Some(0)) else {
            panic!("a note is expected");
        };
        assert_eq!(note, "user 0: `pm list packages` lacks --show-versioncode, -U; listed without (details from dumpsys)");
        assert_eq!(list_command(3, 10, false), None);
        assert_eq!(
            list_command(3, 0, false).unwrap(),
            "pm list packages -f -i 2>&1"
        );
        assert_eq!(
            list_command(0, 10, true).unwrap(),
            "cmd package list packages -f -U -i --show-versioncode --user 10 2>&1"
        );
        assert!(matches!(
            list_step(0, 0, "user 11", "", Some(0)),
            ListStep::Done(Listing::Failed(PmFailure::Other(_)), None)
        ));
    }

    #[test]
    fn a_package_without_any_path_is_a_problem() {
        let mut apps = Apps::new();
        let mut a = AppRecord::new("com.x");
        a.user = Some(0);
        apps.insert(("com.x".to_string(), 0), a);
        let w = BTreeSet::from(["com.x".to_string()]);
        let (base_of, problems) = assign_paths(&mut apps, &w, &Dumpsys::default());
        assert!(base_of.is_empty());
        assert_eq!(problems[0].scope, "app com.x");
    }
}
