//! End to end (cargo feature `hub`): a real sensor with `--forward`, a real `nats-server -js`,
//! a real `smishtrap hub` and PostgreSQL. Attacker requests reach PostgreSQL exactly once
//! through a NATS outage (the sensor keeps answering) and a `kill -9` of the sensor.
//!
//! PostgreSQL: `SMISHTRAP_TEST_POSTGRES` (libpq conninfo), default
//! `host=127.0.0.1 port=5432 user=postgres dbname=postgres`; the test uses a fresh schema,
//! dropped afterwards. NATS: `/usr/sbin/nats-server` (Debian package `nats-server`).
//! Run: `cargo test -p smishtrap --features hub --test hub`.

#![cfg(feature = "hub")]
#![allow(clippy::unwrap_used, reason = "tests fail loudly")]

mod sensor_support;

use std::io::{BufRead, BufReader};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use sensor_support::{BIN, Sensor, client, events, signal};

fn conninfo() -> String {
    std::env::var("SMISHTRAP_TEST_POSTGRES")
        .unwrap_or_else(|_| "host=127.0.0.1 port=5432 user=postgres dbname=postgres".into())
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// `nats-server -js` on a fixed random port and store directory, restartable.
struct Nats {
    child: Option<Child>,
    port: u16,
    dir: PathBuf,
    /// Configuration file (from `smishtrap hub nats-config`) and pid file.
    config: Option<(PathBuf, PathBuf)>,
}

impl Nats {
    fn start(dir: &Path) -> Nats {
        let mut nats = Nats { child: None, port: free_port(), dir: dir.to_owned(), config: None };
        nats.restart();
        nats
    }

    /// With the configuration `smishtrap hub nats-config` printed for `port`.
    fn start_configured(port: u16, config: &Path, pid_file: &Path) -> Nats {
        let mut nats = Nats {
            child: None,
            port,
            dir: PathBuf::new(),
            config: Some((config.to_owned(), pid_file.to_owned())),
        };
        nats.restart();
        nats
    }

    fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    fn restart(&mut self) {
        self.stop();
        let bin = Path::new("/usr/sbin/nats-server");
        assert!(
            bin.is_file(),
            "{} not found: install the Debian package nats-server",
            bin.display()
        );
        let mut command = Command::new(bin);
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

/// `smishtrap hub`, stopped on drop.
struct Hub {
    child: Child,
    log: Arc<Mutex<String>>,
}

impl Hub {
    fn start(nats: &str, schema: &str) -> Hub {
        Hub::start_with(nats, schema, &[])
    }

    fn start_with(nats: &str, schema: &str, extra: &[&str]) -> Hub {
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
}

impl Drop for Hub {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            signal(&self.child, libc::SIGTERM);
            let _ = self.child.wait();
        }
    }
}

/// A fresh schema, dropped at the end.
struct Schema(String);

impl Schema {
    fn new() -> Schema {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .subsec_nanos();
        Schema(format!("hub_e2e_{}_{nanos}", std::process::id()))
    }

    /// (sensor, forward lag, forwarding) of every heartbeat row.
    fn heartbeats(&self) -> Vec<(String, Option<i64>, Option<bool>)> {
        let mut client = postgres::Client::connect(&conninfo(), postgres::NoTls).unwrap();
        let sql = format!(
            "SELECT name, (status::json->'fleet'->>'forward_lag')::bigint, \
             (status::json->'fleet'->>'forwarding')::boolean FROM {}.sensor_heartbeats ORDER BY name",
            self.0
        );
        client
            .query(&sql, &[])
            .map(|rows| rows.iter().map(|r| (r.get(0), r.get(1), r.get(2))).collect())
            .unwrap_or_default()
    }

    /// Event ids in PostgreSQL, in insertion order (empty before the hub created the table).
    fn ids(&self) -> Vec<String> {
        let mut client = postgres::Client::connect(&conninfo(), postgres::NoTls).unwrap();
        client
            .query(&format!("SELECT id FROM {}.events ORDER BY seq", self.0), &[])
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

fn wait_for(what: &str, secs: u64, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Attacker traffic: page loads and login attempts; every request must be answered.
fn attack(sensor: &Sensor, n: usize) {
    let c = client();
    for i in 0..n {
        let response = if i % 2 == 0 {
            c.get(sensor.url(&format!("/probe-{i}"))).send().unwrap()
        } else {
            c.post(sensor.url("/cgi"))
                .body(format!(
                    r#"{{"id":"{i}","core":"user","function":"login","values":[{{"username":"admin","password":"p{i}"}}]}}"#
                ))
                .send()
                .unwrap()
        };
        assert!(response.status().as_u16() < 500, "request {i}: {}", response.status());
    }
}

/// Every locally stored event id, in commit order.
fn local_ids(data: &Path) -> Vec<String> {
    events(data).iter().map(|e| e["id"].as_str().unwrap().to_owned()).collect()
}

/// PostgreSQL must hold exactly the sensor's events, each once.
fn assert_exactly_once(schema: &Schema, data: &Path) {
    let want = local_ids(data);
    wait_for("every event in PostgreSQL", 90, || schema.ids().len() >= want.len());
    std::thread::sleep(Duration::from_millis(500));
    let mut got = schema.ids();
    let mut want = want;
    got.sort();
    want.sort();
    assert_eq!(got, want, "PostgreSQL differs from the sensor's store");
}

#[test]
fn sensor_forwards_through_nats_outage_and_kill_9_into_postgres_exactly_once() {
    let tmp = tempfile::tempdir().unwrap();
    let mut nats = Nats::start(&tmp.path().join("js"));
    let schema = Schema::new();
    let _hub = Hub::start(&nats.url(), &schema.0);
    let data = tmp.path().join("sensor");
    let url = nats.url();
    let args = ["--listen", "127.0.0.1:0", "--persona", "milesight-ur32l", "--forward", &url];
    let sensor = Sensor::start_with(&data, &args, 1);

    attack(&sensor, 20);
    assert_exactly_once(&schema, &data);

    // NATS down: the sensor keeps answering and spooling; everything arrives afterwards.
    nats.stop();
    let before = schema.ids().len();
    attack(&sensor, 20);
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(schema.ids().len(), before, "events reached PostgreSQL without NATS");
    nats.restart();
    assert_exactly_once(&schema, &data);

    // kill -9 mid-traffic, restart on the same data directory: nothing lost or doubled.
    attack(&sensor, 10);
    sensor.kill9();
    let sensor = Sensor::start_with(&data, &args, 1);
    attack(&sensor, 10);
    assert_exactly_once(&schema, &data);
    assert_eq!(local_ids(&data).len(), 60);
    sensor.stop();
}

/// The deployment guide's path: `hub nats-config` and `hub enroll` make the NATS
/// configuration, the sensor forwards with its own credentials, its heartbeat reaches
/// PostgreSQL, and `hub revoke` with the pid file cuts it off without restarting NATS.
#[test]
fn enrolled_sensor_forwards_and_reports_until_revoked() {
    let tmp = tempfile::tempdir().unwrap();
    let registry = tmp.path().join("nats");
    let port = free_port();
    let printed = Command::new(BIN)
        .args(["hub", "nats-config", "--listen", &format!("127.0.0.1:{port}"), "--nats-dir"])
        .arg(&registry)
        .arg("--store-dir")
        .arg(tmp.path().join("js"))
        .output()
        .unwrap();
    assert!(printed.status.success(), "{}", String::from_utf8_lossy(&printed.stderr));
    let config = registry.join("nats-server.conf");
    std::fs::write(&config, &printed.stdout).unwrap();
    let pid_file = tmp.path().join("nats.pid");
    let nats = Nats::start_configured(port, &config, &pid_file);
    let enrolled = Command::new(BIN)
        .args(["hub", "enroll", "test-sensor", "--nats-dir"])
        .arg(&registry)
        .output()
        .unwrap();
    assert!(enrolled.status.success(), "{}", String::from_utf8_lossy(&enrolled.stderr));
    let creds = PathBuf::from(String::from_utf8(enrolled.stdout).unwrap().trim());
    let reloaded = Command::new("/usr/sbin/nats-server")
        .arg(format!("--signal=reload={}", pid_file.display()))
        .status()
        .unwrap();
    assert!(reloaded.success());
    std::thread::sleep(Duration::from_millis(500));

    let schema = Schema::new();
    let hub_key = registry.join("hub.nk");
    let _hub =
        Hub::start_with(&nats.url(), &schema.0, &["--credentials", hub_key.to_str().unwrap()]);
    let data = tmp.path().join("s1");
    let url = nats.url();
    let args =
        ["--listen", "127.0.0.1:0", "--forward", &url, "--credentials", creds.to_str().unwrap()];
    let sensor = Sensor::start_with(&data, &args, 1);
    attack(&sensor, 10);
    assert_exactly_once(&schema, &data);
    wait_for("the heartbeat in PostgreSQL", 60, || {
        schema
            .heartbeats()
            .iter()
            .any(|(name, lag, fwd)| name == "test-sensor" && lag.is_some() && *fwd == Some(true))
    });

    // Revoked: NATS refuses the sensor after the reload; it keeps answering and spooling.
    let revoked = Command::new(BIN)
        .args(["hub", "revoke", "test-sensor", "--nats-dir"])
        .arg(&registry)
        .arg("--reload-pid-file")
        .arg(&pid_file)
        .output()
        .unwrap();
    assert!(revoked.status.success(), "{}", String::from_utf8_lossy(&revoked.stderr));
    std::thread::sleep(Duration::from_secs(1));
    let before = schema.ids().len();
    attack(&sensor, 6);
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(schema.ids().len(), before, "a revoked sensor's events reached PostgreSQL");
    assert_eq!(local_ids(&data).len(), 16);
    sensor.stop();
}
