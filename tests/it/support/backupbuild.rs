//! Builds iOS backup folders for tests: real XML or binary plists (the `plist` crate), a real
//! SQLite `Manifest.db` (rusqlite), a `Manifest.mbdb` written byte by byte, and encrypted backups
//! made with the documented key chain (keybag, PBKDF2 stages, AES key wrap, AES-256-CBC).
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use plist::{Dictionary, Value};
use sha2::{Digest, Sha256};

pub const TIKTOK: &str = "com.zhiliaoapp.musically";
pub const TIKTOK_STORE_ID: u64 = 835599320;

pub fn s(v: &str) -> Value {
    Value::String(v.to_string())
}

pub fn dict(pairs: Vec<(&str, Value)>) -> Dictionary {
    pairs.into_iter().map(|(k, v)| (k.to_string(), v)).collect()
}

pub fn to_binary(v: &Value) -> Vec<u8> {
    let mut out = Vec::new();
    v.to_writer_binary(&mut out).unwrap();
    out
}

pub fn to_xml(v: &Value) -> Vec<u8> {
    let mut out = Vec::new();
    v.to_writer_xml(&mut out).unwrap();
    out
}

/// An `iTunesMetadata` dictionary as the App Store writes it (with a buyer Apple ID).
pub fn itunes_metadata(
    item_id: u64,
    name: &str,
    version: &str,
    bundle_id: Option<&str>,
) -> Dictionary {
    let mut d = dict(vec![
        ("itemId", Value::Integer(item_id.into())),
        ("itemName", s(name)),
        ("artistName", s("TikTok Ltd.")),
        ("bundleShortVersionString", s(version)),
        ("bundleVersion", s("330203")),
        ("sourceApp", s("com.apple.AppStore")),
        ("genre", s("Entertainment")),
        (
            "com.apple.iTunesStore.downloadInfo",
            Value::Dictionary(dict(vec![
                (
                    "accountInfo",
                    Value::Dictionary(dict(vec![
                        ("AppleID", s("buyer@example.com")),
                        ("DSPersonID", Value::Integer(12345.into())),
                    ])),
                ),
                ("purchaseDate", s("2024-03-01T10:00:00Z")),
            ])),
        ),
    ]);
    if let Some(b) = bundle_id {
        d.insert("softwareVersionBundleId".into(), s(b));
    }
    d
}

#[derive(Clone)]
pub struct Encryption {
    pub password: String,
    pub dpic: u32,
    pub iter: u32,
    /// Pre-iOS 10.2 keybag: no DPSL/DPIC, only the SHA-1 stage.
    pub legacy: bool,
    /// Add PKCS#7 padding to the encrypted Manifest.db (real backups do not need it).
    pub pkcs7: bool,
}

impl Encryption {
    pub fn new(password: &str) -> Self {
        Encryption {
            password: password.to_string(),
            dpic: 7,
            iter: 5,
            legacy: false,
            pkcs7: false,
        }
    }
}

#[derive(Clone)]
pub struct Backup {
    pub info: Option<Dictionary>,
    pub manifest: Option<Dictionary>,
    pub status: Option<Dictionary>,
    pub binary: bool,
    /// Rows `(domain, relativePath)` of Manifest.db; `None`: no Manifest.db.
    pub db: Option<Vec<(String, String)>>,
    /// Rows of Manifest.mbdb; `None`: no Manifest.mbdb.
    pub mbdb: Option<Vec<(String, String)>>,
    pub encryption: Option<Encryption>,
}

impl Backup {
    /// A finished, unencrypted iOS 17 backup with a Manifest.db holding system domains only.
    pub fn new(udid: &str) -> Self {
        let info = dict(vec![
            ("Device Name", s("Audit iPhone")),
            ("Display Name", s("Audit iPhone")),
            ("Product Type", s("iPhone15,2")),
            ("Product Version", s("17.4.1")),
            ("Build Version", s("21E237")),
            ("Serial Number", s("F2LXK0ABCDEF")),
            ("Unique Identifier", s(udid)),
            ("Target Identifier", s(udid)),
            ("IMEI", s("356789012345678")),
            ("Phone Number", s("+32 470 12 34 56")),
            ("ICCID", s("8932000000000000000")),
            (
                "Last Backup Date",
                Value::Date(std::time::UNIX_EPOCH.into()),
            ),
            (
                "Installed Applications",
                Value::Array(vec![s("com.apple.Pages")]),
            ),
            ("Applications", Value::Dictionary(Dictionary::new())),
        ]);
        let manifest = dict(vec![
            ("Version", s("10.0")),
            ("IsEncrypted", Value::Boolean(false)),
            ("WasPasscodeSet", Value::Boolean(true)),
            (
                "Lockdown",
                Value::Dictionary(dict(vec![
                    ("ProductVersion", s("17.4.1")),
                    ("ProductType", s("iPhone15,2")),
                    ("BuildVersion", s("21E237")),
                    ("UniqueDeviceID", s(udid)),
                    ("SerialNumber", s("F2LXK0ABCDEF")),
                    ("DeviceName", s("Audit iPhone")),
                ])),
            ),
            ("Applications", Value::Dictionary(Dictionary::new())),
        ]);
        let status = dict(vec![
            ("IsFullBackup", Value::Boolean(false)),
            ("Version", s("3.3")),
            ("BackupState", s("new")),
            ("SnapshotState", s("finished")),
            ("UUID", s("7A8B9C")),
        ]);
        Backup {
            info: Some(info),
            manifest: Some(manifest),
            status: Some(status),
            binary: false,
            db: Some(vec![
                (
                    "HomeDomain".into(),
                    "Library/Preferences/com.apple.springboard.plist".into(),
                ),
                (
                    "CameraRollDomain".into(),
                    "Media/DCIM/100APPLE/IMG_0001.HEIC".into(),
                ),
                ("AppDomain-com.apple.Pages".into(), "Documents".into()),
            ]),
            mbdb: None,
            encryption: None,
        }
    }

    pub fn binary(mut self) -> Self {
        self.binary = true;
        self
    }

    fn info_mut(&mut self) -> &mut Dictionary {
        self.info.as_mut().unwrap()
    }

    pub fn installed_app(mut self, id: &str) -> Self {
        if let Some(Value::Array(a)) = self.info_mut().get_mut("Installed Applications") {
            a.push(s(id));
        }
        self
    }

    /// An `Info.plist` `Applications` entry (key `key`) with an `iTunesMetadata` blob.
    pub fn info_app(mut self, key: &str, metadata: Dictionary) -> Self {
        let entry = dict(vec![
            (
                "iTunesMetadata",
                Value::Data(to_binary(&Value::Dictionary(metadata))),
            ),
            ("ApplicationSINF", Value::Data(vec![0x53; 64])),
            ("PlaceholderIcon", Value::Data(vec![0x89; 256])),
        ]);
        if let Some(Value::Dictionary(apps)) = self.info_mut().get_mut("Applications") {
            apps.insert(key.into(), Value::Dictionary(entry));
        }
        self
    }

    /// An `Info.plist` `Applications` entry whose `iTunesMetadata` is raw bytes.
    pub fn info_app_raw(mut self, key: &str, metadata: Vec<u8>) -> Self {
        let entry = dict(vec![("iTunesMetadata", Value::Data(metadata))]);
        if let Some(Value::Dictionary(apps)) = self.info_mut().get_mut("Applications") {
            apps.insert(key.into(), Value::Dictionary(entry));
        }
        self
    }

    pub fn manifest_app(mut self, id: &str, version: &str) -> Self {
        let entry = dict(vec![
            ("CFBundleIdentifier", s(id)),
            ("CFBundleVersion", s(version)),
            ("ContainerContentClass", s("Data/Application")),
            (
                "Path",
                s(&format!("/var/containers/Bundle/Application/0000/{id}.app")),
            ),
        ]);
        if let Some(Value::Dictionary(apps)) =
            self.manifest.as_mut().unwrap().get_mut("Applications")
        {
            apps.insert(id.into(), Value::Dictionary(entry));
        }
        self
    }

    pub fn db_domain(mut self, domain: &str) -> Self {
        let rows = self.db.get_or_insert_with(Vec::new);
        rows.push((domain.into(), "Library/Preferences/x.plist".into()));
        rows.push((domain.into(), "Documents".into()));
        self
    }

    /// Replaces Manifest.db by a Manifest.mbdb holding the same rows plus `extra` domains.
    pub fn with_mbdb(mut self, extra: &[&str]) -> Self {
        let mut rows = self.db.take().unwrap_or_default();
        for d in extra {
            rows.push(((*d).into(), "Library/Caches".into()));
        }
        self.mbdb = Some(rows);
        if let Some(Value::Dictionary(l)) = self.manifest.as_mut().unwrap().get_mut("Lockdown") {
            l.insert("ProductVersion".into(), s("9.3.5"));
        }
        self
    }

    pub fn encrypted(mut self, enc: Encryption) -> Self {
        self.encryption = Some(enc);
        self
    }

    pub fn status(mut self, key: &str, value: Value) -> Self {
        self.status.as_mut().unwrap().insert(key.into(), value);
        self
    }

    fn plist_bytes(&self, d: &Dictionary) -> Vec<u8> {
        let v = Value::Dictionary(d.clone());
        if self.binary {
            to_binary(&v)
        } else {
            to_xml(&v)
        }
    }

    /// Writes the backup into `dir` (created) and returns it.
    pub fn write(&self, dir: &Path) -> PathBuf {
        std::fs::create_dir_all(dir).unwrap();
        let mut manifest = self.manifest.clone();
        if let Some(rows) = &self.db {
            let db = manifest_db_bytes(rows);
            let bytes = match (&self.encryption, manifest.as_mut()) {
                (Some(enc), Some(m)) => {
                    let (keybag, manifest_key, encrypted) = encrypt_manifest_db(enc, &db);
                    m.insert("IsEncrypted".into(), Value::Boolean(true));
                    m.insert("BackupKeyBag".into(), Value::Data(keybag));
                    m.insert("ManifestKey".into(), Value::Data(manifest_key));
                    encrypted
                }
                _ => db,
            };
            std::fs::write(dir.join("Manifest.db"), bytes).unwrap();
        } else if let (Some(enc), Some(m)) = (&self.encryption, manifest.as_mut()) {
            let (keybag, _, _) = encrypt_manifest_db(enc, &[0; 16]);
            m.insert("IsEncrypted".into(), Value::Boolean(true));
            m.insert("BackupKeyBag".into(), Value::Data(keybag));
        }
        if let Some(rows) = &self.mbdb {
            std::fs::write(dir.join("Manifest.mbdb"), mbdb_bytes(rows)).unwrap();
        }
        if let Some(info) = &self.info {
            std::fs::write(dir.join("Info.plist"), self.plist_bytes(info)).unwrap();
        }
        if let Some(m) = &manifest {
            std::fs::write(dir.join("Manifest.plist"), self.plist_bytes(m)).unwrap();
        }
        if let Some(st) = &self.status {
            std::fs::write(dir.join("Status.plist"), self.plist_bytes(st)).unwrap();
        }
        // A content file in a hashed subfolder, as real backups have.
        std::fs::create_dir_all(dir.join("3d")).unwrap();
        std::fs::write(
            dir.join("3d/3d0d7e5fb2ce288813306e4d4636395e047a3d28"),
            b"sms",
        )
        .unwrap();
        dir.to_path_buf()
    }
}

fn file_id(domain: &str, path: &str) -> String {
    let mut h = sha1::Sha1::new();
    h.update(format!("{domain}-{path}").as_bytes());
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

/// A real SQLite Manifest.db with the schema of iOS 10+ backups.
pub fn manifest_db_bytes(rows: &[(String, String)]) -> Vec<u8> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("Manifest.db");
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.execute_batch(
        "CREATE TABLE Files (fileID TEXT PRIMARY KEY, domain TEXT, relativePath TEXT, flags INTEGER, file BLOB);
         CREATE INDEX FilesDomainIdx ON Files(domain);
         CREATE INDEX FilesRelativePathIdx ON Files(relativePath);
         CREATE INDEX FilesFlagsIdx ON Files(flags);
         CREATE TABLE Properties (key TEXT PRIMARY KEY, value BLOB);",
    )
    .unwrap();
    for (domain, path) in rows {
        conn.execute(
            "INSERT OR IGNORE INTO Files VALUES (?1, ?2, ?3, 1, ?4)",
            rusqlite::params![file_id(domain, path), domain, path, vec![0u8; 32]],
        )
        .unwrap();
    }
    drop(conn);
    std::fs::read(&path).unwrap()
}

/// A Manifest.mbdb, written field by field.
pub fn mbdb_bytes(rows: &[(String, String)]) -> Vec<u8> {
    fn string(out: &mut Vec<u8>, v: &[u8]) {
        if v.is_empty() {
            out.extend_from_slice(&[0xFF, 0xFF]);
        } else {
            out.extend_from_slice(&(v.len() as u16).to_be_bytes());
            out.extend_from_slice(v);
        }
    }
    let mut out = b"mbdb\x05\x00".to_vec();
    for (i, (domain, path)) in rows.iter().enumerate() {
        string(&mut out, domain.as_bytes());
        string(&mut out, path.as_bytes());
        string(&mut out, b""); // link target
        string(&mut out, &[0xAB; 20]); // data hash
        string(&mut out, b""); // encryption key
        out.extend_from_slice(&0o100644u16.to_be_bytes());
        out.extend_from_slice(&(1000 + i as u64).to_be_bytes()); // inode
        out.extend_from_slice(&501u32.to_be_bytes());
        out.extend_from_slice(&501u32.to_be_bytes());
        for t in [1_600_000_000u32, 1_600_000_001, 1_600_000_002] {
            out.extend_from_slice(&t.to_be_bytes());
        }
        out.extend_from_slice(&4096u64.to_be_bytes());
        out.push(4); // protection class
        out.push(1); // one property
        string(&mut out, b"com.apple.backup.kind");
        string(&mut out, b"file");
    }
    out
}

fn tlv(out: &mut Vec<u8>, tag: &[u8; 4], value: &[u8]) {
    out.extend_from_slice(tag);
    out.extend_from_slice(&(value.len() as u32).to_be_bytes());
    out.extend_from_slice(value);
}

fn seeded(label: &str) -> [u8; 32] {
    Sha256::digest(label.as_bytes()).into()
}

/// Encrypts a Manifest.db: returns (BackupKeyBag, ManifestKey, ciphertext).
pub fn encrypt_manifest_db(enc: &Encryption, db: &[u8]) -> (Vec<u8>, Vec<u8>, Vec<u8>) {
    use cbc::cipher::{block_padding::NoPadding, block_padding::Pkcs7, BlockEncryptMut, KeyIvInit};
    let salt = &seeded("salt")[..20];
    let dpsl = &seeded("dpsl")[..20];
    let mut kek = [0u8; 32];
    if enc.legacy {
        pbkdf2::pbkdf2_hmac::<sha1::Sha1>(enc.password.as_bytes(), salt, enc.iter, &mut kek);
    } else {
        let mut first = [0u8; 32];
        pbkdf2::pbkdf2_hmac::<Sha256>(enc.password.as_bytes(), dpsl, enc.dpic, &mut first);
        pbkdf2::pbkdf2_hmac::<sha1::Sha1>(&first, salt, enc.iter, &mut kek);
    }
    let kek = aes_kw::KekAes256::from(kek);
    let mut keybag = Vec::new();
    tlv(
        &mut keybag,
        b"VERS",
        &(if enc.legacy { 3u32 } else { 4 }).to_be_bytes(),
    );
    tlv(&mut keybag, b"TYPE", &1u32.to_be_bytes());
    tlv(&mut keybag, b"UUID", &seeded("bag uuid")[..16]);
    tlv(&mut keybag, b"HMCK", &[0; 40]);
    tlv(&mut keybag, b"WRAP", &0u32.to_be_bytes());
    tlv(&mut keybag, b"SALT", salt);
    tlv(&mut keybag, b"ITER", &enc.iter.to_be_bytes());
    if !enc.legacy {
        tlv(&mut keybag, b"DPWT", &1u32.to_be_bytes());
        tlv(&mut keybag, b"DPIC", &enc.dpic.to_be_bytes());
        tlv(&mut keybag, b"DPSL", dpsl);
    }
    let mut class_keys = Vec::new();
    for class in 1u32..=11 {
        let key = seeded(&format!("class key {class}"));
        class_keys.push(key);
        tlv(
            &mut keybag,
            b"UUID",
            &seeded(&format!("uuid {class}"))[..16],
        );
        tlv(&mut keybag, b"CLAS", &class.to_be_bytes());
        tlv(
            &mut keybag,
            b"WRAP",
            &(if class % 2 == 0 { 2u32 } else { 3 }).to_be_bytes(),
        );
        tlv(&mut keybag, b"KTYP", &0u32.to_be_bytes());
        tlv(&mut keybag, b"WPKY", &kek.wrap_vec(&key).unwrap());
    }
    let manifest_class = 4u32;
    let manifest_key = seeded("manifest key");
    let class_kek = aes_kw::KekAes256::from(class_keys[manifest_class as usize - 1]);
    let mut mk = manifest_class.to_le_bytes().to_vec();
    mk.extend(class_kek.wrap_vec(&manifest_key).unwrap());
    let enc_cipher = cbc::Encryptor::<aes::Aes256>::new(&manifest_key.into(), &[0u8; 16].into());
    let ciphertext = if enc.pkcs7 {
        let mut buf = db.to_vec();
        buf.resize(db.len() + 16, 0);
        enc_cipher
            .encrypt_padded_mut::<Pkcs7>(&mut buf, db.len())
            .unwrap()
            .to_vec()
    } else {
        assert_eq!(db.len() % 16, 0);
        let mut buf = db.to_vec();
        enc_cipher
            .encrypt_padded_mut::<NoPadding>(&mut buf, db.len())
            .unwrap()
            .to_vec()
    };
    (keybag, mk, ciphertext)
}

/// The repository's third-party fixtures folder (`fixtures/third_party`).
pub fn third_party() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/third_party")
}

/// Every file under `dir` (relative path, SHA-256), and every folder name, sorted.
pub fn snapshot(dir: &Path) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let e = e.unwrap();
            let p = e.path();
            let rel = p.strip_prefix(dir).unwrap().display().to_string();
            if e.file_type().unwrap().is_dir() {
                out.push((rel, "dir".into()));
                stack.push(p);
            } else {
                let digest = Sha256::digest(std::fs::read(&p).unwrap());
                out.push((rel, digest.iter().map(|b| format!("{b:02x}")).collect()));
            }
        }
    }
    out.sort();
    out
}
