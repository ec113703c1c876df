//! A tiny AXML writer, and the parser against what it writes (both string encodings, resource
//! maps present or stripped, evasions seen in the wild).

use super::element::qualify;
use super::*;

/// A tiny AXML writer for tests.
pub(crate) struct AxmlBuilder {
    strings: Vec<String>,
    res_ids: Vec<u32>,
    nodes: Vec<u8>,
    pub utf8: bool,
    pub zero_size_end_ns: bool,
    /// End-element chunks declare a size of 0 (Android assumes their fixed size).
    pub zero_size_ends: bool,
}

pub(crate) enum V<'a> {
    S(&'a str),
    I(u32),
    Hex(u32),
    B(bool),
    R(u32),
}

const NS: &str = "http://schemas.android.com/apk/res/android";

impl AxmlBuilder {
    pub(crate) fn new(android_attrs: &[(&str, u32)]) -> Self {
        let mut b = Self {
            strings: Vec::new(),
            res_ids: Vec::new(),
            nodes: Vec::new(),
            utf8: false,
            zero_size_end_ns: false,
            zero_size_ends: false,
        };
        // Attribute names with resource ids come first in the pool.
        for (name, id) in android_attrs {
            b.strings.push((*name).to_string());
            b.res_ids.push(*id);
        }
        b.intern("android");
        b.intern(NS);
        let prefix = b.intern("android");
        let uri = b.intern(NS);
        b.node(RES_XML_START_NAMESPACE_TYPE, &[prefix, uri]);
        b
    }

    pub(crate) fn intern(&mut self, s: &str) -> u32 {
        if let Some(i) = self.strings.iter().position(|x| x == s) {
            return i as u32;
        }
        self.strings.push(s.to_string());
        (self.strings.len() - 1) as u32
    }

    fn node(&mut self, ty: u16, ext: &[u32]) {
        self.nodes.extend_from_slice(&ty.to_le_bytes());
        self.nodes.extend_from_slice(&16u16.to_le_bytes());
        self.nodes
            .extend_from_slice(&((16 + ext.len() * 4) as u32).to_le_bytes());
        self.nodes.extend_from_slice(&1u32.to_le_bytes());
        self.nodes.extend_from_slice(&NO_INDEX.to_le_bytes());
        for e in ext {
            self.nodes.extend_from_slice(&e.to_le_bytes());
        }
    }

    pub(crate) fn start(&mut self, name: &str, attrs: &[(bool, &str, V<'_>)]) -> &mut Self {
        let name_i = self.intern(name);
        let ns_i = self.intern(NS);
        let mut body = Vec::new();
        body.extend_from_slice(&NO_INDEX.to_le_bytes());
        body.extend_from_slice(&name_i.to_le_bytes());
        body.extend_from_slice(&20u16.to_le_bytes());
        body.extend_from_slice(&20u16.to_le_bytes());
        body.extend_from_slice(&(attrs.len() as u16).to_le_bytes());
        body.extend_from_slice(&[0u8; 6]);
        for (android, an, v) in attrs {
            let an_i = self.intern(an);
            let (ty, data, raw) = match v {
                V::S(s) => {
                    let i = self.intern(s);
                    (TYPE_STRING, i, i)
                }
                V::I(i) => (TYPE_INT_DEC, *i, NO_INDEX),
                V::Hex(i) => (TYPE_INT_HEX, *i, NO_INDEX),
                V::B(b) => (TYPE_INT_BOOLEAN, u32::from(*b) * 0xffff_ffff, NO_INDEX),
                V::R(r) => (TYPE_REFERENCE, *r, NO_INDEX),
            };
            body.extend_from_slice(&(if *android { ns_i } else { NO_INDEX }).to_le_bytes());
            body.extend_from_slice(&an_i.to_le_bytes());
            body.extend_from_slice(&raw.to_le_bytes());
            body.extend_from_slice(&8u16.to_le_bytes());
            body.push(0);
            body.push(ty);
            body.extend_from_slice(&data.to_le_bytes());
        }
        self.nodes
            .extend_from_slice(&RES_XML_START_ELEMENT_TYPE.to_le_bytes());
        self.nodes.extend_from_slice(&16u16.to_le_bytes());
        self.nodes
            .extend_from_slice(&((16 + body.len()) as u32).to_le_bytes());
        self.nodes.extend_from_slice(&1u32.to_le_bytes());
        self.nodes.extend_from_slice(&NO_INDEX.to_le_bytes());
        self.nodes.extend_from_slice(&body);
        self
    }

    pub(crate) fn end(&mut self, name: &str) -> &mut Self {
        let n = self.intern(name);
        let at = self.nodes.len();
        self.node(RES_XML_END_ELEMENT_TYPE, &[NO_INDEX, n]);
        if self.zero_size_ends {
            self.nodes[at + 4..at + 8].fill(0);
        }
        self
    }

    pub(crate) fn build(&mut self) -> Vec<u8> {
        let prefix = self.intern("android");
        let uri = self.intern(NS);
        let at = self.nodes.len();
        self.node(RES_XML_END_NAMESPACE_TYPE, &[prefix, uri]);
        let mut nodes = std::mem::take(&mut self.nodes);
        if self.zero_size_end_ns {
            nodes[at + 2..at + 8].fill(0);
        }
        // String pool.
        let mut data = Vec::new();
        let mut offsets = Vec::new();
        for s in &self.strings {
            offsets.push(data.len() as u32);
            if self.utf8 {
                data.push(s.chars().count() as u8);
                data.push(s.len() as u8);
                data.extend_from_slice(s.as_bytes());
                data.push(0);
            } else {
                let u: Vec<u16> = s.encode_utf16().collect();
                data.extend_from_slice(&(u.len() as u16).to_le_bytes());
                for x in u {
                    data.extend_from_slice(&x.to_le_bytes());
                }
                data.extend_from_slice(&[0, 0]);
            }
        }
        while data.len() % 4 != 0 {
            data.push(0);
        }
        let strings_start = 28 + offsets.len() * 4;
        let mut pool = Vec::new();
        pool.extend_from_slice(&RES_STRING_POOL_TYPE.to_le_bytes());
        pool.extend_from_slice(&28u16.to_le_bytes());
        pool.extend_from_slice(&((strings_start + data.len()) as u32).to_le_bytes());
        pool.extend_from_slice(&(offsets.len() as u32).to_le_bytes());
        pool.extend_from_slice(&0u32.to_le_bytes());
        pool.extend_from_slice(&(if self.utf8 { UTF8_FLAG } else { 0 }).to_le_bytes());
        pool.extend_from_slice(&(strings_start as u32).to_le_bytes());
        pool.extend_from_slice(&0u32.to_le_bytes());
        for o in offsets {
            pool.extend_from_slice(&o.to_le_bytes());
        }
        pool.extend_from_slice(&data);
        let mut map = Vec::new();
        map.extend_from_slice(&RES_XML_RESOURCE_MAP_TYPE.to_le_bytes());
        map.extend_from_slice(&8u16.to_le_bytes());
        map.extend_from_slice(&((8 + self.res_ids.len() * 4) as u32).to_le_bytes());
        for id in &self.res_ids {
            map.extend_from_slice(&id.to_le_bytes());
        }
        let total = 8 + pool.len() + map.len() + nodes.len();
        let mut out = Vec::new();
        out.extend_from_slice(&RES_XML_TYPE.to_le_bytes());
        out.extend_from_slice(&8u16.to_le_bytes());
        out.extend_from_slice(&(total as u32).to_le_bytes());
        out.extend(pool);
        out.extend(map);
        out.extend(nodes);
        out
    }
}

pub(crate) const ANDROID_ATTRS: &[(&str, u32)] = &[
    ("label", ATTR_LABEL),
    ("name", ATTR_NAME),
    ("authorities", ATTR_AUTHORITIES),
    ("value", ATTR_VALUE),
    ("versionCode", ATTR_VERSION_CODE),
    ("versionName", ATTR_VERSION_NAME),
    ("versionCodeMajor", ATTR_VERSION_CODE_MAJOR),
];

/// A typical manifest, for tests elsewhere too.
pub(crate) fn sample_manifest(utf8: bool) -> Vec<u8> {
    let mut b = AxmlBuilder::new(ANDROID_ATTRS);
    b.utf8 = utf8;
    b.start(
        "manifest",
        &[
            (true, "versionCode", V::I(7)),
            (true, "versionName", V::S("7.0")),
            (true, "versionCodeMajor", V::I(2)),
            (false, "package", V::S("com.example.app")),
        ],
    )
    .start(
        "uses-permission",
        &[(true, "name", V::S("android.permission.INTERNET"))],
    )
    .end("uses-permission")
    .start(
        "application",
        &[
            (true, "label", V::S("Example")),
            (true, "name", V::S(".App")),
        ],
    )
    .start("activity", &[(true, "name", V::S("Main"))])
    .start(
        "meta-data",
        &[(true, "name", V::S("inner")), (true, "value", V::B(true))],
    )
    .end("meta-data")
    .end("activity")
    .start(
        "activity-alias",
        &[(
            true,
            "name",
            V::S("com.ss.android.ugc.aweme.share.SystemShareActivity"),
        )],
    )
    .end("activity-alias")
    .start("service", &[(true, "name", V::S(".svc.S"))])
    .end("service")
    .start("receiver", &[(true, "name", V::S("org.other.R"))])
    .end("receiver")
    .start(
        "provider",
        &[
            (true, "name", V::S(".P")),
            (true, "authorities", V::S("a.b;c.d")),
        ],
    )
    .end("provider")
    .start(
        "meta-data",
        &[
            (true, "name", V::S("org.chromium.webapk.shell_apk.startUrl")),
            (true, "value", V::S("https://www.tiktok.com/")),
        ],
    )
    .end("meta-data")
    .start(
        "meta-data",
        &[(true, "name", V::S("hex")), (true, "value", V::Hex(255))],
    )
    .end("meta-data")
    .start(
        "meta-data",
        &[
            (true, "name", V::S("ref")),
            (true, "value", V::R(0x7f01_0001)),
        ],
    )
    .end("meta-data")
    .end("application")
    .end("manifest");
    b.build()
}

#[test]
fn parses_a_full_manifest_utf16_and_utf8() {
    for utf8 in [false, true] {
        let m = parse_manifest(&sample_manifest(utf8)).unwrap();
        assert_eq!(m.package.as_deref(), Some("com.example.app"));
        assert_eq!(m.version_code, Some((2u64 << 32) | 7));
        assert_eq!(m.version_name.as_deref(), Some("7.0"));
        assert_eq!(m.label.as_deref(), Some("Example"));
        assert_eq!(
            m.components,
            vec![
                "authority:a.b",
                "authority:c.d",
                "com.example.app.App",
                "com.example.app.Main",
                "com.example.app.P",
                "com.example.app.svc.S",
                "com.ss.android.ugc.aweme.share.SystemShareActivity",
                "org.other.R",
            ]
        );
        assert_eq!(m.permissions, vec!["android.permission.INTERNET"]);
        let md: Vec<(&str, &str)> = m
            .meta_data
            .iter()
            .map(|x| (x.name.as_str(), x.value.as_str()))
            .collect();
        assert_eq!(
            md,
            vec![
                ("hex", "0xff"),
                ("inner", "true"),
                (
                    "org.chromium.webapk.shell_apk.startUrl",
                    "https://www.tiktok.com/"
                ),
                ("ref", "@0x7f010001"),
            ]
        );
        assert!(m.warnings.is_empty(), "{:?}", m.warnings);
    }
}

#[test]
fn resource_ids_win_over_names() {
    // The resource map says the attribute called "versionName" is really versionCode:
    // Android goes by the id.
    let mut b = AxmlBuilder::new(&[("versionName", ATTR_VERSION_CODE), ("name", ATTR_NAME)]);
    b.start(
        "manifest",
        &[
            (true, "versionName", V::I(42)),
            (false, "package", V::S("p.q")),
        ],
    )
    .end("manifest");
    let m = parse_manifest(&b.build()).unwrap();
    assert_eq!(m.version_code, Some(42));
    assert_eq!(m.version_name, None);
}

#[test]
fn names_are_used_without_a_resource_map() {
    let mut b = AxmlBuilder::new(&[]);
    b.start(
        "manifest",
        &[
            (true, "versionCode", V::I(5)),
            (true, "versionName", V::S("five")),
            (false, "package", V::S("p.q")),
        ],
    )
    .end("manifest");
    let m = parse_manifest(&b.build()).unwrap();
    assert_eq!(m.version_code, Some(5));
    assert_eq!(m.version_name.as_deref(), Some("five"));
}

#[test]
fn zero_sized_end_namespace_is_tolerated() {
    let mut b = AxmlBuilder::new(ANDROID_ATTRS);
    b.zero_size_end_ns = true;
    b.start(
        "manifest",
        &[
            (true, "versionCode", V::I(1)),
            (false, "package", V::S("z.z")),
        ],
    )
    .end("manifest");
    let m = parse_manifest(&b.build()).unwrap();
    assert_eq!(m.package.as_deref(), Some("z.z"));
    assert_eq!(m.version_code, Some(1));
}

#[test]
fn garbage_is_an_error_and_truncation_never_panics() {
    assert!(parse_manifest(b"").is_err());
    assert!(parse_manifest(b"<?xml version='1.0'?><manifest/>").is_err());
    let full = sample_manifest(false);
    for cut in 0..full.len() {
        let _ = parse_manifest(&full[..cut]);
    }
}

#[test]
fn qualify_rules() {
    assert_eq!(qualify(Some("a.b"), ".C"), "a.b.C");
    assert_eq!(qualify(Some("a.b"), "C"), "a.b.C");
    assert_eq!(qualify(Some("a.b"), "x.C"), "x.C");
    assert_eq!(qualify(None, ".C"), ".C");
}

/// The amplification of a manifest: one element whose `attrs` attributes all name one string of
/// `len` characters, after a `manifest` element naming the package.
pub(crate) fn amplifying_manifest(attrs: usize, len: usize) -> Vec<u8> {
    let long = "x".repeat(len);
    let mut b = AxmlBuilder::new(ANDROID_ATTRS);
    b.start("manifest", &[(false, "package", V::S("com.example.bomb"))]);
    let list: Vec<(bool, &str, V<'_>)> = (0..attrs).map(|_| (false, "a", V::S(&long))).collect();
    b.start("application", &list)
        .end("application")
        .end("manifest");
    b.build()
}

/// `n` `uses-permission` elements each naming one string of `len` characters: every one is a
/// copy in the fingerprint.
fn copying_manifest(n: usize, len: usize) -> Vec<u8> {
    let long = format!("p.{}", "y".repeat(len));
    let mut b = AxmlBuilder::new(ANDROID_ATTRS);
    b.start(
        "manifest",
        &[
            (true, "versionCode", V::I(3)),
            (false, "package", V::S("com.example.copies")),
        ],
    );
    for _ in 0..n {
        b.start("uses-permission", &[(true, "name", V::S(&long))])
            .end("uses-permission");
    }
    b.end("manifest");
    b.build()
}

#[test]
fn a_string_named_by_every_attribute_is_decoded_once() {
    // 65,535 attributes naming one string of 16,000 characters: a gigabyte when each attribute
    // decodes its own copy.
    let bomb = amplifying_manifest(65_535, 16_000);
    let (m, spent) = parse_budgeted(&bomb);
    let m = m.unwrap();
    assert_eq!(m.package.as_deref(), Some("com.example.bomb"));
    assert_eq!(m.partial, None, "{:?}", m.warnings);
    assert!(
        spent.decoded() < 20_000,
        "{} bytes decoded",
        spent.decoded()
    );
}

#[test]
fn copies_into_the_fingerprint_stop_at_the_byte_budget_and_keep_what_was_read() {
    // 2,000 permissions of 10 KB each: 20 MB of copies of one string.
    let (m, spent) = parse_budgeted(&copying_manifest(2_000, 10_000));
    let m = m.unwrap();
    assert_eq!(m.package.as_deref(), Some("com.example.copies"));
    assert_eq!(m.version_code, Some(3));
    assert_eq!(m.permissions.len(), 1, "the copies are one permission");
    let why = m.partial.clone().unwrap_or_default();
    assert!(why.contains("16 MiB of decoded strings"), "{why}");
    assert!(m.warnings.iter().any(|w| w == &why), "{:?}", m.warnings);
    assert!(spent.decoded() <= MAX_DECODED_BYTES, "{}", spent.decoded());
    assert_eq!(spent.over(), Some("16 MiB of decoded strings"));
}

#[test]
fn elements_over_their_limit_stop_the_reading_utf8_too() {
    let mut b = AxmlBuilder::new(ANDROID_ATTRS);
    b.utf8 = true;
    b.start("manifest", &[(false, "package", V::S("com.example.many"))]);
    for _ in 0..MAX_ELEMENTS {
        b.start("uses-permission", &[(true, "name", V::S("p.q"))])
            .end("uses-permission");
    }
    b.end("manifest");
    let (m, spent) = parse_budgeted(&b.build());
    let m = m.unwrap();
    assert_eq!(m.package.as_deref(), Some("com.example.many"));
    assert_eq!(m.permissions, ["p.q"]);
    assert_eq!(spent.over(), Some("100,000 elements"));
    assert!(m.partial.unwrap().contains("100,000 elements"));
}

#[test]
fn attributes_over_their_limit_stop_the_reading() {
    let mut b = AxmlBuilder::new(ANDROID_ATTRS);
    b.start("manifest", &[(false, "package", V::S("com.example.attrs"))]);
    let list: Vec<(bool, &str, V<'_>)> = (0..65_535).map(|i| (false, "a", V::I(i))).collect();
    for _ in 0..(MAX_ATTRIBUTES / 65_535 + 1) {
        b.start("application", &list).end("application");
    }
    b.end("manifest");
    let (m, spent) = parse_budgeted(&b.build());
    let m = m.unwrap();
    assert_eq!(m.package.as_deref(), Some("com.example.attrs"));
    assert_eq!(spent.over(), Some("1,000,000 attributes"));
    assert!(m.partial.unwrap().contains("1,000,000 attributes"));
}

#[test]
fn a_limit_reached_before_the_package_is_an_error() {
    let mut b = AxmlBuilder::new(ANDROID_ATTRS);
    for _ in 0..=MAX_ELEMENTS {
        b.start("x", &[]).end("x");
    }
    b.start("manifest", &[(false, "package", V::S("late.package"))])
        .end("manifest");
    let e = parse_manifest(&b.build()).unwrap_err();
    assert!(
        matches!(
            e,
            AxmlError::OverBudget {
                what: "100,000 elements",
                ..
            }
        ),
        "{e}"
    );
    assert!(e.to_string().contains("before the package name"), "{e}");
}

#[test]
fn warnings_are_capped_with_a_count_of_the_rest() {
    let mut b = AxmlBuilder::new(ANDROID_ATTRS);
    b.zero_size_ends = true;
    b.start("manifest", &[(false, "package", V::S("w.w"))]);
    for _ in 0..100 {
        b.start("x", &[]).end("x");
    }
    b.end("manifest");
    let m = parse_manifest(&b.build()).unwrap();
    assert_eq!(m.package.as_deref(), Some("w.w"));
    assert_eq!(m.warnings.len(), 17, "{:?}", m.warnings);
    assert_eq!(m.warnings[16], "and 85 more warnings like these");
}

/// Decoded bytes and time for the amplifying manifest and the third-party manifests, printed
/// (`cargo test --lib decode_costs -- --ignored --nocapture`).
#[test]
#[ignore = "a measurement, not a check"]
fn decode_costs() {
    let root = std::path::Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/fixtures/third_party/axml/androguard"
    ));
    let mut inputs: Vec<(String, Vec<u8>)> = vec![(
        "amplifying (65,535 attributes x 16,000 chars)".into(),
        amplifying_manifest(65_535, 16_000),
    )];
    for e in std::fs::read_dir(root).unwrap() {
        let p = e.unwrap().path();
        inputs.push((p.display().to_string(), std::fs::read(&p).unwrap()));
    }
    for (name, bytes) in inputs {
        let reps = if bytes.len() > 100_000 { 3 } else { 2_000 };
        let t = std::time::Instant::now();
        let mut spent = 0;
        for _ in 0..reps {
            spent = parse_budgeted(&bytes).1.decoded();
        }
        println!(
            "{name}: {} bytes, {spent} bytes decoded, {:?} per parse",
            bytes.len(),
            t.elapsed() / reps
        );
    }
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(12))]
    #[test]
    fn the_reader_stays_within_its_budget(
        attrs in 0usize..65_536,
        len in 0usize..20_000,
        elements in 1usize..40,
    ) {
        let long = "z".repeat(len);
        let mut b = AxmlBuilder::new(ANDROID_ATTRS);
        b.start("manifest", &[(false, "package", V::S("p.q"))]);
        let list: Vec<(bool, &str, V<'_>)> = (0..attrs).map(|_| (true, "name", V::S(&long))).collect();
        for _ in 0..elements {
            b.start("uses-permission", &list).end("uses-permission");
        }
        b.end("manifest");
        let (m, spent) = parse_budgeted(&b.build());
        let m = m.unwrap();
        proptest::prop_assert_eq!(m.package.as_deref(), Some("p.q"));
        proptest::prop_assert!(spent.decoded() <= MAX_DECODED_BYTES);
        // The one string, its name and copy (one permission per element), the package: within.
        proptest::prop_assert!(spent.decoded() <= 2 * len + 64 + elements * (len + 8));
    }
}
