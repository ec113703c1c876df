//! Matching against a small signature set with the shapes of the built-in one.

use super::*;
use crate::model::{CertScheme, Certificate, DeviceInfo, MetaData, Platform, Sha256, SourceKind};
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

/// The findings for `apps` on an Android phone, under the built-in policy.
fn eval_builtin(apps: Vec<AppRecord>) -> Vec<Finding> {
    evaluate(&inv(apps), &set(), &Policy::builtin())
}

fn only(findings: &[Finding]) -> &Finding {
    assert_eq!(findings.len(), 1, "{findings:#?}");
    &findings[0]
}

#[test]
fn official_build_package_and_signer() {
    let f = eval_builtin(vec![signed("com.zhiliaoapp.musically", TIKTOK_KEY)]);
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
    let f = eval_builtin(vec![signed("com.zhiliaoapp.musically", OTHER_KEY)]);
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
    let f = eval_builtin(vec![signed("com.example.renamed", TIKTOK_KEY)]);
    let f = only(&f);
    assert_eq!(
        (f.signature.as_str(), f.case),
        ("tiktok.signer", MatchCase::RenamedBuild)
    );

    let mut a = signed("com.example.renamed", OTHER_KEY);
    a.components = vec!["com.example.renamed.openauthorize.AwemeAuthorizedActivity".into()];
    let f = eval_builtin(vec![a]);
    let f = only(&f);
    assert_eq!(
        (f.signature.as_str(), f.case),
        ("tiktok.repackaged", MatchCase::RenamedBuild)
    );

    let mut a = signed("com.example.renamed", OTHER_KEY);
    a.components = vec!["com.ss.android.ugc.aweme.share.SystemShareActivity".into()];
    assert_eq!(only(&eval_builtin(vec![a])).signature, "tiktok.repackaged");
}

#[test]
fn no_substring_or_prefix_matching_of_identifiers() {
    for id in [
        "com.zhiliaoapp.musically.fake",
        "com.zhiliaoapp",
        "xcom.zhiliaoapp.musically",
    ] {
        let f = eval_builtin(vec![signed(id, OTHER_KEY)]);
        assert!(f.is_empty(), "{id}: {f:#?}");
    }
    let mut a = signed("com.example", OTHER_KEY);
    a.components = vec!["com.ss.android.ugc.aweme.share.SystemShareActivityX".into()];
    assert!(eval_builtin(vec![a]).is_empty());
}

#[test]
fn shared_signer_package_decides() {
    let f = eval_builtin(vec![signed("com.ss.android.ugc.trill", BD_KEY)]);
    assert_eq!(only(&f).signature, "tiktok.trill");
    let f = eval_builtin(vec![signed("com.bytedance.unknownapp", BD_KEY)]);
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
    let f = eval_builtin(vec![a]);
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
    assert_eq!(only(&eval_builtin(vec![a.clone()])).case, MatchCase::WebApp);
    a.meta_data[0].value = "https://nottiktok.com/".into();
    assert!(eval_builtin(vec![a]).is_empty());
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
