//! Messages written for this test (not from the dev corpora): brands, languages, wording and
//! domains the model never saw, plus ordinary messages in the same languages. Guards the
//! generalisation the hidden evaluation corpus checks.

use smishtrap_event::SmsRecord;
use smishtrap_intel::{AnalyzeOptions, Engine, Verdict};

#[derive(serde::Deserialize)]
struct Case {
    id: String,
    text: String,
    /// smishing | spam | ham | not-smishing
    expect_verdict: String,
    expect_brand: Option<String>,
}

fn check(engine: &Engine, case: &Case) -> Result<(), String> {
    let record = SmsRecord { text: case.text.clone(), ..SmsRecord::default() };
    let a = engine.analyze(&record, case.id.clone(), &AnalyzeOptions::default());
    let verdict_ok = match case.expect_verdict.as_str() {
        "smishing" => a.verdict == Verdict::Smishing,
        "spam" => a.verdict == Verdict::Spam,
        "ham" => a.verdict == Verdict::Ham,
        "not-smishing" => a.verdict != Verdict::Smishing,
        other => return Err(format!("{}: unknown expectation {other}", case.id)),
    };
    if !verdict_ok || a.brand != case.expect_brand {
        return Err(format!(
            "{}: expected {} / {:?}, got {:?} / {:?} ({:?}) for {:?}",
            case.id,
            case.expect_verdict,
            case.expect_brand,
            a.verdict,
            a.brand,
            a.reasons,
            case.text
        ));
    }
    Ok(())
}

#[test]
fn unseen_brands_languages_and_wording() {
    let engine = match Engine::builtin() {
        Ok(e) => e,
        Err(e) => panic!("{e}"),
    };
    let text = include_str!("fixtures/unseen.jsonl");
    let failures: Vec<String> = text
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str::<Case>(l).map_err(|e| format!("bad fixture line {l}: {e}")))
        .filter_map(|c| c.and_then(|c| check(&engine, &c)).err())
        .collect();
    assert!(failures.is_empty(), "{} failures:\n{}", failures.len(), failures.join("\n"));
}
