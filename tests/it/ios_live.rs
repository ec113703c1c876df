//! `appsweep scan ios`, `devices` and `watch` against fake iPhones behind a private usbmuxd
//! socket, with Debian's libimobiledevice tools (`ideviceinfo`, `idevicepair`,
//! `ideviceinstaller`) run against the same fakes, so the fake speaks what real clients expect.

use crate::support::backupbuild::Backup;
use crate::support::cmd::{app, both, code, interrupt, json, json_files, report, stderr};
use crate::support::fakeiphone::{
    iphone, tiktok, tools_available, udid, with, with_all, FakeIphone, APPLE_ID, DOUYIN, TIKTOK,
    TIKTOK_STORE_ID,
};
use crate::support::schema::assert_valid_run;

use serde_json::{json, Value};
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

fn scan(fake: &FakeIphone, extra: &[&str]) -> (i32, Value, String) {
    let o = fake
        .appsweep()
        .args(["scan", "ios", "--format", "json"])
        .args(extra)
        .output()
        .unwrap();
    (code(&o), json(&o), stderr(&o))
}

fn finding_ids(r: &Value, signature: &str) -> Vec<String> {
    r["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["signature"] == signature)
        .map(|f| f["id"].as_str().unwrap().to_string())
        .collect()
}

fn problems(r: &Value) -> String {
    r["problems"].to_string()
}

#[test]
fn tiktok_among_80_user_apps_is_a_violation_and_real_clients_agree() {
    if !tools_available() {
        return;
    }
    let u = udid(1);
    let fake = FakeIphone::start(vec![iphone(1, json!([tiktok()]), 79)], 0);

    // Debian's clients accept the fake: identity, pairing, and the same app list.
    let info = fake.tool_ok("ideviceinfo", &["-k", "ProductType"]);
    assert_eq!(info.trim(), "iPhone14,2");
    assert!(fake
        .tool_ok("idevicepair", &["validate"])
        .contains("SUCCESS"));
    let listed = fake.tool_ok("ideviceinstaller", &["-l"]);
    assert!(listed.contains(TIKTOK), "{listed}");
    assert_eq!(
        listed.lines().count(),
        1 + 80,
        "header and 80 user apps: {listed}"
    );
    let (sessions, browses) = (fake.count(&u, "sessions"), fake.count(&u, "browses"));

    let (rc, doc, err) = scan(&fake, &[]);
    assert_eq!(rc, 1, "{err}");
    assert_valid_run(&doc);
    let r = report(&doc, &u);
    assert_eq!(r["status"], "violation");
    assert_eq!(r["device"]["source"], "usbmuxd");
    assert_eq!(r["device"]["model"], "iPhone14,2");
    assert_eq!(r["device"]["os_version"], "17.4.1");
    assert_eq!(r["device"]["serial"], "F2LZK0AA0001");
    assert_eq!(r["counts"]["apps"], 80 + 30, "user and system apps");
    let app = app(r, TIKTOK);
    assert_eq!(app["seen_in"], json!(["installation_proxy"]));
    assert_eq!(app["app_store_id"], TIKTOK_STORE_ID);
    assert_eq!(app["system"], false);
    let system = r["apps"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["system"] == true)
        .count();
    assert_eq!(system, 30);
    // One lockdown session and one Browse for the whole verdict.
    assert_eq!(fake.count(&u, "sessions") - sessions, 1);
    assert_eq!(fake.count(&u, "browses") - browses, 1);
    // Nothing person-identifying without --include-personal-data.
    let raw = serde_json::to_string(&doc).unwrap();
    for secret in [
        "Alice",
        APPLE_ID,
        "owner@example.com",
        "+1 555 0100",
        "8901260000000000001",
    ] {
        assert!(!raw.contains(secret), "{secret} leaked: {raw}");
    }
    assert_eq!(r["device"]["name"], Value::Null);
    assert_eq!(r["device"]["personal"], Value::Null);
    // Read-only: no pairing, no record written.
    assert_eq!(fake.count(&u, "pair_requests"), 0);
    assert_eq!(fake.count(&u, "pair_records_saved"), 0);

    // The same phone's backup gives the same finding id.
    let tmp = tempfile::tempdir().unwrap();
    let backup = Backup::new(&u)
        .installed_app(TIKTOK)
        .write(&tmp.path().join("b"));
    let o = crate::support::cmd::run(&[
        "scan",
        "backup",
        "--format",
        "json",
        backup.to_str().unwrap(),
    ]);
    let b = json(&o);
    let from_backup = finding_ids(&b["reports"][0], "tiktok.global");
    assert!(!from_backup.is_empty(), "{b:#}");
    assert_eq!(finding_ids(r, "tiktok.global"), from_backup);
}

#[test]
fn personal_data_only_when_asked_for() {
    let u = udid(2);
    let fake = FakeIphone::start(vec![iphone(2, json!([tiktok()]), 3)], 0);
    let (rc, doc, err) = scan(&fake, &["--include-personal-data", "--udid", &u]);
    assert_eq!(rc, 1, "{err}");
    assert_valid_run(&doc);
    let d = &report(&doc, &u)["device"];
    assert_eq!(d["name"], "Alice's iPhone");
    assert_eq!(d["personal"]["phone_number"], "+1 555 0100");
    assert_eq!(d["personal"]["iccid"], "8901260000000000001");
    assert_eq!(
        d["personal"]["apple_ids"],
        json!([APPLE_ID, "owner@example.com"]),
        "every buyer, sorted"
    );
}

#[test]
fn douyin_on_an_ipad_is_a_violation() {
    let u = udid(3);
    let ipad = json!({
        "udid": u, "paired": true, "product_type": "iPad13,4", "device_class": "iPad",
        "product_version": "16.7.2", "serial": "DMPZK0IPAD01",
        "apps": [{"id": DOUYIN, "name": "抖音", "version": "29.0.0", "item_id": 1142110895u64}],
        "filler_user_apps": 20, "filler_system_apps": 10
    });
    let fake = FakeIphone::start(vec![ipad], 0);
    let (rc, doc, err) = scan(&fake, &[]);
    assert_eq!(rc, 1, "{err}");
    let r = report(&doc, &u);
    assert_eq!(r["device"]["model"], "iPad13,4");
    assert_eq!(r["device"]["imei"], Value::Null, "a Wi-Fi iPad has no IMEI");
    assert_eq!(finding_ids(r, "douyin.ios").len(), 1, "{r:#}");
}

#[test]
fn an_app_whose_name_merely_contains_tok_is_clean() {
    let u = udid(4);
    let apps = json!([
        {"id": "com.example.tokenvault", "name": "TokVault", "item_id": 1500000001u64},
        {"id": "org.example.tiktoknotes.ios", "name": "Tok Tok Notes"},
        {"id": "com.zhiliaoapp.musically.companion", "name": "Musically Fan Club"}
    ]);
    let fake = FakeIphone::start(vec![iphone(4, apps, 10)], 0);
    let (rc, doc, err) = scan(&fake, &[]);
    let r = report(&doc, &u);
    assert_eq!(rc, 0, "{err}\n{r:#}");
    assert_eq!(r["status"], "clean");
    assert_eq!(r["findings"], json!([]));
    assert_eq!(r["problems"], json!([]));
}

#[test]
fn untrusted_phones_are_incomplete_with_what_to_do_and_others_still_count() {
    if !tools_available() {
        return;
    }
    let (never, forgot, good) = (udid(5), udid(6), udid(7));
    let fake = FakeIphone::start(
        vec![
            with(iphone(5, json!([tiktok()]), 5), "paired", json!(false)),
            with(iphone(6, json!([tiktok()]), 5), "trusts_host", json!(false)),
            iphone(7, json!([tiktok()]), 5),
        ],
        0,
    );
    let (rc, doc, err) = scan(&fake, &[]);
    assert_eq!(rc, 1, "the trusted phone's violation wins: {err}");
    assert_valid_run(&doc);
    let a = report(&doc, &never);
    assert_eq!(a["status"], "incomplete");
    assert!(problems(a).contains("tap Trust"), "{a:#}");
    assert_eq!(
        a["device"]["model"], "iPhone14,2",
        "public identity still read"
    );
    assert_eq!(a["apps"], json!([]));
    let b = report(&doc, &forgot);
    assert_eq!(b["status"], "incomplete");
    assert!(problems(b).contains("no longer trusts"), "{b:#}");
    assert_eq!(report(&doc, &good)["status"], "violation");
    // Nothing was paired or saved behind the user's back.
    for u in [&never, &forgot] {
        assert_eq!(fake.count(u, "pair_requests"), 0);
        assert_eq!(fake.count(u, "pair_records_saved"), 0);
        assert_eq!(fake.count(u, "sessions"), 0);
    }

    let o = fake
        .appsweep()
        .args(["devices", "--format", "json", "--adb-server", "127.0.0.1:1"])
        .env("PATH", "/nonexistent")
        .output()
        .unwrap();
    assert_eq!(code(&o), 3, "{}", both(&o));
    let list = json(&o);
    let state = |u: &str| {
        list.as_array()
            .unwrap()
            .iter()
            .find(|d| d["serial"] == u)
            .map(|d| (d["state"].clone(), d["platform"].clone()))
            .unwrap_or_else(|| panic!("{u} not listed: {list:#}"))
    };
    assert_eq!(state(&never), (json!("not_paired"), json!("ios")));
    assert_eq!(state(&forgot), (json!("not_trusted"), json!("ios")));
    assert_eq!(state(&good), (json!("paired"), json!("ios")));
    assert!(
        stderr(&o).contains("Android devices not listed"),
        "{}",
        stderr(&o)
    );

    // The real client sees the same: the phone that forgot this host refuses it.
    fake.tool_refused("idevicepair", &["-u", &forgot, "validate"]);
}

#[test]
fn a_passcode_locked_phone_refuses_pairing_and_the_user_is_told_to_unlock_it() {
    if !tools_available() {
        return;
    }
    let u = udid(8);
    let locked = with_all(
        iphone(8, json!([]), 5),
        json!({"paired": false, "pairing": "locked"}),
    );
    let fake = FakeIphone::start(vec![locked], 0);
    let (rc, doc, err) = scan(&fake, &["--pair"]);
    assert_eq!(rc, 3, "{err}");
    let r = report(&doc, &u);
    assert_eq!(r["status"], "incomplete");
    assert!(
        problems(r).contains("locked with a passcode") && problems(r).contains("unlock"),
        "{r:#}"
    );
    assert!(fake.count(&u, "pair_requests") >= 1);
    assert_eq!(fake.count(&u, "pair_records_saved"), 0);
    // libimobiledevice gets the same refusal from the fake.
    let refused = fake.tool_refused("idevicepair", &["pair"]);
    assert!(refused.to_lowercase().contains("passcode"), "{refused}");
}

#[test]
fn pairing_on_request_saves_a_record_that_real_clients_use() {
    if !tools_available() {
        return;
    }
    let u = udid(9);
    let phone = with_all(
        iphone(9, json!([tiktok()]), 5),
        json!({"paired": false, "pairing": "pending_then_accept"}),
    );
    let fake = FakeIphone::start(vec![phone], 0);
    let (rc, doc, err) = scan(&fake, &["--pair"]);
    assert_eq!(rc, 1, "{err}");
    assert!(
        err.contains("tap Trust"),
        "the user is asked to tap Trust: {err}"
    );
    assert_eq!(report(&doc, &u)["status"], "violation");
    assert_eq!(fake.count(&u, "pair_records_saved"), 1);
    // The record is in the shared format: libimobiledevice uses it as is.
    let info = fake.tool_ok("ideviceinfo", &["-k", "SerialNumber"]);
    assert_eq!(info.trim(), "F2LZK0AA0009");
    // Later scans need no pairing.
    let asked = fake.count(&u, "pair_requests");
    let (rc, _, err) = scan(&fake, &[]);
    assert_eq!(rc, 1, "{err}");
    assert_eq!(fake.count(&u, "pair_requests"), asked);
}

#[test]
fn a_record_made_by_libimobiledevice_works_for_appsweep() {
    if !tools_available() {
        return;
    }
    let u = udid(10);
    let phone = with(iphone(10, json!([tiktok()]), 5), "paired", json!(false));
    let fake = FakeIphone::start(vec![phone], 0);
    fake.tool_ok("idevicepair", &["pair"]);
    assert_eq!(fake.count(&u, "pair_records_saved"), 1);
    let (rc, doc, err) = scan(&fake, &[]);
    assert_eq!(rc, 1, "{err}");
    assert_eq!(report(&doc, &u)["status"], "violation");
}

#[test]
fn a_phone_unplugged_during_browse_is_never_clean() {
    let (cut, fine) = (udid(11), udid(12));
    let unplugged = with(iphone(11, json!([]), 80), "unplug_after_apps", json!(40));
    let fake = FakeIphone::start(vec![unplugged, iphone(12, json!([]), 10)], 0);
    let (rc, doc, err) = scan(&fake, &[]);
    assert_eq!(rc, 3, "{err}");
    let r = report(&doc, &cut);
    assert_eq!(r["status"], "incomplete");
    assert!(
        problems(r).contains("went away while its apps were listed"),
        "{r:#}"
    );
    assert!(problems(r).contains("40 of 110"), "{r:#}");
    assert_eq!(r["counts"]["apps"], 40, "what was read is kept");
    assert_eq!(report(&doc, &fine)["status"], "clean");
}

#[test]
fn a_phone_that_is_not_the_paired_one_is_refused() {
    if !tools_available() {
        return;
    }
    let u = udid(13);
    let phone = with(iphone(13, json!([tiktok()]), 5), "impostor", json!(true));
    let fake = FakeIphone::start(vec![phone], 0);
    let (rc, doc, err) = scan(&fake, &[]);
    assert_eq!(rc, 3, "{err}");
    let r = report(&doc, &u);
    assert!(
        problems(r).contains("not the one in this computer's pair record"),
        "{r:#}"
    );
    assert_eq!(r["apps"], json!([]));
    // libimobiledevice does not check the phone's certificate and is fooled.
    fake.tool_ok("ideviceinfo", &["-k", "SerialNumber"]);
}

#[test]
fn service_tls_and_tls13_sessions_work_for_both_clients() {
    if !tools_available() {
        return;
    }
    let u = udid(14);
    let phone = with_all(
        iphone(14, json!([tiktok()]), 30),
        json!({"service_ssl": true, "tls13": true, "chunk": 7}),
    );
    let fake = FakeIphone::start(vec![phone], 0);
    assert!(fake.tool_ok("ideviceinstaller", &["-l"]).contains(TIKTOK));
    let (rc, doc, err) = scan(&fake, &[]);
    assert_eq!(rc, 1, "{err}");
    assert_eq!(report(&doc, &u)["counts"]["apps"], 31 + 30);
}

fn best_of_three(fake: &FakeIphone) -> Duration {
    (0..3)
        .map(|_| {
            let t0 = Instant::now();
            let (rc, _, err) = scan(fake, &[]);
            assert_eq!(rc, 1, "{err}");
            t0.elapsed()
        })
        .min()
        .unwrap()
}

#[test]
fn four_phones_at_once_take_at_most_one_and_a_half_times_one() {
    // 50 ms per answer: the scan is dominated by the phone, as over USB, not by this machine.
    let one = FakeIphone::start(vec![iphone(20, json!([tiktok()]), 79)], 50);
    let four = FakeIphone::start(
        (21..25).map(|n| iphone(n, json!([tiktok()]), 79)).collect(),
        50,
    );
    let (rc, doc, err) = scan(&four, &[]);
    assert_eq!(rc, 1, "{err}");
    assert_eq!(doc["reports"].as_array().unwrap().len(), 4);
    for n in 21..25 {
        assert_eq!(report(&doc, &udid(n))["status"], "violation");
    }
    let t1 = best_of_three(&one);
    let t4 = best_of_three(&four);
    assert!(
        t4.as_secs_f64() <= 1.5 * t1.as_secs_f64(),
        "four phones took {t4:?}, one {t1:?}"
    );
}

fn records(dir: &Path) -> Vec<Value> {
    json_files(dir)
        .iter()
        .filter_map(|p| serde_json::from_slice(&std::fs::read(p).ok()?).ok())
        .collect()
}

fn wait_for(what: &str, mut ok: impl FnMut() -> bool) {
    let t0 = Instant::now();
    while t0.elapsed() < Duration::from_secs(60) {
        if ok() {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("timed out waiting for {what}");
}

#[test]
fn watch_scans_each_iphone_attach_once_and_an_unpaired_one_once_trusted() {
    if !tools_available() {
        return;
    }
    let (plugged, unpaired) = (udid(30), udid(31));
    let a = with_all(
        iphone(30, json!([tiktok()]), 5),
        json!({"attach_after_ms": 300, "detach_after_ms": 2500, "reattach_after_ms": 500}),
    );
    let b = with(iphone(31, json!([]), 5), "paired", json!(false));
    let fake = FakeIphone::start(vec![a, b], 0);
    let dir = tempfile::tempdir().unwrap();
    let out_dir = dir.path().join("records");
    let mut w = fake
        .appsweep()
        .args([
            "watch",
            "--format",
            "jsonl",
            "--adb-server",
            "127.0.0.1:1",
            "--out-dir",
        ])
        .arg(&out_dir)
        .env("PATH", "/nonexistent")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let of = |u: &str| {
        records(&out_dir)
            .iter()
            .filter(|r| r["device"]["id"] == u)
            .count()
    };
    wait_for("the first attach", || of(&plugged) == 1);
    wait_for("the replug", || of(&plugged) == 2);
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(of(&plugged), 2, "one record per attach");
    assert_eq!(
        of(&unpaired),
        0,
        "an unpaired phone gets instructions, not a record"
    );
    // The user trusts the computer (here through libimobiledevice): usbmuxd says Paired.
    fake.tool_ok("idevicepair", &["-u", &unpaired, "pair"]);
    wait_for("the scan once paired", || of(&unpaired) == 1);
    let (rc, err) = interrupt(&mut w);
    assert_eq!(rc, 1, "TikTok was found: {err}");
    assert!(
        err.contains("not paired") && err.contains("tap Trust"),
        "{err}"
    );
    assert_eq!(
        records(&out_dir)
            .iter()
            .filter(|r| r["status"] == "violation")
            .count(),
        2
    );
}

#[test]
fn no_usbmuxd_no_phone_and_an_unknown_udid_are_explained() {
    let dir = tempfile::tempdir().unwrap();
    let gone = format!("UNIX:{}", dir.path().join("no-usbmuxd").display());
    let o = crate::support::cmd::appsweep()
        .args(["scan", "ios"])
        .env("USBMUXD_SOCKET_ADDRESS", &gone)
        .output()
        .unwrap();
    assert_eq!(code(&o), 2, "{}", both(&o));
    assert!(
        stderr(&o).contains("usbmuxd") && stderr(&o).contains("install"),
        "{}",
        stderr(&o)
    );
    assert!(o.stdout.is_empty(), "no empty report");

    let later = with(iphone(40, json!([]), 1), "attach_after_ms", json!(600_000));
    let fake = FakeIphone::start(vec![later], 0);
    let o = fake.appsweep().args(["scan", "ios"]).output().unwrap();
    assert_eq!(code(&o), 2, "{}", both(&o));
    assert!(
        stderr(&o).contains("no iPhone or iPad is attached"),
        "{}",
        both(&o)
    );
    let missing = udid(41);
    let (rc, doc, err) = scan(&fake, &["--udid", &missing]);
    assert_eq!(rc, 3, "{err}");
    assert!(problems(report(&doc, &missing)).contains("does not list this UDID"));
}
