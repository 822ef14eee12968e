//! What several of the analyst's test crates build their records from.

#![allow(dead_code, reason = "each test crate uses part of it")]

use smishtrap_event::SmsRecord;
use smishtrap_intel::campaign;

/// The campaign fixture shared with the binary's tests.
pub(crate) const FIXTURE: &str =
    include_str!("../../../smishtrap/tests/campaign_fixtures/small.jsonl");

pub(crate) fn ok<T, E: std::fmt::Display>(r: Result<T, E>) -> T {
    r.unwrap_or_else(|e| panic!("{e}"))
}

/// The fixture's records in `copies` copies, each on other routers and numbers and three
/// days after the previous one (so each copy's campaigns are campaigns of their own).
pub(crate) fn fixture_copies(copies: i64) -> Vec<SmsRecord> {
    let base: Vec<SmsRecord> = FIXTURE
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| ok(serde_json::from_str(l)))
        .collect();
    let mut out = Vec::new();
    for copy in 0..copies {
        for r in &base {
            let mut r = r.clone();
            r.id = r.id.map(|id| format!("{id}-{copy}"));
            r.router = r.router.map(|x| format!("{x}-{copy}"));
            r.to = r.to.map(|to| format!("{to}{copy}"));
            r.ts =
                r.ts.as_deref()
                    .and_then(campaign::parse_ts)
                    .map(|t| campaign::format_ts(t + copy * 3 * 86_400));
            out.push(r);
        }
    }
    out
}
