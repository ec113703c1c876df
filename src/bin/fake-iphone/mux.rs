//! The usbmuxd side: plist packets (16-byte little-endian header: length, version 1, type 8,
//! tag) carrying `ListDevices`, `Listen`, `Connect`, `ReadPairRecord`, `ReadBUID`,
//! `SavePairRecord` and `DeletePairRecord`, answered as Apple's and Linux's usbmuxd answer them.
//! After a successful `Connect` the socket belongs to lockdownd or to a service of the phone.

use std::io::{self, Read, Write};
use std::sync::mpsc;
use std::sync::Arc;

use plist::{Dictionary, Value};

use crate::link::{bad, decode, encode, text, Sock};
use crate::state::{lock, Shared};

const LOCKDOWN_PORT: u16 = 62078;

/// usbmuxd result numbers.
const OK: u64 = 0;
const BAD_COMMAND: u64 = 1;
const BAD_DEVICE: u64 = 2;
const CONNECTION_REFUSED: u64 = 3;

fn packet(d: &Dictionary, tag: u32) -> io::Result<Vec<u8>> {
    let body = encode(d)?;
    let mut out = Vec::with_capacity(body.len() + 16);
    for v in [(body.len() + 16) as u32, 1, 8, tag] {
        out.extend_from_slice(&v.to_le_bytes());
    }
    out.extend_from_slice(&body);
    Ok(out)
}

fn send(sock: &mut Sock, d: &Dictionary, tag: u32) -> io::Result<()> {
    sock.write_all(&packet(d, tag)?)?;
    sock.flush()
}

fn result(number: u64) -> Dictionary {
    let mut d = Dictionary::new();
    d.insert("MessageType".into(), "Result".into());
    d.insert("Number".into(), Value::Integer(number.into()));
    d
}

/// One request; `Ok(None)` when the client hung up.
fn recv(sock: &mut Sock) -> io::Result<Option<(Dictionary, u32)>> {
    let mut header = [0u8; 16];
    match sock.read_exact(&mut header) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(e),
    }
    let mut words = header
        .chunks_exact(4)
        .map(|c| <[u8; 4]>::try_from(c).map_or(0, u32::from_le_bytes));
    let mut word = || words.next().unwrap_or(0);
    let (len, version, kind, tag) = (word() as usize, word(), word(), word());
    if version != 1 || kind != 8 {
        // The binary protocol (version 0) is not served: answer as usbmuxd does.
        let mut r = result(6);
        r.insert("Note".into(), "plist protocol only".into());
        send(sock, &r, tag)?;
        return Err(bad(format!(
            "binary usbmuxd protocol (version {version}, type {kind})"
        )));
    }
    if !(16..=(16 << 20)).contains(&len) {
        return Err(bad(format!("packet length {len}")));
    }
    let mut body = vec![0u8; len - 16];
    sock.read_exact(&mut body)?;
    Ok(Some((decode(&body)?, tag)))
}

/// Serves one client of the fake usbmuxd.
pub fn serve(sh: Arc<Shared>, mut sock: Sock) -> io::Result<()> {
    while let Some((msg, tag)) = recv(&mut sock)? {
        match text(&msg, "MessageType") {
            "ListDevices" => {
                let mut list = Vec::new();
                for p in &sh.phones {
                    if let Some(id) = *lock(&p.attached) {
                        list.push(Value::Dictionary(sh.attached_message(p, id)));
                    }
                }
                let mut d = Dictionary::new();
                d.insert("DeviceList".into(), Value::Array(list));
                send(&mut sock, &d, tag)?;
            }
            "Listen" => return listen(&sh, sock, tag),
            "Connect" => {
                let id = msg.get("DeviceID").and_then(Value::as_unsigned_integer);
                // libusbmuxd puts the port in network byte order inside the integer.
                let port = msg
                    .get("PortNumber")
                    .and_then(Value::as_unsigned_integer)
                    .map(|p| (p as u16).swap_bytes());
                return connect(&sh, sock, tag, id, port);
            }
            "ReadPairRecord" => {
                let record = lock(&sh.records).get(text(&msg, "PairRecordID")).cloned();
                match record {
                    Some(r) => {
                        let mut d = Dictionary::new();
                        d.insert("PairRecordData".into(), Value::Data(r));
                        send(&mut sock, &d, tag)?;
                    }
                    None => send(&mut sock, &result(BAD_DEVICE), tag)?,
                }
            }
            "ReadBUID" => {
                let mut d = Dictionary::new();
                d.insert("BUID".into(), sh.sc.system_buid.as_str().into());
                send(&mut sock, &d, tag)?;
            }
            "SavePairRecord" => {
                let id = text(&msg, "PairRecordID").to_string();
                match msg.get("PairRecordData") {
                    Some(Value::Data(r)) if !id.is_empty() && decode(r).is_ok() => {
                        lock(&sh.records).insert(id.clone(), r.clone());
                        sh.count(&id, "pair_records_saved");
                        send(&mut sock, &result(OK), tag)?;
                        // As usbmuxd does when the record names a connected device.
                        if let Some(dev) = msg.get("DeviceID").and_then(Value::as_unsigned_integer)
                        {
                            sh.paired(&id, dev);
                        }
                    }
                    _ => send(&mut sock, &result(BAD_COMMAND), tag)?,
                }
            }
            "DeletePairRecord" => {
                lock(&sh.records).remove(text(&msg, "PairRecordID"));
                send(&mut sock, &result(OK), tag)?;
            }
            _ => send(&mut sock, &result(BAD_COMMAND), tag)?,
        }
    }
    Ok(())
}

/// `Listen`: the result, then an `Attached` for every phone plugged in now, then each attach
/// and detach as it happens, until the client hangs up.
fn listen(sh: &Arc<Shared>, mut sock: Sock, tag: u32) -> io::Result<()> {
    let (tx, rx) = mpsc::channel::<Dictionary>();
    {
        let mut subscribers = lock(&sh.listeners);
        send(&mut sock, &result(OK), tag)?;
        for p in &sh.phones {
            if let Some(id) = *lock(&p.attached) {
                send(&mut sock, &sh.attached_message(p, id), 0)?;
            }
        }
        subscribers.push(tx);
    }
    let mut writer = sock.try_clone()?;
    let pump = std::thread::Builder::new()
        .name("listen".into())
        .spawn(move || {
            for msg in rx {
                if send(&mut writer, &msg, 0).is_err() {
                    break;
                }
            }
        })?;
    // The client never writes again: a read returns when it hangs up.
    let mut buf = [0u8; 64];
    while matches!(sock.read(&mut buf), Ok(n) if n > 0) {}
    sock.shutdown();
    drop(pump);
    Ok(())
}

fn connect(
    sh: &Arc<Shared>,
    mut sock: Sock,
    tag: u32,
    id: Option<u64>,
    port: Option<u16>,
) -> io::Result<()> {
    let Some(phone) = id.and_then(|id| sh.phone_by_handle(id)) else {
        return send(&mut sock, &result(BAD_DEVICE), tag);
    };
    sh.round_trip();
    let service_host = port.and_then(|p| lock(&phone.services).get(&p).cloned());
    let target = match port {
        Some(LOCKDOWN_PORT) => Target::Lockdown,
        Some(_) if service_host.is_some() => Target::Service,
        _ => return send(&mut sock, &result(CONNECTION_REFUSED), tag),
    };
    send(&mut sock, &result(OK), tag)?;
    sh.count_quietly(&phone.sc.udid, "connects");
    lock(&phone.open).push(sock.try_clone()?);
    match target {
        Target::Lockdown => crate::lockdownd::serve(sh, phone, sock),
        Target::Service => {
            crate::instproxy::serve(sh, phone, service_host.unwrap_or_default(), sock)
        }
    }
}

enum Target {
    Lockdown,
    Service,
}
