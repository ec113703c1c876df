//! The progress line on stderr for long work, drawn only when stderr is a terminal.
//!
//! Everything that reaches the terminal while a progress line may be drawn goes through
//! [`above`] (report lines on stdout, messages on stderr: [`crate::report::message`]): the line
//! is cleared first and drawn again afterwards, so a report line never starts in the middle of
//! `backups: 3/10`.
//!
//! The line shows items done, the total and the rate, redrawn at most ten times a second. A
//! crate such as `indicatif` would add an ETA, spinners and several bars; appsweep draws one line
//! whose count moves in whole devices or files, so it keeps this small module instead.

use std::io::{IsTerminal, Write};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The text of the progress line now on the terminal (empty when none is drawn).
static LINE: Mutex<String> = Mutex::new(String::new());

/// The ANSI sequence that returns to the start of the line and erases it.
const CLEAR: &str = "\r\x1b[2K";

/// Runs `write` (which prints to stdout or stderr) with the progress line out of its way.
pub fn above<T>(write: impl FnOnce() -> T) -> T {
    // A poisoned lock only means another thread panicked while drawing: draw on.
    let line = LINE.lock().unwrap_or_else(|e| e.into_inner());
    if line.is_empty() {
        return write();
    }
    let mut err = std::io::stderr().lock();
    let _ = write!(err, "{CLEAR}");
    let _ = err.flush();
    let out = write();
    let _ = write!(err, "{line}");
    let _ = err.flush();
    out
}

/// Counts items done out of an optional total.
pub struct Progress {
    label: String,
    total: Option<u64>,
    done: AtomicU64,
    start: Instant,
    last: Mutex<Instant>,
    enabled: bool,
}

impl Progress {
    /// `enabled` is further limited to a terminal stderr.
    pub fn new(label: &str, total: Option<u64>, enabled: bool) -> Self {
        let now = Instant::now();
        Self {
            label: label.to_string(),
            total,
            done: AtomicU64::new(0),
            start: now,
            last: Mutex::new(now.checked_sub(Duration::from_secs(1)).unwrap_or(now)),
            enabled: enabled && std::io::stderr().is_terminal(),
        }
    }

    pub fn inc(&self) {
        let done = self.done.fetch_add(1, Ordering::Relaxed) + 1;
        if !self.enabled {
            return;
        }
        let Ok(mut last) = self.last.lock() else {
            return;
        };
        if last.elapsed() < Duration::from_millis(100) && Some(done) != self.total {
            return;
        }
        *last = Instant::now();
        self.draw(&self.text(done));
    }

    /// The line for `done` items.
    fn text(&self, done: u64) -> String {
        let secs = self.start.elapsed().as_secs_f64().max(1e-3);
        let rate = done as f64 / secs;
        let total = self.total.map(|t| format!("/{t}")).unwrap_or_default();
        format!("{}: {done}{total} ({rate:.1}/s)", self.label)
    }

    fn draw(&self, text: &str) {
        let mut line = LINE.lock().unwrap_or_else(|e| e.into_inner());
        let _ = write!(std::io::stderr(), "{CLEAR}{text}");
        line.clear();
        line.push_str(text);
    }

    /// Clears the line.
    pub fn finish(&self) {
        if self.enabled {
            let mut line = LINE.lock().unwrap_or_else(|e| e.into_inner());
            let _ = write!(std::io::stderr(), "{CLEAR}");
            line.clear();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_line_counts_against_the_total() {
        let p = Progress::new("files", Some(40), false);
        p.inc();
        p.inc();
        let t = p.text(2);
        assert!(t.starts_with("files: 2/40 ("), "{t}");
        assert!(t.ends_with("/s)"), "{t}");
        assert_eq!(p.done.load(Ordering::Relaxed), 2);
        assert!(Progress::new("x", None, false)
            .text(3)
            .starts_with("x: 3 ("));
    }

    #[test]
    fn above_runs_what_it_is_given_when_no_line_is_drawn() {
        assert_eq!(above(|| 7), 7);
    }
}
