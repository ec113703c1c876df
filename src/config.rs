//! From what the user typed ([`crate::cli`]) to what a run needs: resolved formats and colour,
//! the signature set and policy, cache and outbox folders, and secrets read from their files
//! (never from the command line), each with its limit.

use crate::cli::{ColorChoice, PostArgs, ScanArgs};
use crate::input::{read_capped, PASSWORD_MAX, TOKEN_MAX};
use crate::outbox::{self, Delivery};
use crate::policy::Policy;
use crate::report::{Format, Style};
use crate::signatures::SignatureSet;
use crate::source::files::HashMode;
use anyhow::{bail, Context as _, Result};
use std::collections::BTreeSet;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};

/// Colour for human output: `--color`, else a terminal stdout without `NO_COLOR`.
pub fn style(choice: ColorChoice) -> Style {
    let color = match choice {
        ColorChoice::Always => true,
        ColorChoice::Never => false,
        ColorChoice::Auto => {
            std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none()
        }
    };
    Style { color }
}

/// The format asked for, else `on_terminal` when stdout is a terminal and `otherwise` if not.
pub fn format(asked: Option<Format>, on_terminal: Format, otherwise: Format) -> Format {
    asked.unwrap_or(if std::io::stdout().is_terminal() {
        on_terminal
    } else {
        otherwise
    })
}

/// The fingerprint cache folder: `$XDG_CACHE_HOME/appsweep` or `~/.cache/appsweep`, or none
/// with `--no-cache`.
pub fn cache_dir(no_cache: bool) -> Option<PathBuf> {
    if no_cache {
        return None;
    }
    crate::source::adb::default_cache_dir()
}

/// The backup password: `--password-file` (one trailing newline dropped) or
/// `APPSWEEP_BACKUP_PASSWORD`.
pub fn backup_password(file: Option<&Path>) -> Result<Option<String>> {
    if let Some(f) = file {
        let bytes = read_capped(f, PASSWORD_MAX, "password file")?;
        let text = String::from_utf8(bytes)
            .with_context(|| format!("password file {} is not UTF-8", f.display()))?;
        let pw = text.strip_suffix('\n').unwrap_or(&text);
        let pw = pw.strip_suffix('\r').unwrap_or(pw);
        return Ok(Some(pw.to_string()));
    }
    Ok(std::env::var("APPSWEEP_BACKUP_PASSWORD").ok())
}

/// Where and how records are posted: the outbox folder, the URL, the token (from
/// `--post-token-file` or `APPSWEEP_POST_TOKEN`).
pub fn delivery(post: &PostArgs) -> Result<Delivery> {
    let dir = match &post.outbox {
        Some(d) => d.clone(),
        None => outbox::default_dir().context("no outbox folder: set --outbox or HOME")?,
    };
    let token = match &post.post_token_file {
        Some(f) => {
            let bytes = read_capped(f, TOKEN_MAX, "token file")?;
            Some(
                String::from_utf8(bytes)
                    .with_context(|| format!("token file {} is not UTF-8", f.display()))?
                    .trim()
                    .to_string(),
            )
        }
        None => std::env::var("APPSWEEP_POST_TOKEN").ok(),
    };
    let mut d = Delivery::new(dir, post.post.clone(), token);
    d.timeout = std::time::Duration::from_secs(post.post_timeout.max(1));
    Ok(d)
}

/// Every family and signature id of a set (what a policy may name).
fn known_ids(set: &SignatureSet) -> BTreeSet<String> {
    set.families()
        .map(|f| f.id.clone())
        .chain(set.signatures().iter().map(|s| s.id.clone()))
        .collect()
}

/// What every scan needs, resolved.
pub struct ScanConfig {
    pub set: SignatureSet,
    pub policy: Policy,
    pub format: Format,
    pub style: Style,
    pub quiet: bool,
    pub output: Option<PathBuf>,
    pub out_dir: Option<PathBuf>,
    pub hash: HashMode,
    /// `Some` with `--post`.
    pub delivery: Option<Delivery>,
    /// Send each record as soon as it is queued (`watch`), not after the whole run.
    pub post_each: bool,
}

impl ScanConfig {
    /// Loads signatures and policy, sizes the thread pool, resolves the output.
    pub fn new(args: &ScanArgs, style: Style, quiet: bool, default_format: Format) -> Result<Self> {
        let set = SignatureSet::load(args.signatures.as_deref()).context("loading signatures")?;
        let policy = match &args.policy {
            None => Policy::builtin(),
            Some(p) => Policy::load(p, &known_ids(&set))?,
        };
        if let Some(n) = args.threads {
            if n == 0 {
                bail!("--threads must be at least 1");
            }
            // Only fails if a pool already exists; then the existing pool is used.
            let _ = rayon::ThreadPoolBuilder::new()
                .num_threads(n)
                .build_global();
        }
        let delivery = match &args.post.post {
            Some(_) => Some(delivery(&args.post)?),
            None => None,
        };
        Ok(Self {
            set,
            policy,
            format: format(args.format, Format::Human, default_format),
            style,
            quiet,
            output: args.output.clone(),
            out_dir: args.out_dir.clone(),
            hash: args.hash,
            delivery,
            post_each: false,
        })
    }
}
