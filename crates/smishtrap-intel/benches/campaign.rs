//! Campaign clustering throughput: the dev corpus analysed once, then copied with other
//! routers, recipients and times into 100,000 compact inputs (`SMISHTRAP_BENCH_MESSAGES`
//! to change), clustered per iteration.
//! `bench/campaigns-1m.sh` measures a million records end to end through the binary.

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use smishtrap_intel::campaign::{CampaignInput, Config, cluster};
use smishtrap_intel::{AnalyzeOptions, Engine};

fn corpus() -> Vec<CampaignInput> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/data/smish-dev.jsonl");
    let body = std::fs::read_to_string(&path).unwrap_or_default();
    let Ok(engine) = Engine::builtin() else { return Vec::new() };
    body.lines()
        .enumerate()
        .filter_map(|(i, line)| {
            let record: smishtrap_event::SmsRecord = serde_json::from_str(line).ok()?;
            let analysis = engine.analyze(&record, i.to_string(), &AnalyzeOptions::default());
            Some(CampaignInput::new(i, &record, &analysis))
        })
        .collect()
}

fn mutate(base: &[CampaignInput], n: usize) -> Vec<CampaignInput> {
    let mut out = Vec::with_capacity(n);
    let mut copy = 0u64;
    while out.len() < n && !base.is_empty() {
        for m in base {
            if out.len() >= n {
                break;
            }
            let mut m = m.clone();
            m.index = out.len();
            m.ts = m.ts.map(|t| t + copy as i64 * 3 * 86_400);
            m.router = m.router.map(|r| format!("{r}-{copy}"));
            m.recipient = m.recipient.map(|r| {
                let keep = r.len().saturating_sub(5);
                let tail: u64 = r.get(keep..).and_then(|t| t.parse().ok()).unwrap_or(0);
                format!("{}{:05}", r.get(..keep).unwrap_or(""), (tail + copy * 7919) % 100_000)
            });
            out.push(m);
        }
        copy += 1;
    }
    out
}

fn bench(c: &mut Criterion) {
    let base = corpus();
    if base.is_empty() {
        return;
    }
    // SMISHTRAP_BENCH_MESSAGES overrides the size (e.g. 1000000)
    let n = std::env::var("SMISHTRAP_BENCH_MESSAGES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000);
    let inputs = mutate(&base, n);
    let mut group = c.benchmark_group("campaign");
    group.sample_size(10);
    group.throughput(Throughput::Elements(inputs.len() as u64));
    group.bench_function(format!("cluster_{n}"), |b| {
        b.iter(|| black_box(cluster(black_box(&inputs), &Config::default())))
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
