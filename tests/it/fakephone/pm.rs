//! `pm` and `cmd package` per Android version: options, output lines and error forms.

use super::{run, sdk_phone, setup, stderr, stdout, Files};
use crate::support::fakephone::AdbServer;
use crate::support::phones::{code_dir, tiktok_base, Place, CLEAN_APP, TIKTOK};

fn clean_base(sdk: u32) -> String {
    format!("{}/base.apk", code_dir(sdk, CLEAN_APP, "c2"))
}

#[test]
fn unknown_options_fail_where_and_how_each_version_fails() {
    let Some((server, f)) = setup() else { return };
    // Android 5-6 (Pm.java): no -U, no --show-versioncode; the error on stderr, exit 1.
    for sdk in [21, 23] {
        let phone = sdk_phone(&server, sdk, Place::Owner, &f);
        for opt in ["-U", "--show-versioncode"] {
            let cmd = format!("pm list packages {opt}");
            let quiet = run(&server, &phone, &format!("{cmd} 2>/dev/null"));
            assert_eq!(quiet, (String::new(), 1), "SDK {sdk} {opt}");
            let loud = run(&server, &phone, &format!("{cmd} 2>&1"));
            assert_eq!(
                loud.0,
                format!("Error: Unknown option: {opt}\n"),
                "SDK {sdk}"
            );
        }
    }
    // Android 7: the error on stdout and exit 0 (mvt#211), for pm and cmd package alike.
    for sdk in [24, 25] {
        let phone = sdk_phone(&server, sdk, Place::Owner, &f);
        for cmd in [
            "pm list packages -U",
            "cmd package list packages --show-versioncode",
        ] {
            let out = server.shell(&phone.serial(), cmd);
            let opt = cmd.rsplit(' ').next().unwrap();
            assert_eq!(
                stdout(&out),
                format!("Error: Unknown option: {opt}\n"),
                "SDK {sdk}"
            );
            assert_eq!(stderr(&out), "", "SDK {sdk}");
            assert_eq!(out.status.code(), Some(0), "SDK {sdk}");
        }
    }
    // Android 8+: -U and --show-versioncode exist; unknown options on stderr, exit 255.
    for sdk in [26, 30, 35] {
        let phone = sdk_phone(&server, sdk, Place::Owner, &f);
        let s = phone.serial();
        let out = server.shell(&s, "pm list packages --nope");
        assert_eq!(stderr(&out), "Error: Unknown option: --nope\n", "SDK {sdk}");
        assert_eq!(stdout(&out), "", "SDK {sdk}");
        assert_eq!(out.status.code(), Some(255), "SDK {sdk}");
        let out = server.shell(
            &s,
            "pm list packages -3 -f -U -i --show-versioncode --user 0",
        );
        assert_eq!(out.status.code(), Some(0), "SDK {sdk}: {}", stderr(&out));
        assert_eq!(
            stdout(&out),
            format!(
                "package:{}={CLEAN_APP} versionCode:1019050  installer=null uid:10150\n\
                 package:{}={TIKTOK} versionCode:2024307030  installer=com.android.vending uid:10234\n",
                clean_base(sdk),
                tiktok_base(sdk)
            ),
            "SDK {sdk}"
        );
    }
}

#[test]
fn pm_path_user_and_cmd_package_path_exist_from_their_versions() {
    let Some((server, f)) = setup() else { return };
    for sdk in [21, 23, 24, 25, 26, 34] {
        let phone = sdk_phone(&server, sdk, Place::Owner, &f);
        let dir = code_dir(sdk, TIKTOK, "t1");
        let paths = format!("package:{dir}/base.apk\npackage:{dir}/split_config.arm64_v8a.apk\n");
        assert_eq!(
            run(&server, &phone, &format!("pm path {TIKTOK}")),
            (paths.clone(), 0),
            "SDK {sdk}"
        );
        let with_user = run(&server, &phone, &format!("pm path --user 0 {TIKTOK}"));
        if sdk >= 24 {
            assert_eq!(with_user, (paths.clone(), 0), "SDK {sdk}");
        } else {
            // Pm.java takes `--user` as the package name: nothing, exit 1.
            assert_eq!(with_user, (String::new(), 1), "SDK {sdk}");
        }
        let via_cmd = run(&server, &phone, &format!("cmd package path {TIKTOK} 2>&1"));
        match sdk {
            ..=23 => assert_eq!(via_cmd.1, 127, "SDK {sdk}: no cmd"),
            24 | 25 => assert_eq!(
                via_cmd,
                ("Unknown command: path\n".into(), 255),
                "SDK {sdk}"
            ),
            _ => assert_eq!(via_cmd, (paths, 0), "SDK {sdk}"),
        }
        assert_eq!(
            run(&server, &phone, "pm path com.example.absent"),
            (String::new(), 1),
            "SDK {sdk}"
        );
    }
}

#[test]
fn android_14_lists_every_user_by_default_with_joined_uids() {
    let Some((server, f)) = setup() else { return };
    let phone = sdk_phone(&server, 34, Place::DualMessenger, &f);
    let s = phone.serial();
    // Settings is in users 0 and 95, TikTok only in the Dual Messenger clone (95).
    let out = server.shell(&s, "pm list packages -U");
    assert_eq!(
        stdout(&out),
        format!(
            "package:com.android.settings uid:1000,9501000\n\
             package:com.android.providers.contacts uid:10002,9510002\n\
             package:{CLEAN_APP} uid:10150\n\
             package:{TIKTOK} uid:9510234\n"
        )
    );
    let all = server.shell(&s, "pm list packages -U --user all");
    assert_eq!(
        stdout(&all),
        stdout(&out),
        "--user all is the default on Android 14"
    );
    let out = server.shell(&s, "pm list packages -U --user 0");
    assert!(!stdout(&out).contains(TIKTOK), "{}", stdout(&out));
    assert!(stdout(&out).contains("package:com.android.settings uid:1000\n"));
    let out = server.shell(&s, "pm list packages --user 95");
    assert!(stdout(&out).contains(&format!("package:{TIKTOK}\n")));
    // Android 13: user 0 unless asked.
    let old = sdk_phone(&server, 33, Place::DualMessenger, &f);
    let out = server.shell(&old.serial(), "pm list packages -U");
    assert!(!stdout(&out).contains(TIKTOK), "{}", stdout(&out));
    assert!(stdout(&out).contains("package:com.android.settings uid:1000\n"));
}

fn names(text: &str) -> Vec<String> {
    text.lines()
        .map(|l| {
            let l = l.trim_start_matches("package:");
            l.rsplit_once('=').map_or(l, |(_, n)| n).to_string()
        })
        .collect()
}

fn check_filters(server: &AdbServer, f: &Files, sdk: u32) {
    let phone = sdk_phone(server, sdk, Place::Disabled, f);
    let s = phone.serial();
    let list = |opts: &str| {
        names(&stdout(
            &server.shell(&s, &format!("pm list packages {opts}")),
        ))
    };
    let all = [
        "com.android.settings",
        "com.android.providers.contacts",
        CLEAN_APP,
        TIKTOK,
    ];
    assert_eq!(list(""), all, "SDK {sdk}");
    assert_eq!(list("-d"), [TIKTOK], "SDK {sdk}: disabled only");
    assert_eq!(list("-e"), &all[..3], "SDK {sdk}: enabled only");
    assert_eq!(list("-s"), &all[..2], "SDK {sdk}: system");
    assert_eq!(list("-3"), &all[2..], "SDK {sdk}: third-party");
    assert_eq!(list("-3 -d"), [TIKTOK], "SDK {sdk}");
    assert_eq!(list("musically"), [TIKTOK], "SDK {sdk}: name filter");
    let out = stdout(&server.shell(&s, "pm list packages -f -i -3"));
    assert_eq!(
        out.replace("\r\n", "\n"),
        format!(
            "package:{}={CLEAN_APP}  installer=null\npackage:{}={TIKTOK}  installer=com.android.vending\n",
            clean_base(sdk),
            tiktok_base(sdk)
        ),
        "SDK {sdk}"
    );
}

#[test]
fn list_filters_work_as_real_pm() {
    let Some((server, f)) = setup() else { return };
    for sdk in [21, 30] {
        check_filters(&server, &f, sdk);
    }
    // Uninstalled with data kept: only -u lists it, with a null path.
    let phone = sdk_phone(&server, 33, Place::UninstalledKeptData, &f);
    let s = phone.serial();
    let plain = stdout(&server.shell(&s, "pm list packages -3"));
    assert_eq!(names(&plain), [CLEAN_APP]);
    let with_u = stdout(&server.shell(&s, "pm list packages -3 -u -f"));
    assert!(
        with_u.contains(&format!("package:null={TIKTOK}\n")),
        "{with_u}"
    );
    assert_eq!(
        run(&server, &phone, &format!("pm path {TIKTOK}")),
        (String::new(), 1)
    );
}

#[test]
fn pm_list_users_prints_flags_and_running_as_phones_do() {
    let Some((server, f)) = setup() else { return };
    let cases = [
        (23, Place::Owner, "Users:\n\tUserInfo{0:Owner:13} running\n"),
        (
            30,
            Place::WorkProfile,
            "Users:\n\tUserInfo{0:Owner:c13} running\n\tUserInfo{10:Work profile:1030} running\n",
        ),
        (
            34,
            Place::SecureFolder,
            "Users:\n\tUserInfo{0:Owner:4c13} running\n\tUserInfo{150:Secure Folder:10061030} running\n",
        ),
        (
            35,
            Place::PrivateSpaceLocked,
            "Users:\n\tUserInfo{0:Owner:4c13} running\n\tUserInfo{11:Private space:1090}\n",
        ),
        (
            26,
            Place::XiaomiDualApps,
            "Users:\n\tUserInfo{0:Owner:c13} running\n\tUserInfo{999:XSpace:801010} running\n",
        ),
    ];
    for (sdk, place, want) in cases {
        let phone = sdk_phone(&server, sdk, place, &f);
        let out = stdout(&server.shell(&phone.serial(), "pm list users"));
        assert_eq!(out.replace("\r\n", "\n"), want, "SDK {sdk} {place:?}");
    }
}
