//! What the fake holds: usbmuxd's pair records and subscribers, and each phone (its keys, the
//! hosts it trusts, its services, whether it is plugged in), plus counters for the tests.

use std::collections::BTreeMap;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::Sender;
use std::sync::Mutex;
use std::time::Duration;

use appsweep::source::ios_live::pair_material;
use plist::{Dictionary, Value};

use crate::link::{bad, Host, Sock};
use crate::scenario::{Phone, Scenario};

pub fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// One phone behind the fake usbmuxd.
pub struct PhoneState {
    pub sc: Phone,
    pub device_key: String,
    pub device_public_key: String,
    /// `Browse` entries with every attribute, built once.
    pub apps: Vec<Dictionary>,
    /// usbmuxd's handle while plugged in.
    pub attached: Mutex<Option<u64>>,
    /// Hosts the phone trusts, by host id.
    pub hosts: Mutex<BTreeMap<String, Host>>,
    /// Ports of started services → the host id that started them.
    pub services: Mutex<BTreeMap<u16, String>>,
    /// Connections to the phone, cut when it is unplugged.
    pub open: Mutex<Vec<Sock>>,
    pub pair_requests: AtomicU64,
    /// Framed `Browse` answers by options (see `instproxy`).
    pub browse_cache: Mutex<BTreeMap<String, crate::instproxy::Chunks>>,
}

pub struct Shared {
    pub sc: Scenario,
    pub phones: Vec<PhoneState>,
    /// usbmuxd's pair records by UDID.
    pub records: Mutex<BTreeMap<String, Vec<u8>>>,
    /// `Listen` subscribers (packets are sent whole).
    pub listeners: Mutex<Vec<Sender<Dictionary>>>,
    next_device_id: AtomicU64,
    next_port: AtomicU64,
    stats: Mutex<BTreeMap<String, BTreeMap<String, u64>>>,
    stats_file: Option<PathBuf>,
}

/// An RSA key from the cache folder, made (and kept) when missing.
fn cached_key(cache: Option<&Path>, name: &str) -> io::Result<String> {
    let path = cache.map(|c| c.join(format!("{name}.pem")));
    if let Some(text) = path.as_ref().and_then(|p| std::fs::read_to_string(p).ok()) {
        if text.contains("PRIVATE KEY") {
            return Ok(text);
        }
    }
    let key = pair_material::new_private_key().map_err(|e| bad(e.to_string()))?;
    if let (Some(dir), Some(path)) = (cache, path) {
        std::fs::create_dir_all(dir)?;
        let tmp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
        std::fs::write(&tmp, &key)?;
        std::fs::rename(&tmp, &path)?;
    }
    Ok(key)
}

fn host_id(index: usize) -> String {
    format!("5EED0000-0000-4000-8000-{index:012X}")
}

/// The `iTunesMetadata` blob of an app (a binary plist, as phones keep it).
fn itunes_metadata(app: &crate::scenario::App) -> io::Result<Option<Vec<u8>>> {
    let Some(item_id) = app.item_id else {
        return Ok(None);
    };
    let mut m = Dictionary::new();
    m.insert("itemId".into(), Value::Integer(item_id.into()));
    m.insert(
        "itemName".into(),
        app.name.clone().unwrap_or_else(|| app.id.clone()).into(),
    );
    m.insert("softwareVersionBundleId".into(), app.id.as_str().into());
    m.insert(
        "bundleShortVersionString".into(),
        app.version.as_str().into(),
    );
    if let Some(a) = &app.artist {
        m.insert("artistName".into(), a.as_str().into());
    }
    if let Some(id) = &app.apple_id {
        let mut account = Dictionary::new();
        account.insert("AppleID".into(), id.as_str().into());
        let mut download = Dictionary::new();
        download.insert("accountInfo".into(), Value::Dictionary(account));
        m.insert(
            "com.apple.iTunesStore.downloadInfo".into(),
            Value::Dictionary(download),
        );
    }
    let mut out = Vec::new();
    plist::to_writer_binary(&mut out, &m).map_err(|e| bad(e.to_string()))?;
    Ok(Some(out))
}

fn app_entries(phone: &Phone) -> io::Result<Vec<Dictionary>> {
    let mut out = Vec::new();
    for (i, app) in phone.all_apps().iter().enumerate() {
        let mut d = Dictionary::new();
        let name = app.name.clone().unwrap_or_else(|| app.id.clone());
        d.insert("CFBundleIdentifier".into(), app.id.as_str().into());
        d.insert("CFBundleDisplayName".into(), name.as_str().into());
        d.insert("CFBundleName".into(), name.as_str().into());
        d.insert(
            "CFBundleShortVersionString".into(),
            app.version.as_str().into(),
        );
        d.insert(
            "CFBundleVersion".into(),
            format!("{}.{i}", app.version).into(),
        );
        d.insert("ApplicationType".into(), app.app_type.as_str().into());
        d.insert("SignerIdentity".into(), app.signer.as_str().into());
        d.insert(
            "Path".into(),
            format!("/private/var/containers/Bundle/Application/{i:08X}/{name}.app").into(),
        );
        d.insert(
            "StaticDiskUsage".into(),
            Value::Integer((40_000_000u64 + i as u64).into()),
        );
        if let Some(m) = itunes_metadata(app)? {
            d.insert("iTunesMetadata".into(), Value::Data(m));
        }
        out.push(d);
    }
    Ok(out)
}

impl Shared {
    pub fn new(sc: Scenario, stats_file: Option<PathBuf>) -> io::Result<Shared> {
        let cache = sc.key_cache.as_deref().map(Path::new);
        let root_key = cached_key(cache, "host-root")?;
        let host_key = cached_key(cache, "host")?;
        let mut phones = Vec::new();
        let mut records = BTreeMap::new();
        for (i, p) in sc.phones.iter().enumerate() {
            let device_key = cached_key(cache, &format!("device-{i}"))?;
            let device_public_key =
                pair_material::public_key_pem(&device_key).map_err(|e| bad(e.to_string()))?;
            let mut hosts = BTreeMap::new();
            if p.paired {
                // An impostor's record was made for a key the phone does not hold.
                let record_key = if p.impostor {
                    pair_material::public_key_pem(&cached_key(cache, "decoy")?)
                        .map_err(|e| bad(e.to_string()))?
                } else {
                    device_public_key.clone()
                };
                let creds = pair_material::credentials(&root_key, &host_key, record_key.as_bytes())
                    .map_err(|e| bad(e.to_string()))?;
                let record = pair_material::record_plist(
                    &creds,
                    &host_id(i),
                    &sc.system_buid,
                    Some(&[0xE5; 40]),
                    Some("a4:c3:f0:00:00:01"),
                )
                .map_err(|e| bad(e.to_string()))?;
                if p.trusts_host {
                    let d = crate::link::decode(&record)?;
                    let mut host = Host::from_record(&d)?;
                    if p.impostor {
                        // The record's certificate is for another key; the phone shows its own.
                        let own = pair_material::credentials(
                            &root_key,
                            &host_key,
                            device_public_key.as_bytes(),
                        )
                        .map_err(|e| bad(e.to_string()))?;
                        host.device_certificate =
                            crate::link::pem_cert(own.device_certificate.as_bytes())?;
                    }
                    hosts.insert(host_id(i), host);
                }
                records.insert(p.udid.clone(), record);
            }
            phones.push(PhoneState {
                apps: app_entries(p)?,
                sc: p.clone(),
                device_key,
                device_public_key,
                attached: Mutex::new(None),
                hosts: Mutex::new(hosts),
                services: Mutex::new(BTreeMap::new()),
                open: Mutex::new(Vec::new()),
                pair_requests: AtomicU64::new(0),
                browse_cache: Mutex::new(BTreeMap::new()),
            });
        }
        Ok(Shared {
            sc,
            phones,
            records: Mutex::new(records),
            listeners: Mutex::new(Vec::new()),
            next_device_id: AtomicU64::new(1),
            next_port: AtomicU64::new(49_152),
            stats: Mutex::new(BTreeMap::new()),
            stats_file,
        })
    }

    /// One USB round trip's worth of delay.
    pub fn round_trip(&self) {
        if self.sc.round_trip_ms > 0 {
            std::thread::sleep(Duration::from_millis(self.sc.round_trip_ms));
        }
    }

    pub fn new_port(&self) -> u16 {
        let p = self.next_port.fetch_add(1, Ordering::Relaxed);
        u16::try_from(49_152 + p % 16_000).unwrap_or(49_152)
    }

    /// Counts an event of a phone and writes the counters out (for the tests).
    pub fn count(&self, udid: &str, what: &str) {
        self.tally(udid, what, true);
    }

    /// Counts a frequent event (every request): written out with the next counted event, so
    /// the file is not rewritten at each request.
    pub fn count_quietly(&self, udid: &str, what: &str) {
        self.tally(udid, what, false);
    }

    fn tally(&self, udid: &str, what: &str, write: bool) {
        let mut stats = lock(&self.stats);
        *stats
            .entry(udid.to_string())
            .or_default()
            .entry(what.to_string())
            .or_default() += 1;
        if !write {
            return;
        }
        // Written under the lock, so the file always holds the latest counts.
        if let Some(path) = &self.stats_file {
            let tmp = path.with_extension(format!("tmp{}", std::process::id()));
            let snapshot = serde_json::to_vec_pretty(&*stats).unwrap_or_default();
            if std::fs::write(&tmp, snapshot).is_ok() {
                let _ = std::fs::rename(&tmp, path);
            }
        }
    }

    fn broadcast(subscribers: &mut Vec<Sender<Dictionary>>, msg: &Dictionary) {
        subscribers.retain(|tx| tx.send(msg.clone()).is_ok());
    }

    pub fn attached_message(&self, phone: &PhoneState, id: u64) -> Dictionary {
        let mut props = Dictionary::new();
        props.insert("ConnectionType".into(), "USB".into());
        props.insert("DeviceID".into(), Value::Integer(id.into()));
        props.insert(
            "LocationID".into(),
            Value::Integer((0x0110_0000 + id).into()),
        );
        props.insert("ProductID".into(), Value::Integer(0x12a8u64.into()));
        props.insert("SerialNumber".into(), phone.sc.udid.as_str().into());
        props.insert(
            "ConnectionSpeed".into(),
            Value::Integer(480_000_000u64.into()),
        );
        let mut d = Dictionary::new();
        d.insert("MessageType".into(), "Attached".into());
        d.insert("DeviceID".into(), Value::Integer(id.into()));
        d.insert("Properties".into(), Value::Dictionary(props));
        d
    }

    /// Plugs the phone in (a new usbmuxd handle) and tells the subscribers.
    pub fn attach(&self, phone: &PhoneState) {
        // Under the subscribers' lock, so a new subscriber hears of each attach exactly once.
        let mut subscribers = lock(&self.listeners);
        let id = self.next_device_id.fetch_add(1, Ordering::Relaxed);
        *lock(&phone.attached) = Some(id);
        Self::broadcast(&mut subscribers, &self.attached_message(phone, id));
        drop(subscribers);
        self.count(&phone.sc.udid, "attached");
    }

    /// Pulls the cable: subscribers hear of it, every connection to the phone is cut.
    pub fn detach(&self, phone: &PhoneState) {
        let mut subscribers = lock(&self.listeners);
        let Some(id) = lock(&phone.attached).take() else {
            return;
        };
        for s in lock(&phone.open).drain(..) {
            s.shutdown();
        }
        lock(&phone.services).clear();
        let mut d = Dictionary::new();
        d.insert("MessageType".into(), "Detached".into());
        d.insert("DeviceID".into(), Value::Integer(id.into()));
        Self::broadcast(&mut subscribers, &d);
        drop(subscribers);
        self.count(&phone.sc.udid, "detached");
    }

    /// usbmuxd saved a record for the phone plugged in as `id`: subscribers hear `Paired`.
    pub fn paired(&self, udid: &str, id: u64) {
        let mut subscribers = lock(&self.listeners);
        let attached = self
            .phones
            .iter()
            .any(|p| p.sc.udid == udid && *lock(&p.attached) == Some(id));
        if attached {
            let mut d = Dictionary::new();
            d.insert("MessageType".into(), "Paired".into());
            d.insert("DeviceID".into(), Value::Integer(id.into()));
            Self::broadcast(&mut subscribers, &d);
        }
    }

    /// The phone plugged in with usbmuxd handle `id`.
    pub fn phone_by_handle(&self, id: u64) -> Option<&PhoneState> {
        self.phones.iter().find(|p| *lock(&p.attached) == Some(id))
    }
}
