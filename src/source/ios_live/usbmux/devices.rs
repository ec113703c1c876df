//! Devices as usbmuxd lists them, and the events of a `Listen` subscription, read from its
//! plist messages.

use plist::{Dictionary, Value};

/// A device as usbmuxd lists it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct MuxDevice {
    /// usbmuxd's handle for this attach (changes at each plug).
    pub device_id: u64,
    /// The device's UDID (`SerialNumber` in usbmuxd's properties).
    pub udid: String,
    /// `USB` or `Network`.
    pub connection: String,
}

/// What `Listen` reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    Attached(MuxDevice),
    Detached(u64),
    /// usbmuxd saved a pair record for this device (the user tapped Trust).
    Paired(u64),
}

fn udid_of(props: &Dictionary) -> Option<String> {
    props
        .get("SerialNumber")
        .and_then(Value::as_string)
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| {
            // Old devices report a 24-digit serial without the dash of their UDID.
            match (s.len() == 24 && !s.contains('-'), s.get(..8), s.get(8..)) {
                (true, Some(a), Some(b)) => format!("{a}-{b}"),
                _ => s.to_string(),
            }
        })
}

fn device_from(props: &Dictionary, fallback_id: Option<u64>) -> Option<MuxDevice> {
    let device_id = props
        .get("DeviceID")
        .and_then(Value::as_unsigned_integer)
        .or(fallback_id)?;
    Some(MuxDevice {
        device_id,
        udid: udid_of(props)?,
        connection: props
            .get("ConnectionType")
            .and_then(Value::as_string)
            .unwrap_or("USB")
            .to_string(),
    })
}

/// Reads a `Listen` event from one message, `None` for messages that are not events.
pub(super) fn event_from(msg: &Dictionary) -> Option<Event> {
    let id = msg.get("DeviceID").and_then(Value::as_unsigned_integer);
    match msg.get("MessageType").and_then(Value::as_string)? {
        "Attached" => {
            let props = msg.get("Properties").and_then(Value::as_dictionary)?;
            device_from(props, id).map(Event::Attached)
        }
        "Detached" => id.map(Event::Detached),
        "Paired" => id.map(Event::Paired),
        _ => None,
    }
}

/// Parses a `ListDevices` answer; devices without a UDID are skipped.
pub fn parse_device_list(reply: &Dictionary) -> Option<Vec<MuxDevice>> {
    let list = reply.get("DeviceList")?.as_array()?;
    let mut out: Vec<MuxDevice> = list
        .iter()
        .filter_map(Value::as_dictionary)
        .filter_map(|d| {
            let id = d.get("DeviceID").and_then(Value::as_unsigned_integer);
            let props = d.get("Properties").and_then(Value::as_dictionary)?;
            device_from(props, id)
        })
        .collect();
    out.sort_by(|a, b| a.udid.cmp(&b.udid).then(a.device_id.cmp(&b.device_id)));
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn props(id: u64, serial: &str) -> Value {
        let mut p = Dictionary::new();
        p.insert("DeviceID".into(), Value::Integer(id.into()));
        p.insert("SerialNumber".into(), serial.into());
        p.insert("ConnectionType".into(), "USB".into());
        Value::Dictionary(p)
    }

    #[test]
    fn device_lists_and_events_parse() {
        let mut entry = Dictionary::new();
        entry.insert("DeviceID".into(), Value::Integer(7.into()));
        entry.insert("MessageType".into(), "Attached".into());
        entry.insert("Properties".into(), props(7, "00008030001A35E83C38802E"));
        let mut no_udid = Dictionary::new();
        no_udid.insert("Properties".into(), Value::Dictionary(Dictionary::new()));
        let mut reply = Dictionary::new();
        reply.insert(
            "DeviceList".into(),
            Value::Array(vec![
                Value::Dictionary(entry.clone()),
                Value::Dictionary(no_udid),
                Value::String("junk".into()),
            ]),
        );
        let list = parse_device_list(&reply).unwrap();
        assert_eq!(
            list,
            vec![MuxDevice {
                device_id: 7,
                udid: "00008030-001A35E83C38802E".into(),
                connection: "USB".into()
            }]
        );
        assert!(matches!(event_from(&entry), Some(Event::Attached(d)) if d.device_id == 7));
        let mut gone = Dictionary::new();
        gone.insert("MessageType".into(), "Detached".into());
        gone.insert("DeviceID".into(), Value::Integer(7.into()));
        assert_eq!(event_from(&gone), Some(Event::Detached(7)));
        gone.remove("DeviceID");
        assert_eq!(event_from(&gone), None);
        assert!(parse_device_list(&Dictionary::new()).is_none());
    }
}
