//! The state of a device as the adb server reports it (`host:devices-l`), and what to tell the
//! user about each state other than `device`.

/// A device state. Known states are words; one the server reports that appsweep does not know
/// is kept as it was said ([`DeviceState::Other`]). Serialised as the server's word.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeviceState {
    /// Ready: the only state that is scanned.
    Device,
    /// USB debugging not yet accepted on the phone.
    Unauthorized,
    Offline,
    Authorizing,
    Connecting,
    Recovery,
    Sideload,
    Rescue,
    Bootloader,
    /// `no permissions (...)`: this user may not open the USB device; the server's whole text.
    NoPermissions(String),
    /// A serial asked for on the command line that the server does not list.
    Missing,
    /// Any other state, as the server said it (`unknown` when it said nothing).
    Other(String),
}

impl DeviceState {
    /// The state a server's text names.
    pub fn from_adb(text: &str) -> Self {
        match text {
            "device" => Self::Device,
            "unauthorized" => Self::Unauthorized,
            "offline" => Self::Offline,
            "authorizing" => Self::Authorizing,
            "connecting" => Self::Connecting,
            "recovery" => Self::Recovery,
            "sideload" => Self::Sideload,
            "rescue" => Self::Rescue,
            "bootloader" => Self::Bootloader,
            "missing" => Self::Missing,
            t if t.starts_with("no permissions") => Self::NoPermissions(t.to_string()),
            t => Self::Other(t.to_string()),
        }
    }

    pub fn as_str(&self) -> &str {
        match self {
            Self::Device => "device",
            Self::Unauthorized => "unauthorized",
            Self::Offline => "offline",
            Self::Authorizing => "authorizing",
            Self::Connecting => "connecting",
            Self::Recovery => "recovery",
            Self::Sideload => "sideload",
            Self::Rescue => "rescue",
            Self::Bootloader => "bootloader",
            Self::Missing => "missing",
            Self::NoPermissions(t) | Self::Other(t) => t,
        }
    }

    /// What the user should do, for every state but `device`.
    pub fn hint(&self) -> Option<String> {
        let s = match self {
            Self::Device => return None,
            Self::Unauthorized => {
                "unlock the phone and accept the USB debugging prompt (Allow USB debugging?), then run again"
            }
            Self::Offline => {
                "the device is not responding: unplug and replug it (or `adb disconnect`/`adb connect` for a network device), unlock it, then run again"
            }
            Self::Authorizing | Self::Connecting => {
                "the device is still connecting: wait a few seconds and run again"
            }
            Self::Recovery | Self::Sideload | Self::Rescue | Self::Bootloader => {
                "the device is not booted into Android: reboot it normally, then run again"
            }
            Self::NoPermissions(_) => {
                "this user may not access the USB device: fix the udev rules (Debian: `apt install android-sdk-platform-tools-common`) and replug"
            }
            Self::Missing => {
                "the adb server does not list this serial: check the cable and `adb devices`"
            }
            Self::Other(_) => "the device is not ready for adb: check the phone and run again",
        };
        Some(s.to_string())
    }
}

impl From<&str> for DeviceState {
    fn from(text: &str) -> Self {
        Self::from_adb(text)
    }
}

crate::closed_set::text_like!(DeviceState);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_unknown_states_are_kept() {
        for word in [
            "device",
            "unauthorized",
            "offline",
            "authorizing",
            "connecting",
            "recovery",
            "sideload",
            "rescue",
            "bootloader",
            "missing",
            "no permissions (missing udev rules? user is in the plugdev group); see [http://developer.android.com/tools/device.html]",
            "unknown",
            "host",
        ] {
            let s = DeviceState::from_adb(word);
            assert_eq!(s.as_str(), word);
            assert_eq!(
                serde_json::to_string(&s).unwrap(),
                serde_json::to_string(word).unwrap()
            );
            assert_eq!(s.hint().is_none(), word == "device", "{word}");
        }
        assert!(matches!(
            DeviceState::from_adb("host"),
            DeviceState::Other(_)
        ));
        assert!(matches!(
            DeviceState::from_adb("no permissions; see x"),
            DeviceState::NoPermissions(_)
        ));
    }
}
