//! The adbd transport per Android version: CNXN features and max payload, `shell:` under a
//! pseudo-terminal before Android 7, `exec:` binary-clean, shell v2 with exit status after, and
//! what an oversized request does to the phone (dropped) and to the Debian adb server (abort).

use super::{files, pull, sdk_phone, setup, stderr, stdout};
use crate::support::fakephone::{AdbServer, FakePhone};
use crate::support::phones::{tiktok_base, Place};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

/// `\n` → `\r\n`, as the tty of an old phone's `shell:` does.
fn onlcr(b: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    for &c in b {
        if c == b'\n' {
            out.push(b'\r');
        }
        out.push(c);
    }
    out
}

fn features(server: &AdbServer, serial: &str) -> String {
    let out = server.adb(&["-s", serial, "features"]);
    assert!(out.status.success(), "adb features: {}", stderr(&out));
    stdout(&out)
}

#[test]
fn android_5_and_6_run_shell_under_a_pty_and_exec_raw() {
    let Some((server, f)) = setup() else { return };
    let apk = std::fs::read(&f.apk).unwrap();
    for sdk in [21, 23] {
        let phone = sdk_phone(&server, sdk, Place::Owner, &f);
        let s = phone.serial();
        let base = tiktok_base(sdk);
        // No shell_v2, no cmd: the adb CLI falls back to `shell:`.
        assert_eq!(features(&server, &s).trim(), "", "SDK {sdk}");
        let out = server.shell(&s, "echo out; echo err >&2; false; echo rc=$?");
        assert_eq!(stdout(&out), "out\r\nerr\r\nrc=1\r\n", "SDK {sdk}");
        assert_eq!(
            stderr(&out),
            "",
            "stderr is merged into the pty (SDK {sdk})"
        );
        assert_eq!(out.status.code(), Some(0), "no exit status (SDK {sdk})");
        assert_eq!(
            server.shell(&s, "exit 3").status.code(),
            Some(0),
            "SDK {sdk}"
        );
        // Binary output through the pty is changed; through exec: it is exact.
        let cooked = server.adb(&["-s", &s, "shell", &format!("cat {base}")]);
        assert_eq!(cooked.stdout, onlcr(&apk), "SDK {sdk}");
        let raw = server.adb(&["-s", &s, "exec-out", &format!("cat {base}")]);
        assert_eq!(raw.stdout, apk, "SDK {sdk}");
        // Sync works at every level.
        assert_eq!(pull(&server, &s, &base, phone.dir()), apk, "SDK {sdk}");
        let st = phone.stats();
        assert_eq!(st["services"]["shell"], 3, "{st}");
        assert_eq!(st["services"]["exec"], 1, "{st}");
        assert!(st["services"].get("shell_v2").is_none(), "{st}");
    }
}

#[test]
fn android_7_and_later_have_shell_v2_with_exit_status() {
    let Some((server, f)) = setup() else { return };
    for sdk in [24, 28, 35] {
        let phone = sdk_phone(&server, sdk, Place::Owner, &f);
        let s = phone.serial();
        assert_eq!(features(&server, &s), "shell_v2\ncmd\n", "SDK {sdk}");
        let out = server.shell(&s, "echo out; echo err >&2; exit 3");
        assert_eq!(stdout(&out), "out\n", "SDK {sdk}");
        assert_eq!(stderr(&out), "err\n", "SDK {sdk}");
        assert_eq!(out.status.code(), Some(3), "SDK {sdk}");
        let raw = server.adb(&["-s", &s, "exec-out", "echo a; echo b >&2"]);
        assert_eq!(stdout(&raw), "a\nb\n", "exec: merges stderr (SDK {sdk})");
        assert_eq!(phone.stats()["services"]["shell_v2"], 1);
    }
}

#[test]
fn the_payload_limit_follows_the_version_and_the_server_stays_alive() {
    let Some((server, f)) = setup() else { return };
    // Android 6: 4 KiB. A command under it works; the adb CLI refuses a longer one itself
    // ("shell command too long") and nothing reaches the phone.
    let old = sdk_phone(&server, 23, Place::Owner, &f);
    let s = old.serial();
    let fits = "y".repeat(4000);
    let out = server.shell(&s, &format!("echo {fits}"));
    assert_eq!(stdout(&out), format!("{fits}\r\n"));
    let long = "x".repeat(5000);
    let out = server.shell(&s, &format!("echo {long}"));
    assert!(!out.status.success());
    assert!(stderr(&out).contains("too long"), "{}", stderr(&out));
    assert_eq!(server.state_of(&s).as_deref(), Some("device"));
    assert_eq!(stdout(&server.shell(&s, "echo alive")), "alive\r\n");
    let st = old.stats();
    assert_eq!(st["oversized_packets"], 0, "{st}");
    assert!(st["longest_open"].as_u64().unwrap() <= 4096, "{st}");

    // Android 7: 256 KiB, Android 9: 1 MiB: a 60 KB command is fine. Through the adb server
    // a request cannot exceed 64 KiB anyway (its length travels as 4 hex digits): the server
    // refuses a longer one ("closed") and stays up.
    for sdk in [24, 28] {
        let phone = sdk_phone(&server, sdk, Place::Owner, &f);
        let s = phone.serial();
        let arg = "z".repeat(60_000);
        let out = server.shell(&s, &format!("echo {arg} | wc -c"));
        assert_eq!(stdout(&out), "60001\n", "SDK {sdk}");
        let word = "w".repeat(100_000);
        let out = server.adb(&["-s", &s, "shell", "echo", &word, &word]);
        assert!(!out.status.success(), "SDK {sdk}: {}", stdout(&out));
        assert_eq!(
            stdout(&server.shell(&s, "echo alive")),
            "alive\n",
            "SDK {sdk}"
        );
        let st = phone.stats();
        assert!(st["longest_open"].as_u64().unwrap() > 60_000, "{st}");
        assert_eq!(st["oversized_packets"], 0, "{st}");
    }
}

/// The hazard appsweep must never trigger, shown on a private server: an `exec:` request longer
/// than a 4 KiB phone's max payload makes the Debian adb server abort (`CHECK_LE` in
/// `connect_to_remote`), and with it every attached phone. The phone never sees the request.
#[test]
fn an_oversized_request_aborts_the_debian_adb_server() {
    let Some(server) = AdbServer::start_or_skip() else {
        return;
    };
    let f = files();
    let phone = sdk_phone(&server, 23, Place::Owner, &f);
    let s = phone.serial();
    let before = phone.stats()["opens"].as_u64().unwrap();
    let long = "x".repeat(5000);
    let out = server.adb(&["-s", &s, "exec-out", &format!("echo {long}")]);
    assert!(!out.status.success(), "{}", stdout(&out));
    // The server is gone with its devices (`adb devices` starts a new, empty one).
    assert!(
        server.wait_state(&s, None, Duration::from_secs(20)),
        "the phone is still attached: {:?}",
        server.devices()
    );
    let st = phone.stats();
    assert_eq!(st["oversized_packets"], 0, "{st}");
    assert_eq!(st["opens"].as_u64().unwrap(), before, "{st}");
}

// ---------------------------------------------------------------- a raw host, no adb server

fn packet(cmd: &[u8; 4], arg0: u32, arg1: u32, payload: &[u8]) -> Vec<u8> {
    let c = u32::from_le_bytes(*cmd);
    let sum = payload.iter().map(|b| u32::from(*b)).sum::<u32>();
    let mut p = Vec::new();
    for w in [c, arg0, arg1, payload.len() as u32, sum, c ^ 0xffff_ffff] {
        p.extend_from_slice(&w.to_le_bytes());
    }
    p.extend_from_slice(payload);
    p
}

/// (command, arg0, arg1, payload), or `None` when the phone closed the connection.
fn read_packet(sock: &mut TcpStream) -> Option<([u8; 4], u32, u32, Vec<u8>)> {
    let mut h = [0u8; 24];
    sock.read_exact(&mut h).ok()?;
    let w = |i: usize| u32::from_le_bytes(h[i..i + 4].try_into().unwrap());
    let mut payload = vec![0u8; w(12) as usize];
    sock.read_exact(&mut payload).ok()?;
    Some((h[..4].try_into().unwrap(), w(4), w(8), payload))
}

fn connect_raw(phone: &FakePhone) -> (TcpStream, u32, String) {
    let mut sock = TcpStream::connect(("127.0.0.1", phone.port())).unwrap();
    sock.set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    sock.write_all(&packet(
        b"CNXN",
        0x0100_0001,
        1024 * 1024,
        b"host::features=shell_v2,cmd\0",
    ))
    .unwrap();
    let (cmd, _, max, banner) = read_packet(&mut sock).expect("CNXN reply");
    assert_eq!(&cmd, b"CNXN");
    (sock, max, String::from_utf8(banner).unwrap())
}

#[test]
fn cnxn_announces_the_version_max_payload_and_an_oversized_packet_is_dropped() {
    let Some((server, f)) = setup() else { return };
    for (sdk, max, features) in [
        (21, 4096u32, None),
        (23, 4096, Some("features=")),
        (24, 256 * 1024, Some("features=shell_v2,cmd")),
        (28, 1024 * 1024, Some("features=shell_v2,cmd")),
    ] {
        let apks = crate::support::phones::Apks {
            tiktok: &f.apk,
            split: None,
            clean: &f.split,
        };
        let mut sc = crate::support::phones::phone(sdk, Place::Owner, &apks);
        sc["auth"] = "none".into();
        sc["costs"]["scale"] = 0.into();
        let phone = FakePhone::start(&server, sc);
        let (mut sock, got_max, banner) = connect_raw(&phone);
        assert_eq!(got_max, max, "SDK {sdk}");
        assert!(banner.starts_with("device::ro.product.name="), "{banner}");
        match features {
            Some(want) => assert!(banner.ends_with(want), "SDK {sdk}: {banner}"),
            None => assert!(!banner.contains("features"), "SDK {sdk}: {banner}"),
        }
        if sdk <= 23 {
            // No shell protocol before Android 7: `shell,v2,...:` is an unknown service.
            sock.write_all(&packet(b"OPEN", 5, 0, b"shell,v2,raw:echo hi\0"))
                .unwrap();
            let (cmd, _, remote, _) = read_packet(&mut sock).expect("CLSE");
            assert_eq!((&cmd, remote), (b"CLSE", 5), "SDK {sdk}");
        }
        // A service string of exactly the max payload is taken.
        let mut name = b"exec:echo ".to_vec();
        name.resize(max as usize - 1, b'a');
        name.push(0);
        sock.write_all(&packet(b"OPEN", 7, 0, &name)).unwrap();
        let (cmd, _, remote, _) = read_packet(&mut sock).expect("OKAY");
        assert_eq!((&cmd, remote), (b"OKAY", 7), "SDK {sdk}");
        // One byte more and the phone drops the connection, as adbd does.
        let mut name = b"exec:echo ".to_vec();
        name.resize(max as usize, b'b');
        name.push(0);
        sock.write_all(&packet(b"OPEN", 8, 0, &name)).unwrap();
        let t0 = Instant::now();
        while read_packet(&mut sock).is_some() {
            assert!(t0.elapsed() < Duration::from_secs(20), "not dropped");
        }
        let st = phone.stats();
        assert_eq!(st["oversized_packets"], 1, "SDK {sdk}: {st}");
        assert!(
            st["oversized"][0]
                .as_str()
                .unwrap()
                .starts_with(&format!("OPEN of {} bytes (max {max})", max + 1)),
            "{st}"
        );
        assert_eq!(st["longest_open"], max, "{st}");
    }
}

/// Adding `sdk` alone turns an old scenario (android_sdk 34, shell_v2 true, version props)
/// into a real phone of that version, reporting it too.
#[test]
fn sdk_alone_makes_an_old_scenario_a_real_phone_of_that_version() {
    let Some((server, f)) = setup() else { return };
    let mut sc = crate::support::fakephone::sample_scenario(&f.apk, &f.split);
    sc["sdk"] = 23.into();
    let phone = FakePhone::spawn(&server, sc);
    let s = phone.serial();
    assert_eq!(features(&server, &s).trim(), "");
    let out = server.shell(
        &s,
        "getprop ro.build.version.sdk; getprop ro.build.version.release; base64 /x",
    );
    assert_eq!(
        stdout(&out),
        "23\r\n6.0.1\r\n/system/bin/sh: base64: not found\r\n"
    );
}
