//! Fuzzes the whole per-message analysis (brands, impersonation, cues, model, verdict) with
//! arbitrary text and recipient bytes decoded lossily, as `analyze` reads them.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use smishtrap_event::SmsRecord;
use smishtrap_intel::{AnalyzeOptions, Engine, Verdict};

fn engine() -> &'static Engine {
    static E: OnceLock<Engine> = OnceLock::new();
    E.get_or_init(|| Engine::builtin().expect("builtin engine data is valid"))
}

fuzz_target!(|data: &[u8]| {
    let (to, text) = match data.iter().position(|b| *b == 0) {
        Some(i) => (Some(String::from_utf8_lossy(&data[..i]).into_owned()), &data[i + 1..]),
        None => (None, data),
    };
    let record = SmsRecord { text: String::from_utf8_lossy(text).into_owned(), to, ..SmsRecord::default() };
    let a = engine().analyze(&record, "f".into(), &AnalyzeOptions { default_region: Some("BE".into()) });
    assert!((0.0..=1.0).contains(&a.score));
    assert_eq!(a.verdict != Verdict::Ham, a.score >= 0.5);
    for r in &a.reasons {
        assert!(!r.contains("http://") && !r.contains("https://"), "live link in a reason: {r}");
    }
});
