//! Flat indicator CSV: one indicator per row, for SIEM blocklists and spreadsheets.
//!
//! Columns: `type,value,defanged,campaign,campaign_label,brand,first_seen,last_seen,count,
//! registrable_domain,router_families,dialects`; the last two say where the campaign was
//! captured (sensor personas' router families and API dialects, `;`-separated).
//! Types: `url`, `domain`, `ipv4`/`ipv6` (sending IPs), `phone-number` (operator numbers).
//! `value` is the real indicator; `defanged` and the label are for people. A `domain` row's
//! value is the exact host name the links used (block on it); `registrable_domain` (for
//! `domain` and `url` rows) is context for grouping only: it may be a third party's domain
//! (`x.fr.com` under `fr.com`), never block on it. Cells that a
//! spreadsheet would run as a formula (`= + - @`, tab, CR first) get a leading `'`.

use crate::{Campaign, Producer, captures, defang, human_text};

pub const HEADER: [&str; 12] = [
    "type",
    "value",
    "defanged",
    "campaign",
    "campaign_label",
    "brand",
    "first_seen",
    "last_seen",
    "count",
    "registrable_domain",
    "router_families",
    "dialects",
];

/// A cell neutralised for spreadsheets; quoting is the CSV writer's job.
/// A strict E.164 number (`+` and digits only) cannot be a formula and keeps its `+`.
pub fn cell(value: &str) -> String {
    let risky = value.starts_with(['=', '+', '-', '@', '\t', '\r']) && !is_e164(value);
    let clean: String = value.chars().map(|c| if c.is_control() { ' ' } else { c }).collect();
    if risky { format!("'{clean}") } else { clean }
}

fn is_e164(value: &str) -> bool {
    value
        .strip_prefix('+')
        .is_some_and(|d| (6..=15).contains(&d.len()) && d.bytes().all(|b| b.is_ascii_digit()))
}

/// The CSV document (UTF-8, `\n` line ends, header first).
pub fn indicators(campaigns: &[Campaign]) -> Vec<u8> {
    indicators_for(campaigns, &Producer::default())
}

/// [`indicators`] under the producer's blocking rules ([`crate::indicator`]): hosts that
/// may not be blocked (shorteners, platforms, official domains) have no `domain` row, only
/// their URLs; non-public and own addresses have no row.
pub fn indicators_for(campaigns: &[Campaign], producer: &Producer) -> Vec<u8> {
    let mut w = ::csv::WriterBuilder::new()
        .terminator(::csv::Terminator::Any(b'\n'))
        .from_writer(Vec::new());
    let _ = w.write_record(HEADER);
    for c in campaigns {
        let label = human_text(&c.label, 200);
        let brand = c.brand.clone().unwrap_or_default();
        let caught = captures(c, producer);
        let joined = |f: fn(&crate::Capture) -> &str| {
            let mut v: Vec<&str> = caught.iter().map(f).collect();
            v.sort_unstable();
            v.dedup();
            v.join(";")
        };
        let (families, dialects) = (joined(|x| &x.family), joined(|x| &x.dialect));
        let mut row = |kind: &str,
                       value: &str,
                       shown: String,
                       first: Option<&str>,
                       last: Option<&str>,
                       count: usize,
                       registrable: Option<&str>| {
            let cells = [
                kind.to_owned(),
                value.to_owned(),
                shown,
                c.id.clone(),
                label.clone(),
                brand.clone(),
                first.unwrap_or("").to_owned(),
                last.unwrap_or("").to_owned(),
                count.to_string(),
                registrable.unwrap_or("").to_owned(),
                families.clone(),
                dialects.clone(),
            ];
            let _ = w.write_record(cells.iter().map(|v| cell(v)));
        };
        for d in c.domains.iter().filter(|d| producer.hygiene.host(&d.host).is_ok()) {
            row(
                "domain",
                &d.host,
                defang(&d.host),
                d.first_seen.as_deref(),
                d.last_seen.as_deref(),
                d.count,
                Some(&d.registrable_domain),
            );
        }
        for u in c.urls.iter().filter(|u| producer.hygiene.url(&u.host).is_ok()) {
            row(
                "url",
                &u.url,
                defang(&u.url),
                u.first_seen.as_deref(),
                u.last_seen.as_deref(),
                u.count,
                u.domain.as_deref(),
            );
        }
        for ip in &c.source_ips {
            if let Ok(addr) = ip.value.parse::<std::net::IpAddr>()
                && producer.hygiene.ip(addr).is_ok()
            {
                let kind = if addr.is_ipv4() { "ipv4" } else { "ipv6" };
                let v = addr.to_string();
                row(
                    kind,
                    &v,
                    v.clone(),
                    c.first_seen.as_deref(),
                    c.last_seen.as_deref(),
                    ip.count,
                    None,
                );
            }
        }
        for n in &c.operator_numbers {
            row(
                "phone-number",
                &n.e164,
                human_text(&n.e164, 40),
                n.first_seen.as_deref(),
                n.last_seen.as_deref(),
                n.count,
                None,
            );
        }
    }
    w.into_inner().unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_are_formula_safe() {
        for (input, expect) in [
            ("=HYPERLINK(\"x\")", "'=HYPERLINK(\"x\")"),
            ("+37061111111", "+37061111111"),
            ("+1+cmd|' /C calc'!A0", "'+1+cmd|' /C calc'!A0"),
            ("-1", "'-1"),
            ("@SUM(A1)", "'@SUM(A1)"),
            ("\tx", "' x"),
            ("plain", "plain"),
            ("a\nb", "a b"),
        ] {
            assert_eq!(cell(input), expect, "{input}");
        }
    }
}
