//! installation_proxy: `Browse` streams the apps in chunks (`Status: BrowsingApplications` with
//! `CurrentList`, `CurrentIndex`, `CurrentAmount`, `Total`), then `Status: Complete`; it honours
//! `ApplicationType` (`User`, `System`, `Any`; absent: all) and `ReturnAttributes`.

use std::io;

use plist::{Dictionary, Value};

use std::sync::Arc;

use crate::link::{frame, server_config, text, Link, Sock};
use crate::state::{lock, PhoneState, Shared};

fn wanted(entry: &Dictionary, app_type: &str) -> bool {
    match app_type {
        "" | "Any" => true,
        t => text(entry, "ApplicationType") == t,
    }
}

/// The framed `Browse` answers for one set of options, with the number of apps in each: built
/// once per phone and options, as the answers of a phone cost the host nothing.
pub type Chunks = Arc<Vec<(usize, Vec<u8>)>>;

fn chunks(phone: &PhoneState, options: &Dictionary) -> io::Result<Chunks> {
    let app_type = text(options, "ApplicationType");
    let attributes: Option<Vec<&str>> = options
        .get("ReturnAttributes")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_string).collect());
    let key = format!("{app_type}|{attributes:?}");
    if let Some(c) = lock(&phone.browse_cache).get(&key) {
        return Ok(Arc::clone(c));
    }
    let list: Vec<Value> = phone
        .apps
        .iter()
        .filter(|e| wanted(e, app_type))
        .map(|e| {
            let mut e = e.clone();
            if let Some(keep) = &attributes {
                e.retain(|k, _| keep.contains(&k.as_str()));
            }
            Value::Dictionary(e)
        })
        .collect();
    let total = list.len() as u64;
    let mut out = Vec::new();
    let mut index = 0u64;
    for chunk in list.chunks(phone.sc.chunk.max(1)) {
        let mut d = Dictionary::new();
        d.insert("Status".into(), "BrowsingApplications".into());
        d.insert("CurrentIndex".into(), Value::Integer(index.into()));
        d.insert(
            "CurrentAmount".into(),
            Value::Integer((chunk.len() as u64).into()),
        );
        d.insert("Total".into(), Value::Integer(total.into()));
        d.insert("CurrentList".into(), Value::Array(chunk.to_vec()));
        out.push((chunk.len(), frame(&d)?));
        index += chunk.len() as u64;
    }
    let mut done = Dictionary::new();
    done.insert("Status".into(), "Complete".into());
    out.push((0, frame(&done)?));
    let out = Arc::new(out);
    lock(&phone.browse_cache).insert(key, Arc::clone(&out));
    Ok(out)
}

fn browse(sh: &Shared, phone: &PhoneState, link: &mut Link, msg: &Dictionary) -> io::Result<()> {
    sh.count(&phone.sc.udid, "browses");
    let options = msg
        .get("ClientOptions")
        .and_then(Value::as_dictionary)
        .cloned()
        .unwrap_or_default();
    let mut sent = 0usize;
    for (apps, frame) in chunks(phone, &options)?.iter() {
        link.send_frame(frame)?;
        sent += apps;
        if *apps > 0 && phone.sc.unplug_after_apps.is_some_and(|n| sent >= n) {
            sh.detach(phone);
            return Err(io::Error::new(
                io::ErrorKind::ConnectionAborted,
                "unplugged during Browse",
            ));
        }
    }
    Ok(())
}

/// Serves one installation_proxy connection, started by the session of `host_id`.
pub fn serve(sh: &Shared, phone: &PhoneState, host_id: String, sock: Sock) -> io::Result<()> {
    let mut link = Link::Plain(sock);
    if phone.sc.service_ssl {
        let host = lock(&phone.hosts).get(&host_id).cloned();
        let Some(host) = host else {
            return Ok(());
        };
        link = link.start_tls(server_config(&host, &phone.device_key, phone.sc.tls13)?)?;
    }
    while let Some(msg) = link.recv()? {
        sh.round_trip();
        match text(&msg, "Command") {
            "Browse" => browse(sh, phone, &mut link, &msg)?,
            other => {
                let mut d = Dictionary::new();
                d.insert("Error".into(), "UnknownCommand".into());
                d.insert(
                    "ErrorDescription".into(),
                    format!("command {other:?} is not served by this fake").into(),
                );
                link.send(&d)?;
            }
        }
    }
    Ok(())
}
