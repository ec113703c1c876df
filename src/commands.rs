//! One function per command. Each resolves its configuration ([`crate::config`]), runs a source
//! through the [`crate::pipeline`] or renders a listing ([`crate::report::listing`]), and returns
//! the exit outcome.

use crate::cli::{
    AdbScanArgs, BackupArgs, CacheArgs, Cli, Command, DevicesArgs, FilesArgs, IosScanArgs,
    OutboxCommand, ScanTarget, SigCommand, WatchArgs,
};
use crate::config::{self, ScanConfig};
use crate::exit::Outcome;
use crate::outbox;
use crate::pipeline;
use crate::report::{listing, message, Format, Style};
use crate::signatures::SignatureSet;
use crate::source::{adb, files, ios_backup, ios_live};
use anyhow::{bail, Context as _, Result};
use clap::CommandFactory;
use std::io::Write;
use std::path::Path;

/// Runs the command the user asked for; `Err` is a usage or configuration error (exit 2).
pub fn run(cli: Cli) -> Result<Outcome> {
    let style = config::style(cli.color);
    let quiet = cli.quiet;
    crate::report::init_verbosity(cli.verbose, quiet);
    match cli.command {
        Command::Devices(a) => devices(a),
        Command::Signatures {
            command,
            signatures,
        } => signatures_cmd(command, signatures.as_deref()),
        Command::Outbox { command } => outbox_cmd(command),
        Command::Watch(a) => watch(a, style, quiet),
        Command::Scan { target } => match target {
            ScanTarget::Files(a) => scan_files(a, style, quiet),
            ScanTarget::Backup(a) => scan_backup(a, style, quiet),
            ScanTarget::Adb(a) => scan_adb(a, style, quiet),
            ScanTarget::Ios(a) => scan_ios(a, style, quiet),
        },
        Command::Completions { shell } => completions(shell),
        Command::Man { command } => man(&command),
    }
}

/// `completions SHELL`: the script, generated from the command definitions.
fn completions(shell: clap_complete::Shell) -> Result<Outcome> {
    let mut cmd = Cli::command();
    clap_complete::generate(shell, &mut cmd, "appsweep", &mut std::io::stdout().lock());
    Ok(Outcome::Clean)
}

/// `man [COMMAND...]`: appsweep(1), or the page of a command (`appsweep-scan-files(1)`), so
/// every page a manual names can be printed.
fn man(words: &[String]) -> Result<Outcome> {
    let mut root = Cli::command();
    root.build();
    let mut page = &root;
    for w in words {
        page = page.find_subcommand(w).with_context(|| {
            format!(
                "no command `appsweep {}` (see `appsweep --help`)",
                words.join(" ")
            )
        })?;
    }
    let page = page.clone().version(crate::cli::long_version());
    clap_mangen::Man::new(page).render(&mut std::io::stdout().lock())?;
    Ok(Outcome::Clean)
}

fn stdout() -> Box<dyn Write + Send> {
    Box::new(std::io::stdout())
}

/// `scan files`.
fn scan_files(a: FilesArgs, style: Style, quiet: bool) -> Result<Outcome> {
    let cfg = ScanConfig::new(&a.scan, style, quiet, Format::Json)?;
    let opts = files::FilesOptions {
        hash: a.scan.hash,
        progress: !quiet,
    };
    pipeline::run(&cfg, stdout(), |emit| {
        files::scan(&a.paths, &opts, emit);
        Ok(())
    })
}

/// `scan backup`.
fn scan_backup(a: BackupArgs, style: Style, quiet: bool) -> Result<Outcome> {
    let cfg = ScanConfig::new(&a.scan, style, quiet, Format::Json)?;
    let opts = ios_backup::BackupOptions {
        password: config::backup_password(a.password_file.as_deref())?,
        include_personal_data: a.personal.include_personal_data,
        progress: !quiet,
    };
    pipeline::run(&cfg, stdout(), |emit| {
        ios_backup::scan(&a.paths, &opts, emit).context("scanning backups")
    })
}

/// `scan adb`.
fn scan_adb(a: AdbScanArgs, style: Style, quiet: bool) -> Result<Outcome> {
    let cfg = ScanConfig::new(&a.scan, style, quiet, Format::Json)?;
    let opts = adb::AdbOptions {
        serials: a.serial,
        progress: !quiet,
        ..config::adb_options(&a.adb, &a.cache, a.scan.hash)
    };
    pipeline::run(&cfg, stdout(), |emit| {
        adb::scan(&opts, emit).context("scanning over adb")
    })
}

/// `scan ios`.
fn scan_ios(a: IosScanArgs, style: Style, quiet: bool) -> Result<Outcome> {
    let cfg = ScanConfig::new(&a.scan, style, quiet, Format::Json)?;
    let opts = ios_live::IosOptions {
        udids: a.udid,
        include_personal_data: a.personal.include_personal_data,
        pair: a.ios.pair,
        ..ios_live::IosOptions::default()
    };
    pipeline::run(&cfg, stdout(), |emit| {
        ios_live::scan(&opts, emit).context("scanning iPhones over usbmuxd")
    })
}

/// `watch`: records are shown as each phone finishes (human on a terminal, else JSON lines)
/// and posted as soon as they are queued.
fn watch(a: WatchArgs, style: Style, quiet: bool) -> Result<Outcome> {
    let mut cfg = ScanConfig::new(&a.scan, style, quiet, Format::Jsonl)?;
    cfg.post_each = true;
    let opts = config::adb_options(&a.adb, &a.cache, a.scan.hash);
    let ios = ios_live::IosOptions {
        pair: a.ios.pair,
        ..ios_live::IosOptions::default()
    };
    let poll = std::time::Duration::from_millis(a.poll_ms.max(50));
    pipeline::run(&cfg, stdout(), |emit| {
        crate::watch::run(&opts, &ios, poll, emit);
        Ok(())
    })
}

/// `outbox list|flush`.
fn outbox_cmd(command: OutboxCommand) -> Result<Outcome> {
    let (OutboxCommand::List(post) | OutboxCommand::Flush(post)) = &command;
    let d = config::delivery(post)?;
    match command {
        OutboxCommand::List(_) => {
            let pending = outbox::pending(&d.outbox)?;
            listing::outbox(&mut std::io::stdout().lock(), &pending)?;
            Ok(Outcome::Clean)
        }
        OutboxCommand::Flush(_) => {
            let r = outbox::flush(&d)?;
            pipeline::report_flush(&r, &d);
            Ok(if r.failed.is_empty() {
                Outcome::Clean
            } else {
                Outcome::Incomplete
            })
        }
    }
}

/// `devices`: Android devices from the adb server and iPhones from usbmuxd; exit 3 when one is
/// not ready to scan. A source that cannot be asked is said on stderr; both failing is an error.
/// usbmuxd missing at its default place is not mentioned (nothing Apple is installed).
fn devices(a: DevicesArgs) -> Result<Outcome> {
    // Listing reads no fingerprints: no cache.
    let no_cache = CacheArgs { no_cache: true };
    let opts = config::adb_options(&a.adb, &no_cache, files::HashMode::None);
    let android = adb::list_devices(&opts);
    let iphones = ios_live::list_devices(&ios_live::IosOptions::default());
    let mux_asked = std::env::var_os(ios_live::ENV_ADDRESS).is_some();
    let (android, iphones) = match (android, iphones) {
        (Ok(a), Ok(i)) => (a, i),
        (Ok(a), Err(e)) => {
            if mux_asked || !matches!(e, ios_live::IosError::NoUsbmuxd { .. }) {
                message(&format!("iPhones not listed: {e}"));
            }
            (a, Vec::new())
        }
        (Err(e), Ok(i)) if !i.is_empty() => {
            message(&format!("Android devices not listed: {e}"));
            (Vec::new(), i)
        }
        (Err(e), _) => return Err(e).context("listing devices"),
    };
    let format = config::format(a.format.format, Format::Human, Format::Json);
    listing::devices(&mut std::io::stdout().lock(), &android, &iphones, format)?;
    let not_ready = android.iter().any(|d| d.state != adb::DeviceState::Device)
        || iphones.iter().any(|d| d.state != "paired");
    Ok(if not_ready {
        Outcome::Incomplete
    } else {
        Outcome::Clean
    })
}

/// `signatures list|check|show`.
fn signatures_cmd(command: Option<SigCommand>, dir: Option<&Path>) -> Result<Outcome> {
    let set = SignatureSet::load(dir).context("loading signatures")?;
    let mut out = std::io::stdout().lock();
    match command.unwrap_or(SigCommand::List) {
        SigCommand::List => listing::signature_list(&mut out, &set)?,
        SigCommand::Check => listing::signature_check(&mut out, &set)?,
        SigCommand::Show { id } => {
            let Some(sig) = set.get(&id) else {
                bail!("no signature with id {id:?} (see `appsweep signatures list`)");
            };
            listing::signature_show(&mut out, sig)?;
        }
    }
    Ok(Outcome::Clean)
}
