//! `dumpsys package` per Android version: sections, options, `User N:` lines, and the cut after
//! dumpsys's 10 s per-service budget.

use super::{files, setup, stderr, stdout, Files};
use crate::support::fakephone::{AdbServer, FakePhone};
use crate::support::phones::{self, Place, TIKTOK};
use serde_json::Value;
use std::time::{Duration, Instant};

const TIMEOUT_LINE: &str = "*** SERVICE 'package' DUMP TIMEOUT (10000ms) EXPIRED ***";

fn scenario(sdk: u32, place: Place, f: &Files) -> Value {
    let apks = phones::Apks {
        tiktok: &f.apk,
        split: Some(&f.split),
        clean: &f.split,
    };
    let mut sc = phones::phone(sdk, place, &apks);
    sc["costs"]["scale"] = 0.into();
    sc
}

fn dump(server: &AdbServer, phone: &FakePhone, args: &str) -> (String, Option<i32>) {
    let out = server.shell(&phone.serial(), &format!("dumpsys {args}"));
    (stdout(&out).replace("\r\n", "\n"), out.status.code())
}

fn blocks(text: &str) -> usize {
    text.matches("\n  Package [").count()
}

#[test]
fn user_lines_and_sections_follow_the_version() {
    let Some((server, f)) = setup() else { return };
    for (sdk, user_line, version_line) in [
        (
            23,
            "    User 0: installed=true hidden=false stopped=false notLaunched=false enabled=0\n",
            "    versionCode=2024307030 targetSdk=23\n",
        ),
        (
            25,
            "installed=true hidden=false suspended=false stopped=false notLaunched=false enabled=0\n",
            "    versionCode=2024307030 targetSdk=25\n",
        ),
        (
            34,
            "installed=true hidden=false suspended=false distractionFlags=0 stopped=false notLaunched=false enabled=0 instant=false virtual=false\n",
            "    versionCode=2024307030 minSdk=24 targetSdk=34\n",
        ),
    ] {
        let phone = FakePhone::spawn(&server, scenario(sdk, Place::Owner, &f));
        let (one, _) = dump(&server, &phone, &format!("package {TIKTOK}"));
        assert!(one.contains(user_line), "SDK {sdk}: {one}");
        assert!(one.contains(version_line), "SDK {sdk}: {one}");
        if sdk >= 24 {
            assert!(one.contains("    User 0: ceDataInode="), "SDK {sdk}");
        }
        // The whole dump, and the Packages section alone.
        let (whole, code) = dump(&server, &phone, "package");
        assert_eq!(code, Some(0));
        assert!(whole.starts_with("Database versions:\n"), "SDK {sdk}");
        assert!(whole.contains("\nDexopt state:\n"), "SDK {sdk}");
        assert_eq!(blocks(&whole), 4, "SDK {sdk}");
        let (section, _) = dump(&server, &phone, "package packages");
        assert!(section.starts_with("Packages:\n  Package ["), "SDK {sdk}: {section}");
        assert!(!section.contains("Database versions:") && !section.contains("Dexopt"));
        assert_eq!(section.matches("  Package [").count(), 4, "SDK {sdk}");
        assert!(!whole.contains("DUMP TIMEOUT"), "SDK {sdk}");
    }
}

#[test]
fn dumpsys_takes_options_from_the_version_that_has_them() {
    let Some((server, f)) = setup() else { return };
    for sdk in [23, 24, 26, 28] {
        let phone = FakePhone::spawn(&server, scenario(sdk, Place::Owner, &f));
        let s = phone.serial();
        let out = server.shell(&s, "dumpsys -t 30 package packages 2>&1");
        let text = stdout(&out).replace("\r\n", "\n");
        if sdk >= 26 {
            assert!(text.starts_with("Packages:\n"), "SDK {sdk}: {text}");
        } else {
            // The first word is the service.
            assert_eq!(text, "Can't find service: -t\n", "SDK {sdk}");
        }
        let out = server.shell(&s, "dumpsys -T 30000 package packages 2>&1");
        let text = stdout(&out).replace("\r\n", "\n");
        if sdk >= 28 {
            assert!(text.starts_with("Packages:\n"), "SDK {sdk}: {text}");
        } else {
            assert_eq!(text, "Can't find service: -T\n", "SDK {sdk}");
        }
        let out = server.shell(&s, "dumpsys -l 2>&1");
        let text = stdout(&out).replace("\r\n", "\n");
        if sdk >= 24 {
            assert!(
                text.starts_with("Currently running services:\n"),
                "SDK {sdk}"
            );
        } else {
            assert_eq!(text, "Can't find service: -l\n", "SDK {sdk}");
        }
    }
}

#[test]
fn a_forced_cut_prints_what_fits_then_the_timeout_line_and_exits_0() {
    let Some((server, f)) = setup() else { return };
    let mut sc = scenario(30, Place::WorkProfile, &f);
    sc["dumpsys"] = serde_json::json!({"cut_after_packages": 2});
    let phone = FakePhone::spawn(&server, sc);
    for args in ["package", "package packages"] {
        let out = server.shell(&phone.serial(), &format!("dumpsys {args}"));
        let text = stdout(&out);
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        assert!(
            text.ends_with(&format!("\n{TIMEOUT_LINE}\n\n")),
            "{args}: {text}"
        );
        // Two whole blocks, then the start of the third, then the line.
        assert_eq!(text.matches("  Package [").count(), 3, "{args}: {text}");
        assert!(!text.contains(&format!("Package [{TIKTOK}]")), "{text}");
        assert!(!text.contains("Dexopt state:"), "{text}");
    }
    assert_eq!(phone.stats()["dumpsys_timeouts"], 2);
}

/// A phone with `n` extra apps whose dump, per the cost model, takes `per_package_ms` each.
fn busy_phone(server: &AdbServer, f: &Files, sdk: u32, n: usize, per_package_ms: f64) -> FakePhone {
    let mut sc = scenario(sdk, Place::Owner, f);
    let pkgs = sc["packages"].as_array_mut().unwrap();
    for i in 0..n {
        pkgs.push(serde_json::json!({"name": format!("org.example.app{i}"), "users": [0],
            "apks": [{"path": format!("/data/app/org.example.app{i}-1/base.apk"), "content": "x"}]}));
    }
    sc["costs"] = serde_json::json!({"scale": 0.01, "dumpsys_per_package_ms": per_package_ms});
    FakePhone::spawn(server, sc)
}

#[test]
fn a_dump_longer_than_10_s_of_phone_time_is_cut_and_costs_the_budget() {
    let Some((server, f)) = setup() else { return };
    // 4 + 16 packages at 1 s each: 20.3 s of phone time, over the 10 s budget: 0.3 s + 9 blocks
    // fit. At scale 0.01 the phone spends 10 s × 0.01 = 0.1 s on it.
    let phone = busy_phone(&server, &f, 34, 16, 1000.0);
    let t0 = Instant::now();
    let (text, code) = dump(&server, &phone, "package");
    assert!(t0.elapsed() >= Duration::from_millis(100));
    assert_eq!(code, Some(0));
    assert!(text.ends_with(&format!("\n{TIMEOUT_LINE}\n\n")), "{text}");
    assert_eq!(text.matches("  Package [").count(), 10, "{text}");
    let st = phone.stats();
    assert_eq!(st["dumpsys_timeouts"], 1, "{st}");
    assert_eq!(st["phone_ms"], 10_000.0, "{st}");
    // A longer budget (-t 30) lets the whole dump through: 20.3 s.
    let (text, _) = dump(&server, &phone, "-t 30 package");
    assert!(!text.contains("DUMP TIMEOUT"));
    assert_eq!(blocks(&text), 20);
    assert_eq!(phone.stats()["phone_ms"], 30_300.0);
    // Android 6's dumpsys has no budget: never cut.
    let old = busy_phone(&server, &f, 23, 16, 1000.0);
    let (text, _) = dump(&server, &old, "package");
    assert!(!text.contains("DUMP TIMEOUT"));
    assert_eq!(blocks(&text), 20);
}

#[test]
fn permissive_scenarios_never_cut_unless_forced() {
    let f = files();
    let Some(server) = AdbServer::start_or_skip() else {
        return;
    };
    let mut sc = crate::support::fakephone::sample_scenario(&f.apk, &f.split);
    sc["costs"] = serde_json::json!({"dumpsys_per_package_ms": 100_000});
    let phone = FakePhone::spawn(&server, sc);
    let (text, _) = dump(&server, &phone, "package");
    assert!(!text.contains("DUMP TIMEOUT"), "{text}");
    assert_eq!(phone.stats()["phone_ms"], 300_300.0);
}
