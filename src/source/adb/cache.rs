//! Fingerprint cache: one JSON file per device (`adb-<serial>.json` in the cache directory),
//! keyed by (APK path, size, mtime) as `stat` reports them on the phone. A re-scan of an
//! unchanged phone reads no APK bytes. Writes are atomic (temporary file, then rename); a
//! missing, unreadable or foreign cache file is ignored, never an error.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::apk::ApkInfo;
use crate::model::{CertScheme, Certificate, MetaData};

const VERSION: u32 = 1;

/// What the cache keeps of an [`ApkInfo`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fingerprint {
    pub package: Option<String>,
    pub version_code: Option<u64>,
    pub version_name: Option<String>,
    pub components: Vec<String>,
    pub meta_data: Vec<(String, String)>,
    pub permissions: Vec<String>,
    pub native_libs: Vec<String>,
    /// (sha256, scheme, entry).
    pub certificates: Vec<(String, String, Option<String>)>,
    pub warnings: Vec<String>,
}

fn scheme_name(s: CertScheme) -> &'static str {
    match s {
        CertScheme::V1 => "v1",
        CertScheme::V2 => "v2",
        CertScheme::V3 => "v3",
        CertScheme::V31 => "v31",
        CertScheme::Lineage => "lineage",
    }
}

fn scheme_from(s: &str) -> Option<CertScheme> {
    Some(match s {
        "v1" => CertScheme::V1,
        "v2" => CertScheme::V2,
        "v3" => CertScheme::V3,
        "v31" => CertScheme::V31,
        "lineage" => CertScheme::Lineage,
        _ => return None,
    })
}

impl Fingerprint {
    pub fn from_info(info: &ApkInfo) -> Self {
        Self {
            package: info.package.clone(),
            version_code: info.version_code,
            version_name: info.version_name.clone(),
            components: info.components.clone(),
            meta_data: info
                .meta_data
                .iter()
                .map(|m| (m.name.clone(), m.value.clone()))
                .collect(),
            permissions: info.permissions.clone(),
            native_libs: info.native_libs.clone(),
            certificates: info
                .certificates
                .iter()
                .map(|c| {
                    (
                        c.sha256.clone(),
                        scheme_name(c.scheme).to_string(),
                        c.entry.clone(),
                    )
                })
                .collect(),
            warnings: info.warnings.clone(),
        }
    }

    pub fn certificates(&self) -> Vec<Certificate> {
        self.certificates
            .iter()
            .filter_map(|(sha256, scheme, entry)| {
                Some(Certificate {
                    sha256: sha256.clone(),
                    scheme: scheme_from(scheme)?,
                    entry: entry.clone(),
                })
            })
            .collect()
    }

    pub fn meta_data(&self) -> Vec<MetaData> {
        self.meta_data
            .iter()
            .map(|(name, value)| MetaData {
                name: name.clone(),
                value: value.clone(),
            })
            .collect()
    }
}

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

/// A file name from a serial (`127.0.0.1:5555` → `adb-127.0.0.1_5555.json`).
fn file_name(serial: &str) -> String {
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
    format!("adb-{safe}.json")
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
            path: dir.map(|d| d.join(file_name(serial))),
            serial: serial.to_string(),
            ..Cache::default()
        };
        if let Some(p) = &cache.path {
            if let Ok(text) = std::fs::read_to_string(p) {
                if let Ok(f) = serde_json::from_str::<File>(&text) {
                    if f.version == VERSION && f.serial == serial {
                        cache.old = f
                            .entries
                            .into_iter()
                            .map(|e| (e.key, e.fingerprint))
                            .collect();
                    }
                }
            }
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

    /// Writes the entries used or added in this scan (atomically). Errors are returned for a
    /// note; they never fail a scan.
    pub fn save(&self) -> std::io::Result<()> {
        let Some(path) = &self.path else {
            return Ok(());
        };
        let dir = path.parent().unwrap_or(Path::new("."));
        std::fs::create_dir_all(dir)?;
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
        let text = serde_json::to_string(&file).map_err(std::io::Error::other)?;
        let tmp = dir.join(format!(
            ".{}.{}.tmp",
            path.file_name().and_then(|n| n.to_str()).unwrap_or("cache"),
            std::process::id()
        ));
        std::fs::write(&tmp, text)?;
        std::fs::rename(&tmp, path)
    }
}
