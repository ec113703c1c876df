//! Builds real APKs with Google's tools as packaged by Debian: `aapt` (manifest compilation and
//! packaging), `zipalign`, `keytool` (RSA-2048 keys) and `apksigner` (v1/v2/v3 signing, key
//! rotation). Ground truth comes from the tools, not from appsweep: `apksigner verify
//! --print-certs -v` for the signers and schemes, `keytool -exportcert` + SHA-256 for each key.
//!
//! Use from a test file with `#[path = "support/apkbuild.rs"] mod apkbuild;`.
//! Keys are generated once per test process into a temp folder and reused.
#![allow(dead_code)]

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use sha2::{Digest, Sha256};

pub const FRAMEWORK_RES: &str = "/usr/share/android-framework-res/framework-res.apk";
const PASS: &str = "appsweep-test";

/// How to sign.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signing {
    Unsigned,
    V1,
    V2,
    V3,
    V1V2V3,
    /// Old key `a`, new key `b`, proof-of-rotation lineage a → b; v1/v2 by `a`, v3 by `b`.
    Rotated,
}

/// What to put in a test APK.
#[derive(Debug, Clone)]
pub struct ApkSpec {
    pub package: String,
    pub version_code: u32,
    pub version_code_major: Option<u32>,
    pub version_name: String,
    pub label: String,
    pub min_sdk: u32,
    /// Extra XML inside `<application>` (activities, services, providers...).
    pub components_xml: String,
    /// `<meta-data>` under `<application>`.
    pub meta_data: Vec<(String, String)>,
    pub permissions: Vec<String>,
    /// Native libraries as `<abi>/<file>.so`, e.g. `arm64-v8a/libfoo.so`.
    pub native_libs: Vec<String>,
    /// Size of a stored, incompressible `assets/big.bin` (0 for none).
    pub big_asset: u64,
    pub signing: Signing,
    /// File name of the APK inside the build folder.
    pub file_name: String,
}

impl ApkSpec {
    pub fn new(package: &str, signing: Signing) -> Self {
        Self {
            package: package.to_string(),
            version_code: 1,
            version_code_major: None,
            version_name: "1.0".to_string(),
            label: "Test".to_string(),
            min_sdk: 21,
            components_xml: String::new(),
            meta_data: Vec::new(),
            permissions: Vec::new(),
            native_libs: Vec::new(),
            big_asset: 0,
            signing,
            file_name: format!("{package}.apk"),
        }
    }
}

/// A built APK and the tools' ground truth about it.
#[derive(Debug, Clone)]
pub struct BuiltApk {
    pub path: PathBuf,
    /// Signer certificate SHA-256 digests as `apksigner verify --print-certs -v` prints them.
    pub signer_sha256s: Vec<String>,
    /// Schemes apksigner says verified (`v1`, `v2`, `v3`).
    pub verified_schemes: BTreeSet<String>,
    /// `keytool -exportcert` digests of the keys used: `[a]`, or `[a, b]` when rotated.
    pub key_sha256s: Vec<String>,
}

/// True when the tools are present. When one is missing, panics unless
/// `APPSWEEP_SKIP_TOOL_TESTS=1` (then the caller skips).
pub fn tools_available() -> bool {
    let missing: Vec<&str> = ["aapt", "zipalign", "apksigner", "keytool"]
        .into_iter()
        .filter(|t| {
            Command::new("sh")
                .arg("-c")
                .arg(format!("command -v {t}"))
                .output()
                .map(|o| !o.status.success())
                .unwrap_or(true)
        })
        .collect();
    let framework = Path::new(FRAMEWORK_RES).is_file();
    if missing.is_empty() && framework {
        return true;
    }
    if std::env::var("APPSWEEP_SKIP_TOOL_TESTS").as_deref() == Ok("1") {
        eprintln!("skipping: missing {missing:?} (framework-res present: {framework})");
        return false;
    }
    panic!("missing tools {missing:?} (framework-res present: {framework}); install aapt zipalign apksigner android-framework-res, or set APPSWEEP_SKIP_TOOL_TESTS=1");
}

fn run(cmd: &mut Command) -> String {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

pub fn sha256_hex(b: &[u8]) -> String {
    Sha256::digest(b)
        .iter()
        .map(|x| format!("{x:02x}"))
        .collect()
}

/// A keystore with one RSA-2048 key.
#[derive(Debug, Clone)]
pub struct Key {
    pub keystore: PathBuf,
    pub alias: String,
    pub cert_sha256: String,
}

struct Keys {
    a: Key,
    b: Key,
    lineage: PathBuf,
}

fn keys() -> &'static Keys {
    static KEYS: OnceLock<Keys> = OnceLock::new();
    KEYS.get_or_init(|| {
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
            .join(format!("apkbuild-keys-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let make = |alias: &str| {
            let ks = dir.join(format!("{alias}.jks"));
            run(Command::new("keytool")
                .args(["-genkeypair", "-keystore"])
                .arg(&ks)
                .args([
                    "-alias",
                    alias,
                    "-keyalg",
                    "RSA",
                    "-keysize",
                    "2048",
                    "-validity",
                    "10000",
                    "-storepass",
                    PASS,
                    "-keypass",
                    PASS,
                    "-dname",
                ])
                .arg(format!("CN=appsweep test {alias}, O=appsweep")));
            let der = Command::new("keytool")
                .args(["-exportcert", "-keystore"])
                .arg(&ks)
                .args(["-alias", alias, "-storepass", PASS])
                .output()
                .unwrap();
            assert!(der.status.success());
            Key {
                keystore: ks,
                alias: alias.to_string(),
                cert_sha256: sha256_hex(&der.stdout),
            }
        };
        let (a, b) = std::thread::scope(|s| {
            let ha = s.spawn(|| make("a"));
            let hb = s.spawn(|| make("b"));
            (ha.join().unwrap(), hb.join().unwrap())
        });
        let lineage = dir.join("lineage");
        let mut cmd = Command::new("apksigner");
        cmd.args(["rotate", "--out"])
            .arg(&lineage)
            .arg("--old-signer");
        signer_args(&mut cmd, &a);
        cmd.arg("--new-signer");
        signer_args(&mut cmd, &b);
        run(&mut cmd);
        Keys { a, b, lineage }
    })
}

/// The keys `a` (old) and `b` (new) of this test run.
pub fn test_keys() -> (Key, Key) {
    let k = keys();
    (k.a.clone(), k.b.clone())
}

fn signer_args(cmd: &mut Command, k: &Key) {
    cmd.arg("--ks").arg(&k.keystore).args([
        "--ks-key-alias",
        &k.alias,
        "--ks-pass",
        &format!("pass:{PASS}"),
        "--key-pass",
        &format!("pass:{PASS}"),
    ]);
}

/// Aligns `unaligned` (any zip) and signs it (v2 only, key `a`) into `out`, telling apksigner
/// the minimum SDK so that it never reads the manifest (which may be hostile); returns the
/// signer's SHA-256 as `apksigner verify --print-certs` prints it.
pub fn align_and_sign_v2(unaligned: &Path, out: &Path) -> String {
    let aligned = out.with_extension("aligned");
    run(Command::new("zipalign")
        .args(["-f", "-p", "4"])
        .arg(unaligned)
        .arg(&aligned));
    let mut sign = Command::new("apksigner");
    sign.arg("sign");
    signer_args(&mut sign, &keys().a);
    sign.args([
        "--min-sdk-version",
        "24",
        "--v1-signing-enabled",
        "false",
        "--v2-signing-enabled",
        "true",
        "--v3-signing-enabled",
        "false",
    ]);
    run(sign.arg("--out").arg(out).arg(&aligned));
    let _ = std::fs::remove_file(&aligned);
    let _ = std::fs::remove_file(out.with_extension("apk.idsig"));
    let verify = run(Command::new("apksigner")
        .args(["verify", "--print-certs", "--min-sdk-version", "24"])
        .arg(out));
    verify
        .lines()
        .find_map(|l| {
            l.split_once("certificate SHA-256 digest: ")
                .map(|(_, d)| d.trim().to_string())
        })
        .unwrap_or_else(|| panic!("no signer in {verify}"))
}

fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('"', "&quot;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// The manifest source for `spec`.
pub fn manifest_xml(spec: &ApkSpec) -> String {
    let major = spec
        .version_code_major
        .map(|m| format!(" android:versionCodeMajor=\"{m}\""))
        .unwrap_or_default();
    let perms: String = spec
        .permissions
        .iter()
        .map(|p| format!("  <uses-permission android:name=\"{}\"/>\n", xml_escape(p)))
        .collect();
    let meta: String = spec
        .meta_data
        .iter()
        .map(|(n, v)| {
            format!(
                "    <meta-data android:name=\"{}\" android:value=\"{}\"/>\n",
                xml_escape(n),
                xml_escape(v)
            )
        })
        .collect();
    format!(
        r#"<?xml version="1.0" encoding="utf-8"?>
<manifest xmlns:android="http://schemas.android.com/apk/res/android" package="{pkg}" android:versionCode="{code}"{major} android:versionName="{name}">
  <uses-sdk android:minSdkVersion="{min}" android:targetSdkVersion="{min}"/>
{perms}  <application android:label="{label}">
{components}
{meta}  </application>
</manifest>
"#,
        pkg = xml_escape(&spec.package),
        code = spec.version_code,
        name = xml_escape(&spec.version_name),
        min = spec.min_sdk,
        label = xml_escape(&spec.label),
        components = spec.components_xml,
    )
}

/// Incompressible bytes (xorshift), so the asset is stored at full size.
fn write_random(path: &Path, len: u64) {
    use std::io::Write;
    let mut f = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut left = len;
    while left > 0 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let n = left.min(8) as usize;
        f.write_all(&x.to_le_bytes()[..n]).unwrap();
        left -= n as u64;
    }
    f.flush().unwrap();
}

/// Builds, aligns and signs an APK for `spec` inside `dir` (which must exist).
pub fn build_apk(spec: &ApkSpec, dir: &Path) -> BuiltApk {
    let work = dir.join(format!("{}.work", spec.file_name));
    let _ = std::fs::remove_dir_all(&work);
    std::fs::create_dir_all(&work).unwrap();
    std::fs::write(work.join("AndroidManifest.xml"), manifest_xml(spec)).unwrap();
    let unaligned = work.join("unaligned.apk");
    let mut pkg = Command::new("aapt");
    pkg.args(["package", "-f", "-M"])
        .arg(work.join("AndroidManifest.xml"))
        .args(["-I", FRAMEWORK_RES]);
    if spec.big_asset > 0 {
        let assets = work.join("assets");
        std::fs::create_dir_all(&assets).unwrap();
        write_random(&assets.join("big.bin"), spec.big_asset);
        pkg.arg("-A").arg(&assets).args(["-0", "bin"]);
    }
    run(pkg.arg("-F").arg(&unaligned));
    if !spec.native_libs.is_empty() {
        for lib in &spec.native_libs {
            let p = work.join("lib").join(lib);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(&p, b"\x7fELF fake native library").unwrap();
        }
        let names: Vec<String> = spec
            .native_libs
            .iter()
            .map(|l| format!("lib/{l}"))
            .collect();
        run(Command::new("aapt")
            .current_dir(&work)
            .arg("add")
            .arg("unaligned.apk")
            .args(&names));
    }
    let aligned = work.join("aligned.apk");
    run(Command::new("zipalign")
        .args(["-f", "-p", "4"])
        .arg(&unaligned)
        .arg(&aligned));
    let out = dir.join(&spec.file_name);
    let keys = keys();
    if spec.signing == Signing::Unsigned {
        std::fs::copy(&aligned, &out).unwrap();
        let _ = std::fs::remove_dir_all(&work);
        return BuiltApk {
            path: out,
            signer_sha256s: Vec::new(),
            verified_schemes: BTreeSet::new(),
            key_sha256s: Vec::new(),
        };
    }
    let (v1, v2, v3) = match spec.signing {
        Signing::V1 => (true, false, false),
        Signing::V2 => (false, true, false),
        Signing::V3 => (false, false, true),
        _ => (true, true, true),
    };
    let mut sign = Command::new("apksigner");
    sign.arg("sign");
    signer_args(&mut sign, &keys.a);
    let mut key_sha256s = vec![keys.a.cert_sha256.clone()];
    if spec.signing == Signing::Rotated {
        sign.arg("--next-signer");
        signer_args(&mut sign, &keys.b);
        sign.arg("--lineage").arg(&keys.lineage);
        key_sha256s.push(keys.b.cert_sha256.clone());
    }
    sign.args([
        "--v1-signing-enabled",
        &v1.to_string(),
        "--v2-signing-enabled",
        &v2.to_string(),
        "--v3-signing-enabled",
        &v3.to_string(),
    ]);
    run(sign.arg("--out").arg(&out).arg(&aligned));
    let _ = std::fs::remove_file(dir.join(format!("{}.idsig", spec.file_name)));
    let mut verify = Command::new("apksigner");
    verify.args(["verify", "--print-certs", "-v"]);
    if !v1 && spec.min_sdk < 24 {
        // Without a JAR signature, apksigner only accepts the APK for Android 7.0+.
        verify.args(["--min-sdk-version", "24"]);
    }
    let verify = run(verify.arg(&out));
    let mut signer_sha256s = Vec::new();
    let mut verified_schemes = BTreeSet::new();
    for line in verify.lines() {
        if let Some((k, v)) = line.split_once(": ") {
            if k.starts_with("Signer #") && k.ends_with("certificate SHA-256 digest") {
                signer_sha256s.push(v.trim().to_string());
            }
            if let Some(rest) = k.strip_prefix("Verified using v") {
                if v.trim() == "true" {
                    verified_schemes
                        .insert(format!("v{}", rest.split(' ').next().unwrap_or_default()));
                }
            }
        }
    }
    let _ = std::fs::remove_dir_all(&work);
    BuiltApk {
        path: out,
        signer_sha256s,
        verified_schemes,
        key_sha256s,
    }
}
