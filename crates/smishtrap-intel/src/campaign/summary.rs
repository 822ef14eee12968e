//! Campaign summaries, stable ids and labels.

use std::collections::{BTreeMap, HashMap, HashSet};

use serde::{Deserialize, Serialize};

use super::cluster::{Groups, NONE, Prepared};
use super::phase::Phases;
use super::{Config, InputRef, InputsRef, format_ts, sanitise};
use crate::Phase;

/// A value with how often it was seen.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Count {
    pub value: String,
    pub count: usize,
}

/// A host name a campaign's links used (machine value; defang before display).
///
/// `host` is the indicator: the exact name, never widened to its registrable domain, which
/// may belong to a third party (`x-brand.fr.com` under `fr.com`, a hacked site, dynamic
/// DNS). `registrable_domain` is context for grouping and analysis.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DomainIndicator {
    pub host: String,
    pub registrable_domain: String,
    pub impersonates: Option<String>,
    pub technique: Option<String>,
    pub count: usize,
    pub first_seen: Option<String>,
    pub last_seen: Option<String>,
}

/// A URL sent by a campaign (machine value; defang before display).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UrlIndicator {
    pub url: String,
    /// Host of the URL when it is a DNS name, else empty.
    pub host: String,
    /// Registrable domain of the host (context, not an indicator).
    pub domain: Option<String>,
    pub count: usize,
    pub first_seen: Option<String>,
    pub last_seen: Option<String>,
}

/// A number the operators control (recipient of validation sends).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NumberIndicator {
    pub e164: String,
    pub country: Option<String>,
    /// Validation sends to it.
    pub count: usize,
    pub failed: usize,
    pub routers: usize,
    pub first_seen: Option<String>,
    pub last_seen: Option<String>,
}

/// One wave of a campaign.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Wave {
    /// 1-based, in time order.
    pub number: usize,
    pub start: String,
    pub end: String,
    /// When the fan-out to target numbers began.
    pub fanout_at: Option<String>,
    pub messages: usize,
    pub validation_messages: usize,
    /// Distinct recipients of wave messages.
    pub recipients: usize,
    pub target_countries: Vec<Count>,
    pub routers: Vec<String>,
    /// Host names of the wave's links (indicator values).
    pub hosts: Vec<String>,
    /// Their registrable domains (grouping context).
    pub domains: Vec<String>,
    pub validation_numbers: Vec<String>,
    pub first_test_at: Option<String>,
}

/// A sample message (raw text; defang and sanitise before display).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sample {
    pub index: usize,
    pub ts: Option<String>,
    pub router: Option<String>,
    pub recipient: Option<String>,
    pub status: Option<String>,
    pub phase: Option<Phase>,
    pub text: String,
}

/// One validation send of a campaign, with the evidence of where it came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ValidationSend {
    pub ts: Option<String>,
    pub router: Option<String>,
    pub src_ip: Option<String>,
    pub recipient: Option<String>,
    pub status: Option<String>,
    /// Raw text; sanitise before display.
    pub text: String,
}

/// Validation sends listed per campaign summary (`validation_messages` counts them all).
pub const MAX_VALIDATION_SENDS: usize = 100;

/// What an analyst reads about one campaign.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Campaign {
    /// Stable id: derived from content (brand and earliest template) when the campaign is
    /// first seen, then carried over passes (`carry_ids`), never from input order.
    pub id: String,
    /// Human-readable: brand, languages, countries, period.
    pub label: String,
    pub brand: Option<String>,
    pub languages: Vec<Count>,
    /// Distinct wave recipients per country.
    pub target_countries: Vec<Count>,
    pub first_seen: Option<String>,
    pub last_seen: Option<String>,
    pub message_count: usize,
    pub wave_messages: usize,
    pub validation_messages: usize,
    pub recipients: usize,
    pub templates: usize,
    pub waves: Vec<Wave>,
    pub domains: Vec<DomainIndicator>,
    pub urls: Vec<UrlIndicator>,
    /// URLs left out of `urls` (cap `Config::max_urls_per_campaign`).
    pub urls_omitted: usize,
    pub routers: Vec<Count>,
    pub source_ips: Vec<Count>,
    pub sender_numbers: Vec<Count>,
    pub operator_numbers: Vec<NumberIndicator>,
    /// The validation sends in time order (first [`MAX_VALIDATION_SENDS`]): the same
    /// messages `validation_messages` counts, so a page's count and list agree.
    #[serde(default)]
    pub validation_sends: Vec<ValidationSend>,
    pub samples: Vec<Sample>,
    /// Input positions of all messages of the campaign (validation sends included).
    #[serde(skip)]
    pub messages: Vec<usize>,
}

/// The content-derived id of each group: groups are sorted by (key, fingerprint), so equal
/// keys are adjacent and take suffixes in that order.
pub(crate) fn content_ids(groups: &Groups) -> Vec<String> {
    let mut ids: Vec<String> = Vec::with_capacity(groups.key.len());
    let mut prev: Option<(u64, usize)> = None;
    for &key in &groups.key {
        let base = format!("cmp-{:012x}", key & 0xffff_ffff_ffff);
        let id = match prev {
            Some((k, n)) if k == key => {
                prev = Some((k, n + 1));
                format!("{base}-{}", n + 1)
            }
            _ => {
                prev = Some((key, 1));
                base
            }
        };
        ids.push(id);
    }
    ids
}

/// Host, domain, count, first and last seen of one URL while summarising.
type UrlAcc<'a> = (&'a str, Option<&'a str>, usize, Option<i64>, Option<i64>);

/// The link's host when it is a DNS name under its registrable domain: the only value
/// a domain indicator may carry (an inconsistent pair yields none rather than a guess).
pub(super) fn indicator_host<'a>(host: &'a str, domain: &str) -> Option<&'a str> {
    let under =
        host.strip_suffix(domain).is_some_and(|rest| rest.is_empty() || rest.ends_with('.'));
    (!host.is_empty() && !domain.is_empty() && under).then_some(host)
}

fn counts<'a>(values: impl Iterator<Item = &'a str>) -> Vec<Count> {
    let mut map: HashMap<&str, usize> = HashMap::new();
    for v in values {
        *map.entry(v).or_default() += 1;
    }
    let mut out: Vec<Count> =
        map.into_iter().map(|(v, c)| Count { value: v.to_owned(), count: c }).collect();
    out.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.value.cmp(&b.value)));
    out
}

fn span(first: &mut Option<i64>, last: &mut Option<i64>, ts: Option<i64>) {
    if let Some(t) = ts {
        *first = Some(first.map_or(t, |f| f.min(t)));
        *last = Some(last.map_or(t, |l| l.max(t)));
    }
}

#[allow(clippy::too_many_arguments, reason = "internal assembly step")]
pub(crate) fn summarise(
    inputs: InputsRef<'_>,
    prep: &Prepared,
    groups: &Groups,
    phases: &Phases,
    cfg: &Config,
    g: usize,
    id: String,
    list: Vec<usize>,
) -> Campaign {
    let msgs: Vec<(usize, InputRef<'_>, Phase)> = list
        .iter()
        .filter_map(|&i| {
            let phase = phases.phase.get(i).copied().flatten().unwrap_or(Phase::Wave);
            inputs.get(i).map(|m| (i, m, phase))
        })
        .collect();
    let brand = groups
        .brand
        .get(g)
        .and_then(|&b| prep.brands.get(b as usize))
        .filter(|b| !b.is_empty())
        .cloned();
    let wave_msgs = || msgs.iter().filter(|(_, _, p)| *p == Phase::Wave);

    let mut first = None;
    let mut last = None;
    for (_, m, _) in &msgs {
        span(&mut first, &mut last, m.ts());
    }

    // recipients and target countries from wave messages
    let mut recipients: HashMap<&str, Option<&str>> = HashMap::new();
    for (_, m, _) in wave_msgs() {
        if let (true, Some(r)) = (m.outbound(), m.recipient()) {
            recipients.entry(r).or_insert(m.recipient_country());
        }
    }
    let target_countries = counts(recipients.values().filter_map(|c| *c));
    let languages = counts(wave_msgs().filter_map(|(_, m, _)| m.lang()));

    // host names and URLs of the campaign's messages
    let mut domains: BTreeMap<&str, DomainIndicator> = BTreeMap::new();
    let mut domain_times: HashMap<&str, (Option<i64>, Option<i64>)> = HashMap::new();
    let mut urls: BTreeMap<&str, UrlAcc<'_>> = BTreeMap::new();
    for (_, m, _) in &msgs {
        for u in m.urls() {
            let e = urls.entry(u.url).or_insert((u.host, u.domain, 0, None, None));
            e.2 += 1;
            span(&mut e.3, &mut e.4, m.ts());
            let Some(d) = u.domain else { continue };
            let Some(h) = indicator_host(u.host, d) else { continue };
            let di = domains.entry(h).or_insert_with(|| DomainIndicator {
                host: h.to_owned(),
                registrable_domain: d.to_owned(),
                impersonates: None,
                technique: None,
                count: 0,
                first_seen: None,
                last_seen: None,
            });
            di.count += 1;
            if di.impersonates.is_none() && u.impersonates.is_some() {
                di.impersonates = u.impersonates.map(str::to_owned);
                di.technique = u.technique.map(str::to_owned);
            }
            let t = domain_times.entry(h).or_default();
            span(&mut t.0, &mut t.1, m.ts());
        }
    }
    let mut domains: Vec<DomainIndicator> = domains
        .into_values()
        .map(|mut d| {
            if let Some((f, l)) = domain_times.get(d.host.as_str()) {
                d.first_seen = f.map(format_ts);
                d.last_seen = l.map(format_ts);
            }
            d
        })
        .collect();
    domains.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.host.cmp(&b.host)));
    let mut urls: Vec<UrlIndicator> = urls
        .into_iter()
        .map(|(url, (host, domain, count, f, l))| UrlIndicator {
            url: url.to_owned(),
            host: host.to_owned(),
            domain: domain.map(str::to_owned),
            count,
            first_seen: f.map(format_ts),
            last_seen: l.map(format_ts),
        })
        .collect();
    urls.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.url.cmp(&b.url)));
    let urls_omitted = urls.len().saturating_sub(cfg.max_urls_per_campaign);
    urls.truncate(cfg.max_urls_per_campaign);

    // operator numbers
    let ops: HashSet<&str> =
        phases.operators.get(g).map(|o| o.iter().map(String::as_str).collect()).unwrap_or_default();
    let mut operator_numbers: Vec<NumberIndicator> = Vec::new();
    // validation sends grouped by operator number in one pass
    let mut by_number: HashMap<&str, Vec<InputRef<'_>>> = HashMap::new();
    for (_, m, p) in &msgs {
        if *p == Phase::Validation
            && let Some(r) = m.recipient().filter(|r| ops.contains(r))
        {
            by_number.entry(r).or_default().push(*m);
        }
    }
    for op in phases.operators.get(g).into_iter().flatten() {
        let sends = by_number.get(op.as_str()).map(Vec::as_slice).unwrap_or(&[]);
        let (mut f, mut l) = (None, None);
        let mut routers: HashSet<&str> = HashSet::new();
        for m in sends {
            routers.extend(m.router().or(m.src_ip()));
            span(&mut f, &mut l, m.ts());
        }
        operator_numbers.push(NumberIndicator {
            e164: op.clone(),
            country: sends.iter().find_map(|m| m.recipient_country().map(str::to_owned)),
            count: sends.len(),
            failed: sends.iter().filter(|m| m.failed()).count(),
            routers: routers.len(),
            first_seen: f.map(format_ts),
            last_seen: l.map(format_ts),
        });
    }
    operator_numbers.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.e164.cmp(&b.e164)));

    // waves
    let mut waves = Vec::new();
    let segments = phases.segments.get(g).map(Vec::as_slice).unwrap_or(&[]);
    let mut by_wave: Vec<Vec<&(usize, InputRef<'_>, Phase)>> = vec![Vec::new(); segments.len()];
    for e in &msgs {
        if let Some(list) = phases.wave.get(e.0).and_then(|&w| by_wave.get_mut(w as usize)) {
            list.push(e);
        }
    }
    for (w, (seg, in_wave)) in segments.iter().zip(by_wave).enumerate() {
        let mut rec: HashMap<&str, Option<&str>> = HashMap::new();
        let mut routers: Vec<String> = Vec::new();
        let mut wdomains: Vec<String> = Vec::new();
        let mut whosts: Vec<String> = Vec::new();
        let mut vnumbers: Vec<String> = Vec::new();
        let mut first_test: Option<i64> = None;
        let mut validation = 0;
        for (_, m, p) in &in_wave {
            if let Some(r) = m.router() {
                routers.push(r.to_owned());
            }
            if *p == Phase::Validation {
                validation += 1;
                if let Some(t) = m.ts() {
                    first_test = Some(first_test.map_or(t, |f| f.min(t)));
                }
                if let Some(r) = m.recipient().filter(|r| ops.contains(r)) {
                    vnumbers.push(r.to_owned());
                }
            } else {
                if let (true, Some(r)) = (m.outbound(), m.recipient()) {
                    rec.entry(r).or_insert(m.recipient_country());
                }
                for u in m.urls() {
                    let Some(d) = u.domain else { continue };
                    wdomains.push(d.to_owned());
                    whosts.extend(indicator_host(u.host, d).map(str::to_owned));
                }
            }
        }
        for v in [&mut routers, &mut whosts, &mut wdomains, &mut vnumbers] {
            v.sort_unstable();
            v.dedup();
        }
        waves.push(Wave {
            number: w + 1,
            start: format_ts(seg.start.min(first_test.unwrap_or(seg.start))),
            end: format_ts(seg.end),
            fanout_at: seg.fanout.map(format_ts),
            messages: in_wave.len(),
            validation_messages: validation,
            recipients: rec.len(),
            target_countries: counts(rec.values().filter_map(|c| *c)),
            routers,
            hosts: whosts,
            domains: wdomains,
            validation_numbers: vnumbers,
            first_test_at: first_test.map(format_ts),
        });
    }

    // samples: one per template, most used first, then validation sends
    let mut by_template: HashMap<u32, Vec<&(usize, InputRef<'_>, Phase)>> = HashMap::new();
    for e in msgs.iter().filter(|(_, _, p)| *p == Phase::Wave) {
        let t = prep.template.get(e.0).copied().unwrap_or(NONE);
        by_template.entry(t).or_default().push(e);
    }
    let templates = by_template.len();
    let mut tlist: Vec<(usize, &(usize, InputRef<'_>, Phase))> = by_template
        .values()
        .filter_map(|v| {
            v.iter()
                .min_by_key(|e| (e.1.ts().unwrap_or(i64::MAX), e.1.text()))
                .map(|e| (v.len(), *e))
        })
        .collect();
    tlist.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.1.text().cmp(b.1.1.text())));
    let mut samples: Vec<Sample> =
        tlist.iter().take(cfg.max_samples).map(|(_, e)| sample(e)).collect();
    let mut vals: Vec<&(usize, InputRef<'_>, Phase)> =
        msgs.iter().filter(|(_, _, p)| *p == Phase::Validation).collect();
    vals.sort_by(|a, b| (a.1.ts(), a.1.text()).cmp(&(b.1.ts(), b.1.text())));
    samples.extend(vals.iter().take(3).map(|e| sample(e)));
    let validation_sends: Vec<ValidationSend> = vals
        .iter()
        .take(MAX_VALIDATION_SENDS)
        .map(|(_, m, _)| ValidationSend {
            ts: m.ts().map(format_ts),
            router: m.router().map(str::to_owned),
            src_ip: m.src_ip().map(str::to_owned),
            recipient: m.recipient().map(str::to_owned),
            status: m.status().map(str::to_owned),
            text: m.text().to_owned(),
        })
        .collect();

    let routers = counts(msgs.iter().filter_map(|(_, m, _)| m.router()));
    let source_ips = counts(msgs.iter().filter_map(|(_, m, _)| m.src_ip()));
    let sender_numbers =
        counts(msgs.iter().filter(|(_, m, _)| !m.outbound()).filter_map(|(_, m, _)| m.sender()));
    let wave_messages = wave_msgs().count();
    let label = label(brand.as_deref(), &languages, &target_countries, first, last);
    let mut messages = list;
    messages.sort_unstable();
    Campaign {
        id,
        label,
        brand,
        languages,
        target_countries,
        first_seen: first.map(format_ts),
        last_seen: last.map(format_ts),
        message_count: msgs.len(),
        wave_messages,
        validation_messages: msgs.len() - wave_messages,
        recipients: recipients.len(),
        templates,
        waves,
        domains,
        urls,
        urls_omitted,
        routers,
        source_ips,
        sender_numbers,
        operator_numbers,
        validation_sends,
        samples,
        messages,
    }
}

fn sample(e: &(usize, InputRef<'_>, Phase)) -> Sample {
    let (i, m, p) = e;
    Sample {
        index: m.index().max(*i),
        ts: m.ts().map(format_ts),
        router: m.router().map(str::to_owned),
        recipient: m.recipient().map(str::to_owned),
        status: m.status().map(str::to_owned),
        phase: Some(*p),
        text: m.text().to_owned(),
    }
}

/// "CSAM impersonation, nl/fr, BE, 2023-10 to 2023-11".
fn label(
    brand: Option<&str>,
    langs: &[Count],
    countries: &[Count],
    first: Option<i64>,
    last: Option<i64>,
) -> String {
    let mut parts = vec![match brand {
        Some(b) => format!("{} impersonation", sanitise(b)),
        None => "smishing (no brand)".to_owned(),
    }];
    let l: Vec<&str> = langs.iter().take(3).map(|c| c.value.as_str()).collect();
    if !l.is_empty() {
        parts.push(sanitise(&l.join("/")));
    }
    let c: Vec<&str> = countries.iter().take(4).map(|c| c.value.as_str()).collect();
    if !c.is_empty() {
        parts.push(sanitise(&c.join("/")));
    }
    let month = |t: i64| format_ts(t).get(..7).unwrap_or("").to_owned();
    match (first, last) {
        (Some(f), Some(l)) if month(f) == month(l) => parts.push(month(f)),
        (Some(f), Some(l)) => parts.push(format!("{} to {}", month(f), month(l))),
        _ => {}
    }
    parts.join(", ")
}
