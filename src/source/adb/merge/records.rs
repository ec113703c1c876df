//! App records by (package, user) from the listings and dumpsys: versions, install times,
//! installer, system flag, and the install states (disabled, hidden, archived, data kept).

use std::collections::{BTreeMap, BTreeSet};

use super::Listing;
use crate::model::{AppRecord, SeenIn};
use crate::source::adb::caps::local_time_rfc3339;
use crate::source::adb::dumpsys::{Dumpsys, UserState};

/// The state of a package the phone knows but installed for no user appsweep could read: most
/// often uninstalled with its data kept (`pm uninstall -k`).
pub const DATA_KEPT: &str = "installed for no readable user (data kept)";

/// App records by (package, user).
pub type Apps = BTreeMap<(String, u32), AppRecord>;

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
            a.add_seen_in(SeenIn::PmList);
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
                    a.add_seen_in(SeenIn::Dumpsys);
                }
                user_state(a, state);
                continue;
            }
            let weak = !installed_anywhere && Some(u) == d.users.keys().next();
            if present || weak {
                let mut a = AppRecord::new(name.clone());
                a.user = Some(*u);
                a.installed = present;
                a.add_seen_in(SeenIn::Dumpsys);
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

#[cfg(test)]
mod tests {
    use super::super::samples::sample;
    use super::*;
    use crate::source::adb::dumpsys::parse_dumpsys_package;

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
}
