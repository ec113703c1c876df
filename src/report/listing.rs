//! Renderings of the commands that are not scans: `devices`, `signatures` and `outbox list`.
//! Every string that came from a device, a server or a file is sanitised.

use super::sanitize::sanitize;
use super::Format;
use crate::outbox::Pending;
use crate::signatures::{Kind, Signature, SignatureSet};
use crate::source::adb::DeviceEntry;
use crate::source::ios_live::IosDeviceEntry;
use std::io::{self, Write};

fn json_line<T: serde::Serialize + ?Sized>(out: &mut dyn Write, v: &T) -> io::Result<()> {
    writeln!(
        out,
        "{}",
        serde_json::to_string(v).map_err(io::Error::other)?
    )
}

/// One line of `appsweep devices`, Android or iOS.
#[derive(serde::Serialize)]
struct DeviceRow<'a> {
    platform: &'static str,
    /// adb serial or UDID.
    serial: &'a str,
    /// adb's state (`device`, `unauthorized`, ...) or the pairing state of an iPhone (`paired`,
    /// `not_paired`, `not_trusted`, `unreachable`).
    state: &'a str,
    model: Option<&'a str>,
    product: Option<&'a str>,
    os_version: Option<&'a str>,
    transport: Option<String>,
    hint: Option<&'a str>,
}

fn rows<'a>(android: &'a [DeviceEntry], iphones: &'a [IosDeviceEntry]) -> Vec<DeviceRow<'a>> {
    let a = android.iter().map(|d| DeviceRow {
        platform: "android",
        serial: &d.serial,
        state: d.state.as_str(),
        model: d.model.as_deref(),
        product: d.product.as_deref(),
        os_version: None,
        transport: d.transport.clone(),
        hint: d.hint.as_deref(),
    });
    let i = iphones.iter().map(|d| DeviceRow {
        platform: "ios",
        serial: &d.udid,
        state: &d.state,
        model: d.model.as_deref(),
        product: None,
        os_version: d.os_version.as_deref(),
        transport: Some(d.connection.to_lowercase()),
        hint: d.hint.as_deref(),
    });
    a.chain(i).collect()
}

/// `appsweep devices`: JSON (one array) or a tab-separated line per device with its hint.
pub fn devices(
    out: &mut dyn Write,
    android: &[DeviceEntry],
    iphones: &[IosDeviceEntry],
    format: Format,
) -> io::Result<()> {
    let list = rows(android, iphones);
    match format {
        Format::Json | Format::Jsonl => json_line(out, &list),
        Format::Human | Format::Csv => {
            if list.is_empty() {
                writeln!(out, "no devices attached")?;
            }
            for d in &list {
                writeln!(
                    out,
                    "{}\t{}\t{}\t{}",
                    sanitize(d.serial),
                    sanitize(d.state),
                    sanitize(d.model.unwrap_or("-")),
                    sanitize(d.transport.as_deref().unwrap_or("-"))
                )?;
                if let Some(h) = d.hint {
                    writeln!(out, "  -> {}", sanitize(h))?;
                }
            }
            Ok(())
        }
    }
}

fn wire_name<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_value(v)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default()
}

/// `appsweep signatures list`: one line per signature.
pub fn signature_list(out: &mut dyn Write, set: &SignatureSet) -> io::Result<()> {
    for s in set.signatures() {
        writeln!(
            out,
            "{:<40} {:<8} {:<14} {}",
            sanitize(&s.id),
            wire_name(&s.kind),
            wire_name(&s.confidence),
            sanitize(&s.title)
        )?;
    }
    Ok(())
}

/// `appsweep signatures check`: the one-line summary of a valid set.
pub fn signature_check(out: &mut dyn Write, set: &SignatureSet) -> io::Result<()> {
    let count = |k: Kind| set.signatures().iter().filter(|s| s.kind == k).count();
    writeln!(
        out,
        "ok: {} signatures in {} families (app {}, signer {}, markers {}, sdk {}, webapk {}); version {} sha256 {}",
        set.signatures().len(),
        set.families().count(),
        count(Kind::App),
        count(Kind::Signer),
        count(Kind::Markers),
        count(Kind::Sdk),
        count(Kind::Webapk),
        set.version(),
        set.sha256()
    )
}

/// `appsweep signatures show ID`: the whole signature as JSON.
pub fn signature_show(out: &mut dyn Write, sig: &Signature) -> io::Result<()> {
    writeln!(
        out,
        "{}",
        serde_json::to_string_pretty(sig).map_err(io::Error::other)?
    )
}

/// `appsweep outbox list`: id, size and destination (its secret parts removed) per record.
pub fn outbox(out: &mut dyn Write, pending: &[Pending]) -> io::Result<()> {
    for p in pending {
        writeln!(
            out,
            "{}\t{}\t{}",
            sanitize(&p.id),
            p.bytes,
            p.url
                .as_deref()
                .map(crate::outbox::redact_url)
                .map(|u| sanitize(&u))
                .unwrap_or_else(|| "-".into())
        )?;
    }
    Ok(())
}
