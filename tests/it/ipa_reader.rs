//! The IPA reader through the library, on IPAs the support builder writes: bundle id, version
//! and App Store id from XML and binary plists, what is not an app, and the limits on what an
//! IPA may cost.

use std::io::{self, Cursor, Read, Seek, SeekFrom};

use appsweep::ipa::{analyze, IpaError};

use crate::support::ipabuild::Ipa;

const TIKTOK: &str = "com.zhiliaoapp.musically";

fn tiktok() -> Ipa {
    Ipa::new(TIKTOK)
        .info("CFBundleShortVersionString", "33.2.3")
        .info("CFBundleVersion", "332003")
        .info("CFBundleDisplayName", "TikTok")
        // A framework's Info.plist is not the app's.
        .file(
            "Payload/App.app/Frameworks/X.framework/Info.plist",
            b"not the app",
        )
}

#[test]
fn reads_bundle_and_store_id_from_xml_and_binary_plists() {
    let ipa = tiktok()
        .item_id(835599320)
        .metadata("itemName", "TikTok")
        .metadata("artistName", "TikTok Ltd.");
    for ipa in [ipa.bytes(), ipa.xml().bytes()] {
        let info = analyze(Cursor::new(ipa)).unwrap();
        assert_eq!(info.bundle_id.as_deref(), Some(TIKTOK));
        assert_eq!(info.version.as_deref(), Some("33.2.3"));
        assert_eq!(info.app_store_id, Some(835599320));
        assert_eq!(info.seller.as_deref(), Some("TikTok Ltd."));
        assert_eq!(info.app_dir.as_deref(), Some("Payload/App.app"));
    }
}

#[test]
fn garbage_and_missing_info_are_errors() {
    assert!(analyze(Cursor::new(b"garbage".to_vec())).is_err());
    let empty = Ipa::new(TIKTOK)
        .no_info_plist()
        .file("readme.txt", b"")
        .bytes();
    assert!(matches!(
        analyze(Cursor::new(empty)),
        Err(IpaError::NoInfoPlist)
    ));
}

#[test]
fn an_oversized_plist_says_so() {
    // 9 MiB of zeros compresses to a few kilobytes.
    let ipa = Ipa::new(TIKTOK).raw_info(vec![0u8; 9 << 20]).bytes();
    assert!(ipa.len() < 100_000);
    let e = analyze(Cursor::new(ipa)).unwrap_err();
    assert!(matches!(e, IpaError::TooLarge { .. }), "{e}");
    assert!(e.to_string().contains("8388608-byte limit"), "{e}");
}

/// `hole` zeros, then `tail`: a sparse file without the disk.
struct Sparse {
    hole: u64,
    tail: Vec<u8>,
    pos: u64,
}

impl Read for Sparse {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let mut n = 0;
        for b in buf.iter_mut() {
            let Some(at) = self.pos.checked_sub(self.hole) else {
                *b = 0;
                self.pos += 1;
                n += 1;
                continue;
            };
            match self.tail.get(at as usize) {
                Some(v) => *b = *v,
                None => break,
            }
            self.pos += 1;
            n += 1;
        }
        Ok(n)
    }
}

impl Seek for Sparse {
    fn seek(&mut self, pos: SeekFrom) -> io::Result<u64> {
        let end = self.hole + self.tail.len() as u64;
        self.pos = match pos {
            SeekFrom::Start(p) => p,
            SeekFrom::End(d) => end.checked_add_signed(d).unwrap(),
            SeekFrom::Current(d) => self.pos.checked_add_signed(d).unwrap(),
        };
        Ok(self.pos)
    }
}

#[test]
fn a_huge_file_costs_no_more_than_the_read_budget() {
    // A real IPA after 20 GB of zeros: its directory is not where its end record says, and
    // the zip reader would search the whole hole for it.
    for tail in [tiktok().bytes(), Vec::new()] {
        let e = analyze(Sparse {
            hole: 20 << 30,
            tail,
            pos: 0,
        })
        .unwrap_err();
        assert!(
            e.to_string().contains("67108864-byte limit for an IPA"),
            "{e}"
        );
    }
}

#[test]
fn an_unreadable_itunes_metadata_does_not_hide_the_app() {
    let ipa = Ipa::new(TIKTOK)
        .raw_metadata(b"<plist><dict><key>itemId</key>".to_vec())
        .bytes();
    let info = analyze(Cursor::new(ipa)).unwrap();
    assert_eq!(info.bundle_id.as_deref(), Some(TIKTOK));
    assert_eq!(info.app_store_id, None);
    let e = info.metadata_error.unwrap();
    assert!(
        matches!(e, IpaError::Plist { ref entry, .. } if entry == "iTunesMetadata.plist"),
        "{e}"
    );
}
