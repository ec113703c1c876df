//! Where usbmuxd listens: `USBMUXD_SOCKET_ADDRESS` as libusbmuxd reads it, or the platform's
//! default.

use std::fmt;
#[cfg(unix)]
use std::path::PathBuf;

/// The environment variable libusbmuxd reads.
pub const ENV_ADDRESS: &str = "USBMUXD_SOCKET_ADDRESS";

/// Where usbmuxd listens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Address {
    #[cfg(unix)]
    Unix(PathBuf),
    /// `host:port` (or `[v6]:port`) as given.
    Tcp(String),
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            #[cfg(unix)]
            Address::Unix(p) => write!(f, "{}", p.display()),
            Address::Tcp(a) => write!(f, "{a}"),
        }
    }
}

/// The address when nothing says otherwise.
pub fn default_address() -> Address {
    #[cfg(unix)]
    {
        Address::Unix(PathBuf::from("/var/run/usbmuxd"))
    }
    #[cfg(not(unix))]
    {
        Address::Tcp("127.0.0.1:27015".to_string())
    }
}

/// Reads `USBMUXD_SOCKET_ADDRESS` as libusbmuxd does: `UNIX:/path` (ignored where Unix sockets
/// do not exist), or `HOST:PORT` with a port from 1 to 65535; anything else falls back to the
/// default, with the reason.
pub fn resolve(value: Option<&str>) -> Result<Address, String> {
    let Some(v) = value.map(str::trim).filter(|v| !v.is_empty()) else {
        return Ok(default_address());
    };
    if let Some(path) = v.strip_prefix("UNIX:") {
        #[cfg(unix)]
        {
            if path.is_empty() {
                return Err(format!("{ENV_ADDRESS}={v:?}: no socket path after UNIX:"));
            }
            return Ok(Address::Unix(PathBuf::from(path)));
        }
        #[cfg(not(unix))]
        {
            let _ = path;
            return Ok(default_address());
        }
    }
    let port_ok = v
        .rsplit_once(':')
        .and_then(|(host, port)| (!host.is_empty()).then_some(port))
        .and_then(|p| p.parse::<u16>().ok())
        .is_some_and(|p| p > 0);
    if port_ok {
        Ok(Address::Tcp(v.to_string()))
    } else {
        Err(format!(
            "{ENV_ADDRESS}={v:?} is neither UNIX:/path nor HOST:PORT"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_are_read_as_libusbmuxd_reads_them() {
        assert_eq!(resolve(None).unwrap(), default_address());
        assert_eq!(resolve(Some("  ")).unwrap(), default_address());
        #[cfg(unix)]
        assert_eq!(
            resolve(Some("UNIX:/tmp/mux")).unwrap(),
            Address::Unix(PathBuf::from("/tmp/mux"))
        );
        assert_eq!(
            resolve(Some("127.0.0.1:27015")).unwrap(),
            Address::Tcp("127.0.0.1:27015".into())
        );
        assert_eq!(
            resolve(Some("[::1]:27015")).unwrap(),
            Address::Tcp("[::1]:27015".into())
        );
        assert!(resolve(Some("localhost")).is_err());
        assert!(resolve(Some("localhost:0")).is_err());
        assert!(resolve(Some(":27015")).is_err());
        assert!(resolve(Some("h:99999")).is_err());
    }
}
