//! A connection to usbmuxd (Unix socket or TCP), and after `Connect` a byte pipe to a port on
//! the phone: every read and write bounded by one deadline, every byte counted.

use std::io::{self, Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
#[cfg(unix)]
use std::os::unix::net::UnixStream;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::Address;

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
    /// Connects to usbmuxd at `addr`; the first deadline is `timeout` from now.
    pub(super) fn open(
        addr: &Address,
        timeout: Duration,
        counters: Arc<Counters>,
    ) -> io::Result<Self> {
        let sock = match addr {
            #[cfg(unix)]
            Address::Unix(path) => Sock::Unix(UnixStream::connect(path)?),
            Address::Tcp(a) => {
                let host = a.trim_start_matches('[').replace("]:", ":");
                let mut last = io::Error::new(io::ErrorKind::NotFound, "no address");
                let mut found = None;
                for sa in host.to_socket_addrs()? {
                    match TcpStream::connect_timeout(&sa, timeout) {
                        Ok(s) => {
                            found = Some(s);
                            break;
                        }
                        Err(e) => last = e,
                    }
                }
                let s = found.ok_or(last)?;
                let _ = s.set_nodelay(true);
                Sock::Tcp(s)
            }
        };
        Ok(Stream {
            sock,
            deadline: Some(Instant::now() + timeout),
            counters,
        })
    }

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
