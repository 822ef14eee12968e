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

mod sensor_support;

use std::io::{BufRead, BufReader};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use sensor_support::{BIN, Sensor, client, signal};
use serde_json::{Value, json};

const TOKEN: &str = "hub-console-token-0123456789";
const LURE: &str = "CSAM: uw digitale identiteit verloopt vandaag. Bevestig uw gegevens via \
                    https://login.csam-be.info/verify om blokkering te voorkomen";

fn conninfo() -> String {
    std::env::var("SMISHTRAP_TEST_POSTGRES")
        .unwrap_or_else(|_| "host=127.0.0.1 port=5432 user=postgres dbname=postgres".into())
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn wait_for(what: &str, secs: u64, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// `nats-server -js` on a random port, killed on drop.
struct Nats {
    child: Child,
    port: u16,
}

impl Nats {
    fn start(dir: &Path) -> Nats {
        let port = free_port();
        let child = Command::new("/usr/sbin/nats-server")
            .args(["-js", "-a", "127.0.0.1", "-p", &port.to_string(), "-sd"])
            .arg(dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("/usr/sbin/nats-server (Debian package nats-server)");
        wait_for("nats-server", 15, || TcpStream::connect(("127.0.0.1", port)).is_ok());
        Nats { child, port }
    }

    fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }
}

impl Drop for Nats {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `smishtrap hub`, stopped on drop; its log is kept.
struct Hub {
    child: Child,
    log: Arc<Mutex<String>>,
}

impl Hub {
    fn start(nats: &str, schema: &str, extra: &[&str]) -> Hub {
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

    fn runs(&self, job: &str) -> bool {
        self.log
            .lock()
            .unwrap()
            .lines()
            .any(|l| l.contains("this process runs the job") && l.contains(job))
    }

    fn kill9(mut self) {
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

struct Schema(String);

impl Drop for Schema {
    fn drop(&mut self) {
        if let Ok(mut client) = postgres::Client::connect(&conninfo(), postgres::NoTls) {
            let _ = client.batch_execute(&format!("DROP SCHEMA IF EXISTS {} CASCADE", self.0));
        }
    }
}

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
    let nanos =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().subsec_nanos();
    let schema = Schema(format!("hub_console_{}_{nanos}", std::process::id()));
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
