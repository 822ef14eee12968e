//! Test helpers: a real `nats-server -js` on a random loopback port, and events.

#![allow(
    dead_code,
    unreachable_pub,
    clippy::unwrap_used,
    reason = "test helpers; each test binary uses a part"
)]

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use smishtrap_event::Event;

/// The server binary: `SMISHTRAP_NATS_SERVER` or the Debian package's path (`.ci/run`
/// installs the package; a missing binary fails the test, it is not skipped).
fn nats_bin() -> PathBuf {
    let bin = std::env::var_os("SMISHTRAP_NATS_SERVER")
        .map_or_else(|| PathBuf::from("/usr/sbin/nats-server"), PathBuf::from);
    assert!(
        bin.is_file(),
        "{} not found: install the Debian package nats-server (or set SMISHTRAP_NATS_SERVER)",
        bin.display()
    );
    bin
}

/// A JetStream server with its store in `dir`, stoppable and restartable on the same port.
#[derive(Debug)]
pub struct Nats {
    child: Option<Child>,
    pub port: u16,
    dir: PathBuf,
    config: Option<PathBuf>,
}

impl Nats {
    pub fn start(dir: &Path) -> Nats {
        Nats::start_with_config(dir, None)
    }

    /// With a configuration file (`-c`); port, address and store directory from the flags.
    pub fn start_with_config(dir: &Path, config: Option<&Path>) -> Nats {
        let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let mut nats =
            Nats { child: None, port, dir: dir.to_owned(), config: config.map(Path::to_owned) };
        nats.restart();
        nats
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

    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    /// Kills the server (SIGKILL) and waits for it.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts the server again on the same port and store directory.
    pub fn restart(&mut self) {
        self.stop();
        let mut command = Command::new(nats_bin());
        // A configuration file names JetStream's store itself (a flag would clash with it).
        match &self.config {
            Some(config) => command.arg("-c").arg(config),
            None => command.arg("-js").arg("-sd").arg(&self.dir),
        };
        let child = command
            .args(["-a", "127.0.0.1", "-p", &self.port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(15);
        while TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(Instant::now() < deadline, "nats-server did not start on {}", self.port);
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Nats {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Event `n` of `sensor`: the fixture with its own id, session and time.
pub fn event(sensor: &str, n: u32) -> Event {
    let mut value: serde_json::Value =
        serde_json::from_str(include_str!("../data/event.json")).unwrap();
    value["sensor"] = sensor.into();
    value["session"] = format!("{sensor}s{n}").into();
    value["id"] = format!("{sensor}s{n}-0").into();
    value["ts"] = format!("2026-11-24T17:{:02}:{:02}Z", (n / 60) % 60, n % 60).into();
    serde_json::from_value(value).unwrap()
}

/// Polls `done` every 20 ms until it holds or `secs` pass.
pub async fn wait_until(secs: u64, what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Every message of the stream, in stream order: (subject, event id).
pub async fn stream_ids(js: &async_nats::jetstream::Context) -> Vec<(String, String)> {
    let mut stream = js.get_stream(smishtrap_forward::STREAM).await.unwrap();
    let last = stream.info().await.unwrap().state.last_sequence;
    let mut out = Vec::new();
    for seq in 1..=last {
        let Ok(message) = stream.get_raw_message(seq).await else { continue };
        let event: Event = serde_json::from_slice(&message.payload).unwrap();
        out.push((message.subject.to_string(), event.id));
    }
    out
}
