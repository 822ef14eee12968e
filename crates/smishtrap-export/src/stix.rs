//! STIX 2.1 bundle of campaigns.
//!
//! Per campaign: a `campaign`, an `intrusion-set` standing for its (unnamed) operator
//! (`attributed-to`), an `infrastructure` (`phishing`) the campaign `uses`, SCOs
//! (`domain-name` of the exact host names the links used, `url`, `ipv4-addr`/`ipv6-addr`)
//! the infrastructure `consists-of`, one
//! `indicator` per SCO that `indicates` the campaign, an `observed-data` over the SCOs, and a
//! `note` carrying what STIX 2.1 has no object for: operator phone numbers, routers and
//! sample SMS texts (defanged). One `identity` for the producer is `created_by_ref` of all.
//!
//! SCO ids: UUIDv5 in the STIX namespace `00abedb4-aa42-466c-9c01-fed23315a9b7` over the
//! JCS (RFC 8785) form of `{"value": ...}`; for a one-string object serde_json's output is
//! that canonical form. SDO/SRO ids: UUIDv5 in smishtrap's namespace over their content.

use std::net::IpAddr;

use serde_json::{Value, json};
use uuid::Uuid;

use crate::{Campaign, Producer, brand_or, defang, human_text, id_for};

/// The STIX 2.1 namespace for deterministic SCO ids.
pub const SCO_NAMESPACE: Uuid = Uuid::from_u128(0x00abedb4_aa42_466c_9c01_fed23315a9b7);

/// Used when a campaign has no timestamps at all.
const EPOCH: &str = "1970-01-01T00:00:00.000Z";

/// STIX timestamps: RFC 3339 UTC with milliseconds.
fn ts(value: Option<&str>) -> String {
    value
        .and_then(|v| chrono::DateTime::parse_from_rfc3339(v).ok())
        .map(|t| t.with_timezone(&chrono::Utc).format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string())
        .unwrap_or_else(|| EPOCH.to_owned())
}

/// Deterministic SCO id: `type--uuid5(STIX namespace, JCS({"value": value}))`.
pub fn sco_id(kind: &str, value: &str) -> String {
    let canonical = serde_json::to_string(&json!({ "value": value })).unwrap_or_default();
    format!("{kind}--{}", Uuid::new_v5(&SCO_NAMESPACE, canonical.as_bytes()))
}

/// SDO/SRO ids: STIX asks for UUIDv4, so the UUIDv5 hash of the content gets version 4
/// bits. Still deterministic; the random bits are hash bits.
fn sdo_id(kind: &str, parts: &[&str]) -> String {
    let mut all = vec!["stix", kind];
    all.extend_from_slice(parts);
    format!("{kind}--{}", v4_shaped(id_for(&all)))
}

fn v4_shaped(id: Uuid) -> Uuid {
    uuid::Builder::from_random_bytes(*id.as_bytes()).into_uuid()
}

/// A string inside a STIX pattern: `'` and `\` escaped.
fn pattern_string(value: &str) -> String {
    value.replace('\\', "\\\\").replace('\'', "\\'")
}

/// One observable: its SCO, its indicator pattern and a human name.
struct Observable {
    sco: Value,
    pattern: String,
    shown: String,
    first_seen: Option<String>,
    /// May be blocked (an indicator); otherwise observed context only.
    indicator: bool,
}

fn observables(c: &Campaign, producer: &Producer) -> Vec<Observable> {
    let hygiene = &producer.hygiene;
    let mut out = Vec::new();
    // the exact host names, never their registrable domain (may be a third party's)
    for d in &c.domains {
        let indicator = hygiene.host(&d.host).is_ok();
        let shown = if d.registrable_domain == d.host {
            format!("domain {}", defang(&d.host))
        } else {
            format!("domain {} (under {})", defang(&d.host), defang(&d.registrable_domain))
        };
        out.push(Observable {
            sco: json!({"type": "domain-name", "spec_version": "2.1", "id": sco_id("domain-name", &d.host), "value": d.host}),
            pattern: format!("[domain-name:value = '{}']", pattern_string(&d.host)),
            shown,
            first_seen: d.first_seen.clone(),
            indicator,
        });
    }
    for u in &c.urls {
        let indicator = hygiene.url(&u.host).is_ok();
        out.push(Observable {
            sco: json!({"type": "url", "spec_version": "2.1", "id": sco_id("url", &u.url), "value": u.url}),
            pattern: format!("[url:value = '{}']", pattern_string(&u.url)),
            shown: format!("URL {}", defang(&u.url)),
            first_seen: u.first_seen.clone(),
            indicator,
        });
    }
    for ip in &c.source_ips {
        let Ok(addr) = ip.value.parse::<IpAddr>() else { continue };
        // loopback, private, documentation or our own: not even context worth sharing
        if hygiene.ip(addr).is_err() {
            continue;
        }
        let kind = if addr.is_ipv4() { "ipv4-addr" } else { "ipv6-addr" };
        let value = addr.to_string();
        out.push(Observable {
            sco: json!({"type": kind, "spec_version": "2.1", "id": sco_id(kind, &value), "value": value}),
            pattern: format!("[{kind}:value = '{value}']"),
            shown: format!("sending IP {value}"),
            first_seen: c.first_seen.clone(),
            indicator: true,
        });
    }
    out
}

fn note_content(c: &Campaign) -> String {
    let mut s = format!(
        "{} messages ({} validation sends) to {} recipients in {} waves.\n",
        c.message_count,
        c.validation_messages,
        c.recipients,
        c.waves.len()
    );
    if !c.operator_numbers.is_empty() {
        let nums: Vec<String> = c
            .operator_numbers
            .iter()
            .map(|n| {
                format!("{} ({} test sends, {} failed)", human_text(&n.e164, 40), n.count, n.failed)
            })
            .collect();
        s.push_str(&format!("Operator (validation) numbers: {}.\n", nums.join(", ")));
    }
    if !c.routers.is_empty() {
        let routers: Vec<String> =
            c.routers.iter().take(50).map(|r| human_text(&r.value, 64)).collect();
        s.push_str(&format!("Sending routers: {}.\n", routers.join(", ")));
    }
    if !c.samples.is_empty() {
        s.push_str("Sample messages (links defanged):\n");
        for m in &c.samples {
            s.push_str(&format!(
                "- [{}] {}\n",
                m.ts.as_deref().unwrap_or("undated"),
                human_text(&m.text, 480)
            ));
        }
    }
    s
}

/// The bundle of all campaigns.
pub fn bundle(campaigns: &[Campaign], producer: &Producer) -> Value {
    let created = ts(campaigns.iter().filter_map(|c| c.first_seen.as_deref()).min());
    let identity_id = sdo_id("identity", &[&producer.name]);
    let marking = producer.tlp.stix_id();
    let mut objects = vec![
        producer.tlp.stix_marking(),
        json!({
            "type": "identity",
            "spec_version": "2.1",
            "id": identity_id,
            "created": created,
            "modified": created,
            "name": human_text(&producer.name, 200),
            "identity_class": "system",
            "description": "smishtrap: SMS phishing intelligence from abused cellular routers",
            "object_marking_refs": [marking],
        }),
    ];
    let mut seen_sco = std::collections::HashSet::new();
    for c in campaigns {
        let first = ts(c.first_seen.as_deref());
        let last = ts(c.last_seen.as_deref());
        let common = |kind: &str, id: String| json!({"type": kind, "spec_version": "2.1", "id": id, "created": first, "modified": last, "created_by_ref": identity_id, "object_marking_refs": [marking]});
        let campaign_id = sdo_id("campaign", &[&c.id]);
        let mut campaign = common("campaign", campaign_id.clone());
        let domains: Vec<String> = c.domains.iter().take(20).map(|d| defang(&d.host)).collect();
        let description = format!(
            "SMS phishing campaign impersonating {}: {} messages, {} waves, domains {}.",
            brand_or(c, "no identified brand"),
            c.message_count,
            c.waves.len(),
            if domains.is_empty() { "none".to_owned() } else { domains.join(", ") }
        );
        extend(
            &mut campaign,
            json!({
                "name": human_text(&c.label, 200),
                "description": description,
                "aliases": [c.id],
                "first_seen": first,
                "last_seen": last,
                "objective": "credential and payment theft by SMS phishing",
            }),
        );
        objects.push(campaign);

        let actor_id = sdo_id("intrusion-set", &[&c.id]);
        let mut actor = common("intrusion-set", actor_id.clone());
        extend(
            &mut actor,
            json!({
                "name": format!("Operator of {}", human_text(&c.label, 180)),
                "description": "Unnamed operator, identified by the campaign's validation numbers, templates and infrastructure.",
                "first_seen": first,
                "last_seen": last,
                "resource_level": "individual",
                "primary_motivation": "personal-gain",
            }),
        );
        objects.push(actor);

        let infra_id = sdo_id("infrastructure", &[&c.id]);
        let mut infra = common("infrastructure", infra_id.clone());
        extend(
            &mut infra,
            json!({
                "name": format!("Phishing infrastructure of {}", human_text(&c.label, 180)),
                "infrastructure_types": ["phishing"],
                "first_seen": first,
                "last_seen": last,
            }),
        );
        objects.push(infra);

        let rel = |kind: &str, source: &str, target: &str| {
            let mut r = common("relationship", sdo_id("relationship", &[kind, source, target]));
            extend(
                &mut r,
                json!({"relationship_type": kind, "source_ref": source, "target_ref": target}),
            );
            r
        };
        objects.push(rel("attributed-to", &campaign_id, &actor_id));
        objects.push(rel("uses", &campaign_id, &infra_id));

        // The abused routers the messages were sent through, as the sensors emulated them.
        let caught = crate::captures(c, producer);
        if !caught.is_empty() {
            let routers_id = sdo_id("infrastructure", &[&c.id, "routers"]);
            let mut routers = common("infrastructure", routers_id.clone());
            let shown: Vec<String> = caught
                .iter()
                .map(|x| format!("{} ({} API): {} messages", x.family, x.dialect, x.messages))
                .collect();
            extend(
                &mut routers,
                json!({
                    "name": format!("Cellular routers abused by {}", human_text(&c.label, 170)),
                    "description": format!("Captured on sensors emulating {}.", shown.join("; ")),
                    "infrastructure_types": ["routers-switches"],
                    "first_seen": first,
                    "last_seen": last,
                }),
            );
            objects.push(routers);
            objects.push(rel("uses", &campaign_id, &routers_id));
        }

        let obs = observables(c, producer);
        let mut sco_ids = Vec::new();
        for o in &obs {
            let sid = o.sco.get("id").and_then(Value::as_str).unwrap_or_default().to_owned();
            if seen_sco.insert(sid.clone()) {
                let mut sco = o.sco.clone();
                extend(&mut sco, json!({"object_marking_refs": [marking]}));
                objects.push(sco);
            }
            sco_ids.push(sid.clone());
            if !o.indicator {
                continue;
            }
            let ind_id = sdo_id("indicator", &[&c.id, &o.pattern]);
            let mut ind = common("indicator", ind_id.clone());
            let valid_from = ts(o.first_seen.as_deref().or(c.first_seen.as_deref()));
            extend(
                &mut ind,
                json!({
                    "name": format!("{} ({})", o.shown, human_text(&c.label, 160)),
                "description": format!("Seen in SMS phishing campaign {}: {}", c.id, o.shown),
                    "indicator_types": ["malicious-activity"],
                    "pattern": o.pattern,
                    "pattern_type": "stix",
                    "pattern_version": "2.1",
                    "valid_from": valid_from,
                }),
            );
            objects.push(ind);
            objects.push(rel("indicates", &ind_id, &campaign_id));
            objects.push(rel("consists-of", &infra_id, &sid));
        }
        if !sco_ids.is_empty() {
            let mut observed = common("observed-data", sdo_id("observed-data", &[&c.id]));
            extend(
                &mut observed,
                json!({
                    "first_observed": first,
                    "last_observed": last,
                    "number_observed": c.message_count.clamp(1, 999_999_999),
                    "object_refs": sco_ids,
                }),
            );
            objects.push(observed);
        }
        let mut note = common("note", sdo_id("note", &[&c.id]));
        extend(
            &mut note,
            json!({
                "abstract": format!("Operator numbers and sample messages of {}", human_text(&c.label, 160)),
                "content": note_content(c),
                "object_refs": [campaign_id],
            }),
        );
        objects.push(note);
    }
    let ids: Vec<&str> = campaigns.iter().map(|c| c.id.as_str()).collect();
    json!({
        "type": "bundle",
        "id": format!("bundle--{}", v4_shaped(id_for(&[&["stix-bundle"], ids.as_slice()].concat()))),
        "objects": objects,
    })
}

fn extend(target: &mut Value, more: Value) {
    if let (Some(t), Value::Object(m)) = (target.as_object_mut(), more) {
        t.extend(m);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sco_ids_match_the_stix_reference() {
        // cti-python-stix2: DomainName(value="example.com").id
        assert_eq!(
            sco_id("domain-name", "example.com"),
            "domain-name--bedb4899-d24b-5401-bc86-8f6b4cc18ec7"
        );
    }

    #[test]
    fn patterns_escape_quotes_and_backslashes() {
        assert_eq!(pattern_string("http://a/b'c\\d"), "http://a/b\\'c\\\\d");
    }

    #[test]
    fn timestamps_have_milliseconds() {
        assert_eq!(ts(Some("2023-10-09T10:00:00Z")), "2023-10-09T10:00:00.000Z");
        assert_eq!(ts(None), EPOCH);
        assert_eq!(ts(Some("garbage")), EPOCH);
    }
}
