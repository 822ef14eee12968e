//! The per-message result: the `analyze --format jsonl` contract of DESIGN.md.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    Smishing,
    Spam,
    Ham,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Phase {
    /// A message of a campaign's main sending.
    Wave,
    /// A test send that precedes a wave.
    Validation,
}

/// A phone number as parsed; `e164` is the raw input when it could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NumberInfo {
    pub e164: String,
    /// ISO 3166-1 alpha-2, when known.
    pub country: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UrlInfo {
    /// Normalised (refanged) URL; machine value, defang it before showing it to a person.
    pub url: String,
    pub host: String,
    pub registrable_domain: Option<String>,
    /// Canonical brand name this URL impersonates.
    pub impersonates: Option<String>,
    /// How it impersonates (`combosquatting`, `typosquatting:omission`, `homoglyph`, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub technique: Option<String>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub shortener: bool,
}

/// The analysis of one SMS record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Analysis {
    /// The input id, else the 1-based record number.
    pub id: String,
    pub verdict: Verdict,
    /// 0..1, higher is more likely unwanted.
    pub score: f32,
    pub reasons: Vec<String>,
    /// ISO 639-1.
    pub lang: Option<String>,
    pub recipient: Option<NumberInfo>,
    pub sender: Option<NumberInfo>,
    pub urls: Vec<UrlInfo>,
    pub brand: Option<String>,
    pub campaign: Option<String>,
    pub phase: Option<Phase>,
}
