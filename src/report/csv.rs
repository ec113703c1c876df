//! The CSV rendering: one row per finding, plus a row for each device without findings. Every
//! cell goes through [`csv_cell`] (escaped, quoted, defused against formula injection).

use super::sanitize::csv_cell;
use super::schema::DeviceReport;
use serde::Serialize;

pub const CSV_HEADER: &str = "device_id,platform,model,status,finding_id,signature,title,family,disposition,severity,match,app_id,app_name,app_version,user,path,evidence\n";

/// The snake_case wire name of a serialisable enum.
fn snake<T: Serialize>(v: &T) -> String {
    serde_json::to_value(v)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default()
}

/// CSV rows of one device (no header).
pub fn csv_rows(r: &DeviceReport) -> String {
    let base = [
        csv_cell(&r.device.id),
        snake(&r.device.platform),
        csv_cell(r.device.model.as_deref().unwrap_or("")),
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
        let app_name = r
            .apps
            .iter()
            .find(|a| a.id == f.app.id && a.user == f.app.user && a.path == f.app.path)
            .and_then(|a| a.name.as_deref())
            .unwrap_or("");
        let row = [
            csv_cell(&f.id),
            csv_cell(&f.signature),
            csv_cell(&f.title),
            csv_cell(&f.family),
            snake(&f.disposition),
            snake(&f.severity),
            snake(&f.case),
            csv_cell(&f.app.id),
            csv_cell(app_name),
            csv_cell(f.app.version.as_deref().unwrap_or("")),
            f.app.user.map(|u| u.to_string()).unwrap_or_default(),
            csv_cell(f.app.path.as_deref().unwrap_or("")),
            csv_cell(&ev.join(" ")),
        ]
        .join(",");
        s.push_str(&base);
        s.push(',');
        s.push_str(&row);
        s.push('\n');
    }
    s
}
