//! The APK fingerprinter against APKs built and signed by aapt / zipalign / apksigner, with
//! ground truth from `apksigner verify --print-certs -v` and `keytool -exportcert`.

use crate::support::apkbuild;

use std::collections::BTreeSet;

use apkbuild::{build_apk, test_keys, tools_available, ApkSpec, BuiltApk, Signing};
use appsweep::apk::{self, FileSource, Fingerprint};
use appsweep::model::{CertScheme, MetaData};

const SHARE: &str = "com.ss.android.ugc.aweme.share.SystemShareActivity";

fn tiktok_spec(signing: Signing, file: &str) -> ApkSpec {
    let mut s = ApkSpec::new("com.zhiliaoapp.musically", signing);
    s.file_name = file.to_string();
    s.version_code = 2_024_307_030;
    s.version_name = "43.7.3".to_string();
    s.label = "TikTok".to_string();
    s.components_xml = format!(
        r#"    <activity android:name="{SHARE}" android:exported="true"/>
    <activity android:name=".openauthorize.AwemeAuthorizedActivity" android:exported="true"/>
    <service android:name="PushService"/>
    <provider android:name="com.bytedance.pangle.FileProvider" android:authorities="com.zhiliaoapp.musically.pangle;x.y"/>"#
    );
    s.meta_data = vec![("SS_VERSION_CODE".to_string(), "2024307030".to_string())];
    s.permissions = vec!["android.permission.INTERNET".to_string()];
    s.native_libs = vec![
        "arm64-v8a/libmetasec_ml.so".to_string(),
        "armeabi-v7a/libmetasec_ml.so".to_string(),
    ];
    s
}

fn analyze(b: &BuiltApk) -> Fingerprint {
    apk::analyze(&FileSource::open(&b.path).unwrap()).unwrap()
}

fn certs_by_scheme(info: &Fingerprint, scheme: CertScheme) -> BTreeSet<String> {
    info.certificates
        .iter()
        .filter(|c| c.scheme == scheme)
        .map(|c| c.sha256.to_string())
        .collect()
}

fn set(v: &[&str]) -> BTreeSet<String> {
    v.iter().map(|s| s.to_string()).collect()
}

/// Checks manifest content and that exactly `schemes` carry key `a` and nothing else is there.
fn check_single_key(signing: Signing, file: &str, schemes: &[CertScheme], tool_schemes: &[&str]) {
    if !tools_available() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let built = build_apk(&tiktok_spec(signing, file), dir.path());
    let (a, _) = test_keys();
    assert_eq!(
        built.signer_sha256s,
        vec![a.cert_sha256.clone()],
        "apksigner and keytool disagree"
    );
    assert_eq!(
        built.verified_schemes,
        set(tool_schemes),
        "apksigner schemes"
    );
    let info = analyze(&built);
    assert_eq!(info.package.as_deref(), Some("com.zhiliaoapp.musically"));
    assert_eq!(info.version_code, Some(2_024_307_030));
    assert_eq!(info.version_name.as_deref(), Some("43.7.3"));
    assert_eq!(info.label.as_deref(), Some("TikTok"));
    assert_eq!(
        info.components,
        vec![
            "authority:com.zhiliaoapp.musically.pangle",
            "authority:x.y",
            "com.bytedance.pangle.FileProvider",
            SHARE,
            "com.zhiliaoapp.musically.PushService",
            "com.zhiliaoapp.musically.openauthorize.AwemeAuthorizedActivity",
        ]
    );
    assert_eq!(
        info.meta_data,
        vec![MetaData {
            name: "SS_VERSION_CODE".to_string(),
            value: "2024307030".to_string()
        }]
    );
    assert_eq!(info.permissions, vec!["android.permission.INTERNET"]);
    assert_eq!(info.native_libs, vec!["libmetasec_ml.so"]);
    let got: BTreeSet<CertScheme> = info.certificates.iter().map(|c| c.scheme).collect();
    assert_eq!(got, schemes.iter().copied().collect::<BTreeSet<_>>());
    for c in &info.certificates {
        assert_eq!(c.sha256, a.cert_sha256, "{c:?}");
        if c.scheme == CertScheme::V1 {
            let entry = c.entry.as_deref().unwrap();
            assert!(
                entry.starts_with("META-INF/") && entry.ends_with(".RSA"),
                "{entry}"
            );
        } else {
            assert_eq!(c.entry, None);
        }
    }
    assert!(info.warnings.is_empty(), "{:?}", info.warnings);
}

#[test]
fn v1_only() {
    check_single_key(Signing::V1, "v1.apk", &[CertScheme::V1], &["v1"]);
}

#[test]
fn v2_only() {
    check_single_key(Signing::V2, "v2.apk", &[CertScheme::V2], &["v2"]);
}

#[test]
fn v3_only() {
    check_single_key(Signing::V3, "v3.apk", &[CertScheme::V3], &["v3"]);
}

#[test]
fn v1_v2_v3() {
    check_single_key(
        Signing::V1V2V3,
        "v123.apk",
        &[CertScheme::V1, CertScheme::V2, CertScheme::V3],
        &["v1", "v2", "v3"],
    );
}

#[test]
fn rotated_key_reports_old_and_new_signer() {
    if !tools_available() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let built = build_apk(&tiktok_spec(Signing::Rotated, "rotated.apk"), dir.path());
    let (a, b) = test_keys();
    // apksigner names only the newest signer.
    assert_eq!(built.signer_sha256s, vec![b.cert_sha256.clone()]);
    let info = analyze(&built);
    assert_eq!(
        certs_by_scheme(&info, CertScheme::V3),
        set(&[&b.cert_sha256])
    );
    assert_eq!(
        certs_by_scheme(&info, CertScheme::V1),
        set(&[&a.cert_sha256])
    );
    assert_eq!(
        certs_by_scheme(&info, CertScheme::V2),
        set(&[&a.cert_sha256])
    );
    assert_eq!(
        certs_by_scheme(&info, CertScheme::Lineage),
        set(&[&a.cert_sha256, &b.cert_sha256])
    );
    let all: BTreeSet<String> = info
        .certificates
        .iter()
        .map(|c| c.sha256.to_string())
        .collect();
    assert_eq!(all, built.key_sha256s.iter().cloned().collect());
}

#[test]
fn unsigned_apk_has_no_certificates() {
    if !tools_available() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let mut spec = ApkSpec::new("org.chromium.webapk.a1b2c3", Signing::Unsigned);
    spec.meta_data = vec![
        (
            "org.chromium.webapk.shell_apk.startUrl".to_string(),
            "https://www.tiktok.com/".to_string(),
        ),
        (
            "org.chromium.webapk.shell_apk.scope".to_string(),
            "https://www.tiktok.com/".to_string(),
        ),
    ];
    spec.version_code_major = Some(3);
    spec.version_code = 17;
    let info = analyze(&build_apk(&spec, dir.path()));
    assert!(info.certificates.is_empty());
    assert_eq!(info.package.as_deref(), Some("org.chromium.webapk.a1b2c3"));
    assert_eq!(info.version_code, Some((3u64 << 32) | 17));
    assert_eq!(
        info.meta_data[0].name,
        "org.chromium.webapk.shell_apk.scope"
    );
    assert_eq!(info.meta_data[1].value, "https://www.tiktok.com/");
}

#[test]
fn large_apk_costs_few_bytes() {
    if !tools_available() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let mut spec = tiktok_spec(Signing::V1V2V3, "big.apk");
    spec.big_asset = 8 << 20;
    let built = build_apk(&spec, dir.path());
    let len = std::fs::metadata(&built.path).unwrap().len();
    assert!(len > 8 << 20);
    let info = analyze(&built);
    assert_eq!(info.package.as_deref(), Some("com.zhiliaoapp.musically"));
    assert!(info.certificates.iter().any(|c| c.scheme == CertScheme::V3));
    assert!(
        info.bytes_read < 128 * 1024,
        "read {} bytes of {len}",
        info.bytes_read
    );
}
