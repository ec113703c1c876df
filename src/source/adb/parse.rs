//! Pure parsers for what an Android shell prints: `getprop`, `pm list users`,
//! `pm list packages`, `pm path`, `stat`, `sha256sum` and `adb devices -l` (`dumpsys package` is
//! in [`super::dumpsys`], batched output in [`super::batch`]).
//!
//! Every parser takes text (possibly with `\r\n` line ends, possibly truncated or hostile) and
//! never panics: unknown lines are skipped and counted, so a caller can say "N lines not
//! understood" instead of crashing on one odd OEM line.

use std::collections::BTreeMap;

// Every text parser of the adb source is reachable from here (for fuzzing).
pub use super::batch::{split_batch, BatchError, PartOutput};
pub use super::caps::{local_time_rfc3339, utc_offset};
pub use super::dumpsys::{parse_dumpsys_package, Dumpsys, DumpsysPackage, UserState};
pub use super::fingerprint::{decode_base64, decode_od};

/// Lines of `text` without their `\r`.
pub(super) fn lines(text: &str) -> impl Iterator<Item = &str> {
    text.split('\n').map(|l| l.strip_suffix('\r').unwrap_or(l))
}

/// `getprop` output: `[key]: [value]` lines. A value spanning several lines (rare, e.g. a
/// multi-line `ro.build.description` on some OEM builds) is joined with `\n`.
pub fn parse_getprop(text: &str) -> BTreeMap<String, String> {
    let mut props = BTreeMap::new();
    let mut pending: Option<(String, String)> = None;
    for line in lines(text) {
        if let Some((key, mut value)) = pending.take() {
            value.push('\n');
            if let Some(done) = line.strip_suffix(']') {
                value.push_str(done);
                props.insert(key, value);
            } else {
                value.push_str(line);
                pending = Some((key, value));
            }
            continue;
        }
        let Some(rest) = line.strip_prefix('[') else {
            continue;
        };
        let Some((key, value)) = rest.split_once("]: [") else {
            continue;
        };
        if key.is_empty() {
            continue;
        }
        match value.strip_suffix(']') {
            Some(v) => {
                props.insert(key.to_string(), v.to_string());
            }
            None => pending = Some((key.to_string(), value.to_string())),
        }
    }
    props
}

/// One Android user or profile from `pm list users`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct UserInfo {
    pub id: u32,
    pub name: String,
    /// Hex flags as printed (`c13`, `1030`).
    pub flags: String,
    pub running: bool,
}

/// `pm list users`: `\tUserInfo{0:Owner:c13} running` lines. The name may contain `:`.
pub fn parse_users(text: &str) -> Vec<UserInfo> {
    let mut users = Vec::new();
    for line in lines(text) {
        let Some(start) = line.find("UserInfo{") else {
            continue;
        };
        let rest = line.get(start + "UserInfo{".len()..).unwrap_or("");
        let Some(end) = rest.rfind('}') else { continue };
        let inner = rest.get(..end).unwrap_or("");
        let after = rest.get(end + 1..).unwrap_or("");
        let Some((id, tail)) = inner.split_once(':') else {
            continue;
        };
        let Ok(id) = id.trim().parse::<u32>() else {
            continue;
        };
        let (name, flags) = match tail.rsplit_once(':') {
            Some((n, f)) => (n, f),
            None => (tail, ""),
        };
        users.push(UserInfo {
            id,
            name: name.to_string(),
            flags: flags.to_string(),
            running: after.split_whitespace().any(|w| w == "running"),
        });
    }
    users.sort();
    users.dedup_by(|a, b| a.id == b.id);
    users
}

/// One line of `pm list packages [-f] [-U] [-i] [--show-versioncode]`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct PmPackage {
    pub name: String,
    /// Base APK path (with `-f`).
    pub path: Option<String>,
    /// Decimal (with `--show-versioncode`).
    pub version_code: Option<String>,
    /// With `-i`; `None` for `installer=null`.
    pub installer: Option<String>,
    /// With `-U`.
    pub uid: Option<u32>,
}

/// Whether `s` looks like an Android package name (segments of `[A-Za-z0-9_]`, separated by
/// dots). Lenient on the first character: the scanner lists what the phone says.
pub fn is_package_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 255
        && s.split('.').all(|seg| {
            !seg.is_empty() && seg.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
        })
}

/// Result of parsing a package listing.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PackageList {
    pub packages: Vec<PmPackage>,
    /// Non-empty lines that were neither a package nor understood.
    pub unparsed_lines: usize,
}

/// `pm list packages`: `package:<apk path>=<name> versionCode:<n> installer=<x> uid:<n>`.
/// The path can contain `=` (`/data/app/~~abc==/pkg-xyz==/base.apk`): the name is after the
/// **last** `=` of the part before the first field.
pub fn parse_package_list(text: &str) -> PackageList {
    let mut out = PackageList::default();
    for line in lines(text) {
        let line = line.trim_end();
        let Some(rest) = line.strip_prefix("package:") else {
            if !line.trim().is_empty() {
                out.unparsed_lines += 1;
            }
            continue;
        };
        // The head (path=name, or name) ends at the first field marker.
        let field_start = [" versionCode:", " installer=", " uid:"]
            .iter()
            .filter_map(|m| rest.find(m))
            .min()
            .unwrap_or(rest.len());
        let head = rest.get(..field_start).unwrap_or("").trim_end();
        let tail = rest.get(field_start..).unwrap_or("");
        let (path, name) = match head.rsplit_once('=') {
            Some((p, n)) => (Some(p.to_string()), n),
            None => (None, head),
        };
        if !is_package_name(name) {
            out.unparsed_lines += 1;
            continue;
        }
        let mut pkg = PmPackage {
            name: name.to_string(),
            path: path.filter(|p| !p.is_empty()),
            version_code: None,
            installer: None,
            uid: None,
        };
        for tok in tail.split_whitespace() {
            if let Some(v) = tok.strip_prefix("versionCode:") {
                if !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()) {
                    pkg.version_code = Some(v.to_string());
                }
            } else if let Some(v) = tok.strip_prefix("installer=") {
                if v != "null" && !v.is_empty() {
                    pkg.installer = Some(v.to_string());
                }
            } else if let Some(v) = tok.strip_prefix("uid:") {
                pkg.uid = v.parse().ok();
            }
        }
        out.packages.push(pkg);
    }
    out.packages.sort();
    out.packages.dedup();
    out
}

/// How a `pm` command failed, read from its output and exit status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PmFailure {
    /// `SecurityException` (a user or work profile the shell may not read).
    Refused(String),
    /// `Unknown option` / `Error:` (an older `pm` lacking a flag).
    UnsupportedOption(String),
    /// Anything else that exited non-zero.
    Other(String),
}

/// Classifies a failed `pm` run; `None` when it looks successful.
pub fn pm_failure(output: &str, rc: Option<i32>) -> Option<PmFailure> {
    let first_error = || {
        lines(output)
            .find(|l| l.contains("Exception") || l.starts_with("Error") || l.contains("not found"))
            .unwrap_or_else(|| lines(output).find(|l| !l.trim().is_empty()).unwrap_or(""))
            .trim()
            .chars()
            .take(300)
            .collect::<String>()
    };
    if output.contains("SecurityException") {
        let msg = lines(output)
            .find(|l| l.contains("SecurityException"))
            .unwrap_or("SecurityException")
            .trim()
            .chars()
            .take(300)
            .collect();
        return Some(PmFailure::Refused(msg));
    }
    if output.contains("Unknown option") || output.contains("Error: Unknown") {
        return Some(PmFailure::UnsupportedOption(first_error()));
    }
    match rc {
        Some(0) => None,
        Some(code) => Some(PmFailure::Other(format!(
            "exit status {code}: {}",
            first_error()
        ))),
        None => Some(PmFailure::Other("no exit status".to_string())),
    }
}

/// `pm path PKG`: one `package:<path>` line per APK (base and splits).
pub fn parse_pm_path(text: &str) -> Vec<String> {
    lines(text)
        .filter_map(|l| l.trim_end().strip_prefix("package:"))
        .filter(|p| !p.is_empty())
        .map(str::to_string)
        .collect()
}

/// One line of `stat -c '%s %Y %n'`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct StatLine {
    pub size: u64,
    pub mtime: i64,
    pub path: String,
}

/// `stat -c '%s %Y %n' FILES...`: size, mtime (seconds), name per line.
pub fn parse_stat(text: &str) -> Vec<StatLine> {
    lines(text)
        .filter_map(|l| {
            let mut it = l.splitn(3, ' ');
            let size = it.next()?.parse().ok()?;
            let mtime = it.next()?.parse().ok()?;
            let path = it.next()?;
            (!path.is_empty()).then(|| StatLine {
                size,
                mtime,
                path: path.to_string(),
            })
        })
        .collect()
}

/// `sha256sum FILES...`: `<64 hex>  <path>` lines → (path, lowercase hex).
pub fn parse_sha256sum(text: &str) -> Vec<(String, String)> {
    lines(text)
        .filter_map(|l| {
            let (hex, path) = l.split_once("  ").or_else(|| l.split_once(" *"))?;
            (hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_hexdigit()) && !path.is_empty())
                .then(|| (path.to_string(), hex.to_ascii_lowercase()))
        })
        .collect()
}

/// One device line of `host:devices-l`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DeviceLine {
    pub serial: String,
    pub state: String,
    pub usb: Option<String>,
    pub product: Option<String>,
    pub model: Option<String>,
    pub device: Option<String>,
    pub transport_id: Option<u64>,
}

/// `host:devices-l`: `SERIAL  device usb:1-1 product:P model:M device:D transport_id:7`. The
/// state can have spaces (`no permissions (...); see [...]`): it is every word between the
/// serial and the first `key:value` field.
pub fn parse_devices_l(text: &str) -> Vec<DeviceLine> {
    let mut out = Vec::new();
    for line in lines(text) {
        let mut words = line.split_whitespace();
        let Some(serial) = words.next() else { continue };
        let mut d = DeviceLine {
            serial: serial.to_string(),
            ..DeviceLine::default()
        };
        let mut state: Vec<&str> = Vec::new();
        for w in words {
            let field = w.split_once(':').filter(|(k, _)| {
                matches!(*k, "usb" | "product" | "model" | "device" | "transport_id")
            });
            match field {
                Some(("usb", v)) => d.usb = Some(v.to_string()),
                Some(("product", v)) => d.product = Some(v.to_string()),
                Some(("model", v)) => d.model = Some(v.to_string()),
                Some(("device", v)) => d.device = Some(v.to_string()),
                Some(("transport_id", v)) => d.transport_id = v.parse().ok(),
                _ => state.push(w),
            }
        }
        d.state = state.join(" ");
        if d.state.is_empty() {
            d.state = "unknown".to_string();
        }
        out.push(d);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn package_list_with_equals_in_path_and_crlf() {
        let text = "package:/data/app/~~AbC==/com.zhiliaoapp.musically-XyZ==/base.apk=com.zhiliaoapp.musically versionCode:2024307030 installer=com.android.vending uid:10234\r\n\
                    package:/system/app/Foo/Foo.apk=com.foo  installer=null uid:1000\r\n\
                    package:com.bare\n\
                    garbage line\n";
        let l = parse_package_list(text);
        assert_eq!(l.unparsed_lines, 1);
        assert_eq!(l.packages.len(), 3);
        let t = l
            .packages
            .iter()
            .find(|p| p.name == "com.zhiliaoapp.musically")
            .unwrap();
        assert_eq!(
            t.path.as_deref(),
            Some("/data/app/~~AbC==/com.zhiliaoapp.musically-XyZ==/base.apk")
        );
        assert_eq!(t.version_code.as_deref(), Some("2024307030"));
        assert_eq!(t.installer.as_deref(), Some("com.android.vending"));
        assert_eq!(t.uid, Some(10234));
        let f = l.packages.iter().find(|p| p.name == "com.foo").unwrap();
        assert_eq!(f.installer, None);
        assert_eq!(f.uid, Some(1000));
        let b = l.packages.iter().find(|p| p.name == "com.bare").unwrap();
        assert_eq!(b.path, None);
    }

    #[test]
    fn users_with_colon_in_name() {
        let text = "Users:\n\tUserInfo{0:Owner:c13} running\n\tUserInfo{11:Work profile:1030} running\n\tUserInfo{151:Secure: Folder:10061030}\r\n";
        let u = parse_users(text);
        assert_eq!(u.len(), 3);
        assert_eq!(u[1].id, 11);
        assert_eq!(u[1].name, "Work profile");
        assert!(u[1].running);
        assert_eq!(u[2].name, "Secure: Folder");
        assert_eq!(u[2].flags, "10061030");
        assert!(!u[2].running);
    }

    #[test]
    fn getprop_multiline() {
        let text = "[ro.product.model]: [SM-G991B]\r\n[ro.x]: [a\nb]\n[ro.empty]: []\n";
        let p = parse_getprop(text);
        assert_eq!(p["ro.product.model"], "SM-G991B");
        assert_eq!(p["ro.x"], "a\nb");
        assert_eq!(p["ro.empty"], "");
    }

    #[test]
    fn devices_l_lines() {
        let text = "R58M12ABCDE            device usb:1-1 product:o1s model:SM_G991B device:o1s transport_id:7\n\
                    127.0.0.1:40001        unauthorized transport_id:8\n\
                    0123 no permissions (user in plugdev group); see [http://x] usb:1-2 transport_id:9\n";
        let d = parse_devices_l(text);
        assert_eq!(d.len(), 3);
        assert_eq!(d[0].model.as_deref(), Some("SM_G991B"));
        assert_eq!(d[0].transport_id, Some(7));
        assert_eq!(d[1].state, "unauthorized");
        assert!(d[2].state.starts_with("no permissions"));
        assert_eq!(d[2].usb.as_deref(), Some("1-2"));
    }

    #[test]
    fn stat_and_sha() {
        let s = parse_stat("123 1700000000 /data/app/a b/base.apk\nstat: x: No such file\n");
        assert_eq!(s.len(), 1);
        assert_eq!(s[0].path, "/data/app/a b/base.apk");
        let h = parse_sha256sum(&format!("{}  /x.apk\n", "A".repeat(64)));
        assert_eq!(h[0].1, "a".repeat(64));
    }

    #[test]
    fn pm_failures() {
        let sec = "Exception occurred while executing 'list':\njava.lang.SecurityException: Shell does not have permission to access user 10\n";
        assert!(matches!(
            pm_failure(sec, Some(255)),
            Some(PmFailure::Refused(_))
        ));
        assert!(matches!(
            pm_failure("Error: Unknown option: --show-versioncode\n", Some(255)),
            Some(PmFailure::UnsupportedOption(_))
        ));
        assert_eq!(pm_failure("package:a\n", Some(0)), None);
    }

    proptest::proptest! {
        #[test]
        fn parsers_never_panic(s in "(?s).{0,400}") {
            let _ = parse_getprop(&s);
            let _ = parse_users(&s);
            let _ = parse_package_list(&s);
            let _ = parse_pm_path(&s);
            let _ = parse_stat(&s);
            let _ = parse_sha256sum(&s);
            let _ = parse_devices_l(&s);
            let _ = pm_failure(&s, Some(1));
        }

        #[test]
        fn structured_noise_never_panics(lines in proptest::collection::vec(
            "(package:|  Package \\[|    User |\\[ro\\.|UserInfo\\{|__T_B|__T_R|    versionCode=|=|:|\\]|\\}|\\r|[a-z0-9 .=:/~]){0,12}", 0..30)) {
            let s = lines.join("\n");
            let _ = parse_getprop(&s);
            let _ = parse_users(&s);
            let _ = parse_package_list(&s);
        }

        #[test]
        fn package_line_roundtrip(
            dirs in proptest::collection::vec("[A-Za-z0-9~=_-]{1,12}", 1..4),
            name in "[a-z][a-z0-9_]{0,8}(\\.[a-z][a-z0-9_]{0,8}){1,3}",
            vc in proptest::option::of(0u64..u64::MAX),
            uid in proptest::option::of(0u32..u32::MAX),
        ) {
            let path = format!("/data/app/{}/base.apk", dirs.join("/"));
            let mut line = format!("package:{path}={name}");
            if let Some(v) = vc { line.push_str(&format!(" versionCode:{v}")); }
            line.push_str("  installer=com.android.vending");
            if let Some(u) = uid { line.push_str(&format!(" uid:{u}")); }
            line.push_str("\r\n");
            let l = parse_package_list(&line);
            proptest::prop_assert_eq!(l.packages.len(), 1);
            let p = &l.packages[0];
            proptest::prop_assert_eq!(&p.name, &name);
            proptest::prop_assert_eq!(p.path.as_deref(), Some(path.as_str()));
            proptest::prop_assert_eq!(p.version_code.clone(), vc.map(|v| v.to_string()));
            proptest::prop_assert_eq!(p.uid, uid);
        }

    }
}
