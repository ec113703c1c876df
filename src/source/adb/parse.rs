//! Pure parsers for what an Android shell prints: `getprop`, `pm list users`,
//! `pm list packages`, `pm path`, `dumpsys package`, `stat`, `sha256sum`, `adb devices -l`, and
//! the marked output of a batched command.
//!
//! Every parser takes text (possibly with `\r\n` line ends, possibly truncated or hostile) and
//! never panics: unknown lines are skipped and counted, so a caller can say "N lines not
//! understood" instead of crashing on one odd OEM line.

use std::collections::BTreeMap;

/// Lines of `text` without their `\r`.
fn lines(text: &str) -> impl Iterator<Item = &str> {
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

/// Per-user state of a package in `dumpsys package`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UserState {
    pub installed: bool,
}

/// One `Package [name] (hash):` block of `dumpsys package`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DumpsysPackage {
    pub name: String,
    pub uid: Option<u32>,
    pub code_path: Option<String>,
    pub version_code: Option<String>,
    pub version_name: Option<String>,
    pub installer: Option<String>,
    pub first_install: Option<String>,
    pub last_update: Option<String>,
    /// `flags=[ SYSTEM ... ]`.
    pub system: bool,
    /// `User N: ... installed=true|false`.
    pub users: BTreeMap<u32, UserState>,
}

/// Parsed `dumpsys package`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Dumpsys {
    /// By package name (sorted).
    pub packages: BTreeMap<String, DumpsysPackage>,
    /// Whether a `Packages:` section was seen at all (a truncated or refused dump has none).
    pub saw_packages_section: bool,
}

impl Dumpsys {
    /// Every user id that appears in a `User N:` line.
    pub fn users(&self) -> std::collections::BTreeSet<u32> {
        self.packages
            .values()
            .flat_map(|p| p.users.keys().copied())
            .collect()
    }
}

fn indent(line: &str) -> usize {
    line.len() - line.trim_start_matches(' ').len()
}

/// `dumpsys package` (whole, or for one package). Reads only the top-level `Packages:` section
/// (the `Queries:` and `Package Changes:` sections also have `User N:` lines that are not
/// install states).
pub fn parse_dumpsys_package(text: &str) -> Dumpsys {
    let mut out = Dumpsys::default();
    let mut in_section = false;
    let mut current: Option<DumpsysPackage> = None;
    let finish = |cur: &mut Option<DumpsysPackage>, out: &mut Dumpsys| {
        if let Some(p) = cur.take() {
            out.packages.entry(p.name.clone()).or_insert(p);
        }
    };
    for line in lines(text) {
        if line.trim().is_empty() {
            continue;
        }
        let ind = indent(line);
        let t = line.trim();
        if ind == 0 {
            finish(&mut current, &mut out);
            in_section = t == "Packages:";
            out.saw_packages_section |= in_section;
            continue;
        }
        if !in_section {
            continue;
        }
        if let Some(rest) = t.strip_prefix("Package [") {
            finish(&mut current, &mut out);
            if let Some((name, _)) = rest.split_once(']') {
                if is_package_name(name) {
                    current = Some(DumpsysPackage {
                        name: name.to_string(),
                        ..DumpsysPackage::default()
                    });
                }
            }
            continue;
        }
        let Some(pkg) = current.as_mut() else {
            continue;
        };
        if let Some(rest) = t.strip_prefix("User ") {
            // `User 0: ceDataInode=... installed=true ...`; deeper-indented `User N:` lines
            // belong to sub-blocks and carry no `installed=`.
            if let Some((id, fields)) = rest.split_once(':') {
                if let Ok(id) = id.trim().parse::<u32>() {
                    if let Some(v) = fields
                        .split_whitespace()
                        .find_map(|f| f.strip_prefix("installed="))
                    {
                        pkg.users.insert(
                            id,
                            UserState {
                                installed: v == "true",
                            },
                        );
                    }
                }
            }
            continue;
        }
        let Some((key, value)) = t.split_once('=') else {
            continue;
        };
        let value = value.trim();
        let some = |v: &str| (!v.is_empty() && v != "null").then(|| v.to_string());
        match key {
            "userId" | "appId" => pkg.uid = value.parse().ok(),
            "codePath" => pkg.code_path = some(value),
            "versionCode" => {
                let v = value.split_whitespace().next().unwrap_or("");
                if !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()) {
                    pkg.version_code = Some(v.to_string());
                }
            }
            "versionName" => pkg.version_name = some(value),
            "installerPackageName" => pkg.installer = some(value),
            "firstInstallTime" => pkg.first_install = some(value),
            "lastUpdateTime" => pkg.last_update = some(value),
            "flags" | "pkgFlags"
                if value
                    .trim_matches(|c| c == '[' || c == ']')
                    .split_whitespace()
                    .any(|f| f == "SYSTEM") =>
            {
                pkg.system = true;
            }
            _ => {}
        }
    }
    finish(&mut current, &mut out);
    out
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

/// The output of one part of a batched command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartOutput {
    pub text: String,
    /// Exit status of the part (`$?` after it).
    pub rc: Option<i32>,
}

/// Why batched output could not be split.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BatchError {
    #[error("output ended before part {part} of {parts} (truncated: the device dropped or the command was cut)")]
    Truncated { part: usize, parts: usize },
}

/// Splits the output of a command built by [`super::batch::Batch`]: each part is framed by
/// `<tag>B<i>\n` ... `<tag>R<i>=<rc>\n`, the whole ends with `<tag>END`. The begin marker is at a
/// line start; the exit marker may follow output without a newline (`base64 -w 0`). Parts that
/// completed before a truncation are returned together with the error position, so a caller
/// keeps what was read.
pub fn split_batch(out: &str, tag: &str, parts: usize) -> (Vec<PartOutput>, Option<BatchError>) {
    let mut result = Vec::with_capacity(parts.min(100_000));
    let mut pos = 0usize;
    for i in 0..parts {
        let begin = format!("{tag}B{i}\n");
        let end = format!("{tag}R{i}=");
        let Some(b) = out.get(pos..).and_then(|s| s.find(&begin)) else {
            return (result, Some(BatchError::Truncated { part: i, parts }));
        };
        let start = pos + b + begin.len();
        let Some(e) = out.get(start..).and_then(|s| s.find(&end)) else {
            return (result, Some(BatchError::Truncated { part: i, parts }));
        };
        let text_end = start + e;
        let rc_start = text_end + end.len();
        let rest = out.get(rc_start..).unwrap_or("");
        let rc_len = rest.find('\n').unwrap_or(rest.len());
        let rc = rest
            .get(..rc_len)
            .and_then(|s| s.trim().parse::<i32>().ok());
        if rc.is_none() {
            // An exit marker without its newline or number: the stream was cut here.
            return (result, Some(BatchError::Truncated { part: i, parts }));
        }
        result.push(PartOutput {
            text: out.get(start..text_end).unwrap_or("").to_string(),
            rc,
        });
        pos = rc_start + rc_len;
    }
    let done = format!("{tag}END");
    if out.get(pos..).is_some_and(|s| s.contains(&done)) {
        (result, None)
    } else {
        (result, Some(BatchError::Truncated { part: parts, parts }))
    }
}

/// Decodes base64 (standard alphabet, padding optional, whitespace ignored). `None` on any
/// other character.
pub fn decode_base64(text: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(text.len() / 4 * 3 + 3);
    let mut acc: u32 = 0;
    let mut bits = 0u32;
    let mut ended = false;
    for b in text.bytes() {
        let v = match b {
            b'A'..=b'Z' => b - b'A',
            b'a'..=b'z' => b - b'a' + 26,
            b'0'..=b'9' => b - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            b'=' => {
                ended = true;
                continue;
            }
            b' ' | b'\n' | b'\r' | b'\t' => continue,
            _ => return None,
        };
        if ended {
            return None;
        }
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push(((acc >> bits) & 0xff) as u8);
        }
    }
    Some(out)
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
    fn batch_split_and_truncation() {
        let tag = "__T_";
        let out = "__T_B0\nhello\n__T_R0=0\n__T_B1\nQUJD__T_R1=1\n__T_END\n";
        let (parts, err) = split_batch(out, tag, 2);
        assert_eq!(err, None);
        assert_eq!(parts[0].text, "hello\n");
        assert_eq!(parts[1].text, "QUJD");
        assert_eq!(parts[1].rc, Some(1));
        let (parts, err) = split_batch(&out[..30], tag, 2);
        assert_eq!(parts.len(), 1);
        assert!(err.is_some());
        let (_, err) = split_batch(out.trim_end_matches("__T_END\n"), tag, 2);
        assert!(err.is_some());
    }

    #[test]
    fn base64_roundtrip() {
        assert_eq!(decode_base64("QUJD").unwrap(), b"ABC");
        assert_eq!(decode_base64("QUI=\n").unwrap(), b"AB");
        assert_eq!(decode_base64("QQ==").unwrap(), b"A");
        assert!(decode_base64("Q!==").is_none());
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

    fn third_party() -> std::path::PathBuf {
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/third_party")
    }

    fn capture(name: &str) -> String {
        let p = third_party()
            .join("android_captures/spytrap-adb")
            .join(name);
        std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
    }

    #[test]
    fn dumpsys_real_captures() {
        let d = parse_dumpsys_package(&capture("dumpsys_package_jitsi.txt"));
        assert!(d.saw_packages_section);
        assert_eq!(d.packages.len(), 1);
        let j = &d.packages["org.jitsi.meet"];
        assert_eq!(j.version_code.as_deref(), Some("214010"));
        assert_eq!(j.version_name.as_deref(), Some("21.4.1"));
        assert_eq!(j.installer.as_deref(), Some("com.android.packageinstaller"));
        assert_eq!(j.first_install.as_deref(), Some("2021-11-04 20:13:55"));
        assert_eq!(j.last_update.as_deref(), Some("2021-11-04 20:13:58"));
        assert_eq!(
            j.code_path.as_deref(),
            Some("/data/app/~~0aX7BWdP29TqZaPPXkHNIA==/org.jitsi.meet-hcYO-DrfCgXIZKdu4pcUeA==")
        );
        assert_eq!(j.uid, Some(10152));
        assert!(!j.system);
        // Only the Packages section's `User 0:` line counts (Queries/Package Changes have others).
        assert_eq!(j.users.len(), 1);
        assert!(j.users[&0].installed);

        let c = parse_dumpsys_package(&capture("dumpsys_package_contacts.txt"));
        let c = &c.packages["com.android.contacts"];
        assert!(c.system);
        assert_eq!(c.version_code.as_deref(), Some("10731"));
        assert_eq!(c.version_name.as_deref(), Some("1.7.31"));
        assert_eq!(c.installer, None);
        assert_eq!(
            c.code_path.as_deref(),
            Some("/system/product/priv-app/Contacts")
        );

        let f = parse_dumpsys_package(&capture("dumpsys_package_fdroid.txt"));
        let f = &f.packages["org.fdroid.fdroid"];
        assert_eq!(f.version_code.as_deref(), Some("1013051"));
        assert_eq!(f.version_name.as_deref(), Some("1.13.1"));
        assert_eq!(f.first_install.as_deref(), Some("2021-11-04 20:12:50"));
        assert!(f.users[&0].installed);
    }

    #[test]
    fn dumpsys_crlf_and_concatenated_captures() {
        let all = format!(
            "{}\n{}\n{}",
            capture("dumpsys_package_jitsi.txt"),
            capture("dumpsys_package_contacts.txt"),
            capture("dumpsys_package_fdroid.txt")
        );
        let crlf = all.replace('\n', "\r\n");
        let a = parse_dumpsys_package(&all);
        let b = parse_dumpsys_package(&crlf);
        assert_eq!(a, b);
        assert_eq!(a.packages.len(), 3);
        // Truncated anywhere: never panics, never invents a package.
        for cut in (0..all.len()).step_by(997) {
            if let Some(prefix) = all.get(..cut) {
                let d = parse_dumpsys_package(prefix);
                assert!(d.packages.keys().all(|k| a.packages.contains_key(k)));
            }
        }
    }

    #[test]
    fn dumpsys_multi_user() {
        let text = "Packages:\n  Package [com.zhiliaoapp.musically] (abc):\n    userId=10234\n    codePath=/data/app/~~x==/com.zhiliaoapp.musically-y==\n    versionCode=2024307030 minSdk=21 targetSdk=34\n    versionName=43.7.3\n    flags=[ HAS_CODE ]\n    User 0: ceDataInode=0 installed=false hidden=false\n    User 10: ceDataInode=5 installed=true hidden=false\n\nQueries:\n    User 11:\n";
        let d = parse_dumpsys_package(text);
        let t = &d.packages["com.zhiliaoapp.musically"];
        assert!(!t.users[&0].installed);
        assert!(t.users[&10].installed);
        assert_eq!(d.users().into_iter().collect::<Vec<_>>(), vec![0, 10]);
    }

    proptest::proptest! {
        #[test]
        fn parsers_never_panic(s in "(?s).{0,400}") {
            let _ = parse_getprop(&s);
            let _ = parse_users(&s);
            let _ = parse_package_list(&s);
            let _ = parse_pm_path(&s);
            let _ = parse_dumpsys_package(&s);
            let _ = parse_stat(&s);
            let _ = parse_sha256sum(&s);
            let _ = parse_devices_l(&s);
            let _ = split_batch(&s, "__T_", 3);
            let _ = decode_base64(&s);
            let _ = pm_failure(&s, Some(1));
        }

        #[test]
        fn structured_noise_never_panics(lines in proptest::collection::vec(
            "(package:|  Package \\[|    User |\\[ro\\.|UserInfo\\{|__T_B|__T_R|    versionCode=|=|:|\\]|\\}|\\r|[a-z0-9 .=:/~]){0,12}", 0..30)) {
            let s = lines.join("\n");
            let _ = parse_getprop(&s);
            let _ = parse_users(&s);
            let _ = parse_package_list(&s);
            let _ = parse_dumpsys_package(&format!("Packages:\n{s}"));
            let _ = split_batch(&s, "__T_", 2);
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

        #[test]
        fn base64_decodes_what_it_encodes(data in proptest::collection::vec(proptest::num::u8::ANY, 0..300)) {
            const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
            let mut enc = String::new();
            for c in data.chunks(3) {
                let b = [c[0], *c.get(1).unwrap_or(&0), *c.get(2).unwrap_or(&0)];
                let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
                for k in 0..4 {
                    if k <= c.len() {
                        enc.push(A[((n >> (18 - 6 * k)) & 63) as usize] as char);
                    } else {
                        enc.push('=');
                    }
                }
            }
            proptest::prop_assert_eq!(decode_base64(&enc).unwrap(), data);
        }
    }
}
