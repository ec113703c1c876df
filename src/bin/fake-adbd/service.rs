//! Services opened by the host: shell (v2 and raw), exec, sync; everything else is refused.

use crate::conn::StreamIo;
use crate::profile::Profile;
use crate::shell::{self, Piece};
use crate::vfs::Node;
use std::io;
use std::sync::atomic::Ordering;

const SYNC_DATA_MAX: usize = 64 * 1024;

/// Services that would change the phone: refused and recorded.
const WRITING_SERVICES: &[&str] = &[
    "reboot:",
    "root:",
    "unroot:",
    "remount:",
    "backup:",
    "restore:",
    "install",
    "uninstall",
    "abb:",
    "abb_exec:",
    "tcpip:",
    "usb:",
    "reverse:",
    "disable-verity:",
    "enable-verity:",
    "sideload",
];

pub fn run(mut io: StreamIo, name: &str) {
    let conn = std::sync::Arc::clone(&io.conn);
    let shared = &conn.shared;
    let seq = shared.opens.fetch_add(1, Ordering::SeqCst) + 1;
    let kind = service_kind(name);
    conn.stats().update(|c| {
        c.opens += 1;
        *c.services.entry(kind.clone()).or_default() += 1;
    });
    shared.link.round_trip();
    if let Some(n) = conn.scenario().drop_after_services {
        if seq > n {
            io.set_drop_budget(0);
        }
    }

    if let Some((mode, cmd)) = parse_shell(name, conn.profile()) {
        if io.accept().is_err() {
            return;
        }
        conn.stats().update(|c| {
            c.shell_commands += 1;
            c.command_lines.push(cmd.to_string());
        });
        let _ = run_shell(&mut io, mode, cmd);
        io.finish();
    } else if name == "sync:" || name.starts_with("sync:") {
        if io.accept().is_err() {
            return;
        }
        let _ = run_sync(&mut io);
        io.finish();
    } else {
        if WRITING_SERVICES.iter().any(|w| name.starts_with(w)) {
            conn.stats()
                .update(|c| c.write_attempts.push(format!("service {name}")));
        }
        if io.drop_pending() {
            conn.hang_up();
        }
        io.refuse();
    }
}

fn service_kind(name: &str) -> String {
    if name.starts_with("exec:") {
        "exec".to_string()
    } else if name.starts_with("shell:") {
        "shell".to_string()
    } else if name.starts_with("shell,") {
        let v2 = name
            .split_once(':')
            .is_some_and(|(args, _)| args.split(',').any(|a| a == "v2"));
        if v2 { "shell_v2" } else { "shell" }.to_string()
    } else if name.starts_with("sync:") {
        "sync".to_string()
    } else {
        let head: String = name.chars().take_while(|c| *c != ':').take(40).collect();
        format!("other:{head}")
    }
}

/// How a shell service sends its output.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// Shell protocol v2: stdout, stderr and exit status in frames.
    V2,
    /// Raw bytes, stderr merged, no exit status (`exec:`, and `shell:` from Android 7).
    Raw,
    /// Under a pseudo-terminal (`shell:` before Android 7): as `Raw`, and every `\n` becomes
    /// `\r\n` (the tty's ONLCR), binary output included.
    Pty,
}

/// `shell:CMD`, `shell,v2,TERM=x,raw:CMD`, `exec:CMD` → (mode, CMD), as this phone's adbd
/// takes them (`None`: not a shell service here, refused like an unknown one).
fn parse_shell<'a>(name: &'a str, p: &Profile) -> Option<(Mode, &'a str)> {
    if let Some(cmd) = name.strip_prefix("exec:") {
        return p.exec.then_some((Mode::Raw, cmd));
    }
    let rest = name.strip_prefix("shell")?;
    if let Some(cmd) = rest.strip_prefix(':') {
        return Some((if p.pty_shell { Mode::Pty } else { Mode::Raw }, cmd));
    }
    // `shell,ARGS:CMD` exists only with the shell protocol (Android 7+).
    if !p.shell_v2 {
        return None;
    }
    let rest = rest.strip_prefix(',')?;
    let (args, cmd) = rest.split_once(':')?;
    let v2 = args.split(',').any(|a| a == "v2");
    Some((if v2 { Mode::V2 } else { Mode::Raw }, cmd))
}

fn frame(id: u8, data: &[u8]) -> Vec<u8> {
    let mut f = Vec::with_capacity(5 + data.len());
    f.push(id);
    f.extend_from_slice(&u32::try_from(data.len()).unwrap_or(u32::MAX).to_le_bytes());
    f.extend_from_slice(data);
    f
}

/// `\n` → `\r\n`, as a tty's output processing does.
fn onlcr(b: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(b.len() + b.len() / 16);
    for &c in b {
        if c == b'\n' {
            out.push(b'\r');
        }
        out.push(c);
    }
    out
}

fn run_shell(io: &mut StreamIo, mode: Mode, cmd: &str) -> io::Result<()> {
    let conn = std::sync::Arc::clone(&io.conn);
    let result = shell::run(&conn, cmd);
    // The phone works out the whole script before the output goes out (see cost.rs).
    let costs = &conn.profile().costs;
    let sent_from_files: u64 = result
        .events
        .iter()
        .map(|(_, p)| shell::file_bytes(std::slice::from_ref(p)))
        .sum();
    let phone_ms = result.phone_ms + costs.file_ms(sent_from_files);
    conn.stats().update(|c| c.phone_ms += phone_ms);
    conn.shared.cpu.spend(phone_ms, costs.scale);
    if io.drop_pending() {
        let total: u64 = result.events.iter().map(|(_, p)| p.len()).sum();
        io.set_drop_budget(total / 2);
    }
    let send = |io: &mut StreamIo, id: u8, block: &[u8]| -> io::Result<()> {
        match mode {
            Mode::V2 => {
                for part in block.chunks(SYNC_DATA_MAX) {
                    io.write(&frame(id, part))?;
                }
                Ok(())
            }
            Mode::Raw => io.write(block),
            Mode::Pty => io.write(&onlcr(block)),
        }
    };
    for (id, piece) in &result.events {
        match piece {
            Piece::Bytes(b) => send(io, *id, b)?,
            Piece::File { src, start, len } => {
                conn.stats().update(|c| c.file_bytes_read += *len);
                src.for_each_block(*start, *len, SYNC_DATA_MAX, |block| send(io, *id, block))?;
            }
        }
    }
    if mode == Mode::V2 {
        io.write(&frame(3, &[result.status]))?;
    }
    io.flush()
}

fn sync_msg(id: &[u8; 4], words: &[u32]) -> Vec<u8> {
    let mut m = id.to_vec();
    for w in words {
        m.extend_from_slice(&w.to_le_bytes());
    }
    m
}

fn sync_fail(io: &mut StreamIo, msg: &str) -> io::Result<()> {
    let mut m = sync_msg(b"FAIL", &[u32::try_from(msg.len()).unwrap_or(0)]);
    m.extend_from_slice(msg.as_bytes());
    io.write(&m)?;
    io.flush()
}

const S_IFREG_0644: u32 = 0o100_644;
const S_IFDIR_0755: u32 = 0o040_755;

fn u32_le(b: &[u8], at: usize) -> u32 {
    let mut w = [0u8; 4];
    if let Some(s) = b.get(at..at + 4) {
        w.copy_from_slice(s);
    }
    u32::from_le_bytes(w)
}

fn run_sync(io: &mut StreamIo) -> io::Result<()> {
    let conn = std::sync::Arc::clone(&io.conn);
    loop {
        let head = io.read_exact(8)?;
        let id: [u8; 4] = [
            head.first().copied().unwrap_or(0),
            head.get(1).copied().unwrap_or(0),
            head.get(2).copied().unwrap_or(0),
            head.get(3).copied().unwrap_or(0),
        ];
        let len = u32_le(&head, 4) as usize;
        let id_name = String::from_utf8_lossy(&id).into_owned();
        conn.stats()
            .update(|c| *c.sync_requests.entry(id_name.clone()).or_default() += 1);
        if &id == b"QUIT" {
            return Ok(());
        }
        if &id == b"DONE" || &id == b"DATA" {
            // Stray data outside a SEND: the stream is out of sync.
            return sync_fail(io, "unexpected sync message");
        }
        if len > 4096 {
            return sync_fail(io, &format!("path too long ({len} bytes)"));
        }
        let path = String::from_utf8_lossy(&io.read_exact(len)?).into_owned();
        match &id {
            b"STAT" => {
                let reply = match conn.vfs().lookup(&path) {
                    Some(Node::File(f)) => sync_msg(
                        b"STAT",
                        &[
                            S_IFREG_0644,
                            u32::try_from(f.size).unwrap_or(u32::MAX),
                            u32::try_from(f.mtime).unwrap_or(0),
                        ],
                    ),
                    Some(Node::Dir) => sync_msg(b"STAT", &[S_IFDIR_0755, 4096, 1_230_768_000]),
                    None => sync_msg(b"STAT", &[0, 0, 0]),
                };
                io.write(&reply)?;
                io.flush()?;
            }
            b"LIST" => {
                if let Some(Node::Dir) = conn.vfs().lookup(&path) {
                    let kids = conn.vfs().children(&path);
                    let mut entries = vec![
                        (".".to_string(), S_IFDIR_0755, 4096u64, 1_230_768_000u64),
                        ("..".to_string(), S_IFDIR_0755, 4096, 1_230_768_000),
                    ];
                    for (name, node) in kids {
                        match node {
                            Node::File(f) => entries.push((name, S_IFREG_0644, f.size, f.mtime)),
                            Node::Dir => entries.push((name, S_IFDIR_0755, 4096, 1_230_768_000)),
                        }
                    }
                    for (name, mode, size, mtime) in entries {
                        let mut m = sync_msg(
                            b"DENT",
                            &[
                                mode,
                                u32::try_from(size).unwrap_or(u32::MAX),
                                u32::try_from(mtime).unwrap_or(0),
                                u32::try_from(name.len()).unwrap_or(0),
                            ],
                        );
                        m.extend_from_slice(name.as_bytes());
                        io.write(&m)?;
                    }
                } else if let Some(Node::File(f)) = conn.vfs().lookup(&path) {
                    let name = path.rsplit('/').next().unwrap_or(&path).to_string();
                    let mut m = sync_msg(
                        b"DENT",
                        &[
                            S_IFREG_0644,
                            u32::try_from(f.size).unwrap_or(u32::MAX),
                            u32::try_from(f.mtime).unwrap_or(0),
                            u32::try_from(name.len()).unwrap_or(0),
                        ],
                    );
                    m.extend_from_slice(name.as_bytes());
                    io.write(&m)?;
                }
                io.write(&sync_msg(b"DONE", &[0, 0, 0, 0]))?;
                io.flush()?;
            }
            b"RECV" => match conn.vfs().lookup(&path) {
                Some(Node::File(f)) => {
                    let f = std::sync::Arc::clone(f);
                    if io.drop_pending() {
                        io.set_drop_budget(f.size / 2);
                    }
                    let mut sent = 0u64;
                    f.for_each_block(0, f.size, SYNC_DATA_MAX, |block| {
                        let mut m = sync_msg(b"DATA", &[u32::try_from(block.len()).unwrap_or(0)]);
                        m.extend_from_slice(block);
                        sent += block.len() as u64;
                        io.write(&m)
                    })?;
                    conn.stats().update(|c| c.sync_recv_bytes += sent);
                    io.write(&sync_msg(b"DONE", &[0]))?;
                    io.flush()?;
                }
                Some(Node::Dir) => sync_fail(io, "Is a directory")?,
                None => sync_fail(io, "No such file or directory")?,
            },
            b"SEND" => {
                conn.stats()
                    .update(|c| c.write_attempts.push(format!("sync SEND {path}")));
                sync_fail(io, "couldn't create file: Read-only file system")?;
                // Like adbd: discard the DATA the host is already sending, up to DONE.
                loop {
                    let h = io.read_exact(8)?;
                    let n = u32_le(&h, 4) as usize;
                    match h.get(..4) {
                        Some(b"DATA") => {
                            if n > 1024 * 1024 {
                                return Ok(());
                            }
                            io.read_exact(n)?;
                        }
                        _ => return Ok(()),
                    }
                }
            }
            _ => {
                return sync_fail(io, &format!("unknown sync request {id_name:?}"));
            }
        }
    }
}
