//! Live Android phones through an adb server (placeholder until the adb layer lands).

use super::Emit;

/// Options for `scan adb` and `devices`.
#[derive(Debug, Clone, Default)]
pub struct AdbOptions {
    /// `HOST:PORT` of the adb server; `None`: `ANDROID_ADB_SERVER_PORT` or 127.0.0.1:5037.
    pub server: Option<String>,
    /// Only these serials; empty: every attached device.
    pub serials: Vec<String>,
    /// Compute file SHA-256 on the phone for every APK (`--hash all`).
    pub hash_all: bool,
    /// Fingerprint cache directory; `None` disables the cache.
    pub cache_dir: Option<std::path::PathBuf>,
}

#[derive(Debug, thiserror::Error)]
pub enum AdbError {
    #[error("adb support is not built yet")]
    NotBuilt,
}

/// Scans every selected device concurrently, emitting one inventory per device.
pub fn scan(_opts: &AdbOptions, _emit: Emit<'_>) -> Result<(), AdbError> {
    Err(AdbError::NotBuilt)
}

/// One line of `appsweep devices`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct DeviceEntry {
    pub serial: String,
    /// `device`, `unauthorized`, `offline`, `recovery`, ... as the adb server says.
    pub state: String,
    pub model: Option<String>,
    pub product: Option<String>,
    /// `usb:1-1`, or the TCP address for a network device.
    pub transport: Option<String>,
    /// What the user should do, for states other than `device`.
    pub hint: Option<String>,
}

/// Lists attached devices through the adb server.
pub fn list_devices(_opts: &AdbOptions) -> Result<Vec<DeviceEntry>, AdbError> {
    Err(AdbError::NotBuilt)
}
