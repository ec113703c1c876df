//! The keys and certificates of a new pair record (`--pair` only): the only module that sees the
//! `rsa` and `rcgen` types.
//!
//! As every host does (libimobiledevice, Finder, iTunes): two new RSA-2048 keys for this computer
//! (root and host), a self-signed root certificate (`CA:TRUE`), a host certificate and a device
//! certificate for the phone's own public key (`DevicePublicKey`), both signed by the root, valid
//! ten years, names left empty. Keys are PKCS#8 PEM, certificates PEM, as libimobiledevice writes
//! them, so any host tool can use the record.

use std::time::{SystemTime, UNIX_EPOCH};

use rcgen::{
    date_time_ymd, BasicConstraints, CertificateParams, DistinguishedName, IsCa, Issuer, KeyPair,
    KeyUsagePurpose, PublicKeyData, SignatureAlgorithm, PKCS_RSA_SHA256,
};
use rsa::pkcs1::{DecodeRsaPublicKey, EncodeRsaPublicKey};
use rsa::pkcs8::{DecodePrivateKey, DecodePublicKey, EncodePrivateKey, LineEnding};
use rsa::{RsaPrivateKey, RsaPublicKey};

use super::pairing::Credentials;

#[derive(Debug, thiserror::Error)]
pub enum CertError {
    #[error("the phone's public key is unreadable: {0}")]
    DeviceKey(String),
    #[error("cannot make a key: {0}")]
    Key(String),
    #[error("cannot make a certificate: {0}")]
    Certificate(String),
}

/// The phone's RSA public key, as `rcgen` wants a key it does not hold.
struct DeviceKey {
    pkcs1: Vec<u8>,
}

impl PublicKeyData for DeviceKey {
    fn der_bytes(&self) -> &[u8] {
        &self.pkcs1
    }

    fn algorithm(&self) -> &'static SignatureAlgorithm {
        &PKCS_RSA_SHA256
    }
}

/// Reads `DevicePublicKey` (PEM `RSA PUBLIC KEY`, or `PUBLIC KEY`).
fn device_key(pem: &[u8]) -> Result<DeviceKey, CertError> {
    let text = std::str::from_utf8(pem).map_err(|e| CertError::DeviceKey(e.to_string()))?;
    let key = RsaPublicKey::from_pkcs1_pem(text)
        .or_else(|_| RsaPublicKey::from_public_key_pem(text))
        .map_err(|e| CertError::DeviceKey(e.to_string()))?;
    let pkcs1 = key
        .to_pkcs1_der()
        .map_err(|e| CertError::DeviceKey(e.to_string()))?;
    Ok(DeviceKey {
        pkcs1: pkcs1.as_bytes().to_vec(),
    })
}

/// A new RSA-2048 private key, PKCS#8 PEM.
pub fn new_private_key() -> Result<String, CertError> {
    let key = RsaPrivateKey::new(&mut rsa::rand_core::OsRng, 2048)
        .map_err(|e| CertError::Key(e.to_string()))?;
    Ok(key
        .to_pkcs8_pem(LineEnding::LF)
        .map_err(|e| CertError::Key(e.to_string()))?
        .to_string())
}

fn read_private_key(pem: &str) -> Result<RsaPrivateKey, CertError> {
    RsaPrivateKey::from_pkcs8_pem(pem).map_err(|e| CertError::Key(e.to_string()))
}

/// The PKCS#1 PEM public key (`RSA PUBLIC KEY`, as a phone gives `DevicePublicKey`) of a PKCS#8
/// PEM private key.
pub fn public_key_pem(private_pem: &str) -> Result<String, CertError> {
    RsaPublicKey::from(&read_private_key(private_pem)?)
        .to_pkcs1_pem(LineEnding::LF)
        .map_err(|e| CertError::Key(e.to_string()))
}

/// The signing key for certificates.
fn signing_key(private_pem: &str) -> Result<KeyPair, CertError> {
    let der = read_private_key(private_pem)?
        .to_pkcs8_der()
        .map_err(|e| CertError::Key(e.to_string()))?;
    KeyPair::from_pkcs8_der_and_sign_algo(&der.as_bytes().into(), &PKCS_RSA_SHA256)
        .map_err(|e| CertError::Key(e.to_string()))
}

fn params(is_ca: IsCa, key_usages: Vec<KeyUsagePurpose>) -> CertificateParams {
    let year = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(2025, |d| 1970 + d.as_secs() / 31_556_952);
    let year = i32::try_from(year).unwrap_or(2025).clamp(2000, 9000);
    let mut p = CertificateParams::default();
    p.distinguished_name = DistinguishedName::new();
    p.not_before = date_time_ymd(year - 1, 1, 1);
    p.not_after = date_time_ymd(year + 10, 1, 1);
    p.is_ca = is_ca;
    p.key_usages = key_usages;
    p
}

/// Makes the credentials of a new pair record for the phone whose `DevicePublicKey` is given,
/// with new root and host keys.
pub fn generate(device_public_key: &[u8]) -> Result<Credentials, CertError> {
    credentials(&new_private_key()?, &new_private_key()?, device_public_key)
}

/// The credentials of a pair record from given root and host keys (PKCS#8 PEM).
pub fn credentials(
    root_private_key: &str,
    host_private_key: &str,
    device_public_key: &[u8],
) -> Result<Credentials, CertError> {
    let device = device_key(device_public_key)?;
    let root_key = signing_key(root_private_key)?;
    let host_key = signing_key(host_private_key)?;
    let cert_err = |e: rcgen::Error| CertError::Certificate(e.to_string());
    let leaf_usages = vec![
        KeyUsagePurpose::DigitalSignature,
        KeyUsagePurpose::KeyEncipherment,
    ];
    let root_params = params(IsCa::Ca(BasicConstraints::Unconstrained), Vec::new());
    let root = root_params.self_signed(&root_key).map_err(cert_err)?;
    let issuer = Issuer::new(root_params, &root_key);
    let host = params(IsCa::ExplicitNoCa, leaf_usages.clone())
        .signed_by(&host_key, &issuer)
        .map_err(cert_err)?;
    let device_cert = params(IsCa::ExplicitNoCa, leaf_usages)
        .signed_by(&device, &issuer)
        .map_err(cert_err)?;
    Ok(Credentials {
        root_certificate: root.pem(),
        root_private_key: root_private_key.to_string(),
        host_certificate: host.pem(),
        host_private_key: host_private_key.to_string(),
        device_certificate: device_cert.pem(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_record_certifies_the_phone_key_under_a_new_root() {
        let public = public_key_pem(&new_private_key().unwrap()).unwrap();
        let c = generate(public.as_bytes()).unwrap();
        for pem in [
            &c.root_certificate,
            &c.host_certificate,
            &c.device_certificate,
        ] {
            assert!(pem.starts_with("-----BEGIN CERTIFICATE-----"), "{pem}");
        }
        assert!(c
            .host_private_key
            .starts_with("-----BEGIN PRIVATE KEY-----"));
        // The device certificate carries the phone's key.
        let key = super::super::tls::public_key(c.device_certificate.as_bytes()).unwrap();
        let expected = device_key(public.as_bytes()).unwrap();
        assert_eq!(key, expected.pkcs1);
        assert!(generate(b"-----BEGIN RSA PUBLIC KEY-----\nAAAA\n").is_err());
    }
}
