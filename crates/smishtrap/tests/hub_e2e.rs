//! End to end (cargo feature `hub`), issue 15's fleet test: three sensors (the real binary,
//! each with its own data directory and enrolled credentials) → a test-started
//! `nats-server -js` → two `smishtrap hub` processes → a fresh PostgreSQL schema, with
//! attacker traffic on every sensor throughout. During the traffic the hub running the
//! analysis is killed with `kill -9`, NATS is down for 30 s (the sensors keep answering) and
//! one sensor is killed with `kill -9` and restarted. Afterwards every acknowledged send is in
//! PostgreSQL exactly once and analysed exactly once, and once a sensor dies without a
//! goodbye the hub's console lists the three sensors with that one silent.
//!
//! PostgreSQL and NATS as in `support/hub.rs`.
//! Run: `cargo test -p smishtrap --features hub --test hub_e2e`.

#![cfg(feature = "hub")]
#![allow(clippy::unwrap_used, reason = "tests fail loudly")]

#[path = "support/hub.rs"]
mod hub_support;
mod sensor_support;

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use hub_support::{Hub, Nats, Schema, enrolled_nats, free_port, ids, wait_for};
use sensor_support::{Sensor, events};
use serde_json::{Value, json};

const TOKEN: &str = "hub-fleet-e2e-token-0123456789";
const SENSORS: [&str; 3] = ["fleet-a", "fleet-b", "fleet-c"];
/// The console calls a sensor silent after this long without a heartbeat. A heartbeat seen
/// through NATS can be two periods (10 s) old: the sensor writes its status row every 5 s and
/// the forwarder publishes the latest row every 5 s.
const SILENT_AFTER_SECS: &str = "20";
const LURE: &str = "bpost: uw pakket wacht op verzending. Betaal 1,99 EUR via \
                    https://bpost-be.delivery-fee.info/pay binnen 24 uur";

/// One sensor process on a fixed loopback port (so a restart keeps its address).
struct Node {
    name: &'static str,
    data: PathBuf,
    port: u16,
    creds: PathBuf,
}

impl Node {
    fn start(&self, nats: &str) -> Sensor {
        let listen = format!("127.0.0.1:{}", self.port);
        let creds = self.creds.to_str().unwrap();
        let args = [
            "--listen",
            &listen,
            "--persona",
            "milesight-ur32l",
            "--forward",
            nats,
            "--credentials",
            creds,
        ];
        Sensor::start_named(&[], self.name, &self.data, &args, 1)
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}/cgi", self.port)
    }
}

/// One attacker per sensor, sending SMS through the persona's `/cgi` until stopped; each
/// send carries a unique reference in its text. A send counts as acknowledged when the
/// sensor answered it as the device does (HTTP 200, `"status": 0`), which it does only after
/// committing its event.
struct Traffic {
    stop: Arc<AtomicBool>,
    acked: Vec<Arc<AtomicUsize>>,
    attackers: Vec<JoinHandle<Vec<String>>>,
}

impl Traffic {
    fn start(nodes: &[Node]) -> Traffic {
        let stop = Arc::new(AtomicBool::new(false));
        let mut acked = Vec::new();
        let mut attackers = Vec::new();
        for (n, node) in nodes.iter().enumerate() {
            let count = Arc::new(AtomicUsize::new(0));
            acked.push(count.clone());
            let (stop, url, name) = (stop.clone(), node.url(), node.name);
            attackers.push(std::thread::spawn(move || attack(&url, name, n, &stop, &count)));
        }
        Traffic { stop, acked, attackers }
    }

    fn acked(&self, sensor: usize) -> usize {
        self.acked[sensor].load(Ordering::Relaxed)
    }

    /// Stops the attackers: the references of every acknowledged send.
    fn stop(self) -> Vec<String> {
        self.stop.store(true, Ordering::Relaxed);
        self.attackers.into_iter().flat_map(|a| a.join().unwrap()).collect()
    }
}

fn attack(url: &str, name: &str, n: usize, stop: &AtomicBool, acked: &AtomicUsize) -> Vec<String> {
    let client = reqwest::blocking::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    let mut refs = Vec::new();
    let mut i = 0u32;
    while !stop.load(Ordering::Relaxed) {
        i += 1;
        let reference = format!("{name}-{i}");
        let body = json!({"id": i, "execute": 1, "function": "send_sms", "values": [{
            "base": "api_sms",
            "phone_number": format!("+32470{n}{i:05}"),
            "content": format!("{LURE} ref {reference}"),
        }]});
        // Refused while the sensor restarts; a send without the device's answer is not acked.
        let answered = client
            .post(url)
            .json(&body)
            .send()
            .ok()
            .filter(|r| r.status() == 200)
            .and_then(|r| r.json::<Value>().ok());
        if answered.is_some_and(|v| v["status"] == 0) {
            refs.push(reference);
            acked.fetch_add(1, Ordering::Relaxed);
        }
        // A steady attacker rate (about 10 sends/s per sensor), not a wait for a condition:
        // it keeps the debug-build analysis of the whole run within the test's time.
        std::thread::sleep(Duration::from_millis(100));
    }
    refs
}

/// Events per sensor in PostgreSQL.
fn per_sensor(schema: &Schema) -> BTreeMap<String, i64> {
    schema
        .client()
        .query("SELECT sensor, count(*) FROM events GROUP BY sensor", &[])
        .map(|rows| rows.iter().map(|r| (r.get(0), r.get(1))).collect())
        .unwrap_or_default()
}

/// The one number `sql` gives (-1 before the hub created the tables).
fn count(schema: &Schema, sql: &str) -> i64 {
    schema.client().query_one(sql, &[]).ok().and_then(|r| r.get::<_, Option<i64>>(0)).unwrap_or(-1)
}

fn stored(schema: &Schema) -> i64 {
    count(schema, "SELECT count(*) FROM events")
}

/// Every event id in the sensors' own stores (their spools).
fn local_ids(nodes: &[Node]) -> BTreeSet<String> {
    nodes
        .iter()
        .flat_map(|n| events(&n.data))
        .map(|e| e["id"].as_str().unwrap().to_owned())
        .collect()
}

/// `GET PATH` of the hub's console, as a script does it.
fn console_get(port: u16, path: &str) -> Option<reqwest::blocking::Response> {
    sensor_support::client()
        .get(format!("http://127.0.0.1:{port}{path}"))
        .bearer_auth(TOKEN)
        .send()
        .and_then(|r| r.error_for_status())
        .ok()
}

/// (sensor, state) of every heartbeat the console's API lists.
fn listed_states(console: u16) -> Vec<(String, String)> {
    let body: Value =
        console_get(console, "/api/v1/sensors").and_then(|r| r.json().ok()).unwrap_or_default();
    body["heartbeats"]
        .as_array()
        .map(|hs| {
            hs.iter()
                .map(|h| {
                    let field = |k: &str| h[k].as_str().unwrap_or_default().to_owned();
                    (field("sensor"), field("state"))
                })
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn three_sensors_two_hubs_kills_and_a_nats_outage_lose_and_double_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let nats_port = free_port();
    let (config, hub_key, creds) = enrolled_nats(tmp.path(), nats_port, &SENSORS);
    let mut nats = Nats::start_configured(nats_port, &config, &tmp.path().join("nats.pid"));
    let url = nats.url();
    let schema = Schema::new("hub_fleet");
    let key = hub_key.to_str().unwrap();

    // The first hub takes the analysis and the clustering; the second also serves the console.
    let first = Hub::start(&url, &schema.0, &["--credentials", key]);
    wait_for("the first hub running the analysis", 60, || {
        first.runs("analyse-captures") && first.runs("cluster")
    });
    let console = free_port();
    let listen = format!("127.0.0.1:{console}");
    let hub_data = tmp.path().join("hub");
    let second = Hub::start(
        &url,
        &schema.0,
        &[
            "--credentials",
            key,
            "--console",
            &listen,
            "--console-token",
            TOKEN,
            "--data",
            hub_data.to_str().unwrap(),
            "--silent-after",
            SILENT_AFTER_SECS,
        ],
    );

    let nodes: Vec<Node> = SENSORS
        .iter()
        .zip(&creds)
        .map(|(name, creds)| Node {
            name,
            data: tmp.path().join(name),
            port: free_port(),
            creds: creds.clone(),
        })
        .collect();
    let mut sensors: Vec<Option<Sensor>> = nodes.iter().map(|n| Some(n.start(&url))).collect();
    let traffic = Traffic::start(&nodes);

    // kill -9 of the hub that runs the analysis, mid-stream.
    wait_for("events of every sensor in PostgreSQL", 60, || {
        let got = per_sensor(&schema);
        SENSORS.iter().all(|s| got.get(*s).is_some_and(|n| *n >= 10))
    });
    first.kill9();
    let at_kill = stored(&schema);
    wait_for("the other hub storing on", 60, || stored(&schema) >= at_kill + 30);

    // NATS down for 30 s: every sensor keeps answering as the device.
    nats.stop();
    let before: Vec<usize> = (0..nodes.len()).map(|s| traffic.acked(s)).collect();
    std::thread::sleep(Duration::from_secs(30));
    for (s, node) in nodes.iter().enumerate() {
        let during = traffic.acked(s) - before[s];
        assert!(during >= 50, "{} acknowledged {during} sends while NATS was down", node.name);
    }
    nats.restart();
    let at_restart = stored(&schema);
    wait_for("forwarding resumed after the outage", 90, || stored(&schema) > at_restart);

    // kill -9 of a sensor under traffic, restarted on its data directory and address.
    sensors[1].take().unwrap().kill9();
    let acked = traffic.acked(1);
    sensors[1] = Some(nodes[1].start(&url));
    wait_for("the restarted sensor answering", 60, || traffic.acked(1) >= acked + 20);
    let references = traffic.stop();

    // Every event the sensors committed is in PostgreSQL exactly once, nothing else is.
    let local = local_ids(&nodes);
    let want = i64::try_from(local.len()).unwrap();
    wait_for("every sensor's events in PostgreSQL", 120, || stored(&schema) >= want);
    let ids = ids(&schema);
    let distinct: BTreeSet<String> = ids.iter().cloned().collect();
    assert_eq!(ids.len(), distinct.len(), "an event id stored twice");
    assert_eq!(distinct, local, "PostgreSQL differs from the sensors' stores");

    // Each send event analysed exactly once: one message with its analysis.
    wait_for("the analysis of every capture", 120, || {
        count(&schema, "SELECT value FROM cursors WHERE name = 'analysed-events'")
            >= count(&schema, "SELECT max(seq) FROM events")
    });
    let sends = count(&schema, "SELECT count(*) FROM events WHERE kind = 'sms.send'");
    let not_once = count(
        &schema,
        "SELECT count(*) FROM (SELECT e.id FROM events e \
         LEFT JOIN messages m ON m.event_id = e.id COLLATE \"C\" \
         WHERE e.kind = 'sms.send' GROUP BY e.id HAVING count(m.seq) <> 1) t",
    );
    let orphans = count(
        &schema,
        "SELECT count(*) FROM messages m WHERE NOT EXISTS \
         (SELECT 1 FROM events e WHERE e.id COLLATE \"C\" = m.event_id)",
    );
    let unanalysed = count(
        &schema,
        "SELECT count(*) FROM messages WHERE verdict = '' OR analysis NOT LIKE '{%'",
    );
    let messages = count(&schema, "SELECT count(*) FROM messages");
    assert!(sends >= references.len() as i64, "{sends} sends stored, {} acked", references.len());
    assert_eq!(
        (not_once, orphans, unanalysed, messages),
        (0, 0, 0, sends),
        "(send events without exactly one message, messages without an event, \
         messages without analysis, messages) of {sends} send events"
    );

    // ...and every acknowledged send is one of them.
    let mut by_reference: BTreeMap<String, usize> = BTreeMap::new();
    for row in schema.client().query("SELECT text FROM messages", &[]).unwrap() {
        let text: String = row.get(0);
        if let Some((_, reference)) = text.rsplit_once(" ref ") {
            *by_reference.entry(reference.to_owned()).or_default() += 1;
        }
    }
    let missing: Vec<&String> =
        references.iter().filter(|r| by_reference.get(*r) != Some(&1)).take(5).collect();
    assert!(missing.is_empty(), "acknowledged sends not analysed exactly once: {missing:?}");
    assert!(second.runs("analyse-captures"), "the surviving hub did not take the analysis over");

    // A sensor that dies without a goodbye is listed silent; the others run.
    sensors[2].take().unwrap().kill9();
    let expect: Vec<(String, String)> = SENSORS
        .iter()
        .map(|s| (s.to_string(), if *s == "fleet-c" { "silent" } else { "running" }.to_owned()))
        .collect();
    let deadline = Instant::now() + Duration::from_secs(90);
    let mut listed = listed_states(console);
    while listed != expect && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
        listed = listed_states(console);
    }
    assert_eq!(listed, expect, "the console's (sensor, state) list");
    let page = console_get(console, "/sensors").and_then(|r| r.text().ok()).unwrap_or_default();
    for name in SENSORS {
        assert!(page.contains(name), "the Sensors page does not list {name}");
    }
    assert!(page.contains("state-silent"), "the Sensors page flags no sensor silent");
    let overview = console_get(console, "/").and_then(|r| r.text().ok()).unwrap_or_default();
    assert!(overview.contains("id=\"silent-sensors\""), "the Overview flags no silent sensor");
    for sensor in sensors.into_iter().flatten() {
        sensor.stop();
    }
    drop(second);
    drop(nats);
}
