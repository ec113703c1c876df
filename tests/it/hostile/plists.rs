//! Plists from hostile files, read through the one plist reader: an IPA whose `Info.plist`
//! nests 20,000 levels, or whose objects are shared to stand for 2^40 values, is a problem in
//! its own record, under an address-space cap and a time limit, and the TikTok beside it is
//! still found.

use super::*;
use crate::support::bplist::{ascii, bplist, chain};
use appsweep::plists::{parse_value, PlistError};

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
    assert_ne!(code(&out), 137, "killed (time limit): {err}");
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
    assert_incomplete(&r, &["nested deeper than"]);
}

/// `{key: bomb}` where the bomb is 40 arrays, each holding the next one twice: 2^40 values once
/// expanded, under 400 bytes stored. Object 0 is the dict, 1..=40 the arrays, 41 `true`, 42 the
/// key.
fn node_bomb(key: &str) -> Vec<u8> {
    let n = 41u8;
    let mut objects: Vec<Vec<u8>> = vec![vec![0xD1, n + 1, 1]];
    objects.extend((1..n).map(|i| vec![0xA2, i + 1, i + 1]));
    objects.push(vec![0x09]);
    objects.push(ascii(key));
    let bin = bplist(&objects);
    assert!(bin.len() < 400, "{}", bin.len());
    bin
}

#[test]
fn a_shared_object_plist_bomb_in_an_ipa_is_a_problem() {
    let root = tempfile::tempdir().unwrap();
    let ipa = Ipa::new("x.y")
        .raw_info(node_bomb("CFBundleIdentifier"))
        .write(&root.path().join("bomb/x.ipa"));
    let r = scan_beside_tiktok(root.path(), &ipa);
    assert_incomplete(&r, &["expands to more than"]);
}

#[test]
fn a_shared_object_bomb_as_an_ipa_itunes_metadata_is_a_problem_and_the_app_is_still_read() {
    let root = tempfile::tempdir().unwrap();
    let ipa = Ipa::new(TIKTOK)
        .raw_metadata(node_bomb("itemId"))
        .write(&root.path().join("meta/x.ipa"));
    let r = scan_beside_tiktok(root.path(), &ipa);
    // Info.plist was read: the app is known and still a violation; the metadata says why not.
    assert_eq!(r["status"], "violation", "{r}");
    assert!(problem_text(&r).contains("expands to more than"), "{r}");
}

#[test]
fn shared_object_bombs_in_every_backup_plist_are_problems_and_the_rest_is_read() {
    let root = tempfile::tempdir().unwrap();
    let backup = |name: &str, udid: &str| Backup::new(udid).write(&root.path().join(name));
    let info = backup("info", "00008101-000A1B2C3D4E5F70");
    std::fs::write(info.join("Info.plist"), node_bomb("Applications")).unwrap();
    let manifest = backup("manifest", "00008101-000A1B2C3D4E5F71");
    std::fs::write(manifest.join("Manifest.plist"), node_bomb("Applications")).unwrap();
    let status = backup("status", "00008101-000A1B2C3D4E5F72");
    std::fs::write(status.join("Status.plist"), node_bomb("IsFullBackup")).unwrap();
    let meta = Backup::new("00008101-000A1B2C3D4E5F73")
        .info_app_raw("com.example.notes", node_bomb("itemId"))
        .write(&root.path().join("itunes-metadata"));

    let (rc, doc, err) = scan_backups(root.path(), &[&info, &manifest, &status, &meta], &[]);
    assert_eq!(rc, 1, "{err}");
    assert_tiktok_survives(&doc, root.path());
    for (dir, file) in [
        (&info, "Info.plist"),
        (&manifest, "Manifest.plist"),
        (&status, "Status.plist"),
        (&meta, "iTunesMetadata"),
    ] {
        let r = report(&doc, dir);
        assert_incomplete(r, &[file, "expands to more than"]);
        // Manifest.db is still read.
        assert!(
            r["apps"].to_string().contains("com.apple.Pages"),
            "{file}: {r}"
        );
    }
}

/// `{"CFBundleIdentifier": "x.y", "k": [1 MiB string x 2000]}`: 2 GiB once built, 1 MiB stored.
fn shared_string_bomb() -> Vec<u8> {
    let mut big = vec![0x5F, 0x12];
    big.extend_from_slice(&(1u32 << 20).to_be_bytes());
    big.resize(big.len() + (1 << 20), b'x');
    let mut array = vec![0xAF, 0x11];
    array.extend_from_slice(&2000u16.to_be_bytes());
    array.extend(std::iter::repeat_n(2u8, 2000));
    bplist(&[
        vec![0xD2, 3, 5, 4, 1],
        array,
        big,
        ascii("CFBundleIdentifier"),
        ascii("x.y"),
        ascii("k"),
    ])
}

#[test]
fn a_shared_string_bomb_in_an_ipa_is_a_problem() {
    let root = tempfile::tempdir().unwrap();
    let ipa = Ipa::new("x.y")
        .raw_info(shared_string_bomb())
        .write(&root.path().join("strings/x.ipa"));
    let r = scan_beside_tiktok(root.path(), &ipa);
    assert_incomplete(&r, &["bytes of strings and data"]);
}

#[test]
fn plist_bombs_in_a_backup_are_problems_and_the_rest_is_read() {
    let root = tempfile::tempdir().unwrap();
    let bomb = Backup::new("00008101-000A1B2C3D4E5F62").write(&root.path().join("bomb"));
    std::fs::write(bomb.join("Info.plist"), shared_string_bomb()).unwrap();
    let deep = Backup::new("00008101-000A1B2C3D4E5F63").write(&root.path().join("deep"));
    let n = 20_000;
    std::fs::write(
        deep.join("Status.plist"),
        format!(
            "<plist><dict><key>k</key>{}{}</dict></plist>",
            "<array>".repeat(n),
            "</array>".repeat(n)
        ),
    )
    .unwrap();
    let (rc, doc, err) = scan_backups(root.path(), &[&bomb, &deep], &[]);
    assert_eq!(rc, 1, "{err}");
    assert_tiktok_survives(&doc, root.path());
    let r = report(&doc, &bomb);
    assert_incomplete(r, &["Info.plist is corrupt", "bytes of strings and data"]);
    // Manifest.plist and Manifest.db were still read.
    assert!(r["apps"].to_string().contains("com.apple.Pages"), "{r}");
    let r = report(&doc, &deep);
    assert_incomplete(r, &["nested deeper than"]);
}

// The reader itself, on the same shapes: each limit is met by its own error, and the same
// shapes within the limits still parse.

#[test]
fn a_binary_plist_nested_200000_deep_is_an_error_not_a_crash() {
    assert!(matches!(
        parse_value(&chain(200_000)),
        Err(PlistError::TooDeep)
    ));
}

#[test]
fn shared_objects_cannot_expand_without_bound() {
    // Object i is an array holding object i+1 twice: 41 objects, 2^40 values expanded.
    let n = 41u8;
    let mut objects: Vec<Vec<u8>> = (0..n - 1).map(|i| vec![0xA2, i + 1, i + 1]).collect();
    objects.push(vec![0x09]); // true
    let bomb = bplist(&objects);
    assert!(bomb.len() < 400, "{}", bomb.len());
    assert!(matches!(parse_value(&bomb), Err(PlistError::TooManyNodes)));
    // The same shape 20 levels deep (a million values) is within the budget and parses.
    let mut small: Vec<Vec<u8>> = (0..19u8).map(|i| vec![0xA2, i + 1, i + 1]).collect();
    small.push(vec![0x09]);
    assert!(parse_value(&bplist(&small)).is_ok());
    // Dictionaries share too: keys and values all pointing at one child.
    let mut dicts: Vec<Vec<u8>> = (0..n - 1).map(|i| vec![0xD2, n, n, i + 1, i + 1]).collect();
    dicts.push(vec![0x09]);
    dicts.push(vec![0x51, b'k']);
    assert!(matches!(
        parse_value(&bplist(&dicts)),
        Err(PlistError::TooManyNodes)
    ));
}

#[test]
fn shared_strings_cannot_expand_without_bound() {
    // An array of 250 references to one 2 MiB data object: 500 MiB of copies from 2 MiB.
    let mut data = vec![0x4F, 0x12];
    data.extend_from_slice(&(2u32 << 20).to_be_bytes());
    data.resize(data.len() + (2 << 20), b'x');
    let mut array = vec![0xAF, 0x10, 250];
    array.extend(std::iter::repeat_n(1u8, 250));
    let bomb = bplist(&[array, data.clone()]);
    assert!(matches!(parse_value(&bomb), Err(PlistError::TooManyBytes)));
    // Twenty copies (40 MiB) are within the budget.
    let mut array = vec![0xAF, 0x10, 20];
    array.extend(std::iter::repeat_n(1u8, 20));
    assert!(parse_value(&bplist(&[array, data])).is_ok());
    // UTF-16 strings count three bytes a unit.
    let mut utf16 = vec![0x6F, 0x12];
    utf16.extend_from_slice(&(1u32 << 20).to_be_bytes());
    utf16.resize(utf16.len() + (2 << 20), 0x41);
    let mut array = vec![0xAF, 0x10, 100];
    array.extend(std::iter::repeat_n(1u8, 100));
    assert!(matches!(
        parse_value(&bplist(&[array, utf16])),
        Err(PlistError::TooManyBytes)
    ));
}
