//! Fingerprint cache: one JSON file per device (`adb-<serial>.json` in the cache directory),
//! keyed by (APK path, size, mtime) as `stat` reports them on the phone. A re-scan of an
//! unchanged phone reads no APK bytes. Each entry is the APK's [`Fingerprint`] as it serialises.
//! Writes are atomic and private ([`crate::report::atomic_file`]); a missing, unreadable, foreign or older
//! cache file is ignored (a cold cache), never an error and never a source of data.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

pub use crate::apk::Fingerprint;

/// The file format. 2: entries hold a [`Fingerprint`] as it serialises (1 held a copy of some
/// of its fields). A file of another version, or one that does not parse, is a cold cache.
const VERSION: u32 = 2;

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
struct Key {
    path: String,
    size: u64,
    mtime: i64,
}

#[derive(Debug, Serialize, Deserialize)]
struct Entry {
    #[serde(flatten)]
    key: Key,
    fingerprint: Fingerprint,
}

#[derive(Debug, Serialize, Deserialize)]
struct File {
    version: u32,
    serial: String,
    entries: Vec<Entry>,
}

/// The cache of one device.
#[derive(Debug, Default)]
pub struct Cache {
    path: Option<PathBuf>,
    serial: String,
    old: BTreeMap<Key, Fingerprint>,
    new: BTreeMap<Key, Fingerprint>,
}

/// The file of `serial` in the cache folder `dir`: `adb-<serial><ext>`, the serial made safe
/// as a file name (`127.0.0.1:5555` → `adb-127.0.0.1_5555.json`). `None` when caching is off.
pub(super) fn device_file(dir: Option<&Path>, serial: &str, ext: &str) -> Option<PathBuf> {
    let safe: String = serial
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .take(120)
        .collect();
    dir.map(|d| d.join(format!("adb-{safe}{ext}")))
}

/// Writes `value` as JSON to `path` in the cache folder (created if missing), atomically and
/// readable by the owner only: what a phone holds is nobody else's business, and the folder
/// may be one another local user can write to (a planted file or symlink is never followed).
pub(super) fn save_json(path: &Path, value: &impl Serialize) -> std::io::Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    let text = serde_json::to_vec(value).map_err(std::io::Error::other)?;
    crate::report::atomic_file::write_private(path, &text)
}

/// The largest cache or memo file read (a phone's fingerprints and dumpsys are a few MB).
const MAX_FILE: u64 = 64 << 20;

/// Reads the JSON file at `path` as a `T`; `None` (a cold cache) when it is missing, not a
/// regular file (a FIFO planted there must not hang the scan), over [`MAX_FILE`] or not a `T`.
pub(super) fn load_json<T: serde::de::DeserializeOwned>(path: &Path) -> Option<T> {
    let bytes = crate::input::read_regular(path, MAX_FILE, "cache file").ok()?;
    serde_json::from_slice(&bytes).ok()
}

/// `$XDG_CACHE_HOME/appsweep`, else `~/.cache/appsweep`.
pub fn default_dir() -> Option<PathBuf> {
    if let Some(x) = std::env::var_os("XDG_CACHE_HOME").filter(|x| !x.is_empty()) {
        return Some(PathBuf::from(x).join("appsweep"));
    }
    std::env::var_os("HOME")
        .filter(|h| !h.is_empty())
        .map(|h| PathBuf::from(h).join(".cache").join("appsweep"))
}

impl Cache {
    /// Loads the cache of `serial` from `dir` (`None`: caching disabled).
    pub fn load(dir: Option<&Path>, serial: &str) -> Self {
        let mut cache = Cache {
            path: device_file(dir, serial, ".json"),
            serial: serial.to_string(),
            ..Cache::default()
        };
        let file = cache.path.as_deref().and_then(load_json::<File>);
        if let Some(f) = file.filter(|f| f.version == VERSION && f.serial == serial) {
            cache.old = f
                .entries
                .into_iter()
                .map(|e| (e.key, e.fingerprint))
                .collect();
        }
        cache
    }

    pub fn get(&mut self, path: &str, size: u64, mtime: i64) -> Option<Fingerprint> {
        let key = Key {
            path: path.to_string(),
            size,
            mtime,
        };
        let fp = self.old.get(&key).or_else(|| self.new.get(&key))?.clone();
        self.new.insert(key, fp.clone());
        Some(fp)
    }

    pub fn put(&mut self, path: &str, size: u64, mtime: i64, fp: Fingerprint) {
        self.new.insert(
            Key {
                path: path.to_string(),
                size,
                mtime,
            },
            fp,
        );
    }

    /// Writes the entries used or added in this scan (atomically, owner only). Errors are returned for a
    /// note; they never fail a scan.
    pub fn save(&self) -> std::io::Result<()> {
        let Some(path) = &self.path else {
            return Ok(());
        };
        let file = File {
            version: VERSION,
            serial: self.serial.clone(),
            entries: self
                .new
                .iter()
                .map(|(k, f)| Entry {
                    key: k.clone(),
                    fingerprint: f.clone(),
                })
                .collect(),
        };
        save_json(path, &file)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{CertScheme, Certificate, MetaData, Sha256};

    fn sample() -> Fingerprint {
        Fingerprint {
            package: Some("com.example".into()),
            version_code: Some((1 << 32) | 7),
            version_name: Some("1.0".into()),
            label: Some("Example".into()),
            components: vec!["com.example.Main".into()],
            meta_data: vec![MetaData {
                name: "k".into(),
                value: "v".into(),
            }],
            permissions: vec!["android.permission.INTERNET".into()],
            native_libs: vec!["libx.so".into()],
            certificates: vec![Certificate {
                sha256: Sha256::of(b"cert"),
                scheme: CertScheme::V31,
                entry: None,
            }],
            warnings: vec!["w".into()],
            partial: Some("read up to offset 8 only".into()),
            bytes_read: 0,
        }
    }

    #[test]
    fn round_trip_keeps_the_fingerprint_as_is() {
        let dir = tempfile::tempdir().unwrap();
        let mut c = Cache::load(Some(dir.path()), "SER:1");
        c.put("/data/app/a/base.apk", 10, 20, sample());
        c.save().unwrap();
        let mut c = Cache::load(Some(dir.path()), "SER:1");
        assert_eq!(c.get("/data/app/a/base.apk", 10, 20), Some(sample()));
        assert_eq!(c.get("/data/app/a/base.apk", 10, 21), None);
        // Another serial's cache is not this one's.
        let mut other = Cache::load(Some(dir.path()), "SER:2");
        assert_eq!(other.get("/data/app/a/base.apk", 10, 20), None);
    }

    #[test]
    fn old_foreign_or_corrupt_files_are_a_cold_cache() {
        let dir = tempfile::tempdir().unwrap();
        let file = device_file(Some(dir.path()), "S", ".json").unwrap();
        let v1 = r#"{"version":1,"serial":"S","entries":[{"path":"/a.apk","size":1,"mtime":2,"fingerprint":{"package":"x","version_code":null,"version_name":null,"components":[],"meta_data":[["k","v"]],"permissions":[],"native_libs":[],"certificates":[["00","v2",null]],"warnings":[]}}]}"#;
        let mut current = serde_json::to_value(File {
            version: VERSION,
            serial: "S".into(),
            entries: vec![Entry {
                key: Key {
                    path: "/a.apk".into(),
                    size: 1,
                    mtime: 2,
                },
                fingerprint: sample(),
            }],
        })
        .unwrap();
        let mut bad_digest = current.clone();
        bad_digest["entries"][0]["fingerprint"]["certificates"][0]["sha256"] = "ABC".into();
        current["version"] = (VERSION + 1).into();
        for text in [
            v1.to_string(),
            bad_digest.to_string(),
            current.to_string(),
            "{\"version\":".to_string(),
            "\u{0}garbage".to_string(),
        ] {
            std::fs::write(&file, &text).unwrap();
            let mut c = Cache::load(Some(dir.path()), "S");
            assert_eq!(c.get("/a.apk", 1, 2), None, "{text}");
        }
    }

    #[test]
    fn a_fifo_where_the_cache_belongs_is_a_cold_cache_not_a_hang() {
        let dir = tempfile::tempdir().unwrap();
        for ext in [".json", ".dumpsys.json"] {
            let file = device_file(Some(dir.path()), "S", ext).unwrap();
            let made = std::process::Command::new("mkfifo").arg(&file).status();
            assert!(made.unwrap().success());
        }
        let mut c = Cache::load(Some(dir.path()), "S");
        assert_eq!(c.get("/a.apk", 1, 2), None);
        assert!(super::super::memo::Memo::load(Some(dir.path()), "S").is_none());
    }

    #[cfg(unix)]
    #[test]
    fn a_symlink_planted_at_the_old_temporary_name_is_not_followed() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let victim = dir.path().join("victim");
        std::fs::write(&victim, b"keep").unwrap();
        // Where this cache once wrote first, predictably: `.<file>.<pid>.tmp`.
        let planted = dir
            .path()
            .join(format!(".adb-S.json.{}.tmp", std::process::id()));
        std::os::unix::fs::symlink(&victim, &planted).unwrap();
        let mut c = Cache::load(Some(dir.path()), "S");
        c.put("/a.apk", 1, 2, sample());
        c.save().unwrap();
        assert_eq!(std::fs::read(&victim).unwrap(), b"keep");
        assert!(std::fs::symlink_metadata(&planted).unwrap().is_symlink());
        let file = device_file(Some(dir.path()), "S", ".json").unwrap();
        let mode = std::fs::metadata(&file).unwrap().permissions().mode();
        assert_eq!(mode & 0o077, 0, "{mode:o}");
        assert_eq!(
            Cache::load(Some(dir.path()), "S").get("/a.apk", 1, 2),
            Some(sample())
        );
    }
}
