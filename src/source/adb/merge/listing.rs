//! Listing each user's packages: the `pm list packages` command per flag level, what an
//! attempt means (done, or retry with fewer flags), and what the listings cover.

use std::collections::{BTreeMap, BTreeSet};

use crate::model::Problem;
use crate::source::adb::dumpsys::Dumpsys;
use crate::source::adb::parse::{parse_package_list, pm_failure, PmFailure, PmPackage, UserInfo};

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

#[cfg(test)]
mod tests {
    use super::super::samples::{listing, sample, REFUSED};
    use super::*;
    use crate::source::adb::parse::parse_users;

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
}
