//! Shared helpers of the hub tests (cargo feature `hub`): `smishtrap hub` processes with their
//! logs and the NATS credentials the deployment guide sets up; the `nats-server -js` launcher
//! and the fresh PostgreSQL schema per test come from `smishtrap-testkit` (re-exported here).
//! Include with `#[path = "support/hub.rs"] mod hub_support;` next to `mod sensor_support;`.

#![allow(dead_code, unreachable_pub, clippy::unwrap_used, reason = "test helpers fail loudly")]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};

pub use smishtrap_testkit::{Nats, Schema, conninfo, free_port, wait_for};

use crate::sensor_support::{BIN, signal};

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

/// (sensor, forward lag, forwarding) of every heartbeat row of `schema`.
pub fn heartbeats(schema: &Schema) -> Vec<(String, Option<i64>, Option<bool>)> {
    let sql = "SELECT name, (status::json->'fleet'->>'forward_lag')::bigint, \
         (status::json->'fleet'->>'forwarding')::boolean FROM sensor_heartbeats ORDER BY name";
    schema
        .client()
        .query(sql, &[])
        .map(|rows| rows.iter().map(|r| (r.get(0), r.get(1), r.get(2))).collect())
        .unwrap_or_default()
}

/// Event ids in `schema`, in insertion order (empty before the hub created the table).
pub fn ids(schema: &Schema) -> Vec<String> {
    schema
        .client()
        .query("SELECT id FROM events ORDER BY seq", &[])
        .map(|rows| rows.iter().map(|r| r.get(0)).collect())
        .unwrap_or_default()
}
