//! The phone's tools per Android version: present or absent, their options and messages.

use super::{decode_b64, run, sdk_phone, setup, sha256_hex};
use crate::support::fakephone::FakePhone;
use crate::support::phones::{tiktok_base, Place};
use sha1::Digest;

fn not_found(sdk: u32, tool: &str) -> String {
    if sdk >= 24 {
        format!("/system/bin/sh: {tool}: inaccessible or not found\n")
    } else {
        format!("/system/bin/sh: {tool}: not found\n")
    }
}

fn md5_hex(path: &std::path::Path) -> String {
    let out = std::process::Command::new("md5sum")
        .arg(path)
        .output()
        .unwrap();
    String::from_utf8(out.stdout).unwrap()[..32].to_string()
}

#[test]
fn tools_are_there_from_the_version_the_reference_gives() {
    let Some((server, f)) = setup() else { return };
    let apk = std::fs::read(&f.apk).unwrap();
    let sha1: String = sha1::Sha1::digest(&apk)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    for sdk in [21, 22, 23, 24, 25, 26, 28, 29, 35] {
        let phone = sdk_phone(&server, sdk, Place::Owner, &f);
        let base = tiktok_base(sdk);
        let p = |what: &str| format!("SDK {sdk}: {what}");

        // stat: from Android 6 (toybox).
        let (out, rc) = run(&server, &phone, &format!("stat -c '%s %Y %n' {base} 2>&1"));
        if sdk >= 23 {
            assert_eq!(rc, 0, "{}", p(&out));
            assert_eq!(
                out,
                format!("{} 1714644000 {base}\n", apk.len()),
                "{}",
                p("stat")
            );
        } else {
            assert_eq!((out, rc), (not_found(sdk, "stat"), 127), "{}", p("stat"));
        }

        // sha256sum: from Android 8; sha1sum and md5sum: from Android 6.
        let (out, rc) = run(&server, &phone, &format!("sha256sum {base} 2>&1"));
        if sdk >= 26 {
            assert_eq!(
                out,
                format!("{}  {base}\n", sha256_hex(&apk)),
                "{}",
                p("sha256sum")
            );
        } else {
            assert_eq!(
                (out, rc),
                (not_found(sdk, "sha256sum"), 127),
                "{}",
                p("sha256sum")
            );
        }
        let (out, rc) = run(
            &server,
            &phone,
            &format!("sha1sum {base} 2>&1; md5sum {base} 2>&1"),
        );
        if sdk >= 23 {
            assert_eq!(
                out,
                format!("{sha1}  {base}\n{}  {base}\n", md5_hex(&f.apk)),
                "{}",
                p("sha1sum/md5sum")
            );
        } else {
            let want = not_found(sdk, "sha1sum") + &not_found(sdk, "md5sum");
            assert_eq!((out, rc), (want, 127), "{}", p("sha1sum/md5sum"));
        }

        // od -A n -t x1 -v: from Android 6.
        let (out, rc) = run(
            &server,
            &phone,
            &format!("dd if={base} bs=20 count=1 2>/dev/null | od -A n -t x1 -v 2>&1"),
        );
        if sdk >= 23 {
            let hex = |b: &[u8]| b.iter().map(|x| format!(" {x:02x}")).collect::<String>();
            assert_eq!(
                out,
                format!("{}\n{}\n", hex(&apk[..16]), hex(&apk[16..20])),
                "{}",
                p("od")
            );
        } else {
            assert_eq!((out, rc), (not_found(sdk, "od"), 127), "{}", p("od"));
        }

        // base64: none before 7; 7.x refuses -w 0 and wraps at 76; from 8 -w 0 works.
        let (out, rc) = run(
            &server,
            &phone,
            &format!("dd if={base} bs=4096 skip=1 count=2 2>/dev/null | base64 -w 0 2>&1"),
        );
        match sdk {
            ..=23 => assert_eq!(
                (out, rc),
                (not_found(sdk, "base64"), 127),
                "{}",
                p("base64")
            ),
            24 | 25 => assert_eq!((out.as_str(), rc), ("base64: -w < 1\n", 1), "{}", p("-w 0")),
            _ => {
                assert_eq!(rc, 0, "{}", p(&out));
                assert!(!out.contains('\n'), "{}", p("unwrapped"));
                assert_eq!(
                    decode_b64(&out),
                    apk[4096..3 * 4096],
                    "{}",
                    p("base64 -w 0")
                );
            }
        }
        if sdk >= 24 {
            let (out, rc) = run(
                &server,
                &phone,
                &format!("dd if={base} bs=1000 count=1 2>/dev/null | base64"),
            );
            assert_eq!(rc, 0, "{}", p(&out));
            let lines: Vec<&str> = out.lines().collect();
            assert_eq!(lines.len(), 18, "{}", p("1000 bytes wrap to 18 lines"));
            assert!(lines[..17].iter().all(|l| l.len() == 76), "{}", p(&out));
            assert_eq!(decode_b64(&out), apk[..1000], "{}", p("base64"));
        }

        // dd: BSD before Android 10 (no iflag=, its own summary), toybox from 10.
        let (out, rc) = run(
            &server,
            &phone,
            &format!(
                "dd if={base} iflag=skip_bytes,count_bytes skip=1000 count=777 2>&1 >/dev/null"
            ),
        );
        if sdk >= 29 {
            assert_eq!(rc, 0, "{}", p(&out));
            assert!(
                out.starts_with("1+1 records in\n1+1 records out\n777 bytes"),
                "{}",
                p(&out)
            );
        } else {
            assert_eq!(
                (out.as_str(), rc),
                ("dd: unknown operand iflag\n", 1),
                "{}",
                p("BSD dd")
            );
        }
        let (out, _) = run(
            &server,
            &phone,
            &format!("dd if={base} bs=4096 count=1 2>&1 >/dev/null"),
        );
        if sdk >= 29 {
            assert!(out.contains(" bytes (4.0 K) copied"), "{}", p(&out));
        } else {
            assert!(out.contains("4096 bytes transferred in "), "{}", p(&out));
        }
        // Every version reads exact ranges with dd over exec:.
        let raw = server.adb(&[
            "-s",
            &phone.serial(),
            "exec-out",
            &format!("dd if={base} bs=4096 skip=2 count=1 2>/dev/null"),
        ]);
        assert_eq!(
            raw.stdout,
            apk[2 * 4096..3 * 4096],
            "{}",
            p("dd over exec:")
        );

        // cmd: from Android 7.
        let (out, rc) = run(&server, &phone, "cmd package list packages -s 2>&1");
        if sdk >= 24 {
            assert_eq!(rc, 0, "{}", p(&out));
        } else {
            assert_eq!((out, rc), (not_found(sdk, "cmd"), 127), "{}", p("cmd"));
        }
    }
}

#[test]
fn command_v_which_and_toolbox_era_gaps() {
    let Some((server, f)) = setup() else { return };
    for sdk in [21, 22, 23, 25, 26] {
        let phone = sdk_phone(&server, sdk, Place::Owner, &f);
        let p = |what: &str| format!("SDK {sdk}: {what}");
        // mksh's `command -v` says where each tool is, in one round trip.
        let (out, rc) = run(
            &server,
            &phone,
            "command -v echo dd stat base64 sha256sum od tail",
        );
        let mut want = vec!["echo", "/system/bin/dd"];
        if sdk >= 23 {
            want.push("/system/bin/stat");
        }
        if sdk >= 24 {
            want.push("/system/bin/base64");
        }
        if sdk >= 26 {
            want.push("/system/bin/sha256sum");
        }
        if sdk >= 23 {
            want.extend(["/system/bin/od", "/system/bin/tail"]);
        }
        let want = want.join("\n") + "\n";
        assert_eq!(
            (out, rc),
            (want, if sdk >= 26 { 0 } else { 1 }),
            "{}",
            p("command -v")
        );
        // Android 5's toolbox has no head, tail, wc or which.
        let base = tiktok_base(sdk);
        let (out, rc) = run(&server, &phone, &format!("tail -c 4 {base} | wc -c 2>&1"));
        if sdk >= 23 {
            assert_eq!((out.as_str(), rc), ("4\n", 0), "{}", p("tail"));
            let (out, _) = run(&server, &phone, "which stat od");
            assert_eq!(out, "/system/bin/stat\n/system/bin/od\n", "{}", p("which"));
        } else {
            assert_eq!(rc, 127, "{}", p(&out));
            let (out, rc) = run(&server, &phone, "which stat 2>&1");
            assert_eq!((out, rc), (not_found(sdk, "which"), 127), "{}", p("which"));
        }
    }
}

#[test]
fn date_prints_the_phones_clock_and_utc_offset() {
    let Some((server, f)) = setup() else { return };
    let apks = crate::support::phones::Apks {
        tiktok: &f.apk,
        split: None,
        clean: &f.split,
    };
    for (sdk, offset, want_z) in [(21, "+05:30", "+0530"), (34, "-0800", "-0800")] {
        let mut sc = crate::support::phones::phone(sdk, Place::Owner, &apks);
        sc["clock"] = "2026-11-28 09:00:00".into();
        sc["utc_offset"] = offset.into();
        let phone = FakePhone::spawn(&server, sc);
        let (out, _) = run(
            &server,
            &phone,
            "date +%z; date +%Y-%m-%dT%H:%M:%S%z; date -u +%s",
        );
        let local = if want_z == "+0530" {
            "2026-11-28T14:30:00+0530"
        } else {
            "2026-11-28T01:00:00-0800"
        };
        assert_eq!(out, format!("{want_z}\n{local}\n1795856400\n"), "SDK {sdk}");
    }
    // Without utc_offset: the offset of persist.sys.timezone at that moment.
    for (zone, clock, want) in [
        (None, "2026-07-15 12:00:00", "+0200"),
        (None, "2026-11-28 09:00:00", "+0100"),
        (Some("Europe/London"), "2026-07-15 12:00:00", "+0100"),
        (Some("Asia/Kolkata"), "2026-11-28 09:00:00", "+0530"),
    ] {
        let mut sc = crate::support::phones::phone(30, Place::Owner, &apks);
        sc["clock"] = clock.into();
        if let Some(z) = zone {
            sc["props"]["persist.sys.timezone"] = z.into();
        }
        let phone = FakePhone::spawn(&server, sc);
        let (out, _) = run(&server, &phone, "date +%z");
        assert_eq!(out, format!("{want}\n"), "{zone:?} at {clock}");
    }
    // Without a fixed clock: the host's.
    let phone = sdk_phone(&server, 30, Place::Owner, &f);
    let (out, _) = run(&server, &phone, "date +%z; date +%s");
    let mut lines = out.lines();
    let z = lines.next().unwrap();
    assert!(z == "+0100" || z == "+0200", "Europe/Berlin: {z}");
    let phone_now: u64 = lines.next().unwrap().parse().unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    assert!(phone_now.abs_diff(now) < 120, "{phone_now} vs {now}");
}
