//! lockdownd (port 62078): `QueryType`, `GetValue` (a public subset before a session, everything
//! in one), `StartSession` (TLS with the session host's certificates), `StopSession`,
//! `StartService` (installation_proxy only), `ValidatePair`, `Pair`, `Unpair`, `Goodbye`.

use std::io;
use std::sync::atomic::Ordering;

use plist::{Dictionary, Value};

use crate::link::{server_config, text, Host, Link, Sock};
use crate::scenario::Pairing;
use crate::state::{lock, PhoneState, Shared};

const INSTALLATION_PROXY: &str = "com.apple.mobile.installation_proxy";

/// Keys a phone gives any host, paired or not.
const PUBLIC_KEYS: [&str; 10] = [
    "BuildVersion",
    "DeviceClass",
    "DeviceName",
    "DevicePublicKey",
    "HardwareModel",
    "ProductName",
    "ProductType",
    "ProductVersion",
    "UniqueDeviceID",
    "WiFiAddress",
];

fn values(phone: &PhoneState) -> Dictionary {
    let p = &phone.sc;
    let mut d = Dictionary::new();
    let mut put = |k: &str, v: Value| {
        d.insert(k.into(), v);
    };
    put("ActivationState", "Activated".into());
    put("BuildVersion", p.build_version.as_str().into());
    put("CPUArchitecture", "arm64e".into());
    put("DeviceClass", p.device_class.as_str().into());
    put("DeviceColor", "1".into());
    put("DeviceName", p.device_name.as_str().into());
    put(
        "DevicePublicKey",
        Value::Data(phone.device_public_key.as_bytes().to_vec()),
    );
    put("HardwareModel", "D63AP".into());
    put("ProductName", "iPhone OS".into());
    put("ProductType", p.product_type.as_str().into());
    put("ProductVersion", p.product_version.as_str().into());
    put("ProtocolVersion", "2".into());
    put("TimeZone", "Europe/Berlin".into());
    put("UniqueDeviceID", p.udid.as_str().into());
    put("WiFiAddress", "a4:c3:f0:00:00:01".into());
    if let Some(s) = &p.serial {
        put("SerialNumber", s.as_str().into());
    }
    if let Some(s) = &p.imei {
        put("InternationalMobileEquipmentIdentity", s.as_str().into());
    }
    if let Some(s) = &p.phone_number {
        put("PhoneNumber", s.as_str().into());
    }
    if let Some(s) = &p.iccid {
        put("IntegratedCircuitCardIdentity", s.as_str().into());
    }
    d
}

fn reply(request: &str) -> Dictionary {
    let mut d = Dictionary::new();
    d.insert("Request".into(), request.into());
    d
}

fn error(request: &str, error: &str) -> Dictionary {
    let mut d = reply(request);
    d.insert("Error".into(), error.into());
    d
}

fn get_value(phone: &PhoneState, msg: &Dictionary, in_session: bool) -> Dictionary {
    let mut all = values(phone);
    if !in_session {
        all.retain(|k, _| PUBLIC_KEYS.contains(&k.as_str()));
    }
    let domain = text(msg, "Domain");
    let key = text(msg, "Key");
    let mut d = reply("GetValue");
    if !domain.is_empty() {
        // No other domain is modelled: the phone has no such values.
        return error("GetValue", "MissingValue");
    }
    if key.is_empty() {
        d.insert("Value".into(), Value::Dictionary(all));
        return d;
    }
    match all.remove(key) {
        Some(v) => {
            d.insert("Key".into(), key.into());
            d.insert("Value".into(), v);
            d
        }
        None => error("GetValue", "MissingValue"),
    }
}

fn pair(sh: &Shared, phone: &PhoneState, msg: &Dictionary) -> Dictionary {
    sh.count(&phone.sc.udid, "pair_requests");
    let attempt = phone.pair_requests.fetch_add(1, Ordering::Relaxed);
    match phone.sc.pairing {
        Pairing::Locked => return error("Pair", "PasswordProtected"),
        Pairing::Deny => return error("Pair", "UserDeniedPairing"),
        Pairing::PendingThenAccept if attempt < 2 => {
            return error("Pair", "PairingDialogResponsePending")
        }
        _ => {}
    }
    let Some(record) = msg.get("PairRecord").and_then(Value::as_dictionary) else {
        return error("Pair", "InvalidPairRecord");
    };
    let host_id = text(record, "HostID");
    match Host::from_record(record) {
        Ok(host) if !host_id.is_empty() => {
            lock(&phone.hosts).insert(host_id.to_string(), host);
            sh.count(&phone.sc.udid, "paired");
            let mut d = reply("Pair");
            d.insert("EscrowBag".into(), Value::Data(vec![0xE5; 40]));
            d
        }
        _ => error("Pair", "InvalidPairRecord"),
    }
}

fn known_host(phone: &PhoneState, msg: &Dictionary) -> Option<String> {
    let record = msg.get("PairRecord").and_then(Value::as_dictionary)?;
    let id = text(record, "HostID");
    lock(&phone.hosts).contains_key(id).then(|| id.to_string())
}

/// Serves one lockdownd connection.
pub fn serve(sh: &Shared, phone: &PhoneState, sock: Sock) -> io::Result<()> {
    let udid = phone.sc.udid.as_str();
    let mut link = Link::Plain(sock);
    // (session id, host id) of the session under way.
    let mut session: Option<(String, String)> = None;
    while let Some(msg) = link.recv()? {
        sh.round_trip();
        sh.count_quietly(udid, "lockdown_requests");
        let request = text(&msg, "Request").to_string();
        match request.as_str() {
            "QueryType" => {
                let mut d = reply("QueryType");
                d.insert("Type".into(), "com.apple.mobile.lockdown".into());
                link.send(&d)?;
            }
            "GetValue" => link.send(&get_value(phone, &msg, session.is_some()))?,
            "StartSession" => {
                let host_id = text(&msg, "HostID").to_string();
                let host = lock(&phone.hosts).get(&host_id).cloned();
                let Some(host) = host else {
                    link.send(&error("StartSession", "InvalidHostID"))?;
                    continue;
                };
                sh.count(udid, "sessions");
                let id = format!("5E55-{:04X}", sh.new_port());
                let mut d = reply("StartSession");
                d.insert("SessionID".into(), id.as_str().into());
                d.insert("EnableSessionSSL".into(), true.into());
                link.send(&d)?;
                let config = server_config(&host, &phone.device_key, phone.sc.tls13)?;
                link = link.start_tls(config)?;
                session = Some((id, host_id));
            }
            "StopSession" => {
                link.send(&reply("StopSession"))?;
                if session.take().is_some() {
                    link = link.stop_tls()?;
                }
            }
            "StartService" => {
                let service = text(&msg, "Service").to_string();
                let Some((_, host_id)) = &session else {
                    link.send(&error("StartService", "InvalidService"))?;
                    continue;
                };
                if service != INSTALLATION_PROXY {
                    link.send(&error("StartService", "InvalidService"))?;
                    continue;
                }
                let port = sh.new_port();
                lock(&phone.services).insert(port, host_id.clone());
                let mut d = reply("StartService");
                d.insert("Service".into(), service.as_str().into());
                d.insert("Port".into(), Value::Integer(u64::from(port).into()));
                d.insert("EnableServiceSSL".into(), phone.sc.service_ssl.into());
                link.send(&d)?;
            }
            "ValidatePair" => match known_host(phone, &msg) {
                Some(_) => link.send(&reply("ValidatePair"))?,
                None => link.send(&error("ValidatePair", "InvalidHostID"))?,
            },
            "Pair" => link.send(&pair(sh, phone, &msg))?,
            "Unpair" => {
                if let Some(id) = known_host(phone, &msg) {
                    lock(&phone.hosts).remove(&id);
                }
                link.send(&reply("Unpair"))?;
            }
            "Goodbye" => {
                let mut d = reply("Goodbye");
                d.insert("Result".into(), "Success".into());
                link.send(&d)?;
                return Ok(());
            }
            other => link.send(&error(other, "InvalidRequest"))?,
        }
    }
    Ok(())
}
