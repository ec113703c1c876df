//! Plists from hostile files, read through the one plist reader: an IPA whose `Info.plist`
//! nests 20,000 levels, or whose objects are shared to stand for 2^40 values, is a problem in
//! its own record, under an address-space cap and a time limit, and the TikTok beside it is
//! still found.

use crate::support::cmd::{appsweep_limited, code, json, stderr};
use crate::support::ipabuild::Ipa;
use serde_json::Value;
use std::path::{Path, PathBuf};

const MEM_MIB: u64 = 1024;
const SECS: u64 = 60;

/// `scan files` of `ipa` beside a TikTok IPA: TikTok must still be a violation; returns the
/// report of `ipa`.
fn scan_beside_tiktok(root: &Path, ipa: &Path) -> Value {
    let tiktok = Ipa::new("com.zhiliaoapp.musically").write(&root.join("tiktok/t.ipa"));
    let out = appsweep_limited(MEM_MIB, SECS)
        .args(["scan", "files", "--format", "json"])
        .arg(ipa)
        .arg(&tiktok)
        .output()
        .unwrap();
    let err = stderr(&out);
    assert_ne!(code(&out), 124, "timed out: {err}");
    assert_eq!(code(&out), 1, "{err}");
    let doc = json(&out);
    let find = |p: &Path| -> Value {
        doc["reports"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["device"]["id"] == p.to_str().unwrap())
            .cloned()
            .unwrap_or_else(|| panic!("no report for {}: {doc}", p.display()))
    };
    assert_eq!(find(&tiktok)["status"], "violation");
    find(ipa)
}

#[test]
fn a_deep_xml_plist_in_an_ipa_is_a_problem_not_a_crash() {
    let root = tempfile::tempdir().unwrap();
    let n = 20_000;
    let deep = format!(
        "<?xml version=\"1.0\"?><plist><dict><key>CFBundleIdentifier</key><string>x.y</string><key>k</key>{}{}</dict></plist>",
        "<array>".repeat(n),
        "</array>".repeat(n)
    );
    let ipa: PathBuf = Ipa::new("x.y")
        .raw_info(deep.into_bytes())
        .write(&root.path().join("deep/x.ipa"));
    let r = scan_beside_tiktok(root.path(), &ipa);
    assert_eq!(r["status"], "incomplete");
    assert!(
        r["problems"].to_string().contains("nested deeper than"),
        "{r}"
    );
}

#[test]
fn a_shared_object_plist_bomb_in_an_ipa_is_a_problem() {
    // Object 0: {"CFBundleIdentifier": object 1}; object i (1..=40) an array holding object i+1
    // twice; object 41: true; object 42: the key. 2^40 values once expanded, < 400 bytes.
    let n = 41u8;
    let mut objects: Vec<Vec<u8>> = vec![vec![0xD1, n + 1, 1]];
    objects.extend((1..n).map(|i| vec![0xA2, i + 1, i + 1]));
    objects.push(vec![0x09]);
    objects.push([&[0x5F, 0x10, 18][..], b"CFBundleIdentifier"].concat());
    let mut bin = b"bplist00".to_vec();
    let mut offsets = Vec::new();
    for o in &objects {
        offsets.push(bin.len() as u16);
        bin.extend_from_slice(o);
    }
    let table = bin.len() as u64;
    for o in offsets {
        bin.extend_from_slice(&o.to_be_bytes());
    }
    bin.extend_from_slice(&[0, 0, 0, 0, 0, 0, 2, 1]);
    bin.extend_from_slice(&(objects.len() as u64).to_be_bytes());
    bin.extend_from_slice(&0u64.to_be_bytes());
    bin.extend_from_slice(&table.to_be_bytes());
    assert!(bin.len() < 400, "{}", bin.len());
    let root = tempfile::tempdir().unwrap();
    let ipa = Ipa::new("x.y")
        .raw_info(bin)
        .write(&root.path().join("bomb/x.ipa"));
    let r = scan_beside_tiktok(root.path(), &ipa);
    assert_eq!(r["status"], "incomplete");
    assert!(
        r["problems"].to_string().contains("expands to more than"),
        "{r}"
    );
}
