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
//!
//! `rules` holds the rules (one function per kind of match); this module the finding types, the
//! order the rules are tried in, and the policy's say over each candidate.

mod rules;

use crate::digest::Hasher;
use crate::model::{AppRecord, Inventory, Platform, SeenIn};
use crate::policy::{Disposition, Mode, Policy};
use crate::signatures::{Confidence, Kind, Severity, Signature, SignatureSet};
use rules::{identity_matches, other_matches, sdk_matches};
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
mod tests;
