//! `appsweep scan adb` and `appsweep devices` through the real Debian adb server and fake phones
//! (`fake-adbd`) that it adopts with `adb connect`. APKs are built by aapt/apksigner.

use crate::support::apkbuild;
use crate::support::cmd::appsweep;
use crate::support::fakephone;

use apkbuild::{build_apk, tools_available, ApkSpec, Signing};
use fakephone::{sample_scenario, AdbServer, FakePhone};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::Output;

struct Apks {
    _dir: tempfile::TempDir,
    tiktok: PathBuf,
    split: PathBuf,
    clean: PathBuf,
    renamed: PathBuf,
}

fn apks() -> Apks {
    let dir = tempfile::tempdir().unwrap();
    let tiktok = build_apk(
        &ApkSpec::new("com.zhiliaoapp.musically", Signing::V1V2V3),
        &dir.path().join("t"),
    )
    .path;
    let mut split = ApkSpec::new("com.zhiliaoapp.musically", Signing::V2);
    split.file_name = "split.apk".into();
    let split = build_apk(&split, &dir.path().join("s")).path;
    let clean = build_apk(
        &ApkSpec::new("org.fdroid.fdroid", Signing::V2),
        &dir.path().join("c"),
    )
    .path;
    let mut spec = ApkSpec::new("com.example.videoplayer", Signing::V2);
    spec.components_xml =
        r#"<activity android:name="com.ss.android.ugc.aweme.share.SystemShareActivity" android:exported="true"/>"#.into();
    let renamed = build_apk(&spec, &dir.path().join("r")).path;
    Apks {
        _dir: dir,
        tiktok,
        split,
        clean,
        renamed,
    }
}

fn setup() -> Option<(AdbServer, Apks)> {
    if !tools_available() {
        return None;
    }
    let server = AdbServer::start_or_skip()?;
    Some((server, apks()))
}

fn scan(server: &AdbServer, extra: &[&str]) -> (i32, Value, String) {
    let out: Output = appsweep()
        .args([
            "scan",
            "adb",
            "--adb-server",
            &server.addr(),
            "--format",
            "json",
            "--no-cache",
        ])
        .args(extra)
        .env_remove("ANDROID_ADB_SERVER_PORT")
        .env("HOME", server.home())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let doc: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}\n{stderr}", String::from_utf8_lossy(&out.stdout)));
    (out.status.code().unwrap(), doc, stderr)
}

fn report<'a>(doc: &'a Value, serial: &str) -> &'a Value {
    doc["reports"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["device"]["id"] == serial)
        .unwrap_or_else(|| panic!("no report for {serial}: {doc:#}"))
}

fn clean_phone(apk: &Path) -> Value {
    json!({
        "serial_banner": {"product": "p", "model": "Pixel_8", "device": "d"},
        "auth": "accept", "android_sdk": 34,
        "props": {"ro.product.manufacturer": "Google", "ro.product.model": "Pixel 8",
                  "ro.build.version.release": "14", "ro.build.version.sdk": "34"},
        "users": [{"id": 0, "name": "Owner", "flags": "c13", "running": true}],
        "packages": [{"name": "org.fdroid.fdroid", "users": [0], "uid": 10150, "version_code": 5,
                      "version_name": "1.0", "installer": null,
                      "apks": [{"path": "/data/app/~~Qw==/org.fdroid.fdroid-Er==/base.apk", "file": apk}]}],
        "link": {"latency_ms": 0, "bandwidth_bytes_per_s": 0}, "shell_v2": true
    })
}

#[test]
fn two_phones_tiktok_in_work_profile_and_a_clean_one() {
    let Some((server, a)) = setup() else { return };
    let bad = FakePhone::spawn(&server, sample_scenario(&a.tiktok, &a.split));
    let good = FakePhone::spawn(&server, clean_phone(&a.clean));
    let (code, doc, stderr) = scan(&server, &[]);
    assert_eq!(code, 1, "{stderr}\n{doc:#}");
    let r = report(&doc, &bad.serial());
    assert_eq!(r["status"], "violation", "{r:#}");
    let f = r["findings"].as_array().unwrap();
    assert!(
        f.iter().any(|f| f["signature"] == "tiktok.global"
            && f["app"]["user"] == 10
            && f["match"] == "modified_build"),
        "{f:#?}"
    );
    assert_eq!(r["device"]["manufacturer"], "samsung");
    let g = report(&doc, &good.serial());
    assert_eq!(g["status"], "clean", "{g:#}");
    assert!(g["apps"]
        .as_array()
        .unwrap()
        .iter()
        .any(|a| a["id"] == "org.fdroid.fdroid"
            && !a["signers_sha256"].as_array().unwrap().is_empty()));
}

fn with(mut scenario: Value, key: &str, value: Value) -> Value {
    scenario[key] = value;
    scenario
}

#[test]
fn unauthorized_phone_is_incomplete_with_a_hint_and_devices_lists_it() {
    let Some((server, a)) = setup() else { return };
    let locked = FakePhone::spawn(&server, with(clean_phone(&a.clean), "auth", json!("never")));
    let (code, doc, stderr) = scan(&server, &[]);
    assert_eq!(code, 3, "{stderr}\n{doc:#}");
    let r = report(&doc, &locked.serial());
    assert_eq!(r["status"], "incomplete");
    let msg = r["problems"].to_string().to_lowercase();
    assert!(
        msg.contains("unauthorized") && msg.contains("usb debugging"),
        "{msg}"
    );

    let out = appsweep()
        .args([
            "devices",
            "--adb-server",
            &server.addr(),
            "--format",
            "human",
        ])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains(&locked.serial()) && text.contains("unauthorized"),
        "{text}"
    );
    assert!(text.to_lowercase().contains("usb debugging"), "{text}");
    assert_eq!(out.status.code(), Some(3));
}

#[test]
fn a_phone_that_unplugs_mid_scan_is_incomplete_and_the_other_finishes() {
    let Some((server, a)) = setup() else { return };
    let drops = FakePhone::spawn(
        &server,
        with(clean_phone(&a.clean), "drop_after_services", json!(3)),
    );
    let good = FakePhone::spawn(&server, sample_scenario(&a.tiktok, &a.split));
    let (code, doc, stderr) = scan(&server, &[]);
    assert_eq!(
        code, 1,
        "the other phone's violation still counts: {stderr}\n{doc:#}"
    );
    let r = report(&doc, &drops.serial());
    assert_eq!(r["status"], "incomplete", "{r:#}");
    assert!(!r["problems"].as_array().unwrap().is_empty());
    assert_eq!(report(&doc, &good.serial())["status"], "violation");
}

#[test]
fn renamed_tiktok_and_old_android_pm() {
    let Some((server, a)) = setup() else { return };
    let mut sc = clean_phone(&a.renamed);
    sc["packages"][0]["name"] = json!("com.example.videoplayer");
    sc["packages"][0]["apks"][0]["path"] = json!("/data/app/com.example.videoplayer-1/base.apk");
    sc["android_sdk"] = json!(23);
    sc["props"]["ro.build.version.sdk"] = json!("23");
    sc["props"]["ro.build.version.release"] = json!("6.0.1");
    let old = FakePhone::spawn(&server, sc);
    let (code, doc, stderr) = scan(&server, &[]);
    assert_eq!(code, 1, "{stderr}\n{doc:#}");
    let r = report(&doc, &old.serial());
    let f = r["findings"].as_array().unwrap();
    assert!(
        f.iter()
            .any(|f| f["signature"] == "tiktok.repackaged" && f["match"] == "renamed_build"),
        "{f:#?}"
    );
    assert!(
        !r["notes"].as_array().unwrap().is_empty(),
        "the pm fallback is recorded: {r:#}"
    );
}

fn many_packages(apk: &Path, n: usize) -> Value {
    let mut sc = clean_phone(apk);
    let pkgs: Vec<Value> = (0..n)
        .map(|i| {
            json!({"name": format!("org.example.app{i}"), "users": [0], "uid": 10200 + i,
                   "version_code": 1, "version_name": "1", "installer": "com.android.vending",
                   "apks": [{"path": format!("/data/app/org.example.app{i}-1/base.apk"), "file": apk,
                             "prefix_junk": 20_000_000}]})
        })
        .collect();
    sc["packages"] = Value::Array(pkgs);
    sc
}

#[test]
fn round_trips_do_not_grow_with_packages_and_bytes_stay_small_and_nothing_is_written() {
    let Some((server, a)) = setup() else { return };
    let mut opens = Vec::new();
    for n in [5usize, 60] {
        let phone = FakePhone::spawn(&server, many_packages(&a.clean, n));
        let (code, doc, stderr) = scan(&server, &["--serial", &phone.serial()]);
        assert_eq!(code, 0, "{stderr}\n{doc:#}");
        let r = report(&doc, &phone.serial());
        assert_eq!(r["apps"].as_array().unwrap().len(), n);
        assert!(r["apps"]
            .as_array()
            .unwrap()
            .iter()
            .all(|a| !a["signers_sha256"].as_array().unwrap().is_empty()));
        let st = phone.stats();
        assert_eq!(st["write_attempts"].as_array().unwrap().len(), 0, "{st:#}");
        let apk_bytes = n as u64 * (20_000_000 + std::fs::metadata(&a.clean).unwrap().len());
        let sent = st["bytes_sent"].as_u64().unwrap();
        assert!(
            sent * 100 < apk_bytes,
            "moved {sent} bytes for {apk_bytes} bytes of APKs"
        );
        opens.push(st["opens"].as_u64().unwrap());
    }
    assert_eq!(
        opens[0], opens[1],
        "round trips must not depend on the package count: {opens:?}"
    );
}

#[test]
fn starts_a_server_only_when_none_runs_and_says_so_and_explains_a_missing_adb() {
    if !fakephone::adb_available() {
        return;
    }
    let home = tempfile::tempdir().unwrap();
    let port = fakephone::free_port();
    let addr = format!("127.0.0.1:{port}");
    let out = appsweep()
        .args(["devices", "--adb-server", &addr, "--format", "json"])
        .env("HOME", home.path())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    let _ = fakephone::adb_command(port, home.path())
        .arg("kill-server")
        .output();
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(
        stderr.contains("start-server"),
        "the user is told a server was started: {stderr}"
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "[]");

    // No server and no adb on PATH: a configuration error that says what to install.
    let port = fakephone::free_port();
    let out = appsweep()
        .args(["scan", "adb", "--adb-server", &format!("127.0.0.1:{port}")])
        .env("HOME", home.path())
        .env("PATH", "/nonexistent")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("adb") && stderr.to_lowercase().contains("install"),
        "{stderr}"
    );
}

#[test]
fn hash_all_computes_sha256_on_the_phone() {
    let Some((server, a)) = setup() else { return };
    let phone = FakePhone::spawn(&server, clean_phone(&a.clean));
    let (code, doc, stderr) = scan(&server, &["--serial", &phone.serial(), "--hash", "all"]);
    assert_eq!(code, 0, "{stderr}");
    let want = apkbuild::sha256_hex(&std::fs::read(&a.clean).unwrap());
    let r = report(&doc, &phone.serial());
    let app = r["apps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["id"] == "org.fdroid.fdroid")
        .unwrap();
    assert_eq!(app["file_sha256"], want.as_str());
    assert_eq!(
        phone.stats()["commands"]["sha256sum"],
        2,
        "the capability probe and one batched sha256sum"
    );
}
