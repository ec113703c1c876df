//! Live iPhones and iPads through the system's usbmuxd: every attached phone, concurrently (one
//! thread each), read in one lockdown session and one installation_proxy `Browse`.
//!
//! Per phone ([`device`]): usbmuxd `Connect` to lockdownd, `QueryType`, the public identity
//! (`GetValue`, no pairing needed), the host's pair record (usbmuxd `ReadPairRecord`), one
//! `StartSession` with TLS pinned to the pair record ([`tls`]), the serial and IMEI, then
//! `StartService` for installation_proxy and one `Browse` of every app ([`instproxy`]). Apps go
//! into the same [`AppRecord`](crate::model::AppRecord) shape as a backup's (the same
//! `iTunesMetadata` reader), so the same phone gives the same finding ids live and from a backup
//! (device id: the UDID; app id: the bundle id). `seen_in`: `installation_proxy`.
//!
//! **Read-only.** The requests sent are `QueryType`, `GetValue`, `StartSession`, `StartService`,
//! `StopSession` and installation_proxy `Browse`. The one exception is pairing, and only when the
//! user asks for it (`--pair`, see [`pairing`]): the phone then adds this computer to its trusted
//! hosts and usbmuxd stores the new pair record.
//!
//! **Personal data.** The device name, phone number, ICCID and the Apple ID that bought each app
//! are reported only with `--include-personal-data` (and not even asked for in the session
//! without it). The UDID (the device id), serial number and IMEI are asset identifiers a ticket
//! needs to find the handset: they are always reported, as for every source.
//!
//! An untrusted, locked, unplugged or silent phone still gets an inventory, with a
//! [`Problem`](crate::model::Problem) saying what the user must do (status `incomplete`).
//!
//! The client is our own (usbmuxd's plist protocol, lockdown's framed plists, rustls): the
//! `idevice` crate would bring an async runtime and two dozen crates for the four requests used
//! here, and it accepts any certificate from the phone.
//!
//! The parts: `usbmux` (the usbmuxd client), `lockdown` (lockdownd and the framed plist
//! connection its services share), `wire` (plist messages through the bounded reader), `tls`
//! (sessions pinned to the pair record), `pair_record` (the host's record as usbmuxd keeps it),
//! `pairing` and `certs` (`--pair`: a new record and its keys), `instproxy` (the app list),
//! `device` (one phone from usbmuxd to an inventory); this module lists the phones and scans
//! them.

#[cfg(feature = "pair")]
mod certs;
mod device;
mod instproxy;
mod lockdown;
mod pair_record;
mod pairing;
mod tls;
mod usbmux;
mod wire;

use std::sync::Arc;
use std::time::Duration;

use super::Emit;
use crate::model::{Inventory, Problem};

pub use device::{NOT_PAIRED, NOT_TRUSTED, SEEN_IN};

/// The building blocks of pair records (used by `--pair`, and by test doubles of a phone and of
/// the host that paired with it).
#[cfg(feature = "pair")]
pub mod pair_material {
    pub use super::certs::{credentials, new_private_key, public_key_pem, CertError};
    pub use super::pairing::record_plist;
    pub use super::pairing::Credentials;
    pub use super::wire::WireError;
}
pub use usbmux::{Address, ENV_ADDRESS};

/// Runs every parser that reads bytes from a phone or from usbmuxd (framing, plist messages, app
/// entries, device lists, pair records, certificates) over `bytes`: for the fuzzer. Never panics;
/// returns how many things were read.
#[doc(hidden)]
pub fn parse_untrusted(bytes: &[u8]) -> usize {
    let mut n = 0;
    for d in [
        wire::decode(bytes).ok(),
        wire::receive(&mut &bytes[..]).ok(),
    ]
    .into_iter()
    .flatten()
    {
        if let Some(list) = d.get("CurrentList").and_then(plist::Value::as_array) {
            n += list
                .iter()
                .filter_map(plist::Value::as_dictionary)
                .filter_map(instproxy::parse_entry)
                .count();
        }
        n += usbmux::parse_device_list(&d).map_or(0, |l| l.len());
    }
    n += usize::from(pair_record::parse(bytes).is_ok());
    n += usize::from(tls::spki(bytes).is_some());
    n
}

/// Options for `scan ios`, `devices` and `watch`.
#[derive(Debug, Clone, Default)]
pub struct IosOptions {
    /// usbmuxd's address as `USBMUXD_SOCKET_ADDRESS` gives it (`UNIX:/path` or `HOST:PORT`);
    /// `None`: the variable, else the system default.
    pub socket: Option<String>,
    /// Only these UDIDs; empty: every attached phone.
    pub udids: Vec<String>,
    pub include_personal_data: bool,
    /// Pair with phones this computer is not paired with (the user taps Trust).
    pub pair: bool,
    /// Deadline of one step (a request and its answer, a `Browse` chunk); `None`: 30 s.
    pub timeout: Option<Duration>,
    /// How long the user has to tap Trust; `None`: 120 s.
    pub pair_timeout: Option<Duration>,
}

impl IosOptions {
    fn op_timeout(&self) -> Duration {
        self.timeout.unwrap_or(Duration::from_secs(30))
    }

    fn pair_wait(&self) -> Duration {
        self.pair_timeout.unwrap_or(Duration::from_secs(120))
    }

    fn address(&self) -> Result<Address, IosError> {
        let env = std::env::var(ENV_ADDRESS).ok();
        usbmux::resolve(self.socket.as_deref().or(env.as_deref())).map_err(IosError::BadAddress)
    }

    fn usbmux(&self) -> Result<usbmux::Usbmux, IosError> {
        Ok(usbmux::Usbmux::new(
            self.address()?,
            self.op_timeout(),
            Arc::default(),
        ))
    }
}

/// Why the iOS source could not run at all (per-phone failures are problems in inventories).
#[derive(Debug, thiserror::Error)]
pub enum IosError {
    #[error("bad usbmuxd address: {0}")]
    BadAddress(String),
    #[error("{source}: {hint}")]
    NoUsbmuxd {
        source: usbmux::UsbmuxError,
        hint: &'static str,
    },
    #[error(transparent)]
    Usbmux(usbmux::UsbmuxError),
    #[error("no iPhone or iPad is attached to usbmuxd at {addr} (check the cable, unlock the phone, and see `appsweep devices`)")]
    NoDevices { addr: Address },
}

/// What to install when no usbmuxd answers.
const USBMUXD_HINT: &str = if cfg!(windows) {
    "install iTunes or Apple Devices (it provides the Apple Mobile Device Service), or set USBMUXD_SOCKET_ADDRESS"
} else if cfg!(target_os = "macos") {
    "usbmuxd is part of macOS; set USBMUXD_SOCKET_ADDRESS if it listens elsewhere"
} else {
    "install and start usbmuxd (Debian/Ubuntu: `apt install usbmuxd`; it starts when an iPhone is plugged in), or set USBMUXD_SOCKET_ADDRESS"
};

fn mux_error(e: usbmux::UsbmuxError) -> IosError {
    match e {
        e @ usbmux::UsbmuxError::Connect { .. } => IosError::NoUsbmuxd {
            source: e,
            hint: USBMUXD_HINT,
        },
        e => IosError::Usbmux(e),
    }
}

/// One phone as `appsweep devices` lists it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct IosDeviceEntry {
    pub udid: String,
    /// `paired` (ready to scan), `not_paired`, `not_trusted`, `unreachable`.
    pub state: String,
    /// `ProductType` (`iPhone14,2`, `iPad13,4`).
    pub model: Option<String>,
    pub os_version: Option<String>,
    /// `USB` or `Network`.
    pub connection: String,
    /// What the user should do, for states other than `paired`.
    pub hint: Option<String>,
}

/// Lists the attached phones with their pairing state (a session is opened and closed on each
/// phone that has a pair record, to learn whether it still trusts this computer).
pub fn list_devices(opts: &IosOptions) -> Result<Vec<IosDeviceEntry>, IosError> {
    let mux = opts.usbmux()?;
    let devices = mux.list_devices().map_err(mux_error)?;
    Ok(std::thread::scope(|s| {
        let handles: Vec<_> = devices
            .iter()
            .map(|d| {
                let one =
                    usbmux::Usbmux::new(mux.addr().clone(), opts.op_timeout(), Arc::default());
                s.spawn(move || device::pairing_state(&one, d, opts))
            })
            .collect();
        handles
            .into_iter()
            .zip(&devices)
            .map(|(h, d)| {
                h.join().unwrap_or_else(|_| IosDeviceEntry {
                    udid: d.udid.clone(),
                    state: "unreachable".to_string(),
                    model: None,
                    os_version: None,
                    connection: d.connection.clone(),
                    hint: Some("checking the phone failed".to_string()),
                })
            })
            .collect()
    }))
}

/// Scans every selected phone concurrently, emitting one inventory per phone as it finishes.
/// With no UDIDs given, every attached phone is scanned.
pub fn scan(opts: &IosOptions, emit: Emit<'_>) -> Result<(), IosError> {
    let mux = opts.usbmux()?;
    let attached = mux.list_devices().map_err(mux_error)?;
    let mut selected = Vec::new();
    let mut missing = Vec::new();
    if opts.udids.is_empty() {
        if attached.is_empty() {
            return Err(IosError::NoDevices {
                addr: mux.addr().clone(),
            });
        }
        selected = attached;
    } else {
        let mut udids = opts.udids.clone();
        udids.sort();
        udids.dedup();
        for u in udids {
            match attached.iter().find(|d| d.udid.eq_ignore_ascii_case(&u)) {
                Some(d) => selected.push(d.clone()),
                None => missing.push(u),
            }
        }
    }
    for udid in missing {
        let mut inv = Inventory::new(crate::model::DeviceInfo::new(
            crate::model::Platform::Ios,
            crate::model::SourceKind::Usbmuxd,
            udid,
        ));
        inv.device.manufacturer = Some("Apple".to_string());
        inv.problems.push(Problem::new(
            "device",
            "usbmuxd does not list this UDID: plug the phone in, unlock it, and see `appsweep devices`",
        ));
        emit(inv);
    }
    std::thread::scope(|s| {
        for d in &selected {
            let one = usbmux::Usbmux::new(mux.addr().clone(), opts.op_timeout(), Arc::default());
            let spawned = std::thread::Builder::new()
                .name(format!("scan {}", d.udid))
                .spawn_scoped(s, move || emit(device::scan_device(&one, d, opts)));
            if let Err(e) = spawned {
                let mut inv = device::empty_inventory(d);
                inv.problems.push(Problem::new(
                    "device",
                    format!("could not start a scan thread: {e}"),
                ));
                emit(inv);
            }
        }
    });
    Ok(())
}

/// A phone attached, paired or detached, for `watch`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WatchEvent {
    Attached(Phone),
    /// usbmuxd saved a pair record for it (the user tapped Trust).
    Paired(Phone),
    Detached(Phone),
}

/// One attach of a phone (usbmuxd gives a new handle at each plug).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Phone(usbmux::MuxDevice);

impl Phone {
    pub fn udid(&self) -> &str {
        &self.0.udid
    }
}

/// usbmuxd's `Listen` stream of attach and detach events.
pub struct Subscription {
    listener: usbmux::Listener,
    /// usbmuxd handle → the phone, to name paired and detached phones.
    attached: std::collections::BTreeMap<u64, Phone>,
}

/// Subscribes to attach and detach events; usbmuxd first reports every phone attached now.
pub fn subscribe(opts: &IosOptions) -> Result<Subscription, IosError> {
    let listener = opts.usbmux()?.listen().map_err(mux_error)?;
    Ok(Subscription {
        listener,
        attached: Default::default(),
    })
}

impl Subscription {
    /// The next event, `Ok(None)` when none came within `wait`. An error ends the subscription.
    pub fn next(&mut self, wait: Duration) -> Result<Option<WatchEvent>, IosError> {
        Ok(match self.listener.next_event(wait).map_err(mux_error)? {
            Some(usbmux::Event::Attached(d)) => {
                let phone = Phone(d);
                self.attached.insert(phone.0.device_id, phone.clone());
                Some(WatchEvent::Attached(phone))
            }
            Some(usbmux::Event::Paired(id)) => {
                self.attached.get(&id).cloned().map(WatchEvent::Paired)
            }
            Some(usbmux::Event::Detached(id)) => {
                self.attached.remove(&id).map(WatchEvent::Detached)
            }
            None => None,
        })
    }
}

/// Scans one attached phone (for `watch`).
pub fn scan_phone(opts: &IosOptions, phone: &Phone) -> Result<Inventory, IosError> {
    let mux = opts.usbmux()?;
    Ok(device::scan_device(&mux, &phone.0, opts))
}

/// What the user must do when a scan stopped because the phone is not paired (or no longer
/// trusts this computer); `None` otherwise.
pub fn pairing_hint(inv: &Inventory) -> Option<&str> {
    inv.problems
        .iter()
        .find(|p| p.scope == device::PAIRING_SCOPE)
        .map(|p| p.message.as_str())
}
