//! One transport connection from the adb server: handshake, stream multiplexing, flow control,
//! link shaping, and the hang-up that simulates an unplugged cable.

use crate::profile::Profile;
use crate::proto::{self, Packet};
use crate::scenario::{Auth, Scenario};
use crate::stats::Stats;
use crate::vfs::Vfs;
use crate::{service, Shared};
use std::collections::{HashMap, VecDeque};
use std::io::{self, BufReader};
use std::net::{Shutdown, TcpStream};
use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering};
use std::sync::mpsc::{channel, Receiver, Sender};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Throttles the device→host direction to the scenario's bandwidth and adds latency per service.
pub struct LinkShaper {
    latency: Duration,
    bandwidth: u64,
    free_at: Mutex<Instant>,
}

impl LinkShaper {
    pub fn new(sc: &Scenario) -> LinkShaper {
        LinkShaper {
            latency: Duration::from_millis(sc.link.latency_ms),
            bandwidth: sc.link.bandwidth_bytes_per_s,
            free_at: Mutex::new(Instant::now()),
        }
    }

    /// One round trip's worth of delay.
    pub fn round_trip(&self) {
        if !self.latency.is_zero() {
            std::thread::sleep(self.latency);
        }
    }

    /// Waits until `n` more bytes fit through the link (the link is shared by all streams).
    pub fn throttle(&self, n: usize) {
        if self.bandwidth == 0 || n == 0 {
            return;
        }
        let cost = Duration::from_secs_f64(n as f64 / self.bandwidth as f64);
        let until = {
            let mut g = match self.free_at.lock() {
                Ok(g) => g,
                Err(p) => p.into_inner(),
            };
            let now = Instant::now();
            let start = if *g > now { *g } else { now };
            *g = start + cost;
            *g
        };
        let now = Instant::now();
        if until > now {
            std::thread::sleep(until - now);
        }
    }
}

pub enum Ev {
    Okay,
    Data(Vec<u8>),
    Close,
}

pub struct Conn {
    pub shared: Arc<Shared>,
    writer: Mutex<TcpStream>,
    sock: TcpStream,
    maxdata: AtomicUsize,
    streams: Mutex<HashMap<u32, Sender<Ev>>>,
    next_id: AtomicU32,
}

fn random_token() -> Vec<u8> {
    static COUNTER: AtomicU32 = AtomicU32::new(1);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0);
    let mut x = nanos
        ^ (u64::from(COUNTER.fetch_add(1, Ordering::Relaxed)) << 32)
        ^ u64::from(std::process::id());
    let mut out = Vec::with_capacity(24);
    while out.len() < 20 {
        // xorshift64*
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        out.extend_from_slice(&x.wrapping_mul(0x2545_f491_4f6c_dd1d).to_le_bytes());
    }
    out.truncate(20);
    out
}

impl Conn {
    pub fn scenario(&self) -> &Scenario {
        &self.shared.scenario
    }
    pub fn profile(&self) -> &Profile {
        &self.shared.profile
    }
    pub fn vfs(&self) -> &Vfs {
        &self.shared.vfs
    }
    pub fn stats(&self) -> &Stats {
        &self.shared.stats
    }

    pub fn maxdata(&self) -> usize {
        self.maxdata.load(Ordering::Relaxed).max(1)
    }

    pub fn send(&self, command: u32, arg0: u32, arg1: u32, payload: &[u8]) -> io::Result<()> {
        let mut w = match self.writer.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        proto::write_packet(&mut *w, command, arg0, arg1, payload)
    }

    /// `device::ro.product.name=P;ro.product.model=M;ro.product.device=D;features=...`, the
    /// `features=` key only from Android 6 (empty there).
    fn banner(&self) -> Vec<u8> {
        let b = &self.scenario().serial_banner;
        let mut s = format!(
            "device::ro.product.name={};ro.product.model={};ro.product.device={};",
            b.product, b.model, b.device
        );
        if let Some(f) = self.profile().features {
            s.push_str("features=");
            s.push_str(f);
        }
        s.into_bytes()
    }

    fn send_cnxn(&self) -> io::Result<()> {
        let max = u32::try_from(self.maxdata()).unwrap_or(self.profile().max_payload);
        self.send(proto::A_CNXN, proto::A_VERSION, max, &self.banner())
    }

    /// Closes the TCP connection and stops the process: the phone is gone.
    pub fn hang_up(&self) -> ! {
        self.stats().update(|c| c.dropped = true);
        self.stats().write();
        eprintln!("fake-adbd: drop_after_services reached: hanging up");
        let _ = self.sock.shutdown(Shutdown::Both);
        std::process::exit(0);
    }

    fn route(&self, local: u32, ev: Ev) {
        let tx = {
            let g = match self.streams.lock() {
                Ok(g) => g,
                Err(p) => p.into_inner(),
            };
            g.get(&local).cloned()
        };
        if let Some(tx) = tx {
            let _ = tx.send(ev);
        }
    }

    fn forget(&self, local: u32) {
        let mut g = match self.streams.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        g.remove(&local);
    }
}

/// Serves one TCP connection until it ends.
pub fn serve(shared: Arc<Shared>, sock: TcpStream) -> io::Result<()> {
    let _ = sock.set_nodelay(true);
    let conn = Arc::new(Conn {
        maxdata: AtomicUsize::new(shared.profile.max_payload as usize),
        shared,
        writer: Mutex::new(sock.try_clone()?),
        sock: sock.try_clone()?,
        streams: Mutex::new(HashMap::new()),
        next_id: AtomicU32::new(1),
    });
    conn.stats().update(|c| c.connections += 1);
    let mut reader = BufReader::with_capacity(512 * 1024, sock);
    let mut online = false;
    let mut asked_again = false;
    let result = loop {
        let pkt = match proto::read_packet(&mut reader) {
            Ok(p) => p,
            Err(e) => break Err(e),
        };
        if online && pkt.payload.len() > conn.maxdata() {
            // adbd checks every packet against its max payload and drops the transport.
            let e = oversized(&conn, &pkt);
            let _ = conn.sock.shutdown(Shutdown::Both);
            break Err(e);
        }
        if let Err(e) = handle_packet(&conn, pkt, &mut online, &mut asked_again) {
            break Err(e);
        }
    };
    // Wake every service still waiting on this connection.
    let all: Vec<Sender<Ev>> = {
        let mut g = match conn.streams.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        g.drain().map(|(_, tx)| tx).collect()
    };
    for tx in all {
        let _ = tx.send(Ev::Close);
    }
    result
}

/// Records a packet longer than the device takes (a host hazard: see `stats.rs`).
fn oversized(conn: &Conn, pkt: &Packet) -> io::Error {
    let head: String = String::from_utf8_lossy(pkt.payload.get(..60).unwrap_or(&pkt.payload))
        .chars()
        .map(|c| if c.is_control() { '.' } else { c })
        .collect();
    let what = format!(
        "{} of {} bytes (max {}): {head}",
        proto::command_name(pkt.command),
        pkt.payload.len(),
        conn.maxdata()
    );
    eprintln!("fake-adbd: oversized packet, dropping the connection: {what}");
    conn.stats().update(|c| {
        c.oversized_packets += 1;
        c.oversized.push(what.clone());
    });
    conn.stats().write();
    io::Error::new(io::ErrorKind::InvalidData, what)
}

fn handle_packet(
    conn: &Arc<Conn>,
    pkt: Packet,
    online: &mut bool,
    asked_again: &mut bool,
) -> io::Result<()> {
    match pkt.command {
        proto::A_CNXN => {
            let host_max = usize::try_from(pkt.arg1).unwrap_or(usize::MAX);
            let device_max = conn.profile().max_payload as usize;
            conn.maxdata
                .store(host_max.clamp(1, device_max), Ordering::Relaxed);
            *online = false;
            *asked_again = false;
            match conn.scenario().auth {
                Auth::None => {
                    conn.send_cnxn()?;
                    *online = true;
                    conn.stats().update(|c| c.online_connections += 1);
                }
                Auth::Accept | Auth::Never => {
                    conn.send(proto::A_AUTH, proto::AUTH_TOKEN, 0, &random_token())?;
                }
            }
        }
        proto::A_AUTH => match (conn.scenario().auth, pkt.arg0) {
            (Auth::Accept, proto::AUTH_SIGNATURE | proto::AUTH_RSAPUBLICKEY) if !*online => {
                conn.send_cnxn()?;
                *online = true;
                conn.stats().update(|c| c.online_connections += 1);
            }
            (Auth::Accept, proto::AUTH_SIGNATURE | proto::AUTH_RSAPUBLICKEY) => {}
            (Auth::Never, proto::AUTH_SIGNATURE) if !*asked_again => {
                // Reject the signature: ask again, so the host offers its public key.
                *asked_again = true;
                conn.send(proto::A_AUTH, proto::AUTH_TOKEN, 0, &random_token())?;
            }
            _ => {
                // Never: stay silent (the user did not tap "Allow").
            }
        },
        proto::A_OPEN => {
            if !*online {
                return Ok(());
            }
            let local = conn.next_id.fetch_add(1, Ordering::Relaxed);
            let remote = pkt.arg0;
            let len = pkt.payload.len() as u64;
            conn.stats()
                .update(|c| c.longest_open = c.longest_open.max(len));
            let mut name = pkt.payload;
            while name.last() == Some(&0) {
                name.pop();
            }
            let name = String::from_utf8_lossy(&name).into_owned();
            let (tx, rx) = channel();
            {
                let mut g = match conn.streams.lock() {
                    Ok(g) => g,
                    Err(p) => p.into_inner(),
                };
                g.insert(local, tx);
            }
            let c = Arc::clone(conn);
            std::thread::Builder::new()
                .name(format!("svc-{local}"))
                .spawn(move || {
                    let io = StreamIo::new(Arc::clone(&c), local, remote, rx);
                    service::run(io, &name);
                    c.forget(local);
                    c.stats().update(|s| s.services_closed += 1);
                    c.stats().write();
                })?;
        }
        proto::A_OKAY => conn.route(pkt.arg1, Ev::Okay),
        proto::A_WRTE => {
            let n = pkt.payload.len() as u64;
            conn.stats().update(|c| c.bytes_received += n);
            conn.send(proto::A_OKAY, pkt.arg1, pkt.arg0, &[])?;
            conn.route(pkt.arg1, Ev::Data(pkt.payload));
        }
        proto::A_CLSE => {
            conn.route(pkt.arg1, Ev::Close);
            conn.forget(pkt.arg1);
        }
        proto::A_STLS => {}
        other => {
            eprintln!(
                "fake-adbd: ignoring packet {} ({} bytes)",
                proto::command_name(other),
                pkt.payload.len()
            );
        }
    }
    Ok(())
}

#[derive(Debug)]
pub struct Closed;

impl From<Closed> for io::Error {
    fn from(_: Closed) -> io::Error {
        io::Error::new(io::ErrorKind::ConnectionAborted, "stream closed by host")
    }
}

/// One service stream: buffered output with flow control, buffered input.
pub struct StreamIo {
    pub conn: Arc<Conn>,
    local: u32,
    remote: u32,
    rx: Receiver<Ev>,
    inbuf: VecDeque<u8>,
    out: Vec<u8>,
    host_closed: bool,
    opened: bool,
    /// When set, the device hangs up once this many payload bytes have been sent.
    drop_budget: Option<u64>,
    sent: u64,
}

impl StreamIo {
    fn new(conn: Arc<Conn>, local: u32, remote: u32, rx: Receiver<Ev>) -> StreamIo {
        StreamIo {
            conn,
            local,
            remote,
            rx,
            inbuf: VecDeque::new(),
            out: Vec::new(),
            host_closed: false,
            opened: false,
            drop_budget: None,
            sent: 0,
        }
    }

    pub fn set_drop_budget(&mut self, budget: u64) {
        self.drop_budget = Some(budget);
    }

    pub fn drop_pending(&self) -> bool {
        self.drop_budget.is_some()
    }

    /// Accepts the OPEN.
    pub fn accept(&mut self) -> io::Result<()> {
        self.opened = true;
        self.conn.send(proto::A_OKAY, self.local, self.remote, &[])
    }

    /// Refuses the OPEN (unknown service).
    pub fn refuse(&mut self) {
        self.host_closed = true;
        let _ = self.conn.send(proto::A_CLSE, 0, self.remote, &[]);
    }

    /// Queues bytes; sends full packets as they fill.
    pub fn write(&mut self, data: &[u8]) -> io::Result<()> {
        self.out.extend_from_slice(data);
        let max = self.conn.maxdata();
        while self.out.len() >= max {
            let rest = self.out.split_off(max);
            let chunk = std::mem::replace(&mut self.out, rest);
            self.send_wrte(&chunk)?;
        }
        Ok(())
    }

    pub fn flush(&mut self) -> io::Result<()> {
        if !self.out.is_empty() {
            let chunk = std::mem::take(&mut self.out);
            self.send_wrte(&chunk)?;
        }
        Ok(())
    }

    fn send_wrte(&mut self, chunk: &[u8]) -> io::Result<()> {
        if self.host_closed {
            return Err(Closed.into());
        }
        if let Some(budget) = self.drop_budget {
            let room = budget.saturating_sub(self.sent);
            if (chunk.len() as u64) >= room {
                let part = chunk
                    .get(..usize::try_from(room).unwrap_or(0))
                    .unwrap_or(&[]);
                if !part.is_empty() {
                    self.conn.shared.link.throttle(part.len());
                    let _ = self.conn.send(proto::A_WRTE, self.local, self.remote, part);
                    let n = part.len() as u64;
                    self.conn.stats().update(|c| {
                        c.bytes_sent += n;
                        c.wrte_sent += 1;
                    });
                }
                self.conn.hang_up();
            }
        }
        self.conn.shared.link.throttle(chunk.len());
        self.conn
            .send(proto::A_WRTE, self.local, self.remote, chunk)?;
        let n = chunk.len() as u64;
        self.sent += n;
        self.conn.stats().update(|c| {
            c.bytes_sent += n;
            c.wrte_sent += 1;
        });
        self.wait_okay()
    }

    fn wait_okay(&mut self) -> io::Result<()> {
        loop {
            match self.rx.recv() {
                Ok(Ev::Okay) => return Ok(()),
                Ok(Ev::Data(d)) => self.inbuf.extend(d),
                Ok(Ev::Close) | Err(_) => {
                    self.host_closed = true;
                    return Err(Closed.into());
                }
            }
        }
    }

    /// Reads exactly `n` bytes of what the host wrote on this stream.
    pub fn read_exact(&mut self, n: usize) -> io::Result<Vec<u8>> {
        while self.inbuf.len() < n {
            if self.host_closed {
                return Err(Closed.into());
            }
            match self.rx.recv() {
                Ok(Ev::Data(d)) => self.inbuf.extend(d),
                Ok(Ev::Okay) => {}
                Ok(Ev::Close) | Err(_) => {
                    self.host_closed = true;
                    return Err(Closed.into());
                }
            }
        }
        Ok(self.inbuf.drain(..n).collect())
    }

    /// Flushes and closes the stream (CLSE), unless the host already closed it.
    pub fn finish(mut self) {
        if self.host_closed {
            return;
        }
        if self.drop_budget.is_some() {
            // Nothing (or too little) was sent to reach the budget: hang up now.
            let _ = self.flush();
            self.conn.hang_up();
        }
        if self.flush().is_err() {
            return;
        }
        if self.opened {
            let _ = self.conn.send(proto::A_CLSE, self.local, self.remote, &[]);
        }
    }
}
