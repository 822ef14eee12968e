//! Shared helpers of the hub tests (cargo feature `hub`): a restartable `nats-server -js` on a
//! random port, `smishtrap hub` processes with their logs, a fresh PostgreSQL schema per test.
//!
//! PostgreSQL: `SMISHTRAP_TEST_POSTGRES` (libpq conninfo), default
//! `host=127.0.0.1 port=5432 user=postgres dbname=postgres`. NATS: `/usr/sbin/nats-server`
//! (Debian package `nats-server`). Include with `#[path = "support/hub.rs"] mod hub_support;`
//! next to `mod sensor_support;`.

#![allow(dead_code, unreachable_pub, clippy::unwrap_used, reason = "test helpers fail loudly")]

use std::io::{BufRead, BufReader};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::sensor_support::{BIN, signal};

pub const NATS_SERVER: &str = "/usr/sbin/nats-server";

pub fn conninfo() -> String {
    std::env::var("SMISHTRAP_TEST_POSTGRES")
        .unwrap_or_else(|_| "host=127.0.0.1 port=5432 user=postgres dbname=postgres".into())
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// Polls `done` every 50 ms; fails the test after `secs`.
pub fn wait_for(what: &str, secs: u64, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// `nats-server -js` on a fixed random port and store directory, restartable, killed on drop.
pub struct Nats {
    child: Option<Child>,
    pub port: u16,
    dir: PathBuf,
    /// Configuration file (from `smishtrap hub nats-config`) and pid file.
    config: Option<(PathBuf, PathBuf)>,
}

impl Nats {
    pub fn start(dir: &Path) -> Nats {
        let mut nats = Nats { child: None, port: free_port(), dir: dir.to_owned(), config: None };
        nats.restart();
        nats
    }

    /// With the configuration `smishtrap hub nats-config` printed for `port`.
    pub fn start_configured(port: u16, config: &Path, pid_file: &Path) -> Nats {
        let mut nats = Nats {
            child: None,
            port,
            dir: PathBuf::new(),
            config: Some((config.to_owned(), pid_file.to_owned())),
        };
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

    /// (Re)starts on the same port and store directory.
    pub fn restart(&mut self) {
        self.stop();
        assert!(
            Path::new(NATS_SERVER).is_file(),
            "{NATS_SERVER} not found: install the Debian package nats-server"
        );
        let mut command = Command::new(NATS_SERVER);
        match &self.config {
            Some((config, pid)) => command.arg("-c").arg(config).arg("-P").arg(pid),
            None => command
                .args(["-js", "-a", "127.0.0.1", "-p", &self.port.to_string(), "-sd"])
                .arg(&self.dir),
        };
        let child = command.stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap();
        self.child = Some(child);
        wait_for("nats-server", 15, || TcpStream::connect(("127.0.0.1", self.port)).is_ok());
    }
}

impl Drop for Nats {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The NATS set-up of the deployment guide: `hub nats-config` writes the configuration of a
/// server on `port` with its store in `DIR/js`, `hub enroll` issues each sensor's credentials.
/// Returns the configuration file, the hub's key and each sensor's credentials file.
pub fn enrolled_nats(dir: &Path, port: u16, sensors: &[&str]) -> (PathBuf, PathBuf, Vec<PathBuf>) {
    let registry = dir.join("nats");
    let printed = Command::new(BIN)
        .args(["hub", "nats-config", "--listen", &format!("127.0.0.1:{port}"), "--nats-dir"])
        .arg(&registry)
        .arg("--store-dir")
        .arg(dir.join("js"))
        .output()
        .unwrap();
    assert!(printed.status.success(), "{}", String::from_utf8_lossy(&printed.stderr));
    let config = registry.join("nats-server.conf");
    std::fs::write(&config, &printed.stdout).unwrap();
    let creds = sensors.iter().map(|name| enroll(&registry, name)).collect();
    (config, registry.join("hub.nk"), creds)
}

/// `smishtrap hub enroll NAME`: the credentials file it wrote.
pub fn enroll(registry: &Path, name: &str) -> PathBuf {
    let enrolled = Command::new(BIN)
        .args(["hub", "enroll", name, "--nats-dir"])
        .arg(registry)
        .output()
        .unwrap();
    assert!(enrolled.status.success(), "{}", String::from_utf8_lossy(&enrolled.stderr));
    PathBuf::from(String::from_utf8(enrolled.stdout).unwrap().trim())
}

/// `smishtrap hub`, stopped with SIGTERM on drop; its log is kept.
pub struct Hub {
    child: Child,
    pub log: Arc<Mutex<String>>,
}

impl Hub {
    /// Starts `hub --nats NATS --schema SCHEMA --batch 64 EXTRA…` and waits until it consumes.
    pub fn start(nats: &str, schema: &str, extra: &[&str]) -> Hub {
        let mut child = Command::new(BIN)
            .args(["hub", "--nats", nats, "--schema", schema, "--batch", "64"])
            .args(extra)
            .env("SMISHTRAP_POSTGRES", conninfo())
            .env("SMISHTRAP_LOG", "info")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stderr = child.stderr.take().unwrap();
        let log = Arc::new(Mutex::new(String::new()));
        let sink = log.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                sink.lock().unwrap().push_str(&(line + "\n"));
            }
        });
        let hub = Hub { child, log };
        wait_for("hub start", 60, || hub.log.lock().unwrap().contains("hub consuming stream"));
        hub
    }

    /// Whether the hub logged taking `job` (`analyse-captures`, `cluster`) over.
    pub fn runs(&self, job: &str) -> bool {
        self.log
            .lock()
            .unwrap()
            .lines()
            .any(|l| l.contains("this process runs the job") && l.contains(job))
    }

    pub fn kill9(mut self) {
        signal(&self.child, libc::SIGKILL);
        let _ = self.child.wait();
    }
}

impl Drop for Hub {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            signal(&self.child, libc::SIGTERM);
            let _ = self.child.wait();
        }
    }
}

/// A fresh PostgreSQL schema, dropped at the end.
pub struct Schema(pub String);

impl Schema {
    pub fn new(prefix: &str) -> Schema {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .subsec_nanos();
        Schema(format!("{prefix}_{}_{nanos}", std::process::id()))
    }

    pub fn client(&self) -> postgres::Client {
        let mut client = postgres::Client::connect(&conninfo(), postgres::NoTls).unwrap();
        client.batch_execute(&format!("SET search_path TO {}", self.0)).unwrap();
        client
    }

    /// (sensor, forward lag, forwarding) of every heartbeat row.
    pub fn heartbeats(&self) -> Vec<(String, Option<i64>, Option<bool>)> {
        let sql = "SELECT name, (status::json->'fleet'->>'forward_lag')::bigint, \
             (status::json->'fleet'->>'forwarding')::boolean FROM sensor_heartbeats ORDER BY name";
        self.client()
            .query(sql, &[])
            .map(|rows| rows.iter().map(|r| (r.get(0), r.get(1), r.get(2))).collect())
            .unwrap_or_default()
    }

    /// Event ids in PostgreSQL, in insertion order (empty before the hub created the table).
    pub fn ids(&self) -> Vec<String> {
        self.client()
            .query("SELECT id FROM events ORDER BY seq", &[])
            .map(|rows| rows.iter().map(|r| r.get(0)).collect())
            .unwrap_or_default()
    }
}

impl Drop for Schema {
    fn drop(&mut self) {
        if let Ok(mut client) = postgres::Client::connect(&conninfo(), postgres::NoTls) {
            let _ = client.batch_execute(&format!("DROP SCHEMA IF EXISTS {} CASCADE", self.0));
        }
    }
}
