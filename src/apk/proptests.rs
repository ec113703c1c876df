//! Property tests: the APK probe and each parser return a value or an error, never panic, on
//! arbitrary bytes and on mutations of real inputs (an APK built in memory and the third-party
//! fixtures when they are present).

use std::path::PathBuf;
use std::sync::OnceLock;

use proptest::prelude::*;

use super::axml::tests::sample_manifest;
use super::pkcs7::tests::{fake_cert, signed_data};
use super::sigblock::tests::{block, scheme_value, signer};
use super::zip::tests::TestZip;
use super::{analyze, axml, pkcs7, sigblock, SliceSource};

/// A file of the repository's `fixtures/third_party` (the seeds must all be there).
fn fixture(rel: &str) -> Vec<u8> {
    let path =
        PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/third_party")).join(rel);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn sample_block() -> Vec<u8> {
    block(&[
        (
            sigblock::V2_BLOCK_ID,
            scheme_value(&[signer(&[&fake_cert(1)], false, &[])]),
        ),
        (
            sigblock::V3_BLOCK_ID,
            scheme_value(&[signer(
                &[&fake_cert(2)],
                true,
                &[&fake_cert(1), &fake_cert(2)],
            )]),
        ),
    ])
}

/// Small APKs to mutate: one built here, plus small third-party ones.
fn apk_seeds() -> &'static Vec<Vec<u8>> {
    static SEEDS: OnceLock<Vec<Vec<u8>>> = OnceLock::new();
    SEEDS.get_or_init(|| {
        let mut t = TestZip::new()
            .entry("AndroidManifest.xml", &sample_manifest(false), true)
            .entry("lib/arm64-v8a/libfoo.so", b"\x7fELF", false)
            .entry(
                "META-INF/CERT.RSA",
                &signed_data(&[fake_cert(1), fake_cert(3)]),
                true,
            );
        t.before_cd = sample_block();
        let mut seeds = vec![t.build()];
        for rel in [
            "apk/apksig/golden-aligned-v1v2v3-lineage-out.apk",
            "apk/fdroidserver/issue-1128-poc2.apk",
            "apk/apksig/v1-only-two-signers.apk",
            "apk/apksig/v2-only-truncated-cd.apk",
        ] {
            seeds.push(fixture(rel));
        }
        seeds
    })
}

fn axml_seeds() -> &'static Vec<Vec<u8>> {
    static SEEDS: OnceLock<Vec<Vec<u8>>> = OnceLock::new();
    SEEDS.get_or_init(|| {
        let mut seeds = vec![sample_manifest(false), sample_manifest(true)];
        for rel in [
            "axml/androguard/AndroidManifestUTF8Strings.xml",
            "axml/androguard/AndroidManifest-Chinese.xml",
        ] {
            seeds.push(fixture(rel));
        }
        seeds
    })
}

/// Up to 16 byte overwrites, then an optional truncation.
fn mutate(seed: &[u8], edits: &[(usize, u8)], cut: Option<usize>) -> Vec<u8> {
    let mut v = seed.to_vec();
    if !v.is_empty() {
        for (i, b) in edits {
            let n = v.len();
            v[i % n] = *b;
        }
    }
    if let Some(c) = cut {
        let n = v.len();
        v.truncate(c % (n + 1));
    }
    v
}

fn edits() -> impl Strategy<Value = (usize, Vec<(usize, u8)>, Option<usize>)> {
    (
        any::<usize>(),
        prop::collection::vec((any::<usize>(), any::<u8>()), 1..16),
        prop::option::weighted(0.2, any::<usize>()),
    )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn analyze_never_panics_on_arbitrary_bytes(bytes in prop::collection::vec(any::<u8>(), 0..4096)) {
        let _ = analyze(&SliceSource(&bytes));
    }

    #[test]
    fn analyze_never_panics_on_mutated_apks((pick, e, cut) in edits()) {
        let seeds = apk_seeds();
        let seed = &seeds[pick % seeds.len()];
        let _ = analyze(&SliceSource(&mutate(seed, &e, cut)));
    }

    #[test]
    fn analyze_never_panics_on_arbitrary_bytes_behind_a_valid_end_record(
        body in prop::collection::vec(any::<u8>(), 0..2048),
        entries in any::<u16>(), cd_size in any::<u32>(), cd_offset in any::<u32>(),
    ) {
        let mut z = body;
        z.extend_from_slice(&0x0605_4b50u32.to_le_bytes());
        z.extend_from_slice(&[0, 0, 0, 0]);
        z.extend_from_slice(&entries.to_le_bytes());
        z.extend_from_slice(&entries.to_le_bytes());
        z.extend_from_slice(&cd_size.to_le_bytes());
        z.extend_from_slice(&cd_offset.to_le_bytes());
        z.extend_from_slice(&[0, 0]);
        let _ = analyze(&SliceSource(&z));
    }

    #[test]
    fn axml_never_panics_on_arbitrary_bytes(bytes in prop::collection::vec(any::<u8>(), 0..4096)) {
        let _ = axml::parse_manifest(&bytes);
    }

    #[test]
    fn axml_never_panics_on_mutated_manifests((pick, e, cut) in edits()) {
        let seeds = axml_seeds();
        let seed = &seeds[pick % seeds.len()];
        let _ = axml::parse_manifest(&mutate(seed, &e, cut));
    }

    #[test]
    fn sigblock_never_panics((e, cut) in (prop::collection::vec((any::<usize>(), any::<u8>()), 1..16), prop::option::weighted(0.2, any::<usize>()))) {
        let b = mutate(&sample_block(), &e, cut);
        let _ = sigblock::parse_signing_block(&b);
        if b.len() >= sigblock::FOOTER_LEN {
            let _ = sigblock::footer_size(&b[b.len() - sigblock::FOOTER_LEN..]);
        }
    }

    #[test]
    fn sigblock_never_panics_on_arbitrary_bytes(bytes in prop::collection::vec(any::<u8>(), 0..2048)) {
        let mut b = bytes;
        b.extend_from_slice(&[0; 8]);
        b.extend_from_slice(sigblock::MAGIC);
        let _ = sigblock::parse_signing_block(&b);
    }

    #[test]
    fn pkcs7_never_panics((e, cut) in (prop::collection::vec((any::<usize>(), any::<u8>()), 1..16), prop::option::weighted(0.2, any::<usize>()))) {
        let _ = pkcs7::certificates(&mutate(&signed_data(&[fake_cert(1), fake_cert(2)]), &e, cut));
    }
}
