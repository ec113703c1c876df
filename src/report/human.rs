//! The human rendering: a verdict line per device, its findings and problems.

use super::sanitize::sanitize;
use super::schema::{DeviceReport, Status};
use crate::policy::Disposition;
use std::io::{self, Write};

/// Colours for human output.
#[derive(Debug, Clone, Copy)]
pub struct Style {
    pub color: bool,
}

impl Style {
    pub(crate) fn paint(self, code: &str, text: &str) -> String {
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
        writeln!(
            out,
            "             [{}] {}",
            sanitize(&f.signature),
            ev.join(" ")
        )?;
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
