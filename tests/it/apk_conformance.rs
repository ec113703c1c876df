//! Conformance of the APK fingerprinter against third-party APKs and binary manifests, with the
//! ground truth recorded in `third_party/SOURCES.md` (apksigner, aapt, apkInspector and a direct
//! reading of each APK Signing Block).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use appsweep::apk::{self, ApkError, ApkProbe, ByteSource, FileSource, Step};
use appsweep::model::CertScheme;

fn third_party() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/third_party")
}

fn files_under(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            files_under(&p, out);
        } else {
            out.push(p);
        }
    }
}

const POLITE: &str = "32a23624c201b949f085996ba5ed53d40f703aca4989476949cae891022e0ed6";
const RSA2048: &str = "fb5dbd3c669af9fc236c6991e6387b7f11ff0590997f22d0f5c74ff40e04fca8";
const RSA2048_2: &str = "681b0e56a796350c08647352a4db800cc44b2adc8f4c72fa350bd05d4d50264d";
const EC_P256: &str = "6a8b96e278e58f62cfe3584022cec1d0527fcb85a9e5d2e1694eb0405be5b599";
const EREV0S: &str = "2b64ad02da1ab1917c3b3bc9053a944718dc774c5b53e9eb029f509a10129aea";
const TINY: &str = "android.appsecurity.cts.tinyapp";

/// What SOURCES.md records for one APK.
struct Expect {
    path: &'static str,
    /// `None`: the APK must be refused with a clear error.
    package: Option<&'static str>,
    version_code: u64,
    version_name: Option<&'static str>,
    /// Every certificate digest (all schemes, lineage, duplicate blocks): full 64-hex digests,
    /// or the 12-hex prefixes SOURCES.md gives for signing-block / META-INF-only signers.
    certs: &'static [&'static str],
    /// Schemes that must be reported.
    schemes: &'static [CertScheme],
}

use CertScheme::{Lineage, V1, V2, V3};

const fn ok(
    path: &'static str,
    package: &'static str,
    version_code: u64,
    version_name: Option<&'static str>,
    certs: &'static [&'static str],
    schemes: &'static [CertScheme],
) -> Expect {
    Expect {
        path,
        package: Some(package),
        version_code,
        version_name,
        certs,
        schemes,
    }
}

const APKS: &[Expect] = &[
    ok(
        "apk/fdroidserver/com.politedroid_3.apk",
        "com.politedroid",
        3,
        Some("1.2"),
        &[POLITE],
        &[V1],
    ),
    ok(
        "apk/fdroidserver/com.politedroid_6.apk",
        "com.politedroid",
        6,
        Some("1.5"),
        &[POLITE],
        &[V1],
    ),
    ok(
        "apk/fdroidserver/v1.v2.sig_1020.apk",
        "v1.v2.sig",
        1020,
        Some("v1+2"),
        &[POLITE],
        &[V1, V2],
    ),
    ok(
        "apk/fdroidserver/v2.only.sig_2.apk",
        "v2.only.sig",
        2,
        Some("v2-only"),
        &[POLITE],
        &[V2],
    ),
    ok(
        "apk/fdroidserver/org.sajeg.fallingblocks_3.apk",
        "org.sajeg.fallingblocks",
        3,
        Some("1.5.1"),
        &["033389681f4288fdb3e72a28058c8506233ca50de75452ab6c9c76ea1ca2d70f"],
        &[V1, V2, V3],
    ),
    ok(
        "apk/fdroidserver/obb.mainpatch.current_1619.apk",
        "obb.mainpatch.current",
        1619,
        Some("0.1"),
        &[POLITE],
        &[V1],
    ),
    ok(
        "apk/fdroidserver/duplicate.permisssions_9999999.apk",
        "duplicate.permisssions",
        9_999_999,
        None,
        &["1355ae301394f6ce0a21976bacde65d5fbed48b96518121f52f45a31829cee76"],
        &[V1, V2, V3],
    ),
    ok(
        "apk/fdroidserver/obb.main.oldversion_1444412523.apk",
        "obb.main.oldversion",
        1_444_412_523,
        Some("0.1"),
        &["818e469465f96b704e27be2fee4c63ab9f83ddf30e7a34c7371a4728d83b0bc1"],
        &[V1, V2],
    ),
    ok(
        "apk/fdroidserver/urzip-badcert.apk",
        "info.guardianproject.urzip",
        100,
        Some("0.1"),
        &["7eabd8c15de8"],
        &[V1],
    ),
    ok(
        "apk/fdroidserver/urzip-badsig.apk",
        "info.guardianproject.urzip",
        100,
        Some("0.1"),
        &["7eabd8c15de8"],
        &[V1],
    ),
    ok(
        "apk/fdroidserver/urzip-release-unsigned.apk",
        "info.guardianproject.urzip",
        100,
        Some("0.1"),
        &[],
        &[],
    ),
    ok(
        "apk/fdroidserver/issue-1128-poc2.apk",
        TINY,
        10,
        Some("1.0"),
        &[
            "1dbb8be012293e988a0820f7d455b07abd267d2c0b500fc793fcfd80141cb5ce",
            "43238d512c1e",
        ],
        &[V2, V3],
    ),
    ok(
        "apk/apksig/golden-aligned-v1v2v3-out.apk",
        TINY,
        10,
        Some("1.0"),
        &[RSA2048],
        &[V1, V2, V3],
    ),
    ok(
        "apk/apksig/golden-aligned-v1v2v3-lineage-out.apk",
        TINY,
        10,
        Some("1.0"),
        &[RSA2048, RSA2048_2],
        &[V1, V2, V3, Lineage],
    ),
    ok(
        "apk/apksig/v1-only-with-ecdsa-sha256-1.2.840.10045.4.3.2-p256.apk",
        TINY,
        10,
        Some("1.0"),
        &[EC_P256],
        &[V1],
    ),
    ok(
        "apk/apksig/v1-only-two-signers.apk",
        TINY,
        10,
        Some("1.0"),
        &[RSA2048, EC_P256],
        &[V1],
    ),
    ok(
        "apk/apksig/v2-only-two-signers.apk",
        TINY,
        10,
        Some("1.0"),
        &[RSA2048, EC_P256],
        &[V2],
    ),
    ok(
        "apk/apksig/v2-only-with-ecdsa-sha256-p256.apk",
        TINY,
        10,
        Some("1.0"),
        &[EC_P256],
        &[V2],
    ),
    ok(
        "apk/apksig/v3-only-with-rsa-pkcs1-sha512-4096.apk",
        TINY,
        10,
        Some("1.0"),
        &["6a46158f87753395a807edcc7640ac99c9125f6b6e025bdbf461ff281e64e685"],
        &[V3],
    ),
    ok(
        "apk/apksig/v3-only-with-dsa-sha256-2048.apk",
        TINY,
        10,
        Some("1.0"),
        &["97cce0bab292c2d5afb9de90e1810b41a5d25c006a10d10982896aa12ab35a9e"],
        &[V3],
    ),
    Expect {
        path: "apk/apksig/empty-unsigned.apk",
        package: None,
        version_code: 0,
        version_name: None,
        certs: &[],
        schemes: &[],
    },
    ok(
        "apk/apksig/v1-only-with-nul-in-entry-name.apk",
        TINY,
        10,
        Some("1.0"),
        &["430e9a6924db43f31a2efe0c8c3c4a4e48b061a84fb3f3337f2eca257bd4d720"],
        &[V1],
    ),
    ok(
        "apk/apksig/weird-compression-method.apk",
        TINY,
        10,
        Some("1.0"),
        &[RSA2048],
        &[V1],
    ),
    ok(
        "apk/apksig/mismatched-compression-method.apk",
        TINY,
        10,
        Some("1.0"),
        &[RSA2048],
        &[V1],
    ),
    ok(
        "apk/apksig/v2-only-truncated-cd.apk",
        TINY,
        10,
        Some("1.0"),
        &["fb5dbd3c669a"],
        &[V2],
    ),
    ok(
        "apk/apksig/v2-only-garbage-between-cd-and-eocd.apk",
        TINY,
        10,
        Some("1.0"),
        &["fb5dbd3c669a"],
        &[V2],
    ),
    ok(
        "apk/androguard/a2dp.Vol_137.apk",
        "a2dp.Vol",
        137,
        Some("2.12.9.2"),
        &["1e3bf46f964d494c9094cbf1a7ebec99b63d4acf6ae7519287d94faf5ea6871b"],
        &[V1],
    ),
    ok(
        "apk/androguard/TestActivity_signed_both.apk",
        "tests.androguard",
        1,
        Some("1.0"),
        &["b39038a91d8880fb01d2f6bdaeb22d39c1b7c447cef69e779bad544e9a3ec6a3"],
        &[V1, V2],
    ),
    ok(
        "apk/apkinspector/minimal_orig.apk",
        "com.erev0s.minimal",
        1,
        Some("1.0"),
        &[EREV0S],
        &[V2, V3],
    ),
    ok(
        "apk/apkinspector/minimal_SIZE_ExtraField.apk",
        "com.erev0s.minimal",
        1,
        Some("1.0"),
        &[],
        &[],
    ),
    ok(
        "apk/apkinspector/minimal_zero_sized_end_ns.apk",
        "com.erev0s.minimal",
        1,
        Some("1.0"),
        &[EREV0S],
        &[V2, V3],
    ),
    ok(
        "apk/appium-adb/ContactManager.apk",
        "com.saucelabs.ContactManager",
        1,
        Some("1.0"),
        &["a40da80a59d170caa950cf15c18c454d47a39b26989d8b640ecd745ba71bf5dc"],
        &[V1, V2, V3],
    ),
];

/// Each expected digest (full or prefix) matches exactly one reported digest, and nothing else
/// was reported.
fn check_certs(path: &str, got: &BTreeSet<String>, want: &[&str]) {
    let mut matched = BTreeSet::new();
    for w in want {
        let hits: Vec<&String> = got.iter().filter(|g| g.starts_with(w)).collect();
        assert_eq!(
            hits.len(),
            1,
            "{path}: expected certificate {w}, got {got:?}"
        );
        matched.insert(hits[0].clone());
    }
    assert_eq!(&matched, got, "{path}: unexpected extra certificates");
}

#[test]
fn third_party_apks_match_ground_truth() {
    let root = third_party();
    let mut on_disk = Vec::new();
    files_under(&root.join("apk"), &mut on_disk);
    let listed: BTreeSet<PathBuf> = APKS.iter().map(|e| root.join(e.path)).collect();
    for f in &on_disk {
        assert!(
            listed.contains(f),
            "{} has no expected values in this test",
            f.display()
        );
    }
    for e in APKS {
        let path = root.join(e.path);
        let src = FileSource::open(&path).unwrap();
        let result = apk::analyze(&src);
        let Some(package) = e.package else {
            let err = result.expect_err(e.path);
            assert!(
                matches!(err, ApkError::NoManifest | ApkError::NotZip(_)),
                "{}: {err}",
                e.path
            );
            continue;
        };
        let info = result.unwrap_or_else(|err| panic!("{}: {err}", e.path));
        assert_eq!(info.package.as_deref(), Some(package), "{}", e.path);
        assert_eq!(info.version_code, Some(e.version_code), "{}", e.path);
        assert_eq!(info.version_name.as_deref(), e.version_name, "{}", e.path);
        let got: BTreeSet<String> = info
            .certificates
            .iter()
            .map(|c| c.sha256.to_string())
            .collect();
        check_certs(e.path, &got, e.certs);
        let schemes: BTreeSet<CertScheme> = info.certificates.iter().map(|c| c.scheme).collect();
        let want: BTreeSet<CertScheme> = e.schemes.iter().copied().collect();
        assert_eq!(schemes, want, "{}: schemes", e.path);
        for c in &info.certificates {
            assert_eq!(c.sha256.len(), 64);
            assert!(c
                .sha256
                .chars()
                .all(|ch| ch.is_ascii_hexdigit() && !ch.is_ascii_uppercase()));
            assert_eq!(c.entry.is_some(), c.scheme == V1, "{}: {c:?}", e.path);
        }
        assert!(
            info.bytes_read > 0 && info.bytes_read <= src_len(&path),
            "{}",
            e.path
        );
    }
}

fn src_len(p: &Path) -> u64 {
    std::fs::metadata(p).unwrap().len()
}

#[test]
fn signer_confusion_reports_both_blocks_with_schemes() {
    let path = third_party().join("apk/fdroidserver/issue-1128-poc2.apk");
    let info = apk::analyze(&FileSource::open(&path).unwrap()).unwrap();
    let got: BTreeSet<(String, CertScheme)> = info
        .certificates
        .iter()
        .map(|c| (c.sha256[..12].to_string(), c.scheme))
        .collect();
    let want: BTreeSet<(String, CertScheme)> = [
        ("1dbb8be01229", V2),
        ("1dbb8be01229", V3),
        ("43238d512c1e", V2),
        ("43238d512c1e", V3),
    ]
    .iter()
    .map(|(s, c)| (s.to_string(), *c))
    .collect();
    assert_eq!(got, want);
    assert!(
        info.warnings.iter().any(|w| w.contains("more than once")),
        "{:?}",
        info.warnings
    );
}

#[test]
fn rotation_lineage_holds_old_and_new_key() {
    let path = third_party().join("apk/apksig/golden-aligned-v1v2v3-lineage-out.apk");
    let info = apk::analyze(&FileSource::open(&path).unwrap()).unwrap();
    let lineage: BTreeSet<&str> = info
        .certificates
        .iter()
        .filter(|c| c.scheme == Lineage)
        .map(|c| c.sha256.as_str())
        .collect();
    assert_eq!(lineage, [RSA2048, RSA2048_2].into_iter().collect());
    let v3: Vec<&str> = info
        .certificates
        .iter()
        .filter(|c| c.scheme == V3)
        .map(|c| c.sha256.as_str())
        .collect();
    assert_eq!(v3, vec![RSA2048_2]);
}

#[test]
fn large_apks_are_fingerprinted_from_a_small_part() {
    for (rel, max_fraction) in [
        ("apk/appium-adb/ContactManager.apk", 0.10),
        ("apk/androguard/a2dp.Vol_137.apk", 0.10),
    ] {
        let path = third_party().join(rel);
        let len = src_len(&path);
        let info = apk::analyze(&FileSource::open(&path).unwrap()).unwrap();
        let fraction = info.bytes_read as f64 / len as f64;
        assert!(
            fraction < max_fraction,
            "{rel}: read {} of {len} bytes",
            info.bytes_read
        );
        assert!(info.warnings.is_empty(), "{rel}: {:?}", info.warnings);
    }
}

#[test]
fn contact_manager_manifest_content() {
    let path = third_party().join("apk/appium-adb/ContactManager.apk");
    let info = apk::analyze(&FileSource::open(&path).unwrap()).unwrap();
    assert!(
        info.components
            .iter()
            .any(|c| c == "com.saucelabs.ContactManager.ContactManager"),
        "{:?}",
        info.components
    );
}

#[test]
fn binary_manifests_decode() {
    let root = third_party().join("axml");
    let expect: &[(&str, &str, u64, Option<&str>)] = &[
        (
            "androguard/AndroidManifest-Chinese.xml",
            "com.hotel",
            8,
            Some("1.7.2"),
        ),
        (
            "androguard/AndroidManifestDoubleNamespace.xml",
            "com.tencent.weread",
            10_122_117,
            Some("2.0.1"),
        ),
        (
            "androguard/AndroidManifestUTF8Strings.xml",
            "com.easylocker.bbottles.zt",
            5,
            Some("1.2.1"),
        ),
        (
            "androguard/AndroidManifest-xmlns.xml",
            "com.real.RealPlayer",
            8,
            Some("0.0.0.61"),
        ),
        (
            "androguard/AndroidManifestExtraNamespace.xml",
            "com.shopgate.android.app13182",
            507_000,
            Some("5.7.0"),
        ),
        // SOURCES.md records no versionName (aapt's badging looks attributes up by name), but
        // `aapt dump xmltree` shows the attribute: resource id 0x0101021c (versionName) with an
        // empty name, `="3.25.2"`. Android resolves manifest attributes by resource id.
        (
            "androguard/AndroidManifest_NamespaceInAttributeName2.xml",
            "com.car2go",
            129_215,
            Some("3.25.2"),
        ),
        (
            "androguard/AndroidManifestTextChunksXML.xml",
            "com.tslstudio.tsladsudoku",
            358,
            Some("3.58"),
        ),
    ];
    let mut on_disk = Vec::new();
    files_under(&root, &mut on_disk);
    assert_eq!(
        on_disk.len(),
        expect.len(),
        "every AXML fixture must have expected values here"
    );
    for (rel, package, code, name) in expect {
        let data = std::fs::read(root.join(rel)).unwrap();
        let m = apk::axml::parse_manifest(&data).unwrap_or_else(|e| panic!("{rel}: {e}"));
        assert_eq!(m.package.as_deref(), Some(*package), "{rel}");
        assert_eq!(m.version_code, Some(*code), "{rel}");
        assert_eq!(m.version_name.as_deref(), *name, "{rel}");
        assert!(!m.components.is_empty(), "{rel}: no components");
    }
}

/// Drives the resumable probe by hand, as a remote source does: the result equals `analyze`'s
/// and no fixture needs more than three reads.
#[test]
fn probe_driven_by_hand_matches_analyze_in_few_rounds() {
    let root = third_party();
    for e in APKS.iter().filter(|e| e.package.is_some()) {
        let src = FileSource::open(&root.join(e.path)).unwrap();
        let mut probe = ApkProbe::new(src.len());
        let mut step = probe.start();
        let mut rounds = 0;
        let info = loop {
            match step {
                Step::Done(info) => break info,
                Step::Need(ranges) => {
                    rounds += 1;
                    assert!(!ranges.is_empty());
                    step = probe.feed(src.read_ranges(&ranges).unwrap()).unwrap();
                }
            }
        };
        assert!(rounds <= 3, "{}: {rounds} rounds", e.path);
        assert_eq!(*info, apk::analyze(&src).unwrap(), "{}", e.path);
        // A finished probe refuses more bytes.
        assert!(probe.feed(vec![Vec::new()]).is_err());
    }
}
