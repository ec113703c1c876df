//! One phone, from usbmuxd to an inventory: a lockdown connection, its public identity, the
//! host's pair record, one TLS session, the identity values a ticket needs, one
//! installation_proxy `Browse`. Everything that fails becomes a [`Problem`] saying what the user
//! must do; what was read before the failure is kept.

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use plist::{Dictionary, Value};

use super::instproxy::{self, AppEntry, Browse};
use super::lockdown::{Conn, Lockdown, LockdownError, PORT};
use super::pair_record::{self, PairRecord};
use super::pairing::{self, PairError};
use super::tls::TlsConfig;
use super::usbmux::{MuxDevice, Usbmux, UsbmuxError};
use super::wire;
use super::{IosDeviceEntry, IosOptions};
use crate::model::{
    AppRecord, DeviceInfo, Inventory, PersonalData, Platform, Problem, ScanStats, SourceKind,
};
use crate::source::ios_backup::apps::{apply_metadata, set_detail};

/// The scope of problems that mean the phone and this computer are not paired.
pub const PAIRING_SCOPE: &str = "pairing";

/// Where each app of a live phone was seen.
pub const SEEN_IN: crate::model::SeenIn = crate::model::SeenIn::InstallationProxy;

/// The first iOS whose lockdown speaks TLS 1.2.
const MIN_IOS_MAJOR: u32 = 10;

/// What to tell the user when this computer holds no pair record for the phone.
pub const NOT_PAIRED: &str = "this computer is not paired with the iPhone (usbmuxd has no pair record for it): unlock the iPhone and tap Trust when it asks (if it does not ask, plug it in again, or run `appsweep scan ios --pair`), then scan again";

/// What to tell the user when the phone rejects this computer's pair record.
pub const NOT_TRUSTED: &str = "the iPhone no longer trusts this computer (it rejected the pair record, e.g. after Reset Location & Privacy): unlock it, run `appsweep scan ios --pair` and tap Trust";

/// An inventory with nothing read yet.
pub fn empty_inventory(device: &MuxDevice) -> Inventory {
    let mut info = DeviceInfo::new(Platform::Ios, SourceKind::Usbmuxd, device.udid.clone());
    info.manufacturer = Some("Apple".to_string());
    info.location = Some(format!(
        "usbmuxd device {} ({})",
        device.device_id, device.connection
    ));
    Inventory::new(info)
}

/// Fills identity from lockdown values; person-identifying ones only when asked for.
fn identity(inv: &mut Inventory, values: &Dictionary, personal: bool) {
    let d = &mut inv.device;
    let set = |field: &mut Option<String>, key: &str| {
        if field.is_none() {
            *field = wire::text(values, key);
        }
    };
    set(&mut d.model, "ProductType");
    set(&mut d.os_version, "ProductVersion");
    set(&mut d.os_build, "BuildVersion");
    set(&mut d.serial, "SerialNumber");
    set(&mut d.imei, "InternationalMobileEquipmentIdentity");
    if personal {
        set(&mut d.name, "DeviceName");
        let p = d.personal.get_or_insert_with(PersonalData::default);
        set(&mut p.phone_number, "PhoneNumber");
        set(&mut p.iccid, "IntegratedCircuitCardIdentity");
    }
}

/// The major iOS version, when readable.
fn ios_major(version: Option<&str>) -> Option<u32> {
    version?.split('.').next()?.trim().parse().ok()
}

fn lost(what: &str, e: &dyn std::fmt::Display, closed: bool, timeout: Duration) -> Problem {
    if closed {
        Problem::new(
            "device",
            format!("the iPhone went away while {what} ({e}): plug it in again, unlock it and scan again"),
        )
    } else {
        Problem::new(
            "device",
            format!(
                "{what} failed: {e} (each step waits at most {} s): unlock the iPhone, check the cable and scan again",
                timeout.as_secs()
            ),
        )
    }
}

fn lockdown_problem(what: &str, e: &LockdownError, timeout: Duration) -> Problem {
    lost(what, e, e.is_closed(), timeout)
}

fn usbmux_problem(what: &str, e: &UsbmuxError, timeout: Duration) -> Problem {
    let gone = matches!(e, UsbmuxError::Refused { code: 2, .. });
    lost(what, e, gone, timeout)
}

/// The pair record of this computer for the phone, or the problem that stops the scan.
fn pair_record_for(
    mux: &Usbmux,
    lockdown: &mut Lockdown,
    device: &MuxDevice,
    opts: &IosOptions,
) -> Result<PairRecord, Problem> {
    match mux.read_pair_record(&device.udid) {
        Ok(Some(bytes)) => pair_record::parse(&bytes).map_err(|e| {
            Problem::new(
                PAIRING_SCOPE,
                format!("{e}: re-pair the iPhone (`appsweep scan ios --pair`, or unplug it, plug it in again and tap Trust)"),
            )
        }),
        Ok(None) if opts.pair => pair(mux, lockdown, device, opts),
        Ok(None) => Err(Problem::new(PAIRING_SCOPE, NOT_PAIRED)),
        Err(e) => Err(Problem::new(
            PAIRING_SCOPE,
            format!("cannot read this computer's pair record for the iPhone: {e}"),
        )),
    }
}

fn pair(
    mux: &Usbmux,
    lockdown: &mut Lockdown,
    device: &MuxDevice,
    opts: &IosOptions,
) -> Result<PairRecord, Problem> {
    pairing::pair(mux, lockdown, device, opts.pair_wait())
        .map_err(|e: PairError| Problem::new(PAIRING_SCOPE, e.to_string()))
}

/// Scans one phone. Never fails: everything unread is a problem in the inventory.
pub fn scan_device(mux: &Usbmux, device: &MuxDevice, opts: &IosOptions) -> Inventory {
    let started = Instant::now();
    let mut inv = empty_inventory(device);
    if let Err(p) = read_phone(mux, device, opts, &mut inv) {
        inv.problems.push(p);
    }
    let c = mux.counters();
    inv.stats = Some(ScanStats {
        round_trips: c.round_trips.load(Ordering::Relaxed),
        bytes_transferred: c.bytes.load(Ordering::Relaxed),
        duration_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
        ..ScanStats::default()
    });
    inv.normalize();
    inv
}

fn read_phone(
    mux: &Usbmux,
    device: &MuxDevice,
    opts: &IosOptions,
    inv: &mut Inventory,
) -> Result<(), Problem> {
    let timeout = opts.op_timeout();
    log::info!("{}: connecting to lockdownd", device.udid);
    let stream = mux
        .connect(device.device_id, PORT)
        .map_err(|e| usbmux_problem("connecting to lockdownd", &e, timeout))?;
    let mut lockdown = Lockdown::new(Conn::new(stream, timeout, mux.counters().clone()));
    let kind = lockdown
        .query_type()
        .map_err(|e| lockdown_problem("asking lockdownd its type", &e, timeout))?;
    if kind != "com.apple.mobile.lockdown" {
        return Err(Problem::new(
            "device",
            format!("the phone answered as {kind:?}, not lockdownd: it is not booted normally (recovery?); restart it and scan again"),
        ));
    }
    // The public identity needs no pairing: an untrusted phone still gets a model and version.
    match lockdown.get_value(None) {
        Ok(Some(Value::Dictionary(d))) => identity(inv, &d, opts.include_personal_data),
        Ok(_) => {}
        Err(e) => {
            return Err(lockdown_problem(
                "reading the phone's identity",
                &e,
                timeout,
            ))
        }
    }
    if let Some(v) = ios_major(inv.device.os_version.as_deref()).filter(|v| *v < MIN_IOS_MAJOR) {
        return Err(Problem::new(
            "device",
            format!("iOS {v} is too old to be read live (its lockdown speaks only TLS 1.0): scan a backup of it instead (`appsweep scan backup`)"),
        ));
    }
    let mut record = pair_record_for(mux, &mut lockdown, device, opts)?;
    let mut tls = TlsConfig::from_record(&record).map_err(|e| {
        Problem::new(
            PAIRING_SCOPE,
            format!("{e}: re-pair the iPhone with --pair"),
        )
    })?;
    match lockdown.start_session(&record, &tls) {
        Ok(()) => {}
        Err(e) if e.device_error() == Some("InvalidHostID") && opts.pair => {
            record = pair(mux, &mut lockdown, device, opts)?;
            tls = TlsConfig::from_record(&record)
                .map_err(|e| Problem::new(PAIRING_SCOPE, e.to_string()))?;
            lockdown
                .start_session(&record, &tls)
                .map_err(|e| lockdown_problem("starting a session after pairing", &e, timeout))?;
        }
        Err(e) if e.device_error() == Some("InvalidHostID") => {
            return Err(Problem::new(PAIRING_SCOPE, NOT_TRUSTED));
        }
        Err(e) => return Err(lockdown_problem("starting a lockdown session", &e, timeout)),
    }
    log::debug!("{}: lockdown session started", device.udid);
    session_identity(&mut lockdown, inv, opts);
    let apps = browse(mux, device, &mut lockdown, &record, &tls, opts);
    lockdown.close();
    let apps = apps?;
    record_apps(inv, apps, opts)
}

/// Identity values only a session gives (asked one by one, only those still unknown).
fn session_identity(lockdown: &mut Lockdown, inv: &mut Inventory, opts: &IosOptions) {
    let mut keys = vec!["SerialNumber", "InternationalMobileEquipmentIdentity"];
    if opts.include_personal_data {
        keys.extend(["DeviceName", "PhoneNumber", "IntegratedCircuitCardIdentity"]);
    }
    let mut values = Dictionary::new();
    let known = |inv: &Inventory, k: &str| match k {
        "SerialNumber" => inv.device.serial.is_some(),
        "InternationalMobileEquipmentIdentity" => inv.device.imei.is_some(),
        "DeviceName" => inv.device.name.is_some(),
        "PhoneNumber" => inv
            .device
            .personal
            .as_ref()
            .is_some_and(|p| p.phone_number.is_some()),
        _ => inv
            .device
            .personal
            .as_ref()
            .is_some_and(|p| p.iccid.is_some()),
    };
    for key in keys {
        if known(inv, key) {
            continue;
        }
        match lockdown.get_value(Some(key)) {
            Ok(Some(v)) => {
                values.insert(key.into(), v);
            }
            Ok(None) => {}
            Err(e) => inv
                .notes
                .push(format!("lockdown value {key} not read: {e}")),
        }
    }
    identity(inv, &values, opts.include_personal_data);
}

/// Starts installation_proxy and browses every app.
fn browse(
    mux: &Usbmux,
    device: &MuxDevice,
    lockdown: &mut Lockdown,
    record: &PairRecord,
    tls: &TlsConfig,
    opts: &IosOptions,
) -> Result<Browse, Problem> {
    let timeout = opts.op_timeout();
    let service = match lockdown.start_service(instproxy::SERVICE, None) {
        // A locked phone may want the escrow bag before it starts the service.
        Err(e)
            if matches!(e.device_error(), Some("PasswordProtected" | "EscrowLocked"))
                && record.escrow_bag.is_some() =>
        {
            lockdown.start_service(instproxy::SERVICE, record.escrow_bag.as_deref())
        }
        other => other,
    }
    .map_err(|e| match e.device_error() {
        Some("PasswordProtected" | "EscrowLocked") => Problem::new(
            "installation_proxy",
            "the iPhone is locked and would not list its apps: unlock it and scan again",
        ),
        _ => lockdown_problem("starting installation_proxy", &e, timeout),
    })?;
    let stream = mux
        .connect(device.device_id, service.port)
        .map_err(|e| usbmux_problem("connecting to installation_proxy", &e, timeout))?;
    let mut conn = Conn::new(stream, timeout, mux.counters().clone());
    if service.ssl {
        conn.start_tls(tls).map_err(|e| {
            Problem::new(
                "installation_proxy",
                format!("TLS with installation_proxy failed: {e}"),
            )
        })?;
    }
    let result = instproxy::browse(&mut conn, timeout);
    mux.counters().exchange();
    conn.close();
    Ok(result)
}

/// One app record from a `Browse` entry.
fn app_record(entry: &AppEntry) -> AppRecord {
    let mut app = AppRecord::new(entry.bundle_id.clone());
    app.add_seen_in(SEEN_IN);
    app.system = entry.application_type.as_deref() != Some("User");
    if let Some(m) = &entry.metadata {
        apply_metadata(&mut app, m);
    }
    if app.name.is_none() {
        app.name = entry
            .display_name
            .clone()
            .or_else(|| entry.bundle_name.clone());
    }
    if app.version.is_none() {
        app.version = entry.short_version.clone();
    }
    set_detail(&mut app, "bundle_version", entry.bundle_version.as_ref());
    set_detail(
        &mut app,
        "application_type",
        entry.application_type.as_ref(),
    );
    set_detail(&mut app, "signer_identity", entry.signer_identity.as_ref());
    app
}

fn record_apps(inv: &mut Inventory, b: Browse, opts: &IosOptions) -> Result<(), Problem> {
    let mut apple_ids: Vec<String> = Vec::new();
    for entry in &b.apps {
        if let Some(err) = &entry.metadata_error {
            inv.problems.push(Problem::new(
                format!("app {}", entry.bundle_id),
                format!("iTunesMetadata unreadable ({err}); its App Store id is unknown"),
            ));
        }
        if let Some(m) = &entry.metadata {
            apple_ids.extend(m.apple_ids.iter().cloned());
        }
        inv.apps.push(app_record(entry));
    }
    if opts.include_personal_data {
        apple_ids.sort();
        apple_ids.dedup();
        inv.device
            .personal
            .get_or_insert_with(PersonalData::default)
            .apple_ids = apple_ids;
    }
    let user = b
        .apps
        .iter()
        .filter(|a| a.application_type.as_deref() == Some("User"))
        .count();
    inv.notes.push(format!(
        "installation_proxy listed {} apps ({user} user, {} system)",
        b.apps.len(),
        b.apps.len() - user
    ));
    if b.skipped > 0 {
        inv.notes
            .push(format!("{} entries without a bundle id skipped", b.skipped));
    }
    let Some(e) = b.error else {
        return Ok(());
    };
    let read = match b.total {
        Some(t) => format!("{} of {t} apps read", b.apps.len()),
        None => format!("{} apps read", b.apps.len()),
    };
    Err(match &e {
        instproxy::BrowseError::Wire(w) if w.is_closed() => Problem::new(
            "installation_proxy",
            format!("the iPhone went away while its apps were listed ({read}): plug it in again, unlock it and scan again"),
        ),
        _ => Problem::new(
            "installation_proxy",
            format!("listing the apps stopped ({read}): {e}; unlock the iPhone, check the cable and scan again"),
        ),
    })
}

/// The pairing state of one phone for `appsweep devices`: a session is opened and closed to learn
/// whether the phone still trusts this computer's pair record.
pub fn pairing_state(mux: &Usbmux, device: &MuxDevice, opts: &IosOptions) -> IosDeviceEntry {
    let mut entry = IosDeviceEntry {
        udid: device.udid.clone(),
        state: "unreachable".to_string(),
        model: None,
        os_version: None,
        connection: device.connection.clone(),
        hint: None,
    };
    let timeout = opts.op_timeout();
    let mut inv = empty_inventory(device);
    let stream = match mux.connect(device.device_id, PORT) {
        Ok(s) => s,
        Err(e) => {
            entry.hint = Some(usbmux_problem("connecting to lockdownd", &e, timeout).message);
            return entry;
        }
    };
    let mut lockdown = Lockdown::new(Conn::new(stream, timeout, mux.counters().clone()));
    if let Ok(Some(Value::Dictionary(d))) = lockdown.get_value(None) {
        identity(&mut inv, &d, false);
    }
    entry.model = inv.device.model.take();
    entry.os_version = inv.device.os_version.take();
    let (state, hint) = match mux.read_pair_record(&device.udid) {
        Ok(None) => ("not_paired", Some(NOT_PAIRED.to_string())),
        Err(e) => ("unreachable", Some(e.to_string())),
        Ok(Some(bytes)) => match pair_record::parse(&bytes)
            .map_err(|e| e.to_string())
            .and_then(|r| {
                TlsConfig::from_record(&r)
                    .map(|t| (r, t))
                    .map_err(|e| e.to_string())
            }) {
            Err(e) => (
                "not_trusted",
                Some(format!("{e}: re-pair the iPhone with --pair")),
            ),
            Ok((record, tls)) => match lockdown.start_session(&record, &tls) {
                Ok(()) => ("paired", None),
                Err(e) if e.device_error() == Some("InvalidHostID") => {
                    ("not_trusted", Some(NOT_TRUSTED.to_string()))
                }
                Err(e) => (
                    "unreachable",
                    Some(lockdown_problem("starting a session", &e, timeout).message),
                ),
            },
        },
    };
    lockdown.close();
    entry.state = state.to_string();
    entry.hint = hint;
    entry
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn personal_values_stay_out_unless_asked_for() {
        let mut d = Dictionary::new();
        for (k, v) in [
            ("ProductType", "iPhone14,2"),
            ("ProductVersion", "17.4.1"),
            ("DeviceName", "Alice's iPhone"),
            ("PhoneNumber", "+1 555 0100"),
            ("SerialNumber", "F2LXXXXXXX"),
        ] {
            d.insert(k.into(), v.into());
        }
        let dev = MuxDevice {
            device_id: 1,
            udid: "U".into(),
            connection: "USB".into(),
        };
        let mut inv = empty_inventory(&dev);
        identity(&mut inv, &d, false);
        assert_eq!(inv.device.model.as_deref(), Some("iPhone14,2"));
        assert_eq!(inv.device.serial.as_deref(), Some("F2LXXXXXXX"));
        assert_eq!(inv.device.name, None);
        assert_eq!(inv.device.personal, None);
        identity(&mut inv, &d, true);
        assert_eq!(inv.device.name.as_deref(), Some("Alice's iPhone"));
        assert_eq!(
            inv.device.personal.unwrap().phone_number.as_deref(),
            Some("+1 555 0100")
        );
        assert_eq!(ios_major(Some("9.3.5")), Some(9));
        assert_eq!(ios_major(Some("x")), None);
    }

    #[test]
    fn apps_are_recorded_like_backups_do() {
        let entry = AppEntry {
            bundle_id: "com.zhiliaoapp.musically".into(),
            display_name: Some("TikTok".into()),
            application_type: Some("User".into()),
            bundle_version: Some("1".into()),
            ..AppEntry::default()
        };
        let app = app_record(&entry);
        assert_eq!(app.seen_in, vec![SEEN_IN]);
        assert!(app.installed && !app.system);
        assert_eq!(app.name.as_deref(), Some("TikTok"));
        let sys = app_record(&AppEntry {
            bundle_id: "com.apple.mobilesafari".into(),
            application_type: Some("System".into()),
            ..AppEntry::default()
        });
        assert!(sys.system);
    }
}
