//! The usbmuxd client: the host daemon that multiplexes TCP-like connections to iPhones and iPads
//! over USB (Linux `usbmuxd`, macOS's own, Apple Mobile Device Service on Windows).
//!
//! The plist protocol (version 1) that libusbmuxd speaks: each packet is a 16-byte little-endian
//! header (total length, version 1, message type 8 = plist, tag) and an XML plist whose
//! `MessageType` names the request: `ListDevices`, `Listen`, `Connect`, `ReadPairRecord`,
//! `ReadBUID`, `SavePairRecord`. Answers are `Result` (`Number` 0 = OK) or a plain dictionary
//! (`DeviceList`, `PairRecordData`, `BUID`). After a successful `Connect` the socket is a raw
//! byte pipe to the port on the phone; `PortNumber` is sent in network byte order inside the
//! integer, as libusbmuxd does.
//!
//! Where usbmuxd listens: `USBMUXD_SOCKET_ADDRESS` as libusbmuxd reads it (`UNIX:/path`, or
//! `HOST:PORT`, `[V6]:PORT`), else `/var/run/usbmuxd` (Linux, macOS) or `127.0.0.1:27015`
//! (Windows).
//!
//! Every read and write has a deadline ([`Stream::set_deadline`]): the deadline bounds a whole
//! operation, however slowly the other side trickles its bytes.
//!
//! The parts: `address` (where usbmuxd listens), `stream` (a connection with its deadline and
//! byte counters), `devices` (device lists and `Listen` events as data). This module frames the
//! packets and makes the requests.

mod address;
mod devices;
mod stream;

pub use address::{resolve, Address, ENV_ADDRESS};
pub use devices::{parse_device_list, Event, MuxDevice};
pub use stream::{Counters, Stream};

use std::io::{self, Read, Write};
use std::sync::Arc;
use std::time::{Duration, Instant};

use plist::{Dictionary, Value};

use super::wire::{self, WireError};
use devices::event_from;

/// Largest usbmuxd packet accepted (a device list or a pair record is a few KB).
const MAX_PACKET: usize = 4 << 20;

const HEADER_LEN: usize = 16;
const PLIST_MESSAGE: u32 = 8;

/// Why talking to usbmuxd failed.
#[derive(Debug, thiserror::Error)]
pub enum UsbmuxError {
    #[error("cannot connect to usbmuxd at {addr}: {source}")]
    Connect {
        addr: Address,
        #[source]
        source: io::Error,
    },
    #[error("usbmuxd at {addr}: {request}: {source}")]
    Wire {
        addr: Address,
        request: &'static str,
        #[source]
        source: WireError,
    },
    #[error("usbmuxd at {addr} refused {request}: {}", result_text(*.code))]
    Refused {
        addr: Address,
        request: &'static str,
        code: u64,
    },
    #[error("usbmuxd at {addr}: unexpected answer to {request}: {what}")]
    Protocol {
        addr: Address,
        request: &'static str,
        what: String,
    },
}

/// usbmuxd's result numbers.
pub fn result_text(code: u64) -> String {
    match code {
        1 => "bad command (1)".to_string(),
        2 => "no such device (2)".to_string(),
        3 => "connection refused by the device (3)".to_string(),
        6 => "protocol version not supported (6)".to_string(),
        n => format!("error {n}"),
    }
}

/// The usbmuxd client of one scan.
#[derive(Clone)]
pub struct Usbmux {
    addr: Address,
    timeout: Duration,
    counters: Arc<Counters>,
}

impl Usbmux {
    pub fn new(addr: Address, timeout: Duration, counters: Arc<Counters>) -> Self {
        Self {
            addr,
            timeout,
            counters,
        }
    }

    pub fn addr(&self) -> &Address {
        &self.addr
    }

    pub fn counters(&self) -> &Arc<Counters> {
        &self.counters
    }

    fn open(&self) -> Result<Stream, UsbmuxError> {
        Stream::open(&self.addr, self.timeout, Arc::clone(&self.counters)).map_err(|source| {
            UsbmuxError::Connect {
                addr: self.addr.clone(),
                source,
            }
        })
    }

    fn message(kind: &str) -> Dictionary {
        let mut d = Dictionary::new();
        d.insert("MessageType".into(), kind.into());
        d.insert("ClientVersionString".into(), "appsweep".into());
        d.insert("ProgName".into(), "appsweep".into());
        d.insert("kLibUSBMuxVersion".into(), Value::Integer(3.into()));
        d
    }

    fn send(
        &self,
        s: &mut Stream,
        request: &'static str,
        msg: &Dictionary,
        tag: u32,
    ) -> Result<(), UsbmuxError> {
        let wire_err = |source| UsbmuxError::Wire {
            addr: self.addr.clone(),
            request,
            source,
        };
        let body = wire::encode_xml(msg).map_err(wire_err)?;
        let total = u32::try_from(body.len() + HEADER_LEN)
            .map_err(|_| wire_err(WireError::TooLarge { len: body.len() }))?;
        let mut packet = Vec::with_capacity(body.len() + HEADER_LEN);
        for v in [total, 1, PLIST_MESSAGE, tag] {
            packet.extend_from_slice(&v.to_le_bytes());
        }
        packet.extend_from_slice(&body);
        s.write_all(&packet)
            .and_then(|()| s.flush())
            .map_err(|e| wire_err(WireError::Io(e)))
    }

    /// The body length announced by a packet header.
    fn body_len(&self, header: &[u8], request: &'static str) -> Result<usize, UsbmuxError> {
        let word = |i: usize| {
            header
                .get(i * 4..i * 4 + 4)
                .and_then(|b| <[u8; 4]>::try_from(b).ok())
                .map_or(0, u32::from_le_bytes)
        };
        let (len, message) = (word(0) as usize, word(2));
        let wire_err = |source| UsbmuxError::Wire {
            addr: self.addr.clone(),
            request,
            source,
        };
        if message != PLIST_MESSAGE {
            return Err(UsbmuxError::Protocol {
                addr: self.addr.clone(),
                request,
                what: format!("message type {message}, not a plist (8)"),
            });
        }
        let body_len = len
            .checked_sub(HEADER_LEN)
            .ok_or_else(|| wire_err(WireError::Framing("length shorter than the header")))?;
        if body_len > MAX_PACKET {
            return Err(wire_err(WireError::TooLarge { len: body_len }));
        }
        Ok(body_len)
    }

    fn receive(&self, s: &mut Stream, request: &'static str) -> Result<Dictionary, UsbmuxError> {
        let wire_err = |source| UsbmuxError::Wire {
            addr: self.addr.clone(),
            request,
            source,
        };
        let mut header = [0u8; HEADER_LEN];
        s.read_exact(&mut header)
            .map_err(|e| wire_err(WireError::Io(e)))?;
        let mut body = vec![0u8; self.body_len(&header, request)?];
        s.read_exact(&mut body)
            .map_err(|e| wire_err(WireError::Io(e)))?;
        wire::decode(&body).map_err(wire_err)
    }

    /// Opens a connection, sends one request and reads its answer.
    fn exchange(
        &self,
        request: &'static str,
        msg: &Dictionary,
    ) -> Result<(Stream, Dictionary), UsbmuxError> {
        let mut s = self.open()?;
        self.send(&mut s, request, msg, 1)?;
        let reply = self.receive(&mut s, request)?;
        self.counters.exchange();
        Ok((s, reply))
    }

    fn result_code(reply: &Dictionary) -> Option<u64> {
        (reply.get("MessageType").and_then(Value::as_string) == Some("Result"))
            .then(|| reply.get("Number").and_then(Value::as_unsigned_integer))
            .flatten()
    }

    /// A `Result` of 0, or what usbmuxd answered instead.
    fn check_ok(&self, request: &'static str, reply: &Dictionary) -> Result<(), UsbmuxError> {
        match Self::result_code(reply) {
            Some(0) => Ok(()),
            Some(code) => Err(UsbmuxError::Refused {
                addr: self.addr.clone(),
                request,
                code,
            }),
            None => Err(UsbmuxError::Protocol {
                addr: self.addr.clone(),
                request,
                what: "no Result".to_string(),
            }),
        }
    }

    /// The attached devices, sorted by UDID.
    pub fn list_devices(&self) -> Result<Vec<MuxDevice>, UsbmuxError> {
        let request = "ListDevices";
        let (_, reply) = self.exchange(request, &Self::message(request))?;
        if let Some(code) = Self::result_code(&reply).filter(|c| *c != 0) {
            return Err(UsbmuxError::Refused {
                addr: self.addr.clone(),
                request,
                code,
            });
        }
        parse_device_list(&reply).ok_or_else(|| UsbmuxError::Protocol {
            addr: self.addr.clone(),
            request,
            what: "no DeviceList array".to_string(),
        })
    }

    /// The host's pair record for `udid` (a plist), `None` when usbmuxd holds none.
    pub fn read_pair_record(&self, udid: &str) -> Result<Option<Vec<u8>>, UsbmuxError> {
        let request = "ReadPairRecord";
        let mut msg = Self::message(request);
        msg.insert("PairRecordID".into(), udid.into());
        let (_, reply) = self.exchange(request, &msg)?;
        if Self::result_code(&reply).is_some() {
            // usbmuxd answers a Result (ENOENT, or another error) when it has no record.
            return Ok(None);
        }
        match reply.get("PairRecordData") {
            Some(Value::Data(d)) if !d.is_empty() => Ok(Some(d.clone())),
            _ => Err(UsbmuxError::Protocol {
                addr: self.addr.clone(),
                request,
                what: "no PairRecordData".to_string(),
            }),
        }
    }

    /// The host's system BUID (shared by every pair record of this computer).
    pub fn read_buid(&self) -> Result<String, UsbmuxError> {
        let request = "ReadBUID";
        let (_, reply) = self.exchange(request, &Self::message(request))?;
        if let Some(code) = Self::result_code(&reply) {
            return Err(UsbmuxError::Refused {
                addr: self.addr.clone(),
                request,
                code,
            });
        }
        reply
            .get("BUID")
            .and_then(Value::as_string)
            .map(str::to_string)
            .ok_or_else(|| UsbmuxError::Protocol {
                addr: self.addr.clone(),
                request,
                what: "no BUID".to_string(),
            })
    }

    /// Stores a pair record for `udid` in the host's store (the only write appsweep makes, and
    /// only when asked to pair).
    pub fn save_pair_record(
        &self,
        udid: &str,
        device_id: u64,
        record: Vec<u8>,
    ) -> Result<(), UsbmuxError> {
        let request = "SavePairRecord";
        let mut msg = Self::message(request);
        msg.insert("PairRecordID".into(), udid.into());
        msg.insert("PairRecordData".into(), Value::Data(record));
        msg.insert("DeviceID".into(), Value::Integer(device_id.into()));
        let (_, reply) = self.exchange(request, &msg)?;
        self.check_ok(request, &reply)
    }

    /// Opens a byte pipe to `port` on the device.
    pub fn connect(&self, device_id: u64, port: u16) -> Result<Stream, UsbmuxError> {
        let request = "Connect";
        let mut msg = Self::message(request);
        msg.insert("DeviceID".into(), Value::Integer(device_id.into()));
        // Network byte order inside the integer, as libusbmuxd sends it.
        msg.insert(
            "PortNumber".into(),
            Value::Integer(u64::from(port.swap_bytes()).into()),
        );
        let (mut s, reply) = self.exchange(request, &msg)?;
        self.check_ok(request, &reply)?;
        s.set_deadline(None);
        Ok(s)
    }

    /// Subscribes to attach and detach events (usbmuxd first reports every attached device).
    pub fn listen(&self) -> Result<Listener, UsbmuxError> {
        let request = "Listen";
        let (mut stream, reply) = self.exchange(request, &Self::message(request))?;
        self.check_ok(request, &reply)?;
        stream.set_deadline(None);
        Ok(Listener {
            mux: self.clone(),
            stream,
            pending: Vec::new(),
        })
    }
}

/// A `Listen` subscription.
pub struct Listener {
    mux: Usbmux,
    stream: Stream,
    /// Bytes of a packet not complete yet (a wait may end in the middle of one).
    pending: Vec<u8>,
}

impl Listener {
    /// A complete packet from `pending`, if one is there.
    fn take_packet(&mut self) -> Result<Option<Dictionary>, UsbmuxError> {
        let Some(header) = self.pending.get(..HEADER_LEN) else {
            return Ok(None);
        };
        let body_len = self.mux.body_len(header, "Listen")?;
        let Some(body) = self.pending.get(HEADER_LEN..HEADER_LEN + body_len) else {
            return Ok(None);
        };
        let msg = wire::decode(body).map_err(|source| UsbmuxError::Wire {
            addr: self.mux.addr.clone(),
            request: "Listen",
            source,
        })?;
        self.pending.drain(..HEADER_LEN + body_len);
        Ok(Some(msg))
    }

    /// The next event, or `Ok(None)` when none came within `wait`. An error means the
    /// subscription is over (usbmuxd stopped): subscribe again.
    pub fn next_event(&mut self, wait: Duration) -> Result<Option<Event>, UsbmuxError> {
        let until = Instant::now() + wait;
        loop {
            while let Some(msg) = self.take_packet()? {
                if let Some(ev) = event_from(&msg) {
                    return Ok(Some(ev));
                }
            }
            self.stream.set_deadline(Some(until));
            let mut buf = [0u8; 8192];
            match self.stream.read(&mut buf) {
                Ok(0) => {
                    return Err(UsbmuxError::Wire {
                        addr: self.mux.addr.clone(),
                        request: "Listen",
                        source: WireError::Io(io::Error::new(
                            io::ErrorKind::UnexpectedEof,
                            "usbmuxd closed the subscription",
                        )),
                    })
                }
                Ok(n) => self
                    .pending
                    .extend_from_slice(buf.get(..n).unwrap_or_default()),
                Err(e) if e.kind() == io::ErrorKind::TimedOut => return Ok(None),
                Err(e) => {
                    return Err(UsbmuxError::Wire {
                        addr: self.mux.addr.clone(),
                        request: "Listen",
                        source: WireError::Io(e),
                    })
                }
            }
        }
    }
}
