//! A real console on an ephemeral loopback port over a temporary store, and event builders.

#![allow(dead_code, unreachable_pub, reason = "each test binary uses part of the harness")]

use std::net::{IpAddr, SocketAddr};
use std::path::Path;
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use smishtrap_bus::Sink;
use smishtrap_event::{
    AuthRecord, BodyEncoding, Event, EventKind, HttpRecord, SmsAction, SmsDialect, body_digest,
};
use smishtrap_store::{SqliteStore, db_path};
use smishtrap_web::{Console, ConsoleConfig, ConsoleLimits, Token};

pub const TOKEN: &str = "test-token-0123456789abcdef";

/// Hostile strings every page must show literally and never execute.
pub const PAYLOADS: [&str; 4] = [
    "<script>alert(1)</script>",
    "\"><img src=x onerror=alert(1)>",
    "javascript:alert(1)",
    "<svg onload=alert(1)>",
];

pub struct Server {
    pub addr: SocketAddr,
    pub dir: tempfile::TempDir,
    pub console: Option<Console>,
    pub client: reqwest::Client,
}

impl Server {
    /// A console over an empty data directory.
    pub async fn start() -> Server {
        let dir = tempfile::tempdir().expect("tempdir");
        Server::start_in(dir).await
    }

    pub async fn start_in(dir: tempfile::TempDir) -> Server {
        Server::start_with(dir, ConsoleLimits::default()).await
    }

    /// A console with these connection limits.
    pub async fn start_with(dir: tempfile::TempDir, limits: ConsoleLimits) -> Server {
        let token = Token::parse(TOKEN, "test").expect("token");
        let mut config = ConsoleConfig::new(dir.path(), token);
        config.limits = limits;
        Server::start_config(dir, config).await
    }

    /// A console with this configuration (polling every 50 ms).
    pub async fn start_config(dir: tempfile::TempDir, mut config: ConsoleConfig) -> Server {
        config.poll_interval = Duration::from_millis(50);
        let console = Console::start(config).expect("console");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        tokio::spawn(smishtrap_web::serve(listener, console.state(), std::future::pending()));
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("client");
        Server { addr, dir, console: Some(console), client }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client.get(self.url(path)).send().await.expect("request")
    }

    pub async fn api(&self, path: &str) -> reqwest::Response {
        self.client.get(self.url(path)).bearer_auth(TOKEN).send().await.expect("request")
    }

    pub async fn api_json(&self, path: &str) -> serde_json::Value {
        let response = self.api(path).await;
        assert_eq!(response.status(), 200, "{path}");
        response.json().await.expect("json")
    }

    /// Logs in and returns the `Cookie` header value of the session.
    pub async fn login(&self) -> String {
        let response = self.get(&format!("/login?token={TOKEN}&next=/")).await;
        assert_eq!(response.status(), 303);
        let cookie = response
            .headers()
            .get("set-cookie")
            .and_then(|v| v.to_str().ok())
            .expect("set-cookie")
            .to_owned();
        cookie.split(';').next().expect("pair").to_owned()
    }

    pub async fn page(&self, cookie: &str, path: &str) -> (u16, String) {
        let response =
            self.client.get(self.url(path)).header("cookie", cookie).send().await.expect("request");
        let status = response.status().as_u16();
        (status, response.text().await.expect("body"))
    }

    /// Writes events into the store the way the sensor's bus does.
    pub fn write(&self, events: &[Event]) {
        write_events(self.dir.path(), events);
    }

    /// Waits (bounded) until the console's follower has read `n` events.
    pub async fn wait_for_events(&self, n: u64) {
        for _ in 0..400 {
            let health = self.api_json("/api/v1/health").await;
            if health["store"]["events"].as_u64() == Some(n) && health["store"]["caught_up"] == true
            {
                return;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        panic!("the console never saw {n} events");
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(console) = self.console.take() {
            console.stop();
        }
    }
}

pub fn write_events(data_dir: &Path, events: &[Event]) {
    let mut store = SqliteStore::open(&db_path(data_dir)).expect("open store");
    for chunk in events.chunks(512) {
        store.write_batch(chunk).expect("write batch");
    }
}

pub fn ts(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).expect("ts").with_timezone(&Utc)
}

/// A plain request event; `i` makes the id and the source port unique.
pub fn event(i: usize, kind: EventKind, at: DateTime<Utc>) -> Event {
    let id = format!("c{}-{}", i / 10, i % 10);
    let src_ip = IpAddr::from([127, 0, 0, 1 + (i % 5) as u8]);
    let mut e = Event::request(&id, at, "sensor-a", "milesight-ur32l", src_ip);
    e.session = format!("c{}", i / 10);
    e.src_port = 40000 + (i % 20000) as u16;
    e.kind = kind;
    e.http.headers = vec![("Host".into(), "127.0.0.1:8080".into())];
    e
}

/// `n` events, one every `step`, starting at `start`, cycling through a few kinds.
pub fn events(n: usize, start: DateTime<Utc>, step: TimeDelta) -> Vec<Event> {
    let kinds =
        [EventKind::HttpRequest, EventKind::SmsSend, EventKind::AuthLogin, EventKind::LogRead];
    (0..n).map(|i| event(i, kinds[i % kinds.len()], start + step * i as i32)).collect()
}

/// An `sms.send` event whose every attacker-controlled field carries `payload`.
pub fn hostile_event(i: usize, payload: &str, at: DateTime<Utc>) -> Event {
    let mut e = event(i, EventKind::SmsSend, at);
    let body = format!("{{\"text\":\"{}\"}}", payload.replace('"', "\\\""));
    e.http = HttpRecord {
        method: "POST".into(),
        path: format!("/cgi/{payload}"),
        query: Some(format!("q={payload}")),
        version: "HTTP/1.1".into(),
        headers: vec![
            ("Host".into(), "127.0.0.1:8080".into()),
            ("User-Agent".into(), payload.into()),
            (payload.into(), "header-name-is-hostile".into()),
        ],
        body_len: body.len() as u64,
        body_sha256: body_digest(body.as_bytes()),
        body,
        body_encoding: BodyEncoding::Utf8,
        body_truncated: false,
    };
    e.sms = Some(SmsAction {
        to: vec![payload.into(), "+32470000000".into()],
        text: Some(format!("{payload} Uw pakket wacht: https://secure-login-bank.info/x")),
        dialect: SmsDialect::ApiSms,
        mailbox: None,
        status: Some(payload.into()),
    });
    e.auth = Some(AuthRecord {
        username: payload.into(),
        password: payload.into(),
        password_decrypted: false,
        success: false,
    });
    e
}

#[path = "seed.rs"]
pub mod seed;

/// A small corpus with two smishing campaigns (one carrying the hostile payloads in its text,
/// its router and its recipients' numbers stay valid), their validation sends, spam and ham.
pub fn corpus() -> Vec<smishtrap_event::SmsRecord> {
    use seed::record;
    let mut out = Vec::new();
    // bpost wave: validation sends to the operators' own number first, then the fan-out.
    for i in 0..2 {
        out.push(record(
            &format!("bp-test-{i}"),
            &format!("2025-07-22T09:5{}:00Z", i * 5),
            "+32470999999",
            "router-1",
            "test",
        ));
    }
    for i in 0..30 {
        out.push(record(
            &format!("bp-{i:02}"),
            &format!("2025-07-22T10:{i:02}:00Z"),
            &format!("+3247000{i:04}"),
            "router-1",
            &format!(
                "bpost: uw pakket {i} kon niet worden bezorgd. Betaal de verzendkosten van 1,99 EUR via https://bpost-be-levering.info/t/{i}"
            ),
        ));
    }
    for i in 0..12 {
        let payload = PAYLOADS[i % PAYLOADS.len()];
        out.push(record(
            &format!("csam-{i:02}"),
            &format!("2025-07-23T08:{i:02}:30Z"),
            &format!("+3161000{i:04}"),
            "router-2",
            &format!(
                "{payload} CSAM: uw account wordt vandaag geblokkeerd. Bevestig uw gegevens via https://csam-be-login.info/a{i} {payload}"
            ),
        ));
    }
    for i in 0..10 {
        out.push(record(
            &format!("ham-{i:02}"),
            // One instant for all: pages must break ties by insertion order.
            "2025-07-21T18:00:00Z",
            &format!("+3247200{i:04}"),
            "router-3",
            &format!("Hi, see you at dinner tonight at {i} pm"),
        ));
    }
    out
}

/// The `data-id`s of the rows a page lists, following its `next-page` link.
pub async fn page_ids(server: &Server, cookie: &str, start: &str) -> Vec<String> {
    let mut next = Some(start.to_owned());
    let mut ids = Vec::new();
    let mut pages = 0;
    while let Some(path) = next.take() {
        let (status, html) = server.page(cookie, &path).await;
        assert_eq!(status, 200, "{path}");
        pages += 1;
        let table = html.split("<tbody>").nth(1).and_then(|t| t.split("</tbody>").next());
        ids.extend(
            table
                .unwrap_or("")
                .split("<tr data-id=\"")
                .skip(1)
                .filter_map(|r| r.split('"').next())
                .map(str::to_owned),
        );
        next = html
            .split("id=\"next-page\" href=\"")
            .nth(1)
            .and_then(|r| r.split('"').next())
            .map(|href| href.replace("&#38;", "&"));
        assert!(pages < 20, "{start} does not end");
    }
    ids
}

/// Frames of a stream until `done` says enough: (event type, data).
pub async fn frames(
    response: &mut reqwest::Response,
    text: &mut String,
    done: impl Fn(&[(String, String)]) -> bool,
) -> Vec<(String, String)> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let parsed: Vec<(String, String)> = text
            .split("\n\n")
            .filter(|f| text.contains(&format!("{f}\n\n")))
            .filter_map(|f| {
                let kind = f.lines().find_map(|l| l.strip_prefix("event: "))?;
                let data = f.lines().find_map(|l| l.strip_prefix("data: ")).unwrap_or("");
                Some((kind.to_owned(), data.to_owned()))
            })
            .collect();
        if done(&parsed) {
            return parsed;
        }
        let chunk = tokio::time::timeout_at(deadline, response.chunk())
            .await
            .unwrap_or_else(|_| panic!("stream frames within 20 s; got {text:?}"))
            .expect("chunk")
            .expect("stream open");
        text.push_str(&String::from_utf8_lossy(&chunk));
    }
}
