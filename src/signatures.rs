//! The signature set: TOML files under `signatures/`, one family per file, compiled into the
//! binary, extendable with `--signatures DIR`.
//!
//! A file in `--signatures DIR` whose family id equals a built-in family's replaces that family;
//! other files add families. Validation happens at load time and every error names the file and
//! the signature id. Matching is exact or explicitly prefixed, never substring: see
//! [`crate::engine`]. The format is documented in `signatures/README.md`.

use crate::digest::{Hasher, Sha256};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

mod builtin {
    include!(concat!(env!("OUT_DIR"), "/builtin_signatures.rs"));
}

/// What a signature recognises.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// A specific app, by package / bundle id / App Store id (and its known signers).
    App,
    /// A signing key: catches renamed builds signed with it.
    Signer,
    /// Content markers of a code base: catches renamed or repackaged builds.
    Markers,
    /// An SDK embedded in someone else's app.
    Sdk,
    /// A browser-minted web app (Chrome WebAPK) for a site.
    Webapk,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    Info,
    Low,
    Medium,
    High,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Confidence {
    /// Stated by the vendor itself.
    Official,
    /// Several independent public sources agree.
    Verified,
    /// One public source only: the identification is less certain.
    SingleSource,
}

/// A family of signatures (one file).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Family {
    pub id: String,
    pub title: String,
    pub vendor: String,
    pub description: String,
    /// Where it came from: `builtin:tiktok.toml` or a path.
    pub origin: String,
}

/// One signature, validated.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Signature {
    pub id: String,
    pub family: String,
    pub kind: Kind,
    pub title: String,
    pub vendor: String,
    pub severity: Severity,
    pub confidence: Confidence,
    pub references: Vec<String>,
    pub note: Option<String>,
    pub packages: BTreeSet<String>,
    pub package_prefixes: BTreeSet<String>,
    pub signers_sha256: BTreeSet<Sha256>,
    pub components: BTreeSet<String>,
    pub component_prefixes: BTreeSet<String>,
    pub native_libs: BTreeSet<String>,
    pub webapk_hosts: BTreeSet<String>,
    pub bundle_ids: BTreeSet<String>,
    pub app_store_ids: BTreeSet<u64>,
    pub origin: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileDoc {
    family: FamilyDoc,
    #[serde(default)]
    signature: Vec<SignatureDoc>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FamilyDoc {
    id: String,
    title: String,
    #[serde(default)]
    vendor: String,
    #[serde(default)]
    description: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SignatureDoc {
    id: String,
    kind: Kind,
    title: String,
    severity: Severity,
    confidence: Confidence,
    #[serde(default)]
    references: Vec<String>,
    #[serde(default)]
    note: Option<String>,
    #[serde(default)]
    vendor: Option<String>,
    #[serde(default)]
    packages: Vec<String>,
    #[serde(default)]
    package_prefixes: Vec<String>,
    #[serde(default)]
    signers_sha256: Vec<String>,
    #[serde(default)]
    components: Vec<String>,
    #[serde(default)]
    component_prefixes: Vec<String>,
    #[serde(default)]
    native_libs: Vec<String>,
    #[serde(default)]
    webapk_hosts: Vec<String>,
    #[serde(default)]
    bundle_ids: Vec<String>,
    #[serde(default)]
    app_store_ids: Vec<u64>,
}

/// Why a signature set could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum SignatureError {
    #[error("{file}: {message}")]
    Parse { file: String, message: String },
    #[error("{file}: signature {id}: {message}")]
    Invalid {
        file: String,
        id: String,
        message: String,
    },
    #[error("{file}: family {id}: {message}")]
    Family {
        file: String,
        id: String,
        message: String,
    },
    #[error("cannot read signature directory {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("signature {id} is defined twice: in {first} and in {second}")]
    Duplicate {
        id: String,
        first: String,
        second: String,
    },
}

/// The loaded, validated signature set with lookup indexes.
#[derive(Debug, Clone)]
pub struct SignatureSet {
    families: BTreeMap<String, Family>,
    signatures: Vec<Signature>,
    /// sha256 over every file's name and bytes, in name order.
    sha256: Sha256,
    by_package: BTreeMap<String, Vec<usize>>,
    by_bundle: BTreeMap<String, Vec<usize>>,
    by_store_id: BTreeMap<u64, Vec<usize>>,
    by_signer: BTreeMap<String, Vec<usize>>,
}

impl SignatureSet {
    /// The built-in set.
    pub fn builtin() -> Result<Self, SignatureError> {
        Self::load(None)
    }

    /// The built-in set, with the families of `extra_dir` (if any) added or replacing built-ins.
    pub fn load(extra_dir: Option<&Path>) -> Result<Self, SignatureError> {
        let mut files: BTreeMap<String, (String, String)> = BTreeMap::new(); // family -> (origin, text)
        let mut parsed: Vec<(String, FileDoc, String)> = Vec::new();
        for (name, text) in builtin::BUILTIN {
            let origin = format!("builtin:{name}");
            parsed.push((
                origin,
                parse_file(&format!("builtin:{name}"), text)?,
                (*text).to_string(),
            ));
        }
        if let Some(dir) = extra_dir {
            let io = |source| SignatureError::Io {
                path: dir.to_path_buf(),
                source,
            };
            let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)
                .map_err(io)?
                .filter_map(Result::ok)
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|e| e == "toml"))
                .collect();
            paths.sort();
            for path in paths {
                let origin = path.display().to_string();
                let text = std::fs::read_to_string(&path).map_err(|source| SignatureError::Io {
                    path: path.clone(),
                    source,
                })?;
                parsed.push((origin.clone(), parse_file(&origin, &text)?, text));
            }
        }
        // Later files (user directory) replace earlier families with the same id.
        let mut docs: BTreeMap<String, (String, FileDoc)> = BTreeMap::new();
        for (origin, doc, text) in parsed {
            files.insert(doc.family.id.clone(), (origin.clone(), text));
            docs.insert(doc.family.id.clone(), (origin, doc));
        }
        let mut hasher = Hasher::new();
        for (family, (origin, text)) in &files {
            hasher.update(family.as_bytes());
            hasher.update([0]);
            hasher.update(origin.as_bytes());
            hasher.update([0]);
            hasher.update(text.as_bytes());
            hasher.update([0]);
        }
        let sha256 = hasher.finish();

        let mut families = BTreeMap::new();
        let mut signatures: Vec<Signature> = Vec::new();
        let mut seen: BTreeMap<String, String> = BTreeMap::new();
        for (_, (origin, doc)) in docs {
            let family = validate_family(&origin, doc.family)?;
            for sig in doc.signature {
                let sig = validate_signature(&origin, &family, sig)?;
                if let Some(first) = seen.insert(sig.id.clone(), origin.clone()) {
                    return Err(SignatureError::Duplicate {
                        id: sig.id,
                        first,
                        second: origin,
                    });
                }
                signatures.push(sig);
            }
            families.insert(family.id.clone(), family);
        }
        signatures.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(Self::index(families, signatures, sha256))
    }

    fn index(
        families: BTreeMap<String, Family>,
        signatures: Vec<Signature>,
        sha256: Sha256,
    ) -> Self {
        let mut set = Self {
            families,
            signatures,
            sha256,
            by_package: BTreeMap::new(),
            by_bundle: BTreeMap::new(),
            by_store_id: BTreeMap::new(),
            by_signer: BTreeMap::new(),
        };
        for (i, sig) in set.signatures.iter().enumerate() {
            for p in &sig.packages {
                set.by_package.entry(p.clone()).or_default().push(i);
            }
            for b in &sig.bundle_ids {
                set.by_bundle.entry(b.clone()).or_default().push(i);
            }
            for s in &sig.app_store_ids {
                set.by_store_id.entry(*s).or_default().push(i);
            }
            for s in &sig.signers_sha256 {
                set.by_signer.entry(s.to_string()).or_default().push(i);
            }
        }
        set
    }

    pub fn signatures(&self) -> &[Signature] {
        &self.signatures
    }

    pub fn families(&self) -> impl Iterator<Item = &Family> {
        self.families.values()
    }

    pub fn get(&self, id: &str) -> Option<&Signature> {
        self.signatures
            .binary_search_by(|s| s.id.as_str().cmp(id))
            .ok()
            .and_then(|i| self.signatures.get(i))
    }

    /// SHA-256 over the files the set was built from (lowercase hex).
    pub fn sha256(&self) -> &Sha256 {
        &self.sha256
    }

    /// A short version label: `appsweep-<crate version>+<first 12 hex of the sha256>`.
    pub fn version(&self) -> String {
        format!(
            "{}+{}",
            env!("CARGO_PKG_VERSION"),
            self.sha256.get(..12).unwrap_or(self.sha256.as_str())
        )
    }

    fn lookup<'a, K>(
        &'a self,
        map: &'a BTreeMap<K::Owned, Vec<usize>>,
        key: &K,
    ) -> impl Iterator<Item = &'a Signature> + 'a
    where
        K: Ord + ?Sized + ToOwned,
        K::Owned: Ord + std::borrow::Borrow<K>,
    {
        map.get(key)
            .into_iter()
            .flatten()
            .filter_map(|&i| self.signatures.get(i))
    }

    /// Signatures naming this exact Android package.
    pub fn by_package<'a>(&'a self, package: &str) -> impl Iterator<Item = &'a Signature> + 'a {
        self.lookup(&self.by_package, package)
    }

    /// Signatures naming this exact iOS bundle id.
    pub fn by_bundle_id<'a>(&'a self, bundle: &str) -> impl Iterator<Item = &'a Signature> + 'a {
        self.lookup(&self.by_bundle, bundle)
    }

    /// Signatures naming this App Store id.
    pub fn by_app_store_id(&self, id: u64) -> impl Iterator<Item = &Signature> + '_ {
        self.lookup(&self.by_store_id, &id)
    }

    /// Signatures listing this certificate digest.
    pub fn by_signer<'a>(&'a self, sha256: &str) -> impl Iterator<Item = &'a Signature> + 'a {
        self.lookup(&self.by_signer, sha256)
    }
}

fn parse_file(origin: &str, text: &str) -> Result<FileDoc, SignatureError> {
    toml::from_str(text).map_err(|e| SignatureError::Parse {
        file: origin.to_string(),
        message: e.to_string().trim().replace('\n', " "),
    })
}

fn is_ident(s: &str, extra: &[char]) -> bool {
    !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || extra.contains(&c))
}

fn validate_family(origin: &str, doc: FamilyDoc) -> Result<Family, SignatureError> {
    let bad = |message: &str| SignatureError::Family {
        file: origin.to_string(),
        id: doc.id.clone(),
        message: message.to_string(),
    };
    if !is_ident(&doc.id, &[]) {
        return Err(bad("family id must be lowercase letters, digits and '-'"));
    }
    if doc.id == "policy" {
        return Err(bad("family id 'policy' is reserved for policy findings"));
    }
    if doc.title.trim().is_empty() {
        return Err(bad("family title is empty"));
    }
    Ok(Family {
        id: doc.id,
        title: doc.title,
        vendor: doc.vendor,
        description: doc.description,
        origin: origin.to_string(),
    })
}

fn is_package_name(s: &str) -> bool {
    !s.is_empty()
        && s.split('.').all(|part| {
            !part.is_empty()
                && part
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        })
}

fn validate_signature(
    origin: &str,
    family: &Family,
    doc: SignatureDoc,
) -> Result<Signature, SignatureError> {
    let bad = |message: String| SignatureError::Invalid {
        file: origin.to_string(),
        id: doc.id.clone(),
        message,
    };
    if !is_ident(&doc.id, &['.', '_']) || !doc.id.starts_with(&format!("{}.", family.id)) {
        return Err(bad(format!(
            "id must be lowercase and start with the family id '{}.'",
            family.id
        )));
    }
    if doc.title.trim().is_empty() {
        return Err(bad("title is empty".into()));
    }
    if doc.references.iter().all(|r| r.trim().is_empty()) {
        return Err(bad(
            "no references: every signature says where its facts come from".into(),
        ));
    }
    let mut signers = BTreeSet::new();
    for s in &doc.signers_sha256 {
        let Some(d) = Sha256::parse(s) else {
            return Err(bad(format!(
                "signers_sha256 entry {s:?} is not 64 lowercase hex digits"
            )));
        };
        signers.insert(d);
    }
    for p in doc.packages.iter().chain(&doc.bundle_ids) {
        if !is_package_name(p) {
            return Err(bad(format!("{p:?} is not a package name or bundle id")));
        }
    }
    for p in doc.package_prefixes.iter().chain(&doc.component_prefixes) {
        if !p.ends_with('.') || !is_package_name(p.trim_end_matches('.')) {
            return Err(bad(format!(
                "prefix {p:?} must be a dotted name ending with '.' (prefixes are explicit)"
            )));
        }
    }
    for c in &doc.components {
        let body = c
            .strip_prefix("{package}.")
            .or_else(|| c.strip_prefix("authority:"))
            .unwrap_or(c);
        if !is_package_name(body) {
            return Err(bad(format!("component {c:?} is not a class name")));
        }
    }
    for l in &doc.native_libs {
        if !l.ends_with(".so") || l.contains('/') {
            return Err(bad(format!(
                "native library {l:?} must be a file name ending in .so"
            )));
        }
    }
    for h in &doc.webapk_hosts {
        if !is_package_name(h) || h.contains('_') {
            return Err(bad(format!("webapk host {h:?} is not a host name")));
        }
    }
    let identity = !doc.packages.is_empty()
        || !doc.bundle_ids.is_empty()
        || !doc.app_store_ids.is_empty()
        || !doc.package_prefixes.is_empty();
    let markers = !doc.components.is_empty()
        || !doc.component_prefixes.is_empty()
        || !doc.native_libs.is_empty();
    let ok = match doc.kind {
        Kind::App => identity,
        Kind::Signer => !doc.signers_sha256.is_empty() && !identity && !markers,
        Kind::Markers | Kind::Sdk => {
            markers && doc.packages.is_empty() && doc.bundle_ids.is_empty()
        }
        Kind::Webapk => !doc.package_prefixes.is_empty() && !doc.webapk_hosts.is_empty(),
    };
    if !ok {
        return Err(bad(format!(
            "matchers do not fit kind {:?}: app needs packages/bundle_ids/app_store_ids; signer \
             needs only signers_sha256; markers/sdk need components, component_prefixes or \
             native_libs; webapk needs package_prefixes and webapk_hosts",
            doc.kind
        )));
    }
    let set = |v: Vec<String>| v.into_iter().collect::<BTreeSet<_>>();
    Ok(Signature {
        family: family.id.clone(),
        kind: doc.kind,
        title: doc.title,
        vendor: doc.vendor.unwrap_or_else(|| family.vendor.clone()),
        severity: doc.severity,
        confidence: doc.confidence,
        references: doc.references,
        note: doc.note,
        packages: set(doc.packages),
        package_prefixes: set(doc.package_prefixes),
        signers_sha256: signers,
        components: set(doc.components),
        component_prefixes: set(doc.component_prefixes),
        native_libs: set(doc.native_libs),
        webapk_hosts: set(doc.webapk_hosts),
        bundle_ids: set(doc.bundle_ids),
        app_store_ids: doc.app_store_ids.into_iter().collect(),
        origin: origin.to_string(),
        id: doc.id,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load_text(text: &str) -> Result<SignatureSet, SignatureError> {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("x.toml"), text).unwrap();
        SignatureSet::load(Some(dir.path()))
    }

    const GOOD: &str = r#"
[family]
id = "testfam"
title = "Test"
[[signature]]
id = "testfam.app"
kind = "app"
title = "App"
severity = "high"
confidence = "verified"
references = ["test"]
packages = ["com.example.app"]
signers_sha256 = ["0000000000000000000000000000000000000000000000000000000000000001"]
"#;

    #[test]
    fn builtin_set_loads_and_validates() {
        let set = SignatureSet::builtin().unwrap();
        assert_eq!(set.sha256().len(), 64);
        for sig in set.signatures() {
            assert!(!sig.references.is_empty(), "{} has no references", sig.id);
        }
    }

    #[test]
    fn user_directory_adds_a_family() {
        let set = load_text(GOOD).unwrap();
        let sig = set.get("testfam.app").unwrap();
        assert_eq!(sig.kind, Kind::App);
        assert_eq!(set.by_package("com.example.app").count(), 1);
        assert_eq!(
            set.by_package("com.example").count(),
            0,
            "no prefix or substring lookups"
        );
    }

    #[test]
    fn errors_name_file_and_id() {
        let bad = GOOD.replace(
            "0000000000000000000000000000000000000000000000000000000000000001",
            "ABC",
        );
        let err = load_text(&bad).unwrap_err().to_string();
        assert!(
            err.contains("x.toml") && err.contains("testfam.app") && err.contains("hex"),
            "{err}"
        );

        let bad = GOOD.replace("references = [\"test\"]", "");
        let err = load_text(&bad).unwrap_err().to_string();
        assert!(
            err.contains("testfam.app") && err.contains("references"),
            "{err}"
        );

        let bad = GOOD.replace("id = \"testfam.app\"", "id = \"other.app\"");
        let err = load_text(&bad).unwrap_err().to_string();
        assert!(
            err.contains("other.app") && err.contains("family id"),
            "{err}"
        );

        let bad = GOOD.replace("packages = [\"com.example.app\"]", "");
        let err = load_text(&bad).unwrap_err().to_string();
        assert!(err.contains("matchers"), "{err}");

        let bad = GOOD.replace("kind = \"app\"", "kind = \"app\"\nunknown_key = 1");
        let err = load_text(&bad).unwrap_err().to_string();
        assert!(err.contains("x.toml") && err.contains("unknown"), "{err}");
    }

    #[test]
    fn duplicate_ids_are_rejected() {
        let dup = format!("{GOOD}\n{}", &GOOD[GOOD.find("[[signature]]").unwrap()..]);
        let err = load_text(&dup).unwrap_err().to_string();
        assert!(
            err.contains("testfam.app") && err.contains("twice"),
            "{err}"
        );
    }

    #[test]
    fn prefixes_must_be_explicit() {
        let bad = GOOD.replace(
            "packages = [\"com.example.app\"]",
            "package_prefixes = [\"com.example\"]",
        );
        let err = load_text(&bad).unwrap_err().to_string();
        assert!(err.contains("prefix"), "{err}");
    }
}
