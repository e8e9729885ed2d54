//! The systemd notify protocol (sd_notify): READY, WATCHDOG, STATUS and STOPPING datagrams.
//!
//! systemd passes the path of a Unix datagram socket in `NOTIFY_SOCKET`; a
//! leading `@` names a socket in the Linux abstract namespace. Each message is
//! one datagram of `KEY=value` lines. Outside systemd the variable is unset
//! and every notification is skipped.

use std::os::unix::net::{SocketAddr, UnixDatagram};
use std::time::Duration;

/// A connection to the service manager's notification socket.
#[derive(Debug)]
pub struct Notifier {
    socket: UnixDatagram,
    address: SocketAddr,
}

impl Notifier {
    /// Opens a socket for `NOTIFY_SOCKET`, or returns `None` when the variable
    /// is unset or empty.
    pub fn from_env() -> std::io::Result<Option<Notifier>> {
        match std::env::var_os("NOTIFY_SOCKET") {
            Some(path) if !path.is_empty() => Notifier::connect(&path.to_string_lossy()).map(Some),
            _ => Ok(None),
        }
    }

    /// Opens an unbound datagram socket that sends to `path`, a file system
    /// path or `@name` for an abstract socket.
    pub fn connect(path: &str) -> std::io::Result<Notifier> {
        let address = socket_address(path)?;
        let socket = UnixDatagram::unbound()?;
        // A full receive queue must not stall the reconcile loop.
        socket.set_nonblocking(true)?;
        Ok(Notifier { socket, address })
    }

    /// Sends one message, such as `READY=1\nSTATUS=…`. A failure is logged at
    /// warn and otherwise ignored, because the daemon works without systemd.
    pub fn notify(&self, message: &str) {
        if let Err(error) = self.socket.send_to_addr(message.as_bytes(), &self.address) {
            tracing::warn!(%error, message, "failed to notify systemd");
        }
    }
}

#[cfg(target_os = "linux")]
fn socket_address(path: &str) -> std::io::Result<SocketAddr> {
    use std::os::linux::net::SocketAddrExt;
    match path.strip_prefix('@') {
        Some(name) => SocketAddr::from_abstract_name(name.as_bytes()),
        None => SocketAddr::from_pathname(path),
    }
}

#[cfg(not(target_os = "linux"))]
fn socket_address(path: &str) -> std::io::Result<SocketAddr> {
    SocketAddr::from_pathname(path)
}

/// Returns how often to send `WATCHDOG=1`: half of `WATCHDOG_USEC`, as
/// sd_watchdog_enabled(3) advises. Returns `None` when the watchdog is off,
/// or when `WATCHDOG_PID` names another process.
pub fn watchdog_interval() -> Option<Duration> {
    let microseconds: u64 = std::env::var("WATCHDOG_USEC").ok()?.parse().ok()?;
    if microseconds == 0 {
        return None;
    }
    if let Ok(pid) = std::env::var("WATCHDOG_PID")
        && pid.parse::<u32>().ok() != Some(std::process::id())
    {
        return None;
    }
    Some(Duration::from_micros(microseconds) / 2)
}

/// Escapes a one-line status so that it stays one `STATUS=` line.
pub fn status_line(summary: &str) -> String {
    format!("STATUS={}", summary.replace('\n', " "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notify_reaches_a_path_socket() {
        let folder = std::env::temp_dir().join(format!("stackd-notify-{}", std::process::id()));
        std::fs::create_dir_all(&folder).unwrap();
        let path = folder.join("notify.sock");
        let _ = std::fs::remove_file(&path);
        let receiver = UnixDatagram::bind(&path).unwrap();
        receiver
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();

        let notifier = Notifier::connect(path.to_str().unwrap()).unwrap();
        notifier.notify("READY=1\nSTATUS=3 Ready");

        let mut buffer = [0; 256];
        let length = receiver.recv(&mut buffer).unwrap();
        assert_eq!(&buffer[..length], b"READY=1\nSTATUS=3 Ready");
        std::fs::remove_dir_all(&folder).unwrap();
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn notify_reaches_an_abstract_socket() {
        use std::os::linux::net::SocketAddrExt;
        let name = format!("stackd-notify-test-{}", std::process::id());
        let address = SocketAddr::from_abstract_name(name.as_bytes()).unwrap();
        let receiver = UnixDatagram::bind_addr(&address).unwrap();
        receiver
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();

        let notifier = Notifier::connect(&format!("@{name}")).unwrap();
        notifier.notify("WATCHDOG=1");

        let mut buffer = [0; 64];
        let length = receiver.recv(&mut buffer).unwrap();
        assert_eq!(&buffer[..length], b"WATCHDOG=1");
    }

    #[test]
    fn status_line_is_one_line() {
        assert_eq!(status_line("a\nb"), "STATUS=a b");
    }
}
