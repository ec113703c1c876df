//! The scenario: what phone to pretend to be (a JSON file; field reference in `main.rs`).

use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::PathBuf;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Banner {
    #[serde(default = "default_product")]
    pub product: String,
    #[serde(default = "default_model")]
    pub model: String,
    #[serde(default = "default_product")]
    pub device: String,
}

fn default_product() -> String {
    "fakephone".to_string()
}
fn default_model() -> String {
    "Fake_Phone".to_string()
}

impl Default for Banner {
    fn default() -> Self {
        Banner {
            product: default_product(),
            model: default_model(),
            device: default_product(),
        }
    }
}

#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq, Default)]
#[serde(rename_all = "lowercase")]
pub enum Auth {
    /// Ask for a signature, then accept it (or the public key).
    #[default]
    Accept,
    /// Ask, then never answer: the server shows the device `unauthorized`.
    Never,
    /// No AUTH at all: answer CNXN with CNXN (a device with `ro.adb.secure=0`).
    None,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct User {
    pub id: u32,
    #[serde(default = "default_user_name")]
    pub name: String,
    /// `UserInfo` flags in hex, as `pm list users` prints them (`c13` owner, `1030` work
    /// profile, `1010` other profiles; `QUIET_MODE` is `80`).
    #[serde(default = "default_user_flags")]
    pub flags: String,
    #[serde(default = "yes")]
    pub running: bool,
    /// `pm list packages --user N` (and `pm path --user N`) throw a SecurityException, as for
    /// work profiles, Samsung Secure Folder and Xiaomi second space on some phones.
    #[serde(default)]
    pub refuse_listing: bool,
    /// A profile the user locked (Android 15 Private Space, a paused work profile): quiet
    /// mode, not running, and `pm list packages --user N` prints nothing (exit 0).
    #[serde(default)]
    pub locked: bool,
    /// `dumpsys package` prints no `User N:` lines for this user (so only listing can show
    /// its apps).
    #[serde(default)]
    pub hidden_from_dumpsys: bool,
}

impl User {
    /// Whether `pm list users` prints ` running` after it.
    pub fn is_running(&self) -> bool {
        self.running && !self.locked
    }
}

fn default_user_name() -> String {
    "Owner".to_string()
}
fn default_user_flags() -> String {
    "c13".to_string()
}
fn yes() -> bool {
    true
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApkSpec {
    pub path: String,
    /// Local file served as the APK bytes.
    #[serde(default)]
    pub file: Option<PathBuf>,
    /// Pseudo-random bytes served before the file's bytes (zip readers tolerate a prefix).
    #[serde(default)]
    pub prefix_junk: Option<u64>,
    /// Total size. Without `file`: all pseudo-random bytes. With `file`: the file is prefixed
    /// with junk up to this size (when larger than the file).
    #[serde(default)]
    pub synthetic_size: Option<u64>,
    /// Inline content (small text files, for tests).
    #[serde(default)]
    pub content: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Package {
    pub name: String,
    /// Users the package is installed for. Empty: uninstalled with its data kept
    /// (`pm uninstall -k`): known to the system, listed only by `pm list packages -u`, its APKs
    /// gone.
    #[serde(default = "default_users")]
    pub users: Vec<u32>,
    #[serde(default)]
    pub uid: Option<u32>,
    #[serde(default = "one")]
    pub version_code: u64,
    #[serde(default = "default_version_name")]
    pub version_name: String,
    #[serde(default)]
    pub installer: Option<String>,
    #[serde(default)]
    pub system: bool,
    #[serde(default)]
    pub first_install: Option<String>,
    #[serde(default)]
    pub last_update: Option<String>,
    #[serde(default)]
    pub min_sdk: Option<u32>,
    #[serde(default)]
    pub target_sdk: Option<u32>,
    /// `false`: disabled (`pm disable-user`) for every user it is installed for.
    #[serde(default)]
    pub enabled: Option<bool>,
    /// Android 15 archived for its `users`: listed by `pm list packages`, `pm path` prints
    /// nothing, its APKs are gone, dumpsys shows `installed=false` with an archive state.
    #[serde(default)]
    pub archived: bool,
    #[serde(default)]
    pub permissions: Vec<String>,
    #[serde(default)]
    pub apks: Vec<ApkSpec>,
}

impl Package {
    /// Whether the APK files are on the phone (not archived, not uninstalled with data kept).
    pub fn has_code(&self) -> bool {
        !self.archived && !self.users.is_empty()
    }

    pub fn is_enabled(&self) -> bool {
        self.enabled.unwrap_or(true)
    }
}

fn default_users() -> Vec<u32> {
    vec![0]
}
fn one() -> u64 {
    1
}
fn default_version_name() -> String {
    "1.0".to_string()
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Link {
    /// Added once per service (OPEN → OKAY): one round trip.
    #[serde(default)]
    pub latency_ms: u64,
    /// Throttles WRTE payloads sent by the device (0 or absent = unlimited).
    #[serde(default)]
    pub bandwidth_bytes_per_s: u64,
}

/// Overrides of the on-phone cost model (see `cost.rs`); every field is optional.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CostSpec {
    /// Multiplies every on-phone time: 1 real time, 0 free, 0.1 ten times faster. Default 1
    /// for a scenario with `sdk`, 0 without.
    #[serde(default)]
    pub scale: Option<f64>,
    /// One `pm` call (default 40 ms at SDK >= 28, 350 ms below: a Java VM start).
    #[serde(default)]
    pub pm_ms: Option<f64>,
    /// One `cmd` call (native since Android 7; default 40 ms).
    #[serde(default)]
    pub cmd_ms: Option<f64>,
    /// One `dumpsys` call, before the per-package part (default 300 ms).
    #[serde(default)]
    pub dumpsys_ms: Option<f64>,
    /// Per package dumped by `dumpsys package` (default 5 ms).
    #[serde(default)]
    pub dumpsys_per_package_ms: Option<f64>,
    /// One toybox/toolbox tool call (default 2 ms).
    #[serde(default)]
    pub tool_ms: Option<f64>,
    /// How fast tools read (and hash) file bytes, in MB/s (default 500; 0 = free).
    #[serde(default)]
    pub file_mb_per_s: Option<f64>,
    /// Commands the phone runs at the same time (default 8 cores).
    #[serde(default)]
    pub parallel: Option<u32>,
}

/// `dumpsys` knobs.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DumpsysSpec {
    /// Cut every `dumpsys package` after this many package blocks, as if the 10 s budget ran
    /// out there: what fits, then the `DUMP TIMEOUT` line, exit 0.
    #[serde(default)]
    pub cut_after_packages: Option<usize>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    #[serde(default)]
    pub serial_banner: Banner,
    #[serde(default)]
    pub auth: Auth,
    /// Behave like a real phone of this API level (21-36): transport, tools, `pm`, `dumpsys`
    /// and costs (see `profile.rs`). It wins over `android_sdk`, `shell_v2: true` and the
    /// `ro.build.version.sdk`/`release` props, so an old scenario becomes a real phone of that
    /// version by adding `sdk` alone. Absent: the permissive phone of old scenarios (modern
    /// transport, every tool, free commands) whatever `android_sdk` says.
    #[serde(default)]
    pub sdk: Option<u32>,
    /// Without `sdk`: the API level `getprop` reports and `pm` options follow (nothing else).
    #[serde(default)]
    pub android_sdk: Option<u32>,
    #[serde(default)]
    pub props: BTreeMap<String, String>,
    #[serde(default)]
    pub users: Vec<User>,
    #[serde(default)]
    pub packages: Vec<Package>,
    #[serde(default)]
    pub link: Link,
    #[serde(default)]
    pub costs: CostSpec,
    #[serde(default)]
    pub dumpsys: DumpsysSpec,
    /// After this many services complete, the next one is cut mid-output and the device
    /// hangs up and stops listening (an unplugged cable).
    #[serde(default)]
    pub drop_after_services: Option<u64>,
    /// The phone's UTC offset (`+0100`, `-05:30`), as `date +%z` prints it. Default: that of
    /// `persist.sys.timezone` (Europe/Berlin unless `props` say otherwise) at the clock's time.
    #[serde(default)]
    pub utc_offset: Option<String>,
    /// The phone's clock, fixed (UTC, `YYYY-MM-DD HH:MM:SS`). Default: the host's clock.
    #[serde(default)]
    pub clock: Option<String>,
    /// Advertise `shell_v2`. Without `sdk`: default true (`false` keeps `cmd` advertised, as
    /// old scenarios expect). With `sdk`: follows the SDK; `false` takes it away from an
    /// Android 7+ adbd, `true` adds nothing.
    #[serde(default)]
    pub shell_v2: Option<bool>,
}

/// API levels a scenario's `sdk` may name.
pub const SDK_RANGE: std::ops::RangeInclusive<u32> = 21..=36;

impl Scenario {
    /// Fills defaults that depend on other fields and refuses contradictions.
    pub fn normalise(&mut self) -> Result<(), String> {
        if self.users.is_empty() {
            self.users.push(User {
                id: 0,
                name: default_user_name(),
                flags: default_user_flags(),
                running: true,
                refuse_listing: false,
                locked: false,
                hidden_from_dumpsys: false,
            });
        }
        for (i, p) in self.packages.iter_mut().enumerate() {
            if p.uid.is_none() {
                let base = if p.system { 1000 } else { 10_000 };
                p.uid = Some(base + u32::try_from(i).unwrap_or(0));
            }
        }
        if let Some(o) = &self.utc_offset {
            if parse_offset(o).is_none() {
                return Err(format!("utc_offset {o:?} is not like +0100 or -05:30"));
            }
        }
        if let Some(c) = &self.clock {
            if parse_time(c).is_none() {
                return Err(format!("clock {c:?} is not like 2026-11-28 09:00:00"));
            }
        }
        let Some(sdk) = self.sdk else {
            return Ok(());
        };
        if !SDK_RANGE.contains(&sdk) {
            return Err(format!(
                "sdk {sdk} is outside {}-{}",
                SDK_RANGE.start(),
                SDK_RANGE.end()
            ));
        }
        if let Some(p) = self.packages.iter().find(|p| p.archived) {
            if sdk < 35 {
                return Err(format!(
                    "{} is archived, but archiving exists from Android 15 (sdk 35), not sdk {sdk}",
                    p.name
                ));
            }
        }
        Ok(())
    }

    /// The API level the phone reports.
    pub fn sdk(&self) -> u32 {
        if let Some(s) = self.sdk.or(self.android_sdk) {
            return s;
        }
        self.props
            .get("ro.build.version.sdk")
            .and_then(|s| s.parse().ok())
            .unwrap_or(34)
    }

    /// Seconds east of UTC of the phone's local time at `t`: `utc_offset`, else what the
    /// zone in `persist.sys.timezone` gives then (see [`zone_offset_secs`]).
    pub fn utc_offset_secs(&self, t: u64) -> i64 {
        if let Some(o) = self.utc_offset.as_deref().and_then(parse_offset) {
            return o;
        }
        let props = self.all_props();
        let zone = props
            .get("persist.sys.timezone")
            .map(String::as_str)
            .unwrap_or("");
        zone_offset_secs(zone, t)
    }

    /// The phone's clock: seconds since the epoch.
    pub fn now(&self) -> u64 {
        if let Some(t) = self.clock.as_deref().and_then(parse_time) {
            return t;
        }
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0)
    }

    pub fn user(&self, id: u32) -> Option<&User> {
        self.users.iter().find(|u| u.id == id)
    }

    /// All properties: defaults derived from the banner and the SDK, overridden by `props`.
    pub fn all_props(&self) -> BTreeMap<String, String> {
        let b = &self.serial_banner;
        let sdk = self.sdk();
        let mut m = BTreeMap::new();
        let mut put = |k: &str, v: String| {
            m.insert(k.to_string(), v);
        };
        put("ro.product.name", b.product.clone());
        put("ro.product.model", b.model.clone());
        put("ro.product.device", b.device.clone());
        put("ro.product.brand", "fake".to_string());
        put("ro.product.manufacturer", "fake".to_string());
        put("ro.build.version.sdk", sdk.to_string());
        put("ro.build.version.release", release_for_sdk(sdk).to_string());
        put("ro.build.type", "user".to_string());
        put("ro.debuggable", "0".to_string());
        put("ro.secure", "1".to_string());
        put("ro.adb.secure", "1".to_string());
        put("sys.boot_completed", "1".to_string());
        put("persist.sys.timezone", "Europe/Berlin".to_string());
        for (k, v) in &self.props {
            m.insert(k.clone(), v.clone());
        }
        if self.sdk.is_some() {
            // The version the phone behaves as is the one it reports.
            m.insert("ro.build.version.sdk".to_string(), sdk.to_string());
            m.insert(
                "ro.build.version.release".to_string(),
                release_for_sdk(sdk).to_string(),
            );
        }
        m
    }
}

fn release_for_sdk(sdk: u32) -> &'static str {
    match sdk {
        35 => "15",
        34 => "14",
        33 => "13",
        32 => "12L",
        31 => "12",
        30 => "11",
        29 => "10",
        28 => "9",
        27 => "8.1.0",
        26 => "8.0.0",
        25 => "7.1.2",
        24 => "7.0",
        23 => "6.0.1",
        22 => "5.1.1",
        21 => "5.0.2",
        36 => "16",
        _ => "14",
    }
}

/// Parses `YYYY-MM-DD HH:MM:SS` (UTC) into seconds since the epoch.
pub fn parse_time(s: &str) -> Option<u64> {
    let (date, time) = s.trim().split_once(' ').unwrap_or((s.trim(), "00:00:00"));
    let mut d = date.split('-').map(|x| x.parse::<i64>().ok());
    let (y, m, dd) = (d.next()??, d.next()??, d.next()??);
    let mut t = time.split(':').map(|x| x.parse::<i64>().ok());
    let (hh, mm, ss) = (t.next()??, t.next()??, t.next().flatten().unwrap_or(0));
    let days = days_from_civil(y, m, dd);
    u64::try_from(days * 86_400 + hh * 3600 + mm * 60 + ss).ok()
}

fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The civil date and time (UTC) of seconds since the epoch: (year, month, day, h, m, s).
pub fn civil(t: u64) -> (i64, i64, i64, u64, u64, u64) {
    let days = i64::try_from(t / 86_400).unwrap_or(0);
    let secs = t % 86_400;
    let z = days + 719_468;
    let era = if z >= 0 { z } else { z - 146_096 } / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = if m <= 2 { y + 1 } else { y };
    (y, m, d, secs / 3600, (secs % 3600) / 60, secs % 60)
}

/// Formats seconds since the epoch as `YYYY-MM-DD HH:MM` (UTC), as `ls -l` does.
pub fn format_time(t: u64) -> String {
    let (y, m, d, hh, mm, _) = civil(t);
    format!("{y:04}-{m:02}-{d:02} {hh:02}:{mm:02}")
}

/// `+HHMM`, `-HH:MM`, `+HH` → seconds east of UTC.
pub fn parse_offset(s: &str) -> Option<i64> {
    let (sign, rest) = match s.trim().split_at_checked(1)? {
        ("+", r) => (1, r),
        ("-", r) => (-1, r),
        _ => return None,
    };
    let digits: String = rest.chars().filter(|c| *c != ':').collect();
    if digits.len() != 2 && digits.len() != 4 {
        return None;
    }
    let h: i64 = digits.get(..2)?.parse().ok()?;
    let m: i64 = digits
        .get(2..)
        .filter(|x| !x.is_empty())
        .map_or(Some(0), |x| x.parse().ok())?;
    if h > 14 || m > 59 {
        return None;
    }
    Some(sign * (h * 3600 + m * 60))
}

/// The UTC offset of a time zone at Unix time `t`, in seconds: `Europe/*` zones with the EU
/// summer-time rule (from 01:00 UTC on the last Sunday of March to 01:00 UTC on the last
/// Sunday of October; London, Dublin and Lisbon an hour behind the rest), a few fixed-offset
/// zones, and UTC for anything else.
pub fn zone_offset_secs(zone: &str, t: u64) -> i64 {
    const FIXED: [(&str, i64); 6] = [
        ("Asia/Kolkata", 330),
        ("Asia/Shanghai", 480),
        ("Asia/Tokyo", 540),
        ("Asia/Dubai", 240),
        ("America/Sao_Paulo", -180),
        ("Australia/Brisbane", 600),
    ];
    if let Some((_, minutes)) = FIXED.iter().find(|(z, _)| *z == zone) {
        return minutes * 60;
    }
    let Some(city) = zone.strip_prefix("Europe/") else {
        return 0;
    };
    let standard = if matches!(city, "London" | "Dublin" | "Lisbon") {
        0
    } else {
        3600
    };
    let (year, ..) = civil(t);
    // The last Sunday of a month whose last day is `last` (days since the epoch; day 0 was a
    // Thursday).
    let last_sunday = |last: i64| last - (last + 4).rem_euclid(7);
    let day = |m: i64, d: i64| {
        parse_time(&format!("{year:04}-{m:02}-{d:02} 00:00:00")).map_or(0, |s| (s / 86_400) as i64)
    };
    let start = last_sunday(day(3, 31)) * 86_400 + 3600;
    let end = last_sunday(day(10, 31)) * 86_400 + 3600;
    let t = i64::try_from(t).unwrap_or(0);
    if t >= start && t < end {
        standard + 3600
    } else {
        standard
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zone_offsets_follow_eu_summer_time() {
        // 2026: summer time from 2026-03-29 01:00 UTC to 2026-10-25 01:00 UTC.
        for (zone, at, want) in [
            ("Europe/Berlin", "2026-11-28 09:00:00", 3600),
            ("Europe/Berlin", "2026-07-15 12:00:00", 7200),
            ("Europe/London", "2026-07-15 12:00:00", 3600),
            ("Europe/Paris", "2026-03-29 00:59:59", 3600),
            ("Europe/Paris", "2026-03-29 01:00:00", 7200),
            ("Europe/Paris", "2026-10-25 00:59:59", 7200),
            ("Europe/Paris", "2026-10-25 01:00:00", 3600),
            ("Asia/Kolkata", "2026-07-15 12:00:00", 19_800),
            ("America/Denver", "2026-07-15 12:00:00", 0),
        ] {
            let t = parse_time(at).unwrap();
            assert_eq!(zone_offset_secs(zone, t), want, "{zone} at {at}");
        }
    }

    #[test]
    fn offsets_parse_in_the_forms_date_prints() {
        assert_eq!(parse_offset("+0100"), Some(3600));
        assert_eq!(parse_offset("-05:30"), Some(-19_800));
        assert_eq!(parse_offset("+02"), Some(7200));
        assert_eq!(parse_offset("0100"), None);
        assert_eq!(parse_offset("+2500"), None);
    }
}
