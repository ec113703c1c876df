//! The JSON renderings: one record per line (`jsonl`, `--out-dir`), or one run document.

use super::schema::{DeviceReport, Summary, RUN_SCHEMA};
use std::io;

/// One record on one line.
pub fn line(r: &DeviceReport) -> io::Result<String> {
    serde_json::to_string(r).map_err(io::Error::other)
}

/// One record, indented (the `--out-dir` files).
pub fn pretty(r: &DeviceReport) -> io::Result<Vec<u8>> {
    serde_json::to_vec_pretty(r).map_err(io::Error::other)
}

/// The run document from records already serialised with [`line`], sorted by device id.
pub fn run_document(mut reports: Vec<(String, String)>, summary: &Summary) -> io::Result<String> {
    reports.sort();
    let bodies: Vec<&str> = reports.iter().map(|(_, j)| j.as_str()).collect();
    let summary = serde_json::to_string(summary).map_err(io::Error::other)?;
    Ok(format!(
        "{{\"schema\":\"{RUN_SCHEMA}\",\"reports\":[{}],\"summary\":{summary}}}\n",
        bodies.join(",")
    ))
}
