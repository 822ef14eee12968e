//! Peak memory of the analyst's clusterer holding N messages' campaign features and running
//! one pass, without a store of N messages (importing 10,000,000 takes hours on a shared
//! 2-core machine): records are analysed here and handed as `run`'s import does.
//!
//!   cargo run --profile eval -p smishtrap-analyst --example held_memory -- RECORDS.jsonl N DIR
//!   cargo run --profile eval -p smishtrap-analyst --example held_memory -- RECORDS.jsonl N DIR \
//!       --copies POOL
//!
//! RECORDS as `bench/import-1m.sh` generates them (with `--copies`, only the first POOL are
//! analysed and the N messages are copies of them, as `fixture_store.rs` writes them: minutes
//! instead of hours at 10,000,000); DIR gets an empty store the pass writes
//! to (its assignment updates match no rows). Prints the peak RSS (VmHWM) after holding and
//! after the pass. `bench/analyst-memory.sh` measures the real restart path on a store, and
//! `bench/analyst-memory-10m.sh` `run` and `hub` over a fixture store of 10,000,000 messages.

use std::io::BufRead;

use rayon::prelude::*;
use smishtrap_analyst::{Clusterer, Features};
use smishtrap_intel::campaign::Config;
use smishtrap_intel::{AnalyzeOptions, Engine};

#[path = "support/fixture.rs"]
mod fixture;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn peak_kib() -> String {
    status("VmHWM")
}

/// A line of `/proc/self/status`.
fn status(key: &str) -> String {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find(|l| l.starts_with(key))
        .map_or_else(|| format!("{key}: ?"), str::to_owned)
}

#[allow(clippy::print_stdout, reason = "benchmark output")]
fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let (Some(path), Some(n), Some(dir)) = (args.get(1), args.get(2), args.get(3)) else {
        anyhow::bail!("usage: held_memory RECORDS.jsonl N DIR");
    };
    let n: usize = n.parse()?;
    if args.get(4).map(String::as_str) == Some("--copies") {
        let Some(pool) = args.get(5) else { anyhow::bail!("--copies needs POOL") };
        return copies(path, pool.parse()?, n, dir);
    }
    let engine = Engine::builtin()?;
    let options = AnalyzeOptions::default();
    let cfg = Config::default();
    let mut clusterer = Clusterer::new(cfg.clone());
    let reader = std::io::BufReader::new(std::fs::File::open(path)?);
    let mut lines = reader.lines().take(n);
    let mut seq = 0i64;
    let started = std::time::Instant::now();
    loop {
        let chunk: Vec<String> = lines.by_ref().take(16_384).collect::<Result<_, _>>()?;
        if chunk.is_empty() {
            break;
        }
        let features: Vec<Option<Features>> = chunk
            .par_iter()
            .enumerate()
            .map(|(i, line)| {
                let record: smishtrap_event::SmsRecord = serde_json::from_str(line).ok()?;
                let analysis = engine.analyze(&record, i.to_string(), &options);
                Some(Features::new(&record, &analysis, &cfg))
            })
            .collect();
        for f in features.into_iter().flatten() {
            seq += 1;
            clusterer.hold_stored(seq, f);
        }
    }
    println!("held {seq} messages in {:.0} s; {}", started.elapsed().as_secs_f64(), peak_kib());
    pass(clusterer, dir)
}

/// Holds `n` copies of the first `pool` records (see `fixture_store.rs`), then one pass.
#[allow(clippy::print_stdout, reason = "benchmark output")]
fn copies(path: &str, pool: usize, n: usize, dir: &str) -> anyhow::Result<()> {
    let started = std::time::Instant::now();
    let base = fixture::analysed_pool(path, pool)?;
    anyhow::ensure!(!base.is_empty(), "{path}: no records");
    let cfg = Config::default();
    let mut clusterer = Clusterer::new(cfg.clone());
    let mut next = 0;
    while next < n {
        let end = n.min(next + 16_384);
        let features: Vec<Features> = (next..end)
            .into_par_iter()
            .map(|k| {
                let (record, analysis, _) = fixture::copy(&base, k);
                Features::new(&record, &analysis, &cfg)
            })
            .collect();
        for (k, f) in (next..end).zip(features) {
            clusterer.hold_stored(i64::try_from(k).unwrap_or(i64::MAX) + 1, f);
        }
        next = end;
    }
    println!("held {n} messages in {:.0} s; {}", started.elapsed().as_secs_f64(), peak_kib());
    // the pool is this tool's, not the analyst's: drop it and restart the peak (`5` resets
    // VmHWM to the current RSS), so the pass's figure is the clusterer's alone
    drop(base);
    let _ = std::fs::write("/proc/self/clear_refs", "5");
    println!("without the pool: {}", status("VmRSS"));
    pass(clusterer, dir)
}

/// One pass into an empty store in `dir`; prints its figures and the peak RSS.
#[allow(clippy::print_stdout, reason = "benchmark output")]
fn pass(mut clusterer: Clusterer, dir: &str) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir)?;
    let mut store = smishtrap_store::SqliteStore::open(&smishtrap_store::db_path(dir.as_ref()))?;
    let pass = clusterer.recluster(&mut store)?;
    println!(
        "pass: {} campaigns, {} changed, {:.1} s; {}",
        pass.campaigns,
        pass.changed,
        pass.duration.as_secs_f64(),
        peak_kib()
    );
    Ok(())
}
