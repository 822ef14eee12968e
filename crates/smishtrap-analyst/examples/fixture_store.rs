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

use rayon::prelude::*;
use smishtrap_analyst::message_of;
use smishtrap_event::SmsRecord;
use smishtrap_intel::Analysis;
use smishtrap_store::{BulkSink, NewMessage};

#[path = "support/fixture.rs"]
mod fixture;

/// Rows per bulk transaction (the import's batch).
const BATCH: usize = 16_384;

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
    let base = fixture::analysed_pool(path, pool)?;
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

/// Row `k` (see [`fixture::copy`]).
fn row(base: &[(SmsRecord, Analysis)], k: usize) -> NewMessage {
    let (record, analysis, micros) = fixture::copy(base, k);
    message_of(&record, &analysis, "import", None, micros)
}
