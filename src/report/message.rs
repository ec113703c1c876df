//! Messages on stderr (`appsweep: ...`): escaped like every other untrusted text, and printed
//! above the progress line. Also the diagnostics of `-v`: what each device went through (`-v`),
//! every command and request sent to a device or a server (`-vv`), and the libraries' own logs
//! (`-vvvv`), through the `log` facade, printed the same way with the time since the start.

use super::sanitize::sanitize;
use std::sync::OnceLock;
use std::time::Instant;

/// The text of a message: each line sanitised, line breaks kept (a parse error may draw a caret
/// under the line it quotes).
pub fn message_text(text: &str) -> String {
    text.lines().map(sanitize).collect::<Vec<_>>().join("\n")
}

/// Prints `appsweep: TEXT` on stderr.
pub fn message(text: &str) {
    let safe = message_text(text);
    crate::progress::above(|| eprintln!("appsweep: {safe}"));
}

/// The `log` records `-v` asked for, on stderr.
struct Verbose {
    level: log::LevelFilter,
    /// Records of other crates (TLS, HTTP) too.
    foreign: bool,
    start: Instant,
}

impl log::Log for Verbose {
    fn enabled(&self, m: &log::Metadata<'_>) -> bool {
        m.level() <= self.level && (self.foreign || m.target().starts_with("appsweep"))
    }

    fn log(&self, record: &log::Record<'_>) {
        if self.enabled(record.metadata()) {
            let t = self.start.elapsed().as_secs_f64();
            message(&format!("[{t:8.3}s] {}", record.args()));
        }
    }

    fn flush(&self) {}
}

/// Turns on the diagnostics of `-v` (`verbose` times given): 1 what each device went through,
/// 2 every command sent, 3 their texts, 4 the libraries' logs too. `quiet` turns them off.
pub fn init_verbosity(verbose: u8, quiet: bool) {
    static LOGGER: OnceLock<Verbose> = OnceLock::new();
    let level = match (quiet, verbose) {
        (true, _) | (false, 0) => return,
        (false, 1) => log::LevelFilter::Info,
        (false, 2) => log::LevelFilter::Debug,
        _ => log::LevelFilter::Trace,
    };
    let logger = LOGGER.get_or_init(|| Verbose {
        level,
        foreign: verbose >= 4,
        start: Instant::now(),
    });
    if log::set_logger(logger).is_ok() {
        log::set_max_level(level);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_keep_lines_and_escape_the_rest() {
        assert_eq!(
            message_text("bad file x\x1b]0;owned\x07.toml\n  |\n1 | =\n  | ^"),
            "bad file x\\u{1b}]0;owned\\u{7}.toml\n  |\n1 | =\n  | ^"
        );
        assert_eq!(message_text("cr\roverwrite"), "cr\\u{d}overwrite");
    }
}
