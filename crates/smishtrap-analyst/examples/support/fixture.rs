//! Copies of analysed records with their own times, link domains and numbers, shared by the
//! memory benchmarks (`fixture_store.rs`, `held_memory.rs`; see `fixture_store.rs`'s doc).

use std::io::BufRead;

use rayon::prelude::*;
use smishtrap_event::SmsRecord;
use smishtrap_intel::{Analysis, AnalyzeOptions, Engine};

/// 2024-01-01T00:00:00Z: the first copy's start.
const START: i64 = 1_704_067_200;
const DAY: i64 = 86_400;
/// A copy's messages spread over this many seconds ...
const COPY_WINDOW: i64 = 20 * DAY;
/// ... and copies start this far apart (more than the window plus the 30-day quiet gap).
const COPY_SPAN: i64 = 60 * DAY;

/// The first `pool` records of `path`, each with its analysis by the builtin engine.
pub(crate) fn analysed_pool(path: &str, pool: usize) -> anyhow::Result<Vec<(SmsRecord, Analysis)>> {
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

/// Message `k`: copy `k / pool` of pool record `k % pool`, and its time in microseconds.
pub(crate) fn copy(base: &[(SmsRecord, Analysis)], k: usize) -> (SmsRecord, Analysis, i64) {
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
    (record, analysis, ts.saturating_mul(1_000_000))
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
