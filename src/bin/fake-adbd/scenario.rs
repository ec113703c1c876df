//! The scenario (what phone to pretend to be) and the read-only file system built from it.

use serde::Deserialize;
use std::collections::{BTreeMap, BTreeSet};
use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::PathBuf;
use std::sync::Arc;

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
    #[serde(default = "default_user_flags")]
    pub flags: String,
    #[serde(default = "yes")]
    pub running: bool,
    /// `pm list packages --user N` (and `pm path --user N`) throw a SecurityException.
    #[serde(default)]
    pub refuse_listing: bool,
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
    #[serde(default)]
    pub enabled: Option<bool>,
    #[serde(default)]
    pub permissions: Vec<String>,
    #[serde(default)]
    pub apks: Vec<ApkSpec>,
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

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    #[serde(default)]
    pub serial_banner: Banner,
    #[serde(default)]
    pub auth: Auth,
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
    /// After this many services complete, the next one is cut mid-output and the device
    /// hangs up and stops listening (an unplugged cable).
    #[serde(default)]
    pub drop_after_services: Option<u64>,
    #[serde(default = "yes")]
    pub shell_v2: bool,
}

impl Scenario {
    /// Fills defaults that depend on other fields.
    pub fn normalise(&mut self) {
        if self.users.is_empty() {
            self.users.push(User {
                id: 0,
                name: default_user_name(),
                flags: default_user_flags(),
                running: true,
                refuse_listing: false,
            });
        }
        for (i, p) in self.packages.iter_mut().enumerate() {
            if p.uid.is_none() {
                let base = if p.system { 1000 } else { 10_000 };
                p.uid = Some(base + u32::try_from(i).unwrap_or(0));
            }
        }
    }

    pub fn sdk(&self) -> u32 {
        if let Some(s) = self.android_sdk {
            return s;
        }
        self.props
            .get("ro.build.version.sdk")
            .and_then(|s| s.parse().ok())
            .unwrap_or(34)
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
        _ => "14",
    }
}

/// Where a served file's bytes come from.
#[derive(Debug)]
pub enum Content {
    /// `junk` pseudo-random bytes, then the local file's bytes (if any).
    Composite {
        junk: u64,
        file: Option<(PathBuf, u64)>,
    },
    Inline(Vec<u8>),
}

#[derive(Debug)]
pub struct FileSrc {
    pub path: String,
    pub size: u64,
    pub mtime: u64,
    pub seed: u64,
    pub content: Content,
}

fn splitmix64(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

fn fnv1a(s: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in s.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

/// Fills `buf` with the deterministic junk bytes at absolute offset `off` of a stream.
fn fill_junk(seed: u64, off: u64, buf: &mut [u8]) {
    let mut pos = off;
    let mut i = 0usize;
    while i < buf.len() {
        let word = splitmix64(seed ^ (pos / 8).wrapping_mul(0x2545_f491_4f6c_dd1d));
        let bytes = word.to_le_bytes();
        let start = (pos % 8) as usize;
        let take = (8 - start).min(buf.len() - i);
        if let (Some(dst), Some(src)) = (buf.get_mut(i..i + take), bytes.get(start..start + take)) {
            dst.copy_from_slice(src);
        }
        i += take;
        pos += take as u64;
    }
}

/// A reader positioned over a range of a served file.
pub struct RangeReader<'a> {
    src: &'a FileSrc,
    pos: u64,
    end: u64,
    file: Option<File>,
}

impl FileSrc {
    /// Streams the bytes `[start, start+len)` (clamped to the file) through `f` in blocks.
    pub fn for_each_block(
        &self,
        start: u64,
        len: u64,
        block: usize,
        mut f: impl FnMut(&[u8]) -> std::io::Result<()>,
    ) -> std::io::Result<()> {
        let mut r = self.reader(start, len);
        let mut buf = vec![0u8; block.max(1)];
        loop {
            let n = r.read_some(&mut buf)?;
            if n == 0 {
                return Ok(());
            }
            f(buf.get(..n).unwrap_or(&[]))?;
        }
    }

    pub fn reader(&self, start: u64, len: u64) -> RangeReader<'_> {
        let start = start.min(self.size);
        let end = start.saturating_add(len).min(self.size);
        RangeReader {
            src: self,
            pos: start,
            end,
            file: None,
        }
    }

    pub fn read_range(&self, start: u64, len: u64) -> std::io::Result<Vec<u8>> {
        let mut out = Vec::new();
        self.for_each_block(start, len, 64 * 1024, |b| {
            out.extend_from_slice(b);
            Ok(())
        })?;
        Ok(out)
    }
}

impl RangeReader<'_> {
    /// Reads up to `buf.len()` bytes; 0 at the end of the range.
    pub fn read_some(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.pos >= self.end {
            return Ok(0);
        }
        let want = usize::try_from(self.end - self.pos)
            .unwrap_or(usize::MAX)
            .min(buf.len());
        let dst = match buf.get_mut(..want) {
            Some(d) => d,
            None => return Ok(0),
        };
        let n = match &self.src.content {
            Content::Inline(bytes) => {
                let from = usize::try_from(self.pos).unwrap_or(usize::MAX);
                let src = bytes.get(from..from.saturating_add(want)).unwrap_or(&[]);
                let n = src.len().min(dst.len());
                if let (Some(d), Some(s)) = (dst.get_mut(..n), src.get(..n)) {
                    d.copy_from_slice(s);
                }
                n
            }
            Content::Composite { junk, file } => {
                if self.pos < *junk {
                    let n = usize::try_from(*junk - self.pos)
                        .unwrap_or(usize::MAX)
                        .min(dst.len());
                    if let Some(d) = dst.get_mut(..n) {
                        fill_junk(self.src.seed, self.pos, d);
                    }
                    n
                } else if let Some((path, _)) = file {
                    if self.file.is_none() {
                        let mut f = File::open(path)?;
                        f.seek(SeekFrom::Start(self.pos - *junk))?;
                        self.file = Some(f);
                    }
                    match self.file.as_mut() {
                        Some(f) => {
                            let n = f.read(dst)?;
                            if n == 0 {
                                return Err(std::io::Error::new(
                                    std::io::ErrorKind::UnexpectedEof,
                                    format!("{} shrank while serving", path.display()),
                                ));
                            }
                            n
                        }
                        None => 0,
                    }
                } else {
                    0
                }
            }
        };
        self.pos += n as u64;
        Ok(n)
    }
}

/// Read-only view of the phone's files: the APKs of the scenario and their directories.
#[derive(Debug, Default)]
pub struct Vfs {
    pub files: BTreeMap<String, Arc<FileSrc>>,
    pub dirs: BTreeSet<String>,
}

#[derive(Debug)]
pub enum Node<'a> {
    File(&'a Arc<FileSrc>),
    Dir,
}

impl Vfs {
    pub fn build(sc: &Scenario) -> Result<Vfs, String> {
        let mut vfs = Vfs::default();
        for d in [
            "/",
            "/data",
            "/data/app",
            "/system",
            "/system/app",
            "/system/priv-app",
            "/sdcard",
            "/data/local/tmp",
        ] {
            vfs.dirs.insert(d.to_string());
        }
        for p in &sc.packages {
            let mtime = p
                .last_update
                .as_deref()
                .and_then(parse_time)
                .unwrap_or(if p.system {
                    1_230_768_000
                } else {
                    1_704_067_200
                });
            for a in &p.apks {
                if !a.path.starts_with('/') {
                    return Err(format!(
                        "apk path {:?} of {} is not absolute",
                        a.path, p.name
                    ));
                }
                let content = if let Some(text) = &a.content {
                    Content::Inline(text.as_bytes().to_vec())
                } else {
                    let file = match &a.file {
                        Some(f) => {
                            let meta = std::fs::metadata(f).map_err(|e| {
                                format!("apk file {} of {}: {e}", f.display(), p.name)
                            })?;
                            Some((f.clone(), meta.len()))
                        }
                        None => None,
                    };
                    let fsize = file.as_ref().map(|(_, s)| *s).unwrap_or(0);
                    let mut junk = a.prefix_junk.unwrap_or(0);
                    if let Some(total) = a.synthetic_size {
                        junk = junk.max(total.saturating_sub(fsize));
                    }
                    Content::Composite { junk, file }
                };
                let size = match &content {
                    Content::Inline(b) => b.len() as u64,
                    Content::Composite { junk, file } => {
                        junk + file.as_ref().map(|(_, s)| *s).unwrap_or(0)
                    }
                };
                let src = FileSrc {
                    path: a.path.clone(),
                    size,
                    mtime,
                    seed: fnv1a(&a.path),
                    content,
                };
                let mut dir = parent(&a.path);
                while let Some(d) = dir {
                    vfs.dirs.insert(d.to_string());
                    dir = parent(d);
                }
                vfs.files.insert(a.path.clone(), Arc::new(src));
            }
        }
        Ok(vfs)
    }

    pub fn lookup(&self, path: &str) -> Option<Node<'_>> {
        let p = normalise_path(path);
        if let Some(f) = self.files.get(&p) {
            return Some(Node::File(f));
        }
        if self.dirs.contains(&p) {
            return Some(Node::Dir);
        }
        None
    }

    /// Direct children of a directory: (name, node) sorted by name.
    pub fn children(&self, dir: &str) -> Vec<(String, Node<'_>)> {
        let d = normalise_path(dir);
        let prefix = if d == "/" {
            "/".to_string()
        } else {
            format!("{d}/")
        };
        let mut out = Vec::new();
        for sub in self.dirs.range(prefix.clone()..) {
            let Some(rest) = sub.strip_prefix(&prefix) else {
                break;
            };
            if !rest.is_empty() && !rest.contains('/') {
                out.push((rest.to_string(), Node::Dir));
            }
        }
        for (path, f) in self.files.range(prefix.clone()..) {
            let Some(rest) = path.strip_prefix(&prefix) else {
                break;
            };
            if !rest.is_empty() && !rest.contains('/') {
                out.push((rest.to_string(), Node::File(f)));
            }
        }
        out.sort_by(|a, b| a.0.cmp(&b.0));
        out
    }
}

pub fn parent(path: &str) -> Option<&str> {
    if path == "/" || path.is_empty() {
        return None;
    }
    let trimmed = path.trim_end_matches('/');
    match trimmed.rfind('/') {
        Some(0) => Some("/"),
        Some(i) => trimmed.get(..i),
        None => None,
    }
}

pub fn normalise_path(path: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for c in path.split('/') {
        match c {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            other => parts.push(other),
        }
    }
    format!("/{}", parts.join("/"))
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

/// Formats seconds since the epoch as `YYYY-MM-DD HH:MM` (UTC), as `ls -l` does.
pub fn format_time(t: u64) -> String {
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
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}",
        secs / 3600,
        (secs % 3600) / 60
    )
}
