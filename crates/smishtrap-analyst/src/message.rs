use sha2::{Digest, Sha256};
use smishtrap_event::SmsRecord;
use smishtrap_intel::Analysis;
use smishtrap_intel::campaign::parse_ts;
use smishtrap_store::NewMessage;

/// Longest text kept in the store; an SMS is far shorter, longer input is cut (on a char
/// boundary) so one hostile record cannot bloat the store or a page.
pub const MAX_STORED_TEXT_BYTES: usize = 16 * 1024;
/// Longest raw number, router or address kept.
const MAX_FIELD_BYTES: usize = 128;

/// The store row of one analysed record. `origin` is `sensor` or `import`; `fallback_micros`
/// is the time used when the record has no parsable `ts` (the event's or the import's).
pub fn message_of(
    record: &SmsRecord,
    analysis: &Analysis,
    origin: &str,
    event_id: Option<&str>,
    fallback_micros: i64,
) -> NewMessage {
    let field = |v: Option<&str>| {
        v.map(str::trim).filter(|s| !s.is_empty()).map(|s| cut(s, MAX_FIELD_BYTES).to_owned())
    };
    let ts_micros = record
        .ts
        .as_deref()
        .and_then(parse_ts)
        .and_then(|secs| secs.checked_mul(1_000_000))
        .unwrap_or(fallback_micros);
    let mut domains = Vec::new();
    for url in &analysis.urls {
        domains.push(url.host.to_ascii_lowercase());
        if let Some(d) = &url.registrable_domain {
            domains.push(d.to_ascii_lowercase());
        }
    }
    domains.sort();
    domains.dedup();
    let mut record = record.clone();
    record.text = cut(&record.text, MAX_STORED_TEXT_BYTES).to_owned();
    NewMessage {
        id: analysis.id.clone(),
        event_id: event_id.map(str::to_owned),
        origin: origin.to_owned(),
        ts_micros,
        recipient: analysis
            .recipient
            .as_ref()
            .map(|n| n.e164.as_str())
            .or(record.to.as_deref())
            .and_then(|v| field(Some(v))),
        country: analysis.recipient.as_ref().and_then(|n| n.country.clone()),
        sender: analysis
            .sender
            .as_ref()
            .map(|n| n.e164.as_str())
            .or(record.from.as_deref())
            .and_then(|v| field(Some(v))),
        router: field(record.router.as_deref()),
        src_ip: field(record.src_ip.as_deref()),
        text: record.text.clone(),
        lang: analysis.lang.clone(),
        verdict: verdict_name(analysis).to_owned(),
        score: analysis.score,
        brand: analysis.brand.clone(),
        domains,
        // Both types serialise infallibly (no maps with non-string keys, floats are finite
        // or written as null).
        record: serde_json::to_string(&record).unwrap_or_else(|_| "null".into()),
        analysis: serde_json::to_string(analysis).unwrap_or_else(|_| "null".into()),
    }
}

fn verdict_name(analysis: &Analysis) -> &'static str {
    match analysis.verdict {
        smishtrap_intel::Verdict::Smishing => "smishing",
        smishtrap_intel::Verdict::Spam => "spam",
        smishtrap_intel::Verdict::Ham => "ham",
    }
}

/// The message id of an imported record: a digest of what identifies the message (its own
/// id, time, numbers, router, text) plus its record number, so importing the same file twice
/// stores nothing new, while identical texts to different numbers stay distinct messages.
pub fn import_id(record: &SmsRecord, record_number: u64) -> String {
    let mut hash = Sha256::new();
    for part in [
        record.id.as_deref(),
        record.ts.as_deref(),
        record.to.as_deref(),
        record.from.as_deref(),
        record.router.as_deref(),
        Some(record.text.as_str()),
    ] {
        // Length-prefixed, so field boundaries cannot shift.
        let part = part.unwrap_or("");
        hash.update((part.len() as u64).to_le_bytes());
        hash.update(part.as_bytes());
    }
    let digest = hash.finalize();
    format!("imp-{}-{record_number}", hex::encode(digest.get(..8).unwrap_or(&[])))
}

fn cut(s: &str, max: usize) -> &str {
    let mut end = s.len().min(max);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s.get(..end).unwrap_or("")
}

#[cfg(test)]
mod tests {
    use smishtrap_intel::{AnalyzeOptions, Engine};

    use super::*;

    fn check(record: SmsRecord, expect: (&str, Option<&str>, Option<&str>, &[&str])) {
        let engine = Engine::builtin().unwrap_or_else(|e| panic!("{e}"));
        let analysis = engine.analyze(&record, "m1".into(), &AnalyzeOptions::default());
        let m = message_of(&record, &analysis, "import", None, 7);
        let domains: Vec<&str> = m.domains.iter().map(String::as_str).collect();
        assert_eq!(
            (m.verdict.as_str(), m.recipient.as_deref(), m.country.as_deref(), domains.as_slice()),
            expect
        );
        let back: SmsRecord = serde_json::from_str(&m.record).unwrap_or_else(|e| panic!("{e}"));
        assert!(record.text.starts_with(&back.text));
        let back: Analysis = serde_json::from_str(&m.analysis).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(back, analysis);
    }

    fn record(to: &str, text: &str) -> SmsRecord {
        SmsRecord { to: Some(to.into()), text: text.into(), ..Default::default() }
    }

    #[test]
    fn rows_carry_the_analysis() {
        check(
            record(
                "+32470123456",
                "CSAM: uw identiteit verloopt vandaag, bevestig via https://login.csam-be.info/x",
            ),
            ("smishing", Some("+32470123456"), Some("BE"), &["csam-be.info", "login.csam-be.info"]),
        );
        check(record("not a number", "see you at 8"), ("ham", Some("not a number"), None, &[]));
        check(
            record("+46701234567", &"é".repeat(20_000)),
            ("ham", Some("+46701234567"), Some("SE"), &[]),
        );
    }

    #[test]
    fn import_ids_are_stable_and_distinct() {
        let a = record("+32470123456", "hello");
        let b = record("+32470123457", "hello");
        assert_eq!(import_id(&a, 1), import_id(&a.clone(), 1));
        assert_ne!(import_id(&a, 1), import_id(&b, 1));
        assert_ne!(import_id(&a, 1), import_id(&a, 2));
        assert!(import_id(&a, 1).starts_with("imp-"));
    }
}
