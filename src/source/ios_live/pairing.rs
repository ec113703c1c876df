//! Pairing, only when the user asks for it (`--pair`): a new pair record for this computer, the
//! phone's consent (the user unlocks it and taps Trust), and the record saved through usbmuxd
//! `SavePairRecord` — where every host tool keeps pair records, in their shared format, so
//! `ideviceinfo`, Finder or iTunes can use it too. appsweep keeps no record of its own.
//!
//! This is the only change appsweep makes anywhere: the phone adds this computer to its trusted
//! hosts, and usbmuxd stores the record.

use std::time::{Duration, Instant};

use plist::{Dictionary, Value};

#[cfg(feature = "pair")]
use super::certs;
use super::lockdown::{Lockdown, LockdownError};
use super::pair_record::{self, PairRecord};
use super::usbmux::{MuxDevice, Usbmux};
use super::wire;
use crate::report::message;

/// Why pairing did not happen, with what the user must do.
#[derive(Debug, thiserror::Error)]
pub enum PairError {
    #[error("the iPhone is locked with a passcode and refused pairing: unlock it, keep it unlocked, run again with --pair and tap Trust")]
    Locked,
    #[error("pairing was declined on the iPhone (Don't Trust): unplug it, plug it in again, run again with --pair and tap Trust")]
    Denied,
    #[error("nobody tapped Trust on the iPhone within {0} s: unlock it, run again with --pair and tap Trust")]
    NoAnswer(u64),
    #[error("pairing failed: {0}")]
    Failed(String),
    #[error("the iPhone paired, but usbmuxd did not save the pair record: {0}")]
    NotSaved(String),
    #[error("this appsweep was built without pairing (feature `pair`): pair the iPhone with Finder, iTunes, or `idevicepair pair`, or plug it in and tap Trust where usbmuxd runs")]
    NotBuilt,
}

/// The PEM texts of a new pair record's credentials.
pub struct Credentials {
    pub root_certificate: String,
    pub root_private_key: String,
    pub host_certificate: String,
    pub host_private_key: String,
    pub device_certificate: String,
}

#[cfg(feature = "pair")]
fn new_credentials(device_public_key: &[u8]) -> Result<Credentials, PairError> {
    certs::generate(device_public_key).map_err(|e| PairError::Failed(e.to_string()))
}

#[cfg(not(feature = "pair"))]
fn new_credentials(_device_public_key: &[u8]) -> Result<Credentials, PairError> {
    Err(PairError::NotBuilt)
}

/// A new host id (a random UUID, as hosts make them).
fn new_host_id() -> Result<String, PairError> {
    let mut b = [0u8; 16];
    getrandom::getrandom(&mut b).map_err(|e| PairError::Failed(e.to_string()))?;
    if let Some(v) = b.get_mut(6) {
        *v = (*v & 0x0f) | 0x40;
    }
    if let Some(v) = b.get_mut(8) {
        *v = (*v & 0x3f) | 0x80;
    }
    let h = crate::hex::encode(&b).to_uppercase();
    let part = |r: std::ops::Range<usize>| h.get(r).unwrap_or_default().to_string();
    Ok(format!(
        "{}-{}-{}-{}-{}",
        part(0..8),
        part(8..12),
        part(12..16),
        part(16..20),
        part(20..32)
    ))
}

fn data(text: &str) -> Value {
    Value::Data(text.as_bytes().to_vec())
}

/// What the phone is given in `Pair`: the record without the private keys.
fn public_record(creds: &Credentials, host_id: &str, system_buid: &str) -> Dictionary {
    let mut d = Dictionary::new();
    d.insert("DeviceCertificate".into(), data(&creds.device_certificate));
    d.insert("HostCertificate".into(), data(&creds.host_certificate));
    d.insert("RootCertificate".into(), data(&creds.root_certificate));
    d.insert("HostID".into(), host_id.into());
    d.insert("SystemBUID".into(), system_buid.into());
    d
}

/// The whole pair record, in the format every host tool shares (XML plist, PEM in data values).
pub fn record_plist(
    creds: &Credentials,
    host_id: &str,
    system_buid: &str,
    escrow_bag: Option<&[u8]>,
    wifi_mac: Option<&str>,
) -> Result<Vec<u8>, wire::WireError> {
    let mut record = public_record(creds, host_id, system_buid);
    record.insert("HostPrivateKey".into(), data(&creds.host_private_key));
    record.insert("RootPrivateKey".into(), data(&creds.root_private_key));
    if let Some(bag) = escrow_bag {
        record.insert("EscrowBag".into(), Value::Data(bag.to_vec()));
    }
    if let Some(w) = wifi_mac {
        record.insert("WiFiMACAddress".into(), w.into());
    }
    wire::encode_xml(&record)
}

/// Pairs this computer with the phone and saves the record through usbmuxd. `wait` bounds how
/// long the user has to tap Trust.
pub fn pair(
    mux: &Usbmux,
    lockdown: &mut Lockdown,
    device: &MuxDevice,
    wait: Duration,
) -> Result<PairRecord, PairError> {
    if !cfg!(feature = "pair") {
        return Err(PairError::NotBuilt);
    }
    let failed = |e: LockdownError| PairError::Failed(e.to_string());
    let public_key = match lockdown
        .get_value(Some("DevicePublicKey"))
        .map_err(failed)?
    {
        Some(Value::Data(d)) => d,
        Some(Value::String(s)) => s.into_bytes(),
        _ => {
            return Err(PairError::Failed(
                "the phone did not give its public key".to_string(),
            ))
        }
    };
    let wifi = lockdown
        .get_value(Some("WiFiAddress"))
        .ok()
        .flatten()
        .and_then(|v| v.into_string());
    let buid = mux
        .read_buid()
        .map_err(|e| PairError::Failed(e.to_string()))?;
    let host_id = new_host_id()?;
    let creds = new_credentials(&public_key)?;

    let public = public_record(&creds, &host_id, &buid);
    let deadline = Instant::now() + wait;
    let mut asked = false;
    let reply = loop {
        match lockdown.pair(public.clone()) {
            Ok(reply) => break reply,
            Err(e) => match e.device_error() {
                Some("PairingDialogResponsePending") => {
                    if !asked {
                        message(&format!(
                            "{}: unlock the iPhone and tap Trust to pair it with this computer (waiting up to {} s)",
                            device.udid,
                            wait.as_secs()
                        ));
                        asked = true;
                    }
                    if Instant::now() >= deadline {
                        return Err(PairError::NoAnswer(wait.as_secs()));
                    }
                    std::thread::sleep(Duration::from_millis(500));
                }
                Some("PasswordProtected") => return Err(PairError::Locked),
                Some("UserDeniedPairing") => return Err(PairError::Denied),
                _ => return Err(failed(e)),
            },
        }
    };

    let escrow_bag = match reply.get("EscrowBag") {
        Some(Value::Data(bag)) => Some(bag.as_slice()),
        _ => None,
    };
    let bytes = record_plist(&creds, &host_id, &buid, escrow_bag, wifi.as_deref())
        .map_err(|e| PairError::Failed(e.to_string()))?;
    mux.save_pair_record(&device.udid, device.device_id, bytes.clone())
        .map_err(|e| PairError::NotSaved(e.to_string()))?;
    message(&format!(
        "{}: paired; usbmuxd keeps the pair record",
        device.udid
    ));
    pair_record::parse(&bytes).map_err(|e| PairError::Failed(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_ids_are_uuids() {
        let a = new_host_id().unwrap();
        let b = new_host_id().unwrap();
        assert_ne!(a, b);
        assert_eq!(a.len(), 36);
        assert_eq!(a.matches('-').count(), 4);
        assert_eq!(a.chars().nth(14), Some('4'));
        assert!(a
            .chars()
            .all(|c| c == '-' || c.is_ascii_hexdigit() && !c.is_ascii_lowercase()));
    }
}
