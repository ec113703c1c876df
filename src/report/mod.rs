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
//!
//! What each file owns:
//! - `schema`: the record types and how a record is built from an inventory and its findings;
//! - `time`: RFC 3339 timestamps (`SOURCE_DATE_EPOCH` aware);
//! - `sanitize`: escaping of untrusted text for terminals and spreadsheets;
//! - `human`, `csv`, `json`: the renderings of one record (and of a whole run for `json`);
//! - `message`: messages on stderr, escaped, above the progress line;
//! - `listing`: the renderings of `devices`, `signatures` and `outbox list`;
//! - `sink`: where records go as devices finish (an injected writer, `--output`, `--out-dir`
//!   files);
//! - `atomic_file`: atomic, symlink-safe file writing, for reports and for the outbox.

pub mod atomic_file;
mod csv;
mod human;
mod json;
pub mod listing;
mod message;
mod sanitize;
mod schema;
mod sink;
mod time;

pub use csv::{csv_rows, CSV_HEADER};
pub use human::{verdict_line, write_human, Style};
pub use message::{init_verbosity, message};
pub use sanitize::{csv_cell, sanitize};
pub use schema::{
    Context, Counts, DeviceReport, PolicyInfo, SignatureSetInfo, Status, Summary, ToolInfo,
    RUN_SCHEMA, SCHEMA,
};
pub use sink::{file_stem, Sink};
pub use time::{now_rfc3339, now_unix, rfc3339};

/// Output formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Human,
    Json,
    Jsonl,
    Csv,
}
