//! MISP event JSON (MISP core format), one event per campaign or one event for all.
//!
//! Objects (templates from `MISP/misp-objects`, uuid and version pinned below):
//! `short-message-service` per sample SMS, `phishing` and `domain-ip` per host name the
//! links used (the exact host, never widened to its registrable domain, which goes in the
//! `domain-ip` `text` only, as context), `url`
//! per URL, `phone-number` per operator number. `to_ids` is set on what a network sensor
//! can match (URLs, domains, sending IPs) and left off phone numbers, texts and dates.
//! `to_ids` is off on hosts that may not be blocked (`crate::indicator`: shorteners,
//! platforms, official domains), whose URLs carry it instead; non-public and own addresses
//! are left out. Tags: `phishing:techniques="sms-phishing"`,
//! `phishing:distribution="bulk-phishing"` and the producer's TLP (`tlp:amber` by default,
//! the level of the STIX marking). Instance-specific fields (`id`, `org_id`, `Org`) are left out so the
//! events import anywhere.

use std::net::IpAddr;

use serde_json::{Value, json};

use crate::{Campaign, Producer, defang, human_text, id_for};

/// Whether to write one event per campaign or one event holding all campaigns.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Mode {
    #[default]
    PerCampaign,
    Single,
}

const SMS: (&str, &str, u32) = ("short-message-service", "4851a3dc-e1a6-43ac-9d97-f0d13a099fd2", 4);
const PHISHING: (&str, &str, u32) = ("phishing", "2dad6f9d-d425-4217-8fda-0b0a2d815307", 7);
const URL: (&str, &str, u32) = ("url", "60efb77b-40b5-4c46-871b-ed1ed999fce5", 10);
const DOMAIN_IP: (&str, &str, u32) = ("domain-ip", "43b3b146-77eb-4931-b4cc-b66c60f28734", 11);
const PHONE: (&str, &str, u32) = ("phone-number", "c4b5a67c-63d2-11ec-90d6-0242ac120003", 1);

fn unix(value: Option<&str>) -> i64 {
    value.and_then(|v| chrono::DateTime::parse_from_rfc3339(v).ok()).map_or(0, |t| t.timestamp())
}

fn date(value: Option<&str>) -> String {
    value.and_then(|v| v.get(..10)).filter(|d| d.len() == 10).unwrap_or("1970-01-01").to_owned()
}

struct Builder<'a> {
    scope: &'a str,
    timestamp: String,
}

impl Builder<'_> {
    fn uuid(&self, parts: &[&str]) -> String {
        let mut all = vec!["misp", self.scope];
        all.extend_from_slice(parts);
        id_for(&all).to_string()
    }

    #[allow(clippy::too_many_arguments, reason = "mirrors the MISP attribute fields")]
    fn attribute(
        &self,
        key: &[&str],
        relation: Option<&str>,
        kind: &str,
        category: &str,
        value: &str,
        to_ids: bool,
        comment: &str,
    ) -> Value {
        let mut a = json!({
            "uuid": self.uuid(&[&["attribute"], key].concat()),
            "type": kind,
            "category": category,
            "value": value,
            "to_ids": to_ids,
            "distribution": "5",
            "timestamp": self.timestamp,
            "comment": comment,
            "deleted": false,
            "disable_correlation": false,
        });
        if let (Some(rel), Some(obj)) = (relation, a.as_object_mut()) {
            obj.insert("object_relation".into(), json!(rel));
        }
        a
    }

    fn object(
        &self,
        template: (&str, &str, u32),
        key: &[&str],
        comment: &str,
        attributes: Vec<Value>,
    ) -> Value {
        let (name, uuid, version) = template;
        let meta = match name {
            "short-message-service" => "misc",
            "phone-number" => "misc",
            _ => "network",
        };
        json!({
            "uuid": self.uuid(&[&["object", name], key].concat()),
            "name": name,
            "meta-category": meta,
            "description": format!("{name} observed in an SMS phishing campaign"),
            "template_uuid": uuid,
            "template_version": version.to_string(),
            "distribution": "5",
            "sharing_group_id": "0",
            "timestamp": self.timestamp,
            "comment": comment,
            "deleted": false,
            "Attribute": attributes,
        })
    }
}

fn campaign_content(
    c: &Campaign,
    producer: &Producer,
    b: &Builder<'_>,
    attributes: &mut Vec<Value>,
    objects: &mut Vec<Value>,
) {
    let label = human_text(&c.label, 200);
    attributes.push(b.attribute(
        &[&c.id, "campaign-name"],
        None,
        "campaign-name",
        "Attribution",
        &label,
        false,
        &format!("smishtrap campaign {}", c.id),
    ));
    // Where the messages were captured: the router family and API dialect of each persona.
    for x in crate::captures(c, producer) {
        attributes.push(b.attribute(
            &[&c.id, "capture", &x.family, &x.dialect],
            None,
            "text",
            "Other",
            &format!(
                "captured on a {} router emulation ({} API), {} messages",
                x.family, x.dialect, x.messages
            ),
            false,
            "smishtrap capture: router family and API dialect",
        ));
    }
    let hygiene = &producer.hygiene;
    for ip in &c.source_ips {
        if let Ok(addr) = ip.value.parse::<IpAddr>()
            && hygiene.ip(addr).is_ok()
        {
            attributes.push(b.attribute(
                &[&c.id, "ip-src", &addr.to_string()],
                None,
                "ip-src",
                "Network activity",
                &addr.to_string(),
                true,
                &format!("sent smishing through router APIs ({} messages)", ip.count),
            ));
        }
    }
    for d in &c.domains {
        // a shortener, platform or brand's own host is context: its URLs are the indicators
        let blockable = hygiene.host(&d.host);
        let target = d.impersonates.clone().or_else(|| c.brand.clone());
        let comment = match (&d.impersonates, &d.technique) {
            (Some(brand), Some(t)) => format!(
                "{} imitates {} ({})",
                defang(&d.host),
                human_text(brand, 80),
                human_text(t, 60)
            ),
            (Some(brand), None) => {
                format!("{} imitates {}", defang(&d.host), human_text(brand, 80))
            }
            _ => format!("{} linked from smishing", defang(&d.host)),
        };
        let comment = match &blockable {
            Ok(()) => comment,
            Err(why) => format!("{comment}; not to block: {}", why.describe()),
        };
        let to_ids = blockable.is_ok();
        let mut attrs = vec![b.attribute(
            &[&c.id, "dip", &d.host],
            Some("domain"),
            "domain",
            "Network activity",
            &d.host,
            to_ids,
            "",
        )];
        if let Some(f) = d.first_seen.as_deref() {
            attrs.push(b.attribute(
                &[&c.id, "dip-first", &d.host],
                Some("first-seen"),
                "datetime",
                "Other",
                f,
                false,
                "",
            ));
        }
        if let Some(l) = d.last_seen.as_deref() {
            attrs.push(b.attribute(
                &[&c.id, "dip-last", &d.host],
                Some("last-seen"),
                "datetime",
                "Other",
                l,
                false,
                "",
            ));
        }
        // the parent is context only: a `text`, so nothing matches or blocks on it
        if d.registrable_domain != d.host {
            attrs.push(b.attribute(
                &[&c.id, "dip-parent", &d.host],
                Some("text"),
                "text",
                "Other",
                &format!(
                    "registrable domain {} (may be a third party's; not an indicator)",
                    defang(&d.registrable_domain)
                ),
                false,
                "",
            ));
        }
        objects.push(b.object(DOMAIN_IP, &[&c.id, &d.host], &comment, attrs));

        // phishing: the domain's most used URL as the lure
        let Some(url) = c.urls.iter().find(|u| u.host == d.host) else {
            continue;
        };
        let mut attrs = vec![
            b.attribute(
                &[&c.id, "ph-url", &url.url],
                Some("url"),
                "url",
                "Payload delivery",
                &url.url,
                hygiene.url(&url.host).is_ok(),
                "",
            ),
            b.attribute(
                &[&c.id, "ph-host", &d.host],
                Some("hostname"),
                "hostname",
                "Network activity",
                &d.host,
                to_ids,
                "",
            ),
        ];
        if let Some(t) = target {
            attrs.push(b.attribute(
                &[&c.id, "ph-target", &d.host],
                Some("target"),
                "text",
                "Other",
                &human_text(&t, 120),
                false,
                "",
            ));
        }
        objects.push(b.object(PHISHING, &[&c.id, &d.host], &comment, attrs));
    }
    for u in &c.urls {
        let mut attrs = vec![b.attribute(
            &[&c.id, "url", &u.url],
            Some("url"),
            "url",
            "Network activity",
            &u.url,
            hygiene.url(&u.host).is_ok(),
            "",
        )];
        // the host, not the registrable domain: a `domain` attribute of `fr.com` for
        // `x.fr.com/...` would correlate (and be blocked) as a third party's domain
        if !u.host.is_empty() {
            attrs.push(b.attribute(
                &[&c.id, "url-host", &u.url],
                Some("host"),
                "hostname",
                "Network activity",
                &u.host,
                false,
                "",
            ));
        }
        if let Some(f) = u.first_seen.as_deref() {
            attrs.push(b.attribute(
                &[&c.id, "url-first", &u.url],
                Some("first-seen"),
                "datetime",
                "Other",
                f,
                false,
                "",
            ));
        }
        if let Some(l) = u.last_seen.as_deref() {
            attrs.push(b.attribute(
                &[&c.id, "url-last", &u.url],
                Some("last-seen"),
                "datetime",
                "Other",
                l,
                false,
                "",
            ));
        }
        objects.push(b.object(
            URL,
            &[&c.id, &u.url],
            &format!("{} ({} messages)", defang(&u.url), u.count),
            attrs,
        ));
    }
    for n in &c.operator_numbers {
        let mut attrs = vec![b.attribute(
            &[&c.id, "phone", &n.e164],
            Some("phone-number"),
            "phone-number",
            "Other",
            &n.e164,
            false,
            "",
        )];
        if let Some(cc) = n.country.as_deref() {
            attrs.push(b.attribute(
                &[&c.id, "phone-cc", &n.e164],
                Some("country-code"),
                "text",
                "Other",
                &human_text(cc, 8),
                false,
                "",
            ));
        }
        let comment = format!(
            "operator number: {} validation sends ({} failed) from {} routers",
            n.count, n.failed, n.routers
        );
        objects.push(b.object(PHONE, &[&c.id, &n.e164], &comment, attrs));
    }
    for (k, s) in c.samples.iter().enumerate() {
        let key = k.to_string();
        let mut attrs = vec![b.attribute(
            &[&c.id, "sms-body", &key],
            Some("body"),
            "text",
            "Other",
            &s.text,
            false,
            "",
        )];
        if let Some(to) = s.recipient.as_deref() {
            attrs.push(b.attribute(
                &[&c.id, "sms-to", &key],
                Some("to"),
                "phone-number",
                "Other",
                to,
                false,
                "",
            ));
        }
        if let Some(t) = s.ts.as_deref() {
            attrs.push(b.attribute(
                &[&c.id, "sms-date", &key],
                Some("sent-date"),
                "datetime",
                "Other",
                t,
                false,
                "",
            ));
        }
        let phase = match s.phase {
            Some(smishtrap_intel::Phase::Validation) => "validation send",
            _ => "wave message",
        };
        objects.push(b.object(
            SMS,
            &[&c.id, &key],
            &format!("{phase}: {}", human_text(&s.text, 200)),
            attrs,
        ));
    }
}

fn tags(producer: &Producer) -> Value {
    json!([
        {"name": producer.tlp.misp_tag()},
        {"name": "phishing:techniques=\"sms-phishing\""},
        {"name": "phishing:distribution=\"bulk-phishing\""},
    ])
}

fn event(
    scope: &str,
    info: String,
    first: Option<&str>,
    last: Option<&str>,
    producer: &Producer,
    fill: impl FnOnce(&Builder<'_>, &mut Vec<Value>, &mut Vec<Value>),
) -> Value {
    let b = Builder { scope, timestamp: unix(last).to_string() };
    let mut attributes = Vec::new();
    let mut objects = Vec::new();
    fill(&b, &mut attributes, &mut objects);
    json!({"Event": {
        "uuid": b.uuid(&["event"]),
        "info": info,
        "date": date(first),
        "published": false,
        "timestamp": b.timestamp,
        "publish_timestamp": "0",
        "distribution": "0",
        "sharing_group_id": "0",
        "threat_level_id": "2",
        "analysis": "2",
        "Orgc": {"name": human_text(&producer.name, 100), "uuid": id_for(&["misp-org", &producer.name]).to_string()},
        "Tag": tags(producer),
        "Attribute": attributes,
        "Object": objects,
    }})
}

/// The events: one per campaign, or a single one, by `mode`.
pub fn events(campaigns: &[Campaign], mode: Mode, producer: &Producer) -> Vec<Value> {
    match mode {
        Mode::PerCampaign => campaigns
            .iter()
            .map(|c| {
                let info = format!("smishtrap: {}", human_text(&c.label, 200));
                event(
                    &c.id,
                    info,
                    c.first_seen.as_deref(),
                    c.last_seen.as_deref(),
                    producer,
                    |b, a, o| campaign_content(c, producer, b, a, o),
                )
            })
            .collect(),
        Mode::Single => {
            let first = campaigns.iter().filter_map(|c| c.first_seen.as_deref()).min();
            let last = campaigns.iter().filter_map(|c| c.last_seen.as_deref()).max();
            let ids: Vec<&str> = campaigns.iter().map(|c| c.id.as_str()).collect();
            let scope = id_for(&[&["misp-single"], ids.as_slice()].concat()).to_string();
            let info = format!("smishtrap: {} SMS phishing campaigns", campaigns.len());
            vec![event(&scope, info, first, last, producer, |b, a, o| {
                for c in campaigns {
                    campaign_content(c, producer, b, a, o);
                }
            })]
        }
    }
}
