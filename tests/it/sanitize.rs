//! Strings from a device, a file or a server reach a terminal or a spreadsheet defused: control
//! characters (ESC, BEL, CR, C1), bidi overrides and zero-width characters are escaped in human
//! and CSV output and in messages, and CSV cells a spreadsheet would run as formulas start
//! with `'`.

use crate::support::cmd::{appsweep, code, stderr};
use crate::support::ipabuild::Ipa;
use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};

/// Characters that must never reach the terminal raw.
const HAZARDS: [char; 8] = [
    '\x1b', '\x07', '\r', '\u{9b}', '\u{202e}', '\u{2067}', '\u{200b}', '\u{feff}',
];

fn assert_defused(what: &str, text: &str) {
    let raw: Vec<char> = text.chars().filter(|c| HAZARDS.contains(c)).collect();
    assert!(raw.is_empty(), "{what} carries {raw:?} raw:\n{text:?}");
}

/// A folder whose name, app label and broken file name are hostile, holding a real TikTok.
fn hostile_folder(root: &Path) -> PathBuf {
    let dir = root.join("phone\x1b]0;owned\x07\u{202e}kcatta");
    Ipa::new("com.zhiliaoapp.musically")
        .info(
            "CFBundleDisplayName",
            "Tik\x1b[2J\rTok\u{9b}31m\u{200b}\u{2067}\u{feff}",
        )
        .xml()
        .write(&dir.join("t.ipa"));
    std::fs::write(dir.join("x\x1b[8m\u{202e}kpa.apk"), b"not a zip").unwrap();
    dir
}

#[test]
fn human_output_and_messages_escape_what_files_carry() {
    let root = tempfile::tempdir().unwrap();
    let dir = hostile_folder(root.path());
    for args in [
        &["--format", "human", "--color", "never"][..],
        &["--format", "human", "--color", "always"][..],
    ] {
        let out = appsweep()
            .args(["scan", "files"])
            .arg(&dir)
            .args(args)
            .output()
            .unwrap();
        assert_eq!(code(&out), 1, "{}", stderr(&out));
        let text = String::from_utf8(out.stdout.clone()).unwrap();
        assert!(text.starts_with("VIOLATION") || args.contains(&"always"));
        // Colour codes appsweep adds itself are the only escapes, and only when asked for.
        let without_own_colour = text
            .replace("\x1b[0m", "")
            .replace("\x1b[1;31m", "")
            .replace("\x1b[31m", "")
            .replace("\x1b[33m", "");
        assert_defused("human stdout", &without_own_colour);
        assert!(
            text.contains("phone\\u{1b}]0;owned\\u{7}\\u{202e}kcatta"),
            "{text}"
        );
        assert!(text.contains("x\\u{1b}[8m\\u{202e}kpa.apk"), "{text}");
        assert_defused("stderr", &stderr(&out));
    }
}

#[test]
fn csv_escapes_hostile_cells_and_defuses_formulas() {
    let root = tempfile::tempdir().unwrap();
    let dir = hostile_folder(root.path());
    let formula = root.path().join("=HYPERLINK(\"http:,,x\")");
    Ipa::new("com.zhiliaoapp.musically").write(&formula.join("t.ipa"));
    let out = appsweep()
        .args(["scan", "files"])
        .arg(&dir)
        .arg(&formula)
        .args(["--format", "csv"])
        .output()
        .unwrap();
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    let text = String::from_utf8(out.stdout.clone()).unwrap();
    assert_defused("csv", &text);
    assert!(
        text.contains("Tik\\u{1b}[2J\\u{d}Tok\\u{9b}31m\\u{200b}\\u{2067}\\u{feff}"),
        "{text}"
    );
    // Every cell starts where a spreadsheet would look for a formula: none may start one.
    for line in text.lines().skip(1) {
        for cell in line.split(',') {
            let cell = cell.trim_start_matches('"');
            assert!(
                !cell.starts_with(['=', '+', '-', '@', '\t']),
                "formula cell {cell:?} in {line:?}"
            );
        }
    }
}

/// An adb server (host protocol) whose device list is hostile; answers `host:version` and
/// `host:devices-l` until the test ends.
fn hostile_adb_server(listing: &'static str) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(mut s) = conn else { continue };
            let mut len = [0u8; 4];
            if s.read_exact(&mut len).is_err() {
                continue;
            }
            let n = usize::from_str_radix(std::str::from_utf8(&len).unwrap(), 16).unwrap();
            let mut request = vec![0; n];
            s.read_exact(&mut request).unwrap();
            let body = match request.as_slice() {
                b"host:version" => "0029",
                b"host:devices-l" => listing,
                _ => "",
            };
            let _ = s.write_all(format!("OKAY{:04x}{body}", body.len()).as_bytes());
        }
    });
    addr
}

#[test]
fn devices_escapes_every_field_the_adb_server_sends() {
    let server = hostile_adb_server(
        "R58\x1b]0;x\x07M1 device\x1b[2J\u{202e} usb:1-1\x1b[8m product:p\r model:Pix\u{200b}el\x07 transport_id:1\n\
         EVIL\u{9b}2 unauthorized\x1b[31m transport_id:2\n",
    );
    let out = appsweep()
        .args(["devices", "--format", "human", "--adb-server", &server])
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout.clone()).unwrap();
    assert_eq!(code(&out), 3, "no device is in the `device` state: {text}");
    assert_defused("devices", &text);
    assert_defused("stderr", &stderr(&out));
    assert!(text.contains("R58\\u{1b}]0;x\\u{7}M1\t"), "{text}");
    assert!(text.contains("\tdevice\\u{1b}[2J\\u{202e}\t"), "{text}");
    assert!(
        text.contains("EVIL\\u{9b}2\tunauthorized\\u{1b}[31m"),
        "{text}"
    );
    assert!(text.contains("Pix\\u{200b}el\\u{7}"), "{text}");
}
