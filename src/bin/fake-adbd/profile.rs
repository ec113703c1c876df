//! What a phone of a given Android version can do, as its adbd, shell tools, `pm` and `dumpsys`
//! show it to the host. A scenario with `sdk` gets the profile of that API level; a scenario
//! without it gets the permissive profile old scenarios were written against.
//!
//! | behaviour | SDK 21-22 | 23 | 24-25 | 26-27 | 28 | 29-33 | 34+ |
//! |---|---|---|---|---|---|---|---|
//! | CNXN `features=` | absent | empty | `shell_v2,cmd` | same | same | same | same |
//! | `shell:` | pty: `\n` → `\r\n`, stderr merged, no exit status | same | raw, merged | same | same | same | same |
//! | `shell,v2,...:` | refused (unknown service) | same | frames with exit status | same | same | same | same |
//! | `exec:` | raw, binary-clean | same | same | same | same | same | same |
//! | max payload | 4096 | 4096 | 256 KiB | 256 KiB | 1 MiB | 1 MiB | 1 MiB |
//! | `stat` | absent | toybox | same | same | same | same | same |
//! | `base64` | absent | absent | `-w 0` refused (`-w < 1`, exit 1), wraps at 76 | full | same | same | same |
//! | `sha256sum` (and 224/384/512) | absent | absent | absent | present | same | same | same |
//! | `sha1sum`, `md5sum` | absent | present | same | same | same | same | same |
//! | `od -A n -t x1 -v` | absent | present | same | same | same | same | same |
//! | `head`, `tail`, `wc`, `uname`, `whoami`, `which` | absent (toolbox) | toybox | same | same | same | same | same |
//! | `dd` | BSD: no `iflag=`/`status=` | same | same | same | same | toybox (29+) | same |
//! | `cmd` | absent | absent | present, no `cmd package path` | full | same | same | same |
//! | `pm` unknown option | stderr, exit 1 | same | **stdout, exit 0** | stderr, exit 255 | same | same | same |
//! | `pm list packages -U`, `--show-versioncode` | unknown | same | same | present | same | same | same |
//! | `pm path --user N PKG` | takes `--user` as the package: no output, exit 1 | same | works | same | same | same | same |
//! | `pm list packages` without `--user` | user 0 | same | same | same | same | same | all users; `-U` joins uids with `,` |
//! | `dumpsys` options | none (first word is the service) | same | `-l`, `--skip` | `-t SEC` | `-T MS` | same | same |
//! | `dumpsys` per-service budget | none | none | 10 s, then `*** SERVICE 'package' DUMP TIMEOUT (10000ms) EXPIRED ***`, exit 0 | same | same | same | same |
//! | missing tool | `/system/bin/sh: NAME: not found`, 127 | same | `...: inaccessible or not found`, 127 | same | same | same | same |
//!
//! Sources: AOSP `adb` (`adb.h`, `services.cpp`, `shell_service.cpp`), toybox (`newtoys.h` per
//! release, `dd.c`), `Pm.java` / `PackageManagerShellCommand`, `dumpsys.cpp`. Two choices are
//! not pinned by those sources and are documented here: mksh's wording for a missing command
//! (`not found` before Android 7, `inaccessible or not found` from 7), and the dumpsys option
//! history (`-t` from 8, `-T` from 9).

use crate::cost::Costs;
use crate::scenario::Scenario;

/// How `base64` behaves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Base64 {
    Absent,
    /// toybox before Android 8: option string `diw#<1`, so `-w 0` is refused.
    NoUnwrapped,
    Full,
}

/// Which `dd` the phone has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dd {
    /// NetBSD `dd` of toolbox: `if= of= bs= ibs= obs= count= skip= seek= conv=` only.
    Bsd,
    /// toybox `dd` (Android 10+): also `iflag=skip_bytes,count_bytes`, `status=`.
    Toybox,
}

/// Where `pm` prints `Error: Unknown option: X`, and its exit status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PmErrors {
    /// `Pm.java` of Android 5-6: stderr, exit 1.
    Stderr1,
    /// Android 7: stdout, exit 0.
    Stdout0,
    /// `PackageManagerShellCommand` of Android 8+: stderr, exit 255.
    Stderr255,
}

#[derive(Debug, Clone)]
pub struct Profile {
    /// The API level the phone reports.
    pub sdk: u32,
    /// `features=` of the CNXN banner (`None`: no such key).
    pub features: Option<&'static str>,
    /// `shell,v2,...:` services are accepted.
    pub shell_v2: bool,
    /// `shell:` runs under a pseudo-terminal.
    pub pty_shell: bool,
    /// `exec:` exists.
    pub exec: bool,
    /// Largest packet payload the device takes (and announces in CNXN).
    pub max_payload: u32,
    pub stat: bool,
    pub base64: Base64,
    pub sha256sum: bool,
    pub sha1sum_md5sum: bool,
    pub od: bool,
    /// toybox's `head`, `tail`, `wc`, `uname`, `whoami`, `which` (Android 6+; Android 5's
    /// toolbox has none of them).
    pub toybox_basics: bool,
    pub dd: Dd,
    pub cmd: bool,
    /// mksh's message for a missing command (after `NAME: `).
    pub not_found: &'static str,
    pub pm_errors: PmErrors,
    /// `pm list packages -U`.
    pub pm_uid: bool,
    /// `pm list packages --show-versioncode`.
    pub pm_versioncode: bool,
    /// `pm path --user N`.
    pub pm_path_user: bool,
    /// `cmd package path`.
    pub cmd_package_path: bool,
    /// `pm list packages` without `--user` lists every user (uids joined by `,`).
    pub pm_all_users_by_default: bool,
    /// `dumpsys` takes options before the service name (`-l`, `--skip`).
    pub dumpsys_options: bool,
    /// `dumpsys -t SECONDS`.
    pub dumpsys_t: bool,
    /// `dumpsys -T MILLISECONDS`.
    pub dumpsys_big_t: bool,
    /// Per-service dump budget in ms (`None`: dumps are never cut).
    pub dumpsys_budget_ms: Option<u64>,
    pub costs: Costs,
}

const KIB: u32 = 1024;

impl Profile {
    pub fn of(sc: &Scenario) -> Profile {
        match sc.sdk {
            Some(sdk) => Profile::real(sdk, sc),
            None => Profile::permissive(sc),
        }
    }

    /// The phone of old scenarios: modern transport, every tool, free commands; only the pm
    /// options follow `android_sdk`.
    fn permissive(sc: &Scenario) -> Profile {
        let sdk = sc.sdk();
        let shell_v2 = sc.shell_v2.unwrap_or(true);
        Profile {
            sdk,
            features: Some(if shell_v2 { "shell_v2,cmd" } else { "cmd" }),
            shell_v2: true,
            pty_shell: false,
            exec: true,
            max_payload: 256 * KIB,
            stat: true,
            base64: Base64::Full,
            sha256sum: true,
            sha1sum_md5sum: true,
            od: true,
            toybox_basics: true,
            dd: Dd::Toybox,
            cmd: sdk >= 24,
            not_found: "inaccessible or not found",
            pm_errors: PmErrors::Stderr255,
            pm_uid: sdk >= 26,
            pm_versioncode: sdk >= 28,
            pm_path_user: true,
            cmd_package_path: true,
            pm_all_users_by_default: false,
            dumpsys_options: true,
            dumpsys_t: true,
            dumpsys_big_t: true,
            dumpsys_budget_ms: None,
            costs: Costs::of(sdk, &sc.costs, 0.0),
        }
    }

    /// A real phone of API level `sdk` (see the table in the module docs).
    fn real(sdk: u32, sc: &Scenario) -> Profile {
        let v2 = sdk >= 24 && sc.shell_v2 != Some(false);
        Profile {
            sdk,
            features: match sdk {
                ..=22 => None,
                23 => Some(""),
                _ if v2 => Some("shell_v2,cmd"),
                _ => Some("cmd"),
            },
            shell_v2: v2,
            pty_shell: sdk <= 23,
            exec: sdk >= 21,
            max_payload: match sdk {
                ..=23 => 4 * KIB,
                24..=27 => 256 * KIB,
                _ => 1024 * KIB,
            },
            stat: sdk >= 23,
            base64: match sdk {
                ..=23 => Base64::Absent,
                24 | 25 => Base64::NoUnwrapped,
                _ => Base64::Full,
            },
            sha256sum: sdk >= 26,
            sha1sum_md5sum: sdk >= 23,
            od: sdk >= 23,
            toybox_basics: sdk >= 23,
            dd: if sdk >= 29 { Dd::Toybox } else { Dd::Bsd },
            cmd: sdk >= 24,
            not_found: if sdk >= 24 {
                "inaccessible or not found"
            } else {
                "not found"
            },
            pm_errors: match sdk {
                ..=23 => PmErrors::Stderr1,
                24 | 25 => PmErrors::Stdout0,
                _ => PmErrors::Stderr255,
            },
            pm_uid: sdk >= 26,
            pm_versioncode: sdk >= 26,
            pm_path_user: sdk >= 24,
            cmd_package_path: sdk >= 26,
            pm_all_users_by_default: sdk >= 34,
            dumpsys_options: sdk >= 24,
            dumpsys_t: sdk >= 26,
            dumpsys_big_t: sdk >= 28,
            dumpsys_budget_ms: (sdk >= 24).then_some(10_000),
            costs: Costs::of(sdk, &sc.costs, 1.0),
        }
    }

    /// Whether a command of this name exists on the phone (shell builtins and Android
    /// commands included).
    pub fn has_tool(&self, name: &str) -> bool {
        match name {
            "stat" => self.stat,
            "base64" => self.base64 != Base64::Absent,
            "sha256sum" | "sha224sum" | "sha384sum" | "sha512sum" => self.sha256sum,
            "sha1sum" | "md5sum" => self.sha1sum_md5sum,
            "od" => self.od,
            "head" | "tail" | "wc" | "uname" | "whoami" | "which" => self.toybox_basics,
            "cmd" => self.cmd,
            _ => true,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn profile(sdk: u32) -> Profile {
        let sc: Scenario = serde_json::from_value(serde_json::json!({ "sdk": sdk })).unwrap();
        Profile::of(&sc)
    }

    #[test]
    fn transport_follows_the_sdk() {
        assert_eq!(profile(21).features, None);
        assert_eq!(profile(23).features, Some(""));
        assert!(profile(23).pty_shell && !profile(23).shell_v2);
        assert_eq!(profile(23).max_payload, 4096);
        assert_eq!(profile(24).features, Some("shell_v2,cmd"));
        assert_eq!(profile(27).max_payload, 256 * 1024);
        assert_eq!(profile(28).max_payload, 1024 * 1024);
    }

    #[test]
    fn tools_follow_the_sdk() {
        assert!(!profile(22).has_tool("stat") && profile(23).has_tool("stat"));
        assert!(!profile(23).has_tool("base64"));
        assert_eq!(profile(25).base64, Base64::NoUnwrapped);
        assert_eq!(profile(26).base64, Base64::Full);
        assert!(!profile(25).has_tool("sha256sum") && profile(26).has_tool("sha256sum"));
        assert!(!profile(22).has_tool("md5sum") && profile(23).has_tool("sha1sum"));
        assert_eq!(profile(28).dd, Dd::Bsd);
        assert_eq!(profile(29).dd, Dd::Toybox);
        assert!(!profile(22).has_tool("tail") && profile(23).has_tool("tail"));
        assert!(profile(21).has_tool("dd") && profile(21).has_tool("date"));
    }

    #[test]
    fn old_scenarios_stay_permissive() {
        let sc: Scenario =
            serde_json::from_value(serde_json::json!({ "android_sdk": 23 })).unwrap();
        let p = Profile::of(&sc);
        assert!(p.shell_v2 && !p.pty_shell && p.has_tool("sha256sum"));
        assert_eq!(p.base64, Base64::Full);
        assert!(!p.pm_uid);
        assert_eq!(p.costs.scale, 0.0);
        assert_eq!(p.dumpsys_budget_ms, None);
    }
}
