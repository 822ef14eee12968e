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
pub mod feed;
pub mod indicator;
pub mod misp;
pub mod stix;

use std::collections::BTreeMap;

pub use smishtrap_intel::campaign::Campaign;
use uuid::Uuid;

use crate::indicator::Hygiene;

/// Who produced an export (STIX `identity`, MISP `Orgc` name), under which TLP, and what it
/// may ask to block.
#[derive(Debug, Clone)]
pub struct Producer {
    pub name: String,
    pub tlp: Tlp,
    /// What may be blocked ([`indicator`]); carries the sensor's own addresses.
    pub hygiene: Hygiene,
    /// The sensor personas by name (router family and API dialect), to show where each
    /// capture came from; a campaign's routers are `sensor/persona`. Empty: not shown.
    pub personas: BTreeMap<String, PersonaInfo>,
}

/// What a sensor persona emulates (from its data file: `smishtrap personas`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PersonaInfo {
    /// The router family (vendor): `TP-Link`.
    pub family: String,
    /// The API dialect it speaks: `tplink`.
    pub dialect: String,
}

/// One router family and dialect a campaign's messages were captured on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Capture {
    pub family: String,
    pub dialect: String,
    /// Messages of the campaign captured there.
    pub messages: usize,
}

/// Where a campaign's messages were captured: the families and dialects of the sensor
/// personas among its routers (`sensor/persona`), most messages first. Imported messages and
/// unknown personas give none.
pub fn captures(c: &Campaign, producer: &Producer) -> Vec<Capture> {
    let mut out: Vec<Capture> = Vec::new();
    for r in &c.routers {
        let Some(info) = r.value.rsplit_once('/').and_then(|(_, p)| producer.personas.get(p))
        else {
            continue;
        };
        match out.iter_mut().find(|x| x.family == info.family && x.dialect == info.dialect) {
            Some(x) => x.messages += r.count,
            None => out.push(Capture {
                family: human_text(&info.family, 40),
                dialect: human_text(&info.dialect, 40),
                messages: r.count,
            }),
        }
    }
    out.sort_by(|a, b| {
        b.messages
            .cmp(&a.messages)
            .then_with(|| (&a.family, &a.dialect).cmp(&(&b.family, &b.dialect)))
    });
    out
}

impl Default for Producer {
    fn default() -> Producer {
        Producer {
            name: "smishtrap".to_owned(),
            tlp: Tlp::default(),
            // the shipped list is checked by a unit test; an empty one still applies the
            // shortener, official-domain and address rules
            hygiene: Hygiene::builtin(&[]).unwrap_or_default(),
            personas: BTreeMap::new(),
        }
    }
}

/// Traffic Light Protocol 2.0 marking of an export: STIX marking definition and MISP tag.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Tlp {
    Clear,
    Green,
    #[default]
    Amber,
    AmberStrict,
    Red,
}

/// The TLP 2.0 STIX extension (OASIS `cti-stix-common-objects`).
pub const TLP2_EXTENSION: &str = "extension-definition--60a3c5c5-0d10-413e-aab3-9e08dde9e88d";

impl Tlp {
    /// `clear`, `green`, `amber`, `amber+strict`, `red`.
    pub fn as_str(self) -> &'static str {
        match self {
            Tlp::Clear => "clear",
            Tlp::Green => "green",
            Tlp::Amber => "amber",
            Tlp::AmberStrict => "amber+strict",
            Tlp::Red => "red",
        }
    }

    /// The official TLP 2.0 marking-definition id.
    pub fn stix_id(self) -> &'static str {
        match self {
            Tlp::Clear => "marking-definition--94868c89-83c2-464b-929b-a1a8aa3c8487",
            Tlp::Green => "marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb",
            Tlp::Amber => "marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421",
            Tlp::AmberStrict => "marking-definition--939a9414-2ddd-4d32-a0cd-375ea402b003",
            Tlp::Red => "marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1",
        }
    }

    /// The official TLP 2.0 marking-definition object.
    pub fn stix_marking(self) -> serde_json::Value {
        serde_json::json!({
            "type": "marking-definition",
            "spec_version": "2.1",
            "id": self.stix_id(),
            "created": "2022-10-01T00:00:00.000Z",
            "name": format!("TLP:{}", self.as_str().to_ascii_uppercase()),
            "extensions": {
                TLP2_EXTENSION: { "extension_type": "property-extension", "tlp_2_0": self.as_str() }
            },
        })
    }

    /// The MISP taxonomy tag (`tlp:amber`).
    pub fn misp_tag(self) -> String {
        format!("tlp:{}", self.as_str())
    }
}

impl std::str::FromStr for Tlp {
    type Err = String;
    fn from_str(s: &str) -> Result<Tlp, String> {
        let s = s.trim().to_ascii_lowercase();
        let s = s.strip_prefix("tlp:").unwrap_or(&s);
        Ok(match s {
            "clear" | "white" => Tlp::Clear,
            "green" => Tlp::Green,
            "amber" => Tlp::Amber,
            "amber+strict" | "amber-strict" => Tlp::AmberStrict,
            "red" => Tlp::Red,
            _ => return Err(format!("unknown TLP {s:?} (clear, green, amber, amber+strict, red)")),
        })
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
