//! From what the user typed ([`crate::cli`]) to what a run needs: resolved formats and colour,
//! the signature set and policy, cache and outbox folders, and secrets read from their files
//! (never from the command line), each with its limit.

use crate::cli::{AdbServerArgs, CacheArgs, ColorChoice, PostArgs, ScanArgs};
use crate::input::{read_capped, PASSWORD_MAX, TOKEN_MAX};
use crate::outbox::{self, Delivery};
use crate::policy::Policy;
use crate::report::{Format, Style};
use crate::signatures::SignatureSet;
use crate::source::adb;
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

/// How to reach the adb server and its phones: `--adb-server`, the fingerprint cache (none with
/// `--no-cache`), whether every app is hashed.
pub fn adb_options(server: &AdbServerArgs, cache: &CacheArgs, hash: HashMode) -> adb::AdbOptions {
    adb::AdbOptions {
        server: server.adb_server.clone(),
        hash_all: hash == HashMode::All,
        cache_dir: cache_dir(cache.no_cache),
        ..adb::AdbOptions::default()
    }
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
    if let Some(url) = &post.post {
        outbox::check_url(url)?;
    }
    // An empty token (an empty variable or file) is no token.
    let token = token.filter(|t| !t.is_empty());
    if let Some(t) = &token {
        outbox::check_token(t).map_err(anyhow::Error::msg)?;
    }
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
            format: format(args.format.format, Format::Human, default_format),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_password_file_loses_one_line_end_and_nothing_else() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("pw");
        for (text, want) in [
            ("s3cret\n", "s3cret"),
            ("s3cret\r\n", "s3cret"),
            (" spaced pw \n\n", " spaced pw \n"),
            ("", ""),
        ] {
            std::fs::write(&f, text).unwrap();
            assert_eq!(backup_password(Some(&f)).unwrap().as_deref(), Some(want));
        }
    }

    #[cfg(unix)]
    #[test]
    fn secrets_are_read_with_a_limit() {
        let err = backup_password(Some(Path::new("/dev/zero"))).unwrap_err();
        assert!(format!("{err:#}").contains("limit"), "{err:#}");
        let post = PostArgs {
            post: Some("http://127.0.0.1:9/x".into()),
            outbox: Some("outbox".into()),
            post_token_file: Some("/dev/zero".into()),
            post_timeout: 0,
        };
        let err = delivery(&post).unwrap_err();
        assert!(format!("{err:#}").contains("token file"), "{err:#}");
    }

    #[test]
    fn a_token_is_trimmed_and_the_timeout_is_at_least_a_second() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("token");
        std::fs::write(&f, "  abc.def \n").unwrap();
        let post = PostArgs {
            post: None,
            outbox: Some(dir.path().join("outbox")),
            post_token_file: Some(f),
            post_timeout: 0,
        };
        let d = delivery(&post).unwrap();
        assert_eq!(d.token.as_deref(), Some("abc.def"));
        assert_eq!(d.timeout, std::time::Duration::from_secs(1));
        assert_eq!(d.outbox, dir.path().join("outbox"));
    }

    #[test]
    fn adb_options_follow_the_flags() {
        let server = AdbServerArgs {
            adb_server: Some("10.0.0.2:5037".into()),
        };
        let o = adb_options(&server, &CacheArgs { no_cache: true }, HashMode::All);
        assert_eq!(o.server.as_deref(), Some("10.0.0.2:5037"));
        assert!(o.hash_all);
        assert!(o.cache_dir.is_none());
        let o = adb_options(&server, &CacheArgs { no_cache: true }, HashMode::Flagged);
        assert!(!o.hash_all);
    }
}
