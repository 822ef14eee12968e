//! A real `nats-server -js` on a loopback port, stoppable and restartable.

use std::ffi::OsString;
use std::io::Read;
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::free_port;

/// The server binary: `SMISHTRAP_NATS_SERVER` or the Debian package's path.
pub fn nats_bin() -> PathBuf {
    let bin = std::env::var_os("SMISHTRAP_NATS_SERVER")
        .map_or_else(|| PathBuf::from("/usr/sbin/nats-server"), PathBuf::from);
    assert!(
        bin.is_file(),
        "{} not found: install the Debian package nats-server (or set SMISHTRAP_NATS_SERVER)",
        bin.display()
    );
    bin
}

/// True once a server on `port` accepts a connection and greets it with its `INFO` line: an
/// open port alone can still reset the first client while the server starts.
fn greets(port: u16) -> bool {
    let Ok(mut stream) = TcpStream::connect(("127.0.0.1", port)) else { return false };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
    let mut head = [0_u8; 4];
    stream.read_exact(&mut head).is_ok() && &head == b"INFO"
}

/// A JetStream server on a fixed port, killed on drop; restarts keep its port and store.
#[derive(Debug)]
pub struct Nats {
    child: Option<Child>,
    pub port: u16,
    /// The server's arguments, the same at every (re)start.
    args: Vec<OsString>,
}

impl Nats {
    /// On a random port with its store in `dir`.
    pub fn start(dir: &Path) -> Nats {
        Nats::start_with_config(dir, None)
    }

    /// With a configuration file (`-c`) when given, which then names JetStream's store (a
    /// flag would clash with it); port and address from the flags.
    pub fn start_with_config(dir: &Path, config: Option<&Path>) -> Nats {
        let port = free_port();
        let mut args: Vec<OsString> = match config {
            Some(config) => vec!["-c".into(), config.into()],
            None => vec!["-js".into(), "-sd".into(), dir.into()],
        };
        args.extend(["-a".into(), "127.0.0.1".into(), "-p".into(), port.to_string().into()]);
        Nats::spawn(port, args)
    }

    /// With the configuration `smishtrap hub nats-config` printed for `port` (it names the
    /// address, port and store) and a pid file.
    pub fn start_configured(port: u16, config: &Path, pid_file: &Path) -> Nats {
        Nats::spawn(port, vec!["-c".into(), config.into(), "-P".into(), pid_file.into()])
    }

    fn spawn(port: u16, args: Vec<OsString>) -> Nats {
        let mut nats = Nats { child: None, port, args };
        nats.restart();
        nats
    }

    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    /// SIGKILL: no chance to say goodbye to its clients.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// (Re)starts on the same port and store, and waits until it accepts connections.
    pub fn restart(&mut self) {
        self.stop();
        let child = Command::new(nats_bin())
            .args(&self.args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(15);
        while !greets(self.port) {
            assert!(Instant::now() < deadline, "nats-server did not start on {}", self.port);
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Makes the running server re-read its configuration (what `systemctl reload` does).
    pub fn reload(&self) {
        let pid = self.child.as_ref().unwrap().id();
        let status = Command::new(nats_bin())
            .arg(format!("--signal=reload={pid}"))
            .stdout(Stdio::null())
            .status()
            .unwrap();
        assert!(status.success(), "nats-server --signal reload failed");
        // The reload is asynchronous; give the server a moment to apply it.
        std::thread::sleep(Duration::from_millis(500));
    }
}

impl Drop for Nats {
    fn drop(&mut self) {
        self.stop();
    }
}
