//! SHA-256 digests: the one type every certificate, file and signature digest has, and the one
//! hasher that makes them (the `sha2` crate stays inside this module).
//!
//! A [`Sha256`] is always 64 lowercase hex digits: that is how reports, caches and signature
//! files spell it, and how it (de)serialises. Text that is not exactly that is refused when
//! parsed, so a digest in the program is never in another spelling.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use sha2::Digest as _;

/// A SHA-256 digest, kept as 64 lowercase hex digits.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Sha256(String);

impl Sha256 {
    /// Hex digits of a digest.
    pub const HEX_LEN: usize = 64;

    /// The digest of `bytes`.
    pub fn of(bytes: &[u8]) -> Self {
        let mut h = Hasher::new();
        h.update(bytes);
        h.finish()
    }

    /// `text` when it is exactly 64 lowercase hex digits.
    pub fn parse(text: &str) -> Option<Self> {
        crate::hex::is_lower_hex(text, Self::HEX_LEN).then(|| Self(text.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::ops::Deref for Sha256 {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl AsRef<str> for Sha256 {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl std::borrow::Borrow<str> for Sha256 {
    fn borrow(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for Sha256 {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<Sha256> for String {
    fn from(d: Sha256) -> String {
        d.0
    }
}

impl PartialEq<str> for Sha256 {
    fn eq(&self, other: &str) -> bool {
        self.0 == other
    }
}

impl PartialEq<&str> for Sha256 {
    fn eq(&self, other: &&str) -> bool {
        self.0 == *other
    }
}

impl PartialEq<String> for Sha256 {
    fn eq(&self, other: &String) -> bool {
        self.0 == *other
    }
}

impl Serialize for Sha256 {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for Sha256 {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        Sha256::parse(&text)
            .ok_or_else(|| serde::de::Error::custom("a SHA-256 digest is 64 lowercase hex digits"))
    }
}

/// An incremental SHA-256.
#[derive(Debug, Clone, Default)]
pub struct Hasher(sha2::Sha256);

impl Hasher {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn update(&mut self, bytes: impl AsRef<[u8]>) {
        self.0.update(bytes);
    }

    /// The digest of everything fed.
    pub fn finish(self) -> Sha256 {
        Sha256(crate::hex::encode(&self.0.finalize()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lowercase_hex_in_and_out() {
        let d = Sha256::of(b"abc");
        assert_eq!(
            d,
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(serde_json::to_string(&d).unwrap(), format!("\"{d}\""));
        let back: Sha256 = serde_json::from_str(&format!("\"{d}\"")).unwrap();
        assert_eq!(back, d);
        assert!(Sha256::parse(&d.to_ascii_uppercase()).is_none());
        assert!(Sha256::parse("abc").is_none());
        assert!(serde_json::from_str::<Sha256>("\"xyz\"").is_err());
        let mut h = Hasher::new();
        h.update(b"a");
        h.update("bc");
        assert_eq!(h.finish(), d);
    }
}
