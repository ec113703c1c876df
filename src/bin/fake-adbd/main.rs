//! fake-adbd: the device side of the adb protocol over TCP, pretending to be the phone described
//! by a scenario JSON file. The real `adb` server adopts it with `adb connect 127.0.0.1:PORT`.
//!
//! ```text
//! fake-adbd --scenario scenario.json --port PORT [--stats-file stats.json] [--ports-file F]
//! ```
//! Port 0 picks a free port. Prints `LISTENING <port>` on stdout once ready. Serves until killed,
//! or until `drop_after_services` says the cable is pulled.
//!
//! # The scenario
//!
//! Every field is optional; unknown fields are errors.
//!
//! | field | meaning |
//! |---|---|
//! | `sdk` | behave like a real phone of this API level (21-36): adbd transport, shell tools, `pm`, `dumpsys`, costs, as `profile.rs` tabulates them. It wins over `android_sdk`, `shell_v2: true` and the version props, so adding `sdk` alone turns an old scenario into a real phone of that version. Absent: the permissive phone older scenarios were written for (shell_v2, 256 KiB payload, every tool, free commands). |
//! | `android_sdk` | without `sdk`: the level `getprop` reports and `pm` options follow (nothing else). |
//! | `serial_banner` | `product`, `model`, `device` of the CNXN banner (`adb devices -l`). |
//! | `auth` | `accept` (default), `never` (stays `unauthorized`), `none` (no AUTH). |
//! | `props` | `getprop` values over the defaults derived from the banner and the SDK. |
//! | `users` | `id`, `name`, `flags` (hex, as `pm list users` prints), `running`, `refuse_listing` (SecurityException for `pm list packages --user N`), `locked` (a locked Private Space or paused profile: not running, listing empty), `hidden_from_dumpsys`. Default: user 0 only. |
//! | `packages` | `name`, `users` (installed for; `[]` = uninstalled with data kept), `uid`, `version_code`, `version_name`, `installer`, `system`, `first_install`, `last_update` (`YYYY-MM-DD HH:MM:SS`), `min_sdk`, `target_sdk`, `enabled` (`false` = disabled), `archived` (Android 15), `permissions`, `apks` (`path`, and `file`, `prefix_junk`, `synthetic_size` or `content`). |
//! | `link` | `latency_ms` per service (one round trip), `bandwidth_bytes_per_s` for what the phone sends. |
//! | `costs` | the on-phone cost model (`cost.rs`): `scale` (1 with `sdk`, else 0), `pm_ms`, `cmd_ms`, `dumpsys_ms`, `dumpsys_per_package_ms`, `tool_ms`, `file_mb_per_s`, `parallel`. |
//! | `dumpsys` | `cut_after_packages`: every `dumpsys package` is cut after N package blocks, with the `DUMP TIMEOUT` line. |
//! | `utc_offset` | the phone's UTC offset as `date +%z` prints it (default: that of `persist.sys.timezone`, Europe/Berlin unless `props` say otherwise, with EU summer time). |
//! | `clock` | a fixed phone clock (UTC `YYYY-MM-DD HH:MM:SS`) for `date`; default the host's. |
//! | `drop_after_services` | after N services the next is cut mid-output and the phone hangs up. |
//! | `shell_v2` | without `sdk`: `false` stops advertising it (`cmd` stays). With `sdk`: `false` takes it from an Android 7+ adbd; `true` adds nothing. |
//!
//! # Stats
//!
//! `--stats-file` receives the counters of `stats.rs` (round trips, commands, bytes, sync
//! requests, refused writes, phone time, cut dumps, and packets longer than the phone's max
//! payload), rewritten atomically whenever a service ends.

mod conn;
mod cost;
mod dumpsys;
mod pm;
mod profile;
mod proto;
mod scenario;
mod service;
mod shell;
mod stats;
mod tools;
mod vfs;

use std::io::Write;
use std::net::TcpListener;
use std::path::PathBuf;
use std::sync::atomic::AtomicU64;
use std::sync::Arc;

/// State shared by every connection and service.
pub struct Shared {
    pub scenario: scenario::Scenario,
    /// What a phone of the scenario's Android version can do.
    pub profile: profile::Profile,
    pub vfs: vfs::Vfs,
    /// The phone's cores, shared by every service (the cost model).
    pub cpu: cost::Cpu,
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
    sc.normalise()
        .map_err(|e| format!("scenario {}: {e}", path.display()))?;
    Ok(sc)
}

fn real_main() -> Result<(), String> {
    let args = parse_args()?;
    let sc = load(&args.scenario)?;
    let vfs = vfs::Vfs::build(&sc)?;
    let profile = profile::Profile::of(&sc);
    let listener = TcpListener::bind(("127.0.0.1", args.port))
        .map_err(|e| format!("bind 127.0.0.1:{}: {e}", args.port))?;
    let port = listener
        .local_addr()
        .map_err(|e| format!("local_addr: {e}"))?
        .port();
    let shared = Arc::new(Shared {
        link: conn::LinkShaper::new(&sc),
        cpu: cost::Cpu::new(profile.costs.parallel),
        profile,
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
