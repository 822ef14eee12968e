//! Indicator exports of smishing campaigns: STIX 2.1, MISP event JSON, CSV and JSON.
//!
//! Input is the [`Campaign`] summaries of `smishtrap_intel::campaign`; output is bytes or a
//! `serde_json::Value` the CLI writes. Every format is deterministic for the same input:
//! ids are UUIDv5 over content (STIX SCOs use the STIX namespace over the JCS-canonical
//! id-contributing properties, as `cti-python-stix2` and OpenCTI do), and timestamps come
//! from the data (first/last seen), never from the wall clock.
//!
//! Invariant: machine fields (STIX patterns and SCO values, MISP attribute values, the CSV
//! `value` column) carry the real URL or the exact host name the links used, never a
//! registrable domain widened from it (`fr.com` for `x.fr.com` would block a third party;
//! the registrable domain is context only: CSV column, MISP `text`); every human-facing field (names,
//! descriptions, notes, comments, labels, the CSV `defanged` column) is defanged and has
//! control characters escaped. CSV cells are formula-injection safe.
//!
//! Invariant: no I/O.

pub mod csv;
pub mod misp;
pub mod stix;

pub use smishtrap_intel::campaign::Campaign;
use uuid::Uuid;

/// Who produced an export (STIX `identity`, MISP `Orgc` name).
#[derive(Debug, Clone)]
pub struct Producer {
    pub name: String,
}

impl Default for Producer {
    fn default() -> Producer {
        Producer { name: "smishtrap".to_owned() }
    }
}

/// Namespace of smishtrap's own deterministic ids (SDOs, MISP uuids): UUIDv5 of the DNS
/// name `smishtrap.invalid`. Fixed forever; changing it changes every exported id.
pub fn namespace() -> Uuid {
    Uuid::new_v5(&Uuid::NAMESPACE_DNS, b"smishtrap.invalid")
}

/// A deterministic id in smishtrap's namespace for `parts` (joined by NUL).
pub(crate) fn id_for(parts: &[&str]) -> Uuid {
    Uuid::new_v5(&namespace(), parts.join("\u{0}").as_bytes())
}

/// Defanged URL or domain for human-facing fields.
pub fn defang(value: &str) -> String {
    smishtrap_intel::campaign::sanitise(&smishtrap_extract::defang(value))
}

/// Text for human-facing fields: URLs defanged, control characters escaped, bounded.
pub fn human_text(text: &str, max_chars: usize) -> String {
    let shown = smishtrap_intel::campaign::defang_text(text);
    if shown.chars().count() <= max_chars {
        return shown;
    }
    let mut cut: String = shown.chars().take(max_chars).collect();
    cut.push('…');
    cut
}

/// The campaign's brand or a neutral word, for names.
pub(crate) fn brand_or(c: &Campaign, fallback: &str) -> String {
    c.brand.as_deref().map_or_else(|| fallback.to_owned(), smishtrap_intel::campaign::sanitise)
}

/// Plain JSON of the campaigns (machine format: real values, as the summaries hold them).
pub fn json(campaigns: &[Campaign]) -> serde_json::Value {
    serde_json::json!({ "campaigns": campaigns })
}
