//! Policies: which signatures make a device a violation and which are notices, and allow-list mode.
//!
//! ```toml
//! name = "agency-2024"
//! mode = "denylist"            # or "allowlist": every user-installed app not approved is a finding
//!
//! [dispositions]               # family id or signature id → violation | notice | ignore
//! tiktok = "violation"
//! bytedance = "violation"      # e.g. OMB M-23-13: any ByteDance successor app
//! "bytedance-sdk.pangle" = "ignore"
//!
//! [allowlist]                  # only read in allowlist mode
//! packages = ["com.microsoft.teams"]
//! package_prefixes = ["com.example.agency."]
//! bundle_ids = ["com.microsoft.skype.teams"]
//! ```
//!
//! A signature id entry wins over its family's entry; a family not named keeps the default.

use crate::signatures::Signature;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// What a finding means for the device.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Disposition {
    /// Prohibited: the device is in violation.
    Violation,
    /// Reported, but does not make the device a violation.
    Notice,
    /// Not reported.
    Ignore,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// Only apps matching signatures are findings.
    #[default]
    Denylist,
    /// Also: every user-installed app not on the approved list is a violation.
    Allowlist,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AllowList {
    #[serde(default)]
    pub packages: BTreeSet<String>,
    #[serde(default)]
    pub package_prefixes: BTreeSet<String>,
    #[serde(default)]
    pub bundle_ids: BTreeSet<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PolicyDoc {
    name: String,
    #[serde(default)]
    mode: Mode,
    #[serde(default)]
    dispositions: BTreeMap<String, Disposition>,
    #[serde(default)]
    allowlist: Option<AllowList>,
}

/// A validated policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    pub name: String,
    pub mode: Mode,
    dispositions: BTreeMap<String, Disposition>,
    pub allowlist: AllowList,
}

#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    #[error("cannot read policy {path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("policy {path}: {message}")]
    Invalid { path: String, message: String },
}

impl Default for Policy {
    fn default() -> Self {
        Self::builtin()
    }
}

impl Policy {
    /// The default policy: the TikTok family (Douyin and Lite builds included) is a violation;
    /// other ByteDance apps and embedded ByteDance SDKs are notices.
    pub fn builtin() -> Self {
        let dispositions = [
            ("tiktok", Disposition::Violation),
            ("douyin", Disposition::Violation),
            ("bytedance", Disposition::Notice),
            ("bytedance-sdk", Disposition::Notice),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
        Self {
            name: "default".into(),
            mode: Mode::Denylist,
            dispositions,
            allowlist: AllowList::default(),
        }
    }

    /// Reads a policy file. Dispositions it does not name keep the default policy's.
    /// `known_ids` are the family and signature ids of the signature set, to catch typos.
    pub fn load(path: &Path, known_ids: &BTreeSet<String>) -> Result<Self, PolicyError> {
        let shown = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| PolicyError::Io {
            path: shown.clone(),
            source,
        })?;
        Self::parse(&shown, &text, known_ids)
    }

    pub fn parse(
        shown: &str,
        text: &str,
        known_ids: &BTreeSet<String>,
    ) -> Result<Self, PolicyError> {
        let invalid = |message: String| PolicyError::Invalid {
            path: shown.to_string(),
            message,
        };
        let doc: PolicyDoc =
            toml::from_str(text).map_err(|e| invalid(e.to_string().trim().replace('\n', " ")))?;
        if doc.name.trim().is_empty() {
            return Err(invalid("name is empty".into()));
        }
        for key in doc.dispositions.keys() {
            if !known_ids.contains(key) {
                return Err(invalid(format!(
                    "dispositions names {key:?}, which is neither a family nor a signature id \
                     (see `appsweep signatures list`)"
                )));
            }
        }
        if doc.mode == Mode::Allowlist && doc.allowlist.is_none() {
            return Err(invalid(
                "mode = \"allowlist\" needs an [allowlist] table".into(),
            ));
        }
        let allowlist = doc.allowlist.unwrap_or_default();
        for p in &allowlist.package_prefixes {
            if !p.ends_with('.') {
                return Err(invalid(format!("allowlist prefix {p:?} must end with '.'")));
            }
        }
        let mut dispositions = Self::builtin().dispositions;
        dispositions.extend(doc.dispositions);
        Ok(Self {
            name: doc.name,
            mode: doc.mode,
            dispositions,
            allowlist,
        })
    }

    /// The disposition of a signature: its own entry, else its family's, else notice.
    pub fn disposition(&self, sig: &Signature) -> Disposition {
        self.dispositions
            .get(&sig.id)
            .or_else(|| self.dispositions.get(&sig.family))
            .copied()
            .unwrap_or(Disposition::Notice)
    }

    /// Whether an app id is approved (allow-list mode).
    pub fn approves(&self, app_id: &str) -> bool {
        self.allowlist.packages.contains(app_id)
            || self.allowlist.bundle_ids.contains(app_id)
            || self
                .allowlist
                .package_prefixes
                .iter()
                .any(|p| app_id.starts_with(p.as_str()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn known() -> BTreeSet<String> {
        ["tiktok", "bytedance", "bytedance.capcut"]
            .iter()
            .map(|s| s.to_string())
            .collect()
    }

    #[test]
    fn file_overrides_family_and_signature_entries_win() {
        let p = Policy::parse(
            "p.toml",
            "name = \"strict\"\n[dispositions]\nbytedance = \"violation\"\n\"bytedance.capcut\" = \"ignore\"\n",
            &known(),
        )
        .unwrap();
        assert_eq!(p.dispositions.get("tiktok"), Some(&Disposition::Violation));
        assert_eq!(
            p.dispositions.get("bytedance"),
            Some(&Disposition::Violation)
        );
        assert_eq!(
            p.dispositions.get("bytedance.capcut"),
            Some(&Disposition::Ignore)
        );
    }

    #[test]
    fn unknown_ids_and_bad_allowlists_are_errors() {
        let e = Policy::parse(
            "p.toml",
            "name = \"x\"\n[dispositions]\ntiktk = \"violation\"\n",
            &known(),
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("p.toml") && e.contains("tiktk"), "{e}");
        let e = Policy::parse("p.toml", "name = \"x\"\nmode = \"allowlist\"\n", &known())
            .unwrap_err()
            .to_string();
        assert!(e.contains("[allowlist]"), "{e}");
    }

    #[test]
    fn allowlist_matches_exactly_or_by_explicit_prefix() {
        let p = Policy::parse(
            "p.toml",
            "name = \"x\"\nmode = \"allowlist\"\n[allowlist]\npackages = [\"com.a\"]\npackage_prefixes = [\"org.agency.\"]\n",
            &known(),
        )
        .unwrap();
        assert!(p.approves("com.a"));
        assert!(!p.approves("com.ab"));
        assert!(p.approves("org.agency.mail"));
        assert!(!p.approves("org.agencyx"));
    }
}
