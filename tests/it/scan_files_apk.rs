//! `scan files` end to end on APKs built by Google's tools (aapt, zipalign, apksigner): the
//! matching cases of the engine through the command a user runs. A test APK cannot carry TikTok's
//! real certificate, so signer rules are exercised with `--signatures` files that list the test
//! keys' digests (measured by keytool, not by appsweep).

use crate::support::apkbuild;
use crate::support::cmd::{evidence, scan_files_json as scan};

use apkbuild::{build_apk, test_keys, tools_available, ApkSpec, Signing};
use serde_json::Value;
use std::path::Path;

fn findings(doc: &Value) -> Vec<Value> {
    doc["reports"][0]["findings"].as_array().unwrap().clone()
}

fn sig_dir(dir: &Path, files: &[(&str, String)]) -> std::path::PathBuf {
    let d = dir.join("sigs");
    std::fs::create_dir_all(&d).unwrap();
    for (name, text) in files {
        std::fs::write(d.join(name), text).unwrap();
    }
    d
}

fn test_family(key: &str) -> String {
    format!(
        r#"[family]
id = "testkeys"
title = "Test keys"
[[signature]]
id = "testkeys.app"
kind = "app"
title = "Signed test app"
severity = "high"
confidence = "verified"
references = ["keytool -exportcert of the test key"]
packages = ["org.example.signedapp"]
signers_sha256 = ["{key}"]
[[signature]]
id = "testkeys.key"
kind = "signer"
title = "Test signing key"
severity = "high"
confidence = "verified"
references = ["keytool -exportcert of the test key"]
signers_sha256 = ["{key}"]
"#
    )
}

const POLICY: &str = "name = \"test\"\n[dispositions]\ntestkeys = \"violation\"\n";

#[test]
fn tiktok_package_with_a_test_key_is_a_modified_build_violation() {
    if !tools_available() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let apk = build_apk(
        &ApkSpec::new("com.zhiliaoapp.musically", Signing::V1V2V3),
        dir.path(),
    );
    let (code, doc) = scan(&[&apk.path], &[]);
    assert_eq!(code, 1);
    let f = findings(&doc);
    assert_eq!(f.len(), 1, "{f:#?}");
    assert_eq!(f[0]["signature"], "tiktok.global");
    assert_eq!(f[0]["match"], "modified_build");
    assert_eq!(f[0]["disposition"], "violation");
    let unknown: Vec<&str> = f[0]["evidence"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["kind"] == "unknown_signer")
        .map(|e| e["value"].as_str().unwrap())
        .collect();
    assert_eq!(
        unknown,
        apk.signer_sha256s
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>()
    );
    // The flagged file is hashed by default.
    assert!(f[0]["evidence"]
        .as_array()
        .unwrap()
        .iter()
        .any(|e| e["kind"] == "file_sha256"));
}

#[test]
fn builtin_family_replaced_with_the_test_key_gives_an_official_build() {
    if !tools_available() {
        return;
    }
    let (a, _) = test_keys();
    let dir = tempfile::tempdir().unwrap();
    let apk = build_apk(
        &ApkSpec::new("com.zhiliaoapp.musically", Signing::V2),
        dir.path(),
    );
    let tiktok = format!(
        "[family]\nid = \"tiktok\"\ntitle = \"TikTok (test key)\"\n[[signature]]\nid = \"tiktok.global\"\nkind = \"app\"\ntitle = \"TikTok\"\nseverity = \"high\"\nconfidence = \"official\"\nreferences = [\"test\"]\npackages = [\"com.zhiliaoapp.musically\"]\nsigners_sha256 = [\"{}\"]\n",
        a.cert_sha256
    );
    let sigs = sig_dir(dir.path(), &[("tiktok.toml", tiktok)]);
    let (code, doc) = scan(&[&apk.path], &["--signatures", sigs.to_str().unwrap()]);
    assert_eq!(code, 1);
    let f = findings(&doc);
    assert_eq!(f[0]["match"], "official_build", "{f:#?}");
    assert!(f[0]["evidence"]
        .as_array()
        .unwrap()
        .iter()
        .any(|e| e["kind"] == "signer_sha256" && e["value"] == a.cert_sha256.as_str()));
}

#[test]
fn signer_rules_official_modified_renamed_and_rotated() {
    if !tools_available() {
        return;
    }
    let (a, b) = test_keys();
    let dir = tempfile::tempdir().unwrap();
    let sigs = sig_dir(
        dir.path(),
        &[("testkeys.toml", test_family(&a.cert_sha256))],
    );
    let policy = dir.path().join("policy.toml");
    std::fs::write(&policy, POLICY).unwrap();
    let extra = [
        "--signatures",
        sigs.to_str().unwrap(),
        "--policy",
        policy.to_str().unwrap(),
    ];

    let cases: [(&str, &str, Signing, &str, &str); 5] = [
        (
            "official",
            "org.example.signedapp",
            Signing::V1,
            "testkeys.app",
            "official_build",
        ),
        (
            "v3only",
            "org.example.signedapp",
            Signing::V3,
            "testkeys.app",
            "official_build",
        ),
        (
            "renamed",
            "org.example.renamed",
            Signing::V2,
            "testkeys.key",
            "renamed_build",
        ),
        // Rotated: v3 is signed by b, v1/v2 and the lineage still carry a: the rule on a matches.
        (
            "rotated",
            "org.example.signedapp",
            Signing::Rotated,
            "testkeys.app",
            "official_build",
        ),
        (
            "rotated-renamed",
            "org.example.other",
            Signing::Rotated,
            "testkeys.key",
            "renamed_build",
        ),
    ];
    for (name, package, signing, want_sig, want_match) in cases {
        let d = dir.path().join(name);
        std::fs::create_dir_all(&d).unwrap();
        let apk = build_apk(&ApkSpec::new(package, signing), &d);
        let (code, doc) = scan(&[&apk.path], &extra);
        assert_eq!(code, 1, "{name}");
        let f = findings(&doc);
        assert_eq!(f.len(), 1, "{name}: {f:#?}");
        assert_eq!(
            (
                f[0]["signature"].as_str().unwrap(),
                f[0]["match"].as_str().unwrap()
            ),
            (want_sig, want_match),
            "{name}"
        );
    }

    // The same package when the publisher's key is b (and the APK is signed with a only):
    // a modified build, still a violation.
    let d = dir.path().join("modified");
    std::fs::create_dir_all(&d).unwrap();
    let apk = build_apk(&ApkSpec::new("org.example.signedapp", Signing::V2), &d);
    assert_eq!(apk.signer_sha256s, vec![a.cert_sha256.clone()]);
    let sigs_b = sig_dir(
        &dir.path().join("b"),
        &[("testkeys.toml", test_family(&b.cert_sha256))],
    );
    let (code, doc) = scan(
        &[&apk.path],
        &[
            "--signatures",
            sigs_b.to_str().unwrap(),
            "--policy",
            policy.to_str().unwrap(),
        ],
    );
    assert_eq!(code, 1);
    let f = findings(&doc);
    assert_eq!(
        (
            f[0]["signature"].as_str().unwrap(),
            f[0]["match"].as_str().unwrap()
        ),
        ("testkeys.app", "modified_build")
    );
}

#[test]
fn renamed_tiktok_with_content_markers_is_caught() {
    if !tools_available() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let mut spec = ApkSpec::new("com.example.videoplayer", Signing::V2);
    spec.components_xml = r#"<activity android:name="com.ss.android.ugc.aweme.share.SystemShareActivity" android:exported="true"/>
<activity android:name=".openauthorize.AwemeAuthorizedActivity" android:exported="true"/>"#
        .into();
    let apk = build_apk(&spec, dir.path());
    let (code, doc) = scan(&[&apk.path], &[]);
    assert_eq!(code, 1);
    let f = findings(&doc);
    assert_eq!(f.len(), 1, "{f:#?}");
    assert_eq!(f[0]["signature"], "tiktok.repackaged");
    assert_eq!(f[0]["match"], "renamed_build");
    let ev = evidence(&f[0], "value");
    assert!(
        ev.contains(&"com.ss.android.ugc.aweme.share.SystemShareActivity"),
        "{ev:?}"
    );
    assert!(
        ev.contains(&"com.example.videoplayer.openauthorize.AwemeAuthorizedActivity"),
        "{ev:?}"
    );
}

#[test]
fn clean_app_sdk_embed_and_webapk() {
    if !tools_available() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let clean = build_apk(
        &ApkSpec::new("org.example.notes", Signing::V1V2V3),
        &dir.path().join("c"),
    );
    let (code, doc) = scan(&[&clean.path], &[]);
    assert_eq!(code, 0);
    assert_eq!(doc["reports"][0]["status"], "clean");
    let app = &doc["reports"][0]["apps"][0];
    assert_eq!(app["id"], "org.example.notes");
    let mut got: Vec<String> = app["signers_sha256"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap().to_string())
        .collect();
    let mut want = clean.signer_sha256s.clone();
    got.sort();
    want.sort();
    assert_eq!(got, want, "signers equal apksigner's");

    let mut spec = ApkSpec::new("com.example.game", Signing::V2);
    spec.components_xml = r#"<provider android:name="com.bytedance.sdk.openadsdk.TTFileProvider" android:authorities="com.example.game.TTFileProvider" android:exported="false"/>"#.into();
    let sdk = build_apk(&spec, &dir.path().join("s"));
    let (code, doc) = scan(&[&sdk.path], &[]);
    assert_eq!(code, 0, "an SDK embed is a notice");
    let f = findings(&doc);
    assert_eq!(f.len(), 1, "{f:#?}");
    assert_eq!(f[0]["match"], "sdk_embedded");
    assert_eq!(f[0]["disposition"], "notice");
    assert!(!f[0]["title"].as_str().unwrap().contains("TikTok"));

    let mut spec = ApkSpec::new("org.chromium.webapk.a1b2c3", Signing::V2);
    spec.meta_data = vec![(
        "org.chromium.webapk.shell_apk.startUrl".into(),
        "https://www.tiktok.com/foryou".into(),
    )];
    let web = build_apk(&spec, &dir.path().join("w"));
    let (_, doc) = scan(&[&web.path], &[]);
    let f = findings(&doc);
    assert_eq!(f.len(), 1, "{f:#?}");
    assert_eq!(f[0]["match"], "web_app");
    assert_eq!(f[0]["signature"], "tiktok.webapk");
}
