//! Insert throughput of the SQLite store in bus-sized batches (the sensor's write path).
//!
//! `cargo bench -p smishtrap-store --bench insert`; criterion reports elements/s = events/s.
//! With `--features postgres` it also measures the PostgreSQL backend.
//! Events are realistic `sms.send` captures (~1.3 KiB of JSON) with fresh ids every
//! iteration, so `INSERT OR IGNORE` really inserts; each case starts from a fresh store.
//! Cases vary the batch size and the number of distinct client addresses per batch.

#![allow(missing_docs, unreachable_pub, clippy::unwrap_used, reason = "benchmark harness")]

use std::net::IpAddr;
use std::time::{Duration, Instant};

use chrono::Utc;
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use smishtrap_bus::Sink;
use smishtrap_event::{
    BodyEncoding, Event, EventKind, HttpRecord, SCHEMA_VERSION, SmsAction, SmsDialect, body_digest,
};
use smishtrap_store::{SqliteStore, db_path};

fn sms_event(n: u64, sources: u64) -> Event {
    let body = format!(
        r#"{{"id":"{n}","execute":1,"core":"yruo_sms","function":"send_sms","values":[{{"base":"api_sms","value":{{"phone":"+3247{n:07}","content":"Uw eBox bevat een nieuw bericht van de FOD Financien. Bevestig uw identiteit via https://example.invalid/{n} om uw teruggave te ontvangen."}}}}]}}"#
    );
    Event {
        schema: SCHEMA_VERSION,
        id: format!("bench-{n}"),
        ts: Utc::now(),
        sensor: "bench".into(),
        persona: "milesight-ur32l".into(),
        session: format!("c{}", n / 8),
        src_ip: IpAddr::from([203, 0, (n % sources / 256) as u8, (n % sources % 256) as u8]),
        src_port: 40_000,
        dst_port: 8080,
        kind: EventKind::SmsSend,
        http: HttpRecord {
            method: "POST".into(),
            path: "/cgi".into(),
            query: None,
            version: "HTTP/1.1".into(),
            headers: vec![
                ("Host".into(), "198.51.100.1:8080".into()),
                ("User-Agent".into(), "python-requests/2.31.0".into()),
                ("Content-Type".into(), "application/json".into()),
                ("Content-Length".into(), body.len().to_string()),
            ],
            body_len: body.len() as u64,
            body_sha256: body_digest(body.as_bytes()),
            body,
            body_encoding: BodyEncoding::Utf8,
            body_truncated: false,
        },
        response_status: 200,
        auth: None,
        sms: Some(SmsAction {
            to: vec![format!("+3247{n:07}")],
            text: Some("Uw eBox bevat een nieuw bericht".into()),
            dialect: SmsDialect::ApiSms,
            mailbox: None,
            status: Some("success".into()),
        }),
        tags: vec![],
    }
}

/// Inserts `batch`-sized batches from `sources` distinct client addresses into a fresh store.
fn bench_batches(c: &mut Criterion, group: &str, cases: &[(usize, u64)]) {
    let mut group = c.benchmark_group(group);
    group.measurement_time(Duration::from_secs(6)).warm_up_time(Duration::from_secs(1));
    for &(batch, sources) in cases {
        let dir = tempfile::tempdir().unwrap();
        let mut store = SqliteStore::open(&db_path(dir.path())).unwrap();
        let mut next = 0_u64;
        group.throughput(Throughput::Elements(batch as u64));
        let id = BenchmarkId::new(format!("{sources}_sources"), batch);
        group.bench_function(id, |b| {
            b.iter_custom(|iters| {
                let mut spent = Duration::ZERO;
                for _ in 0..iters {
                    let events: Vec<Event> =
                        (next..next + batch as u64).map(|n| sms_event(n, sources)).collect();
                    next += batch as u64;
                    let start = Instant::now();
                    store.write_batch(&events).unwrap();
                    spent += start.elapsed();
                }
                spent
            });
        });
    }
    group.finish();
}

/// Batch size: under load the bus commits whatever queued meanwhile (up to 4096).
fn by_batch_size(c: &mut Criterion) {
    bench_batches(c, "sqlite_insert", &[(64, 16), (512, 16), (4096, 16)]);
}

/// Distinct clients per batch: each one dirties its own page of the `src_ip` index.
fn by_sources(c: &mut Criterion) {
    bench_batches(c, "sqlite_insert", &[(512, 1), (512, 256)]);
}

/// The same write path into PostgreSQL (feature `postgres`; server from
/// `SMISHTRAP_TEST_POSTGRES`, default 127.0.0.1:5432 user postgres), in a scratch schema.
#[cfg(feature = "postgres")]
fn postgres(c: &mut Criterion) {
    let conninfo = std::env::var("SMISHTRAP_TEST_POSTGRES")
        .unwrap_or_else(|_| "host=127.0.0.1 port=5432 user=postgres dbname=postgres".into());
    let schema = format!("smishtrap_bench_{}", std::process::id());
    let mut store = smishtrap_store::PostgresStore::open(&conninfo, &schema).unwrap();
    let mut group = c.benchmark_group("postgres_insert");
    group.measurement_time(Duration::from_secs(6)).warm_up_time(Duration::from_secs(1));
    let mut next = 0_u64;
    for batch in [64_usize, 512] {
        group.throughput(Throughput::Elements(batch as u64));
        group.bench_function(BenchmarkId::new("16_sources", batch), |b| {
            b.iter_custom(|iters| {
                let mut spent = Duration::ZERO;
                for _ in 0..iters {
                    let events: Vec<Event> =
                        (next..next + batch as u64).map(|n| sms_event(n, 16)).collect();
                    next += batch as u64;
                    let start = Instant::now();
                    store.write_batch(&events).unwrap();
                    spent += start.elapsed();
                }
                spent
            });
        });
    }
    group.finish();
    drop(store);
    let mut admin = postgres::Client::connect(&conninfo, postgres::NoTls).unwrap();
    admin.batch_execute(&format!("DROP SCHEMA \"{schema}\" CASCADE")).unwrap();
}

#[cfg(not(feature = "postgres"))]
criterion_group!(benches, by_batch_size, by_sources);
#[cfg(feature = "postgres")]
criterion_group!(benches, by_batch_size, by_sources, postgres);
criterion_main!(benches);
