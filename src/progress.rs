//! A progress line on stderr for long work, drawn only when stderr is a terminal.

use std::io::{IsTerminal, Write};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Counts items done out of an optional total and redraws at most ten times a second.
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
        self.draw(done);
    }

    fn draw(&self, done: u64) {
        let secs = self.start.elapsed().as_secs_f64().max(1e-3);
        let rate = done as f64 / secs;
        let total = self.total.map(|t| format!("/{t}")).unwrap_or_default();
        let _ = write!(
            std::io::stderr(),
            "\r\x1b[2K{}: {done}{total} ({rate:.1}/s)",
            self.label
        );
    }

    /// Clears the line.
    pub fn finish(&self) {
        if self.enabled {
            let _ = write!(std::io::stderr(), "\r\x1b[2K");
        }
    }
}
