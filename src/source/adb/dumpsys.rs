//! `dumpsys package`: install state per user, versions, install times, code paths and flags of
//! every package, read from the `Packages:` section.
//!
//! The parser takes text (possibly with `\r\n` line ends, possibly truncated or hostile) and
//! never panics.

use std::collections::BTreeMap;

use super::parse::{is_package_name, lines};

/// Per-user state of a package in `dumpsys package`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub struct UserState {
    pub installed: bool,
    /// `enabled=2|3|4` (disabled by the app, the user, or until used): still installed.
    pub disabled: bool,
    /// `hidden=true` (hidden by a device admin): still installed.
    pub hidden: bool,
    /// Archived (Android 15): the APK is gone, data and icon stay, one tap reinstalls.
    pub archived: bool,
}

/// One `Package [name] (hash):` block of `dumpsys package`.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct DumpsysPackage {
    pub name: String,
    pub uid: Option<u32>,
    pub code_path: Option<String>,
    pub version_code: Option<String>,
    pub version_name: Option<String>,
    pub installer: Option<String>,
    pub first_install: Option<String>,
    pub last_update: Option<String>,
    /// `flags=[ SYSTEM ... ]`.
    pub system: bool,
    /// Split names from `splits=[base, config.arm64_v8a, config.xxhdpi:3]`, without `base`
    /// and revisions.
    pub splits: Vec<String>,
    /// `User N: ... installed=true|false`.
    pub users: BTreeMap<u32, UserState>,
}

/// Parsed `dumpsys package`.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Dumpsys {
    /// By package name (sorted).
    pub packages: BTreeMap<String, DumpsysPackage>,
    /// Whether a `Packages:` section was seen at all (a truncated or refused dump has none).
    pub saw_packages_section: bool,
    /// `*** SERVICE 'package' DUMP TIMEOUT (10000ms) EXPIRED ***`: dumpsys stopped the service
    /// and printed what it had (exit status 0): the dump is cut.
    pub timed_out: bool,
}

impl Dumpsys {
    /// Every user id that appears in a `User N:` line.
    pub fn users(&self) -> std::collections::BTreeSet<u32> {
        self.packages
            .values()
            .flat_map(|p| p.users.keys().copied())
            .collect()
    }
}

fn indent(line: &str) -> usize {
    line.len() - line.trim_start_matches(' ').len()
}

/// `User 0: ceDataInode=... installed=true hidden=false ... enabled=0 ...`: the user and its
/// state; `None` for the deeper `User N:` lines of sub-blocks (no `installed=`).
fn user_line(rest: &str) -> Option<(u32, UserState)> {
    let (id, fields) = rest.split_once(':')?;
    let id = id.trim().parse::<u32>().ok()?;
    let mut st = UserState::default();
    let mut seen = false;
    for f in fields.split_whitespace() {
        let Some((k, v)) = f.split_once('=') else {
            continue;
        };
        match k {
            "installed" => {
                seen = true;
                st.installed = v == "true";
            }
            "hidden" => st.hidden = v == "true",
            "enabled" => st.disabled = matches!(v, "2" | "3" | "4"),
            "archived" | "isArchived" => st.archived = v == "true",
            _ => {}
        }
    }
    seen.then_some((id, st))
}

/// `splits=[base, config.arm64_v8a, config.xxhdpi:3]` → `config.arm64_v8a`, `config.xxhdpi`.
fn splits(value: &str) -> Vec<String> {
    value
        .trim_matches(|c| c == '[' || c == ']')
        .split(',')
        .map(|s| s.trim().split(':').next().unwrap_or("").to_string())
        .filter(|s| !s.is_empty() && s != "base" && is_package_name(s))
        .collect()
}

/// `dumpsys package` (whole, its `packages` section, or one package). Reads only the top-level
/// `Packages:` section (the `Queries:` and `Package Changes:` sections also have `User N:`
/// lines that are not install states).
pub fn parse_dumpsys_package(text: &str) -> Dumpsys {
    let mut out = Dumpsys::default();
    let mut in_section = false;
    let mut current: Option<DumpsysPackage> = None;
    // The user whose `User N:` line came last (sub-lines such as `archiveState=` follow it).
    let mut last_user: Option<u32> = None;
    let finish = |cur: &mut Option<DumpsysPackage>, out: &mut Dumpsys| {
        if let Some(p) = cur.take() {
            out.packages.entry(p.name.clone()).or_insert(p);
        }
    };
    for line in lines(text) {
        if line.contains("DUMP TIMEOUT") {
            out.timed_out = true;
        }
        if line.trim().is_empty() {
            continue;
        }
        let ind = indent(line);
        let t = line.trim();
        if ind == 0 {
            finish(&mut current, &mut out);
            in_section = t == "Packages:";
            out.saw_packages_section |= in_section;
            continue;
        }
        if !in_section {
            continue;
        }
        if let Some(rest) = t.strip_prefix("Package [") {
            finish(&mut current, &mut out);
            last_user = None;
            if let Some((name, _)) = rest.split_once(']') {
                if is_package_name(name) {
                    current = Some(DumpsysPackage {
                        name: name.to_string(),
                        ..DumpsysPackage::default()
                    });
                }
            }
            continue;
        }
        let Some(pkg) = current.as_mut() else {
            continue;
        };
        if let Some(rest) = t.strip_prefix("User ") {
            if let Some((id, st)) = user_line(rest) {
                pkg.users.insert(id, st);
                last_user = Some(id);
            }
            continue;
        }
        let Some((key, value)) = t.split_once('=') else {
            continue;
        };
        let value = value.trim();
        let some = |v: &str| (!v.is_empty() && v != "null").then(|| v.to_string());
        match key {
            "userId" | "appId" => pkg.uid = value.parse().ok(),
            "codePath" => pkg.code_path = some(value),
            "versionCode" => {
                let v = value.split_whitespace().next().unwrap_or("");
                if !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()) {
                    pkg.version_code = Some(v.to_string());
                }
            }
            "versionName" => pkg.version_name = some(value),
            "installerPackageName" => pkg.installer = some(value),
            "firstInstallTime" => pkg.first_install = some(value),
            "lastUpdateTime" => pkg.last_update = some(value),
            "splits" => pkg.splits = splits(value),
            "archiveState" | "archiveTimeMillis" if some(value).is_some() && value != "0" => {
                if let Some(st) = last_user.and_then(|u| pkg.users.get_mut(&u)) {
                    st.archived = true;
                }
            }
            "flags" | "pkgFlags"
                if value
                    .trim_matches(|c| c == '[' || c == ']')
                    .split_whitespace()
                    .any(|f| f == "SYSTEM") =>
            {
                pkg.system = true;
            }
            _ => {}
        }
    }
    finish(&mut current, &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn third_party() -> std::path::PathBuf {
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/third_party")
    }

    fn capture(name: &str) -> String {
        let p = third_party()
            .join("android_captures/spytrap-adb")
            .join(name);
        std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
    }

    #[test]
    fn dumpsys_real_captures() {
        let d = parse_dumpsys_package(&capture("dumpsys_package_jitsi.txt"));
        assert!(d.saw_packages_section);
        assert_eq!(d.packages.len(), 1);
        let j = &d.packages["org.jitsi.meet"];
        assert_eq!(j.version_code.as_deref(), Some("214010"));
        assert_eq!(j.version_name.as_deref(), Some("21.4.1"));
        assert_eq!(j.installer.as_deref(), Some("com.android.packageinstaller"));
        assert_eq!(j.first_install.as_deref(), Some("2021-11-04 20:13:55"));
        assert_eq!(j.last_update.as_deref(), Some("2021-11-04 20:13:58"));
        assert_eq!(
            j.code_path.as_deref(),
            Some("/data/app/~~0aX7BWdP29TqZaPPXkHNIA==/org.jitsi.meet-hcYO-DrfCgXIZKdu4pcUeA==")
        );
        assert_eq!(j.uid, Some(10152));
        assert!(!j.system);
        // Only the Packages section's `User 0:` line counts (Queries/Package Changes have others).
        assert_eq!(j.users.len(), 1);
        assert!(j.users[&0].installed);

        let c = parse_dumpsys_package(&capture("dumpsys_package_contacts.txt"));
        let c = &c.packages["com.android.contacts"];
        assert!(c.system);
        assert_eq!(c.version_code.as_deref(), Some("10731"));
        assert_eq!(c.version_name.as_deref(), Some("1.7.31"));
        assert_eq!(c.installer, None);
        assert_eq!(
            c.code_path.as_deref(),
            Some("/system/product/priv-app/Contacts")
        );

        let f = parse_dumpsys_package(&capture("dumpsys_package_fdroid.txt"));
        let f = &f.packages["org.fdroid.fdroid"];
        assert_eq!(f.version_code.as_deref(), Some("1013051"));
        assert_eq!(f.version_name.as_deref(), Some("1.13.1"));
        assert_eq!(f.first_install.as_deref(), Some("2021-11-04 20:12:50"));
        assert!(f.users[&0].installed);
    }

    #[test]
    fn dumpsys_crlf_and_concatenated_captures() {
        let all = format!(
            "{}\n{}\n{}",
            capture("dumpsys_package_jitsi.txt"),
            capture("dumpsys_package_contacts.txt"),
            capture("dumpsys_package_fdroid.txt")
        );
        let crlf = all.replace('\n', "\r\n");
        let a = parse_dumpsys_package(&all);
        let b = parse_dumpsys_package(&crlf);
        assert_eq!(a, b);
        assert_eq!(a.packages.len(), 3);
        // Truncated anywhere: never panics, never invents a package.
        for cut in (0..all.len()).step_by(997) {
            if let Some(prefix) = all.get(..cut) {
                let d = parse_dumpsys_package(prefix);
                assert!(d.packages.keys().all(|k| a.packages.contains_key(k)));
            }
        }
    }

    #[test]
    fn dumpsys_multi_user() {
        let text = "Packages:\n  Package [com.zhiliaoapp.musically] (abc):\n    userId=10234\n    codePath=/data/app/~~x==/com.zhiliaoapp.musically-y==\n    versionCode=2024307030 minSdk=21 targetSdk=34\n    versionName=43.7.3\n    flags=[ HAS_CODE ]\n    User 0: ceDataInode=0 installed=false hidden=false\n    User 10: ceDataInode=5 installed=true hidden=false\n\nQueries:\n    User 11:\n";
        let d = parse_dumpsys_package(text);
        let t = &d.packages["com.zhiliaoapp.musically"];
        assert!(!t.users[&0].installed);
        assert!(t.users[&10].installed);
        assert_eq!(d.users().into_iter().collect::<Vec<_>>(), vec![0, 10]);
        assert!(!d.timed_out);
    }

    #[test]
    fn user_states_splits_and_timeout_table() {
        let text = "Packages:\n  Package [com.a] (1):\n    codePath=/data/app/~~x==/com.a-y==\n    splits=[base, config.arm64_v8a, config.xxhdpi:3]\n\
            \x20   User 0: ceDataInode=1 installed=true hidden=false suspended=false stopped=false notLaunched=false enabled=3 instant=false virtual=false\n\
            \x20   User 10: ceDataInode=2 installed=true hidden=true enabled=0\n\
            \x20   User 11: ceDataInode=3 installed=true hidden=false enabled=0\n\
            \x20     archiveState=ArchiveState{mActivityInfos=[], mInstallerTitle=Play Store}\n\
            \x20   User 12: ceDataInode=4 installed=true hidden=false enabled=0\n\
            \x20     archiveState=null\n\
            \x20   User 13: ceDataInode=5 installed=false hidden=false enabled=0\n\
            *** SERVICE 'package' DUMP TIMEOUT (10000ms) EXPIRED ***\n";
        let d = parse_dumpsys_package(text);
        assert!(d.timed_out);
        let a = &d.packages["com.a"];
        assert_eq!(a.splits, ["config.arm64_v8a", "config.xxhdpi"]);
        let st = |installed, disabled, hidden, archived| UserState {
            installed,
            disabled,
            hidden,
            archived,
        };
        let want = [
            (0, st(true, true, false, false)),
            (10, st(true, false, true, false)),
            (11, st(true, false, false, true)),
            (12, st(true, false, false, false)),
            (13, st(false, false, false, false)),
        ];
        assert_eq!(a.users.clone().into_iter().collect::<Vec<_>>(), want);
    }

    proptest::proptest! {
        #[test]
        fn never_panics(s in "(?s).{0,400}") {
            let _ = parse_dumpsys_package(&s);
        }

        #[test]
        fn structured_noise_never_panics(lines in proptest::collection::vec(
            "(  Package \\[|    User |    versionCode=|=|:|\\]|\\r|[a-z0-9 .=:/~]){0,12}", 0..30)) {
            let _ = parse_dumpsys_package(&format!("Packages:\n{}", lines.join("\n")));
        }
    }
}
