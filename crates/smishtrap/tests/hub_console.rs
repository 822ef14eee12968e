//! End to end (cargo feature `hub`): SMS a sensor captures travel through a real
//! `nats-server -js` into PostgreSQL, are analysed and clustered by two `smishtrap hub`
//! processes (one at a time: `kill -9` of the one running the analysis hands it to the
//! other) and are listed by a third hub's console API, read from PostgreSQL.
//!
//! PostgreSQL: `SMISHTRAP_TEST_POSTGRES` (libpq conninfo), default
//! `host=127.0.0.1 port=5432 user=postgres dbname=postgres`; the test uses a fresh schema,
//! dropped afterwards. NATS: `/usr/sbin/nats-server` (Debian package `nats-server`).
//! Run: `cargo test -p smishtrap --features hub --test hub_console`.

#![cfg(feature = "hub")]
#![allow(clippy::unwrap_used, reason = "tests fail loudly")]

#[path = "support/hub.rs"]
mod hub_support;
mod sensor_support;

use hub_support::{Hub, Nats, Schema, free_port, wait_for};
use sensor_support::{Sensor, client};
use serde_json::{Value, json};

const TOKEN: &str = "hub-console-token-0123456789";
const LURE: &str = "CSAM: uw digitale identiteit verloopt vandaag. Bevestig uw gegevens via \
                    https://login.csam-be.info/verify om blokkering te voorkomen";

fn send(sensor: &Sensor, to: &str, text: &str) {
    let body = json!({"id": "1", "execute": 1, "function": "send_sms", "values": [{
        "base": "api_sms", "phone_number": to, "content": text,
    }]});
    let response = client().post(sensor.url("/cgi")).json(&body).send().unwrap();
    assert!(response.status().is_success(), "{}", response.status());
}

/// `GET /api/v1/PATH` of the console, as a script calls it.
fn api(console: u16, path: &str) -> Value {
    client()
        .get(format!("http://127.0.0.1:{console}/api/v1/{path}"))
        .bearer_auth(TOKEN)
        .send()
        .and_then(|r| r.error_for_status())
        .and_then(|r| r.json())
        .unwrap_or(Value::Null)
}

/// The API's messages once `n` are listed, each lure with a campaign.
fn listed(console: u16, n: usize) -> Vec<Value> {
    let mut messages = Vec::new();
    wait_for(&format!("{n} analysed and clustered messages in the API"), 90, || {
        messages =
            api(console, "messages?limit=100")["messages"].as_array().cloned().unwrap_or_default();
        messages.len() >= n
            && messages
                .iter()
                .filter(|m| m["text"] == LURE)
                .all(|m| !m["analysis"]["campaign"].is_null())
    });
    messages
}

#[test]
fn hubs_analyse_captures_in_postgres_and_serve_them_on_the_console() {
    let tmp = tempfile::tempdir().unwrap();
    let nats = Nats::start(&tmp.path().join("js"));
    let schema = Schema::new("hub_console");
    let console = free_port();
    let listen = format!("127.0.0.1:{console}");
    let hub_data = tmp.path().join("hub");
    let hub_data = hub_data.to_str().unwrap();
    let _serving = Hub::start(
        &nats.url(),
        &schema.0,
        &["--no-analyst", "--console", &listen, "--console-token", TOKEN, "--data", hub_data],
    );
    let first = Hub::start(&nats.url(), &schema.0, &[]);
    let second = Hub::start(&nats.url(), &schema.0, &[]);
    let data = tmp.path().join("sensor");
    let url = nats.url();
    let args = ["--listen", "127.0.0.1:0", "--persona", "milesight-ur32l", "--forward", &url];
    let sensor = Sensor::start_with(&data, &args, 1);

    for i in 0..4 {
        send(&sensor, &format!("+3247012345{i}"), LURE);
    }
    send(&sensor, "+32470999999", "see you at dinner, love");
    let messages = listed(console, 5);
    assert_eq!(messages.len(), 5, "each capture analysed once: {messages:?}");
    let lures = messages.iter().filter(|m| m["text"] == LURE).count();
    assert_eq!(lures, 4);
    let campaigns = api(console, "campaigns")["campaigns"].as_array().cloned().unwrap_or_default();
    assert!(!campaigns.is_empty(), "no campaign listed");
    let found = api(console, "messages?text=csam-be.INFO");
    assert_eq!(found["messages"].as_array().map(Vec::len), Some(4), "{found}");

    // kill -9 the hub that runs the clustering: the other takes over
    wait_for("one hub running the clustering", 30, || {
        first.runs("cluster") || second.runs("cluster")
    });
    let (dead, alive) = if first.runs("cluster") { (first, second) } else { (second, first) };
    dead.kill9();
    for i in 4..7 {
        send(&sensor, &format!("+3247012345{i}"), LURE);
    }
    let messages = listed(console, 8);
    assert_eq!(messages.len(), 8, "{messages:?}");
    assert!(alive.runs("cluster"), "the surviving hub did not take the clustering over");
    assert!(alive.runs("analyse-captures"));
    sensor.stop();
}
