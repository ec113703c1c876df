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

use std::fmt;
use std::io::{self, Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
#[cfg(unix)]
use std::os::unix::net::UnixStream;
#[cfg(unix)]
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use plist::{Dictionary, Value};

use super::wire::{self, WireError};

/// The environment variable libusbmuxd reads.
pub const ENV_ADDRESS: &str = "USBMUXD_SOCKET_ADDRESS";

/// Largest usbmuxd packet accepted (a device list or a pair record is a few KB).
const MAX_PACKET: usize = 4 << 20;

const HEADER_LEN: usize = 16;
const PLIST_MESSAGE: u32 = 8;

/// Where usbmuxd listens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Address {
    #[cfg(unix)]
    Unix(PathBuf),
    /// `host:port` (or `[v6]:port`) as given.
    Tcp(String),
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            #[cfg(unix)]
            Address::Unix(p) => write!(f, "{}", p.display()),
            Address::Tcp(a) => write!(f, "{a}"),
        }
    }
}

/// The address when nothing says otherwise.
pub fn default_address() -> Address {
    #[cfg(unix)]
    {
        Address::Unix(PathBuf::from("/var/run/usbmuxd"))
    }
    #[cfg(not(unix))]
    {
        Address::Tcp("127.0.0.1:27015".to_string())
    }
}

/// Reads `USBMUXD_SOCKET_ADDRESS` as libusbmuxd does: `UNIX:/path` (ignored where Unix sockets
/// do not exist), or `HOST:PORT` with a port from 1 to 65535; anything else falls back to the
/// default, with the reason.
pub fn resolve(value: Option<&str>) -> Result<Address, String> {
    let Some(v) = value.map(str::trim).filter(|v| !v.is_empty()) else {
        return Ok(default_address());
    };
    if let Some(path) = v.strip_prefix("UNIX:") {
        #[cfg(unix)]
        {
            if path.is_empty() {
                return Err(format!("{ENV_ADDRESS}={v:?}: no socket path after UNIX:"));
            }
            return Ok(Address::Unix(PathBuf::from(path)));
        }
        #[cfg(not(unix))]
        {
            let _ = path;
            return Ok(default_address());
        }
    }
    let port_ok = v
        .rsplit_once(':')
        .and_then(|(host, port)| (!host.is_empty()).then_some(port))
        .and_then(|p| p.parse::<u16>().ok())
        .is_some_and(|p| p > 0);
    if port_ok {
        Ok(Address::Tcp(v.to_string()))
    } else {
        Err(format!(
            "{ENV_ADDRESS}={v:?} is neither UNIX:/path nor HOST:PORT"
        ))
    }
}

/// Bytes and exchanges on every connection of one device scan.
#[derive(Debug, Default)]
pub struct Counters {
    pub bytes: AtomicU64,
    pub round_trips: AtomicU64,
}

impl Counters {
    pub fn exchange(&self) {
        self.round_trips.fetch_add(1, Ordering::Relaxed);
    }
}

enum Sock {
    #[cfg(unix)]
    Unix(UnixStream),
    Tcp(TcpStream),
}

/// A connection to usbmuxd (and, after `Connect`, to a port on the phone), with a deadline.
pub struct Stream {
    sock: Sock,
    deadline: Option<Instant>,
    counters: Arc<Counters>,
}

impl Stream {
    /// Every later read and write fails with `TimedOut` once `deadline` has passed.
    pub fn set_deadline(&mut self, deadline: Option<Instant>) {
        self.deadline = deadline;
    }

    /// Arms the socket timeouts with the time left (or fails when none is left).
    fn arm(&self) -> io::Result<()> {
        let Some(deadline) = self.deadline else {
            return Ok(());
        };
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(io::Error::new(io::ErrorKind::TimedOut, "deadline passed"));
        }
        let left = Some(left.max(Duration::from_millis(1)));
        match &self.sock {
            #[cfg(unix)]
            Sock::Unix(s) => {
                s.set_read_timeout(left)?;
                s.set_write_timeout(left)
            }
            Sock::Tcp(s) => {
                s.set_read_timeout(left)?;
                s.set_write_timeout(left)
            }
        }
    }

    /// Closes both directions now (a scan thread that gives up does not wait for the peer).
    pub fn shutdown(&self) {
        let _ = match &self.sock {
            #[cfg(unix)]
            Sock::Unix(s) => s.shutdown(std::net::Shutdown::Both),
            Sock::Tcp(s) => s.shutdown(std::net::Shutdown::Both),
        };
    }
}

/// A timeout on a socket shows as `WouldBlock` on Unix: call it what it is.
fn timed_out(e: io::Error) -> io::Error {
    if e.kind() == io::ErrorKind::WouldBlock {
        io::Error::new(io::ErrorKind::TimedOut, "no answer before the deadline")
    } else {
        e
    }
}

impl Read for Stream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.arm()?;
        let n = match &mut self.sock {
            #[cfg(unix)]
            Sock::Unix(s) => s.read(buf),
            Sock::Tcp(s) => s.read(buf),
        }
        .map_err(timed_out)?;
        self.counters
            .bytes
            .fetch_add(u64::try_from(n).unwrap_or(0), Ordering::Relaxed);
        Ok(n)
    }
}

impl Write for Stream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.arm()?;
        let n = match &mut self.sock {
            #[cfg(unix)]
            Sock::Unix(s) => s.write(buf),
            Sock::Tcp(s) => s.write(buf),
        }
        .map_err(timed_out)?;
        self.counters
            .bytes
            .fetch_add(u64::try_from(n).unwrap_or(0), Ordering::Relaxed);
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        match &mut self.sock {
            #[cfg(unix)]
            Sock::Unix(s) => s.flush(),
            Sock::Tcp(s) => s.flush(),
        }
    }
}

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

/// A device as usbmuxd lists it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct MuxDevice {
    /// usbmuxd's handle for this attach (changes at each plug).
    pub device_id: u64,
    /// The device's UDID (`SerialNumber` in usbmuxd's properties).
    pub udid: String,
    /// `USB` or `Network`.
    pub connection: String,
}

/// What `Listen` reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    Attached(MuxDevice),
    Detached(u64),
    /// usbmuxd saved a pair record for this device (the user tapped Trust).
    Paired(u64),
}

/// The usbmuxd client of one scan.
#[derive(Clone)]
pub struct Usbmux {
    addr: Address,
    timeout: Duration,
    counters: Arc<Counters>,
}

fn udid_of(props: &Dictionary) -> Option<String> {
    props
        .get("SerialNumber")
        .and_then(Value::as_string)
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| {
            // Old devices report a 24-digit serial without the dash of their UDID.
            match (s.len() == 24 && !s.contains('-'), s.get(..8), s.get(8..)) {
                (true, Some(a), Some(b)) => format!("{a}-{b}"),
                _ => s.to_string(),
            }
        })
}

fn device_from(props: &Dictionary, fallback_id: Option<u64>) -> Option<MuxDevice> {
    let device_id = props
        .get("DeviceID")
        .and_then(Value::as_unsigned_integer)
        .or(fallback_id)?;
    Some(MuxDevice {
        device_id,
        udid: udid_of(props)?,
        connection: props
            .get("ConnectionType")
            .and_then(Value::as_string)
            .unwrap_or("USB")
            .to_string(),
    })
}

/// Reads a `Listen` event from one message, `None` for messages that are not events.
fn event_from(msg: &Dictionary) -> Option<Event> {
    let id = msg.get("DeviceID").and_then(Value::as_unsigned_integer);
    match msg.get("MessageType").and_then(Value::as_string)? {
        "Attached" => {
            let props = msg.get("Properties").and_then(Value::as_dictionary)?;
            device_from(props, id).map(Event::Attached)
        }
        "Detached" => id.map(Event::Detached),
        "Paired" => id.map(Event::Paired),
        _ => None,
    }
}

/// Parses a `ListDevices` answer; devices without a UDID are skipped.
pub fn parse_device_list(reply: &Dictionary) -> Option<Vec<MuxDevice>> {
    let list = reply.get("DeviceList")?.as_array()?;
    let mut out: Vec<MuxDevice> = list
        .iter()
        .filter_map(Value::as_dictionary)
        .filter_map(|d| {
            let id = d.get("DeviceID").and_then(Value::as_unsigned_integer);
            let props = d.get("Properties").and_then(Value::as_dictionary)?;
            device_from(props, id)
        })
        .collect();
    out.sort_by(|a, b| a.udid.cmp(&b.udid).then(a.device_id.cmp(&b.device_id)));
    Some(out)
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
        let connect_err = |source| UsbmuxError::Connect {
            addr: self.addr.clone(),
            source,
        };
        let sock = match &self.addr {
            #[cfg(unix)]
            Address::Unix(path) => Sock::Unix(UnixStream::connect(path).map_err(connect_err)?),
            Address::Tcp(a) => {
                let host = a.trim_start_matches('[').replace("]:", ":");
                let mut last = io::Error::new(io::ErrorKind::NotFound, "no address");
                let mut found = None;
                for sa in host.to_socket_addrs().map_err(connect_err)? {
                    match TcpStream::connect_timeout(&sa, self.timeout) {
                        Ok(s) => {
                            found = Some(s);
                            break;
                        }
                        Err(e) => last = e,
                    }
                }
                let s = found.ok_or_else(|| connect_err(last))?;
                let _ = s.set_nodelay(true);
                Sock::Tcp(s)
            }
        };
        Ok(Stream {
            sock,
            deadline: Some(Instant::now() + self.timeout),
            counters: Arc::clone(&self.counters),
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
        match Self::result_code(&reply) {
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
        match Self::result_code(&reply) {
            Some(0) => {
                s.set_deadline(None);
                Ok(s)
            }
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

    /// Subscribes to attach and detach events (usbmuxd first reports every attached device).
    pub fn listen(&self) -> Result<Listener, UsbmuxError> {
        let request = "Listen";
        let (mut stream, reply) = self.exchange(request, &Self::message(request))?;
        match Self::result_code(&reply) {
            Some(0) => {
                stream.set_deadline(None);
                Ok(Listener {
                    mux: self.clone(),
                    stream,
                    pending: Vec::new(),
                })
            }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_are_read_as_libusbmuxd_reads_them() {
        assert_eq!(resolve(None).unwrap(), default_address());
        assert_eq!(resolve(Some("  ")).unwrap(), default_address());
        #[cfg(unix)]
        assert_eq!(
            resolve(Some("UNIX:/tmp/mux")).unwrap(),
            Address::Unix(PathBuf::from("/tmp/mux"))
        );
        assert_eq!(
            resolve(Some("127.0.0.1:27015")).unwrap(),
            Address::Tcp("127.0.0.1:27015".into())
        );
        assert_eq!(
            resolve(Some("[::1]:27015")).unwrap(),
            Address::Tcp("[::1]:27015".into())
        );
        assert!(resolve(Some("localhost")).is_err());
        assert!(resolve(Some("localhost:0")).is_err());
        assert!(resolve(Some(":27015")).is_err());
        assert!(resolve(Some("h:99999")).is_err());
    }

    fn props(id: u64, serial: &str) -> Value {
        let mut p = Dictionary::new();
        p.insert("DeviceID".into(), Value::Integer(id.into()));
        p.insert("SerialNumber".into(), serial.into());
        p.insert("ConnectionType".into(), "USB".into());
        Value::Dictionary(p)
    }

    #[test]
    fn device_lists_and_events_parse() {
        let mut entry = Dictionary::new();
        entry.insert("DeviceID".into(), Value::Integer(7.into()));
        entry.insert("MessageType".into(), "Attached".into());
        entry.insert("Properties".into(), props(7, "00008030001A35E83C38802E"));
        let mut no_udid = Dictionary::new();
        no_udid.insert("Properties".into(), Value::Dictionary(Dictionary::new()));
        let mut reply = Dictionary::new();
        reply.insert(
            "DeviceList".into(),
            Value::Array(vec![
                Value::Dictionary(entry.clone()),
                Value::Dictionary(no_udid),
                Value::String("junk".into()),
            ]),
        );
        let list = parse_device_list(&reply).unwrap();
        assert_eq!(
            list,
            vec![MuxDevice {
                device_id: 7,
                udid: "00008030-001A35E83C38802E".into(),
                connection: "USB".into()
            }]
        );
        assert!(matches!(event_from(&entry), Some(Event::Attached(d)) if d.device_id == 7));
        let mut gone = Dictionary::new();
        gone.insert("MessageType".into(), "Detached".into());
        gone.insert("DeviceID".into(), Value::Integer(7.into()));
        assert_eq!(event_from(&gone), Some(Event::Detached(7)));
        gone.remove("DeviceID");
        assert_eq!(event_from(&gone), None);
        assert!(parse_device_list(&Dictionary::new()).is_none());
    }
}
