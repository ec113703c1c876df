//! Every place an app can be, as `pm`, `dumpsys` and the file system show it.

use super::{files, sdk_phone, setup, stderr, stdout};
use crate::support::phones::{self, tiktok_base, Place, TIKTOK};

#[derive(Debug, Clone, Copy, PartialEq)]
enum Listing {
    /// `pm list packages --user N` shows TikTok.
    Lists,
    /// It throws a SecurityException (exit 255).
    Refused,
    /// It prints nothing (exit 0): a locked profile.
    Empty,
}

struct Case {
    sdk: u32,
    place: Place,
    listing: Listing,
    /// `pm path --user N` prints the APKs.
    path: bool,
    /// The APK files are on the phone.
    files: bool,
    /// dumpsys's `User N:` line for TikTok: `installed=...`, or `None` when there is no line.
    dumpsys_installed: Option<bool>,
}

#[test]
fn each_place_shows_in_pm_dumpsys_and_files_as_on_a_real_phone() {
    let Some((server, f)) = setup() else { return };
    let c = |sdk, place, listing, path, files, dumpsys_installed| Case {
        sdk,
        place,
        listing,
        path,
        files,
        dumpsys_installed,
    };
    use Listing::*;
    let cases = [
        c(34, Place::Owner, Lists, true, true, Some(true)),
        c(30, Place::WorkProfile, Refused, false, true, Some(true)),
        c(24, Place::SecureFolder, Refused, false, true, Some(true)),
        c(28, Place::DualMessenger, Lists, true, true, Some(true)),
        c(26, Place::XiaomiDualApps, Lists, true, true, Some(true)),
        c(
            35,
            Place::PrivateSpaceLocked,
            Empty,
            false,
            true,
            Some(true),
        ),
        c(
            35,
            Place::PrivateSpaceLockedHidden,
            Empty,
            false,
            true,
            None,
        ),
        c(
            35,
            Place::PrivateSpaceUnlocked,
            Lists,
            true,
            true,
            Some(true),
        ),
        c(35, Place::Archived, Lists, false, false, Some(false)),
        c(23, Place::Disabled, Lists, true, true, Some(true)),
    ];
    for case in cases {
        let (sdk, place) = (case.sdk, case.place);
        let user = place.user().unwrap();
        let what = format!("SDK {sdk} {place:?}");
        let phone = sdk_phone(&server, sdk, place, &f);
        let s = phone.serial();
        let sh = |cmd: &str| {
            let out = server.shell(&s, cmd);
            (
                stdout(&out).replace("\r\n", "\n"),
                stderr(&out),
                out.status.code(),
            )
        };

        let (out, err, code) = sh(&format!("pm list packages --user {user}"));
        match case.listing {
            Lists => assert!(
                out.contains(&format!("package:{TIKTOK}\n")),
                "{what}: {out}"
            ),
            Refused => {
                assert_eq!(code, Some(255), "{what}");
                assert!(
                    err.contains(&format!(
                        "java.lang.SecurityException: Shell does not have permission to access user {user}"
                    )),
                    "{what}: {err}"
                );
            }
            Empty => assert_eq!((out.as_str(), code), ("", Some(0)), "{what}"),
        }

        if sdk >= 24 {
            let (out, _, _) = sh(&format!("pm path --user {user} {TIKTOK}; echo rc=$?"));
            if case.path {
                assert!(out.starts_with("package:/data/app/"), "{what}: {out}");
            } else {
                assert!(!out.contains("package:"), "{what}: {out}");
            }
        }

        let (out, _, _) = sh(&format!("ls {} 2>&1", tiktok_base(sdk)));
        let present = out.trim() == tiktok_base(sdk);
        assert_eq!(present, case.files, "{what}: {out}");
        let local = phone.dir().join("tiktok.apk");
        let pulled = server.adb(&["-s", &s, "pull", &tiktok_base(sdk), local.to_str().unwrap()]);
        assert_eq!(
            pulled.status.success(),
            case.files,
            "{what}: {}",
            stderr(&pulled)
        );

        let (dump, _, _) = sh(&format!("dumpsys package {TIKTOK}"));
        let line = dump
            .lines()
            .find(|l| l.starts_with(&format!("    User {user}: ")))
            .map(str::to_string);
        match case.dumpsys_installed {
            Some(inst) => {
                let line = line.unwrap_or_else(|| panic!("{what}: no User {user} line: {dump}"));
                assert!(
                    line.contains(&format!(" installed={inst} ")),
                    "{what}: {line}"
                );
            }
            None => assert_eq!(line, None, "{what}"),
        }
        match place {
            Place::Disabled => {
                let line = dump
                    .lines()
                    .find(|l| l.starts_with("    User 0: "))
                    .unwrap();
                assert!(line.ends_with(" enabled=3"), "{what}: {line}");
                let (d, _, _) = sh("pm list packages -d");
                assert_eq!(d, format!("package:{TIKTOK}\n"), "{what}");
            }
            Place::Archived => {
                assert!(
                    dump.contains(
                        "\n      archiveState=ArchiveState { installerTitle = Google Play Store, archiveTimeMillis = "
                    ),
                    "{what}: {dump}"
                );
                let (out, _, _) = sh(&format!("pm list packages -f {TIKTOK}"));
                assert_eq!(out, format!("package:null={TIKTOK}\n"), "{what}");
            }
            Place::PrivateSpaceLocked | Place::PrivateSpaceLockedHidden => {
                if let Some(line) = dump.lines().find(|l| l.starts_with("    User 11: ")) {
                    assert!(line.contains(" stopped=true "), "{what}: {line}");
                }
                let (users, _, _) = sh("pm list users");
                assert!(
                    users.contains("{11:Private space:1090}\n"),
                    "{what}: {users}"
                );
            }
            _ => {}
        }
    }
}

#[test]
fn uninstalled_with_data_kept_is_known_to_dumpsys_installed_nowhere() {
    let Some((server, f)) = setup() else { return };
    let phone = sdk_phone(&server, 33, Place::UninstalledKeptData, &f);
    let dump = stdout(&server.shell(&phone.serial(), &format!("dumpsys package {TIKTOK}")));
    assert!(dump.contains(&format!("  Package [{TIKTOK}] (")), "{dump}");
    let user0 = dump
        .lines()
        .find(|l| l.starts_with("    User 0: "))
        .unwrap();
    assert!(user0.contains(" installed=false "), "{user0}");
    assert!(
        !user0.contains("ceDataInode=0 "),
        "its data is kept: {user0}"
    );
    let local = phone.dir().join("t.apk");
    let out = server.adb(&[
        "-s",
        &phone.serial(),
        "pull",
        &tiktok_base(33),
        local.to_str().unwrap(),
    ]);
    assert!(!out.status.success(), "the APK is gone");
}

#[test]
fn archiving_before_android_15_is_a_scenario_error() {
    let f = files();
    let apks = crate::support::phones::Apks {
        tiktok: &f.apk,
        split: None,
        clean: &f.split,
    };
    let mut sc = crate::support::phones::phone(34, Place::Owner, &apks);
    sc["packages"][3]["archived"] = true.into();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sc.json");
    std::fs::write(&path, serde_json::to_vec(&sc).unwrap()).unwrap();
    let out = std::process::Command::new(crate::support::fakephone::FAKE_ADBD)
        .args(["--scenario", path.to_str().unwrap(), "--port", "0"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("archiving exists from Android 15"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn every_matrix_phone_starts_as_its_version_with_tiktok_where_it_says() {
    let Some((server, f)) = setup() else { return };
    let mut sdks: Vec<u32> = phones::matrix().iter().map(|(s, _)| *s).collect();
    sdks.sort();
    sdks.dedup();
    assert_eq!(sdks, phones::MATRIX_SDKS, "the matrix covers every SDK");
    for place in Place::ALL {
        assert!(
            phones::matrix().iter().any(|(_, p)| *p == place),
            "{place:?} is in no matrix phone"
        );
    }
    for (sdk, place) in phones::matrix() {
        let phone = sdk_phone(&server, sdk, place, &f);
        let s = phone.serial();
        let what = format!("SDK {sdk} {place:?}");
        let out = stdout(&server.shell(&s, "getprop ro.build.version.sdk"));
        assert_eq!(out.trim(), sdk.to_string(), "{what}");
        let dump = stdout(&server.shell(&s, &format!("dumpsys package {TIKTOK}")));
        assert_eq!(
            dump.contains(&format!("Package [{TIKTOK}]")),
            place != Place::Nowhere,
            "{what}"
        );
        let listed = stdout(&server.shell(&s, "pm list packages -u"));
        let refused = matches!(place, Place::WorkProfile | Place::SecureFolder) && sdk >= 34;
        if !refused {
            assert_eq!(
                listed.contains(TIKTOK),
                place != Place::Nowhere,
                "{what}: {listed}"
            );
        }
    }
}
