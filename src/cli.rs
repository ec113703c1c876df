//! The command line as the user types it: clap types only, no I/O. Shared groups of options are
//! declared once and flattened where they apply; [`crate::config`] turns them into a
//! configuration.

use crate::report::Format;
use crate::source::files::HashMode;
use clap::{Args, Parser, Subcommand, ValueEnum};
use std::path::PathBuf;

const EXIT_CODES: &str = "\
Exit codes:
  0  every device scanned completely, no violation
  1  at least one violation (wins over 3)
  2  usage or configuration error
  3  no violation found, but at least one device, backup or file could not be scanned completely";

/// `--version`: the tool's version and the built-in signature set's.
pub(crate) fn long_version() -> &'static str {
    static VERSION: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    VERSION.get_or_init(|| match crate::signatures::SignatureSet::load(None) {
        Ok(set) => format!(
            "{} (signatures {}, {} signatures, sha256 {})",
            env!("CARGO_PKG_VERSION"),
            set.version(),
            set.signatures().len(),
            set.sha256()
        ),
        Err(e) => format!(
            "{} (built-in signatures invalid: {e})",
            env!("CARGO_PKG_VERSION")
        ),
    })
}

#[derive(Parser, Debug)]
#[command(
    name = "appsweep",
    version = long_version(),
    about = "Finds prohibited apps (TikTok and its variants, other ByteDance apps) on Android phones over ADB, on iPhones and iPads over USB, in iOS backups and in APK/IPA files.",
    after_help = EXIT_CODES
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
    /// Diagnostics on stderr: -v what each device went through, -vv every command sent to a
    /// device or server, -vvv their texts, -vvvv the libraries' logs too.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// Only verdict lines (human format) and errors.
    #[arg(short, long, global = true)]
    pub quiet: bool,
    /// Colour in human output.
    #[arg(long, global = true, value_enum, default_value_t = ColorChoice::Auto)]
    pub color: ColorChoice,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ColorChoice {
    Auto,
    Always,
    Never,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// List attached Android devices, iPhones and iPads, and their state.
    Devices(DevicesArgs),
    /// Scan devices, backups or files.
    Scan {
        #[command(subcommand)]
        target: ScanTarget,
    },
    /// Field mode: scan each Android phone and iPhone as it is plugged in, until Ctrl-C.
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
        #[arg(long, global = true, value_name = "DIR")]
        signatures: Option<PathBuf>,
    },
    /// Print a shell completion script for SHELL on stdout.
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print a manual page (roff) on stdout: appsweep(1), or a command's (`man scan files`).
    Man {
        /// The command whose page to print, as typed after `appsweep` (`scan files`).
        #[arg(value_name = "COMMAND")]
        command: Vec<String>,
    },
}

#[derive(Subcommand, Debug)]
pub enum SigCommand {
    /// One line per signature (the default).
    List,
    /// Load and validate; print a summary.
    Check,
    /// Everything about one signature.
    Show { id: String },
}

#[derive(Subcommand, Debug)]
pub enum OutboxCommand {
    /// Records waiting to be sent.
    List(PostArgs),
    /// Send them now (to the URL each was queued with, or --post).
    Flush(PostArgs),
}

#[derive(Subcommand, Debug)]
pub enum ScanTarget {
    /// Live Android phones through the adb server (default: every attached device, concurrently).
    Adb(AdbScanArgs),
    /// Live iPhones and iPads through usbmuxd (default: every attached one, concurrently).
    ///
    /// usbmuxd is found at USBMUXD_SOCKET_ADDRESS (UNIX:/path or HOST:PORT), else at
    /// /var/run/usbmuxd (Linux, macOS) or 127.0.0.1:27015 (Windows, Apple Mobile Device Service).
    Ios(IosScanArgs),
    /// iOS backup folders, or trees holding many.
    Backup(BackupArgs),
    /// .apk / .ipa files or folders of them.
    Files(FilesArgs),
}

/// Where the adb server is.
#[derive(Args, Clone, Debug, Default)]
pub struct AdbServerArgs {
    /// The adb server, HOST:PORT (default: ANDROID_ADB_SERVER_PORT or 127.0.0.1:5037).
    #[arg(long, value_name = "HOST:PORT")]
    pub adb_server: Option<String>,
}

/// The fingerprint cache of phones.
#[derive(Args, Clone, Debug, Default)]
pub struct CacheArgs {
    /// Do not read or write the fingerprint cache.
    #[arg(long)]
    pub no_cache: bool,
}

/// Pairing with iPhones.
#[derive(Args, Clone, Debug, Default)]
pub struct PairArgs {
    /// Pair with iPhones this computer is not paired with (unlock the iPhone and tap Trust when
    /// asked); the pair record is saved through usbmuxd, where every host tool keeps them.
    #[arg(long)]
    pub pair: bool,
}

/// The output format.
#[derive(Args, Clone, Copy, Debug, Default)]
pub struct FormatArgs {
    /// Output format (human on a terminal, json otherwise).
    #[arg(long, value_enum)]
    pub format: Option<Format>,
}

/// Personal data in reports.
#[derive(Args, Clone, Copy, Debug, Default)]
pub struct PersonalDataArgs {
    /// Include person-identifying values (device name, phone number, ICCID, Apple ID) in reports.
    #[arg(long)]
    pub include_personal_data: bool,
}

#[derive(Args, Debug)]
pub struct DevicesArgs {
    #[command(flatten)]
    pub adb: AdbServerArgs,
    #[command(flatten)]
    pub format: FormatArgs,
}

/// Options every scan takes.
#[derive(Args, Debug)]
pub struct ScanArgs {
    #[command(flatten)]
    pub format: FormatArgs,
    /// Write the report to this file (atomically) instead of stdout.
    #[arg(long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Also write one <device>-<time>.json per device into this folder.
    #[arg(long, value_name = "DIR")]
    pub out_dir: Option<PathBuf>,
    /// Add or override signature families from this folder of TOML files.
    #[arg(long, value_name = "DIR")]
    pub signatures: Option<PathBuf>,
    /// Policy file (TOML): dispositions and allow-list mode.
    #[arg(long, value_name = "FILE")]
    pub policy: Option<PathBuf>,
    /// File SHA-256: none, for apps with findings, or for every app.
    #[arg(long, value_enum, default_value_t = HashMode::Flagged)]
    pub hash: HashMode,
    /// Worker threads (default: one per core).
    #[arg(long, value_name = "N")]
    pub threads: Option<usize>,
    #[command(flatten)]
    pub post: PostArgs,
}

/// The webhook and its outbox.
#[derive(Args, Clone, Debug, Default)]
pub struct PostArgs {
    /// Send each device record as JSON to this webhook (through the durable outbox).
    #[arg(long, value_name = "URL")]
    pub post: Option<String>,
    /// The outbox folder (default: $XDG_STATE_HOME/appsweep/outbox or ~/.local/state/appsweep/outbox).
    #[arg(long, value_name = "DIR")]
    pub outbox: Option<PathBuf>,
    /// File holding a bearer token for --post (or set APPSWEEP_POST_TOKEN).
    #[arg(long, value_name = "FILE")]
    pub post_token_file: Option<PathBuf>,
    /// Seconds to wait for the endpoint to connect and answer, per attempt.
    #[arg(long, value_name = "SECS", default_value_t = 15)]
    pub post_timeout: u64,
}

#[derive(Args, Debug)]
pub struct WatchArgs {
    #[command(flatten)]
    pub scan: ScanArgs,
    #[command(flatten)]
    pub adb: AdbServerArgs,
    #[command(flatten)]
    pub cache: CacheArgs,
    #[command(flatten)]
    pub ios: PairArgs,
    /// How often to look for attached and detached Android phones, in milliseconds (iPhones
    /// are announced by usbmuxd).
    #[arg(long, value_name = "MS", default_value_t = 1000)]
    pub poll_ms: u64,
}

#[derive(Args, Debug)]
pub struct AdbScanArgs {
    #[command(flatten)]
    pub scan: ScanArgs,
    #[command(flatten)]
    pub adb: AdbServerArgs,
    #[command(flatten)]
    pub cache: CacheArgs,
    /// Only this device (repeatable). Default: every attached device.
    #[arg(long, short = 's', value_name = "SERIAL")]
    pub serial: Vec<String>,
}

#[derive(Args, Debug)]
pub struct IosScanArgs {
    #[command(flatten)]
    pub scan: ScanArgs,
    #[command(flatten)]
    pub ios: PairArgs,
    /// Only this iPhone or iPad (repeatable). Default: every attached one.
    #[arg(long, short = 'u', value_name = "UDID")]
    pub udid: Vec<String>,
    #[command(flatten)]
    pub personal: PersonalDataArgs,
}

#[derive(Args, Debug)]
pub struct BackupArgs {
    #[command(flatten)]
    pub scan: ScanArgs,
    /// Backup folders or trees holding backups.
    #[arg(required = true)]
    pub paths: Vec<PathBuf>,
    /// File holding the password of encrypted backups (or set APPSWEEP_BACKUP_PASSWORD).
    #[arg(long, value_name = "FILE")]
    pub password_file: Option<PathBuf>,
    #[command(flatten)]
    pub personal: PersonalDataArgs,
}

#[derive(Args, Debug)]
pub struct FilesArgs {
    #[command(flatten)]
    pub scan: ScanArgs,
    /// Files or folders.
    #[arg(required = true)]
    pub paths: Vec<PathBuf>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_command_line_is_well_formed() {
        Cli::command().debug_assert();
    }

    #[test]
    fn shared_groups_parse_where_flattened() {
        let cli = Cli::try_parse_from([
            "appsweep",
            "scan",
            "adb",
            "--adb-server",
            "127.0.0.1:6000",
            "--no-cache",
            "-s",
            "A",
            "--post",
            "http://h/x",
        ])
        .unwrap();
        let Command::Scan {
            target: ScanTarget::Adb(a),
        } = cli.command
        else {
            panic!("not scan adb");
        };
        assert_eq!(a.adb.adb_server.as_deref(), Some("127.0.0.1:6000"));
        assert!(a.cache.no_cache);
        assert_eq!(a.serial, ["A"]);
        assert_eq!(a.scan.post.post.as_deref(), Some("http://h/x"));
        assert!(Cli::try_parse_from(["appsweep", "scan", "files"]).is_err());
        let cli = Cli::try_parse_from([
            "appsweep", "scan", "ios", "--udid", "U1", "-u", "U2", "--pair",
        ])
        .unwrap();
        let Command::Scan {
            target: ScanTarget::Ios(i),
        } = cli.command
        else {
            panic!("not scan ios");
        };
        assert_eq!(i.udid, ["U1", "U2"]);
        assert!(i.ios.pair && !i.personal.include_personal_data);
        assert!(Cli::try_parse_from(["appsweep", "devices", "--no-cache"]).is_err());
    }
}
