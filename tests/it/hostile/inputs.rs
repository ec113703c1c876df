//! Inputs with no end or no sensible size: a secret file that is `/dev/zero`, and a flagged file
//! of 20 GB (sparse: it costs no disk) that `--hash flagged` must not read whole.

use super::*;

/// `/dev/zero` as the password file or the token file: an error naming the file and its limit,
/// at once, before anything is scanned or queued.
#[test]
fn secret_files_without_an_end_stop_at_their_limit() {
    let root = tempfile::tempdir().unwrap();
    let outbox = root.path().join("outbox");
    let backup = tiktok_backup(root.path());
    let ipa = tiktok(root.path());
    let cases: [(&str, Vec<&std::ffi::OsStr>, &str); 2] = [
        (
            "backup",
            vec![
                "--password-file".as_ref(),
                "/dev/zero".as_ref(),
                backup.as_os_str(),
            ],
            "password file /dev/zero is larger than the 4096-byte limit",
        ),
        (
            "files",
            vec![
                "--post".as_ref(),
                "http://127.0.0.1:9/hook".as_ref(),
                "--outbox".as_ref(),
                outbox.as_os_str(),
                "--post-token-file".as_ref(),
                "/dev/zero".as_ref(),
                ipa.as_os_str(),
            ],
            "token file /dev/zero is larger than the 16384-byte limit",
        ),
    ];
    for (source, args, says) in cases {
        let started = std::time::Instant::now();
        let out = appsweep_limited(MEM_MIB, SECS)
            .args(["scan", source, "--format", "json"])
            .args(args)
            .output()
            .unwrap();
        let err = stderr(&out);
        assert!(started.elapsed().as_secs() < 30, "{source}: {err}");
        assert_eq!(code(&out), 2, "{source}: {err}");
        assert!(err.contains(says), "{source}: {err}");
        assert!(out.stdout.is_empty(), "{source}: nothing is reported");
        assert!(!outbox.exists(), "{source}: nothing is queued");
    }
}

/// CRC-32 (IEEE), bit by bit: the zip entry below needs one.
fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in bytes {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

/// Writes a TikTok IPA of `hole` + a few hundred bytes at `path`: one stored `Info.plist`, then
/// a hole (sparse: it costs no disk) of `hole` bytes, then the central directory, found by its
/// Zip64 end records as any zip reader finds it.
fn sparse_ipa(path: &Path, hole: u64) {
    use std::io::{Seek, SeekFrom, Write};
    let name = b"Payload/TikTok.app/Info.plist";
    let body = format!(
        "<?xml version=\"1.0\"?><plist version=\"1.0\"><dict><key>CFBundleIdentifier</key>\
         <string>{TIKTOK}</string><key>CFBundleVersion</key><string>1</string></dict></plist>"
    );
    let (crc, len, nlen) = (
        crc32(body.as_bytes()),
        u32::try_from(body.len()).unwrap(),
        u16::try_from(name.len()).unwrap(),
    );
    // Version 2.0, no flags, stored, 1980-01-01 00:00.
    let common = |v: &mut Vec<u8>| {
        v.extend_from_slice(&[20, 0, 0, 0, 0, 0, 0, 0, 0x21, 0]);
        v.extend_from_slice(&crc.to_le_bytes());
        v.extend_from_slice(&len.to_le_bytes());
        v.extend_from_slice(&len.to_le_bytes());
        v.extend_from_slice(&nlen.to_le_bytes());
        v.extend_from_slice(&0u16.to_le_bytes());
    };
    let mut local = 0x0403_4b50u32.to_le_bytes().to_vec();
    common(&mut local);
    local.extend_from_slice(name);
    local.extend_from_slice(body.as_bytes());
    let cd_at = local.len() as u64 + hole;
    let mut cd = 0x0201_4b50u32.to_le_bytes().to_vec();
    cd.extend_from_slice(&20u16.to_le_bytes());
    common(&mut cd);
    cd.extend_from_slice(&[0; 6]); // comment length, disk, internal attributes
    cd.extend_from_slice(&[0; 4]); // external attributes
    cd.extend_from_slice(&0u32.to_le_bytes()); // the local header is at 0
    cd.extend_from_slice(name);
    let eocd64_at = cd_at + cd.len() as u64;
    let mut end = 0x0606_4b50u32.to_le_bytes().to_vec();
    end.extend_from_slice(&44u64.to_le_bytes());
    end.extend_from_slice(&[45, 0, 45, 0]);
    end.extend_from_slice(&[0; 8]); // this disk, the directory's disk
    end.extend_from_slice(&1u64.to_le_bytes());
    end.extend_from_slice(&1u64.to_le_bytes());
    end.extend_from_slice(&(cd.len() as u64).to_le_bytes());
    end.extend_from_slice(&cd_at.to_le_bytes());
    end.extend_from_slice(&0x0706_4b50u32.to_le_bytes());
    end.extend_from_slice(&0u32.to_le_bytes());
    end.extend_from_slice(&eocd64_at.to_le_bytes());
    end.extend_from_slice(&1u32.to_le_bytes());
    end.extend_from_slice(&0x0605_4b50u32.to_le_bytes());
    end.extend_from_slice(&[0, 0, 0, 0, 1, 0, 1, 0]);
    end.extend_from_slice(&u32::try_from(cd.len()).unwrap().to_le_bytes());
    end.extend_from_slice(&u32::MAX.to_le_bytes());
    end.extend_from_slice(&0u16.to_le_bytes());
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let mut f = std::fs::File::create(path).unwrap();
    f.write_all(&local).unwrap();
    f.seek(SeekFrom::Start(cd_at)).unwrap();
    f.write_all(&cd).unwrap();
    f.write_all(&end).unwrap();
}

/// A TikTok IPA of 20 GB (sparse: it costs no disk): found in seconds, and the record says why
/// its SHA-256 is absent. A 20 GB file whose end record points at nothing (a real IPA after a
/// 20 GB hole) is not searched whole for its directory: it costs a bounded read and says so.
#[test]
fn a_flagged_sparse_file_of_20_gb_is_not_read_whole() {
    let root = tempfile::tempdir().unwrap();
    let huge = root.path().join("huge/t.ipa");
    sparse_ipa(&huge, 20 << 30);
    let lost = root.path().join("lost/t.ipa");
    {
        use std::io::{Seek, SeekFrom, Write};
        let real = Ipa::new(TIKTOK).write(&root.path().join("real.ipa"));
        std::fs::create_dir_all(lost.parent().unwrap()).unwrap();
        let mut f = std::fs::File::create(&lost).unwrap();
        f.seek(SeekFrom::Start(20 << 30)).unwrap();
        f.write_all(&std::fs::read(&real).unwrap()).unwrap();
    }
    let started = std::time::Instant::now();
    let (rc, doc, err) = scan_files(root.path(), &[&huge, &lost]);
    assert!(started.elapsed().as_secs() < 30, "{:?}", started.elapsed());
    assert_eq!(rc, 1, "{err}");
    assert_tiktok_survives(&doc, root.path());
    let r = report(&doc, &huge);
    assert_eq!(r["status"], "violation", "{r}");
    assert_eq!(r["apps"][0]["file_sha256"], Value::Null, "{r}");
    let notes = r["notes"].to_string();
    assert!(notes.contains("SHA-256 not computed"), "{notes}");
    assert!(notes.contains("limit of --hash flagged"), "{notes}");
    let r = report(&doc, &lost);
    assert_incomplete(r, &["-byte limit for an IPA"]);
    // The TikTok beside them, small, is hashed.
    let small = report(&doc, &root.path().join("tiktok"));
    assert!(small["apps"][0]["file_sha256"].is_string(), "{small}");
}
