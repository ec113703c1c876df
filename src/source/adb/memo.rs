//! What the last complete `dumpsys package` of a phone said, kept so that a re-scan of an
//! unchanged phone does not wait for dumpsys again (on a phone with hundreds of packages
//! dumpsys takes seconds, far more than the rest of a re-scan).
//!
//! One JSON file per device (`adb-<serial>.dumpsys.json` beside the fingerprint cache), written
//! only after a dump that was whole (no `DUMP TIMEOUT`, a Packages section). It is used only
//! when the package lists of this scan prove nothing changed that dumpsys would tell ([`Memo::
//! covers`]): every user listed, the same users as then, and exactly the same (package, user,
//! APK path) triples installed. Anything else (a new or updated app, an uninstalled one, a
//! user that refuses listing) runs dumpsys as a cold scan does. A missing, unreadable or
//! foreign file is ignored.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::dumpsys::Dumpsys;
use super::merge::Listing;

const VERSION: u32 = 1;

/// The dump and the package lists it was taken with.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Memo {
    version: u32,
    serial: String,
    /// `ro.build.fingerprint`-like identity of the phone's software: a system update drops it.
    build: String,
    /// (package, user) → listed base APK path, for every app the lists showed.
    listed: BTreeMap<String, BTreeMap<u32, Option<String>>>,
    pub dumpsys: Dumpsys,
}

fn path(dir: Option<&Path>, serial: &str) -> Option<PathBuf> {
    super::cache::device_file(dir, serial, ".dumpsys.json")
}

/// The (package, user) → path map of the listings; `None` if a user was not listed.
fn listed(
    listings: &BTreeMap<u32, Listing>,
) -> Option<BTreeMap<String, BTreeMap<u32, Option<String>>>> {
    let mut m: BTreeMap<String, BTreeMap<u32, Option<String>>> = BTreeMap::new();
    for (u, l) in listings {
        let Listing::Ok(pkgs) = l else { return None };
        for p in pkgs {
            m.entry(p.name.clone())
                .or_default()
                .insert(*u, p.path.clone());
        }
    }
    Some(m)
}

impl Memo {
    /// A memo of a whole dump taken with these listings (`None` when the dump was cut or a user
    /// was not listed: nothing to trust later).
    pub fn new(
        serial: &str,
        build: &str,
        listings: &BTreeMap<u32, Listing>,
        dumpsys: &Dumpsys,
    ) -> Option<Memo> {
        if dumpsys.timed_out || !dumpsys.saw_packages_section {
            return None;
        }
        Some(Memo {
            version: VERSION,
            serial: serial.to_string(),
            build: build.to_string(),
            listed: listed(listings)?,
            dumpsys: dumpsys.clone(),
        })
    }

    /// The memo of `serial` in `dir`, if there is a readable one.
    pub fn load(dir: Option<&Path>, serial: &str) -> Option<Memo> {
        let m: Memo = super::cache::load_json(&path(dir, serial)?)?;
        (m.version == VERSION && m.serial == serial).then_some(m)
    }

    /// Whether this scan shows exactly what the memo's did: the same build, the same users,
    /// every one listed, the same apps at the same paths. Then dumpsys would say what it said
    /// then.
    pub fn covers(&self, build: &str, listings: &BTreeMap<u32, Listing>) -> bool {
        let users: BTreeSet<u32> = listings.keys().copied().collect();
        self.build == build
            && listed(listings).is_some_and(|now| now == self.listed)
            && self.dumpsys.users().iter().all(|u| users.contains(u))
    }

    /// Writes the memo atomically, readable by the owner only.
    pub fn save(&self, dir: Option<&Path>) -> std::io::Result<()> {
        match path(dir, &self.serial) {
            Some(p) => super::cache::save_json(&p, self),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::adb::dumpsys::parse_dumpsys_package;
    use crate::source::adb::parse::parse_package_list;

    fn listing(text: &str) -> Listing {
        Listing::Ok(parse_package_list(text).packages)
    }

    const DUMP: &str = "Packages:\n  Package [com.a] (1):\n    codePath=/data/app/com.a-1\n    User 0: ceDataInode=1 installed=true hidden=false enabled=0\n    User 10: ceDataInode=2 installed=true hidden=false enabled=0\n";

    #[test]
    fn covers_only_the_same_users_apps_and_paths() {
        let same = BTreeMap::from([
            (0, listing("package:/data/app/com.a-1/base.apk=com.a\n")),
            (10, listing("package:/data/app/com.a-1/base.apk=com.a\n")),
        ]);
        let d = parse_dumpsys_package(DUMP);
        let m = Memo::new("S", "b1", &same, &d).unwrap();
        assert!(m.covers("b1", &same));
        assert!(!m.covers("b2", &same));
        // An update moves the APK.
        let updated = BTreeMap::from([
            (0, listing("package:/data/app/com.a-2/base.apk=com.a\n")),
            (10, listing("package:/data/app/com.a-1/base.apk=com.a\n")),
        ]);
        assert!(!m.covers("b1", &updated));
        // A new app, an uninstalled one, a user gone or refusing.
        let added = BTreeMap::from([
            (0, listing("package:/data/app/com.a-1/base.apk=com.a\npackage:/data/app/com.b-1/base.apk=com.b\n")),
            (10, listing("package:/data/app/com.a-1/base.apk=com.a\n")),
        ]);
        assert!(!m.covers("b1", &added));
        let removed = BTreeMap::from([
            (0, listing("package:/data/app/com.a-1/base.apk=com.a\n")),
            (10, listing("")),
        ]);
        assert!(!m.covers("b1", &removed));
        let gone = BTreeMap::from([(0, listing("package:/data/app/com.a-1/base.apk=com.a\n"))]);
        assert!(!m.covers("b1", &gone));
        let refused = BTreeMap::from([
            (0, listing("package:/data/app/com.a-1/base.apk=com.a\n")),
            (
                10,
                Listing::Failed(crate::source::adb::parse::PmFailure::Refused("x".into())),
            ),
        ]);
        assert!(!m.covers("b1", &refused));
        assert!(Memo::new("S", "b1", &refused, &d).is_none());
    }

    #[test]
    fn a_cut_dump_is_never_kept_and_files_round_trip() {
        let l = BTreeMap::from([(0, listing("package:/data/app/com.a-1/base.apk=com.a\n"))]);
        let cut = parse_dumpsys_package(&format!(
            "{DUMP}*** SERVICE 'package' DUMP TIMEOUT (10000ms) EXPIRED ***\n"
        ));
        assert!(Memo::new("S", "b1", &l, &cut).is_none());
        let dir = tempfile::tempdir().unwrap();
        let m = Memo::new("127.0.0.1:5555", "b1", &l, &parse_dumpsys_package(DUMP)).unwrap();
        m.save(Some(dir.path())).unwrap();
        assert_eq!(Memo::load(Some(dir.path()), "127.0.0.1:5555"), Some(m));
        assert_eq!(Memo::load(Some(dir.path()), "other"), None);
        assert_eq!(Memo::load(None, "127.0.0.1:5555"), None);
    }
}
