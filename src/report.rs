//! Reports: schema v1 device records and their renderings. Only this module writes reports.
//!
//! Wire format (documented here, validated by `schema/report.v1.schema.json` in tests):
//! - `json`: one document `{"schema": "appsweep.run.v1", "reports": [DeviceReport...], "summary":
//!   {...}}`, reports sorted by device id;
//! - `jsonl`: one `DeviceReport` per line, written as each device finishes (completion order; each
//!   line stands alone), then nothing else;
//! - `human`: a verdict line per device, its findings and problems, then a summary line;
//! - `csv`: one row per finding, plus a row for each device without findings;
//! - `--out-dir DIR`: one `<device id>-<scan time>.json` file per device, written atomically.
//!
//! A `DeviceReport` has a stable key order (struct order), sorted lists, lowercase hex and
//! snake_case enums. `status` is `violation` if any finding has disposition `violation`, else
//! `incomplete` if any problem was met, else `clean`.

use crate::engine::Finding;
use crate::exit::Outcome;
use crate::model::{AppRecord, DeviceInfo, Inventory, Problem, ScanStats};
use crate::policy::{Disposition, Policy};
use crate::signatures::SignatureSet;
use serde::Serialize;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

pub const SCHEMA: &str = "appsweep.report.v1";
pub const RUN_SCHEMA: &str = "appsweep.run.v1";

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Clean,
    Violation,
    Incomplete,
}

impl Status {
    pub fn outcome(self) -> Outcome {
        match self {
            Status::Clean => Outcome::Clean,
            Status::Violation => Outcome::Violation,
            Status::Incomplete => Outcome::Incomplete,
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct ToolInfo {
    pub name: &'static str,
    pub version: &'static str,
}

#[derive(Debug, Clone, Serialize)]
pub struct SignatureSetInfo {
    pub version: String,
    pub sha256: String,
    pub signatures: usize,
}

#[derive(Debug, Clone, Serialize)]
pub struct PolicyInfo {
    pub name: String,
    pub mode: crate::policy::Mode,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Counts {
    pub apps: usize,
    pub findings: usize,
    pub violations: usize,
    pub notices: usize,
    pub problems: usize,
}

/// One device's record.
#[derive(Debug, Clone, Serialize)]
pub struct DeviceReport {
    pub schema: &'static str,
    /// Stable id of this record (device id + scan time): an idempotency key for receivers.
    pub record_id: String,
    pub tool: ToolInfo,
    pub signature_set: SignatureSetInfo,
    pub policy: PolicyInfo,
    pub device: DeviceInfo,
    pub status: Status,
    pub counts: Counts,
    pub findings: Vec<Finding>,
    pub apps: Vec<AppRecord>,
    pub problems: Vec<Problem>,
    pub notes: Vec<String>,
    pub stats: Option<ScanStats>,
    /// RFC 3339 UTC. `SOURCE_DATE_EPOCH` fixes it for reproducible output.
    pub scanned_at: String,
}

/// The context shared by every report of one run.
#[derive(Debug, Clone)]
pub struct Context {
    pub signature_set: SignatureSetInfo,
    pub policy: PolicyInfo,
    pub scanned_at: String,
}

impl Context {
    pub fn new(set: &SignatureSet, policy: &Policy, scanned_at: String) -> Self {
        Self {
            signature_set: SignatureSetInfo {
                version: set.version(),
                sha256: set.sha256().to_string(),
                signatures: set.signatures().len(),
            },
            policy: PolicyInfo {
                name: policy.name.clone(),
                mode: policy.mode,
            },
            scanned_at,
        }
    }
}

impl DeviceReport {
    pub fn build(ctx: &Context, mut inv: Inventory, findings: Vec<Finding>) -> Self {
        inv.normalize();
        let violations = findings
            .iter()
            .filter(|f| f.disposition == Disposition::Violation)
            .count();
        let status = if violations > 0 {
            Status::Violation
        } else if !inv.problems.is_empty() {
            Status::Incomplete
        } else {
            Status::Clean
        };
        let counts = Counts {
            apps: inv.apps.len(),
            findings: findings.len(),
            violations,
            notices: findings.len() - violations,
            problems: inv.problems.len(),
        };
        let record_id = crate::engine::finding_id(&inv.device.id, "record", &ctx.scanned_at, None);
        Self {
            schema: SCHEMA,
            record_id,
            tool: ToolInfo {
                name: "appsweep",
                version: env!("CARGO_PKG_VERSION"),
            },
            signature_set: ctx.signature_set.clone(),
            policy: ctx.policy.clone(),
            device: inv.device,
            status,
            counts,
            findings,
            apps: inv.apps,
            problems: inv.problems,
            notes: inv.notes,
            stats: inv.stats,
            scanned_at: ctx.scanned_at.clone(),
        }
    }
}

/// Current time as RFC 3339 UTC (seconds), or `SOURCE_DATE_EPOCH` when set.
pub fn now_rfc3339() -> String {
    let secs = std::env::var("SOURCE_DATE_EPOCH")
        .ok()
        .and_then(|s| s.trim().parse::<i64>().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| i64::try_from(d.as_secs()).unwrap_or(0))
                .unwrap_or(0)
        });
    rfc3339(secs)
}

/// Formats Unix seconds as `YYYY-MM-DDTHH:MM:SSZ` (proleptic Gregorian, UTC).
pub fn rfc3339(secs: i64) -> String {
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    // Civil-from-days (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        (rem % 3600) / 60,
        rem % 60
    )
}

/// Output formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Human,
    Json,
    Jsonl,
    Csv,
}

/// Escapes control, bidi-override and zero-width characters before text from a device reaches a
/// terminal.
pub fn sanitize(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        let bad = c.is_control()
            || matches!(c, '\u{200b}'..='\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{feff}');
        if bad {
            out.extend(c.escape_unicode());
        } else {
            out.push(c);
        }
    }
    out
}

/// Colours for human output.
#[derive(Debug, Clone, Copy)]
pub struct Style {
    pub color: bool,
}

impl Style {
    fn paint(self, code: &str, text: &str) -> String {
        if self.color {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_string()
        }
    }

    pub fn verdict(self, status: Status) -> String {
        match status {
            Status::Violation => self.paint("1;31", "VIOLATION "),
            Status::Incomplete => self.paint("1;33", "INCOMPLETE"),
            Status::Clean => self.paint("1;32", "CLEAN     "),
        }
    }
}

/// The one-line verdict for a device.
pub fn verdict_line(r: &DeviceReport, style: Style) -> String {
    let mut what = vec![sanitize(&r.device.id)];
    if let Some(m) = r.device.model.as_deref().or(r.device.name.as_deref()) {
        what.push(sanitize(m));
    }
    let detail = match r.status {
        Status::Violation => format!("{} violation(s)", r.counts.violations),
        Status::Incomplete => format!("{} problem(s)", r.counts.problems),
        Status::Clean => format!("{} apps checked", r.counts.apps),
    };
    let notices = if r.counts.notices > 0 {
        format!(", {} notice(s)", r.counts.notices)
    } else {
        String::new()
    };
    format!(
        "{}  {}  {detail}{notices}",
        style.verdict(r.status),
        what.join("  ")
    )
}

/// Human rendering of one device: verdict line, findings, problems.
pub fn write_human(out: &mut dyn Write, r: &DeviceReport, style: Style) -> io::Result<()> {
    writeln!(out, "{}", verdict_line(r, style))?;
    for f in &r.findings {
        let tag = match f.disposition {
            Disposition::Violation => style.paint("31", "violation"),
            _ => style.paint("36", "notice   "),
        };
        writeln!(out, "  {tag}  {}", sanitize(&f.summary))?;
        let ev: Vec<String> = f
            .evidence
            .iter()
            .map(|e| format!("{}={}", e.kind, sanitize(&e.value)))
            .collect();
        writeln!(out, "             [{}] {}", f.signature, ev.join(" "))?;
    }
    for p in &r.problems {
        writeln!(
            out,
            "  {}  {}: {}",
            style.paint("33", "problem  "),
            sanitize(&p.scope),
            sanitize(&p.message)
        )?;
    }
    Ok(())
}

/// Counts over a run.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Summary {
    pub devices: usize,
    pub violation: usize,
    pub incomplete: usize,
    pub clean: usize,
}

impl Summary {
    pub fn add(&mut self, status: Status) {
        self.devices += 1;
        match status {
            Status::Violation => self.violation += 1,
            Status::Incomplete => self.incomplete += 1,
            Status::Clean => self.clean += 1,
        }
    }

    pub fn line(&self) -> String {
        format!(
            "{} device(s): {} violation, {} incomplete, {} clean",
            self.devices, self.violation, self.incomplete, self.clean
        )
    }
}

const CSV_HEADER: &str = "device_id,platform,model,status,finding_id,signature,title,family,disposition,severity,match,app_id,app_name,app_version,user,path,evidence\n";

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

fn snake<T: Serialize>(v: &T) -> String {
    serde_json::to_value(v)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default()
}

/// CSV rows of one device (no header).
pub fn csv_rows(r: &DeviceReport) -> String {
    let base = [
        csv_field(&r.device.id),
        snake(&r.device.platform),
        csv_field(r.device.model.as_deref().unwrap_or("")),
        snake(&r.status),
    ]
    .join(",");
    if r.findings.is_empty() {
        return format!("{base},,,,,,,,,,,,,\n");
    }
    let mut s = String::new();
    for f in &r.findings {
        let ev: Vec<String> = f
            .evidence
            .iter()
            .map(|e| format!("{}={}", e.kind, e.value))
            .collect();
        let row = [
            csv_field(&f.id),
            csv_field(&f.signature),
            csv_field(&f.title),
            csv_field(&f.family),
            snake(&f.disposition),
            snake(&f.severity),
            snake(&f.case),
            csv_field(&f.app.id),
            csv_field(
                r.apps
                    .iter()
                    .find(|a| a.id == f.app.id && a.user == f.app.user && a.path == f.app.path)
                    .and_then(|a| a.name.as_deref())
                    .unwrap_or(""),
            ),
            csv_field(f.app.version.as_deref().unwrap_or("")),
            f.app.user.map(|u| u.to_string()).unwrap_or_default(),
            csv_field(f.app.path.as_deref().unwrap_or("")),
            csv_field(&ev.join(" ")),
        ]
        .join(",");
        s.push_str(&format!("{base},{row}\n"));
    }
    s
}

/// Writes `bytes` to `path` atomically: a temporary file in the same folder, then a rename.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "report".into());
    let tmp = dir.join(format!(".{name}.tmp-{}", std::process::id()));
    let result = (|| {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// A file name for a device id: letters, digits, `-`, `_` and `.` kept, the rest `_`.
pub fn file_stem(device_id: &str) -> String {
    let s: String = device_id
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') {
                c
            } else {
                '_'
            }
        })
        .collect();
    let s = s.trim_start_matches('.').to_string();
    if s.is_empty() {
        "device".into()
    } else {
        s
    }
}

/// Where reports go, fed as devices finish.
pub struct Sink {
    format: Format,
    style: Style,
    output: Option<PathBuf>,
    out_dir: Option<PathBuf>,
    /// File stems already written in `out_dir` this run (two backups of one device share an id).
    used_stems: std::collections::BTreeSet<String>,
    /// json: serialised reports, sorted at the end; human/csv to a file: text so far.
    buffered: Vec<(String, String)>,
    stdout: Box<dyn Write + Send>,
    summary: Summary,
    outcome: Outcome,
    quiet: bool,
}

impl Sink {
    pub fn new(
        format: Format,
        style: Style,
        output: Option<PathBuf>,
        out_dir: Option<PathBuf>,
        quiet: bool,
    ) -> io::Result<Self> {
        if let Some(dir) = &out_dir {
            std::fs::create_dir_all(dir)?;
        }
        let mut sink = Self {
            format,
            style,
            output,
            out_dir,
            used_stems: std::collections::BTreeSet::new(),
            buffered: Vec::new(),
            stdout: Box::new(io::stdout()),
            summary: Summary::default(),
            outcome: Outcome::Clean,
            quiet,
        };
        if format == Format::Csv {
            sink.emit_text(String::new(), CSV_HEADER.to_string())?;
        }
        Ok(sink)
    }

    fn emit_text(&mut self, key: String, text: String) -> io::Result<()> {
        if self.output.is_some() {
            self.buffered.push((key, text));
            Ok(())
        } else {
            self.stdout.write_all(text.as_bytes())?;
            self.stdout.flush()
        }
    }

    /// One device finished.
    pub fn device(&mut self, r: &DeviceReport) -> io::Result<()> {
        self.summary.add(r.status);
        self.outcome = self.outcome.merge(r.status.outcome());
        if let Some(dir) = &self.out_dir {
            let json = serde_json::to_vec_pretty(r).map_err(io::Error::other)?;
            // `<device>-<time>.json`: a re-scan of the same phone adds a record, it does not
            // replace the earlier one.
            let time: String = r
                .scanned_at
                .chars()
                .filter(|c| *c != '-' && *c != ':')
                .collect();
            let base = format!("{}-{time}", file_stem(&r.device.id));
            let mut stem = base.clone();
            let mut n = 1;
            while !self.used_stems.insert(stem.clone()) {
                n += 1;
                stem = format!("{base}-{n}");
            }
            write_atomic(&dir.join(format!("{stem}.json")), &json)?;
        }
        match self.format {
            Format::Json => {
                let json = serde_json::to_string(r).map_err(io::Error::other)?;
                self.buffered.push((r.device.id.clone(), json));
                Ok(())
            }
            Format::Jsonl => {
                let line = serde_json::to_string(r).map_err(io::Error::other)? + "\n";
                self.emit_text(r.device.id.clone(), line)
            }
            Format::Csv => self.emit_text(r.device.id.clone(), csv_rows(r)),
            Format::Human => {
                if self.quiet && self.output.is_none() {
                    let line = verdict_line(r, self.style) + "\n";
                    return self.emit_text(r.device.id.clone(), line);
                }
                let mut buf = Vec::new();
                write_human(&mut buf, r, self.style)?;
                self.emit_text(
                    r.device.id.clone(),
                    String::from_utf8_lossy(&buf).into_owned(),
                )
            }
        }
    }

    /// All devices done: writes what was buffered and returns the merged outcome.
    pub fn finish(mut self) -> io::Result<(Outcome, Summary)> {
        let text = match self.format {
            Format::Json => {
                self.buffered.sort();
                let reports: Vec<&str> = self.buffered.iter().map(|(_, j)| j.as_str()).collect();
                let summary = serde_json::to_string(&self.summary).map_err(io::Error::other)?;
                Some(format!(
                    "{{\"schema\":\"{RUN_SCHEMA}\",\"reports\":[{}],\"summary\":{summary}}}\n",
                    reports.join(",")
                ))
            }
            Format::Human => {
                let mut t: String = self.buffered.iter().map(|(_, s)| s.as_str()).collect();
                t.push_str(&self.summary.line());
                t.push('\n');
                Some(t)
            }
            Format::Jsonl | Format::Csv => self
                .output
                .is_some()
                .then(|| self.buffered.iter().map(|(_, s)| s.as_str()).collect()),
        };
        if let Some(text) = text {
            match &self.output {
                Some(path) => write_atomic(path, text.as_bytes())?,
                None => {
                    self.stdout.write_all(text.as_bytes())?;
                    self.stdout.flush()?;
                }
            }
        }
        Ok((self.outcome, self.summary))
    }
}

#[cfg(test)]
mod tests {
    #![allow(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::indexing_slicing
    )]
    use super::*;

    #[test]
    fn rfc3339_known_values() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339(1_795_341_600), "2026-11-22T10:00:00Z");
    }

    #[test]
    fn sanitize_escapes_terminal_tricks() {
        assert_eq!(sanitize("ok"), "ok");
        assert_eq!(sanitize("a\x1b[31mb"), "a\\u{1b}[31mb");
        assert_eq!(sanitize("x\u{202e}y"), "x\\u{202e}y");
    }

    #[test]
    fn csv_escapes_commas_quotes_and_newlines() {
        assert_eq!(csv_field("plain"), "plain");
        assert_eq!(csv_field("a,b"), "\"a,b\"");
        assert_eq!(csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(csv_field("two\nlines"), "\"two\nlines\"");
    }

    #[test]
    fn file_stems_are_safe() {
        assert_eq!(file_stem("127.0.0.1:5555"), "127.0.0.1_5555");
        assert_eq!(file_stem("../etc/passwd"), "_etc_passwd");
        assert_eq!(file_stem(""), "device");
    }
}
