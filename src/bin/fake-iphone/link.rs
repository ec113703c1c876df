//! Sockets, lockdown framing (4-byte big-endian length + plist) and the phone's side of TLS.
//!
//! The phone presents the `DeviceCertificate` of the host that opened the session, with its own
//! private key, and demands a client certificate: the host's `HostCertificate` (as Apple's hosts
//! and appsweep send) or its `RootCertificate` (as libimobiledevice sends), nothing else.

use std::io::{self, Read, Write};
use std::net::TcpStream;
#[cfg(unix)]
use std::os::unix::net::UnixStream;
use std::sync::Arc;
use std::time::Duration;

use plist::{Dictionary, Value};
use rustls::client::danger::HandshakeSignatureValid;
use rustls::crypto::WebPkiSupportedAlgorithms;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, UnixTime};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::{DigitallySignedStruct, DistinguishedName, ServerConfig, ServerConnection};

/// A connection from a client of the fake usbmuxd.
pub enum Sock {
    #[cfg(unix)]
    Unix(UnixStream),
    Tcp(TcpStream),
}

impl Sock {
    pub fn try_clone(&self) -> io::Result<Sock> {
        Ok(match self {
            #[cfg(unix)]
            Sock::Unix(s) => Sock::Unix(s.try_clone()?),
            Sock::Tcp(s) => Sock::Tcp(s.try_clone()?),
        })
    }

    pub fn shutdown(&self) {
        let _ = match self {
            #[cfg(unix)]
            Sock::Unix(s) => s.shutdown(std::net::Shutdown::Both),
            Sock::Tcp(s) => s.shutdown(std::net::Shutdown::Both),
        };
    }

    pub fn set_read_timeout(&self, t: Option<Duration>) -> io::Result<()> {
        match self {
            #[cfg(unix)]
            Sock::Unix(s) => s.set_read_timeout(t),
            Sock::Tcp(s) => s.set_read_timeout(t),
        }
    }
}

impl Read for Sock {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            #[cfg(unix)]
            Sock::Unix(s) => s.read(buf),
            Sock::Tcp(s) => s.read(buf),
        }
    }
}

impl Write for Sock {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            #[cfg(unix)]
            Sock::Unix(s) => s.write(buf),
            Sock::Tcp(s) => s.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            #[cfg(unix)]
            Sock::Unix(s) => s.flush(),
            Sock::Tcp(s) => s.flush(),
        }
    }
}

pub fn bad(what: impl Into<String>) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, what.into())
}

/// Parses a plist message (XML or binary).
pub fn decode(bytes: &[u8]) -> io::Result<Dictionary> {
    match plist::from_bytes::<Value>(bytes) {
        Ok(Value::Dictionary(d)) => Ok(d),
        Ok(_) => Err(bad("the plist is not a dictionary")),
        Err(e) => Err(bad(format!("unreadable plist: {e}"))),
    }
}

pub fn encode(d: &Dictionary) -> io::Result<Vec<u8>> {
    let mut out = Vec::new();
    plist::to_writer_xml(&mut out, d).map_err(|e| bad(e.to_string()))?;
    Ok(out)
}

pub fn text<'a>(d: &'a Dictionary, key: &str) -> &'a str {
    d.get(key).and_then(Value::as_string).unwrap_or("")
}

/// The certificates of one host the phone has paired with (DER).
#[derive(Clone, Debug)]
pub struct Host {
    pub host_certificate: Vec<u8>,
    pub root_certificate: Vec<u8>,
    pub device_certificate: Vec<u8>,
}

pub fn pem_cert(pem: &[u8]) -> io::Result<Vec<u8>> {
    if !pem.starts_with(b"-----") {
        return Ok(pem.to_vec());
    }
    CertificateDer::from_pem_slice(pem)
        .map(|c| c.as_ref().to_vec())
        .map_err(|e| bad(format!("certificate: {e}")))
}

impl Host {
    /// From a `PairRecord` dictionary (as `Pair` sends it, or a whole pair record).
    pub fn from_record(d: &Dictionary) -> io::Result<Host> {
        let cert = |k: &str| match d.get(k) {
            Some(Value::Data(b)) => pem_cert(b),
            _ => Err(bad(format!("no {k}"))),
        };
        Ok(Host {
            host_certificate: cert("HostCertificate")?,
            root_certificate: cert("RootCertificate")?,
            device_certificate: cert("DeviceCertificate")?,
        })
    }
}

/// Accepts the host's certificate or its root, checking the handshake signatures with it.
#[derive(Debug)]
struct HostVerifier {
    allowed: Vec<Vec<u8>>,
    algorithms: WebPkiSupportedAlgorithms,
}

impl ClientCertVerifier for HostVerifier {
    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        &[]
    }

    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        if self
            .allowed
            .iter()
            .any(|c| c.as_slice() == end_entity.as_ref())
        {
            Ok(ClientCertVerified::assertion())
        } else {
            Err(rustls::Error::General(
                "client certificate is not from a paired host".into(),
            ))
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

/// The phone's TLS configuration for a session opened by `host`.
pub fn server_config(host: &Host, device_key_pem: &str, tls13: bool) -> io::Result<ServerConfig> {
    let provider = rustls::crypto::ring::default_provider();
    let verifier = HostVerifier {
        allowed: vec![host.host_certificate.clone(), host.root_certificate.clone()],
        algorithms: provider.signature_verification_algorithms,
    };
    let key = PrivateKeyDer::from_pem_slice(device_key_pem.as_bytes())
        .map_err(|e| bad(format!("device key: {e}")))?;
    let versions: &[&rustls::SupportedProtocolVersion] = if tls13 {
        &[&rustls::version::TLS13, &rustls::version::TLS12]
    } else {
        &[&rustls::version::TLS12]
    };
    let mut config = ServerConfig::builder_with_provider(Arc::new(provider))
        .with_protocol_versions(versions)
        .map_err(|e| bad(e.to_string()))?
        .with_client_cert_verifier(Arc::new(verifier))
        .with_single_cert(
            vec![CertificateDer::from(host.device_certificate.clone())],
            key,
        )
        .map_err(|e| bad(format!("device certificate: {e}")))?;
    config.send_tls13_tickets = 0;
    Ok(config)
}

/// A message with its 4-byte big-endian length, ready to send.
pub fn frame(d: &Dictionary) -> io::Result<Vec<u8>> {
    let body = encode(d)?;
    let mut frame = (body.len() as u32).to_be_bytes().to_vec();
    frame.extend_from_slice(&body);
    Ok(frame)
}

/// A lockdown or service connection, plain or TLS.
pub enum Link {
    Plain(Sock),
    Tls(Box<rustls::StreamOwned<ServerConnection, Sock>>),
}

impl Link {
    fn io(&mut self) -> &mut dyn ReadWrite {
        match self {
            Link::Plain(s) => s,
            Link::Tls(t) => t.as_mut(),
        }
    }

    /// One framed message; `Ok(None)` when the client closed the connection.
    pub fn recv(&mut self) -> io::Result<Option<Dictionary>> {
        let io = self.io();
        let mut len = [0u8; 4];
        match io.read_exact(&mut len) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(None),
            Err(e) => return Err(e),
        }
        let len = u32::from_be_bytes(len) as usize;
        if len == 0 || len > (64 << 20) {
            return Err(bad(format!("message length {len}")));
        }
        let mut body = vec![0u8; len];
        io.read_exact(&mut body)?;
        decode(&body).map(Some)
    }

    pub fn send(&mut self, d: &Dictionary) -> io::Result<()> {
        self.send_frame(&frame(d)?)
    }

    /// Sends a message framed beforehand with [`frame`].
    pub fn send_frame(&mut self, frame: &[u8]) -> io::Result<()> {
        let io = self.io();
        io.write_all(frame)?;
        io.flush()
    }

    /// Switches to TLS as the server and completes the handshake.
    pub fn start_tls(self, config: ServerConfig) -> io::Result<Link> {
        let Link::Plain(mut sock) = self else {
            return Err(bad("TLS already on"));
        };
        let mut conn = ServerConnection::new(Arc::new(config)).map_err(|e| bad(e.to_string()))?;
        while conn.is_handshaking() {
            conn.complete_io(&mut sock)?;
        }
        Ok(Link::Tls(Box::new(rustls::StreamOwned::new(conn, sock))))
    }

    /// Leaves TLS after `StopSession`: sends close_notify and reads up to the client's.
    pub fn stop_tls(self) -> io::Result<Link> {
        let Link::Tls(mut t) = self else {
            return Ok(self);
        };
        t.conn.send_close_notify();
        while t.conn.wants_write() {
            if t.conn.write_tls(&mut t.sock).is_err() {
                break;
            }
        }
        // Read TLS records up to the client's close_notify (nothing after it).
        t.sock.set_read_timeout(Some(Duration::from_secs(2)))?;
        loop {
            match t.conn.read_tls(&mut t.sock) {
                Ok(0) | Err(_) => break,
                Ok(_) => {}
            }
            match t.conn.process_new_packets() {
                Ok(state) if state.peer_has_closed() => break,
                Ok(_) => {}
                Err(_) => break,
            }
        }
        t.sock.set_read_timeout(None)?;
        Ok(Link::Plain(t.sock))
    }
}

pub trait ReadWrite: Read + Write {}
impl<T: Read + Write> ReadWrite for T {}
