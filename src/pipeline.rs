//! The scan pipeline, once per device as its inventory arrives: match, hash what was flagged,
//! build the record, write its `--out-dir` file, queue it for the webhook, render it.
//!
//! A write that fails for one record (a full disk, a read-only `--out-dir` or outbox) becomes a
//! problem in that record and an error on stderr: the report still comes out, the other records
//! still go, and a violation still wins the exit code. Records already queued are sent even when
//! the report itself could not be written. The exit outcome is merged here, from the records'
//! statuses, not by the writer.

use crate::config::ScanConfig;
use crate::engine::{self, Finding};
use crate::exit::Outcome;
use crate::model::{Inventory, Problem, SourceKind};
use crate::outbox::{self, Delivery, FlushResult};
use crate::report::{self, message, sanitize, Context, DeviceReport, Format, Sink};
use crate::source::{files, Emit};
use anyhow::{Context as _, Result};
use std::collections::BTreeSet;
use std::io::Write;
use std::sync::Mutex;

/// `--hash flagged` hashes a flagged file only up to this size; above it the record says so
/// (`--hash all` hashes everything).
pub const FLAGGED_HASH_MAX: u64 = 2 << 30;

/// Adds the file SHA-256 of local files that have a finding. Returns whether any was added.
fn hash_flagged(inv: &mut Inventory, findings: &[Finding]) -> bool {
    let flagged: BTreeSet<&str> = findings
        .iter()
        .filter_map(|f| f.app.path.as_deref())
        .collect();
    let mut changed = false;
    for app in inv.apps.iter_mut().filter(|a| a.file_sha256.is_none()) {
        let Some(p) = app.path.as_deref().filter(|p| flagged.contains(p)) else {
            continue;
        };
        let path = std::path::Path::new(p);
        let size = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
        if size > FLAGGED_HASH_MAX {
            inv.notes.push(format!(
                "file {p}: SHA-256 not computed: {size} bytes is over the {FLAGGED_HASH_MAX}-byte \
                 limit of --hash flagged (use --hash all)"
            ));
            continue;
        }
        match files::sha256_file(path) {
            Ok(h) => {
                app.file_sha256 = Some(h);
                changed = true;
            }
            Err(e) => inv.problems.push(Problem::new(
                format!("file {p}"),
                format!("cannot hash: {e}"),
            )),
        }
    }
    changed
}

/// Says on stderr what a flush did and what stays queued.
pub fn report_flush(r: &FlushResult, d: &Delivery) {
    if r.sent > 0 {
        message(&format!("{} record(s) delivered", r.sent));
    }
    for (id, why) in &r.failed {
        message(&format!(
            "record {id} not delivered ({why}); it stays in {} for `appsweep outbox flush`",
            d.outbox.display()
        ));
    }
}

/// Sends what the run queued (all at the end, unless `watch` sent each as it came).
fn flush_queued(cfg: &ScanConfig) {
    let Some(d) = cfg.delivery.as_ref().filter(|_| !cfg.post_each) else {
        return;
    };
    match outbox::flush(d) {
        Ok(r) => report_flush(&r, d),
        Err(e) => message(&format!(
            "{e}; queued records stay for `appsweep outbox flush`"
        )),
    }
}

/// Shared state of one run, fed from the sources' worker threads.
struct Run<'a> {
    cfg: &'a ScanConfig,
    ctx: Context,
    sink: Mutex<Sink>,
    outcome: Mutex<Outcome>,
    /// The first error writing to the report's destination (stdout or `--output` buffer).
    render_error: Mutex<Option<std::io::Error>>,
}

impl Run<'_> {
    fn record(&self, mut inv: Inventory) -> DeviceReport {
        let (set, policy) = (&self.cfg.set, &self.cfg.policy);
        let mut findings = engine::evaluate(&inv, set, policy);
        if self.cfg.hash == files::HashMode::Flagged
            && inv.device.source == SourceKind::Files
            && hash_flagged(&mut inv, &findings)
        {
            findings = engine::evaluate(&inv, set, policy);
        }
        DeviceReport::build(&self.ctx, inv, findings)
    }

    /// Writes the record's `--out-dir` file; a failure becomes a problem in the record.
    fn store(&self, r: &mut DeviceReport) {
        let stored = match self.sink.lock() {
            Ok(mut sink) => sink.store(r),
            Err(_) => return,
        };
        if let Err(e) = stored {
            message(&format!(
                "{}: --out-dir file not written: {e}",
                sanitize(&r.device.id)
            ));
            r.add_problem(Problem::new(
                "out-dir",
                format!("the record file could not be written: {e}"),
            ));
        }
    }

    /// Queues the record for the webhook; a failure becomes a problem in the record. Returns
    /// whether it was queued.
    fn enqueue(&self, d: &Delivery, r: &mut DeviceReport) -> bool {
        let queued = serde_json::to_vec(&*r)
            .map_err(|e| e.to_string())
            .and_then(|body| {
                let url = d.url.clone().unwrap_or_default();
                outbox::enqueue(&d.outbox, &r.record_id, &url, &body).map_err(|e| e.to_string())
            });
        match queued {
            Ok(()) => true,
            Err(e) => {
                message(&format!(
                    "{}: not queued for --post: {e}",
                    sanitize(&r.device.id)
                ));
                r.add_problem(Problem::new(
                    "outbox",
                    format!("the record could not be queued for --post: {e}"),
                ));
                false
            }
        }
    }

    fn device(&self, inv: Inventory) {
        let mut r = self.record(inv);
        log_record(&r);
        self.store(&mut r);
        if let Some(d) = &self.cfg.delivery {
            if self.enqueue(d, &mut r) && self.cfg.post_each {
                match outbox::flush_one(d, &r.record_id) {
                    Ok(res) => report_flush(&res, d),
                    Err(e) => message(&e.to_string()),
                }
            }
        }
        if let Ok(mut o) = self.outcome.lock() {
            *o = o.merge(r.status.outcome());
        }
        if let Ok(mut sink) = self.sink.lock() {
            if let Err(e) = crate::progress::above(|| sink.device(&r)) {
                if let Ok(mut slot) = self.render_error.lock() {
                    slot.get_or_insert(e);
                }
            }
        }
    }
}

/// `-v`: the verdict and what it cost; `-vv`: each note and problem.
fn log_record(r: &DeviceReport) {
    let id = &r.device.id;
    let c = &r.counts;
    let cost = r.stats.as_ref().map_or_else(String::new, |s| {
        format!(
            "; {} ms, {} round trips, {} bytes read, {} cache hits",
            s.duration_ms, s.round_trips, s.bytes_transferred, s.cache_hits
        )
    });
    log::info!(
        "{id}: {}: {} apps, {} findings, {} problems{cost}",
        r.status.as_str(),
        c.apps,
        c.findings,
        c.problems
    );
    for p in &r.problems {
        log::debug!("{id}: problem: {}: {}", p.scope, p.message);
    }
    for n in &r.notes {
        log::debug!("{id}: note: {n}");
    }
}

/// Runs a source, matching and rendering each inventory as it arrives; `writer` receives the
/// report unless `--output` is given. Returns the merged outcome of the records; `Err` when the
/// source failed before any device, or the report could not be written.
pub fn run(
    cfg: &ScanConfig,
    writer: Box<dyn Write + Send>,
    source: impl FnOnce(Emit<'_>) -> Result<()>,
) -> Result<Outcome> {
    let sink = Sink::new(
        cfg.format,
        cfg.style,
        cfg.output.clone(),
        cfg.out_dir.clone(),
        cfg.quiet,
        writer,
    )
    .context("opening the output")?;
    let run = Run {
        cfg,
        ctx: Context::new(&cfg.set, &cfg.policy, report::now_rfc3339()),
        sink: Mutex::new(sink),
        outcome: Mutex::new(Outcome::Clean),
        render_error: Mutex::new(None),
    };
    let scanned = source(&|inv: Inventory| run.device(inv));
    let Run {
        sink,
        outcome,
        render_error,
        ..
    } = run;
    let sink = sink
        .into_inner()
        .map_err(|_| anyhow::anyhow!("report writer poisoned"))?;
    if scanned.is_err() && sink.devices() == 0 {
        // The source failed before any device: an error, and no empty report.
        return scanned.map(|()| Outcome::Usage);
    }
    let finished = match render_error.into_inner().ok().flatten() {
        Some(e) => Err(e),
        None => sink.finish(),
    };
    // Records already queued go out even when the report or the source failed part-way.
    flush_queued(cfg);
    let summary = finished.context("writing the report")?;
    scanned?;
    if summary.devices == 0 {
        message("nothing was scanned: no device, backup or file found");
        return Ok(Outcome::Incomplete);
    }
    if !cfg.quiet && (cfg.format != Format::Human || cfg.output.is_some()) {
        message(&summary.line());
    }
    Ok(outcome.into_inner().unwrap_or(Outcome::Incomplete))
}

#[cfg(test)]
mod tests;
