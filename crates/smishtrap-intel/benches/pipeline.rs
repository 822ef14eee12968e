//! Per-message pipeline: extraction, brands, impersonation, cues, model, verdict.
//! `cargo bench -p smishtrap-intel --bench pipeline`

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use smishtrap_event::SmsRecord;
use smishtrap_intel::{AnalyzeOptions, Engine};

const MESSAGES: &[&str] = &[
    "CSAM: uw account wordt op 7/11 gedeactiveerd. Werk uw gegevens bij: https://csam-be.info/verif/x1",
    "PostNord: Ditt paket väntar på leverans. Bekräfta adressen och betala tullavgiften 5,41 kr: https://postnord-se.delivery-id.com/a",
    "Nieuw bericht in uw eBox. Bekijk het veilig via https://myebox.be",
    "Alarm: DI1 changed to HIGH at site LRKBAG",
    "WIN a brand new iPhone! Reply YES to enter today's draw. 18+ T&Cs apply",
    "Ok lar... Joking wif u oni...",
    "ANTAI : avis de contravention impayé. Réglez 35 € avant majoration : antai-gouv.paiement-amende[.]com/x",
    "URGENT! You have won a £1000 prize. Call 09061701461 now to claim",
];

fn bench(c: &mut Criterion) {
    let engine = match Engine::builtin() {
        Ok(e) => e,
        Err(e) => panic!("engine: {e}"),
    };
    let records: Vec<SmsRecord> = MESSAGES
        .iter()
        .map(|t| SmsRecord {
            text: (*t).to_string(),
            to: Some("+32470123456".into()),
            ..SmsRecord::default()
        })
        .collect();
    let options = AnalyzeOptions::default();
    let mut group = c.benchmark_group("analyze");
    group.throughput(Throughput::Elements(records.len() as u64));
    group.bench_function("mixed messages", |b| {
        b.iter(|| {
            for r in &records {
                black_box(engine.analyze(black_box(r), String::new(), &options));
            }
        })
    });
    group.finish();
    c.bench_function("engine load", |b| b.iter(|| black_box(Engine::builtin().is_ok())));
}

criterion_group!(benches, bench);
criterion_main!(benches);
