//! The `appsweep` command line: parse, build the configuration, run one mode, exit with the
//! merged outcome.

use anyhow::{bail, Context as _, Result};
use appsweep::engine;
use appsweep::exit::Outcome;
use appsweep::model::Inventory;
use appsweep::outbox;
use appsweep::policy::Policy;
use appsweep::report::{self, Context, DeviceReport, Format, Sink, Style};
use appsweep::signatures::{Kind, SignatureSet};
use appsweep::source::{self, adb, files, ios_backup};
use clap::{Args, Parser, Subcommand, ValueEnum};
use std::collections::BTreeSet;
use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::sync::Mutex;

const EXIT_CODES: &str = "\
Exit codes:
  0  every device scanned completely, no violation
  1  at least one violation (wins over 3)
  2  usage or configuration error
  3  no violation found, but at least one device, backup or file could not be scanned completely";

#[derive(Parser)]
#[command(name = "appsweep", version, about = "Finds prohibited apps (TikTok and its variants, other ByteDance apps) on Android phones over ADB, in iOS backups and in APK/IPA files.", after_help = EXIT_CODES)]
struct Cli {
    #[command(subcommand)]
    command: Command,
    /// More detail on stderr.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    verbose: u8,
    /// Only verdict lines (human format) and errors.
    #[arg(short, long, global = true)]
    quiet: bool,
    /// Colour in human output.
    #[arg(long, global = true, value_enum, default_value_t = ColorChoice::Auto)]
    color: ColorChoice,
}

#[derive(Clone, Copy, ValueEnum)]
enum ColorChoice {
    Auto,
    Always,
    Never,
}

#[derive(Subcommand)]
enum Command {
    /// List attached Android devices and their state.
    Devices(AdbConn),
    /// Scan devices, backups or files.
    Scan {
        #[command(subcommand)]
        target: ScanTarget,
    },
    /// Field mode: scan each Android phone as it is plugged in, until Ctrl-C.
    Watch(WatchArgs),
    /// Show or send the records waiting in the outbox.
    Outbox {
        #[command(subcommand)]
        command: OutboxCommand,
    },
    /// Inspect and validate the signature set.
    Signatures {
        #[command(subcommand)]
        command: Option<SigCommand>,
        /// Add or override signature families from this folder of TOML files.
        #[arg(long, global = true)]
        signatures: Option<PathBuf>,
    },
}

#[derive(Subcommand)]
enum SigCommand {
    /// One line per signature (the default).
    List,
    /// Load and validate; print a summary.
    Check,
    /// Everything about one signature.
    Show { id: String },
}

#[derive(Args)]
struct WatchArgs {
    #[command(flatten)]
    common: Common,
    /// The adb server, HOST:PORT (default: ANDROID_ADB_SERVER_PORT or 127.0.0.1:5037).
    #[arg(long, value_name = "HOST:PORT")]
    adb_server: Option<String>,
    /// Do not read or write the fingerprint cache.
    #[arg(long)]
    no_cache: bool,
    /// How often to look for attached and detached phones, in milliseconds.
    #[arg(long, value_name = "MS", default_value_t = 1000)]
    poll_ms: u64,
}

#[derive(Subcommand)]
enum OutboxCommand {
    /// Records waiting to be sent.
    List(PostArgs),
    /// Send them now (to the URL each was queued with, or --post).
    Flush(PostArgs),
}

#[derive(Subcommand)]
enum ScanTarget {
    /// Live Android phones through the adb server (default: every attached device, concurrently).
    Adb(AdbScanArgs),
    /// iOS backup folders, or trees holding many.
    Backup(BackupArgs),
    /// .apk / .ipa files or folders of them.
    Files(FilesArgs),
}

#[derive(Args, Clone)]
struct AdbConn {
    /// The adb server, HOST:PORT (default: ANDROID_ADB_SERVER_PORT or 127.0.0.1:5037).
    #[arg(long, value_name = "HOST:PORT")]
    adb_server: Option<String>,
    /// Output format for `devices`.
    #[arg(long, value_enum)]
    format: Option<Format>,
}

#[derive(Args)]
struct Common {
    /// Output format (human on a terminal, json otherwise).
    #[arg(long, value_enum)]
    format: Option<Format>,
    /// Write the report to this file (atomically) instead of stdout.
    #[arg(long, value_name = "FILE")]
    output: Option<PathBuf>,
    /// Also write one <device>.json per device into this folder.
    #[arg(long, value_name = "DIR")]
    out_dir: Option<PathBuf>,
    /// Add or override signature families from this folder of TOML files.
    #[arg(long, value_name = "DIR")]
    signatures: Option<PathBuf>,
    /// Policy file (TOML): dispositions and allow-list mode.
    #[arg(long, value_name = "FILE")]
    policy: Option<PathBuf>,
    /// File SHA-256: none, for apps with findings, or for every app.
    #[arg(long, value_enum, default_value_t = files::HashMode::Flagged)]
    hash: files::HashMode,
    /// Worker threads (default: one per core).
    #[arg(long, value_name = "N")]
    threads: Option<usize>,
    #[command(flatten)]
    post: PostArgs,
    /// Send each record as soon as it is queued (watch), not after the whole run.
    #[arg(skip)]
    post_each: bool,
}

#[derive(Args, Clone, Default)]
struct PostArgs {
    /// Send each device record as JSON to this webhook (through the durable outbox).
    #[arg(long, value_name = "URL")]
    post: Option<String>,
    /// The outbox folder (default: $XDG_STATE_HOME/appsweep/outbox or ~/.local/state/appsweep/outbox).
    #[arg(long, value_name = "DIR")]
    outbox: Option<PathBuf>,
    /// File holding a bearer token for --post (or set APPSWEEP_POST_TOKEN).
    #[arg(long, value_name = "FILE")]
    post_token_file: Option<PathBuf>,
    /// Seconds to wait for the endpoint to connect and answer, per attempt.
    #[arg(long, value_name = "SECS", default_value_t = 15)]
    post_timeout: u64,
}

impl PostArgs {
    fn delivery(&self) -> Result<outbox::Delivery> {
        let dir = match &self.outbox {
            Some(d) => d.clone(),
            None => outbox::default_dir().context("no outbox folder: set --outbox or HOME")?,
        };
        let token = match &self.post_token_file {
            Some(f) => Some(
                std::fs::read_to_string(f)
                    .with_context(|| format!("reading token file {}", f.display()))?
                    .trim()
                    .to_string(),
            ),
            None => std::env::var("APPSWEEP_POST_TOKEN").ok(),
        };
        let mut d = outbox::Delivery::new(dir, self.post.clone(), token);
        d.timeout = std::time::Duration::from_secs(self.post_timeout.max(1));
        Ok(d)
    }
}

#[derive(Args)]
struct AdbScanArgs {
    #[command(flatten)]
    common: Common,
    /// The adb server, HOST:PORT (default: ANDROID_ADB_SERVER_PORT or 127.0.0.1:5037).
    #[arg(long, value_name = "HOST:PORT")]
    adb_server: Option<String>,
    /// Only this device (repeatable). Default: every attached device.
    #[arg(long, short = 's', value_name = "SERIAL")]
    serial: Vec<String>,
    /// Do not read or write the fingerprint cache.
    #[arg(long)]
    no_cache: bool,
}

#[derive(Args)]
struct BackupArgs {
    #[command(flatten)]
    common: Common,
    /// Backup folders or trees holding backups.
    #[arg(required = true)]
    paths: Vec<PathBuf>,
    /// File holding the password of encrypted backups (or set APPSWEEP_BACKUP_PASSWORD).
    #[arg(long, value_name = "FILE")]
    password_file: Option<PathBuf>,
    /// Include the phone number, ICCID and Apple ID in reports.
    #[arg(long)]
    include_personal_data: bool,
}

#[derive(Args)]
struct FilesArgs {
    #[command(flatten)]
    common: Common,
    /// Files or folders.
    #[arg(required = true)]
    paths: Vec<PathBuf>,
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(outcome) => outcome.into(),
        Err(err) => {
            if err.chain().any(|c| {
                c.downcast_ref::<std::io::Error>()
                    .is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe)
            }) {
                return std::process::ExitCode::SUCCESS;
            }
            eprintln!("appsweep: error: {err:#}");
            Outcome::Usage.into()
        }
    }
}

fn run(cli: Cli) -> Result<Outcome> {
    let color = match cli.color {
        ColorChoice::Always => true,
        ColorChoice::Never => false,
        ColorChoice::Auto => {
            std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none()
        }
    };
    let style = Style { color };
    match cli.command {
        Command::Devices(conn) => devices(conn),
        Command::Signatures {
            command,
            signatures,
        } => signatures_cmd(command, signatures.as_deref()),
        Command::Outbox { command } => outbox_cmd(command),
        Command::Watch(a) => {
            let opts = adb::AdbOptions {
                server: a.adb_server.clone(),
                hash_all: a.common.hash == files::HashMode::All,
                cache_dir: if a.no_cache {
                    None
                } else {
                    default_cache_dir()
                },
                ..adb::AdbOptions::default()
            };
            let poll = std::time::Duration::from_millis(a.poll_ms.max(50));
            let mut common = a.common;
            common.post_each = true;
            // Records are shown as each phone finishes: human on a terminal, else JSON lines.
            common.format = Some(common.format.unwrap_or(if std::io::stdout().is_terminal() {
                Format::Human
            } else {
                Format::Jsonl
            }));
            run_scan(&common, style, cli.quiet, |emit| {
                watch_loop(&opts, poll, emit);
                Ok(())
            })
        }
        Command::Scan { target } => match target {
            ScanTarget::Files(a) => {
                let opts = files::FilesOptions {
                    hash: a.common.hash,
                    progress: !cli.quiet,
                };
                let paths = a.paths;
                run_scan(&a.common, style, cli.quiet, |emit| {
                    files::scan(&paths, &opts, emit);
                    Ok(())
                })
            }
            ScanTarget::Backup(a) => {
                let password = read_password(a.password_file.as_deref())?;
                let opts = ios_backup::BackupOptions {
                    password,
                    include_personal_data: a.include_personal_data,
                    progress: !cli.quiet,
                };
                let paths = a.paths;
                run_scan(&a.common, style, cli.quiet, |emit| {
                    ios_backup::scan(&paths, &opts, emit).context("scanning backups")
                })
            }
            ScanTarget::Adb(a) => {
                let opts = adb::AdbOptions {
                    server: a.adb_server.clone(),
                    serials: a.serial.clone(),
                    hash_all: a.common.hash == files::HashMode::All,
                    cache_dir: if a.no_cache {
                        None
                    } else {
                        default_cache_dir()
                    },
                    ..adb::AdbOptions::default()
                };
                run_scan(&a.common, style, cli.quiet, |emit| {
                    adb::scan(&opts, emit).context("scanning over adb")
                })
            }
        },
    }
}

fn default_cache_dir() -> Option<PathBuf> {
    std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
        .map(|d| d.join("appsweep"))
}

fn read_password(file: Option<&std::path::Path>) -> Result<Option<String>> {
    if let Some(f) = file {
        let text = std::fs::read_to_string(f)
            .with_context(|| format!("reading password file {}", f.display()))?;
        let pw = text.strip_suffix('\n').unwrap_or(&text);
        let pw = pw.strip_suffix('\r').unwrap_or(pw);
        return Ok(Some(pw.to_string()));
    }
    Ok(std::env::var("APPSWEEP_BACKUP_PASSWORD").ok())
}

fn load_config(common: &Common) -> Result<(SignatureSet, Policy)> {
    let set = SignatureSet::load(common.signatures.as_deref()).context("loading signatures")?;
    let policy = match &common.policy {
        None => Policy::builtin(),
        Some(p) => Policy::load(p, &known_ids(&set))?,
    };
    Ok((set, policy))
}

fn known_ids(set: &SignatureSet) -> BTreeSet<String> {
    set.families()
        .map(|f| f.id.clone())
        .chain(set.signatures().iter().map(|s| s.id.clone()))
        .collect()
}

/// Runs a source, matching and rendering each inventory as it arrives.
fn run_scan(
    common: &Common,
    style: Style,
    quiet: bool,
    source: impl FnOnce(source::Emit<'_>) -> Result<()>,
) -> Result<Outcome> {
    let (set, policy) = load_config(common)?;
    if let Some(n) = common.threads {
        if n == 0 {
            bail!("--threads must be at least 1");
        }
        // Only fails if a pool already exists; then the existing pool is used.
        let _ = rayon::ThreadPoolBuilder::new()
            .num_threads(n)
            .build_global();
    }
    let format = common.format.unwrap_or(if std::io::stdout().is_terminal() {
        Format::Human
    } else {
        Format::Json
    });
    let ctx = Context::new(&set, &policy, report::now_rfc3339());
    let sink = Sink::new(
        format,
        style,
        common.output.clone(),
        common.out_dir.clone(),
        quiet,
    )
    .context("opening the output")?;
    let sink = Mutex::new(sink);
    let write_error: Mutex<Option<std::io::Error>> = Mutex::new(None);
    let hash = common.hash;
    let delivery = match &common.post.post {
        Some(_) => Some(common.post.delivery()?),
        None => None,
    };
    let emit = |mut inv: Inventory| {
        let mut findings = engine::evaluate(&inv, &set, &policy);
        if hash == files::HashMode::Flagged
            && inv.device.source == appsweep::model::SourceKind::Files
        {
            let flagged: BTreeSet<&str> = findings
                .iter()
                .filter_map(|f| f.app.path.as_deref())
                .collect();
            let mut changed = false;
            for app in inv.apps.iter_mut().filter(|a| a.file_sha256.is_none()) {
                if let Some(p) = app.path.as_deref().filter(|p| flagged.contains(p)) {
                    match files::sha256_file(std::path::Path::new(p)) {
                        Ok(h) => {
                            app.file_sha256 = Some(h);
                            changed = true;
                        }
                        Err(e) => inv.problems.push(appsweep::model::Problem::new(
                            format!("file {p}"),
                            format!("cannot hash: {e}"),
                        )),
                    }
                }
            }
            if changed {
                findings = engine::evaluate(&inv, &set, &policy);
            }
        }
        let report = DeviceReport::build(&ctx, inv, findings);
        if let Some(d) = &delivery {
            // Queued durably before anything else: a crash from here on loses nothing.
            let queued = serde_json::to_vec(&report)
                .map_err(std::io::Error::other)
                .and_then(|body| {
                    let url = d.url.clone().unwrap_or_default();
                    outbox::enqueue(&d.outbox, &report.record_id, &url, &body)
                        .map_err(std::io::Error::other)
                });
            match queued {
                Err(e) => {
                    if let Ok(mut slot) = write_error.lock() {
                        slot.get_or_insert(e);
                    }
                }
                Ok(()) if common.post_each => match outbox::flush_one(d, &report.record_id) {
                    Ok(r) => report_flush(&r, d),
                    Err(e) => eprintln!("appsweep: {e}"),
                },
                Ok(()) => {}
            }
        }
        if let Ok(mut sink) = sink.lock() {
            if let Err(e) = sink.device(&report) {
                if let Ok(mut slot) = write_error.lock() {
                    slot.get_or_insert(e);
                }
            }
        }
    };
    source(&emit)?;
    if let Some(e) = write_error.into_inner().ok().flatten() {
        return Err(anyhow::Error::new(e).context("writing the report"));
    }
    let sink = sink
        .into_inner()
        .map_err(|_| anyhow::anyhow!("report writer poisoned"))?;
    let (outcome, summary) = sink.finish().context("writing the report")?;
    if summary.devices == 0 {
        eprintln!("appsweep: nothing was scanned: no device, backup or file found");
        return Ok(Outcome::Incomplete);
    }
    if !quiet && (format != Format::Human || common.output.is_some()) {
        eprintln!("appsweep: {}", summary.line());
    }
    if let Some(d) = &delivery {
        report_flush(&outbox::flush(d)?, d);
    }
    Ok(outcome)
}

/// Follows attach and detach by polling the adb server (which also covers what the server's
/// track-devices stream never says: that the last phone left). A phone is scanned once each
/// time it reaches the `device` state; it is scanned again only after it was detached (or went
/// offline) and came back. Unauthorized phones get the instructions once per attach. Ends on
/// Ctrl-C, after the scans under way finish.
fn watch_loop(opts: &adb::AdbOptions, poll: std::time::Duration, emit: source::Emit<'_>) {
    use std::collections::BTreeMap;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;
    let stop = Arc::new(AtomicBool::new(false));
    let flag = stop.clone();
    if let Err(e) = ctrlc::set_handler(move || flag.store(true, Ordering::SeqCst)) {
        eprintln!("appsweep: cannot catch Ctrl-C ({e}); stop with a signal");
    }
    eprintln!("appsweep: watching for phones (Ctrl-C to stop)");
    // serial -> state last acted on ("device" = scanned this attach, "unauthorized" = hinted).
    let mut acted: BTreeMap<String, String> = BTreeMap::new();
    let mut last_error: Option<String> = None;
    std::thread::scope(|scope| {
        let mut running: Vec<std::thread::ScopedJoinHandle<'_, ()>> = Vec::new();
        while !stop.load(Ordering::SeqCst) {
            match adb::list_devices(opts) {
                Ok(list) => {
                    last_error = None;
                    let present: BTreeMap<&str, &str> = list
                        .iter()
                        .map(|d| (d.serial.as_str(), d.state.as_str()))
                        .collect();
                    acted.retain(|serial, state| {
                        present.get(serial.as_str()) == Some(&state.as_str())
                    });
                    for d in &list {
                        if acted.get(&d.serial) == Some(&d.state) {
                            continue;
                        }
                        match d.state.as_str() {
                            "device" => {
                                acted.insert(d.serial.clone(), d.state.clone());
                                let one = adb::AdbOptions {
                                    serials: vec![d.serial.clone()],
                                    ..opts.clone()
                                };
                                running.push(scope.spawn(move || {
                                    if let Err(e) = adb::scan(&one, emit) {
                                        eprintln!("appsweep: {}: {e}", one.serials.join(","));
                                    }
                                }));
                            }
                            "unauthorized" => {
                                acted.insert(d.serial.clone(), d.state.clone());
                                eprintln!(
                                    "appsweep: {} is unauthorized: {}",
                                    report::sanitize(&d.serial),
                                    d.hint
                                        .as_deref()
                                        .unwrap_or("unlock it and accept the USB debugging prompt")
                                );
                            }
                            _ => {}
                        }
                    }
                }
                Err(e) => {
                    let msg = format!("{e:#}");
                    if last_error.as_deref() != Some(msg.as_str()) {
                        eprintln!("appsweep: {msg}; retrying");
                        last_error = Some(msg);
                    }
                }
            }
            // Reap finished scans so threads stay bounded over hours.
            let (done, still): (Vec<_>, Vec<_>) =
                running.into_iter().partition(|h| h.is_finished());
            for h in done {
                let _ = h.join();
            }
            running = still;
            let until = std::time::Instant::now() + poll;
            while std::time::Instant::now() < until && !stop.load(Ordering::SeqCst) {
                std::thread::sleep(std::time::Duration::from_millis(50));
            }
        }
        eprintln!(
            "appsweep: stopping; waiting for {} scan(s) under way",
            running.len()
        );
    });
}

fn report_flush(r: &outbox::FlushResult, d: &outbox::Delivery) {
    if r.sent > 0 {
        eprintln!("appsweep: {} record(s) delivered", r.sent);
    }
    for (id, why) in &r.failed {
        eprintln!(
            "appsweep: record {id} not delivered ({why}); it stays in {} for `appsweep outbox flush`",
            d.outbox.display()
        );
    }
}

fn outbox_cmd(command: OutboxCommand) -> Result<Outcome> {
    let post = match &command {
        OutboxCommand::List(p) | OutboxCommand::Flush(p) => p,
    };
    let d = post.delivery()?;
    match command {
        OutboxCommand::List(_) => {
            let mut out = std::io::stdout().lock();
            for p in outbox::pending(&d.outbox)? {
                writeln!(
                    out,
                    "{}\t{}\t{}",
                    p.id,
                    p.bytes,
                    p.url.as_deref().unwrap_or("-")
                )?;
            }
            Ok(Outcome::Clean)
        }
        OutboxCommand::Flush(_) => {
            let r = outbox::flush(&d)?;
            report_flush(&r, &d);
            Ok(if r.failed.is_empty() {
                Outcome::Clean
            } else {
                Outcome::Incomplete
            })
        }
    }
}

fn devices(conn: AdbConn) -> Result<Outcome> {
    let opts = adb::AdbOptions {
        server: conn.adb_server,
        ..adb::AdbOptions::default()
    };
    let list = adb::list_devices(&opts).context("listing devices")?;
    let format = conn.format.unwrap_or(if std::io::stdout().is_terminal() {
        Format::Human
    } else {
        Format::Json
    });
    let mut out = std::io::stdout().lock();
    match format {
        Format::Json | Format::Jsonl => {
            writeln!(out, "{}", serde_json::to_string(&list)?)?;
        }
        Format::Human | Format::Csv => {
            if list.is_empty() {
                writeln!(out, "no devices attached")?;
            }
            for d in &list {
                writeln!(
                    out,
                    "{}\t{}\t{}\t{}",
                    report::sanitize(&d.serial),
                    d.state,
                    report::sanitize(d.model.as_deref().unwrap_or("-")),
                    report::sanitize(d.transport.as_deref().unwrap_or("-"))
                )?;
                if let Some(h) = &d.hint {
                    writeln!(out, "  -> {h}")?;
                }
            }
        }
    }
    Ok(if list.iter().any(|d| d.state != "device") {
        Outcome::Incomplete
    } else {
        Outcome::Clean
    })
}

fn signatures_cmd(command: Option<SigCommand>, dir: Option<&std::path::Path>) -> Result<Outcome> {
    let set = SignatureSet::load(dir).context("loading signatures")?;
    let mut out = std::io::stdout().lock();
    match command.unwrap_or(SigCommand::List) {
        SigCommand::List => {
            for s in set.signatures() {
                let kind = serde_json::to_value(s.kind)?
                    .as_str()
                    .unwrap_or_default()
                    .to_string();
                let conf = serde_json::to_value(s.confidence)?
                    .as_str()
                    .unwrap_or_default()
                    .to_string();
                writeln!(out, "{:<40} {:<8} {:<14} {}", s.id, kind, conf, s.title)?;
            }
        }
        SigCommand::Check => {
            let count = |k: Kind| set.signatures().iter().filter(|s| s.kind == k).count();
            writeln!(
                out,
                "ok: {} signatures in {} families (app {}, signer {}, markers {}, sdk {}, webapk {}); version {} sha256 {}",
                set.signatures().len(),
                set.families().count(),
                count(Kind::App),
                count(Kind::Signer),
                count(Kind::Markers),
                count(Kind::Sdk),
                count(Kind::Webapk),
                set.version(),
                set.sha256()
            )?;
        }
        SigCommand::Show { id } => {
            let Some(sig) = set.get(&id) else {
                bail!("no signature with id {id:?} (see `appsweep signatures list`)");
            };
            writeln!(out, "{}", serde_json::to_string_pretty(sig)?)?;
        }
    }
    Ok(Outcome::Clean)
}
