//! Round 1: identity, users and capabilities in one command.

use super::{split, Ctx, Out};
use std::collections::BTreeMap;

use crate::model::{Inventory, Problem};
use crate::source::adb::batch::run_parts;
use crate::source::adb::caps::{self, Caps};
use crate::source::adb::parse::{self, UserInfo};
use crate::source::adb::transport::{device_max_payload, Channel};

fn identity(inv: &mut Inventory, props: &BTreeMap<String, String>) {
    let get = |k: &str| props.get(k).filter(|v| !v.trim().is_empty()).cloned();
    let d = &mut inv.device;
    d.manufacturer = get("ro.product.manufacturer");
    d.model = get("ro.product.model").or(d.model.take());
    d.os_version = get("ro.build.version.release");
    d.security_patch = get("ro.build.version.security_patch");
    d.os_build = get("ro.build.id").or_else(|| get("ro.build.display.id"));
    d.serial = get("ro.serialno").or_else(|| get("ro.boot.serialno"));
    d.name = get("persist.sys.device_name");
}

/// What the first round read.
pub(super) struct First {
    pub(super) users: Vec<UserInfo>,
    pub(super) caps: Caps,
    /// The phone's software build (`ro.build.fingerprint`, else its parts).
    pub(super) build: String,
}

/// Round 1: identity, users and capabilities. `None` when the device was lost.
pub(super) fn round_first(
    ctx: &Ctx<'_>,
    out: &mut Out,
    server_limit: usize,
    cmd: bool,
) -> Option<First> {
    let users_cmd = if cmd {
        "cmd package list users 2>&1 || pm list users 2>&1"
    } else {
        "pm list users 2>&1"
    };
    let mut parts = vec!["getprop".to_string(), users_cmd.to_string()];
    parts.extend(caps::probe_parts());
    let (outs, lost) = split(run_parts(ctx.dev, ctx.tag, &parts, ctx.timeout, 1));
    let props = outs
        .first()
        .map(|o| parse::parse_getprop(&o.text()))
        .unwrap_or_default();
    identity(&mut out.inv, &props);
    let mut users = Vec::new();
    if let Some(o) = outs.get(1) {
        users = parse::parse_users(&o.text());
        if users.is_empty() {
            out.inv.problems.push(Problem::new(
                "device",
                format!(
                    "`pm list users` gave no users (exit {:?}): only the users seen in dumpsys (or user 0) were scanned",
                    o.rc
                ),
            ));
        }
    }
    if let Some(e) = lost {
        out.lost("reading identity, users and capabilities", &e);
        return None;
    }
    let (tools, utc_offset) = caps::read_probes(outs.get(2..).unwrap_or_default());
    let sdk = props
        .get("ro.build.version.sdk")
        .and_then(|s| s.trim().parse::<u32>().ok());
    let channel = ctx.dev.channel();
    let caps = Caps {
        sdk,
        channel,
        cmd: cmd && sdk.is_none_or(|s| s >= 24),
        tools,
        utc_offset,
    };
    ctx.dev
        .set_max_request(server_limit.min(device_max_payload(channel == Channel::ShellV2, sdk)));
    match channel {
        Channel::ShellV2 => {}
        Channel::Exec => out.inv.notes.push(
            "no shell protocol v2 on this phone (before Android 7): commands ran over exec: (binary-clean), requests kept under its 4 KiB limit".to_string(),
        ),
        Channel::Pty => out.inv.notes.push(
            "no shell protocol v2 and exec: refused: commands ran in a pseudo-terminal shell (line ends undone; APK bytes read through a text encoding)".to_string(),
        ),
    }
    if caps.utc_offset.is_none() {
        out.inv.notes.push(
            "the phone's UTC offset could not be read (`date +%z`): install times are given phone-local in details".to_string(),
        );
    }
    let build = props
        .get("ro.build.fingerprint")
        .cloned()
        .unwrap_or_else(|| {
            [
                "ro.build.id",
                "ro.build.version.incremental",
                "ro.build.version.sdk",
            ]
            .iter()
            .map(|k| props.get(*k).map(String::as_str).unwrap_or(""))
            .collect::<Vec<_>>()
            .join("/")
        });
    Some(First { users, caps, build })
}
