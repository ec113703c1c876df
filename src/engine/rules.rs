//! The rules, each a function from an app (and the signature set) to candidate findings:
//! identity (package, bundle and App Store ids, with the publisher's signers deciding official
//! or modified builds), renamed builds (a listed signer or content markers), web apps, and
//! embedded SDKs. [`super::evaluate`] decides which of them apply to an app.

use super::{Evidence, EvidenceKind, MatchCase};
use crate::model::{AppRecord, Sha256};
use crate::signatures::{Kind, Signature, SignatureSet};
use std::collections::BTreeSet;

const MAX_MARKER_EVIDENCE: usize = 8;
const WEBAPK_URL_KEYS: [&str; 3] = [
    "org.chromium.webapk.shell_apk.startUrl",
    "org.chromium.webapk.shell_apk.scope",
    "org.chromium.webapk.shell_apk.webManifestUrl",
];

/// A signature an app matched, before the policy has its say.
pub(super) struct Candidate<'a> {
    pub sig: &'a Signature,
    pub case: MatchCase,
    pub evidence: Vec<Evidence>,
}

pub(super) fn identity_matches<'a>(
    app: &AppRecord,
    ios: bool,
    set: &'a SignatureSet,
) -> Vec<Candidate<'a>> {
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

pub(super) fn other_matches<'a>(app: &AppRecord, set: &'a SignatureSet) -> Vec<Candidate<'a>> {
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

pub(super) fn sdk_matches<'a>(app: &AppRecord, set: &'a SignatureSet) -> Vec<Candidate<'a>> {
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
