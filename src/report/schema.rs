//! The record types of schema v1 and how one record is built.

use crate::engine::Finding;
use crate::exit::Outcome;
use crate::model::{AppRecord, DeviceInfo, Inventory, Problem, ScanStats};
use crate::policy::{Disposition, Policy};
use crate::signatures::SignatureSet;
use serde::Serialize;
use std::sync::atomic::{AtomicU64, Ordering};

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
    /// The word the JSON report uses.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Clean => "clean",
            Status::Violation => "violation",
            Status::Incomplete => "incomplete",
        }
    }

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
    /// Unique id of this record (one scan of one device): an idempotency key for receivers.
    /// Random (128 bits from the OS) mixed with the device id, the time, the process and a
    /// counter, so two records never share it, whatever the clock says.
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

/// A record id no other record shares: OS randomness, plus the device id, the time, the
/// process id and a per-process counter (so even without randomness two records differ).
fn new_record_id(device_id: &str, scanned_at: &str) -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut random = [0u8; 16];
    // Without OS randomness the other inputs still make the id unique per process and record.
    let _ = getrandom::getrandom(&mut random);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let mut h = crate::digest::Hasher::new();
    h.update(random);
    h.update(device_id.as_bytes());
    h.update([0]);
    h.update(scanned_at.as_bytes());
    h.update(nanos.to_le_bytes());
    h.update(std::process::id().to_le_bytes());
    h.update(COUNTER.fetch_add(1, Ordering::Relaxed).to_le_bytes());
    let digest = h.finish();
    digest.get(..32).unwrap_or(digest.as_str()).to_string()
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
        Self {
            schema: SCHEMA,
            record_id: new_record_id(&inv.device.id, &ctx.scanned_at),
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

    /// Adds a problem met after the record was built (an `--out-dir` or outbox write that
    /// failed): the record says it, and its status stays honest.
    pub fn add_problem(&mut self, problem: Problem) {
        self.problems.push(problem);
        self.problems.sort();
        self.problems.dedup();
        self.counts.problems = self.problems.len();
        if self.status == Status::Clean {
            self.status = Status::Incomplete;
        }
    }
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

    /// The merged exit outcome of the devices counted.
    pub fn outcome(&self) -> Outcome {
        if self.violation > 0 {
            Outcome::Violation
        } else if self.incomplete > 0 {
            Outcome::Incomplete
        } else {
            Outcome::Clean
        }
    }

    pub fn line(&self) -> String {
        format!(
            "{} device(s): {} violation, {} incomplete, {} clean",
            self.devices, self.violation, self.incomplete, self.clean
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_status_word_is_the_one_the_json_report_uses() {
        for s in [Status::Clean, Status::Violation, Status::Incomplete] {
            assert_eq!(serde_json::to_value(s).unwrap(), s.as_str());
        }
    }

    #[test]
    fn record_ids_differ_for_the_same_device_and_second() {
        let a = new_record_id("dev", "2026-01-01T00:00:00Z");
        let b = new_record_id("dev", "2026-01-01T00:00:00Z");
        assert_ne!(a, b);
        assert_eq!(a.len(), 32);
        assert!(a
            .chars()
            .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase()));
    }
}
