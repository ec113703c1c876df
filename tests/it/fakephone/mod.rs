//! Tests of the fake phone (`fake-adbd`) through the REAL Debian adb server and the `adb` CLI.
//! Needs `adb`; fails without it unless APPSWEEP_SKIP_TOOL_TESTS=1.
//!
//! This module: the permissive phone of scenarios without `sdk`. The submodules: a phone that
//! behaves like a real one of its Android version (`sdk`), row by row of
//! `src/bin/fake-adbd/profile.rs`.

mod costs;
mod dumpsys;
mod places;
mod pm;
mod tools;
mod transport;

use crate::support::fakephone;

use fakephone::{sample_scenario, AdbServer, FakePhone};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

const TIKTOK_BASE: &str = "/data/app/~~AbC==/com.zhiliaoapp.musically-XyZ==/base.apk";
const TIKTOK_SPLIT: &str =
    "/data/app/~~AbC==/com.zhiliaoapp.musically-XyZ==/split_config.arm64_v8a.apk";
const FDROID_BASE: &str = "/data/app/~~Qw==/org.fdroid.fdroid-Er==/base.apk";

pub(super) struct Files {
    _dir: tempfile::TempDir,
    pub(super) apk: PathBuf,
    pub(super) split: PathBuf,
}

/// Two files of deterministic bytes standing in for APKs (the fake does not parse APKs).
pub(super) fn files() -> Files {
    let dir = tempfile::tempdir().unwrap();
    let mut x: u32 = 0x1234_5678;
    let mut bytes = |n: usize| -> Vec<u8> {
        (0..n)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                (x >> 24) as u8
            })
            .collect()
    };
    let apk = dir.path().join("base.apk");
    let split = dir.path().join("split.apk");
    std::fs::write(&apk, bytes(300_001)).unwrap();
    std::fs::write(&split, bytes(12_345)).unwrap();
    Files {
        _dir: dir,
        apk,
        split,
    }
}

pub(super) fn setup() -> Option<(AdbServer, Files)> {
    let server = AdbServer::start_or_skip()?;
    Some((server, files()))
}

pub(super) fn stdout(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}
pub(super) fn stderr(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

pub(super) fn sha256_hex(b: &[u8]) -> String {
    Sha256::digest(b)
        .iter()
        .map(|x| format!("{x:02x}"))
        .collect()
}

pub(super) fn pull(server: &AdbServer, serial: &str, remote: &str, dir: &Path) -> Vec<u8> {
    let local = dir.join("pulled.bin");
    let out = server.adb(&["-s", serial, "pull", remote, local.to_str().unwrap()]);
    assert!(out.status.success(), "pull {remote}: {}", stderr(&out));
    std::fs::read(&local).unwrap()
}

#[test]
fn devices_l_lists_the_fake_with_its_banner_model() {
    let Some((server, f)) = setup() else { return };
    let phone = FakePhone::spawn(&server, sample_scenario(&f.apk, &f.split));
    let out = server.adb(&["devices", "-l"]);
    let line = stdout(&out)
        .lines()
        .find(|l| l.starts_with(&phone.serial()))
        .map(str::to_string)
        .unwrap_or_default();
    assert!(line.contains(" device "), "{line}");
    assert!(line.contains("product:o1s"), "{line}");
    assert!(line.contains("model:SM_G991B"), "{line}");
    assert!(line.contains("device:o1s"), "{line}");
    let model = server.shell(&phone.serial(), "getprop ro.product.model");
    assert_eq!(stdout(&model), "SM-G991B\n");
}

#[test]
fn two_fakes_at_once_are_distinct_devices() {
    let Some((server, f)) = setup() else { return };
    let mut sc2 = sample_scenario(&f.apk, &f.split);
    sc2["serial_banner"] =
        serde_json::json!({"product": "husky", "model": "Pixel_8_Pro", "device": "husky"});
    sc2["props"]["ro.product.model"] = "Pixel 8 Pro".into();
    let a = FakePhone::spawn(&server, sample_scenario(&f.apk, &f.split));
    let b = FakePhone::spawn(&server, sc2);
    let devices = stdout(&server.adb(&["devices", "-l"]));
    assert!(devices.contains(&a.serial()), "{devices}");
    assert!(devices.contains("model:Pixel_8_Pro"), "{devices}");
    assert!(devices.contains("model:SM_G991B"), "{devices}");
    assert_eq!(
        stdout(&server.shell(&a.serial(), "getprop ro.product.model")),
        "SM-G991B\n"
    );
    assert_eq!(
        stdout(&server.shell(&b.serial(), "getprop ro.product.model")),
        "Pixel 8 Pro\n"
    );
    // Each fake counts only its own services.
    assert_eq!(a.stats()["opens"], 1);
    assert_eq!(b.stats()["opens"], 1);
}

#[test]
fn auth_never_leaves_the_device_unauthorized() {
    let Some((server, f)) = setup() else { return };
    let mut sc = sample_scenario(&f.apk, &f.split);
    sc["auth"] = "never".into();
    let phone = FakePhone::spawn(&server, sc);
    assert_eq!(
        server.state_of(&phone.serial()).as_deref(),
        Some("unauthorized")
    );
    let out = server.shell(&phone.serial(), "echo hi");
    assert!(!out.status.success());
    assert!(stderr(&out).contains("unauthorized"), "{}", stderr(&out));
    assert_eq!(phone.stats()["opens"], 0);
}

#[test]
fn shell_v2_carries_exit_codes_and_stderr() {
    let Some((server, f)) = setup() else { return };
    let phone = FakePhone::spawn(&server, sample_scenario(&f.apk, &f.split));
    let s = phone.serial();
    assert_eq!(server.shell(&s, "false").status.code(), Some(1));
    assert_eq!(server.shell(&s, "true").status.code(), Some(0));
    assert_eq!(server.shell(&s, "exit 3").status.code(), Some(3));
    let out = server.shell(&s, "false; echo rc=$?");
    assert_eq!(stdout(&out), "rc=1\n");
    assert_eq!(out.status.code(), Some(0));
    let out = server.shell(&s, "nosuchtool --x");
    assert_eq!(out.status.code(), Some(127));
    assert_eq!(
        stderr(&out),
        "/system/bin/sh: nosuchtool: inaccessible or not found\n"
    );
    assert_eq!(stdout(&out), "");
    let out = server.shell(&s, "echo out; echo err >&2; false || echo fallback");
    assert_eq!(stdout(&out), "out\nfallback\n");
    assert_eq!(stderr(&out), "err\n");
    let out = server.shell(&s, "stat -c '%s %n' /nope 2>/dev/null; echo \"[$?]\"");
    assert_eq!(stdout(&out), "[1]\n");
    assert_eq!(stderr(&out), "");
    let out = server.shell(&s, "echo 'a  b' \"c d\" && echo -n x");
    assert_eq!(stdout(&out), "a  b c d\nx");
}

#[test]
fn pm_list_packages_matches_real_android_formats() {
    let Some((server, f)) = setup() else { return };
    let phone = FakePhone::spawn(&server, sample_scenario(&f.apk, &f.split));
    let s = phone.serial();
    let out = server.shell(&s, "pm list packages -f -U -i --show-versioncode --user 0");
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(
        stdout(&out),
        format!(
            "package:{FDROID_BASE}=org.fdroid.fdroid versionCode:1019050  installer=null uid:10150\n\
             package:/system/priv-app/Settings/Settings.apk=com.android.settings versionCode:34  installer=null uid:1002\n"
        )
    );
    // The same through `cmd package`, third-party only, name only.
    let out = server.shell(&s, "cmd package list packages -3");
    assert_eq!(stdout(&out), "package:org.fdroid.fdroid\n");
    // The work profile refuses listing, as on Samsung / managed phones.
    let out = server.shell(&s, "pm list packages --user 10");
    assert_eq!(out.status.code(), Some(255));
    assert_eq!(stdout(&out), "");
    assert!(stderr(&out).starts_with(
        "Exception occurred while executing 'list':\njava.lang.SecurityException: Shell does not have permission to access user 10\n"
    ), "{}", stderr(&out));
    let out = server.shell(&s, "pm list users");
    assert_eq!(
        stdout(&out),
        "Users:\n\tUserInfo{0:Owner:c13} running\n\tUserInfo{10:Work profile:1030} running\n"
    );
    let out = server.shell(
        &s,
        "pm path --user 0 org.fdroid.fdroid; pm path com.zhiliaoapp.musically; echo $?",
    );
    assert_eq!(stdout(&out), format!("package:{FDROID_BASE}\n1\n"));

    // Old Android: no --show-versioncode (API 28) and no -U (API 26).
    let mut old = sample_scenario(&f.apk, &f.split);
    old["android_sdk"] = 25.into();
    old["users"] = serde_json::json!([{"id": 0}]);
    let oldp = FakePhone::spawn(&server, old);
    let out = server.shell(&oldp.serial(), "pm list packages -f -i --show-versioncode");
    assert_eq!(out.status.code(), Some(255));
    assert_eq!(stderr(&out), "Error: Unknown option: --show-versioncode\n");
    let out = server.shell(&oldp.serial(), "pm list packages -U");
    assert_eq!(stderr(&out), "Error: Unknown option: -U\n");
    let out = server.shell(&oldp.serial(), "pm list packages -f -i");
    assert_eq!(out.status.code(), Some(0));
    assert!(stdout(&out).contains(&format!(
        "package:{FDROID_BASE}=org.fdroid.fdroid  installer=null\n"
    )));
    // `cmd` appeared in Android 7 (API 24); this one is 7.1 so it exists.
    assert_eq!(
        server
            .shell(&oldp.serial(), "cmd package list packages -s")
            .status
            .code(),
        Some(0)
    );
}

#[test]
fn dumpsys_package_has_a_user_line_for_every_user() {
    let Some((server, f)) = setup() else { return };
    let phone = FakePhone::spawn(&server, sample_scenario(&f.apk, &f.split));
    let out = server.shell(&phone.serial(), "dumpsys package com.zhiliaoapp.musically");
    let text = stdout(&out);
    assert!(
        text.contains("Packages:\n  Package [com.zhiliaoapp.musically] ("),
        "{text}"
    );
    assert!(
        text.contains("\n    versionCode=2024307030 minSdk="),
        "{text}"
    );
    assert!(text.contains("\n    versionName=43.7.3\n"), "{text}");
    assert!(text.contains("\n    codePath=/data/app/~~AbC==/com.zhiliaoapp.musically-XyZ==\n"));
    assert!(
        text.contains("\n    splits=[base, config.arm64_v8a]\n"),
        "{text}"
    );
    assert!(text.contains("\n    firstInstallTime=2024-05-01 10:00:00\n"));
    assert!(text.contains("\n    lastUpdateTime=2024-05-02 10:00:00\n"));
    assert!(text.contains("\n    installerPackageName=com.android.vending\n"));
    assert!(
        text.contains("\n    User 0: ceDataInode=0 installed=false hidden=false"),
        "{text}"
    );
    assert!(text.contains("\n    User 10: ceDataInode="), "{text}");
    let user10 = text
        .lines()
        .find(|l| l.starts_with("    User 10:"))
        .unwrap();
    assert!(user10.contains(" installed=true "), "{user10}");
    // The whole dump lists every package.
    let all = stdout(&server.shell(&phone.serial(), "dumpsys package"));
    assert_eq!(all.matches("\n  Package [").count(), 3);
    // System apps have no installerPackageName line (as in the captures).
    let settings = stdout(&server.shell(&phone.serial(), "dumpsys package com.android.settings"));
    assert!(!settings.contains("installerPackageName"));
    assert!(settings.contains("flags=[ SYSTEM "));
}

#[test]
fn sha256sum_dd_and_pull_serve_the_exact_bytes() {
    let Some((server, f)) = setup() else { return };
    let phone = FakePhone::spawn(&server, sample_scenario(&f.apk, &f.split));
    let s = phone.serial();
    let apk = std::fs::read(&f.apk).unwrap();
    let split = std::fs::read(&f.split).unwrap();

    let out = server.shell(&s, &format!("sha256sum {TIKTOK_BASE} {TIKTOK_SPLIT}"));
    assert_eq!(
        stdout(&out),
        format!(
            "{}  {TIKTOK_BASE}\n{}  {TIKTOK_SPLIT}\n",
            sha256_hex(&apk),
            sha256_hex(&split)
        )
    );

    // Range reads: dd | base64 (text-safe) and raw exec-out.
    let out = server.shell(
        &s,
        &format!("dd if={TIKTOK_BASE} bs=4096 skip=1 count=2 2>/dev/null | base64 -w 0"),
    );
    let text = stdout(&out);
    let decoded = decode_b64(text.trim());
    assert_eq!(decoded, apk[4096..3 * 4096]);
    let raw = server.adb(&["-s", &s, "exec-out", &format!("tail -c 22 {TIKTOK_BASE}")]);
    assert_eq!(raw.stdout, apk[apk.len() - 22..]);
    let raw = server.adb(&[
        "-s",
        &s,
        "exec-out",
        &format!(
            "dd if={TIKTOK_BASE} iflag=skip_bytes,count_bytes skip=1000 count=777 2>/dev/null"
        ),
    ]);
    assert_eq!(raw.stdout, apk[1000..1777]);
    // dd reports records on stderr unless redirected.
    let out = server.shell(&s, &format!("dd if={TIKTOK_BASE} bs=4096 count=1 | wc -c"));
    assert_eq!(stdout(&out), "4096\n");
    assert!(
        stderr(&out).starts_with("1+0 records in\n1+0 records out\n"),
        "{}",
        stderr(&out)
    );

    assert_eq!(pull(&server, &s, TIKTOK_BASE, phone.dir()), apk);

    // prefix_junk: junk then the file; the device hash matches the pulled bytes.
    let fd = pull(&server, &s, FDROID_BASE, phone.dir());
    assert_eq!(fd.len(), 70_000 + apk.len());
    assert_eq!(fd[70_000..], apk[..]);
    let out = server.shell(
        &s,
        &format!("sha256sum {FDROID_BASE}; stat -c '%s %n' {FDROID_BASE}"),
    );
    assert_eq!(
        stdout(&out),
        format!(
            "{}  {FDROID_BASE}\n{} {FDROID_BASE}\n",
            sha256_hex(&fd),
            fd.len()
        )
    );

    // synthetic_size: deterministic bytes of that size, same hash on every read.
    let syn = pull(
        &server,
        &s,
        "/system/priv-app/Settings/Settings.apk",
        phone.dir(),
    );
    assert_eq!(syn.len(), 3_000_000);
    let out = server.shell(&s, "sha256sum /system/priv-app/Settings/Settings.apk");
    assert!(stdout(&out).starts_with(&sha256_hex(&syn)));
}

pub(super) fn decode_b64(s: &str) -> Vec<u8> {
    let val = |c: u8| -> u32 {
        match c {
            b'A'..=b'Z' => u32::from(c - b'A'),
            b'a'..=b'z' => u32::from(c - b'a') + 26,
            b'0'..=b'9' => u32::from(c - b'0') + 52,
            b'+' => 62,
            b'/' => 63,
            _ => panic!("bad base64 char {c}"),
        }
    };
    let clean: Vec<u8> = s.bytes().filter(|c| !c.is_ascii_whitespace()).collect();
    let mut out = Vec::new();
    for chunk in clean.chunks(4) {
        let pad = chunk.iter().filter(|c| **c == b'=').count();
        let mut n = 0u32;
        for c in chunk {
            n = (n << 6) | if *c == b'=' { 0 } else { val(*c) };
        }
        let bytes = [(n >> 16) as u8, (n >> 8) as u8, n as u8];
        out.extend_from_slice(&bytes[..3 - pad]);
    }
    out
}

#[test]
fn drop_after_services_unplugs_mid_command() {
    let Some((server, f)) = setup() else { return };
    let mut sc = sample_scenario(&f.apk, &f.split);
    sc["drop_after_services"] = 2.into();
    let mut phone = FakePhone::spawn(&server, sc);
    let s = phone.serial();
    assert_eq!(stdout(&server.shell(&s, "echo one")), "one\n");
    assert_eq!(stdout(&server.shell(&s, "echo two")), "two\n");
    // The third service is cut in the middle of its output.
    let out = server.shell(&s, "dumpsys package");
    let text = stdout(&out);
    assert!(
        !text.contains("Compiler stats:"),
        "the output should be cut: {text}"
    );
    let t0 = Instant::now();
    while !phone.exited() && t0.elapsed() < Duration::from_secs(10) {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(phone.exited(), "the fake should have hung up");
    let gone = server.wait_state(&s, Some("offline"), Duration::from_secs(15))
        || server.wait_state(&s, None, Duration::from_secs(1));
    assert!(gone, "device still there: {:?}", server.devices());
    let st = phone.stats();
    assert_eq!(st["dropped"], true);
    assert_eq!(st["opens"], 3);
    // Further commands fail.
    let out = server.shell(&s, "echo three");
    assert!(!out.status.success());
}

#[test]
fn stats_count_round_trips_commands_and_bytes() {
    let Some((server, f)) = setup() else { return };
    let phone = FakePhone::spawn(&server, sample_scenario(&f.apk, &f.split));
    let s = phone.serial();
    server.shell(&s, "getprop; pm list users");
    server.shell(&s, &format!("sha256sum {TIKTOK_BASE}"));
    pull(&server, &s, TIKTOK_SPLIT, phone.dir());
    // The fake writes its counters when a service closes, which can be just after the client
    // returned: wait (bounded) for the last one.
    let t0 = Instant::now();
    let mut st = phone.stats();
    while st["services_closed"] != 3 && t0.elapsed() < Duration::from_secs(5) {
        std::thread::sleep(Duration::from_millis(20));
        st = phone.stats();
    }
    assert_eq!(st["opens"], 3, "{st}");
    assert_eq!(st["services"]["shell_v2"], 2, "{st}");
    assert_eq!(st["services"]["sync"], 1, "{st}");
    assert_eq!(st["commands"]["getprop"], 1);
    assert_eq!(st["commands"]["pm"], 1);
    assert_eq!(st["commands"]["sha256sum"], 1);
    assert_eq!(st["sync_requests"]["RECV"], 1);
    assert_eq!(st["sync_recv_bytes"], 12_345);
    assert!(st["bytes_sent"].as_u64().unwrap() > 12_345);
    assert_eq!(st["write_attempts"].as_array().unwrap().len(), 0);
}

#[test]
fn push_is_refused_and_recorded() {
    let Some((server, f)) = setup() else { return };
    let phone = FakePhone::spawn(&server, sample_scenario(&f.apk, &f.split));
    let s = phone.serial();
    let out = server.adb(&[
        "-s",
        &s,
        "push",
        f.split.to_str().unwrap(),
        "/data/local/tmp/x.apk",
    ]);
    // adb 29 reports the failed push by its exit status; its message wording varies.
    assert!(!out.status.success(), "push must fail: {}", stderr(&out));
    let out = server.shell(&s, "pm uninstall com.zhiliaoapp.musically");
    assert!(!out.status.success());
    let st = phone.stats();
    let attempts: Vec<String> = st["write_attempts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect();
    assert!(
        attempts
            .iter()
            .any(|a| a.starts_with("sync SEND /data/local/tmp/x.apk")),
        "{attempts:?}"
    );
    assert!(
        attempts.iter().any(|a| a.contains("uninstall")),
        "{attempts:?}"
    );
    // The device still works after the refused push.
    assert_eq!(stdout(&server.shell(&s, "echo ok")), "ok\n");
}

#[test]
fn link_shaping_slows_transfers_to_the_configured_bandwidth() {
    let Some((server, f)) = setup() else { return };
    let mut sc = sample_scenario(&f.apk, &f.split);
    sc["link"] = serde_json::json!({"latency_ms": 50, "bandwidth_bytes_per_s": 4_000_000});
    let phone = FakePhone::spawn(&server, sc);
    let s = phone.serial();
    let t0 = Instant::now();
    let syn = pull(
        &server,
        &s,
        "/system/priv-app/Settings/Settings.apk",
        phone.dir(),
    );
    let took = t0.elapsed();
    assert_eq!(syn.len(), 3_000_000);
    // 3 MB at 4 MB/s is at least 0.75 s.
    assert!(took >= Duration::from_millis(700), "pull took {took:?}");
    let t0 = Instant::now();
    server.shell(&s, "true");
    assert!(t0.elapsed() >= Duration::from_millis(50));
}

#[test]
fn raw_shell_without_shell_v2() {
    let Some((server, f)) = setup() else { return };
    let mut sc = sample_scenario(&f.apk, &f.split);
    sc["shell_v2"] = false.into();
    let phone = FakePhone::spawn(&server, sc);
    let out = server.shell(&phone.serial(), "getprop ro.serialno; nosuch");
    // v1: stdout and stderr are one stream, no exit code.
    assert_eq!(
        stdout(&out),
        "R58M12ABCDE\n/system/bin/sh: nosuch: inaccessible or not found\n"
    );
    assert_eq!(phone.stats()["services"]["shell"], 1);
}

/// A phone of API level `sdk` (see `support/phones.rs`) with TikTok in `place`, serving `f`'s
/// bytes, costs off (the cost model has its own tests).
pub(super) fn sdk_phone(
    server: &AdbServer,
    sdk: u32,
    place: crate::support::phones::Place,
    f: &Files,
) -> FakePhone {
    let apks = crate::support::phones::Apks {
        tiktok: &f.apk,
        split: Some(&f.split),
        clean: &f.split,
    };
    let mut sc = crate::support::phones::phone(sdk, place, &apks);
    sc["costs"]["scale"] = 0.into();
    FakePhone::spawn(server, sc)
}

/// Runs `cmd; echo rc=$?` on the phone and returns (output with `\r\n` undone, status): the
/// same on pty phones (no exit status, stderr merged) and shell v2 ones. Give `cmd` a `2>&1`
/// to see its stderr on both.
pub(super) fn run(server: &AdbServer, phone: &FakePhone, cmd: &str) -> (String, u32) {
    let out = stdout(&server.shell(&phone.serial(), &format!("{cmd}; echo rc=$?")));
    let out = out.replace("\r\n", "\n");
    let (text, rc) = out
        .rsplit_once("rc=")
        .unwrap_or_else(|| panic!("no rc in {out:?}"));
    (text.to_string(), rc.trim().parse().unwrap())
}
