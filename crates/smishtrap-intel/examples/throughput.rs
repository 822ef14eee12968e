//! Single-thread cost of the per-message pipeline (analyse + JSON) on a JSONL file, for
//! profiling without the CLI's threads and I/O (`perf record` works well on it), followed by
//! the cost and allocations of each stage on its own.
//!
//! ```text
//! cargo run --release -p smishtrap-intel --example throughput -- FILE.jsonl [MAX_RECORDS]
//! ```

#![allow(clippy::print_stdout, reason = "a command-line tool")]

use std::hint::black_box;
use std::time::Instant;

use anyhow::Context;
use smishtrap_event::SmsRecord;
use smishtrap_intel::model::{Model, URL_PLACEHOLDER};
use smishtrap_intel::{AnalyzeOptions, Engine};

/// Parts of the input timed separately per stage.
const PARTS: usize = 5;

/// Runs `stage` over every input (after a warm-up) and prints the fastest part's µs and allocations per input.
fn time<T>(name: &str, inputs: &[T], mut stage: impl FnMut(&T)) {
    for x in inputs.iter().take(2000) {
        stage(x);
    }
    // the fastest of several parts of the input: the least disturbed by other work on the
    // machine (parts, not repeated passes, so that memo tables see each input once)
    let part = inputs.len().div_ceil(PARTS).max(1);
    let mut per_input = f64::MAX;
    for chunk in inputs.chunks(part) {
        let start = Instant::now();
        for x in chunk {
            stage(x);
        }
        per_input = per_input.min(start.elapsed().as_secs_f64() / chunk.len() as f64);
    }
    // a second pass counts allocations (the counting allocator is slower than the system's)
    let counted = allocation_counter::measure(|| {
        for x in inputs {
            stage(x);
        }
    });
    let n = inputs.len().max(1) as f64;
    let allocs = counted.count_total as f64 / n;
    println!("  {name:<22} {:>7.3} µs  {allocs:>6.1} allocations", per_input * 1e6);
}

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let path = args.next().context("usage: throughput FILE.jsonl [MAX_RECORDS]")?;
    let max: usize = match args.next() {
        Some(n) => n.parse().context("MAX_RECORDS must be a number")?,
        None => usize::MAX,
    };
    let text = std::fs::read_to_string(&path).with_context(|| format!("reading {path}"))?;
    let lines: Vec<&str> = text.lines().take(max).collect();
    let records: Vec<SmsRecord> =
        lines.iter().filter_map(|l| serde_json::from_str(l).ok()).collect();
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

    println!("stages, each on its own:");
    time("pipeline", &records, |r| {
        let a = engine.analyze(r, String::new(), &options);
        black_box(serde_json::to_vec(&a).ok());
    });
    time("parse record", &lines, |l| {
        black_box(serde_json::from_str::<SmsRecord>(l).ok());
    });
    time("analyze", &records, |r| {
        black_box(engine.analyze(r, String::new(), &options));
    });
    let analyses: Vec<_> =
        records.iter().map(|r| engine.analyze(r, String::new(), &options)).collect();
    time("serialize", &analyses, |a| {
        black_box(serde_json::to_vec(a).ok());
    });
    time("extract", &records, |r| {
        black_box(smishtrap_extract::extract_with(&r.text, r.router_country.as_deref()));
    });
    time("recipient number", &records, |r| {
        if let Some(to) = &r.to {
            black_box(smishtrap_extract::parse_number(to, r.router_country.as_deref()).ok());
        }
    });
    time("language", &records, |r| {
        black_box(smishtrap_extract::detect_language(&r.text));
    });
    time("fold", &records, |r| {
        black_box(smishtrap_intel::text::fold(&r.text));
    });
    let folded: Vec<(String, String)> = records
        .iter()
        .map(|r| {
            let words = format!("{}{URL_PLACEHOLDER}", r.text);
            (smishtrap_intel::text::fold(&words), words)
        })
        .collect();
    let model = Model::builtin()?;
    time("model", &folded, |(folded, words)| {
        black_box(model.logit_folded(folded, words));
    });
    Ok(())
}
