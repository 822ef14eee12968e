//! Console load times over a store of analysed messages and campaigns (a measurement, not a
//! test).
//!
//! ```text
//! cargo run --release -p smishtrap-web --example messages_load -- [MESSAGES] [DIR] [CORPUS]
//! ```
//!
//! Analyses and clusters CORPUS (JSONL SMS records; default `../shared/data/smish-dev.jsonl`
//! beside the repository) with the real engine, then writes it again and again, shifted by a
//! day each copy, with fresh ids and recipients, until MESSAGES (default 1,000,000) messages
//! are stored; every copy's campaigns are stored as campaigns of their own. An existing DIR
//! with a store is reused as is. Then it starts the console in-process and times pages and API
//! calls (median, p95 and max of several loads through a real HTTP client), and the two
//! counts the Overview needs (the follower caches them; timed here on their own).
//! With `BENCH_DOMAIN_SEQ_INDEX=1` it first adds the index the store lacks (see below).

#![allow(clippy::print_stdout, clippy::print_stderr, reason = "a measurement program")]

#[path = "../tests/common/seed.rs"]
mod seed;

use std::time::{Duration, Instant};

use smishtrap_event::SmsRecord;
use smishtrap_intel::campaign::{self, CampaignInput};
use smishtrap_intel::{AnalyzeOptions, Engine};
use smishtrap_store::{
    AssignmentChange, CLUSTERED_CURSOR, CampaignRow, MessageFacet, NewMessage, SqliteStore, db_path,
};
use smishtrap_web::{Console, ConsoleConfig, Token};

const TOKEN: &str = "load-test-token-0123456789";
/// Loads per target (`BENCH_RUNS` overrides).
const RUNS: usize = 20;
const DAY_MICROS: i64 = 86_400_000_000;

/// Fills the store with `n` messages from copies of the analysed corpus.
fn fill(
    db: &std::path::Path,
    n: usize,
    corpus: &std::path::Path,
) -> Result<(), Box<dyn std::error::Error>> {
    let started = Instant::now();
    let body = std::fs::read_to_string(corpus)?;
    let records: Vec<SmsRecord> =
        body.lines().filter_map(|l| serde_json::from_str(l).ok()).collect();
    let engine = Engine::builtin()?;
    let options = AnalyzeOptions::default();
    let analyses: Vec<_> = records
        .iter()
        .enumerate()
        .map(|(i, r)| engine.analyze(r, r.id.clone().unwrap_or_else(|| i.to_string()), &options))
        .collect();
    let inputs: Vec<CampaignInput> = records
        .iter()
        .zip(&analyses)
        .enumerate()
        .map(|(i, (r, a))| CampaignInput::new(i, r, a))
        .collect();
    let clustering = campaign::cluster(&inputs, &campaign::Config::default());
    let base: Vec<NewMessage> =
        records.iter().zip(&analyses).map(|(r, a)| seed::new_message(r, a, "import")).collect();
    let base_rows: Vec<CampaignRow> = clustering.campaigns.iter().map(seed::campaign_row).collect();
    println!(
        "corpus: {} records, {} campaigns, analysed and clustered in {:.1?}",
        base.len(),
        base_rows.len(),
        started.elapsed()
    );
    let mut store = SqliteStore::open(db)?;
    let mut changes = Vec::new();
    let mut rows = Vec::new();
    let copies = n.div_ceil(base.len().max(1));
    let mut written = 0usize;
    let started = Instant::now();
    for k in 0..copies {
        let take = (n - written).min(base.len());
        let batch: Vec<NewMessage> = base[..take]
            .iter()
            .map(|m| {
                let mut m = m.clone();
                m.id = format!("{}-{k}", m.id);
                m.ts_micros += k as i64 * DAY_MICROS;
                if let Some(r) = &mut m.recipient
                    && r.len() > 6
                {
                    r.truncate(r.len() - 3);
                    r.push_str(&format!("{:03}", k % 1000));
                }
                m
            })
            .collect();
        store.insert_messages(&batch, None)?;
        for (i, a) in clustering.assignments.iter().enumerate().take(take) {
            if let Some(c) = &a.campaign {
                changes.push(AssignmentChange {
                    seq: (written + i + 1) as i64,
                    campaign: Some(format!("{c}-{k}")),
                    phase: a.phase.map(|p| match p {
                        smishtrap_intel::Phase::Wave => "wave".to_owned(),
                        smishtrap_intel::Phase::Validation => "validation".to_owned(),
                    }),
                });
            }
        }
        for r in &base_rows {
            let mut r = r.clone();
            let id = format!("{}-{k}", r.id);
            // The summary's id is the copy's; its times stay the corpus' (display only).
            r.summary =
                r.summary.replacen(&format!("\"id\":\"{}\"", r.id), &format!("\"id\":\"{id}\""), 1);
            r.id = id;
            r.first_seen = r.first_seen.map(|t| t + k as i64 * DAY_MICROS);
            r.last_seen = r.last_seen.map(|t| t + k as i64 * DAY_MICROS);
            rows.push(r);
        }
        written += take;
        if k % 50 == 0 {
            eprintln!("  {written} messages written ({:.0?})", started.elapsed());
        }
    }
    println!("wrote {written} messages in {:.1?}", started.elapsed());
    let started = Instant::now();
    store.apply_clustering(&changes, &rows, Some((CLUSTERED_CURSOR, written as i64)))?;
    println!(
        "stored {} assignments and {} campaigns in {:.1?}",
        changes.len(),
        rows.len(),
        started.elapsed()
    );
    Ok(())
}

fn stats(mut times: Vec<Duration>) -> (Duration, Duration, Duration) {
    times.sort();
    let at = |q: f64| times[((times.len() - 1) as f64 * q).round() as usize];
    (at(0.5), at(0.95), at(1.0))
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let n: usize = args.get(1).map(|s| s.parse()).transpose()?.unwrap_or(1_000_000);
    let temp = tempfile::tempdir()?;
    let dir = args.get(2).map(std::path::PathBuf::from).unwrap_or_else(|| temp.path().to_owned());
    let corpus = args.get(3).map(std::path::PathBuf::from).unwrap_or_else(|| {
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../../shared/data/smish-dev.jsonl")
    });
    let db = db_path(&dir);
    if !db.exists() {
        fill(&db, n, &corpus)?;
    }
    // A measurement aid, not the console's doing (the console never writes but to migrate):
    // the store's `domains` column is a correlated subquery on `message_domains (seq)`,
    // which has no index of its own; this adds the one proposed for the store.
    if std::env::var_os("BENCH_DOMAIN_SEQ_INDEX").is_some() {
        let t = Instant::now();
        let conn = rusqlite::Connection::open(&db)?;
        conn.execute_batch(
            "CREATE INDEX IF NOT EXISTS message_domains_seq ON message_domains (seq)",
        )?;
        println!("added index message_domains (seq) in {:.1?}", t.elapsed());
    }
    let size = std::fs::metadata(&db)?.len();
    println!("store: {} ({:.0} MiB)", db.display(), size as f64 / 1048576.0);

    // The Overview's counts, on their own (the follower refreshes them at most every 10 s).
    {
        let store = SqliteStore::open_read_only(&db)?;
        for (what, facet, verdict) in [
            ("countries of smishing", MessageFacet::Country, Some("smishing")),
            ("verdicts", MessageFacet::Verdict, None),
        ] {
            let mut times = Vec::new();
            for _ in 0..5 {
                let t = Instant::now();
                let counts = store.message_facet(facet, verdict, 12)?;
                times.push(t.elapsed());
                if counts.is_empty() {
                    return Err(format!("no {what}").into());
                }
            }
            let (median, p95, max) = stats(times);
            println!("facet {what:<34} median {median:>9.1?} p95 {p95:>9.1?} max {max:>9.1?}");
        }
    }

    let console = Console::start(ConsoleConfig::new(&dir, Token::parse(TOKEN, "bench")?))?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(smishtrap_web::serve(listener, console.state(), std::future::pending()));
    let client = reqwest::Client::builder().build()?;
    let url = |p: &str| format!("http://{addr}{p}");
    let get_json = |p: String| {
        let client = client.clone();
        let u = url(&p);
        async move { client.get(u).bearer_auth(TOKEN).send().await?.json::<serde_json::Value>().await }
    };
    // Wait until the follower has made the Overview's counts.
    let started = Instant::now();
    let page = loop {
        let html = client.get(url("/")).bearer_auth(TOKEN).send().await?.text().await?;
        if html.contains("id=\"countries\"") || started.elapsed() > Duration::from_secs(120) {
            break html;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let counted = page.split("· counted").nth(1).and_then(|r| r.split('<').next()).unwrap_or("?");
    println!("overview counts ready after {:.1?} (counted{counted})", started.elapsed());

    let campaigns = get_json("/api/v1/campaigns?limit=1000".into()).await?;
    let largest = campaigns["campaigns"]
        .as_array()
        .and_then(|all| all.iter().max_by_key(|c| c["message_count"].as_u64().unwrap_or(0)))
        .and_then(|c| c["id"].as_str())
        .unwrap_or("none")
        .to_owned();
    let first = get_json("/api/v1/messages?limit=1000&verdict=smishing".into()).await?;
    let some_message = first["messages"][500]["id"].as_str().unwrap_or("none").to_owned();
    let domain = first["messages"][500]["domains"][0].as_str().unwrap_or("example.com").to_owned();
    let deep = get_json("/api/v1/messages?limit=1000".into()).await?;
    let cursor = deep["next_cursor"].as_str().unwrap_or("").to_owned();
    let enc = |s: &str| form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
    let targets = [
        "/".to_owned(),
        "/events".to_owned(),
        "/messages".to_owned(),
        "/messages?text=pakket".to_owned(),
        "/messages?text=Bevestig%20uw".to_owned(),
        "/messages?text=zzqx".to_owned(),
        format!("/messages?domain={}", enc(&smishtrap_extract::defang(&domain))),
        "/messages?number=%2B3247".to_owned(),
        "/messages?verdict=smishing&country=BE".to_owned(),
        "/messages?brand=bpost".to_owned(),
        format!("/messages?campaign={}", enc(&largest)),
        format!("/messages?cursor={cursor}"),
        format!("/messages/{}", enc(&some_message)),
        "/campaigns".to_owned(),
        "/campaigns?brand=bpost".to_owned(),
        format!("/campaigns/{}", enc(&largest)),
        "/api/v1/messages?limit=100".to_owned(),
        "/api/v1/messages?limit=1000".to_owned(),
        "/api/v1/messages?limit=100&text=pakket".to_owned(),
        "/api/v1/campaigns?limit=100".to_owned(),
        format!("/api/v1/campaigns/{}", enc(&largest)),
        format!("/api/v1/campaigns/{}/export?format=stix", enc(&largest)),
        "/api/v1/sensors".to_owned(),
    ];
    println!("{:<48} {:>10} {:>10} {:>10} {:>10}", "GET", "median", "p95", "max", "bytes");
    let runs: usize = std::env::var("BENCH_RUNS").ok().and_then(|r| r.parse().ok()).unwrap_or(RUNS);
    for target in &targets {
        let mut times = Vec::with_capacity(runs);
        let mut bytes = 0;
        for _ in 0..runs {
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
        let (median, p95, max) = stats(times);
        let shown: String = target.chars().take(48).collect();
        println!("{shown:<48} {median:>10.1?} {p95:>10.1?} {max:>10.1?} {bytes:>10}");
    }
    // Every campaign in one download: once, it is the heavy one.
    for format in ["csv", "stix"] {
        let t = Instant::now();
        let response = client
            .get(url(&format!("/api/v1/exports?format={format}")))
            .bearer_auth(TOKEN)
            .send()
            .await?;
        let status = response.status();
        let body = response.bytes().await?;
        println!(
            "/api/v1/exports?format={format:<24} once {:>10.1?} status {status} {:>10} bytes",
            t.elapsed(),
            body.len()
        );
    }
    console.stop();
    Ok(())
}
