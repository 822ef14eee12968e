//! Writes a store of N analysed, not yet clustered messages for memory benchmarks, fast.
//!
//!   cargo run --profile eval -p smishtrap-analyst --example fixture_store -- \
//!       RECORDS.jsonl POOL N DIR
//!   cargo run --profile eval -p smishtrap-analyst --features postgres --example fixture_store -- \
//!       RECORDS.jsonl POOL N --postgres CONNINFO SCHEMA
//!
//! It bypasses `smishtrap import`'s analysis: importing 10,000,000 records analyses every
//! one and takes hours on a shared 2-core machine, while the analyst's memory depends only on
//! the stored rows. So the first POOL records (as `bench/analyze-1m.sh` generates them: about
//! a quarter smishing) are analysed once by the real engine, and the N rows are copies of
//! them: copy `c` of a record gets its own time (copies 60 days apart, each spread over 20
//! days, so a template never links two copies across the 30-day quiet gap), its own link
//! domains (`label-TAG.suffix` in text and analysis alike) and its own numbers, as a new wave
//! of the same campaigns on new infrastructure would. Each copy thus forms campaigns of its
//! own, and the campaign count grows with N as it does with imported records. Rows go
//! through the store's `BulkSink` like an import's, without campaigns (the analyst's first
//! pass clusters all of them).

use std::io::BufRead;

use rayon::prelude::*;
use smishtrap_analyst::message_of;
use smishtrap_event::SmsRecord;
use smishtrap_intel::{Analysis, AnalyzeOptions, Engine};
use smishtrap_store::{BulkSink, NewMessage};

/// Rows per bulk transaction (the import's batch).
const BATCH: usize = 16_384;
/// 2024-01-01T00:00:00Z: the first copy's start.
const START: i64 = 1_704_067_200;
const DAY: i64 = 86_400;
/// A copy's messages spread over this many seconds ...
const COPY_WINDOW: i64 = 20 * DAY;
/// ... and copies start this far apart (more than the window plus the 30-day quiet gap).
const COPY_SPAN: i64 = 60 * DAY;

#[allow(clippy::print_stdout, reason = "benchmark tool output")]
fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let (Some(path), Some(pool), Some(n), Some(target)) =
        (args.get(1), args.get(2), args.get(3), args.get(4))
    else {
        anyhow::bail!(
            "usage: fixture_store RECORDS.jsonl POOL N DIR | ... N --postgres CONNINFO SCHEMA"
        );
    };
    let (pool, n): (usize, usize) = (pool.parse()?, n.parse()?);
    let started = std::time::Instant::now();
    let base = analysed_pool(path, pool)?;
    anyhow::ensure!(!base.is_empty(), "{path}: no records");
    let smishing =
        base.iter().filter(|(_, a)| a.verdict == smishtrap_intel::Verdict::Smishing).count();
    println!(
        "pool: {} records analysed ({smishing} smishing) in {:.0} s",
        base.len(),
        started.elapsed().as_secs_f64()
    );
    if target == "--postgres" {
        let (Some(conninfo), Some(schema)) = (args.get(5), args.get(6)) else {
            anyhow::bail!("--postgres needs CONNINFO and SCHEMA");
        };
        write(&mut open_postgres(conninfo, schema)?, &base, n)?;
    } else {
        std::fs::create_dir_all(target)?;
        let mut store =
            smishtrap_store::SqliteStore::open(&smishtrap_store::db_path(target.as_ref()))?;
        write(&mut store, &base, n)?;
    }
    println!("wrote {n} messages in {:.0} s", started.elapsed().as_secs_f64());
    Ok(())
}

#[cfg(feature = "postgres")]
fn open_postgres(conninfo: &str, schema: &str) -> anyhow::Result<smishtrap_store::PostgresStore> {
    Ok(smishtrap_store::PostgresStore::open(conninfo, schema)?)
}

#[cfg(not(feature = "postgres"))]
fn open_postgres(_: &str, _: &str) -> anyhow::Result<smishtrap_store::SqliteStore> {
    anyhow::bail!("built without the `postgres` feature")
}

/// The first `pool` records of `path`, each with its analysis by the builtin engine.
fn analysed_pool(path: &str, pool: usize) -> anyhow::Result<Vec<(SmsRecord, Analysis)>> {
    let engine = Engine::builtin()?;
    let options = AnalyzeOptions::default();
    let lines: Vec<String> = std::io::BufReader::new(std::fs::File::open(path)?)
        .lines()
        .take(pool)
        .collect::<Result<_, _>>()?;
    Ok(lines
        .par_iter()
        .enumerate()
        .filter_map(|(i, line)| {
            let record: SmsRecord = serde_json::from_str(line).ok()?;
            let analysis = engine.analyze(&record, i.to_string(), &options);
            Some((record, analysis))
        })
        .collect())
}

fn write<S: BulkSink>(
    store: &mut S,
    base: &[(SmsRecord, Analysis)],
    n: usize,
) -> anyhow::Result<()> {
    store.begin_bulk()?;
    let mut next = 0;
    while next < n {
        let end = n.min(next + BATCH);
        let rows: Vec<NewMessage> = (next..end).into_par_iter().map(|k| row(base, k)).collect();
        store.insert_messages_bulk(&rows)?;
        next = end;
    }
    store.finish_bulk()?;
    Ok(())
}

/// Row `k`: copy `k / pool` of pool record `k % pool` (see the module doc).
fn row(base: &[(SmsRecord, Analysis)], k: usize) -> NewMessage {
    let pool = base.len().max(1);
    let (copy, b) = (k / pool, k % pool);
    let (mut record, mut analysis) = base[b].clone();
    let id = format!("fixture-{k}");
    record.id = Some(id.clone());
    analysis.id = id;
    let offset = i64::try_from(b).unwrap_or(0) * COPY_WINDOW / i64::try_from(pool).unwrap_or(1);
    let ts = START + i64::try_from(copy).unwrap_or(0) * COPY_SPAN + offset;
    record.ts = Some(smishtrap_intel::campaign::format_ts(ts));
    if copy > 0 {
        let tag = tag(copy);
        for url in analysis.urls.iter_mut().filter(|u| !u.shortener) {
            let Some(domain) = url.registrable_domain.clone() else { continue };
            let Some((label, suffix)) = domain.split_once('.') else { continue };
            let rotated = format!("{label}-{tag}.{suffix}");
            record.text = record.text.replace(&domain, &rotated);
            url.url = url.url.replace(&domain, &rotated);
            url.host = url.host.replace(&domain, &rotated);
            url.registrable_domain = Some(rotated);
        }
        for (number, raw) in [
            (analysis.recipient.as_mut(), &mut record.to),
            (analysis.sender.as_mut(), &mut record.from),
        ] {
            if let Some(number) = number {
                number.e164 = rotate(&number.e164, copy);
                *raw = Some(number.e164.clone());
            }
        }
    }
    let micros = ts.saturating_mul(1_000_000);
    message_of(&record, &analysis, "import", None, micros)
}

/// Letters naming copy `copy` (`b`, `c`, ..., `ba`, ...): digits would be cut from a
/// domain family's name, letters keep each copy's domains apart.
fn tag(copy: usize) -> String {
    let mut out = Vec::new();
    let mut c = copy;
    while c > 0 {
        out.push(char::from(b'a' + (c % 26) as u8));
        c /= 26;
    }
    out.iter().rev().collect()
}

/// `e164` with its last four digits moved by the copy (the same number in every record of
/// one copy, another in the next).
fn rotate(e164: &str, copy: usize) -> String {
    let digits = e164.len().saturating_sub(4);
    match (e164.get(..digits), e164.get(digits..).and_then(|d| d.parse::<usize>().ok())) {
        (Some(head), Some(tail)) if digits > 4 => {
            format!("{head}{:04}", (tail + copy * 7919) % 10_000)
        }
        _ => e164.to_owned(),
    }
}
