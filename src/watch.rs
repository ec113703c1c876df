//! Field mode: follows attach and detach by polling the adb server (which also covers what the
//! server's track-devices stream never says: that the last phone left). A phone is scanned once
//! each time it reaches the `device` state; it is scanned again only after it was detached (or
//! went offline) and came back. Unauthorized phones get the instructions once per attach. Ends
//! on Ctrl-C, after the scans under way finish.
//!
//! iPhones and iPads come from usbmuxd's `Listen` events, on their own thread: each attach is
//! scanned once (usbmuxd gives a new handle at each plug). A phone this computer is not paired
//! with gets the instructions instead of a record, and is scanned when usbmuxd says it was paired
//! (the user tapped Trust) — or at once with `--pair`.

use crate::report::{message, sanitize};
use crate::source::adb::DeviceState;
use crate::source::{adb, ios_live, Emit};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// What to do about each device in a new listing, given what was done this attach.
#[derive(Debug, PartialEq, Eq)]
enum Action {
    Scan(String),
    Hint(String, String),
}

/// Updates `acted` (serial → state last acted on) from a listing and says what to do now.
fn plan(acted: &mut BTreeMap<String, DeviceState>, list: &[adb::DeviceEntry]) -> Vec<Action> {
    let present: BTreeMap<&str, &DeviceState> =
        list.iter().map(|d| (d.serial.as_str(), &d.state)).collect();
    acted.retain(|serial, state| present.get(serial.as_str()) == Some(&&*state));
    let mut actions = Vec::new();
    for d in list {
        if acted.get(&d.serial) == Some(&d.state) {
            continue;
        }
        match d.state {
            DeviceState::Device => {
                acted.insert(d.serial.clone(), d.state.clone());
                actions.push(Action::Scan(d.serial.clone()));
            }
            DeviceState::Unauthorized => {
                acted.insert(d.serial.clone(), d.state.clone());
                let hint = d
                    .hint
                    .clone()
                    .unwrap_or_else(|| "unlock it and accept the USB debugging prompt".into());
                actions.push(Action::Hint(d.serial.clone(), hint));
            }
            _ => {}
        }
    }
    actions
}

/// Sleeps up to `d`, waking early on Ctrl-C.
fn nap(d: Duration, stop: &AtomicBool) {
    let until = Instant::now() + d;
    while Instant::now() < until && !stop.load(Ordering::SeqCst) {
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Scans one iPhone; `false` when it is not paired (the instructions went to stderr instead).
fn scan_iphone(opts: &ios_live::IosOptions, phone: &ios_live::Phone, emit: Emit<'_>) -> bool {
    match ios_live::scan_phone(opts, phone) {
        Ok(inv) => match ios_live::pairing_hint(&inv) {
            Some(hint) => {
                message(&format!("{} is not paired: {hint}", phone.udid()));
                false
            }
            None => {
                emit(inv);
                true
            }
        },
        Err(e) => {
            message(&format!("{}: {e}", phone.udid()));
            true
        }
    }
}

/// Follows usbmuxd until Ctrl-C: each attach scanned once, unpaired phones when paired.
fn watch_iphones(opts: &ios_live::IosOptions, stop: &AtomicBool, emit: Emit<'_>) {
    let scanned: std::sync::Mutex<BTreeSet<ios_live::Phone>> = Default::default();
    let waiting: std::sync::Mutex<BTreeSet<ios_live::Phone>> = Default::default();
    let mut last_error: Option<String> = None;
    std::thread::scope(|scope| {
        while !stop.load(Ordering::SeqCst) {
            let mut sub = match ios_live::subscribe(opts) {
                Ok(s) => s,
                Err(e) => {
                    let msg = format!("iPhones: {e}; retrying");
                    if last_error.as_deref() != Some(msg.as_str()) {
                        message(&msg);
                        last_error = Some(msg);
                    }
                    nap(Duration::from_secs(2), stop);
                    continue;
                }
            };
            last_error = None;
            while !stop.load(Ordering::SeqCst) {
                let phone = match sub.next(Duration::from_millis(200)) {
                    Ok(Some(ios_live::WatchEvent::Attached(p))) => {
                        if !lock(&scanned).insert(p.clone()) {
                            continue;
                        }
                        p
                    }
                    Ok(Some(ios_live::WatchEvent::Paired(p))) => {
                        if !lock(&waiting).remove(&p) {
                            continue;
                        }
                        p
                    }
                    Ok(Some(ios_live::WatchEvent::Detached(p))) => {
                        lock(&scanned).remove(&p);
                        lock(&waiting).remove(&p);
                        continue;
                    }
                    Ok(None) => continue,
                    Err(e) => {
                        message(&format!("iPhones: {e}; listening again"));
                        nap(Duration::from_secs(1), stop);
                        break;
                    }
                };
                let waiting = &waiting;
                scope.spawn(move || {
                    if !scan_iphone(opts, &phone, emit) {
                        lock(waiting).insert(phone);
                    }
                });
            }
        }
    });
}

fn lock<T>(m: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Watches until Ctrl-C, scanning each phone once per attach into `emit`.
pub fn run(opts: &adb::AdbOptions, ios: &ios_live::IosOptions, poll: Duration, emit: Emit<'_>) {
    let stop = Arc::new(AtomicBool::new(false));
    let flag = stop.clone();
    if let Err(e) = ctrlc::set_handler(move || flag.store(true, Ordering::SeqCst)) {
        message(&format!("cannot catch Ctrl-C ({e}); stop with a signal"));
    }
    message("watching for phones (Ctrl-C to stop)");
    let mut acted: BTreeMap<String, DeviceState> = BTreeMap::new();
    let mut last_error: Option<String> = None;
    std::thread::scope(|scope| {
        let stop_ref: &AtomicBool = &stop;
        scope.spawn(move || watch_iphones(ios, stop_ref, emit));
        let mut running: Vec<std::thread::ScopedJoinHandle<'_, ()>> = Vec::new();
        while !stop.load(Ordering::SeqCst) {
            match adb::list_devices(opts) {
                Ok(list) => {
                    last_error = None;
                    for action in plan(&mut acted, &list) {
                        match action {
                            Action::Scan(serial) => {
                                let one = adb::AdbOptions {
                                    serials: vec![serial],
                                    ..opts.clone()
                                };
                                running.push(scope.spawn(move || {
                                    if let Err(e) = adb::scan(&one, emit) {
                                        let who = one.serials.join(",");
                                        message(&format!("{}: {e}", sanitize(&who)));
                                    }
                                }));
                            }
                            Action::Hint(serial, hint) => message(&format!(
                                "{} is unauthorized: {}",
                                sanitize(&serial),
                                sanitize(&hint)
                            )),
                        }
                    }
                }
                Err(e) => {
                    let msg = format!("{e:#}");
                    if last_error.as_deref() != Some(msg.as_str()) {
                        message(&format!("{msg}; retrying"));
                        last_error = Some(msg);
                    }
                }
            }
            // Reap finished scans so threads stay bounded over hours.
            let (done, still): (Vec<_>, Vec<_>) =
                running.into_iter().partition(|h| h.is_finished());
            for h in done {
                let _ = h.join();
            }
            running = still;
            nap(poll, &stop);
        }
        message(&format!(
            "stopping; waiting for {} scan(s) under way",
            running.len()
        ));
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(serial: &str, state: &str) -> adb::DeviceEntry {
        adb::DeviceEntry {
            serial: serial.into(),
            state: state.into(),
            model: None,
            product: None,
            transport: None,
            hint: DeviceState::from_adb(state).hint(),
        }
    }

    #[test]
    fn each_attach_is_scanned_once_and_a_replug_again() {
        let mut acted = BTreeMap::new();
        let a = [entry("A", "device")];
        assert_eq!(plan(&mut acted, &a), [Action::Scan("A".into())]);
        assert!(plan(&mut acted, &a).is_empty());
        assert!(plan(&mut acted, &[]).is_empty());
        assert_eq!(plan(&mut acted, &a), [Action::Scan("A".into())]);
    }

    #[test]
    fn an_unauthorized_phone_gets_one_hint_then_a_scan_once_allowed() {
        let mut acted = BTreeMap::new();
        let u = [entry("B", "unauthorized")];
        assert!(matches!(plan(&mut acted, &u).as_slice(), [Action::Hint(s, _)] if s == "B"));
        assert!(plan(&mut acted, &u).is_empty());
        assert_eq!(
            plan(&mut acted, &[entry("B", "device")]),
            [Action::Scan("B".into())]
        );
        assert!(plan(&mut acted, &[entry("C", "offline")]).is_empty());
    }
}
