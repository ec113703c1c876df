//! The host's pair record for one phone, as usbmuxd stores it (`ReadPairRecord`), in the format
//! every host tool shares (libimobiledevice, Finder, iTunes): a plist whose certificates and keys
//! are PEM text in data values.
//!
//! | key | what |
//! |---|---|
//! | `HostID` | this computer's identity for the phone (`StartSession`) |
//! | `SystemBUID` | this computer's system id (the same for every phone) |
//! | `RootCertificate`, `RootPrivateKey` | the host's own CA; it signed the two below |
//! | `HostCertificate`, `HostPrivateKey` | the client certificate of the lockdown TLS session |
//! | `DeviceCertificate` | the phone's public key, certified by the host's root: what the phone presents in TLS |
//! | `EscrowBag` | lets the host start services while the phone is locked |
//! | `WiFiMACAddress` | the phone's Wi-Fi address |
//!
//! The private keys are secrets of this computer: a [`PairRecord`] never prints them (its
//! `Debug` shows key names only) and nothing here writes a record anywhere.

use std::fmt;

use plist::{Dictionary, Value};

use super::wire;

#[derive(Debug, thiserror::Error)]
pub enum PairRecordError {
    #[error("the pair record is not a readable plist: {0}")]
    Plist(#[from] wire::WireError),
    #[error("the pair record has no {0}")]
    Missing(&'static str),
}

/// The parts of a pair record a lockdown session needs.
#[derive(Clone, PartialEq, Eq)]
pub struct PairRecord {
    pub host_id: String,
    pub system_buid: Option<String>,
    /// PEM (or DER) of each certificate and key, as stored.
    pub host_certificate: Vec<u8>,
    pub host_private_key: Vec<u8>,
    pub root_certificate: Vec<u8>,
    pub device_certificate: Vec<u8>,
    pub escrow_bag: Option<Vec<u8>>,
}

impl fmt::Debug for PairRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PairRecord")
            .field("host_id", &self.host_id)
            .field("system_buid", &self.system_buid)
            .field("host_private_key", &"<secret>")
            .field("escrow_bag", &self.escrow_bag.as_ref().map(|_| "<secret>"))
            .finish_non_exhaustive()
    }
}

fn bytes(d: &Dictionary, key: &'static str) -> Result<Vec<u8>, PairRecordError> {
    match d.get(key) {
        Some(Value::Data(b)) if !b.is_empty() => Ok(b.clone()),
        Some(Value::String(s)) if !s.is_empty() => Ok(s.as_bytes().to_vec()),
        _ => Err(PairRecordError::Missing(key)),
    }
}

/// Reads a pair record (XML or binary plist).
pub fn parse(record: &[u8]) -> Result<PairRecord, PairRecordError> {
    let d = wire::decode(record)?;
    Ok(PairRecord {
        host_id: wire::text(&d, "HostID").ok_or(PairRecordError::Missing("HostID"))?,
        system_buid: wire::text(&d, "SystemBUID"),
        host_certificate: bytes(&d, "HostCertificate")?,
        host_private_key: bytes(&d, "HostPrivateKey")?,
        root_certificate: bytes(&d, "RootCertificate")?,
        device_certificate: bytes(&d, "DeviceCertificate")?,
        escrow_bag: match d.get("EscrowBag") {
            Some(Value::Data(b)) if !b.is_empty() => Some(b.clone()),
            _ => None,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_shared_format_and_hides_secrets() {
        let mut d = Dictionary::new();
        d.insert(
            "HostID".into(),
            "2213A0B9-64F9-185B-B428-6923DE71AB75".into(),
        );
        d.insert("SystemBUID".into(), "F9149EF5".into());
        for k in [
            "HostCertificate",
            "HostPrivateKey",
            "RootCertificate",
            "DeviceCertificate",
        ] {
            d.insert(k.into(), Value::Data(format!("-----{k}-----").into_bytes()));
        }
        let xml = wire::encode_xml(&d).unwrap();
        let r = parse(&xml).unwrap();
        assert_eq!(r.host_id, "2213A0B9-64F9-185B-B428-6923DE71AB75");
        assert_eq!(r.escrow_bag, None);
        let shown = format!("{r:?}");
        assert!(!shown.contains("HostPrivateKey-----"), "{shown}");
        d.remove("DeviceCertificate");
        let xml = wire::encode_xml(&d).unwrap();
        assert!(matches!(
            parse(&xml),
            Err(PairRecordError::Missing("DeviceCertificate"))
        ));
        assert!(parse(b"garbage").is_err());
    }
}
