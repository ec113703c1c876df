//! The adb transport packet: a 24-byte little-endian header and a payload.

use std::io::{self, Read, Write};

pub const A_CNXN: u32 = u32::from_le_bytes(*b"CNXN");
pub const A_AUTH: u32 = u32::from_le_bytes(*b"AUTH");
pub const A_OPEN: u32 = u32::from_le_bytes(*b"OPEN");
pub const A_OKAY: u32 = u32::from_le_bytes(*b"OKAY");
pub const A_WRTE: u32 = u32::from_le_bytes(*b"WRTE");
pub const A_CLSE: u32 = u32::from_le_bytes(*b"CLSE");
pub const A_STLS: u32 = u32::from_le_bytes(*b"STLS");

/// Protocol version the device answers with.
pub const A_VERSION: u32 = 0x0100_0000;
/// Largest payload accepted from a host before the connection is considered broken.
const HARD_MAX_PAYLOAD: u32 = 16 * 1024 * 1024;

/// AUTH arg0 values.
pub const AUTH_TOKEN: u32 = 1;
pub const AUTH_SIGNATURE: u32 = 2;
pub const AUTH_RSAPUBLICKEY: u32 = 3;

#[derive(Debug, Clone)]
pub struct Packet {
    pub command: u32,
    pub arg0: u32,
    pub arg1: u32,
    pub payload: Vec<u8>,
}

fn le_u32(header: &[u8; 24], at: usize) -> u32 {
    let mut b = [0u8; 4];
    if let Some(s) = header.get(at..at + 4) {
        b.copy_from_slice(s);
    }
    u32::from_le_bytes(b)
}

/// Reads one packet. Errors on EOF, a bad magic, or an absurd payload length.
pub fn read_packet(r: &mut impl Read) -> io::Result<Packet> {
    let mut header = [0u8; 24];
    r.read_exact(&mut header)?;
    let command = le_u32(&header, 0);
    let arg0 = le_u32(&header, 4);
    let arg1 = le_u32(&header, 8);
    let len = le_u32(&header, 12);
    let magic = le_u32(&header, 20);
    if magic != command ^ 0xffff_ffff {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("bad magic {magic:#010x} for command {command:#010x}"),
        ));
    }
    if len > HARD_MAX_PAYLOAD {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("payload length {len} too large"),
        ));
    }
    let mut payload = vec![0u8; len as usize];
    r.read_exact(&mut payload)?;
    Ok(Packet {
        command,
        arg0,
        arg1,
        payload,
    })
}

/// Byte sum of the payload, as the `data_check` field.
pub fn checksum(payload: &[u8]) -> u32 {
    payload
        .iter()
        .fold(0u32, |acc, b| acc.wrapping_add(u32::from(*b)))
}

/// Encodes a packet (header and payload) in one buffer so it is written with one call.
pub fn encode(command: u32, arg0: u32, arg1: u32, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(24 + payload.len());
    out.extend_from_slice(&command.to_le_bytes());
    out.extend_from_slice(&arg0.to_le_bytes());
    out.extend_from_slice(&arg1.to_le_bytes());
    out.extend_from_slice(
        &u32::try_from(payload.len())
            .unwrap_or(u32::MAX)
            .to_le_bytes(),
    );
    out.extend_from_slice(&checksum(payload).to_le_bytes());
    out.extend_from_slice(&(command ^ 0xffff_ffff).to_le_bytes());
    out.extend_from_slice(payload);
    out
}

pub fn write_packet(
    w: &mut impl Write,
    command: u32,
    arg0: u32,
    arg1: u32,
    payload: &[u8],
) -> io::Result<()> {
    w.write_all(&encode(command, arg0, arg1, payload))?;
    w.flush()
}

pub fn command_name(command: u32) -> String {
    let b = command.to_le_bytes();
    if b.iter().all(|c| c.is_ascii_uppercase()) {
        String::from_utf8_lossy(&b).into_owned()
    } else {
        format!("{command:#010x}")
    }
}
