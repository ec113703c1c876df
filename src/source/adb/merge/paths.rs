//! APK paths of the wanted packages (base and splits, from the listing and dumpsys), and what
//! `stat`, `sha256sum` and the fingerprint rounds read about them, into the records.

use std::collections::{BTreeMap, BTreeSet};

use super::Apps;
use crate::model::{Problem, Sha256};
use crate::source::adb::dumpsys::Dumpsys;
use crate::source::adb::fingerprint::{FpResults, Target};
use crate::source::adb::parse::StatLine;

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
            a.file_sha256 = Sha256::parse(h);
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
            Some(Ok(fp)) => {
                fp.fill(a);
                if let Some(why) = &fp.partial {
                    problems.push(Problem::new(
                        format!("app {name}"),
                        format!("base APK {p} read in part: {why}"),
                    ));
                }
            }
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

#[cfg(test)]
mod tests {
    use super::super::samples::sample;
    use super::super::{records, wanted};
    use super::*;
    use crate::model::AppRecord;
    use crate::source::adb::dumpsys::parse_dumpsys_package;

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
