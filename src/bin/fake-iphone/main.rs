//! fake-iphone: a usbmuxd socket with the iPhones and iPads of a scenario file behind it, speaking
//! the real protocols (usbmuxd plist protocol, lockdownd with TLS from pair records,
//! installation_proxy), so Debian's libimobiledevice tools (`ideviceinfo`, `idevicepair`,
//! `ideviceinstaller`) and appsweep both talk to it through `USBMUXD_SOCKET_ADDRESS`.
//!
//! ```text
//! fake-iphone --scenario scenario.json (--socket PATH | --tcp 127.0.0.1:0) [--stats-file F]
//! ```
//! Prints `LISTENING <address>` once ready, the address as `USBMUXD_SOCKET_ADDRESS` takes it
//! (`UNIX:/path` or `127.0.0.1:PORT`). Serves until killed.
//!
//! Phones marked `paired` start with a pair record in the fake usbmuxd, made as a host makes one
//! (new RSA keys, certificates signed by the host's root), which the phone trusts unless
//! `trusts_host` is false. Counters of what each phone was asked (`sessions`, `browses`,
//! `lockdown_requests`, `connects`, `pair_requests`, ...) go to the stats file as JSON.

mod instproxy;
mod link;
mod lockdownd;
mod mux;
mod scenario;
mod state;

use std::io::Write;
use std::net::TcpListener;
#[cfg(unix)]
use std::os::unix::net::UnixListener;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use link::Sock;
use state::Shared;

const USAGE: &str =
    "usage: fake-iphone --scenario FILE.json (--socket PATH | --tcp HOST:PORT) [--stats-file FILE]";

struct Args {
    scenario: PathBuf,
    socket: Option<PathBuf>,
    tcp: Option<String>,
    stats_file: Option<PathBuf>,
}

fn parse_args() -> Result<Args, String> {
    let mut a = Args {
        scenario: PathBuf::new(),
        socket: None,
        tcp: None,
        stats_file: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let mut val = |name: &str| it.next().ok_or_else(|| format!("{name} needs a value"));
        match arg.as_str() {
            "--scenario" => a.scenario = PathBuf::from(val("--scenario")?),
            "--socket" => a.socket = Some(PathBuf::from(val("--socket")?)),
            "--tcp" => a.tcp = Some(val("--tcp")?),
            "--stats-file" => a.stats_file = Some(PathBuf::from(val("--stats-file")?)),
            "-h" | "--help" => return Err(USAGE.to_string()),
            other => return Err(format!("unknown argument {other:?}\n{USAGE}")),
        }
    }
    if a.scenario.as_os_str().is_empty() || a.socket.is_some() == a.tcp.is_some() {
        return Err(USAGE.to_string());
    }
    Ok(a)
}

enum Listener {
    #[cfg(unix)]
    Unix(UnixListener),
    Tcp(TcpListener),
}

impl Listener {
    fn accept(&self) -> std::io::Result<Sock> {
        match self {
            #[cfg(unix)]
            Listener::Unix(l) => l.accept().map(|(s, _)| Sock::Unix(s)),
            Listener::Tcp(l) => l.accept().map(|(s, _)| {
                let _ = s.set_nodelay(true);
                Sock::Tcp(s)
            }),
        }
    }
}

fn bind(a: &Args) -> Result<(Listener, String), String> {
    if let Some(addr) = &a.tcp {
        let l = TcpListener::bind(addr).map_err(|e| format!("bind {addr}: {e}"))?;
        let local = l.local_addr().map_err(|e| e.to_string())?;
        return Ok((Listener::Tcp(l), local.to_string()));
    }
    #[cfg(unix)]
    if let Some(path) = &a.socket {
        let _ = std::fs::remove_file(path);
        let l = UnixListener::bind(path).map_err(|e| format!("bind {}: {e}", path.display()))?;
        return Ok((Listener::Unix(l), format!("UNIX:{}", path.display())));
    }
    Err("Unix sockets are not available here: use --tcp".to_string())
}

/// Plugs each phone in (now or later), and out and in again as the scenario says.
fn schedule(sh: &Arc<Shared>) {
    for i in 0..sh.phones.len() {
        let Some(p) = sh.phones.get(i) else { continue };
        if p.sc.attach_after_ms == 0 && p.sc.detach_after_ms.is_none() {
            sh.attach(p);
            continue;
        }
        let sh = Arc::clone(sh);
        let _ = std::thread::Builder::new()
            .name("plug".into())
            .spawn(move || {
                let Some(p) = sh.phones.get(i) else { return };
                std::thread::sleep(Duration::from_millis(p.sc.attach_after_ms));
                sh.attach(p);
                let Some(after) = p.sc.detach_after_ms else {
                    return;
                };
                std::thread::sleep(Duration::from_millis(after));
                sh.detach(p);
                if let Some(again) = p.sc.reattach_after_ms {
                    std::thread::sleep(Duration::from_millis(again));
                    sh.attach(p);
                }
            });
    }
}

fn real_main() -> Result<(), String> {
    let args = parse_args()?;
    let text = std::fs::read_to_string(&args.scenario)
        .map_err(|e| format!("scenario {}: {e}", args.scenario.display()))?;
    let sc: scenario::Scenario = serde_json::from_str(&text)
        .map_err(|e| format!("scenario {}: {e}", args.scenario.display()))?;
    let shared =
        Arc::new(Shared::new(sc, args.stats_file.clone()).map_err(|e| format!("setting up: {e}"))?);
    let (listener, address) = bind(&args)?;
    schedule(&shared);
    {
        let mut out = std::io::stdout().lock();
        writeln!(out, "LISTENING {address}").map_err(|e| e.to_string())?;
        out.flush().map_err(|e| e.to_string())?;
    }
    loop {
        let sock = match listener.accept() {
            Ok(s) => s,
            Err(e) => {
                eprintln!("fake-iphone: accept: {e}");
                continue;
            }
        };
        let sh = Arc::clone(&shared);
        let spawned = std::thread::Builder::new()
            .name("conn".into())
            .spawn(move || {
                if let Err(e) = mux::serve(sh, sock) {
                    if !matches!(
                        e.kind(),
                        std::io::ErrorKind::UnexpectedEof
                            | std::io::ErrorKind::ConnectionReset
                            | std::io::ErrorKind::ConnectionAborted
                            | std::io::ErrorKind::BrokenPipe
                    ) {
                        eprintln!("fake-iphone: connection ended: {e}");
                    }
                }
            });
        if let Err(e) = spawned {
            eprintln!("fake-iphone: cannot spawn a connection thread: {e}");
        }
    }
}

fn main() {
    if let Err(e) = real_main() {
        eprintln!("fake-iphone: {e}");
        std::process::exit(2);
    }
}
