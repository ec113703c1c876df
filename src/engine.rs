//! Matching: inventory × signatures × policy → findings. Pure: no I/O, no clock.
//!
//! Per app, in this order (an app gets at most one finding per signature, and SDK findings only
//! when nothing stronger matched):
//! 1. **Identity**: the exact package / bundle id / App Store id names an `app` signature. If the
//!    signature lists its publisher's signers and the app's certificates are known:
//!    a shared certificate is an *official build*; none shared is a *modified build* (still the
//!    prohibited app, and the finding says so).
//! 2. **Renamed or repackaged builds** under an unknown package: a certificate listed by a
//!    `signer` signature, or content markers (manifest components, native libraries) of a
//!    `markers` signature. A certificate shared by several apps (ByteDance's corporate key) is
//!    matched by its `signer` signature; the package decides which app it is when it is known.
//! 3. **Web apps**: a Chrome WebAPK (`org.chromium.webapk.*`) whose start URL, scope or manifest
//!    URL is on a listed host.
//! 4. **Embedded SDKs** (`sdk` signatures): a notice about a third-party app, never "TikTok".
//! 5. **Allow-list mode**: every user-installed app not approved is a violation.
//!
//! Matching is exact, or by an explicit prefix ending in `.`; never by substring.

use crate::digest::Hasher;
use crate::model::{AppRecord, Inventory, Platform, SeenIn, Sha256};
use crate::policy::{Disposition, Mode, Policy};
use crate::signatures::{Confidence, Kind, Severity, Signature, SignatureSet};
use serde::Serialize;
use std::collections::BTreeSet;

/// How a finding was established.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum MatchCase {
    /// Known identifier and a known publisher certificate.
    OfficialBuild,
    /// Known identifier, certificates known, none is the publisher's.
    ModifiedBuild,
    /// Known identifier; the publisher's certificates are not known (or the app's are not).
    Identifier,
    /// Unknown package, but a known certificate or known content markers.
    RenamedBuild,
    /// A browser-minted web app for a listed site.
    WebApp,
    /// A third-party app embedding an SDK.
    SdkEmbedded,
    /// Allow-list mode: not on the approved list.
    NotApproved,
}

/// What a piece of evidence is. Serialised (and ordered) by its name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EvidenceKind {
    /// The Android package name named by a signature.
    PackageId,
    /// The iOS bundle id named by a signature.
    BundleId,
    /// The App Store id named by a signature.
    AppStoreId,
    /// A certificate listed by the signature.
    SignerSha256,
    /// A certificate of a known app that its publisher's list does not hold.
    UnknownSigner,
    /// A manifest component listed as a content marker.
    Component,
    /// A native library listed as a content marker.
    NativeLib,
    /// A web app's start URL, scope or manifest URL on a listed host.
    WebapkUrl,
    /// Where the app was seen, when only in places that do not prove an installed app.
    WeakEvidence,
    /// Allow-list mode: the app is not on the approved list.
    NotApproved,
    /// The artifact's SHA-256, when hashed.
    FileSha256,
}

impl EvidenceKind {
    pub fn as_str(self) -> &'static str {
        match self {
            EvidenceKind::PackageId => "package_id",
            EvidenceKind::BundleId => "bundle_id",
            EvidenceKind::AppStoreId => "app_store_id",
            EvidenceKind::SignerSha256 => "signer_sha256",
            EvidenceKind::UnknownSigner => "unknown_signer",
            EvidenceKind::Component => "component",
            EvidenceKind::NativeLib => "native_lib",
            EvidenceKind::WebapkUrl => "webapk_url",
            EvidenceKind::WeakEvidence => "weak_evidence",
            EvidenceKind::NotApproved => "not_approved",
            EvidenceKind::FileSha256 => "file_sha256",
        }
    }
}

crate::closed_set::text_like!(EvidenceKind);

/// One piece of evidence.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Evidence {
    pub kind: EvidenceKind,
    pub value: String,
}

impl Evidence {
    fn new(kind: EvidenceKind, value: impl ToString) -> Self {
        Self {
            kind,
            value: value.to_string(),
        }
    }
}

/// The app a finding is about.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct FindingApp {
    pub id: String,
    pub version: Option<String>,
    pub user: Option<u32>,
    pub path: Option<String>,
}

/// One finding.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Finding {
    /// Stable across re-scans: hash of device id, signature id, app id and user.
    pub id: String,
    pub signature: String,
    pub title: String,
    pub family: String,
    pub severity: Severity,
    pub confidence: Option<Confidence>,
    pub disposition: Disposition,
    #[serde(rename = "match")]
    pub case: MatchCase,
    /// One sentence for people.
    pub summary: String,
    pub app: FindingApp,
    pub evidence: Vec<Evidence>,
    pub references: Vec<String>,
}

/// The stable id of a finding.
pub fn finding_id(device_id: &str, signature: &str, app_id: &str, user: Option<u32>) -> String {
    let mut h = Hasher::new();
    for part in [device_id, signature, app_id] {
        h.update(part.as_bytes());
        h.update([0]);
    }
    h.update(user.map(|u| u.to_string()).unwrap_or_default().as_bytes());
    let digest = h.finish();
    digest.get(..32).unwrap_or(digest.as_str()).to_string()
}

const MAX_MARKER_EVIDENCE: usize = 8;
const WEBAPK_URL_KEYS: [&str; 3] = [
    "org.chromium.webapk.shell_apk.startUrl",
    "org.chromium.webapk.shell_apk.scope",
    "org.chromium.webapk.shell_apk.webManifestUrl",
];

/// Matches every app of the inventory. Findings are sorted by app, user and signature.
pub fn evaluate(inv: &Inventory, set: &SignatureSet, policy: &Policy) -> Vec<Finding> {
    let mut findings: Vec<Finding> = inv
        .apps
        .iter()
        .flat_map(|app| {
            let ios = match inv.device.platform {
                Platform::Ios => true,
                Platform::Android => false,
                Platform::Files => app.seen_in.contains(&SeenIn::Ipa),
            };
            evaluate_app(&inv.device.id, app, ios, set, policy)
        })
        .collect();
    // A total order (app, user, path, signature, then everything else): output never depends
    // on the order apps were listed in.
    findings.sort_by(|a, b| {
        (&a.app.id, a.app.user, &a.app.path, &a.signature)
            .cmp(&(&b.app.id, b.app.user, &b.app.path, &b.signature))
            .then_with(|| a.cmp(b))
    });
    findings.dedup();
    findings
}

struct Candidate<'a> {
    sig: &'a Signature,
    case: MatchCase,
    evidence: Vec<Evidence>,
}

fn identity_matches<'a>(app: &AppRecord, ios: bool, set: &'a SignatureSet) -> Vec<Candidate<'a>> {
    let mut out: Vec<Candidate<'a>> = Vec::new();
    let mut push = |sig: &'a Signature, ev: Evidence| {
        if let Some(c) = out.iter_mut().find(|c| c.sig.id == sig.id) {
            c.evidence.push(ev);
        } else {
            out.push(Candidate {
                sig,
                case: MatchCase::Identifier,
                evidence: vec![ev],
            });
        }
    };
    if ios {
        for sig in set.by_bundle_id(&app.id).filter(|s| s.kind == Kind::App) {
            push(sig, Evidence::new(EvidenceKind::BundleId, &app.id));
        }
    } else {
        for sig in set.by_package(&app.id).filter(|s| s.kind == Kind::App) {
            push(sig, Evidence::new(EvidenceKind::PackageId, &app.id));
        }
    }
    if let Some(store_id) = app.app_store_id {
        for sig in set
            .by_app_store_id(store_id)
            .filter(|s| s.kind == Kind::App)
        {
            push(
                sig,
                Evidence::new(EvidenceKind::AppStoreId, store_id.to_string()),
            );
        }
    }
    for sig in set
        .signatures()
        .iter()
        .filter(|s| s.kind == Kind::App && !ios)
    {
        if sig
            .package_prefixes
            .iter()
            .any(|p| app.id.starts_with(p.as_str()))
        {
            push(sig, Evidence::new(EvidenceKind::PackageId, &app.id));
        }
    }
    for c in &mut out {
        if c.sig.signers_sha256.is_empty() || app.signers_sha256.is_empty() {
            continue;
        }
        let shared: Vec<&Sha256> = app
            .signers_sha256
            .iter()
            .filter(|s| c.sig.signers_sha256.contains(*s))
            .collect();
        if shared.is_empty() {
            c.case = MatchCase::ModifiedBuild;
            c.evidence.extend(
                app.signers_sha256
                    .iter()
                    .map(|s| Evidence::new(EvidenceKind::UnknownSigner, s)),
            );
        } else {
            c.case = MatchCase::OfficialBuild;
            c.evidence.extend(
                shared
                    .into_iter()
                    .map(|s| Evidence::new(EvidenceKind::SignerSha256, s)),
            );
        }
    }
    out
}

fn marker_evidence(app: &AppRecord, sig: &Signature) -> Vec<Evidence> {
    let mut ev = BTreeSet::new();
    for c in &app.components {
        let relative = c
            .strip_prefix(app.id.as_str())
            .and_then(|rest| rest.strip_prefix('.'))
            .map(|rest| format!("{{package}}.{rest}"));
        if sig.components.contains(c)
            || relative.is_some_and(|r| sig.components.contains(&r))
            || sig
                .component_prefixes
                .iter()
                .any(|p| c.starts_with(p.as_str()))
        {
            ev.insert(Evidence::new(EvidenceKind::Component, c));
        }
    }
    for l in &app.native_libs {
        if sig.native_libs.contains(l) {
            ev.insert(Evidence::new(EvidenceKind::NativeLib, l));
        }
    }
    ev.into_iter().take(MAX_MARKER_EVIDENCE).collect()
}

fn host_of(url: &str) -> Option<&str> {
    let rest = url.split_once("://").map(|(_, r)| r)?;
    let authority = rest.split(['/', '?', '#']).next()?;
    let host = authority.rsplit('@').next()?;
    Some(host.split(':').next().unwrap_or(host))
}

fn webapk_evidence(app: &AppRecord, sig: &Signature) -> Vec<Evidence> {
    if !sig
        .package_prefixes
        .iter()
        .any(|p| app.id.starts_with(p.as_str()))
    {
        return Vec::new();
    }
    app.meta_data
        .iter()
        .filter(|m| WEBAPK_URL_KEYS.contains(&m.name.as_str()))
        .filter(|m| {
            host_of(&m.value).is_some_and(|h| {
                let h = h.to_ascii_lowercase();
                sig.webapk_hosts
                    .iter()
                    .any(|w| h == *w || h.ends_with(&format!(".{w}")))
            })
        })
        .map(|m| Evidence::new(EvidenceKind::WebapkUrl, &m.value))
        .collect()
}

fn other_matches<'a>(app: &AppRecord, set: &'a SignatureSet) -> Vec<Candidate<'a>> {
    let mut out = Vec::new();
    let mut signer_sigs: Vec<&Signature> = app
        .signers_sha256
        .iter()
        .flat_map(|s| set.by_signer(s))
        .filter(|s| s.kind == Kind::Signer)
        .collect();
    signer_sigs.sort_by(|a, b| a.id.cmp(&b.id));
    signer_sigs.dedup_by(|a, b| a.id == b.id);
    for sig in signer_sigs {
        let evidence = app
            .signers_sha256
            .iter()
            .filter(|s| sig.signers_sha256.contains(*s))
            .map(|s| Evidence::new(EvidenceKind::SignerSha256, s))
            .collect();
        out.push(Candidate {
            sig,
            case: MatchCase::RenamedBuild,
            evidence,
        });
    }
    for sig in set.signatures() {
        let (case, evidence) = match sig.kind {
            Kind::Markers => (MatchCase::RenamedBuild, marker_evidence(app, sig)),
            Kind::Webapk => (MatchCase::WebApp, webapk_evidence(app, sig)),
            _ => continue,
        };
        if !evidence.is_empty() {
            out.push(Candidate {
                sig,
                case,
                evidence,
            });
        }
    }
    out
}

fn sdk_matches<'a>(app: &AppRecord, set: &'a SignatureSet) -> Vec<Candidate<'a>> {
    set.signatures()
        .iter()
        .filter(|s| s.kind == Kind::Sdk)
        .filter_map(|sig| {
            let evidence = marker_evidence(app, sig);
            (!evidence.is_empty()).then_some(Candidate {
                sig,
                case: MatchCase::SdkEmbedded,
                evidence,
            })
        })
        .collect()
}

fn describe(app: &AppRecord) -> String {
    match app.user {
        Some(u) => format!("{} (user {u})", app.id),
        None => app.id.clone(),
    }
}

fn summary(case: MatchCase, sig: &Signature, app: &AppRecord) -> String {
    let who = describe(app);
    match case {
        MatchCase::OfficialBuild => format!("{} is installed: {who}, signed with the publisher's certificate", sig.title),
        MatchCase::ModifiedBuild => format!(
            "{} is installed as a modified build: {who} is not signed with the publisher's certificate",
            sig.title
        ),
        MatchCase::Identifier => format!("{} is present: {who}", sig.title),
        MatchCase::RenamedBuild => format!("{}: renamed or repackaged build found as {who}", sig.title),
        MatchCase::WebApp => format!("{}: web app installed as {who}", sig.title),
        MatchCase::SdkEmbedded => format!("{who}: {}", sig.title),
        MatchCase::NotApproved => format!("{who} is not on the approved app list"),
    }
}

fn evaluate_app(
    device_id: &str,
    app: &AppRecord,
    ios: bool,
    set: &SignatureSet,
    policy: &Policy,
) -> Vec<Finding> {
    let mut candidates = identity_matches(app, ios, set);
    if candidates.is_empty() {
        candidates = other_matches(app, set);
    }
    let strong = candidates
        .iter()
        .any(|c| policy.disposition(c.sig) != Disposition::Ignore);
    if !strong {
        candidates.extend(sdk_matches(app, set));
    }
    let app_ref = FindingApp {
        id: app.id.clone(),
        version: app.version.clone(),
        user: app.user,
        path: app.path.clone(),
    };
    let mut findings: Vec<Finding> = candidates
        .into_iter()
        .filter_map(|c| {
            let mut disposition = policy.disposition(c.sig);
            if disposition == Disposition::Ignore {
                return None;
            }
            let mut evidence = c.evidence;
            if !app.installed {
                // An app-group or plugin container, an uninstalled package: not proof of an
                // installed app. Reported, but it does not make the device a violation.
                disposition = Disposition::Notice;
                evidence.push(Evidence::new(
                    EvidenceKind::WeakEvidence,
                    format!("seen only in: {}", app.seen_in.join(", ")),
                ));
            }
            if let Some(h) = &app.file_sha256 {
                evidence.push(Evidence::new(EvidenceKind::FileSha256, h));
            }
            evidence.sort();
            evidence.dedup();
            Some(Finding {
                id: finding_id(device_id, &c.sig.id, &app.id, app.user),
                signature: c.sig.id.clone(),
                title: c.sig.title.clone(),
                family: c.sig.family.clone(),
                severity: c.sig.severity,
                confidence: Some(c.sig.confidence),
                disposition,
                case: c.case,
                summary: summary(c.case, c.sig, app),
                app: app_ref.clone(),
                evidence,
                references: c.sig.references.clone(),
            })
        })
        .collect();
    if policy.mode == Mode::Allowlist
        && app.installed
        && !app.system
        && !policy.approves(&app.id)
        && !findings
            .iter()
            .any(|f| f.disposition == Disposition::Violation)
    {
        findings.push(Finding {
            id: finding_id(device_id, "policy.not-approved", &app.id, app.user),
            signature: "policy.not-approved".into(),
            title: "App not on the approved list".into(),
            family: "policy".into(),
            severity: Severity::Medium,
            confidence: None,
            disposition: Disposition::Violation,
            case: MatchCase::NotApproved,
            summary: summary(MatchCase::NotApproved, &dummy_sig(), app),
            app: app_ref,
            evidence: vec![Evidence::new(EvidenceKind::NotApproved, &app.id)],
            references: vec![format!("policy {}", policy.name)],
        });
    }
    findings
}

fn dummy_sig() -> Signature {
    Signature {
        id: "policy.not-approved".into(),
        family: "policy".into(),
        kind: Kind::App,
        title: "App not on the approved list".into(),
        vendor: String::new(),
        severity: Severity::Medium,
        confidence: Confidence::Verified,
        references: Vec::new(),
        note: None,
        packages: BTreeSet::new(),
        package_prefixes: BTreeSet::new(),
        signers_sha256: BTreeSet::new(),
        components: BTreeSet::new(),
        component_prefixes: BTreeSet::new(),
        native_libs: BTreeSet::new(),
        webapk_hosts: BTreeSet::new(),
        bundle_ids: BTreeSet::new(),
        app_store_ids: BTreeSet::new(),
        origin: String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{CertScheme, Certificate, DeviceInfo, MetaData, Platform, SourceKind};
    use proptest::prelude::*;

    const TIKTOK_KEY: &str = "9041803e91bcb814b4b4399fb5c85a91640b755e5e8ba76813814bf4cf2ab5ba";
    const BD_KEY: &str = "d7811ec4166fea6cc720ba66699dc84b584ac9e6986613a76d4e43d8cbe32b27";
    const OTHER_KEY: &str = "1111111111111111111111111111111111111111111111111111111111111111";

    /// A small signature set with the same shapes as the built-in one, so these tests do not
    /// depend on the data files.
    const SET: &str = r#"
[family]
id = "tiktok"
title = "TikTok"
vendor = "ByteDance"
[[signature]]
id = "tiktok.global"
kind = "app"
title = "TikTok"
severity = "high"
confidence = "official"
references = ["S1"]
packages = ["com.zhiliaoapp.musically"]
bundle_ids = ["com.zhiliaoapp.musically"]
app_store_ids = [835599320]
signers_sha256 = ["9041803e91bcb814b4b4399fb5c85a91640b755e5e8ba76813814bf4cf2ab5ba"]
[[signature]]
id = "tiktok.trill"
kind = "app"
title = "TikTok (trill build)"
severity = "high"
confidence = "official"
references = ["S1"]
packages = ["com.ss.android.ugc.trill"]
signers_sha256 = ["d7811ec4166fea6cc720ba66699dc84b584ac9e6986613a76d4e43d8cbe32b27"]
[[signature]]
id = "tiktok.signer"
kind = "signer"
title = "TikTok signing certificate"
severity = "high"
confidence = "official"
references = ["S1"]
signers_sha256 = ["9041803e91bcb814b4b4399fb5c85a91640b755e5e8ba76813814bf4cf2ab5ba"]
[[signature]]
id = "tiktok.bytedance-key"
kind = "signer"
title = "Official ByteDance build"
severity = "high"
confidence = "official"
references = ["S1"]
signers_sha256 = ["d7811ec4166fea6cc720ba66699dc84b584ac9e6986613a76d4e43d8cbe32b27"]
[[signature]]
id = "tiktok.repackaged"
kind = "markers"
title = "TikTok (repackaged)"
severity = "high"
confidence = "official"
references = ["S1"]
components = ["com.ss.android.ugc.aweme.share.SystemShareActivity", "{package}.openauthorize.AwemeAuthorizedActivity"]
[[signature]]
id = "tiktok.webapk"
kind = "webapk"
title = "TikTok web app"
severity = "medium"
confidence = "verified"
references = ["S17"]
package_prefixes = ["org.chromium.webapk."]
webapk_hosts = ["tiktok.com"]
"#;

    const SDK: &str = r#"
[family]
id = "bytedance-sdk"
title = "ByteDance SDKs"
[[signature]]
id = "bytedance-sdk.pangle"
kind = "sdk"
title = "Embeds the Pangle ads SDK"
severity = "low"
confidence = "verified"
references = ["S13"]
component_prefixes = ["com.bytedance.sdk.openadsdk."]
native_libs = ["libpangleflipped.so"]
"#;

    fn set() -> SignatureSet {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("tiktok.toml"), SET).unwrap();
        std::fs::write(dir.path().join("bytedance-sdk.toml"), SDK).unwrap();
        SignatureSet::load(Some(dir.path())).unwrap()
    }

    fn inv(apps: Vec<AppRecord>) -> Inventory {
        let mut inv = Inventory::new(DeviceInfo::new(
            Platform::Android,
            SourceKind::Adb,
            "SERIAL1",
        ));
        inv.apps = apps;
        inv
    }

    fn signed(id: &str, key: &str) -> AppRecord {
        let mut a = AppRecord::new(id);
        a.add_certificates([Certificate {
            sha256: Sha256::parse(key).unwrap(),
            scheme: CertScheme::V2,
            entry: None,
        }]);
        a
    }

    fn only(findings: &[Finding]) -> &Finding {
        assert_eq!(findings.len(), 1, "{findings:#?}");
        &findings[0]
    }

    #[test]
    fn official_build_package_and_signer() {
        let f = evaluate(
            &inv(vec![signed("com.zhiliaoapp.musically", TIKTOK_KEY)]),
            &set(),
            &Policy::builtin(),
        );
        let f = only(&f);
        assert_eq!(
            (f.signature.as_str(), f.case, f.disposition),
            (
                "tiktok.global",
                MatchCase::OfficialBuild,
                Disposition::Violation
            )
        );
        assert!(f
            .evidence
            .iter()
            .any(|e| e.kind == "signer_sha256" && e.value == TIKTOK_KEY));
    }

    #[test]
    fn modified_build_known_package_unknown_signer_is_still_a_violation() {
        let f = evaluate(
            &inv(vec![signed("com.zhiliaoapp.musically", OTHER_KEY)]),
            &set(),
            &Policy::builtin(),
        );
        let f = only(&f);
        assert_eq!(
            (f.case, f.disposition),
            (MatchCase::ModifiedBuild, Disposition::Violation)
        );
        assert!(f.summary.contains("modified"), "{}", f.summary);
        assert!(f
            .evidence
            .iter()
            .any(|e| e.kind == "unknown_signer" && e.value == OTHER_KEY));
    }

    #[test]
    fn renamed_build_by_signer_or_markers() {
        let f = evaluate(
            &inv(vec![signed("com.example.renamed", TIKTOK_KEY)]),
            &set(),
            &Policy::builtin(),
        );
        let f = only(&f);
        assert_eq!(
            (f.signature.as_str(), f.case),
            ("tiktok.signer", MatchCase::RenamedBuild)
        );

        let mut a = signed("com.example.renamed", OTHER_KEY);
        a.components = vec!["com.example.renamed.openauthorize.AwemeAuthorizedActivity".into()];
        let f = evaluate(&inv(vec![a]), &set(), &Policy::builtin());
        let f = only(&f);
        assert_eq!(
            (f.signature.as_str(), f.case),
            ("tiktok.repackaged", MatchCase::RenamedBuild)
        );

        let mut a = signed("com.example.renamed", OTHER_KEY);
        a.components = vec!["com.ss.android.ugc.aweme.share.SystemShareActivity".into()];
        assert_eq!(
            only(&evaluate(&inv(vec![a]), &set(), &Policy::builtin())).signature,
            "tiktok.repackaged"
        );
    }

    #[test]
    fn no_substring_or_prefix_matching_of_identifiers() {
        for id in [
            "com.zhiliaoapp.musically.fake",
            "com.zhiliaoapp",
            "xcom.zhiliaoapp.musically",
        ] {
            let f = evaluate(
                &inv(vec![signed(id, OTHER_KEY)]),
                &set(),
                &Policy::builtin(),
            );
            assert!(f.is_empty(), "{id}: {f:#?}");
        }
        let mut a = signed("com.example", OTHER_KEY);
        a.components = vec!["com.ss.android.ugc.aweme.share.SystemShareActivityX".into()];
        assert!(evaluate(&inv(vec![a]), &set(), &Policy::builtin()).is_empty());
    }

    #[test]
    fn shared_signer_package_decides() {
        let f = evaluate(
            &inv(vec![signed("com.ss.android.ugc.trill", BD_KEY)]),
            &set(),
            &Policy::builtin(),
        );
        assert_eq!(only(&f).signature, "tiktok.trill");
        let f = evaluate(
            &inv(vec![signed("com.bytedance.unknownapp", BD_KEY)]),
            &set(),
            &Policy::builtin(),
        );
        let f = only(&f);
        assert_eq!(
            (f.signature.as_str(), f.case),
            ("tiktok.bytedance-key", MatchCase::RenamedBuild)
        );
    }

    #[test]
    fn sdk_only_is_a_low_notice_never_tiktok() {
        let mut a = signed("com.game.app", OTHER_KEY);
        a.components = vec!["com.bytedance.sdk.openadsdk.TTFileProvider".into()];
        a.native_libs = vec!["libpangleflipped.so".into()];
        let f = evaluate(&inv(vec![a]), &set(), &Policy::builtin());
        let f = only(&f);
        assert_eq!(
            (f.family.as_str(), f.disposition, f.severity),
            ("bytedance-sdk", Disposition::Notice, Severity::Low)
        );
        assert!(!f.title.contains("TikTok"));
    }

    #[test]
    fn ios_by_bundle_or_store_id_and_weak_evidence_is_a_notice() {
        let ios = |apps| {
            let mut i = inv(apps);
            i.device.platform = Platform::Ios;
            i
        };
        let mut a = AppRecord::new("com.other.bundle");
        a.app_store_id = Some(835599320);
        let f = evaluate(&ios(vec![a]), &set(), &Policy::builtin());
        assert_eq!(only(&f).case, MatchCase::Identifier);
        assert_eq!(only(&f).disposition, Disposition::Violation);

        let mut a = AppRecord::new("com.zhiliaoapp.musically");
        a.installed = false;
        a.seen_in = vec![SeenIn::AppGroup];
        let f = evaluate(&ios(vec![a]), &set(), &Policy::builtin());
        assert_eq!(only(&f).disposition, Disposition::Notice);
        assert_eq!(
            only(&f)
                .evidence
                .iter()
                .filter(|e| e.kind == "bundle_id")
                .count(),
            1
        );
    }

    #[test]
    fn webapk_by_start_url_host() {
        let mut a = AppRecord::new("org.chromium.webapk.a1b2c3");
        a.meta_data = vec![MetaData {
            name: "org.chromium.webapk.shell_apk.startUrl".into(),
            value: "https://www.tiktok.com/foryou?lang=en".into(),
        }];
        assert_eq!(
            only(&evaluate(&inv(vec![a.clone()]), &set(), &Policy::builtin())).case,
            MatchCase::WebApp
        );
        a.meta_data[0].value = "https://nottiktok.com/".into();
        assert!(evaluate(&inv(vec![a]), &set(), &Policy::builtin()).is_empty());
    }

    #[test]
    fn allowlist_mode_flags_unapproved_user_apps_only() {
        let known = ["tiktok".to_string()].into_iter().collect();
        let policy = Policy::parse(
            "p",
            "name = \"approved\"\nmode = \"allowlist\"\n[allowlist]\npackages = [\"com.ok\"]\n",
            &known,
        )
        .unwrap();
        let mut sys = AppRecord::new("com.android.settings");
        sys.system = true;
        let f = evaluate(
            &inv(vec![
                AppRecord::new("com.ok"),
                AppRecord::new("com.game"),
                sys,
            ]),
            &set(),
            &policy,
        );
        let f = only(&f);
        assert_eq!(
            (f.app.id.as_str(), f.case),
            ("com.game", MatchCase::NotApproved)
        );
    }

    #[test]
    fn finding_ids_are_stable_and_distinguish_users() {
        let a = finding_id("D", "tiktok.global", "com.zhiliaoapp.musically", Some(0));
        assert_eq!(
            a,
            finding_id("D", "tiktok.global", "com.zhiliaoapp.musically", Some(0))
        );
        assert_ne!(
            a,
            finding_id("D", "tiktok.global", "com.zhiliaoapp.musically", Some(10))
        );
        assert_ne!(
            a,
            finding_id("E", "tiktok.global", "com.zhiliaoapp.musically", Some(0))
        );
        assert_eq!(a.len(), 32);
    }

    fn arb_app() -> impl Strategy<Value = AppRecord> {
        let ids = prop::sample::select(vec![
            "com.zhiliaoapp.musically",
            "com.ss.android.ugc.trill",
            "com.example.a",
            "com.game.app",
            "org.chromium.webapk.x",
        ]);
        let keys = prop::sample::select(vec![TIKTOK_KEY, BD_KEY, OTHER_KEY]);
        (ids, keys, any::<bool>(), 0u32..3).prop_map(|(id, key, marker, user)| {
            let mut a = signed(id, key);
            a.user = Some(user);
            if marker {
                a.components = vec!["com.ss.android.ugc.aweme.share.SystemShareActivity".into()];
            }
            a
        })
    }

    proptest! {
        #[test]
        fn findings_do_not_depend_on_input_order(apps in prop::collection::vec(arb_app(), 0..12), seed in any::<u64>()) {
            let set = set();
            let policy = Policy::builtin();
            let a = evaluate(&inv(apps.clone()), &set, &policy);
            let mut shuffled = apps;
            // A deterministic shuffle from the seed.
            let n = shuffled.len();
            let mut s = seed;
            for i in (1..n).rev() {
                s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                shuffled.swap(i, (s >> 33) as usize % (i + 1));
            }
            let b = evaluate(&inv(shuffled), &set, &policy);
            prop_assert_eq!(a, b);
        }
    }
}
