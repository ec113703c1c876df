//! The on-phone cost model: what each command costs in phone time (counted exactly in the
//! fake's `phone_ms`), that the phone really takes that long (lower bounds, robust under load;
//! upper bounds generous), and that concurrent shells overlap on the phone's cores.

use super::{setup, Files};
use crate::support::fakephone::{AdbServer, FakePhone};
use crate::support::phones::{self, Place};
use serde_json::{json, Value};
use std::time::{Duration, Instant};

fn scenario(sdk: u32, f: &Files, costs: Value) -> Value {
    let apks = phones::Apks {
        tiktok: &f.apk,
        split: Some(&f.split),
        clean: &f.split,
    };
    let mut sc = phones::phone(sdk, Place::Owner, &apks);
    sc["costs"] = costs;
    sc
}

fn phone_ms(phone: &FakePhone) -> f64 {
    phone.stats()["phone_ms"].as_f64().unwrap()
}

/// Runs `cmd` and returns (wall time, phone time it added).
fn timed(server: &AdbServer, phone: &FakePhone, cmd: &str) -> (Duration, f64) {
    let before = phone_ms(phone);
    let t0 = Instant::now();
    let out = server.shell(&phone.serial(), cmd);
    let took = t0.elapsed();
    assert!(!out.stdout.is_empty(), "{cmd}: no output");
    (took, phone_ms(phone) - before)
}

#[test]
fn pm_cmd_dumpsys_and_tools_cost_what_the_model_says() {
    let Some((server, f)) = setup() else { return };
    // Real time (scale 1, the default with sdk).
    let old = FakePhone::spawn(&server, scenario(27, &f, json!({})));
    let (took, ms) = timed(&server, &old, "pm list users");
    assert_eq!(ms, 350.0, "a Java VM start per pm call before Android 9");
    assert!(took >= Duration::from_millis(350), "{took:?}");
    let (_, ms) = timed(&server, &old, "cmd package list users");
    assert_eq!(ms, 40.0, "cmd is native from Android 7");
    let new = FakePhone::spawn(&server, scenario(28, &f, json!({})));
    let (took, ms) = timed(&server, &new, "pm list users");
    assert_eq!(ms, 40.0);
    assert!(took >= Duration::from_millis(40), "{took:?}");
    assert!(took < Duration::from_secs(10), "generous: {took:?}");
    // dumpsys: 0.3 s + 5 ms per package dumped (4 packages).
    let (took, ms) = timed(&server, &new, "dumpsys package");
    assert_eq!(ms, 320.0);
    assert!(took >= Duration::from_millis(320), "{took:?}");
    let (_, ms) = timed(
        &server,
        &new,
        &format!("dumpsys package {}", phones::TIKTOK),
    );
    assert_eq!(ms, 305.0);
    // Toybox tools 2 ms each, builtins free; a script costs the sum of its commands.
    let base = phones::tiktok_base(28);
    let (_, ms) = timed(
        &server,
        &new,
        &format!("echo a; stat -c %s {base}; sha256sum {base}; pm path x; getprop ro.serialno"),
    );
    // sha256sum also reads the 300,001-byte APK at 500 MB/s.
    let want = 2.0 + 2.0 + 40.0 + 2.0 + 0.600_002;
    assert!((ms - want).abs() < 1e-6, "{ms} != {want}");
}

#[test]
fn reading_files_costs_by_the_byte() {
    let Some((server, f)) = setup() else { return };
    // 1 MB/s: hashing the 300,001-byte APK costs 300 ms of phone time, sending 4096 of its
    // bytes out through dd 4 ms, base64 of 12,288 bytes 12 ms.
    let phone = FakePhone::spawn(&server, scenario(34, &f, json!({"file_mb_per_s": 1.0})));
    let base = phones::tiktok_base(34);
    let (took, ms) = timed(&server, &phone, &format!("sha256sum {base}"));
    assert!((ms - 302.001).abs() < 1e-6, "{ms}");
    assert!(took >= Duration::from_millis(302), "{took:?}");
    let (_, ms) = timed(
        &server,
        &phone,
        &format!("dd if={base} bs=4096 count=1 2>/dev/null"),
    );
    assert!((ms - 6.096).abs() < 1e-6, "{ms}");
    let (_, ms) = timed(
        &server,
        &phone,
        &format!("dd if={base} bs=4096 skip=1 count=3 2>/dev/null | base64 -w 0"),
    );
    assert!((ms - 16.288).abs() < 1e-6, "{ms}");
}

#[test]
fn concurrent_shells_overlap_on_the_phones_cores() {
    let Some((server, f)) = setup() else { return };
    let run4 = |phone: &FakePhone| -> Duration {
        let t0 = Instant::now();
        std::thread::scope(|s| {
            for _ in 0..4 {
                s.spawn(|| {
                    let out = server.shell(&phone.serial(), "pm list users");
                    assert!(out.status.success());
                });
            }
        });
        t0.elapsed()
    };
    // Four 1 s pm calls: about 1 s on a phone running them at once, 4 s on one core. Both
    // runs carry the same host overhead, so compare them rather than trust absolute times.
    let many = FakePhone::spawn(&server, scenario(30, &f, json!({"pm_ms": 1000})));
    let overlapped = run4(&many);
    let one = FakePhone::spawn(
        &server,
        scenario(30, &f, json!({"pm_ms": 1000, "parallel": 1})),
    );
    let serial = run4(&one);
    assert!(overlapped >= Duration::from_secs(1), "{overlapped:?}");
    assert!(serial >= Duration::from_secs(4), "{serial:?}");
    assert!(
        overlapped + Duration::from_secs(2) < serial,
        "overlapped {overlapped:?}, one core {serial:?}"
    );
    assert_eq!(phone_ms(&many), 4000.0);
}

#[test]
fn scale_shrinks_wall_time_not_phone_time() {
    let Some((server, f)) = setup() else { return };
    let phone = FakePhone::spawn(&server, scenario(23, &f, json!({"scale": 0.0})));
    let (took, ms) = timed(
        &server,
        &phone,
        "pm list users; pm list users; pm list users",
    );
    assert_eq!(ms, 1050.0);
    assert!(took < Duration::from_secs(10), "free phone: {took:?}");
}
