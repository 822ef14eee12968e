//! Per-message cost of extraction and language detection on realistic SMS texts.
//!
//! `cargo bench -p smishtrap-extract --bench extract`; the figure to read is the time per
//! iteration of `extract+lang/message` (one message per iteration, cycling the sample).
#![allow(missing_docs, clippy::unwrap_used)]

use criterion::{Criterion, Throughput, black_box, criterion_group, criterion_main};
use smishtrap_extract::{detect_language, extract, extract_with, parse_number};

/// Realistic texts: the crate's language fixtures plus link- and number-heavy lures.
fn sample() -> Vec<String> {
    let mut v: Vec<String> = include_str!("../tests/fixtures/lang.tsv")
        .lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| l.split_once('\t').map(|(_, t)| t.to_owned()))
        .collect();
    v.extend(
        [
            "CSAM: uw identiteit moet worden bevestigd voor 24/11. Ga naar https://csam-be.info/verify om blokkering te vermijden.",
            "eBox: nieuw document. Bekijk het via hxxps://myebox-be[.]com/doc?id=88213",
            "Skatteverket: Du har en återbetalning på 2 340 kr. Logga in med BankID: skv-aterbetalning.top/se",
            "Poste Italiane: il tuo pacco è in giacenza. Paga 1,99 EUR su https://poste-it.delivery-check.xyz",
            "Ameli: votre carte vitale expire. Renouvelez-la sur ameli-remboursement.fr/form avant le 30/11",
            "Your account is locked. Call +44 20 7946 0958 or visit bit.ly/3xYzAbc to unlock.",
            "Appelez le 06 12 34 56 78 pour confirmer votre livraison.",
            "Alarm: DI1 input changed at 2024-05-12 10:30, router UR35 192.168.1.1",
            "STOP",
            "test",
        ]
        .map(str::to_owned),
    );
    v
}

fn bench(c: &mut Criterion) {
    let texts = sample();
    let mut g = c.benchmark_group("extract+lang");
    g.throughput(Throughput::Elements(1));
    let mut i = 0usize;
    g.bench_function("message", |b| {
        b.iter(|| {
            i = (i + 1) % texts.len();
            let t = &texts[i];
            (black_box(extract(black_box(t))), black_box(detect_language(black_box(t))))
        })
    });
    let mut i = 0usize;
    g.bench_function("extract_only", |b| {
        b.iter(|| {
            i = (i + 1) % texts.len();
            black_box(extract_with(black_box(&texts[i]), Some("BE")))
        })
    });
    let mut i = 0usize;
    g.bench_function("lang_only", |b| {
        b.iter(|| {
            i = (i + 1) % texts.len();
            black_box(detect_language(black_box(&texts[i])))
        })
    });
    let numbers = ["+32470123456", "0032 470 12 34 56", "0470 12 34 56", "46701234567", "bogus"];
    let mut i = 0usize;
    g.bench_function("parse_number", |b| {
        b.iter(|| {
            i = (i + 1) % numbers.len();
            black_box(parse_number(black_box(numbers[i]), Some("BE")))
        })
    });
    // every number new: the per-thread memo never hits
    let mut n = 0u64;
    g.bench_function("parse_number_uncached", |b| {
        b.iter(|| {
            n += 1;
            let raw = match n % 3 {
                0 => format!("+3247{:07}", n % 10_000_000),
                1 => format!("0046 70{:07}", n % 10_000_000),
                _ => format!("06{:08}", n % 100_000_000),
            };
            black_box(parse_number(black_box(&raw), Some("FR")))
        })
    });
    // worst cases: texts at the 8 KiB cap built to stress each scanner
    let hostile: Vec<String> = vec![
        "a.".repeat(4096),
        format!("http://a.com/{}", ")".repeat(8000)),
        "[.]".repeat(2730),
        "0 ".repeat(4096),
        "+32 470 ".repeat(1024),
        "x.com/ ".repeat(1170),
        "hxxp[:]//a[.]b ".repeat(546),
        "é".repeat(4096),
    ];
    let mut i = 0usize;
    g.bench_function("hostile_8k", |b| {
        b.iter(|| {
            i = (i + 1) % hostile.len();
            let t = &hostile[i];
            (
                black_box(extract_with(black_box(t), Some("BE"))),
                black_box(detect_language(black_box(t))),
            )
        })
    });
    // the reference the fast detector derives from, for comparison only
    let lingua = lingua::LanguageDetectorBuilder::from_iso_codes_639_1(&[
        lingua::IsoCode639_1::NL,
        lingua::IsoCode639_1::FR,
        lingua::IsoCode639_1::SV,
        lingua::IsoCode639_1::IT,
        lingua::IsoCode639_1::EN,
        lingua::IsoCode639_1::ES,
        lingua::IsoCode639_1::DE,
        lingua::IsoCode639_1::PT,
        lingua::IsoCode639_1::DA,
        lingua::IsoCode639_1::NB,
        lingua::IsoCode639_1::NN,
        lingua::IsoCode639_1::FI,
        lingua::IsoCode639_1::PL,
    ])
    .with_low_accuracy_mode()
    .with_preloaded_language_models()
    .build();
    let mut i = 0usize;
    g.bench_function("lingua_low_accuracy_reference", |b| {
        b.iter(|| {
            i = (i + 1) % texts.len();
            black_box(lingua.detect_language_of(black_box(texts[i].as_str())))
        })
    });
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(30).warm_up_time(std::time::Duration::from_secs(1)).measurement_time(std::time::Duration::from_secs(3));
    targets = bench
}
criterion_main!(benches);
