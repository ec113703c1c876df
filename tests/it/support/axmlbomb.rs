//! Binary manifests that amplify, written byte by byte (no tool writes them), and real APKs
//! around them: a zip made by the `zip` crate, aligned by `zipalign` and signed by `apksigner`.
//!
//! - [`one_string_for_every_attribute`]: one element whose 65,535 attributes all name one long
//!   string (a few kilobytes of APK; decoding a copy per attribute costs a gigabyte).
//! - [`copies_in_every_element`]: many `uses-permission` elements naming one long string, each
//!   a copy in what is read (over the reader's limits).
#![allow(dead_code)]

use std::io::Write;
use std::path::Path;

use super::apkbuild;

const XML: u16 = 0x0003;
const POOL: u16 = 0x0001;
const START: u16 = 0x0102;
const END: u16 = 0x0103;
const NONE: u32 = 0xffff_ffff;
const TYPE_STRING: u8 = 0x03;

/// A binary XML document: a UTF-16 string pool and element chunks (no namespaces, no resource
/// map: `android:` attributes are then found by name, as Android's parser does).
#[derive(Default)]
struct Axml {
    strings: Vec<String>,
    nodes: Vec<u8>,
}

impl Axml {
    fn s(&mut self, s: &str) -> u32 {
        let i = self.strings.iter().position(|x| x == s).unwrap_or_else(|| {
            self.strings.push(s.to_string());
            self.strings.len() - 1
        });
        u32::try_from(i).unwrap()
    }

    /// `<name a1="v1" ...>`, every value a string.
    fn start(&mut self, name: &str, attrs: &[(u32, u32)]) {
        let name = self.s(name);
        let len = 16 + 20 + attrs.len() * 20;
        self.nodes.extend_from_slice(&START.to_le_bytes());
        self.nodes.extend_from_slice(&16u16.to_le_bytes());
        self.nodes
            .extend_from_slice(&u32::try_from(len).unwrap().to_le_bytes());
        self.nodes.extend_from_slice(&1u32.to_le_bytes());
        self.nodes.extend_from_slice(&NONE.to_le_bytes());
        self.nodes.extend_from_slice(&NONE.to_le_bytes());
        self.nodes.extend_from_slice(&name.to_le_bytes());
        self.nodes.extend_from_slice(&20u16.to_le_bytes());
        self.nodes.extend_from_slice(&20u16.to_le_bytes());
        self.nodes
            .extend_from_slice(&u16::try_from(attrs.len()).unwrap().to_le_bytes());
        self.nodes.extend_from_slice(&[0; 6]);
        for (n, v) in attrs {
            self.nodes.extend_from_slice(&NONE.to_le_bytes());
            self.nodes.extend_from_slice(&n.to_le_bytes());
            self.nodes.extend_from_slice(&v.to_le_bytes());
            self.nodes.extend_from_slice(&[8, 0, 0, TYPE_STRING]);
            self.nodes.extend_from_slice(&v.to_le_bytes());
        }
    }

    fn end(&mut self, name: &str) {
        let name = self.s(name);
        self.nodes.extend_from_slice(&END.to_le_bytes());
        self.nodes.extend_from_slice(&16u16.to_le_bytes());
        self.nodes.extend_from_slice(&24u32.to_le_bytes());
        self.nodes.extend_from_slice(&1u32.to_le_bytes());
        self.nodes.extend_from_slice(&NONE.to_le_bytes());
        self.nodes.extend_from_slice(&NONE.to_le_bytes());
        self.nodes.extend_from_slice(&name.to_le_bytes());
    }

    fn build(self) -> Vec<u8> {
        let mut data = Vec::new();
        let mut offsets = Vec::new();
        for s in &self.strings {
            offsets.push(u32::try_from(data.len()).unwrap());
            let units: Vec<u16> = s.encode_utf16().collect();
            let n = units.len();
            if n > 0x7fff {
                let n = u32::try_from(n).unwrap();
                data.extend_from_slice(&(0x8000 | (n >> 16) as u16).to_le_bytes());
                data.extend_from_slice(&(n as u16).to_le_bytes());
            } else {
                data.extend_from_slice(&(n as u16).to_le_bytes());
            }
            for u in units {
                data.extend_from_slice(&u.to_le_bytes());
            }
            data.extend_from_slice(&[0, 0]);
        }
        while data.len() % 4 != 0 {
            data.push(0);
        }
        let start = 28 + offsets.len() * 4;
        let mut out = Vec::new();
        let total = 8 + start + data.len() + self.nodes.len();
        out.extend_from_slice(&XML.to_le_bytes());
        out.extend_from_slice(&8u16.to_le_bytes());
        out.extend_from_slice(&u32::try_from(total).unwrap().to_le_bytes());
        out.extend_from_slice(&POOL.to_le_bytes());
        out.extend_from_slice(&28u16.to_le_bytes());
        out.extend_from_slice(&u32::try_from(start + data.len()).unwrap().to_le_bytes());
        out.extend_from_slice(&u32::try_from(offsets.len()).unwrap().to_le_bytes());
        out.extend_from_slice(&0u32.to_le_bytes());
        out.extend_from_slice(&0u32.to_le_bytes()); // UTF-16
        out.extend_from_slice(&u32::try_from(start).unwrap().to_le_bytes());
        out.extend_from_slice(&0u32.to_le_bytes());
        for o in offsets {
            out.extend_from_slice(&o.to_le_bytes());
        }
        out.extend(data);
        out.extend(self.nodes);
        out
    }
}

/// `<manifest package versionName>` opened, for `f` to fill.
fn manifest(package: &str, f: impl FnOnce(&mut Axml)) -> Vec<u8> {
    let mut x = Axml::default();
    let (p, pv, vn, vv) = (
        x.s("package"),
        x.s(package),
        x.s("versionName"),
        x.s("6.6.6"),
    );
    x.start("manifest", &[(p, pv), (vn, vv)]);
    f(&mut x);
    x.end("manifest");
    x.build()
}

/// One `<application>` whose 65,535 attributes all name one string of `chars` characters.
pub fn one_string_for_every_attribute(package: &str, chars: usize) -> Vec<u8> {
    manifest(package, |x| {
        let (a, long) = (x.s("a"), x.s(&"x".repeat(chars)));
        x.start("application", &vec![(a, long); 65_535]);
        x.end("application");
    })
}

/// `n` `<uses-permission android:name>` elements all naming one string of `chars` characters.
pub fn copies_in_every_element(package: &str, n: usize, chars: usize) -> Vec<u8> {
    manifest(package, |x| {
        let (name, long) = (x.s("name"), x.s(&format!("p.{}", "y".repeat(chars))));
        for _ in 0..n {
            x.start("uses-permission", &[(name, long)]);
            x.end("uses-permission");
        }
    })
}

/// A real APK at `out` holding `manifest` (deflated, as any APK's manifest) and nothing else,
/// aligned and signed (v2) by the test key `a`; returns the signer's SHA-256 as apksigner
/// prints it.
pub fn apk(manifest: &[u8], out: &Path) -> String {
    let dir = out.parent().unwrap();
    std::fs::create_dir_all(dir).unwrap();
    let unaligned = dir.join(format!(
        "{}.unaligned",
        out.file_name().unwrap().to_string_lossy()
    ));
    {
        let mut z = zip::ZipWriter::new(std::fs::File::create(&unaligned).unwrap());
        let opts = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated);
        z.start_file("AndroidManifest.xml", opts).unwrap();
        z.write_all(manifest).unwrap();
        z.finish().unwrap();
    }
    let signer = apkbuild::align_and_sign_v2(&unaligned, out);
    std::fs::remove_file(&unaligned).unwrap();
    signer
}
