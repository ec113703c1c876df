//! TLS for lockdown sessions and services: the only module that sees `rustls` types.
//!
//! A lockdown session (after `StartSession` answers `EnableSessionSSL`) and a service whose
//! `StartService` answer says `EnableServiceSSL` switch the same socket to TLS, with the host's
//! pair record as the only trust:
//! - the client certificate is the record's `HostCertificate` with `HostPrivateKey` (RSA);
//! - the phone presents the `DeviceCertificate` the host made for it when pairing. These
//!   certificates are signed by the host's own root (`RootCertificate`), often with SHA-1, and
//!   name no host: web PKI does not apply. [`PairRecordVerifier`] accepts the phone's
//!   certificate only when its public key is the one in the record's `DeviceCertificate`, and
//!   checks the handshake signatures against that key (so the phone proves it holds the private
//!   key). Any other certificate ends the handshake: appsweep talks only to the phone it paired
//!   with.
//! - TLS 1.2 and 1.3 with the `ring` provider. Phones older than iOS 10 only speak TLS 1.0 to
//!   lockdown, which rustls does not: they are reported as not scannable live.

use std::io::{self, Read, Write};
use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, WebPkiSupportedAlgorithms};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{
    CertificateDer, PrivateKeyDer, PrivatePkcs1KeyDer, PrivatePkcs8KeyDer, ServerName, UnixTime,
};
use rustls::{ClientConfig, ClientConnection, DigitallySignedStruct, SignatureScheme};

use super::pair_record::PairRecord;
use super::usbmux::Stream;

#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("the pair record's {what} is unusable: {why}")]
    Credential { what: &'static str, why: String },
    #[error("TLS with the phone failed: {0}")]
    Handshake(String),
    #[error("{0}")]
    Io(io::Error),
}

/// One DER element: (tag, contents, the whole element, what follows it).
type Tlv<'a> = (u8, &'a [u8], &'a [u8], &'a [u8]);

/// Reads one DER element (single-byte tags, definite lengths up to 4 bytes).
fn tlv(input: &[u8]) -> Option<Tlv<'_>> {
    let (&tag, rest) = input.split_first()?;
    let (&first, rest) = rest.split_first()?;
    let (len, rest) = if first < 0x80 {
        (usize::from(first), rest)
    } else {
        let n = usize::from(first & 0x7f);
        if n == 0 || n > 4 {
            return None;
        }
        let (len_bytes, rest) = (rest.get(..n)?, rest.get(n..)?);
        let len = len_bytes
            .iter()
            .fold(0usize, |acc, &b| (acc << 8) | usize::from(b));
        (len, rest)
    };
    let value = rest.get(..len)?;
    let after = rest.get(len..)?;
    let whole = input.get(..input.len() - after.len())?;
    Some((tag, value, whole, after))
}

/// The public key of a certificate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Spki<'a> {
    /// The whole `SubjectPublicKeyInfo` element.
    pub der: &'a [u8],
    /// The contents of its `AlgorithmIdentifier`.
    pub algorithm: &'a [u8],
    /// The key (the bit string without its unused-bits byte).
    pub key: &'a [u8],
}

/// Finds the `SubjectPublicKeyInfo` of an X.509 certificate without judging anything else in it
/// (names, serial, signature algorithm: pair record certificates are unusual in all three).
pub fn spki(cert: &[u8]) -> Option<Spki<'_>> {
    let (0x30, body, _, _) = tlv(cert)? else {
        return None;
    };
    let (0x30, mut tbs, _, _) = tlv(body)? else {
        return None;
    };
    // [0] version (optional), serial, signature, issuer, validity, subject.
    let (tag, _, _, rest) = tlv(tbs)?;
    if tag == 0xa0 {
        tbs = rest;
    }
    for expected in [0x02, 0x30, 0x30, 0x30, 0x30] {
        let (tag, _, _, rest) = tlv(tbs)?;
        if tag != expected {
            return None;
        }
        tbs = rest;
    }
    let (0x30, info, der, _) = tlv(tbs)? else {
        return None;
    };
    let (0x30, algorithm, _, rest) = tlv(info)? else {
        return None;
    };
    let (0x03, bits, _, _) = tlv(rest)? else {
        return None;
    };
    let (&0, key) = bits.split_first()? else {
        return None;
    };
    Some(Spki {
        der,
        algorithm,
        key,
    })
}

/// Certificates from PEM text (the usual form in pair records) or from DER.
fn certificate(what: &'static str, bytes: &[u8]) -> Result<CertificateDer<'static>, TlsError> {
    let bad = |why: String| TlsError::Credential { what, why };
    let der = if bytes.starts_with(b"-----") {
        CertificateDer::from_pem_slice(bytes).map_err(|e| bad(e.to_string()))?
    } else {
        CertificateDer::from(bytes.to_vec())
    };
    if spki(der.as_ref()).is_none() {
        return Err(bad("not an X.509 certificate with a public key".to_string()));
    }
    Ok(der)
}

/// The public key (the bit string of its `SubjectPublicKeyInfo`) of a PEM or DER certificate.
#[cfg(all(test, feature = "pair"))]
pub fn public_key(cert: &[u8]) -> Option<Vec<u8>> {
    let der = certificate("certificate", cert).ok()?;
    spki(der.as_ref()).map(|k| k.key.to_vec())
}

fn private_key(bytes: &[u8]) -> Result<PrivateKeyDer<'static>, TlsError> {
    let what = "HostPrivateKey";
    if bytes.starts_with(b"-----") {
        return PrivateKeyDer::from_pem_slice(bytes).map_err(|e| TlsError::Credential {
            what,
            why: e.to_string(),
        });
    }
    // DER: PKCS#8 (a version then an AlgorithmIdentifier) or PKCS#1 (a version then integers).
    let pkcs8 = tlv(bytes)
        .and_then(|(_, body, _, _)| tlv(body))
        .and_then(|(_, _, _, rest)| tlv(rest))
        .is_some_and(|(tag, _, _, _)| tag == 0x30);
    Ok(if pkcs8 {
        PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(bytes.to_vec()))
    } else {
        PrivateKeyDer::Pkcs1(PrivatePkcs1KeyDer::from(bytes.to_vec()))
    })
}

/// Trusts exactly the phone whose key is in the pair record (see the module docs).
#[derive(Debug)]
pub struct PairRecordVerifier {
    /// The `SubjectPublicKeyInfo` of the record's `DeviceCertificate`.
    device_spki: Vec<u8>,
    algorithms: WebPkiSupportedAlgorithms,
}

impl PairRecordVerifier {
    fn new(device_certificate: &CertificateDer<'_>, provider: &CryptoProvider) -> Option<Self> {
        Some(Self {
            device_spki: spki(device_certificate.as_ref())?.der.to_vec(),
            algorithms: provider.signature_verification_algorithms,
        })
    }

    /// Checks `signature` over `message` with the certificate's key, trying the algorithms of
    /// `scheme` that fit the key (TLS 1.3 allows only the first).
    fn verify(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
        tls13: bool,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        let key = spki(cert.as_ref()).ok_or_else(|| {
            rustls::Error::General("the phone's certificate has no readable public key".into())
        })?;
        let algs = self
            .algorithms
            .mapping
            .iter()
            .find(|(s, _)| *s == dss.scheme)
            .map(|(_, algs)| *algs)
            .ok_or_else(|| {
                rustls::Error::General(format!(
                    "the phone signed with {:?}, which was not offered",
                    dss.scheme
                ))
            })?;
        let algs = if tls13 {
            algs.get(..1).unwrap_or_default()
        } else {
            algs
        };
        for alg in algs {
            if alg.public_key_alg_id().as_ref() != key.algorithm {
                continue;
            }
            if alg
                .verify_signature(key.key, message, dss.signature())
                .is_ok()
            {
                return Ok(HandshakeSignatureValid::assertion());
            }
        }
        Err(rustls::Error::General(
            "the phone's handshake signature does not verify with its certificate's key".into(),
        ))
    }
}

impl ServerCertVerifier for PairRecordVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        match spki(end_entity.as_ref()) {
            Some(k) if k.der == self.device_spki.as_slice() => Ok(ServerCertVerified::assertion()),
            _ => Err(rustls::Error::General(
                "the phone's certificate is not the one in this computer's pair record for it"
                    .into(),
            )),
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.verify(message, cert, dss, false)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.verify(message, cert, dss, true)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

/// The TLS client configuration for one phone, from its pair record.
#[derive(Clone)]
pub struct TlsConfig(Arc<ClientConfig>);

impl TlsConfig {
    pub fn from_record(record: &PairRecord) -> Result<Self, TlsError> {
        let provider = rustls::crypto::ring::default_provider();
        let device = certificate("DeviceCertificate", &record.device_certificate)?;
        let host = certificate("HostCertificate", &record.host_certificate)?;
        let key = private_key(&record.host_private_key)?;
        let verifier = PairRecordVerifier::new(&device, &provider).ok_or(TlsError::Credential {
            what: "DeviceCertificate",
            why: "no public key".to_string(),
        })?;
        let config = ClientConfig::builder_with_provider(Arc::new(provider))
            .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
            .map_err(|e| TlsError::Handshake(e.to_string()))?
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(verifier))
            .with_client_auth_cert(vec![host], key)
            .map_err(|e| TlsError::Credential {
                what: "HostPrivateKey",
                why: e.to_string(),
            })?;
        Ok(Self(Arc::new(config)))
    }
}

/// A TLS connection over a usbmuxd stream.
pub struct TlsStream {
    inner: rustls::StreamOwned<ClientConnection, Stream>,
}

/// Tells a TLS failure from a plain I/O one.
fn classify(e: io::Error) -> TlsError {
    let is_tls = e
        .get_ref()
        .is_some_and(|inner| inner.downcast_ref::<rustls::Error>().is_some());
    if is_tls {
        TlsError::Handshake(e.to_string())
    } else {
        TlsError::Io(e)
    }
}

impl TlsStream {
    /// Performs the handshake on `sock` (the phone speaks first after the plaintext answer that
    /// enabled TLS, so the client hello goes out now).
    pub fn connect(config: &TlsConfig, sock: Stream) -> Result<Self, TlsError> {
        // No name is checked (the verifier pins the key); an address sends no SNI.
        let name = ServerName::from(IpAddr::V4(Ipv4Addr::LOCALHOST));
        let conn = ClientConnection::new(Arc::clone(&config.0), name)
            .map_err(|e| TlsError::Handshake(e.to_string()))?;
        let mut inner = rustls::StreamOwned::new(conn, sock);
        while inner.conn.is_handshaking() {
            inner.conn.complete_io(&mut inner.sock).map_err(classify)?;
        }
        Ok(Self { inner })
    }

    pub fn stream_mut(&mut self) -> &mut Stream {
        &mut self.inner.sock
    }

    /// Ends TLS (close_notify), giving the plain stream back.
    pub fn close(mut self) -> Stream {
        self.inner.conn.send_close_notify();
        let _ = self.inner.conn.complete_io(&mut self.inner.sock);
        self.inner.sock
    }
}

impl Read for TlsStream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.inner.read(buf)
    }
}

impl Write for TlsStream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.inner.write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// A DER element of `tag` around `body`.
    fn el(tag: u8, body: &[u8]) -> Vec<u8> {
        let mut out = vec![tag];
        if body.len() < 0x80 {
            out.push(body.len() as u8);
        } else {
            out.push(0x82);
            out.extend_from_slice(&(body.len() as u16).to_be_bytes());
        }
        out.extend_from_slice(body);
        out
    }

    fn cert_with_key(version: bool, key: &[u8]) -> Vec<u8> {
        let alg = el(0x30, &[0x06, 0x01, 0x2a, 0x05, 0x00]);
        let mut bits = vec![0u8];
        bits.extend_from_slice(key);
        let spki = el(0x30, &[alg.clone(), el(0x03, &bits)].concat());
        let mut tbs = Vec::new();
        if version {
            tbs.extend(el(0xa0, &el(0x02, &[2])));
        }
        tbs.extend(el(0x02, &[0]));
        tbs.extend(&alg);
        tbs.extend(el(0x30, &[]));
        tbs.extend(el(0x30, &[]));
        tbs.extend(el(0x30, &[]));
        tbs.extend(&spki);
        el(0x30, &[el(0x30, &tbs), alg, el(0x03, &[0, 1, 2])].concat())
    }

    #[test]
    fn finds_the_key_of_unusual_certificates() {
        let key = vec![7u8; 300];
        for version in [true, false] {
            let cert = cert_with_key(version, &key);
            let s = spki(&cert).unwrap();
            assert_eq!(s.key, key.as_slice());
            assert_eq!(s.algorithm, &[0x06, 0x01, 0x2a, 0x05, 0x00]);
            assert_eq!(s.der.first(), Some(&0x30));
        }
        assert!(spki(&[]).is_none());
        assert!(spki(&[0x30, 0x84, 0xff, 0xff, 0xff, 0xff]).is_none());
        assert!(spki(&el(0x30, &el(0x30, &[]))).is_none());
    }

    #[test]
    fn keys_are_read_from_pem_or_der() {
        assert!(matches!(
            certificate("X", b"-----BEGIN CERTIFICATE-----\nnot base64\n"),
            Err(TlsError::Credential { what: "X", .. })
        ));
        assert!(certificate("X", &cert_with_key(true, &[1, 2, 3])).is_ok());
        assert!(certificate("X", b"\x30\x00").is_err());
        assert!(
            private_key(b"-----BEGIN PRIVATE KEY-----\n!!\n-----END PRIVATE KEY-----\n").is_err()
        );
    }

    proptest! {
        #[test]
        fn spki_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
            let _ = spki(&bytes);
        }

        #[test]
        fn spki_survives_truncation(cut in 0usize..400) {
            let cert = cert_with_key(true, &[9u8; 200]);
            let _ = spki(&cert[..cut.min(cert.len())]);
        }
    }
}
