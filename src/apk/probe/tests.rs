//! The probe over archives built in memory: manifests, v1/v2/v3 certificates and lineage,
//! junk before the archive, ZIP64, and the rounds and bytes each costs.

use super::entries::{is_v1_signature_block, native_lib_name};
use super::*;
use crate::apk::axml::tests::sample_manifest;
use crate::apk::pkcs7::tests::{fake_cert, signed_data};
use crate::apk::sigblock::tests::{block, scheme_value, signer};
use crate::apk::zip::tests::TestZip;
use crate::apk::{analyze, sigblock, ApkProbe, SliceSource};
use crate::model::{CertScheme, Sha256};

fn apk(t: TestZip) -> Vec<u8> {
    t.build()
}

fn basic() -> TestZip {
    TestZip::new()
        .entry("AndroidManifest.xml", &sample_manifest(false), true)
        .entry("classes.dex", b"dex\n035", true)
        .entry("lib/arm64-v8a/libfoo.so", b"\x7fELF", false)
        .entry("lib/armeabi-v7a/libfoo.so", b"\x7fELF", false)
        .entry("lib/x86/sub/libnot.so", b"\x7fELF", false)
        .entry(
            "META-INF/CERT.RSA",
            &signed_data(&[fake_cert(1), fake_cert(2)]),
            true,
        )
        .entry("META-INF/sub/X.RSA", &signed_data(&[fake_cert(9)]), true)
}

#[test]
fn reads_manifest_v1_certs_and_libs() {
    let z = apk(basic());
    let info = analyze(&SliceSource(&z)).unwrap();
    assert_eq!(info.package.as_deref(), Some("com.example.app"));
    assert_eq!(info.version_code, Some((2 << 32) | 7));
    assert_eq!(info.native_libs, vec!["libfoo.so"]);
    let mut want = vec![Sha256::of(&fake_cert(1)), Sha256::of(&fake_cert(2))];
    want.sort();
    let got: Vec<_> = info.certificates.iter().map(|c| c.sha256.clone()).collect();
    assert_eq!(got, want);
    assert!(info
        .certificates
        .iter()
        .all(|c| c.scheme == CertScheme::V1 && c.entry.as_deref() == Some("META-INF/CERT.RSA")));
    assert!(info.warnings.is_empty(), "{:?}", info.warnings);
    assert_eq!(info.bytes_read, z.len() as u64);
}

#[test]
fn junk_before_archive_and_comment() {
    let mut t = basic();
    t.prefix = vec![0x55; 3000];
    t.comment = b"a comment".to_vec();
    let z = apk(t);
    let info = analyze(&SliceSource(&z)).unwrap();
    assert_eq!(info.package.as_deref(), Some("com.example.app"));
    assert_eq!(info.certificates.len(), 2);
    assert!(info
        .warnings
        .iter()
        .any(|w| w.contains("after where the end record says")));
}

#[test]
fn zip64_archive() {
    let mut t = basic();
    t.zip64 = true;
    let info = analyze(&SliceSource(&apk(t))).unwrap();
    assert_eq!(info.package.as_deref(), Some("com.example.app"));
    assert_eq!(info.certificates.len(), 2);
}

#[test]
fn signing_block_with_duplicate_ids_and_lineage() {
    let v2 = scheme_value(&[signer(&[&fake_cert(3)], false, &[])]);
    let v3 = scheme_value(&[signer(
        &[&fake_cert(4)],
        true,
        &[&fake_cert(3), &fake_cert(4)],
    )]);
    let decoy = scheme_value(&[signer(&[&fake_cert(5)], false, &[])]);
    let mut t = TestZip::new().entry("AndroidManifest.xml", &sample_manifest(true), false);
    t.before_cd = block(&[
        (sigblock::V2_BLOCK_ID, v2),
        (sigblock::V3_BLOCK_ID, v3),
        (sigblock::V2_BLOCK_ID, decoy),
    ]);
    let info = analyze(&SliceSource(&apk(t))).unwrap();
    let got: Vec<(Sha256, CertScheme)> = info
        .certificates
        .iter()
        .map(|c| (c.sha256.clone(), c.scheme))
        .collect();
    let mut want = vec![
        (Sha256::of(&fake_cert(3)), CertScheme::V2),
        (Sha256::of(&fake_cert(4)), CertScheme::V3),
        (Sha256::of(&fake_cert(3)), CertScheme::Lineage),
        (Sha256::of(&fake_cert(4)), CertScheme::Lineage),
        (Sha256::of(&fake_cert(5)), CertScheme::V2),
    ];
    want.sort();
    let mut got_sorted = got.clone();
    got_sorted.sort();
    assert_eq!(got_sorted, want);
}

#[test]
fn big_archive_is_read_in_few_rounds_and_few_bytes() {
    // 3 MB of stored filler before the manifest and many entries.
    let filler = vec![7u8; 3 << 20];
    let mut t = TestZip::new().entry("assets/big.bin", &filler, false);
    for i in 0..3000 {
        t = t.entry(&format!("res/drawable/icon_{i:05}.png"), b"png", false);
    }
    t = t
        .entry("AndroidManifest.xml", &sample_manifest(false), true)
        .entry("META-INF/CERT.RSA", &signed_data(&[fake_cert(1)]), true);
    let z = apk(t);
    let (info, rounds, bytes) = rounds_and_bytes(&z);
    assert_eq!(info.package.as_deref(), Some("com.example.app"));
    assert_eq!(info.certificates.len(), 1);
    assert_eq!(info.bytes_read, bytes as u64);
    assert!(rounds <= 3, "rounds {rounds}");
    assert!(bytes < 400_000, "bytes {bytes}");
}

fn rounds_and_bytes(z: &[u8]) -> (Fingerprint, u32, usize) {
    let mut probe = ApkProbe::new(z.len() as u64);
    let mut step = probe.start();
    let (mut rounds, mut bytes) = (0, 0);
    let src = SliceSource(z);
    loop {
        match step {
            Step::Done(info) => return (*info, rounds, bytes),
            Step::Need(r) => {
                rounds += 1;
                let d = crate::apk::ByteSource::read_ranges(&src, &r).unwrap();
                bytes += d.iter().map(Vec::len).sum::<usize>();
                step = probe.feed(d).unwrap();
            }
        }
    }
}

#[test]
fn prefixed_big_archive_costs_three_rounds() {
    let mut t = TestZip::new()
        .entry("AndroidManifest.xml", &sample_manifest(false), true)
        .entry("META-INF/CERT.RSA", &signed_data(&[fake_cert(1)]), true);
    for i in 0..3000 {
        t = t.entry(&format!("res/raw/file_{i:05}.bin"), b"x", false);
    }
    t.prefix = vec![0x11; 1 << 20];
    let z = apk(t);
    let (info, rounds, bytes) = rounds_and_bytes(&z);
    assert_eq!(info.package.as_deref(), Some("com.example.app"));
    assert_eq!(info.certificates.len(), 1);
    assert!(rounds <= 3, "rounds {rounds}");
    assert!(bytes < 700_000, "bytes {bytes}");
}

#[test]
fn truncated_central_directory_still_reads_the_manifest() {
    let z = apk(basic());
    // Claim one more byte of central directory than there is.
    let e = z.len() - 22;
    let mut z2 = z.clone();
    let size = u32::from_le_bytes(z[e + 12..e + 16].try_into().unwrap()) + 1;
    z2[e + 12..e + 16].copy_from_slice(&size.to_le_bytes());
    let info = analyze(&SliceSource(&z2)).unwrap();
    assert_eq!(info.package.as_deref(), Some("com.example.app"));
    assert!(!info.warnings.is_empty());
}

#[test]
fn sizes_zero_in_central_directory_use_the_deflate_stream_end() {
    let mut z = apk(basic());
    let e = z.len() - 22;
    let cd = u32::from_le_bytes(z[e + 16..e + 20].try_into().unwrap()) as usize;
    // Zero the manifest's sizes in its central directory record and local header.
    assert_eq!(&z[cd + 46..cd + 46 + 19], b"AndroidManifest.xml");
    z[cd + 20..cd + 28].fill(0);
    z[18..26].fill(0);
    let info = analyze(&SliceSource(&z)).unwrap();
    assert_eq!(info.package.as_deref(), Some("com.example.app"));
}

#[test]
fn empty_and_garbage_inputs_are_errors() {
    assert!(analyze(&SliceSource(&[])).is_err());
    assert!(analyze(&SliceSource(&[0u8; 1000])).is_err());
    let empty_zip = apk(TestZip::new());
    assert!(matches!(
        analyze(&SliceSource(&empty_zip)),
        Err(ApkError::NoManifest)
    ));
}

#[test]
fn feeding_wrong_counts_is_an_error() {
    let mut p = ApkProbe::new(100);
    let _ = p.start();
    assert!(p.feed(vec![]).is_err());
}

#[test]
fn name_filters() {
    assert!(is_v1_signature_block(b"META-INF/CERT.RSA"));
    assert!(is_v1_signature_block(b"META-INF/x.ec"));
    assert!(!is_v1_signature_block(b"META-INF/.RSA"));
    assert!(!is_v1_signature_block(b"META-INF/a/CERT.RSA"));
    assert!(!is_v1_signature_block(b"CERT.RSA"));
    assert_eq!(
        native_lib_name(b"lib/x86_64/libz.so").as_deref(),
        Some("libz.so")
    );
    assert_eq!(native_lib_name(b"lib/x86_64/a/libz.so"), None);
    assert_eq!(native_lib_name(b"lib//libz.so"), None);
    assert_eq!(native_lib_name(b"assets/lib/x/libz.so"), None);
}

#[test]
fn merge_ranges() {
    let m = merge(vec![
        ByteRange::new(100, 10),
        ByteRange::new(0, 10),
        ByteRange::new(20_000, 5),
    ]);
    assert_eq!(m, vec![ByteRange::new(0, 110), ByteRange::new(20_000, 5)]);
}
