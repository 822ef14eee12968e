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

#[path = "support/hub.rs"]
mod hub_support;
mod sensor_support;

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use hub_support::{Hub, Nats, Schema, enroll, free_port, heartbeats, ids, wait_for};
use sensor_support::{BIN, Sensor, client, events};

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
    wait_for("every event in PostgreSQL", 90, || ids(schema).len() >= want.len());
    std::thread::sleep(Duration::from_millis(500));
    let mut got = ids(schema);
    let mut want = want;
    got.sort();
    want.sort();
    assert_eq!(got, want, "PostgreSQL differs from the sensor's store");
}

#[test]
fn sensor_forwards_through_nats_outage_and_kill_9_into_postgres_exactly_once() {
    let tmp = tempfile::tempdir().unwrap();
    let mut nats = Nats::start(&tmp.path().join("js"));
    let schema = Schema::new("hub_e2e");
    let _hub = Hub::start(&nats.url(), &schema.0, &[]);
    let data = tmp.path().join("sensor");
    let url = nats.url();
    let args = ["--listen", "127.0.0.1:0", "--persona", "milesight-ur32l", "--forward", &url];
    let sensor = Sensor::start_with(&data, &args, 1);

    attack(&sensor, 20);
    assert_exactly_once(&schema, &data);

    // NATS down: the sensor keeps answering and spooling; everything arrives afterwards.
    nats.stop();
    let before = ids(&schema).len();
    attack(&sensor, 20);
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(ids(&schema).len(), before, "events reached PostgreSQL without NATS");
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
    let creds = enroll(&registry, "test-sensor");
    let reloaded = Command::new("/usr/sbin/nats-server")
        .arg(format!("--signal=reload={}", pid_file.display()))
        .status()
        .unwrap();
    assert!(reloaded.success());
    std::thread::sleep(Duration::from_millis(500));

    let schema = Schema::new("hub_e2e");
    let hub_key = registry.join("hub.nk");
    let _hub = Hub::start(&nats.url(), &schema.0, &["--credentials", hub_key.to_str().unwrap()]);
    let data = tmp.path().join("s1");
    let url = nats.url();
    let args =
        ["--listen", "127.0.0.1:0", "--forward", &url, "--credentials", creds.to_str().unwrap()];
    let sensor = Sensor::start_with(&data, &args, 1);
    attack(&sensor, 10);
    assert_exactly_once(&schema, &data);
    wait_for("the heartbeat in PostgreSQL", 60, || {
        heartbeats(&schema)
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
    let before = ids(&schema).len();
    attack(&sensor, 6);
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(ids(&schema).len(), before, "a revoked sensor's events reached PostgreSQL");
    assert_eq!(local_ids(&data).len(), 16);
    sensor.stop();
}
