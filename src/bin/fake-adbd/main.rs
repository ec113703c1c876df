//! fake-adbd: the device side of the adb protocol over TCP, pretending to be the phone described
//! by a scenario JSON file. The real `adb` server adopts it with `adb connect 127.0.0.1:PORT`.
//!
//! ```text
//! fake-adbd --scenario scenario.json --port PORT [--stats-file stats.json] [--ports-file F]
//! ```
//! Port 0 picks a free port. Prints `LISTENING <port>` on stdout once ready. Serves until killed,
//! or until `drop_after_services` says the cable is pulled.

mod android;
mod conn;
mod proto;
mod scenario;
mod service;
mod shell;
mod stats;

use std::io::Write;
use std::net::TcpListener;
use std::path::PathBuf;
use std::sync::atomic::AtomicU64;
use std::sync::Arc;

/// State shared by every connection and service.
pub struct Shared {
    pub scenario: scenario::Scenario,
    pub vfs: scenario::Vfs,
    pub stats: stats::Stats,
    pub link: conn::LinkShaper,
    /// Services opened so far (for `drop_after_services`).
    pub opens: AtomicU64,
}

struct Args {
    scenario: PathBuf,
    port: u16,
    stats_file: Option<PathBuf>,
    ports_file: Option<PathBuf>,
}

const USAGE: &str =
    "usage: fake-adbd --scenario FILE.json --port PORT [--stats-file FILE] [--ports-file FILE]";

fn parse_args() -> Result<Args, String> {
    let mut scenario = None;
    let mut port = None;
    let mut stats_file = None;
    let mut ports_file = None;
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        let mut val = |name: &str| it.next().ok_or_else(|| format!("{name} needs a value"));
        match a.as_str() {
            "--scenario" => scenario = Some(PathBuf::from(val("--scenario")?)),
            "--port" => {
                let v = val("--port")?;
                port = Some(v.parse::<u16>().map_err(|e| format!("--port {v}: {e}"))?);
            }
            "--stats-file" => stats_file = Some(PathBuf::from(val("--stats-file")?)),
            "--ports-file" => ports_file = Some(PathBuf::from(val("--ports-file")?)),
            "-h" | "--help" => return Err(USAGE.to_string()),
            other => return Err(format!("unknown argument {other:?}\n{USAGE}")),
        }
    }
    Ok(Args {
        scenario: scenario.ok_or_else(|| format!("--scenario is required\n{USAGE}"))?,
        port: port.unwrap_or(0),
        stats_file,
        ports_file,
    })
}

fn load(path: &PathBuf) -> Result<scenario::Scenario, String> {
    let text =
        std::fs::read_to_string(path).map_err(|e| format!("scenario {}: {e}", path.display()))?;
    let mut sc: scenario::Scenario =
        serde_json::from_str(&text).map_err(|e| format!("scenario {}: {e}", path.display()))?;
    sc.normalise();
    Ok(sc)
}

fn real_main() -> Result<(), String> {
    let args = parse_args()?;
    let sc = load(&args.scenario)?;
    let vfs = scenario::Vfs::build(&sc)?;
    let listener = TcpListener::bind(("127.0.0.1", args.port))
        .map_err(|e| format!("bind 127.0.0.1:{}: {e}", args.port))?;
    let port = listener
        .local_addr()
        .map_err(|e| format!("local_addr: {e}"))?
        .port();
    let shared = Arc::new(Shared {
        link: conn::LinkShaper::new(&sc),
        scenario: sc,
        vfs,
        stats: stats::Stats::new(args.stats_file),
        opens: AtomicU64::new(0),
    });
    shared.stats.write();
    if let Some(pf) = &args.ports_file {
        std::fs::write(pf, format!("{port}\n")).map_err(|e| format!("{}: {e}", pf.display()))?;
    }
    {
        let mut out = std::io::stdout().lock();
        writeln!(out, "LISTENING {port}").map_err(|e| e.to_string())?;
        out.flush().map_err(|e| e.to_string())?;
    }
    for sock in listener.incoming() {
        let sock = match sock {
            Ok(s) => s,
            Err(e) => {
                eprintln!("fake-adbd: accept: {e}");
                continue;
            }
        };
        let sh = Arc::clone(&shared);
        let spawned = std::thread::Builder::new()
            .name("conn".to_string())
            .spawn(move || {
                if let Err(e) = conn::serve(Arc::clone(&sh), sock) {
                    if e.kind() != std::io::ErrorKind::UnexpectedEof {
                        eprintln!("fake-adbd: connection ended: {e}");
                    }
                }
                sh.stats.write();
            });
        if let Err(e) = spawned {
            eprintln!("fake-adbd: cannot spawn a connection thread: {e}");
        }
    }
    Ok(())
}

fn main() {
    if let Err(e) = real_main() {
        eprintln!("fake-adbd: {e}");
        std::process::exit(2);
    }
}
