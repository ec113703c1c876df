//! `appsweep scan adb` and `appsweep devices` through the real Debian adb server and fake phones
//! (`fake-adbd`) that it adopts with `adb connect`. APKs are built by aapt/apksigner.

use crate::support::apkbuild;
use crate::support::cmd::{app, appsweep, report};
use crate::support::fakephone;
use crate::support::phones::{self, Expect, Place, TIKTOK};

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
    scan_env(server, extra, &[])
}

fn scan_env(server: &AdbServer, extra: &[&str], env: &[(&str, &str)]) -> (i32, Value, String) {
    scan_with_cache(server, &[&["--no-cache"], extra].concat(), env)
}

/// `scan adb` with the caches under `XDG_CACHE_HOME` when `env` sets it.
fn scan_with_cache(
    server: &AdbServer,
    extra: &[&str],
    env: &[(&str, &str)],
) -> (i32, Value, String) {
    let out: Output = appsweep()
        .args([
            "scan",
            "adb",
            "--adb-server",
            &server.addr(),
            "--format",
            "json",
        ])
        .args(extra)
        .env_remove("ANDROID_ADB_SERVER_PORT")
        .env_remove("APPSWEEP_ADB_READ")
        .env("HOME", server.home())
        .envs(env.iter().copied())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let doc: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}\n{stderr}", String::from_utf8_lossy(&out.stdout)));
    (out.status.code().unwrap(), doc, stderr)
}

fn clean_phone(apk: &Path) -> Value {
    fakephone::pixel8("org.fdroid.fdroid", apk, "accept")
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
    let app = app(r, "org.fdroid.fdroid");
    assert_eq!(app["file_sha256"], want.as_str());
    assert_eq!(
        phone.stats()["commands"]["sha256sum"],
        2,
        "the capability probe and one batched sha256sum"
    );
}

/// The tiktok.* findings of a report.
fn tiktok_findings(r: &Value) -> Vec<&Value> {
    r["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["app"]["id"] == TIKTOK)
        .collect()
}

/// Checks one phone's report against what its place needs.
fn check_place(what: &str, place: Place, r: &Value) {
    let status = r["status"].as_str().unwrap();
    let found = tiktok_findings(r);
    match place.expect() {
        Expect::Violation => {
            assert_eq!(status, "violation", "{what}: {r:#}");
            assert!(
                found.iter().any(|f| f["disposition"] == "violation"
                    && f["app"]["user"] == place.user().unwrap()),
                "{what}: TikTok of user {:?} is a violation: {found:#?}",
                place.user()
            );
        }
        Expect::Incomplete => {
            assert_eq!(status, "incomplete", "{what}: {r:#}");
            let p = r["problems"].to_string();
            assert!(
                p.contains("user 11") && p.contains("unlock"),
                "{what}: says what to do: {p}"
            );
        }
        Expect::CleanWithNotice => {
            assert_eq!(status, "clean", "{what}: {r:#}");
            assert!(
                found.iter().any(|f| f["disposition"] == "notice"),
                "{what}: kept data is a notice: {r:#}"
            );
        }
        Expect::Clean => {
            assert_eq!(status, "clean", "{what}: {r:#}");
            assert!(found.is_empty(), "{what}: {found:#?}");
        }
    }
    // Every third-party app that is installed has its signer, whatever the Android version.
    for a in r["apps"].as_array().unwrap() {
        let archived = a["details"].to_string().contains("archived");
        if a["installed"] == true && a["system"] == false && !archived {
            assert!(
                !a["signers_sha256"].as_array().unwrap().is_empty(),
                "{what}: no signer for {a:#}"
            );
        }
    }
}

#[test]
fn every_phone_of_the_matrix_gets_the_right_verdict_in_its_own_report() {
    let Some((server, a)) = setup() else { return };
    let apks = phones::Apks {
        tiktok: &a.tiktok,
        split: Some(&a.split),
        clean: &a.clean,
    };
    // All phones on one server, scanned at once; the cost model scaled down (timing is not the
    // point here).
    let spawned: Vec<(u32, Place, FakePhone)> = phones::matrix()
        .into_iter()
        .map(|(sdk, place)| {
            let mut sc = phones::phone(sdk, place, &apks);
            sc["costs"]["scale"] = json!(0.05);
            (sdk, place, FakePhone::spawn(&server, sc))
        })
        .collect();
    let (code, doc, stderr) = scan(&server, &[]);
    assert_eq!(code, 1, "{stderr}");
    assert_eq!(doc["reports"].as_array().unwrap().len(), spawned.len());
    for (sdk, place, phone) in &spawned {
        let what = format!("SDK {sdk} {place:?}");
        let r = report(&doc, &phone.serial());
        check_place(&what, *place, r);
        let st = phone.stats();
        assert_eq!(st["oversized_packets"], 0, "{what}: {st:#}");
        assert_eq!(st["write_attempts"].as_array().unwrap().len(), 0, "{what}");
    }
}

/// A matrix phone with its costs scaled down (timing is not the point).
fn quick_phone(sdk: u32, place: Place, a: &Apks) -> Value {
    let mut sc = phones::phone(
        sdk,
        place,
        &phones::Apks {
            tiktok: &a.tiktok,
            split: Some(&a.split),
            clean: &a.clean,
        },
    );
    sc["costs"]["scale"] = json!(0.05);
    sc
}

fn notes(r: &Value) -> String {
    r["notes"].to_string()
}

#[test]
fn an_android_6_phone_with_many_packages_gets_only_requests_it_takes_and_the_server_survives() {
    let Some((server, a)) = setup() else { return };
    // Android 6: 4 KiB max payload. 400 third-party apps with long paths make every round far
    // longer than that: a scanner that sent them as one request would make the Debian adb
    // server abort and drop both phones.
    let mut sc = quick_phone(23, Place::Owner, &a);
    let pkgs = sc["packages"].as_array_mut().unwrap();
    for i in 0..400 {
        let name = format!("org.example.averyveryverylongvendorname.app{i}");
        pkgs.push(
            json!({"name": name, "users": [0], "uid": 10300 + i, "version_code": 1,
            "apks": [{"path": format!("/data/app/{name}-1/base.apk"), "file": &a.clean}]}),
        );
    }
    let old = FakePhone::spawn(&server, sc);
    let new = FakePhone::spawn(&server, quick_phone(34, Place::Nowhere, &a));
    let (code, doc, stderr) = scan(&server, &[]);
    assert_eq!(code, 1, "{stderr}");
    let r = report(&doc, &old.serial());
    check_place("SDK 23 with 400 apps", Place::Owner, r);
    assert!(r["problems"].as_array().unwrap().is_empty(), "{r:#}");
    assert_eq!(r["apps"].as_array().unwrap().len(), 404);
    check_place(
        "SDK 34 beside it",
        Place::Nowhere,
        report(&doc, &new.serial()),
    );
    let st = old.stats();
    assert_eq!(st["oversized_packets"], 0, "{st:#}");
    assert!(st["longest_open"].as_u64().unwrap() <= 4096, "{st:#}");
    let sent: usize = st["command_lines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap().len())
        .sum();
    assert!(sent > 10 * 4096, "the scan needed {sent} bytes of commands");
    // The server is alive and still has both phones.
    assert_eq!(server.state_of(&old.serial()).as_deref(), Some("device"));
    assert_eq!(server.state_of(&new.serial()).as_deref(), Some("device"));
}

#[test]
fn a_dumpsys_cut_by_its_timeout_is_never_clean() {
    let Some((server, a)) = setup() else { return };
    // TikTok in a Secure Folder the shell may not list, and dumpsys cut before its block.
    let mut hidden = quick_phone(34, Place::SecureFolder, &a);
    hidden["dumpsys"] = json!({"cut_after_packages": 1});
    // Every user listed, dumpsys cut all the same: the scan cannot say nothing hides.
    let mut listed = quick_phone(34, Place::Nowhere, &a);
    listed["dumpsys"] = json!({"cut_after_packages": 1});
    let hidden = FakePhone::spawn(&server, hidden);
    let listed = FakePhone::spawn(&server, listed);
    let (code, doc, stderr) = scan(&server, &[]);
    assert_eq!(code, 3, "{stderr}\n{doc:#}");
    for phone in [&hidden, &listed] {
        let r = report(&doc, &phone.serial());
        assert_eq!(r["status"], "incomplete", "{r:#}");
        assert!(r["problems"].to_string().contains("DUMP TIMEOUT"), "{r:#}");
    }
}

#[test]
fn hash_all_without_sha256sum_on_the_phone_says_how_the_digest_was_made() {
    let Some((server, a)) = setup() else { return };
    let phone = FakePhone::spawn(&server, quick_phone(24, Place::Owner, &a));
    let (code, doc, stderr) = scan(&server, &["--hash", "all"]);
    assert_eq!(code, 1, "{stderr}");
    let r = report(&doc, &phone.serial());
    let tiktok = r["apps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["id"] == TIKTOK)
        .unwrap();
    let want = apkbuild::sha256_hex(&std::fs::read(&a.tiktok).unwrap());
    assert_eq!(tiktok["file_sha256"], want.as_str());
    assert!(
        notes(r).contains("no sha256sum on this phone")
            && notes(r).contains("computed on this computer"),
        "{r:#}"
    );
}

#[test]
fn each_way_of_reading_apk_ranges_gives_the_same_signers_and_says_so() {
    let Some((server, a)) = setup() else { return };
    // (phone SDK, way forced, words the note has)
    let cases = [
        (34, "base64-w0", "base64 -w 0"),
        (26, "base64", "dd | base64`"),
        (23, "od", "dd | od"),
        (34, "pull", "pulled whole"),
    ];
    for (sdk, way, says) in cases {
        let phone = FakePhone::spawn(&server, quick_phone(sdk, Place::Owner, &a));
        let (code, doc, stderr) = scan_env(
            &server,
            &["--serial", &phone.serial()],
            &[("APPSWEEP_ADB_READ", way)],
        );
        let what = format!("SDK {sdk} {way}");
        assert_eq!(code, 1, "{what}: {stderr}");
        let r = report(&doc, &phone.serial());
        check_place(&what, Place::Owner, r);
        assert!(notes(r).contains(says), "{what}: {r:#}");
    }
}

/// A hostile "adb server" on loopback: answers `host:version` at once, and for every request in
/// `trickled` sends its answer one byte every two seconds, for as long as the client stays.
/// `host:devices-l` lists one ready device, `TRICKLE01`, unless it is trickled.
fn trickling_server(trickled: &'static [&'static str]) -> String {
    use std::io::{Read, Write};
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap().to_string();
    std::thread::spawn(move || {
        for conn in l.incoming() {
            let Ok(mut c) = conn else { return };
            std::thread::spawn(move || {
                let mut len = [0u8; 4];
                if c.read_exact(&mut len).is_err() {
                    return;
                }
                let n = usize::from_str_radix(std::str::from_utf8(&len).unwrap_or("0"), 16)
                    .unwrap_or(0);
                let mut req = vec![0u8; n];
                if c.read_exact(&mut req).is_err() {
                    return;
                }
                let req = String::from_utf8_lossy(&req).into_owned();
                let body = match req.as_str() {
                    "host:version" => "0029".to_string(),
                    "host:devices-l" => {
                        "TRICKLE01 device product:p model:M device:d transport_id:1\n".to_string()
                    }
                    _ => "shell_v2,cmd".to_string(),
                };
                let answer = format!("OKAY{:04x}{body}", body.len());
                if trickled.contains(&req.as_str()) {
                    for b in answer.bytes() {
                        if c.write_all(&[b]).is_err() {
                            return;
                        }
                        std::thread::sleep(std::time::Duration::from_secs(2));
                    }
                } else {
                    let _ = c.write_all(answer.as_bytes());
                }
            });
        }
    });
    addr
}

#[test]
fn a_server_that_trickles_cannot_keep_devices_or_a_scan_alive() {
    // Each host query has a 10 s deadline for the whole answer, however it trickles in.
    let addr = trickling_server(&["host:devices-l"]);
    let t0 = std::time::Instant::now();
    let out = appsweep()
        .args(["devices", "--adb-server", &addr, "--format", "json"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        t0.elapsed() < std::time::Duration::from_secs(40),
        "{:?}",
        t0.elapsed()
    );
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("did not finish within 10 s"), "{stderr}");

    // The device's features trickle: that device is incomplete, in bounded time.
    let addr = trickling_server(&["host-serial:TRICKLE01:features"]);
    let t0 = std::time::Instant::now();
    let out = appsweep()
        .args([
            "scan",
            "adb",
            "--adb-server",
            &addr,
            "--format",
            "json",
            "--no-cache",
        ])
        .output()
        .unwrap();
    assert!(
        t0.elapsed() < std::time::Duration::from_secs(40),
        "{:?}",
        t0.elapsed()
    );
    assert_eq!(
        out.status.code(),
        Some(3),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    let r = report(&doc, "TRICKLE01");
    assert_eq!(r["status"], "incomplete");
    assert!(
        r["problems"]
            .to_string()
            .contains("did not finish within 10 s"),
        "{r:#}"
    );
}

#[test]
fn a_rescan_of_an_unchanged_phone_reads_no_apk_bytes_and_does_not_wait_for_dumpsys() {
    let Some((server, a)) = setup() else { return };
    let owner = FakePhone::spawn(&server, quick_phone(34, Place::Owner, &a));
    // A Secure Folder the shell may not list: only dumpsys shows it, every time.
    let folder = FakePhone::spawn(&server, quick_phone(34, Place::SecureFolder, &a));
    let cache = tempfile::tempdir().unwrap();
    let env = [("XDG_CACHE_HOME", cache.path().to_str().unwrap())];
    let (code, first, stderr) = scan_with_cache(&server, &[], &env);
    assert_eq!(code, 1, "{stderr}");
    let read_before = |p: &FakePhone| p.stats()["file_bytes_read"].as_u64().unwrap();
    let (o1, f1) = (read_before(&owner), read_before(&folder));
    let (code, second, stderr) = scan_with_cache(&server, &[], &env);
    assert_eq!(code, 1, "{stderr}");
    for (phone, dumpsys_runs) in [(&owner, 1), (&folder, 2)] {
        let (a1, a2) = (
            report(&first, &phone.serial()),
            report(&second, &phone.serial()),
        );
        assert_eq!(a1["apps"], a2["apps"], "the same apps, the same details");
        assert_eq!(a1["findings"], a2["findings"]);
        assert_eq!(a2["stats"]["full_pulls"], 0);
        assert!(a2["stats"]["cache_hits"].as_u64().unwrap() >= 1, "{a2:#}");
        let st = phone.stats();
        assert_eq!(st["commands"]["dumpsys"], dumpsys_runs, "{st:#}");
    }
    assert_eq!(read_before(&owner), o1, "no APK byte read on the re-scan");
    assert_eq!(read_before(&folder), f1, "no APK byte read on the re-scan");
    assert!(notes(report(&second, &owner.serial())).contains("previous scan"));
}

/// `-v` says what each phone went through, `-vv` every command with its cost, `-vvv` the
/// commands' texts; without `-v` (or with `-q`) none of it. The report is the same.
#[test]
fn verbose_levels_show_the_phone_the_commands_and_their_texts() {
    let Some((server, a)) = setup() else { return };
    let phone = FakePhone::spawn(&server, clean_phone(&a.clean));
    let serial = phone.serial();
    let verdict = format!("{serial}: clean: 1 apps, 0 findings, 0 problems;");
    let mut seen = Vec::new();
    for flags in [&[][..], &["-q", "-vv"], &["-v"], &["-vv"], &["-vvv"]] {
        let (code, doc, stderr) = scan(&server, flags);
        assert_eq!(code, 0, "{flags:?}: {stderr}");
        assert_eq!(report(&doc, &serial)["status"], "clean", "{flags:?}");
        seen.push((
            stderr.contains(&verdict) && stderr.contains("Android SDK 34, shell,v2,raw channel"),
            stderr.contains(&format!("{serial}: shell,v2,raw:"))
                && stderr.contains("bytes back in"),
            stderr.contains("package list packages"),
        ));
    }
    assert_eq!(
        seen,
        [
            (false, false, false),
            (false, false, false),
            (true, false, false),
            (true, true, false),
            (true, true, true)
        ]
    );
}

/// The APKs whose manifests amplify (see `hostile::manifests`), installed on a phone beside
/// TikTok and read over adb: the same reader, the same limits, the same bounded cost.
#[test]
fn manifests_that_amplify_on_a_phone_cost_bounded_memory() {
    use crate::hostile::{manifests::bombs, MEM_MIB, SECS};
    use crate::support::cmd::{appsweep_limited, code, json, stderr};
    let Some((server, a)) = setup() else { return };
    let dir = tempfile::tempdir().unwrap();
    let (attrs, copies, signer) = bombs(dir.path());
    let mut sc = sample_scenario(&a.tiktok, &a.split);
    let packages = sc["packages"].as_array_mut().unwrap();
    for (name, apk) in [
        ("com.example.attrbomb", &attrs),
        ("com.example.copybomb", &copies),
    ] {
        packages.push(
            json!({"name": name, "users": [0], "uid": 10300, "version_code": 1,
            "version_name": "6.6.6", "installer": null,
            "apks": [{"path": format!("/data/app/~~Bo==/{name}-Mb==/base.apk"), "file": apk}]}),
        );
    }
    let phone = FakePhone::spawn(&server, sc);
    let started = std::time::Instant::now();
    let out = appsweep_limited(MEM_MIB, SECS)
        .args(["scan", "adb", "--no-cache", "--adb-server", &server.addr()])
        .args(["--format", "json"])
        .env("HOME", server.home())
        .output()
        .unwrap();
    let err = stderr(&out);
    assert!(started.elapsed().as_secs() < SECS, "{err}");
    assert_eq!(code(&out), 1, "{err}");
    let doc = json(&out);
    let r = report(&doc, &phone.serial());
    assert_eq!(r["status"], "violation", "{r:#}");
    assert!(!tiktok_findings(r).is_empty(), "{r:#}");
    let app = |id: &str| {
        r["apps"]
            .as_array()
            .unwrap()
            .iter()
            .find(|x| x["id"] == id)
            .unwrap_or_else(|| panic!("no {id}: {r:#}"))
            .clone()
    };
    for id in ["com.example.attrbomb", "com.example.copybomb"] {
        assert_eq!(app(id)["signers_sha256"], json!([signer]), "{r:#}");
    }
    let problems = r["problems"].to_string();
    assert!(
        problems.contains("com.example.copybomb")
            && problems.contains("read in part")
            && problems.contains("16 MiB of decoded strings"),
        "{problems}"
    );
    assert!(!problems.contains("attrbomb"), "{problems}");
}
