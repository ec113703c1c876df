//! `BackupKeyBag` (Manifest.plist of an encrypted backup) and the key chain that opens `Manifest.db`.
//!
//! The keybag is a run of TLV records: a 4-byte ASCII tag, a 4-byte big-endian length, the value.
//! The header (`VERS`, `TYPE`, `UUID`, `HMCK`, `WRAP`, `SALT`, `ITER`, and since iOS 10.2 `DPWT`,
//! `DPIC`, `DPSL`) comes first; every later `UUID` starts a class-key record (`CLAS`, `WRAP`,
//! `KTYP`, `WPKY`).
//!
//! Key chain (iOS 10.2 and later): `PBKDF2-HMAC-SHA256(password, DPSL, DPIC, 32)`, then
//! `PBKDF2-HMAC-SHA1(that, SALT, ITER, 32)` = key-encryption key. Older keybags (no `DPSL`/`DPIC`)
//! only have the SHA-1 stage over the password. Class keys whose `WRAP` has bit 2 set are
//! AES-key-wrapped (RFC 3394) with that key. `ManifestKey` is a 4-byte little-endian protection
//! class followed by the Manifest key wrapped with that class's key; `Manifest.db` is AES-256-CBC
//! with a zero IV under the Manifest key.
//!
//! Everything here is a pure function over bytes.

use std::collections::BTreeMap;

use cbc::cipher::{block_padding::NoPadding, BlockDecryptMut, KeyIvInit};
use sha1::Sha1;
use sha2::Sha256;

/// `WRAP` bit: the class key is wrapped with the password-derived key.
pub const WRAP_PASSCODE: u32 = 2;

/// Iteration counts above this are refused (a hostile keybag could otherwise ask for hours of
/// work). Real keybags use 10,000,000 (`DPIC`) and 10,000 (`ITER`).
pub const MAX_ITERATIONS: u32 = 100_000_000;

/// One class-key record.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClassKey {
    pub uuid: Vec<u8>,
    /// Protection class (`CLAS`).
    pub class: Option<u32>,
    /// `WRAP` flags.
    pub wrap: Option<u32>,
    /// Key type (`KTYP`).
    pub key_type: Option<u32>,
    /// Wrapped key (`WPKY`).
    pub wrapped_key: Option<Vec<u8>>,
}

/// A parsed `BackupKeyBag`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Keybag {
    pub version: Option<u32>,
    pub kind: Option<u32>,
    pub uuid: Option<Vec<u8>>,
    pub wrap: Option<u32>,
    /// `SALT` for the PBKDF2-HMAC-SHA1 stage.
    pub salt: Option<Vec<u8>>,
    /// `ITER` for the PBKDF2-HMAC-SHA1 stage.
    pub iterations: Option<u32>,
    /// `DPSL` for the PBKDF2-HMAC-SHA256 stage (iOS 10.2+).
    pub dp_salt: Option<Vec<u8>>,
    /// `DPIC` for the PBKDF2-HMAC-SHA256 stage (iOS 10.2+).
    pub dp_iterations: Option<u32>,
    pub class_keys: Vec<ClassKey>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeybagError {
    #[error("keybag truncated at offset {offset}: a record header needs 8 bytes, {left} left")]
    TruncatedHeader { offset: usize, left: usize },
    #[error("keybag record {tag} at offset {offset} declares {len} bytes, only {left} left")]
    TruncatedValue {
        tag: String,
        offset: usize,
        len: u64,
        left: usize,
    },
    #[error("keybag record {tag} at offset {offset} should be a 4-byte integer, has {len} bytes")]
    BadInteger {
        tag: String,
        offset: usize,
        len: usize,
    },
    #[error("keybag has no {0} record")]
    Missing(&'static str),
    #[error("keybag {tag} iteration count {count} is out of range (1..={max})")]
    BadIterations {
        tag: &'static str,
        count: u32,
        max: u32,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UnlockError {
    #[error("{0}")]
    Keybag(#[from] KeybagError),
    #[error(
        "wrong backup password: the key unwrap integrity check failed for protection class {class}"
    )]
    WrongPassword { class: u32 },
    #[error("keybag holds no class key wrapped with the password")]
    NoPasswordWrappedKey,
    #[error("ManifestKey is {len} bytes, too short (needs a 4-byte class and a wrapped key)")]
    ManifestKeyTooShort { len: usize },
    #[error("ManifestKey names protection class {class}, which the keybag did not unlock")]
    NoClassKey { class: u32 },
    #[error("ManifestKey does not unwrap with the class {class} key (integrity check failed)")]
    ManifestKeyUnwrap { class: u32 },
    #[error("unwrapped key for {what} is {len} bytes, expected 32")]
    BadKeyLength { what: String, len: usize },
    #[error("encrypted Manifest.db is {len} bytes, not a multiple of the 16-byte AES block")]
    NotBlockAligned { len: usize },
    #[error(
        "decrypted Manifest.db does not start with the SQLite header (wrong key or corrupt file)"
    )]
    NotSqlite,
}

fn tag_name(tag: &[u8]) -> String {
    tag.iter()
        .map(|&b| {
            if b.is_ascii_graphic() {
                char::from(b)
            } else {
                '?'
            }
        })
        .collect()
}

/// One TLV record: tag, value, offset of the record.
pub type Record<'a> = ([u8; 4], &'a [u8], usize);

/// Splits a keybag into its TLV records.
pub fn records(bytes: &[u8]) -> Result<Vec<Record<'_>>, KeybagError> {
    let mut out = Vec::new();
    let mut offset = 0usize;
    while offset < bytes.len() {
        let left = bytes.len().saturating_sub(offset);
        let header = bytes
            .get(offset..offset.saturating_add(8))
            .ok_or(KeybagError::TruncatedHeader { offset, left })?;
        let mut tag = [0u8; 4];
        tag.copy_from_slice(header.get(..4).unwrap_or(&[0; 4]));
        let mut len_bytes = [0u8; 4];
        len_bytes.copy_from_slice(header.get(4..8).unwrap_or(&[0; 4]));
        let len = u32::from_be_bytes(len_bytes);
        let start = offset.saturating_add(8);
        let value = usize::try_from(len)
            .ok()
            .and_then(|l| bytes.get(start..start.checked_add(l)?))
            .ok_or_else(|| KeybagError::TruncatedValue {
                tag: tag_name(&tag),
                offset,
                len: u64::from(len),
                left: bytes.len().saturating_sub(start),
            })?;
        out.push((tag, value, offset));
        offset = start.saturating_add(value.len());
    }
    Ok(out)
}

fn int(tag: &[u8; 4], value: &[u8], offset: usize) -> Result<u32, KeybagError> {
    let arr: [u8; 4] = value.try_into().map_err(|_| KeybagError::BadInteger {
        tag: tag_name(tag),
        offset,
        len: value.len(),
    })?;
    Ok(u32::from_be_bytes(arr))
}

/// Parses a `BackupKeyBag` blob.
pub fn parse(bytes: &[u8]) -> Result<Keybag, KeybagError> {
    let mut kb = Keybag::default();
    let mut current: Option<ClassKey> = None;
    for (tag, value, offset) in records(bytes)? {
        match &tag {
            b"UUID" if kb.uuid.is_none() => kb.uuid = Some(value.to_vec()),
            b"UUID" => {
                if let Some(done) = current.take() {
                    kb.class_keys.push(done);
                }
                current = Some(ClassKey {
                    uuid: value.to_vec(),
                    ..ClassKey::default()
                });
            }
            b"CLAS" | b"WRAP" | b"KTYP" | b"WPKY" if current.is_some() => {
                if let Some(ck) = current.as_mut() {
                    match &tag {
                        b"CLAS" => ck.class = Some(int(&tag, value, offset)?),
                        b"WRAP" => ck.wrap = Some(int(&tag, value, offset)?),
                        b"KTYP" => ck.key_type = Some(int(&tag, value, offset)?),
                        _ => ck.wrapped_key = Some(value.to_vec()),
                    }
                }
            }
            b"VERS" => kb.version = Some(int(&tag, value, offset)?),
            b"TYPE" => kb.kind = Some(int(&tag, value, offset)?),
            b"WRAP" => kb.wrap = Some(int(&tag, value, offset)?),
            b"SALT" => kb.salt = Some(value.to_vec()),
            b"ITER" => kb.iterations = Some(int(&tag, value, offset)?),
            b"DPSL" => kb.dp_salt = Some(value.to_vec()),
            b"DPIC" => kb.dp_iterations = Some(int(&tag, value, offset)?),
            _ => {}
        }
    }
    if let Some(done) = current.take() {
        kb.class_keys.push(done);
    }
    Ok(kb)
}

fn check_iterations(tag: &'static str, count: u32) -> Result<u32, KeybagError> {
    if count == 0 || count > MAX_ITERATIONS {
        return Err(KeybagError::BadIterations {
            tag,
            count,
            max: MAX_ITERATIONS,
        });
    }
    Ok(count)
}

/// Derives the key-encryption key from the password (the slow step: `DPIC` rounds of SHA-256).
pub fn derive_kek(kb: &Keybag, password: &[u8]) -> Result<[u8; 32], KeybagError> {
    let salt = kb.salt.as_deref().ok_or(KeybagError::Missing("SALT"))?;
    let iterations = check_iterations("ITER", kb.iterations.ok_or(KeybagError::Missing("ITER"))?)?;
    let mut kek = [0u8; 32];
    match (&kb.dp_salt, kb.dp_iterations) {
        (Some(dp_salt), Some(dp_iterations)) => {
            let dp_iterations = check_iterations("DPIC", dp_iterations)?;
            let first = pbkdf2_sha256(password, dp_salt, dp_iterations);
            pbkdf2::pbkdf2_hmac::<Sha1>(&first, salt, iterations, &mut kek);
        }
        (Some(_), None) => return Err(KeybagError::Missing("DPIC")),
        (None, Some(_)) => return Err(KeybagError::Missing("DPSL")),
        (None, None) => pbkdf2::pbkdf2_hmac::<Sha1>(password, salt, iterations, &mut kek),
    }
    Ok(kek)
}

const SHA256_IV: [u32; 8] = [
    0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
];

/// Compresses one 64-byte block into `state`.
fn compress(state: &mut [u32; 8], block: &[u8; 64]) {
    sha2::compress256(state, &[(*block).into()]);
}

/// Writes a 32-byte digest (as big-endian state words) followed by SHA-256 padding for a
/// message of 64 + 32 bytes into `block`.
fn digest_block(block: &mut [u8; 64], words: &[u32; 8]) {
    for (chunk, word) in block.chunks_exact_mut(4).zip(words.iter()) {
        chunk.copy_from_slice(&word.to_be_bytes());
    }
}

/// PBKDF2-HMAC-SHA256 with one 32-byte output block, `rounds` iterations.
///
/// Same result as `pbkdf2::pbkdf2_hmac::<Sha256>`, but each iteration is two calls of the
/// SHA-256 compression function on precomputed HMAC pad states: the 10,000,000 rounds of a
/// backup keybag take about a second, even in a build of this crate without optimisation.
pub fn pbkdf2_sha256(password: &[u8], salt: &[u8], rounds: u32) -> [u8; 32] {
    use hmac::{Hmac, Mac};
    let mut key = [0u8; 64];
    if password.len() > 64 {
        use sha2::Digest;
        let digest = Sha256::digest(password);
        if let Some(k) = key.get_mut(..32) {
            k.copy_from_slice(&digest);
        }
    } else {
        if let Some(k) = key.get_mut(..password.len()) {
            k.copy_from_slice(password);
        }
    }
    let pad_state = |byte: u8| {
        let mut block = [0u8; 64];
        for (b, k) in block.iter_mut().zip(key.iter()) {
            *b = k ^ byte;
        }
        let mut state = SHA256_IV;
        compress(&mut state, &block);
        state
    };
    let inner = pad_state(0x36);
    let outer = pad_state(0x5c);

    // U1 = HMAC(password, salt || INT(1)), through the generic implementation (once).
    let mut u = [0u32; 8];
    if let Ok(mut mac) = <Hmac<Sha256> as Mac>::new_from_slice(password) {
        mac.update(salt);
        mac.update(&1u32.to_be_bytes());
        let bytes = mac.finalize().into_bytes();
        for (w, chunk) in u.iter_mut().zip(bytes.chunks_exact(4)) {
            let mut arr = [0u8; 4];
            arr.copy_from_slice(chunk);
            *w = u32::from_be_bytes(arr);
        }
    }
    let mut t = u;
    // Padding for a 96-byte message (64-byte key block + 32-byte digest): 0x80, zeros, 768 bits.
    let mut block = [0u8; 64];
    if let Some(b) = block.get_mut(32) {
        *b = 0x80;
    }
    if let Some(tail) = block.get_mut(56..64) {
        tail.copy_from_slice(&768u64.to_be_bytes());
    }
    for _ in 1..rounds {
        digest_block(&mut block, &u);
        let mut state = inner;
        compress(&mut state, &block);
        digest_block(&mut block, &state);
        let mut state2 = outer;
        compress(&mut state2, &block);
        u = state2;
        for (acc, w) in t.iter_mut().zip(u.iter()) {
            *acc ^= w;
        }
    }
    let mut out = [0u8; 32];
    for (chunk, w) in out.chunks_exact_mut(4).zip(t.iter()) {
        chunk.copy_from_slice(&w.to_be_bytes());
    }
    out
}

fn to_key(what: String, key: Vec<u8>) -> Result<[u8; 32], UnlockError> {
    let len = key.len();
    key.try_into()
        .map_err(|_| UnlockError::BadKeyLength { what, len })
}

/// Unwraps every password-wrapped class key with `kek`. A failed integrity check means a wrong
/// password.
pub fn unwrap_class_keys(
    kb: &Keybag,
    kek: &[u8; 32],
) -> Result<BTreeMap<u32, [u8; 32]>, UnlockError> {
    let kek = aes_kw::KekAes256::from(*kek);
    let mut keys = BTreeMap::new();
    for ck in &kb.class_keys {
        let (Some(class), Some(wrap), Some(wrapped)) =
            (ck.class, ck.wrap, ck.wrapped_key.as_deref())
        else {
            continue;
        };
        if wrap & WRAP_PASSCODE == 0 {
            continue;
        }
        let key = kek
            .unwrap_vec(wrapped)
            .map_err(|_| UnlockError::WrongPassword { class })?;
        keys.insert(class, to_key(format!("protection class {class}"), key)?);
    }
    if keys.is_empty() {
        return Err(UnlockError::NoPasswordWrappedKey);
    }
    Ok(keys)
}

/// Unwraps `ManifestKey` (4-byte LE class, then the wrapped key) with the class keys.
pub fn unwrap_manifest_key(
    manifest_key: &[u8],
    class_keys: &BTreeMap<u32, [u8; 32]>,
) -> Result<[u8; 32], UnlockError> {
    let (class_bytes, wrapped) = match (manifest_key.get(..4), manifest_key.get(4..)) {
        (Some(c), Some(w)) if !w.is_empty() => (c, w),
        _ => {
            return Err(UnlockError::ManifestKeyTooShort {
                len: manifest_key.len(),
            })
        }
    };
    let mut arr = [0u8; 4];
    arr.copy_from_slice(class_bytes);
    let class = u32::from_le_bytes(arr);
    let class_key = class_keys
        .get(&class)
        .ok_or(UnlockError::NoClassKey { class })?;
    let key = aes_kw::KekAes256::from(*class_key)
        .unwrap_vec(wrapped)
        .map_err(|_| UnlockError::ManifestKeyUnwrap { class })?;
    to_key("ManifestKey".to_string(), key)
}

/// The SQLite file header.
pub const SQLITE_MAGIC: &[u8; 16] = b"SQLite format 3\0";

/// Decrypts `Manifest.db` (AES-256-CBC, zero IV). Accepts files with or without PKCS#7 padding:
/// padding is stripped only when it is well formed and leaves a whole number of 512-byte units
/// (SQLite files are a whole number of pages of at least 512 bytes).
pub fn decrypt_manifest_db(ciphertext: &[u8], key: &[u8; 32]) -> Result<Vec<u8>, UnlockError> {
    if ciphertext.is_empty() || !ciphertext.len().is_multiple_of(16) {
        return Err(UnlockError::NotBlockAligned {
            len: ciphertext.len(),
        });
    }
    let mut buf = ciphertext.to_vec();
    let iv = [0u8; 16];
    let len = cbc::Decryptor::<aes::Aes256>::new(key.into(), &iv.into())
        .decrypt_padded_mut::<NoPadding>(&mut buf)
        .map_err(|_| UnlockError::NotBlockAligned {
            len: ciphertext.len(),
        })?
        .len();
    buf.truncate(len);
    if let Some(&pad) = buf.last() {
        let pad_len = usize::from(pad);
        if (1..=16).contains(&pad_len) && pad_len <= buf.len() {
            let body = buf.len() - pad_len;
            let well_formed = buf
                .get(body..)
                .is_some_and(|tail| tail.iter().all(|&b| b == pad));
            if well_formed && body.is_multiple_of(512) {
                buf.truncate(body);
            }
        }
    }
    if !buf.starts_with(SQLITE_MAGIC) {
        return Err(UnlockError::NotSqlite);
    }
    Ok(buf)
}

/// The whole chain: keybag bytes, password, ManifestKey, encrypted Manifest.db → SQLite bytes.
pub fn decrypt_with_password(
    keybag: &[u8],
    password: &[u8],
    manifest_key: &[u8],
    encrypted_db: &[u8],
) -> Result<Vec<u8>, UnlockError> {
    let kb = parse(keybag)?;
    let kek = derive_kek(&kb, password)?;
    let class_keys = unwrap_class_keys(&kb, &kek)?;
    let key = unwrap_manifest_key(manifest_key, &class_keys)?;
    decrypt_manifest_db(encrypted_db, &key)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn tlv(tag: &[u8; 4], value: &[u8]) -> Vec<u8> {
        let mut v = tag.to_vec();
        v.extend_from_slice(&(value.len() as u32).to_be_bytes());
        v.extend_from_slice(value);
        v
    }

    fn sample(kek: &[u8; 32], class_key: &[u8; 32], with_dp: bool) -> Vec<u8> {
        let mut kb = Vec::new();
        kb.extend(tlv(b"VERS", &4u32.to_be_bytes()));
        kb.extend(tlv(b"TYPE", &1u32.to_be_bytes()));
        kb.extend(tlv(b"UUID", &[1; 16]));
        kb.extend(tlv(b"WRAP", &0u32.to_be_bytes()));
        kb.extend(tlv(b"SALT", &[7; 20]));
        kb.extend(tlv(b"ITER", &3u32.to_be_bytes()));
        if with_dp {
            kb.extend(tlv(b"DPWT", &1u32.to_be_bytes()));
            kb.extend(tlv(b"DPIC", &5u32.to_be_bytes()));
            kb.extend(tlv(b"DPSL", &[9; 20]));
        }
        let wrapped = aes_kw::KekAes256::from(*kek).wrap_vec(class_key).unwrap();
        for class in [1u32, 3] {
            kb.extend(tlv(b"UUID", &[class as u8; 16]));
            kb.extend(tlv(b"CLAS", &class.to_be_bytes()));
            kb.extend(tlv(b"WRAP", &3u32.to_be_bytes()));
            kb.extend(tlv(b"KTYP", &0u32.to_be_bytes()));
            kb.extend(tlv(b"WPKY", &wrapped));
        }
        kb
    }

    #[test]
    fn parses_header_and_class_keys() {
        let kb = parse(&sample(&[0; 32], &[5; 32], true)).unwrap();
        assert_eq!(kb.version, Some(4));
        assert_eq!(kb.uuid.as_deref(), Some(&[1u8; 16][..]));
        assert_eq!(kb.iterations, Some(3));
        assert_eq!(kb.dp_iterations, Some(5));
        assert_eq!(kb.class_keys.len(), 2);
        assert_eq!(kb.class_keys[1].class, Some(3));
        assert_eq!(kb.class_keys[1].wrapped_key.as_ref().unwrap().len(), 40);
    }

    #[test]
    fn truncated_value_names_the_tag() {
        let mut bytes = tlv(b"SALT", &[0; 20]);
        bytes.truncate(20);
        match parse(&bytes) {
            Err(KeybagError::TruncatedValue {
                tag,
                offset: 0,
                len: 20,
                left: 12,
            }) => assert_eq!(tag, "SALT"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn full_chain_with_right_and_wrong_password() {
        for with_dp in [true, false] {
            let probe = parse(&sample(&[0; 32], &[0; 32], with_dp)).unwrap();
            let kek = derive_kek(&probe, b"secret").unwrap();
            let class_key = [0x42u8; 32];
            let keybag = sample(&kek, &class_key, with_dp);
            let manifest_key = [0x24u8; 32];
            let mut mk = 3u32.to_le_bytes().to_vec();
            mk.extend(
                aes_kw::KekAes256::from(class_key)
                    .wrap_vec(&manifest_key)
                    .unwrap(),
            );
            let mut plain = SQLITE_MAGIC.to_vec();
            plain.resize(1024, 0xAB);
            let enc = {
                use cbc::cipher::BlockEncryptMut;
                let mut buf = plain.clone();
                let n = buf.len();
                cbc::Encryptor::<aes::Aes256>::new(&manifest_key.into(), &[0u8; 16].into())
                    .encrypt_padded_mut::<NoPadding>(&mut buf, n)
                    .unwrap();
                buf
            };
            assert_eq!(
                decrypt_with_password(&keybag, b"secret", &mk, &enc).unwrap(),
                plain
            );
            assert!(matches!(
                decrypt_with_password(&keybag, b"wrong", &mk, &enc),
                Err(UnlockError::WrongPassword { .. })
            ));
        }
    }

    #[test]
    fn strips_pkcs7_padding_only_when_it_leaves_whole_pages() {
        let key = [1u8; 32];
        let encrypt = |plain: &[u8]| {
            use cbc::cipher::block_padding::Pkcs7;
            use cbc::cipher::BlockEncryptMut;
            let mut buf = plain.to_vec();
            buf.resize(plain.len() + 16, 0);
            let n = plain.len();
            cbc::Encryptor::<aes::Aes256>::new(&key.into(), &[0u8; 16].into())
                .encrypt_padded_mut::<Pkcs7>(&mut buf, n)
                .unwrap()
                .to_vec()
        };
        let mut plain = SQLITE_MAGIC.to_vec();
        plain.resize(512, 0);
        let enc = encrypt(&plain);
        assert_eq!(enc.len(), 528);
        assert_eq!(decrypt_manifest_db(&enc, &key).unwrap(), plain);
    }

    #[test]
    fn fast_pbkdf2_matches_the_generic_one() {
        for (pw, salt, rounds) in [
            (&b"0000"[..], &[0u8; 20][..], 1u32),
            (b"pw", b"salt", 2),
            (b"hunter2", b"s", 1000),
            (&[7u8; 100][..], b"x", 3),
        ] {
            let mut expected = [0u8; 32];
            pbkdf2::pbkdf2_hmac::<Sha256>(pw, salt, rounds, &mut expected);
            assert_eq!(pbkdf2_sha256(pw, salt, rounds), expected);
        }
    }

    #[test]
    fn refuses_absurd_iteration_counts() {
        let kb = Keybag {
            salt: Some(vec![0; 20]),
            iterations: Some(u32::MAX),
            ..Keybag::default()
        };
        assert!(matches!(
            derive_kek(&kb, b"x"),
            Err(KeybagError::BadIterations { .. })
        ));
    }

    proptest! {
        #[test]
        fn parse_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
            let _ = parse(&bytes);
        }

        #[test]
        fn parse_never_panics_on_mutated_keybags(pos in 0usize..400, byte in any::<u8>(), cut in 0usize..420) {
            let mut bytes = sample(&[0; 32], &[5; 32], true);
            if let Some(b) = bytes.get_mut(pos) { *b = byte; }
            bytes.truncate(cut);
            let _ = parse(&bytes);
        }
    }
}
