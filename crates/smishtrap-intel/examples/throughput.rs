//! Single-thread cost of the per-message pipeline (analyse + JSON) on a JSONL file, for
//! profiling without the CLI's threads and I/O (`perf record` works well on it).
//!
//! ```text
//! cargo run --release -p smishtrap-intel --example throughput -- FILE.jsonl [MAX_RECORDS]
//! ```

#![allow(clippy::print_stdout, reason = "a command-line tool")]

use std::hint::black_box;
use std::time::Instant;

use anyhow::Context;
use smishtrap_event::SmsRecord;
use smishtrap_intel::{AnalyzeOptions, Engine};

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let path = args.next().context("usage: throughput FILE.jsonl [MAX_RECORDS]")?;
    let max: usize = match args.next() {
        Some(n) => n.parse().context("MAX_RECORDS must be a number")?,
        None => usize::MAX,
    };
    let text = std::fs::read_to_string(&path).with_context(|| format!("reading {path}"))?;
    let records: Vec<SmsRecord> =
        text.lines().take(max).filter_map(|l| serde_json::from_str(l).ok()).collect();
    let engine = Engine::builtin()?;
    let options = AnalyzeOptions::default();
    // warm-up: lazy DFAs, per-region regexes, memo tables
    for r in records.iter().take(2000) {
        black_box(engine.analyze(r, String::new(), &options));
    }
    let start = Instant::now();
    let mut bytes = 0usize;
    for (i, r) in records.iter().enumerate() {
        let a = engine.analyze(r, r.id.clone().unwrap_or_else(|| i.to_string()), &options);
        bytes += serde_json::to_vec(&a).map(|v| v.len()).unwrap_or(0);
    }
    let secs = start.elapsed().as_secs_f64();
    let n = records.len().max(1) as f64;
    println!(
        "{} records in {secs:.2} s: {:.2} µs/message single-threaded ({:.0} messages/s), {bytes} output bytes",
        records.len(),
        secs * 1e6 / n,
        n / secs
    );
    Ok(())
}
