//! Console load times over a large store (a measurement, not a test).
//!
//! ```text
//! cargo run --release -p smishtrap-web --example console_load -- [EVENTS] [DIR]
//! ```
//!
//! Writes EVENTS (default 1,000,000) synthetic events spread over the last 24 h into a store
//! in DIR (a temporary directory by default; an existing DIR with a store is reused as is),
//! starts the console in-process on a loopback port, times how long the follower takes to
//! read the history, then times each page and API call (median and max of several loads,
//! through a real HTTP client).

#![allow(clippy::print_stdout, clippy::print_stderr, reason = "a measurement program")]

use std::net::IpAddr;
use std::time::{Duration, Instant};

use chrono::{TimeDelta, Utc};
use smishtrap_bus::Sink;
use smishtrap_event::{
    BodyEncoding, Event, EventKind, HttpRecord, SCHEMA_VERSION, SmsAction, SmsDialect, body_digest,
};
use smishtrap_store::{SqliteStore, db_path};
use smishtrap_web::{Console, ConsoleConfig, Token};

const TOKEN: &str = "load-test-token-0123456789";
const RUNS: usize = 15;

fn event(i: usize, n: usize) -> Event {
    let now = Utc::now();
    let span = TimeDelta::hours(24);
    let ts = now - span
        + TimeDelta::microseconds(span.num_microseconds().unwrap_or(0) / n as i64 * i as i64);
    let kinds = [
        EventKind::HttpRequest,
        EventKind::HttpRequest,
        EventKind::SmsSend,
        EventKind::AuthLogin,
        EventKind::LogRead,
    ];
    let kind = kinds[i % kinds.len()];
    let body = format!(
        "{{\"function\":\"send_sms\",\"content\":\"Uw pakket {i} wacht: https://pakket-{}.info/t\"}}",
        i % 97
    );
    Event {
        schema: SCHEMA_VERSION,
        id: format!("s{}-{}", i / 8, i % 8),
        ts,
        sensor: format!("sensor-{}", i % 4),
        persona: "milesight-ur32l".into(),
        session: format!("s{}", i / 8),
        src_ip: IpAddr::from([198, 51, (i / 256 % 200) as u8, (i % 256) as u8]),
        src_port: 40000,
        dst_port: 8080,
        kind,
        http: HttpRecord {
            method: "POST".into(),
            path: "/cgi".into(),
            query: None,
            version: "HTTP/1.1".into(),
            headers: vec![
                ("Host".into(), "203.0.113.9:8080".into()),
                ("User-Agent".into(), "python-requests/2.31.0".into()),
                ("Content-Type".into(), "application/json".into()),
            ],
            body_len: body.len() as u64,
            body_sha256: body_digest(body.as_bytes()),
            body,
            body_encoding: BodyEncoding::Utf8,
            body_truncated: false,
        },
        response_status: 200,
        auth: None,
        sms: (kind == EventKind::SmsSend).then(|| SmsAction {
            to: vec![format!("+3247{:07}", i % 10_000_000)],
            text: Some(format!("Uw pakket {i} wacht: https://pakket-{}.info/t", i % 97)),
            dialect: SmsDialect::ApiSms,
            mailbox: None,
            status: None,
        }),
        tags: vec![],
    }
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let n: usize = args.get(1).map(|s| s.parse()).transpose()?.unwrap_or(1_000_000);
    let temp = tempfile::tempdir()?;
    let dir = args.get(2).map(std::path::PathBuf::from).unwrap_or_else(|| temp.path().to_owned());
    let db = db_path(&dir);
    if !db.exists() {
        let started = Instant::now();
        let mut store = SqliteStore::open(&db)?;
        let mut batch = Vec::with_capacity(1024);
        for i in 0..n {
            batch.push(event(i, n));
            if batch.len() == 1024 {
                store.write_batch(&batch)?;
                batch.clear();
            }
        }
        store.write_batch(&batch)?;
        store.flush()?;
        println!("wrote {n} events in {:.1?}", started.elapsed());
    }
    let size = std::fs::metadata(&db)?.len();
    println!("store: {} ({:.0} MiB)", db.display(), size as f64 / 1048576.0);

    let started = Instant::now();
    let console = Console::start(ConsoleConfig::new(&dir, Token::parse(TOKEN, "bench")?))?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(smishtrap_web::serve(listener, console.state(), std::future::pending()));
    let client = reqwest::Client::builder().build()?;
    let url = |p: &str| format!("http://{addr}{p}");
    // Pages answer at once while the follower reads the history; time both.
    let first = Instant::now();
    let response = client.get(url("/api/v1/health")).bearer_auth(TOKEN).send().await?;
    println!("first answer after start: {:.1?} (status {})", first.elapsed(), response.status());
    loop {
        let health: serde_json::Value =
            client.get(url("/api/v1/health")).bearer_auth(TOKEN).send().await?.json().await?;
        if health["store"]["caught_up"] == true {
            println!(
                "follower read {} events in {:.1?}",
                health["store"]["events"],
                started.elapsed()
            );
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    let page: serde_json::Value = client
        .get(url("/api/v1/events?limit=1000&kind=sms.send"))
        .bearer_auth(TOKEN)
        .send()
        .await?
        .json()
        .await?;
    let some_id = page["events"][500]["id"].as_str().unwrap_or("s0-0").to_owned();
    // A cursor deep in the store (the middle), to time a far page.
    let mut cursor = String::new();
    let mid =
        (Utc::now() - TimeDelta::hours(12)).to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let mid_page: serde_json::Value = client
        .get(url(&format!("/api/v1/events?limit=100&since={mid}")))
        .bearer_auth(TOKEN)
        .send()
        .await?
        .json()
        .await?;
    if let Some(c) = mid_page["next_cursor"].as_str() {
        cursor = c.to_owned();
    }
    let ip = "198.51.100.7";
    let targets = [
        "/".to_owned(),
        "/events".to_owned(),
        "/events?kind=sms.send".to_owned(),
        format!("/events/{some_id}"),
        "/history".to_owned(),
        format!("/history?since={mid}"),
        format!("/history?src_ip={ip}"),
        "/api/v1/health".to_owned(),
        "/api/v1/sensors".to_owned(),
        "/api/v1/events?limit=100".to_owned(),
        "/api/v1/events?limit=1000".to_owned(),
        format!("/api/v1/events?limit=100&cursor={cursor}"),
        "/api/v1/events?limit=100&kind=sms.send".to_owned(),
        format!("/api/v1/events?limit=100&src_ip={ip}"),
        format!("/api/v1/events/{some_id}"),
    ];
    println!("{:<48} {:>10} {:>10} {:>10}", "GET", "median", "max", "bytes");
    for target in &targets {
        let mut times = Vec::with_capacity(RUNS);
        let mut bytes = 0;
        for _ in 0..RUNS {
            let t = Instant::now();
            let response = client.get(url(target)).bearer_auth(TOKEN).send().await?;
            let status = response.status();
            let body = response.bytes().await?;
            times.push(t.elapsed());
            bytes = body.len();
            if !status.is_success() {
                return Err(format!("{target}: {status}").into());
            }
        }
        times.sort();
        let shown: String = target.chars().take(48).collect();
        println!("{shown:<48} {:>10.1?} {:>10.1?} {bytes:>10}", times[RUNS / 2], times[RUNS - 1]);
    }
    console.stop();
    Ok(())
}
