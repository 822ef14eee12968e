//! Campaigns: groups smishing messages into campaigns and finds the validation phase.
//!
//! Input is one compact [`CampaignInput`] per message (built from an `SmsRecord` and its
//! [`Analysis`]); output is one [`Assignment`] per input (stable campaign id and phase) plus a
//! [`Campaign`] summary per campaign. The pass is global (it needs every message at once),
//! so callers that stream keep only these inputs in memory; holders of millions keep them as
//! [`CompactInputs`] (interned strings, texts in an arena), which cluster the same, and read
//! the pass's outputs piece by piece through [`Pass`] (campaign indexes, one summary at a
//! time) instead of [`Clustering`].
//!
//! How messages are linked (union-find over evidence, see `cluster.rs`):
//! - message templates: variable parts normalised (`template.rs`), exact template hash and
//!   MinHash/LSH near-duplicates;
//! - infrastructure: registrable domains, domain families that rotate (same name, other TLD
//!   or suffix digits), routers, source IPs and sender numbers close in time;
//! - operators: the numbers the validation sends go to (`phase.rs`).
//!
//! Guards keep operators apart: a key shared by messages of more than one brand links only
//! within a brand; domains that also appear in ham, shorteners and short templates make no
//! links; infrastructure links need the same brand and activity within hours.
//!
//! Only messages with verdict `smishing` form campaigns; test sends (`phase: validation`)
//! are attached to the campaign whose wave they precede; ham never joins otherwise.
//!
//! A template (or look-alike domain family) links messages across a pause longer than
//! `Config::quiet_gap_secs` only when they also share infrastructure (link host or domain,
//! router, source IP, sender); a honeypot's router (the sensor) is never evidence.
//!
//! Ids: a pass derives them from content; [`carry_ids`] carries the previous pass's ids over
//! (growth keeps the id, a split leaves it with the larger part, a merge keeps the oldest
//! and aliases the others).
//!
//! Invariants: no I/O, no panics on any input, near-linear time (hash maps keyed by evidence,
//! LSH buckets with bounded representatives), and the result does not depend on input order.

mod cluster;
mod compact;
mod ids;
mod pass;
mod phase;
mod summary;
pub mod template;

use serde::{Deserialize, Serialize};
use smishtrap_event::{Direction, SmsRecord};

use crate::{Analysis, Phase, Verdict};

pub use compact::{CompactInputs, InputRef, InputsRef, UrlRef, Urls};
pub use ids::{Alias, carry_ids};
pub use pass::{Carried, Pass};
pub use summary::{
    Campaign, Count, DomainIndicator, MAX_VALIDATION_SENDS, NumberIndicator, Sample, UrlIndicator,
    ValidationSend, Wave,
};

/// Texts longer than this are cut before clustering (templates and samples need less).
pub const MAX_TEXT_BYTES: usize = 640;
/// At most this many URLs of one message take part.
pub const MAX_URLS_PER_MESSAGE: usize = 8;
/// Identifiers (router, IP, numbers, brand, language) are cut to this many bytes.
const MAX_FIELD_BYTES: usize = 128;

/// One URL of a message, as clustering sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UrlFeature {
    /// Machine value (refanged); defang before showing it.
    pub url: String,
    /// Exact host name (lowercase ASCII/punycode) the link used: the value consumers block
    /// on. Empty for messages outside campaigns and for hosts that are not DNS names.
    pub host: String,
    /// Registrable domain (PSL) of `host`: grouping and clustering key, never an indicator
    /// by itself (`x.fr.com` has registrable domain `fr.com`, a third party's).
    pub domain: Option<String>,
    pub impersonates: Option<String>,
    pub technique: Option<String>,
    pub shortener: bool,
}

/// The compact per-message features campaign clustering needs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CampaignInput {
    /// Position of the message in the caller's input (kept in samples).
    pub index: usize,
    /// Unix seconds, UTC.
    pub ts: Option<i64>,
    pub router: Option<String>,
    pub src_ip: Option<String>,
    /// E.164 sender (inbound messages).
    pub sender: Option<String>,
    /// E.164 recipient (outbound messages).
    pub recipient: Option<String>,
    /// ISO country of the recipient.
    pub recipient_country: Option<String>,
    /// Sent by the router/gateway (outbox, honeypot capture) rather than received.
    pub outbound: bool,
    /// Delivery status as given (`sent`, `failed`, ...), lowercase.
    pub status: Option<String>,
    pub text: String,
    pub verdict: Verdict,
    pub brand: Option<String>,
    pub lang: Option<String>,
    pub urls: Vec<UrlFeature>,
    /// Captured by a honeypot sensor: `router` then names the sensor every attacker talks
    /// to, so it is no evidence that two messages share an operator.
    #[serde(default)]
    pub honeypot: bool,
}

impl CampaignInput {
    /// Builds the features of message `index` from its record and analysis. Messages that
    /// are neither smishing nor short test texts keep only their URLs' domains (text empty).
    pub fn new(index: usize, record: &SmsRecord, analysis: &Analysis) -> CampaignInput {
        let field = |s: &Option<String>| {
            s.as_deref()
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(|s| template::cut(s, MAX_FIELD_BYTES).to_owned())
        };
        let source = record.source.as_deref().map(str::to_ascii_lowercase);
        let honeypot = matches!(source.as_deref(), Some("honeypot" | "sensor"));
        let outbound = match record.direction.as_deref().and_then(Direction::parse) {
            Some(d) => d == Direction::Outbound,
            None => match source.as_deref() {
                Some("inbox") => false,
                Some("outbox" | "honeypot" | "sensor") => true,
                _ => record.to.is_some() && record.from.is_none(),
            },
        };
        // messages outside campaigns matter only as possible test sends (short texts) and
        // for the domains ham uses: keep no more of them, memory is per record
        let keep_text =
            analysis.verdict == Verdict::Smishing || template::is_test_text(&record.text);
        CampaignInput {
            index,
            ts: record.ts.as_deref().and_then(parse_ts),
            router: field(&record.router),
            src_ip: field(&record.src_ip),
            sender: analysis
                .sender
                .as_ref()
                .map(|n| template::cut(&n.e164, MAX_FIELD_BYTES).to_owned()),
            recipient: analysis
                .recipient
                .as_ref()
                .map(|n| template::cut(&n.e164, MAX_FIELD_BYTES).to_owned()),
            recipient_country: analysis
                .recipient
                .as_ref()
                .and_then(|n| n.country.clone())
                .map(|c| template::cut(&c, 8).to_owned()),
            outbound,
            status: field(&record.status).map(|s| s.to_lowercase()),
            text: if keep_text {
                template::cut(&record.text, MAX_TEXT_BYTES).to_owned()
            } else {
                String::new()
            },
            verdict: analysis.verdict,
            brand: field(&analysis.brand),
            lang: field(&analysis.lang),
            urls: analysis
                .urls
                .iter()
                .take(MAX_URLS_PER_MESSAGE)
                .map(|u| UrlFeature {
                    url: if keep_text {
                        template::cut(&u.url, 512).to_owned()
                    } else {
                        String::new()
                    },
                    host: if keep_text { dns_host(&u.host) } else { String::new() },
                    domain: u
                        .registrable_domain
                        .as_deref()
                        .map(|d| template::cut(d, 253).to_ascii_lowercase()),
                    impersonates: u.impersonates.clone(),
                    technique: u.technique.clone(),
                    shortener: u.shortener,
                })
                .collect(),
            honeypot,
        }
    }

    /// The router as evidence of who sent the message: none for honeypot captures.
    pub fn router_evidence(&self) -> Option<&str> {
        InputRef::from(self).router_evidence()
    }

    pub fn failed(&self) -> bool {
        InputRef::from(self).failed()
    }
}

/// `host` as a lowercase DNS name, or empty when it is not one (too long, IP literal
/// with `:`, stray characters): a cut or odd host must never become a block indicator.
fn dns_host(host: &str) -> String {
    let host = host.trim().trim_end_matches('.');
    let plausible = !host.is_empty()
        && host.len() <= 253
        && host.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_'));
    if plausible { host.to_ascii_lowercase() } else { String::new() }
}

/// Parses an RFC 3339 timestamp (or `YYYY-MM-DD HH:MM:SS`, taken as UTC) into Unix seconds.
pub fn parse_ts(s: &str) -> Option<i64> {
    let s = s.trim();
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(s) {
        return Some(t.timestamp());
    }
    for fmt in ["%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M"] {
        if let Ok(t) = chrono::NaiveDateTime::parse_from_str(s, fmt) {
            return Some(t.and_utc().timestamp());
        }
    }
    chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|t| t.and_utc().timestamp())
}

/// RFC 3339 (seconds, `Z`) of Unix seconds.
pub fn format_ts(ts: i64) -> String {
    chrono::DateTime::from_timestamp(ts, 0)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
        .unwrap_or_default()
}

/// What clustering decided for one message.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Assignment {
    pub campaign: Option<String>,
    pub phase: Option<Phase>,
}

/// Tunables; the defaults are the documented behaviour.
#[derive(Debug, Clone)]
pub struct Config {
    /// A pause longer than this between a campaign's messages starts a new wave.
    pub wave_gap_secs: i64,
    /// Test sends are looked for this long before a wave's fan-out starts.
    pub pre_wave_secs: i64,
    /// Routers, source IPs and sender numbers link messages of one brand this close in time.
    pub infra_gap_secs: i64,
    /// After a pause longer than this, a new wave joins an earlier campaign only on shared
    /// infrastructure (link host or domain, router, source IP, sender number), never on
    /// its template alone.
    pub quiet_gap_secs: i64,
    /// Estimated Jaccard similarity from which two templates are near-duplicates.
    pub template_threshold: f64,
    /// Templates with fewer words than this link only through infrastructure.
    pub min_template_words: usize,
    /// URL indicators kept per campaign summary (domains are always all kept).
    pub max_urls_per_campaign: usize,
    /// Sample messages kept per campaign summary.
    pub max_samples: usize,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            wave_gap_secs: 6 * 3600,
            pre_wave_secs: 12 * 3600,
            infra_gap_secs: 12 * 3600,
            quiet_gap_secs: 30 * 24 * 3600,
            template_threshold: 0.6,
            min_template_words: 4,
            max_urls_per_campaign: 1000,
            max_samples: 8,
        }
    }
}

/// The result of a clustering pass.
#[derive(Debug, Clone)]
pub struct Clustering {
    /// One per input, in input order.
    pub assignments: Vec<Assignment>,
    /// Sorted by size (largest first), then id.
    pub campaigns: Vec<Campaign>,
}

/// Campaign id and phase for every input, in input order.
pub fn assign<'a>(inputs: impl Into<InputsRef<'a>>) -> Vec<Assignment> {
    cluster(inputs, &Config::default()).assignments
}

/// Clusters `inputs` (owned [`CampaignInput`]s or [`CompactInputs`]: the same result) into
/// campaigns, with per-message assignments and campaign summaries.
pub fn cluster<'a>(inputs: impl Into<InputsRef<'a>>, cfg: &Config) -> Clustering {
    Pass::new(inputs, cfg).into_clustering()
}

/// Replaces every URL in `text` by its defanged form and escapes control and format
/// characters, for human-facing output (tables, notes, descriptions).
pub fn defang_text(text: &str) -> String {
    let found = smishtrap_extract::extract(text);
    let mut out = String::with_capacity(text.len() + 16);
    let mut at = 0;
    for url in &found.urls {
        let (start, end) = (url.span.start, url.span.end);
        if start < at || end > text.len() {
            continue;
        }
        if let (Some(before), Some(raw)) = (text.get(at..start), text.get(start..end)) {
            push_sanitised(&mut out, before);
            push_sanitised(&mut out, &smishtrap_extract::defang(raw.trim()));
            at = end;
        }
    }
    push_sanitised(&mut out, text.get(at..).unwrap_or(""));
    // a bare domain the URL finder did not take (e.g. without an ICANN suffix) still has dots
    out
}

/// Escapes control and invisible format characters as `\u{..}`.
pub fn sanitise(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    push_sanitised(&mut out, text);
    out
}

fn push_sanitised(out: &mut String, s: &str) {
    for c in s.chars() {
        if c.is_control() || is_format(c) {
            out.push_str(&format!("\\u{{{:x}}}", c as u32));
        } else {
            out.push(c);
        }
    }
}

/// Unicode format characters that reorder or hide text (bidi controls, zero-width).
fn is_format(c: char) -> bool {
    matches!(c as u32, 0x200B..=0x200F | 0x202A..=0x202E | 0x2060..=0x2064 | 0x2066..=0x2069 | 0xFEFF | 0x00AD)
}

#[cfg(test)]
mod tests;
