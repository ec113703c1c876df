//! Binary manifests that amplify: a few KB of APK whose one element's 65,535 attributes all name
//! one long string (a gigabyte when each attribute decodes its own copy), and one whose many
//! elements each copy a long string into what is read (over the reader's limits). The same
//! APKs are read from a fake phone in `adb_scan`.

use super::*;
use crate::support::apkbuild::tools_available;
use crate::support::axmlbomb;

/// The amplifying APKs, written under `root`: (one string for every attribute, copies in every
/// element, the signer's SHA-256 of both).
pub fn bombs(root: &Path) -> (PathBuf, PathBuf, String) {
    let attrs = root.join("attrs/bomb.apk");
    let signer = axmlbomb::apk(
        &axmlbomb::one_string_for_every_attribute("com.example.attrbomb", 16_000),
        &attrs,
    );
    let copies = root.join("copies/bomb.apk");
    axmlbomb::apk(
        &axmlbomb::copies_in_every_element("com.example.copybomb", 200_000, 16_000),
        &copies,
    );
    (attrs, copies, signer)
}

/// The app of a one-APK report.
fn app(r: &Value) -> &Value {
    let apps = r["apps"].as_array().unwrap();
    assert_eq!(apps.len(), 1, "{r}");
    &apps[0]
}

#[test]
fn manifests_that_amplify_cost_bounded_memory_and_keep_what_they_say() {
    if !tools_available() {
        return;
    }
    let root = tempfile::tempdir().unwrap();
    let (attrs, copies, signer) = bombs(root.path());
    let size = std::fs::metadata(&attrs).unwrap().len();
    // A few KB: the deflated manifest, and the signing block padded to 4 KiB.
    assert!(size < 12 * 1024, "the amplification is {size} bytes of APK");
    let started = std::time::Instant::now();
    let (rc, doc, err) = scan_files(root.path(), &[&attrs, &copies]);
    assert!(started.elapsed().as_secs() < 30, "{:?}", started.elapsed());
    assert_eq!(rc, 1, "{err}");
    assert_tiktok_survives(&doc, root.path());

    // One string for every attribute: decoded once, the APK read whole.
    let r = report(&doc, &attrs);
    assert_eq!(r["status"], "clean", "{r}");
    let a = app(r);
    assert_eq!(a["id"], "com.example.attrbomb", "{r}");
    assert_eq!(a["version"], "6.6.6", "{r}");
    assert_eq!(a["signers_sha256"], serde_json::json!([signer]), "{r}");

    // Copies in every element: read up to the limit, what was read kept, the report says why.
    let r = report(&doc, &copies);
    assert_eq!(r["status"], "incomplete", "{r}");
    let problems = problem_text(r);
    assert!(problems.contains("APK manifest read in part"), "{problems}");
    assert!(problems.contains("16 MiB of decoded strings"), "{problems}");
    let a = app(r);
    assert_eq!(a["id"], "com.example.copybomb", "{r}");
    assert_eq!(a["version"], "6.6.6", "{r}");
    assert_eq!(a["signers_sha256"], serde_json::json!([signer]), "{r}");
    assert!(a.to_string().contains("over the limit of 16 MiB"), "{a}");
}
