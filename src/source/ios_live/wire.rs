//! Plist messages on the wire: XML out; XML or binary in, through the one bounded plist reader
//! of the project (nesting and expansion limits), so a hostile phone cannot blow the stack or the
//! memory with a few hundred bytes. Lockdown and its services frame each plist with a 4-byte
//! big-endian length.

use std::io::{self, Read, Write};

use plist::{Dictionary, Value};

use crate::plists::{parse_value, PlistError};

/// Largest framed message accepted from a phone. An `installation_proxy` chunk of apps with
/// their `iTunesMetadata` is a few hundred KB; lockdown answers are a few KB.
pub const MAX_MESSAGE: usize = 32 << 20;

#[derive(Debug, thiserror::Error)]
pub enum WireError {
    #[error("{0}")]
    Io(#[from] io::Error),
    #[error("a message of {len} bytes is larger than the {MAX_MESSAGE} accepted")]
    TooLarge { len: usize },
    #[error("malformed framing: {0}")]
    Framing(&'static str),
    #[error("unreadable plist: {0}")]
    Plist(#[from] PlistError),
    #[error("the plist is not a dictionary")]
    NotDictionary,
    #[error("cannot encode a plist: {0}")]
    Encode(String),
}

impl WireError {
    /// The connection ended (the phone was unplugged, or the service closed it).
    pub fn is_closed(&self) -> bool {
        matches!(self, WireError::Io(e) if is_closed_kind(e.kind()))
    }

    pub fn is_timeout(&self) -> bool {
        matches!(self, WireError::Io(e) if e.kind() == io::ErrorKind::TimedOut)
    }
}

/// Errors that mean the other end went away.
pub fn is_closed_kind(kind: io::ErrorKind) -> bool {
    matches!(
        kind,
        io::ErrorKind::UnexpectedEof
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::BrokenPipe
            | io::ErrorKind::NotConnected
    )
}

pub fn encode_xml(dict: &Dictionary) -> Result<Vec<u8>, WireError> {
    let mut out = Vec::new();
    plist::to_writer_xml(&mut out, dict).map_err(|e| WireError::Encode(e.to_string()))?;
    Ok(out)
}

/// Decodes a dictionary message (XML or binary).
pub fn decode(bytes: &[u8]) -> Result<Dictionary, WireError> {
    match parse_value(bytes)? {
        Value::Dictionary(d) => Ok(d),
        _ => Err(WireError::NotDictionary),
    }
}

/// Sends one length-framed XML plist.
pub fn send(w: &mut impl Write, dict: &Dictionary) -> Result<(), WireError> {
    let body = encode_xml(dict)?;
    let len = u32::try_from(body.len()).map_err(|_| WireError::TooLarge { len: body.len() })?;
    let mut frame = Vec::with_capacity(body.len() + 4);
    frame.extend_from_slice(&len.to_be_bytes());
    frame.extend_from_slice(&body);
    w.write_all(&frame)?;
    w.flush()?;
    Ok(())
}

/// Receives one length-framed plist dictionary.
pub fn receive(r: &mut impl Read) -> Result<Dictionary, WireError> {
    let mut len = [0u8; 4];
    r.read_exact(&mut len)?;
    let len = usize::try_from(u32::from_be_bytes(len)).unwrap_or(usize::MAX);
    if len > MAX_MESSAGE {
        return Err(WireError::TooLarge { len });
    }
    if len == 0 {
        return Err(WireError::Framing("empty message"));
    }
    let mut body = vec![0u8; len];
    r.read_exact(&mut body)?;
    decode(&body)
}

/// A string value, trimmed, `None` when missing, empty or not a string.
pub fn text(d: &Dictionary, key: &str) -> Option<String> {
    d.get(key)
        .and_then(Value::as_string)
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn untrusted_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
            let _ = super::super::parse_untrusted(&bytes);
            let mut framed = (bytes.len() as u32).to_be_bytes().to_vec();
            framed.extend_from_slice(&bytes);
            let _ = super::super::parse_untrusted(&framed);
        }
    }

    #[test]
    fn frames_round_trip_and_limits_hold() {
        let mut d = Dictionary::new();
        d.insert("Request".into(), "QueryType".into());
        let mut buf = Vec::new();
        send(&mut buf, &d).unwrap();
        assert_eq!(
            u32::from_be_bytes(buf[..4].try_into().unwrap()) as usize,
            buf.len() - 4
        );
        assert_eq!(receive(&mut buf.as_slice()).unwrap(), d);
        // Truncated, oversized, empty, not a dictionary.
        assert!(receive(&mut &buf[..buf.len() - 1]).unwrap_err().is_closed());
        let huge = (MAX_MESSAGE as u32 + 1).to_be_bytes();
        assert!(matches!(
            receive(&mut huge.as_slice()),
            Err(WireError::TooLarge { .. })
        ));
        assert!(matches!(
            receive(&mut [0u8, 0, 0, 0].as_slice()),
            Err(WireError::Framing(_))
        ));
        let mut arr = Vec::new();
        plist::to_writer_xml(&mut arr, &Value::Array(vec![])).unwrap();
        assert!(matches!(decode(&arr), Err(WireError::NotDictionary)));
        // A binary answer decodes too.
        let mut bin = Vec::new();
        plist::to_writer_binary(&mut bin, &d).unwrap();
        assert_eq!(decode(&bin).unwrap(), d);
    }
}
