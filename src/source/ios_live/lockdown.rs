//! The lockdownd client (port 62078 on the phone, reached through usbmuxd `Connect`) and the
//! framed plist connection its services share.
//!
//! Requests used: `QueryType`, `GetValue`, `StartSession` (then TLS from the pair record),
//! `StartService`, `StopSession` and, only for `--pair`, `Pair`. Every request carries a `Label`;
//! an answer with an `Error` key is a [`LockdownError::Device`], named as the phone names it
//! (`InvalidHostID`, `PasswordProtected`, `PairingDialogResponsePending`, ...).

use std::time::{Duration, Instant};

use plist::{Dictionary, Value};

use super::pair_record::PairRecord;
use super::tls::{TlsConfig, TlsError, TlsStream};
use super::usbmux::{Counters, Stream};
use super::wire::{self, WireError};

/// lockdownd's port on every iPhone and iPad.
pub const PORT: u16 = 62078;

const LABEL: &str = "appsweep";

#[derive(Debug, thiserror::Error)]
pub enum LockdownError {
    #[error("{request}: {source}")]
    Wire {
        request: String,
        #[source]
        source: WireError,
    },
    #[error("{request}: the phone answered {error}")]
    Device { request: String, error: String },
    #[error("{request}: unexpected answer: {what}")]
    Protocol { request: String, what: String },
    #[error("{0}")]
    Tls(#[from] TlsError),
}

impl LockdownError {
    /// The phone's own error name, when it gave one.
    pub fn device_error(&self) -> Option<&str> {
        match self {
            LockdownError::Device { error, .. } => Some(error),
            _ => None,
        }
    }

    /// The connection ended under us (unplugged, or the phone closed it).
    pub fn is_closed(&self) -> bool {
        match self {
            LockdownError::Wire { source, .. } => source.is_closed(),
            LockdownError::Tls(TlsError::Io(e)) => wire::is_closed_kind(e.kind()),
            _ => false,
        }
    }
}

enum Link {
    Plain(Stream),
    Tls(Box<TlsStream>),
    Closed,
}

/// A framed plist connection to lockdownd or to one of its services, plain or TLS.
pub struct Conn {
    link: Link,
    timeout: Duration,
    counters: std::sync::Arc<Counters>,
}

impl Conn {
    pub fn new(stream: Stream, timeout: Duration, counters: std::sync::Arc<Counters>) -> Self {
        Self {
            link: Link::Plain(stream),
            timeout,
            counters,
        }
    }

    /// Arms a deadline for the next operation of `budget` (the connection's timeout if `None`).
    fn arm(&mut self, budget: Option<Duration>) {
        let deadline = Some(Instant::now() + budget.unwrap_or(self.timeout));
        match &mut self.link {
            Link::Plain(s) => s.set_deadline(deadline),
            Link::Tls(t) => t.stream_mut().set_deadline(deadline),
            Link::Closed => {}
        }
    }

    fn closed_error() -> WireError {
        WireError::Io(std::io::Error::new(
            std::io::ErrorKind::NotConnected,
            "connection already closed",
        ))
    }

    pub fn send(&mut self, msg: &Dictionary) -> Result<(), WireError> {
        self.arm(None);
        match &mut self.link {
            Link::Plain(s) => wire::send(s, msg),
            Link::Tls(t) => wire::send(t.as_mut(), msg),
            Link::Closed => Err(Self::closed_error()),
        }
    }

    /// Receives one message within `budget` (the connection's timeout if `None`).
    pub fn receive(&mut self, budget: Option<Duration>) -> Result<Dictionary, WireError> {
        self.arm(budget);
        match &mut self.link {
            Link::Plain(s) => wire::receive(s),
            Link::Tls(t) => wire::receive(t.as_mut()),
            Link::Closed => Err(Self::closed_error()),
        }
    }

    /// One request and its answer, counted as one round trip.
    pub fn exchange(&mut self, msg: &Dictionary) -> Result<Dictionary, WireError> {
        self.send(msg)?;
        let reply = self.receive(None)?;
        self.counters.exchange();
        Ok(reply)
    }

    /// Switches the connection to TLS.
    pub fn start_tls(&mut self, config: &TlsConfig) -> Result<(), TlsError> {
        match std::mem::replace(&mut self.link, Link::Closed) {
            Link::Plain(mut s) => {
                s.set_deadline(Some(Instant::now() + self.timeout));
                let tls = TlsStream::connect(config, s)?;
                self.counters.exchange();
                self.link = Link::Tls(Box::new(tls));
                Ok(())
            }
            other => {
                self.link = other;
                Err(TlsError::Handshake("TLS is already on".to_string()))
            }
        }
    }

    /// Leaves TLS (close_notify), keeping the plain connection.
    fn stop_tls(&mut self) {
        if let Link::Tls(t) = std::mem::replace(&mut self.link, Link::Closed) {
            let mut s = t.close();
            s.set_deadline(Some(Instant::now() + self.timeout));
            self.link = Link::Plain(s);
        }
    }

    pub fn close(&mut self) {
        match std::mem::replace(&mut self.link, Link::Closed) {
            Link::Plain(s) => s.shutdown(),
            Link::Tls(t) => t.close().shutdown(),
            Link::Closed => {}
        }
    }
}

/// What `StartService` answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Service {
    pub port: u16,
    pub ssl: bool,
}

/// A lockdownd connection.
pub struct Lockdown {
    conn: Conn,
    session: Option<String>,
}

fn request(name: &str) -> Dictionary {
    let mut d = Dictionary::new();
    d.insert("Label".into(), LABEL.into());
    d.insert("Request".into(), name.into());
    d
}

impl Lockdown {
    pub fn new(conn: Conn) -> Self {
        Self {
            conn,
            session: None,
        }
    }

    /// Sends a request and checks the answer: an `Error` key is the phone's refusal.
    fn call(&mut self, msg: Dictionary) -> Result<Dictionary, LockdownError> {
        let name = wire::text(&msg, "Request").unwrap_or_default();
        let reply = self
            .conn
            .exchange(&msg)
            .map_err(|source| LockdownError::Wire {
                request: name.clone(),
                source,
            })?;
        if let Some(error) = wire::text(&reply, "Error") {
            return Err(LockdownError::Device {
                request: name,
                error,
            });
        }
        Ok(reply)
    }

    /// `QueryType`: `com.apple.mobile.lockdown` from a phone in normal mode.
    pub fn query_type(&mut self) -> Result<String, LockdownError> {
        let reply = self.call(request("QueryType"))?;
        wire::text(&reply, "Type").ok_or_else(|| LockdownError::Protocol {
            request: "QueryType".to_string(),
            what: "no Type".to_string(),
        })
    }

    /// `GetValue` of one key (`None`: every value of the domain), `Ok(None)` when the phone has
    /// no such value.
    pub fn get_value(&mut self, key: Option<&str>) -> Result<Option<Value>, LockdownError> {
        let mut msg = request("GetValue");
        if let Some(k) = key {
            msg.insert("Key".into(), k.into());
        }
        match self.call(msg) {
            Ok(mut reply) => Ok(reply.remove("Value")),
            Err(LockdownError::Device { error, .. }) if error == "MissingValue" => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// `StartSession` with the pair record's host id, then TLS when the phone asks for it.
    pub fn start_session(
        &mut self,
        record: &PairRecord,
        tls: &TlsConfig,
    ) -> Result<(), LockdownError> {
        let mut msg = request("StartSession");
        msg.insert("HostID".into(), record.host_id.as_str().into());
        if let Some(buid) = &record.system_buid {
            msg.insert("SystemBUID".into(), buid.as_str().into());
        }
        let reply = self.call(msg)?;
        self.session = wire::text(&reply, "SessionID");
        if reply
            .get("EnableSessionSSL")
            .and_then(Value::as_boolean)
            .unwrap_or(false)
        {
            self.conn.start_tls(tls)?;
        }
        Ok(())
    }

    /// `StartService`: the port to `Connect` to, and whether it speaks TLS. The escrow bag lets
    /// a service start while the phone is locked.
    pub fn start_service(
        &mut self,
        name: &str,
        escrow_bag: Option<&[u8]>,
    ) -> Result<Service, LockdownError> {
        let mut msg = request("StartService");
        msg.insert("Service".into(), name.into());
        if let Some(bag) = escrow_bag {
            msg.insert("EscrowBag".into(), Value::Data(bag.to_vec()));
        }
        let reply = self.call(msg)?;
        let port = reply
            .get("Port")
            .and_then(Value::as_unsigned_integer)
            .and_then(|p| u16::try_from(p).ok())
            .filter(|p| *p != 0)
            .ok_or_else(|| LockdownError::Protocol {
                request: "StartService".to_string(),
                what: "no Port".to_string(),
            })?;
        Ok(Service {
            port,
            ssl: reply
                .get("EnableServiceSSL")
                .and_then(Value::as_boolean)
                .unwrap_or(false),
        })
    }

    /// `Pair` with the public part of a new pair record (`--pair` only). The answer holds the
    /// `EscrowBag` to keep in the record.
    pub fn pair(&mut self, public_record: Dictionary) -> Result<Dictionary, LockdownError> {
        let mut msg = request("Pair");
        msg.insert("PairRecord".into(), Value::Dictionary(public_record));
        msg.insert("ProtocolVersion".into(), "2".into());
        let mut options = Dictionary::new();
        options.insert("ExtendedPairingErrors".into(), true.into());
        msg.insert("PairingOptions".into(), Value::Dictionary(options));
        self.call(msg)
    }

    /// Ends the session (best effort) and closes the connection.
    pub fn close(mut self) {
        if let Some(id) = self.session.take() {
            let mut msg = request("StopSession");
            msg.insert("SessionID".into(), id.into());
            if self.call(msg).is_ok() {
                self.conn.stop_tls();
            }
        }
        self.conn.close();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_carry_label_and_name() {
        let r = request("QueryType");
        assert_eq!(wire::text(&r, "Label").as_deref(), Some("appsweep"));
        assert_eq!(wire::text(&r, "Request").as_deref(), Some("QueryType"));
    }
}
