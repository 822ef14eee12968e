//! What the analyst on duty sees first: active campaigns with a sparkline of their sends per
//! hour, the indicators to block now, the URLs of a campaign grouped by host and path shape,
//! and a campaign's waves zoomed one by one. Everything here is display strings (defanged,
//! control characters escaped) and numbers for server-drawn SVG.

use std::collections::{BTreeMap, HashSet};

use chrono::{DateTime, Utc};
use smishtrap_intel::campaign::Campaign;
use smishtrap_store::{BucketCount, HourCount};

use crate::findings::{CampaignListRow, defanged, shown};
use crate::view::clip;

/// A campaign counts as active while its last message is at most this old.
pub const ACTIVE_HOURS: i64 = 24;
/// Most active campaigns on the Overview.
pub const ACTIVE_CAMPAIGNS: usize = 20;
/// Most indicators in a "block now" list.
pub const BLOCK_ITEMS: usize = 500;

/// One bar of a sparkline.
#[derive(Debug)]
pub struct SparkBar {
    pub x: u32,
    pub y: u32,
    pub h: u32,
    pub title: String,
}

/// Sends per hour over the last [`ACTIVE_HOURS`] hours, as bars of a small SVG.
#[derive(Debug)]
pub struct Sparkline {
    pub width: u32,
    pub height: u32,
    pub bars: Vec<SparkBar>,
    pub total: u64,
    pub peak: u64,
}

impl Sparkline {
    /// `hours` (hours since the epoch) in the [`ACTIVE_HOURS`] hours ending with `now`'s hour.
    pub fn of(hours: &[HourCount], now: DateTime<Utc>) -> Sparkline {
        let (bar, gap, height) = (4u32, 1u32, 24u32);
        let end = now.timestamp().div_euclid(3600);
        let start = end - ACTIVE_HOURS + 1;
        let counts: Vec<(i64, u64)> = (start..=end)
            .map(|h| (h, hours.iter().filter(|c| c.hour == h).map(|c| c.messages).sum()))
            .collect();
        let peak = counts.iter().map(|(_, n)| *n).max().unwrap_or(0);
        let bars = counts
            .iter()
            .enumerate()
            .map(|(i, (hour, n))| {
                // Round up so one send still shows; an empty hour is a 1px baseline.
                let h = if peak == 0 {
                    1
                } else {
                    u32::try_from((n * u64::from(height)).div_ceil(peak)).unwrap_or(height).max(1)
                };
                let label = DateTime::from_timestamp(hour * 3600, 0)
                    .map(|t| t.format("%H:00").to_string())
                    .unwrap_or_default();
                SparkBar {
                    x: u32::try_from(i).unwrap_or(0) * (bar + gap),
                    y: height - h.min(height),
                    h: h.min(height),
                    title: format!("{label} UTC: {n} sends"),
                }
            })
            .collect();
        Sparkline {
            width: u32::try_from(ACTIVE_HOURS).unwrap_or(24) * (bar + gap),
            height,
            bars,
            total: counts.iter().map(|(_, n)| n).sum(),
            peak,
        }
    }
}

/// An active campaign on the Overview.
#[derive(Debug)]
pub struct ActiveCampaign {
    pub row: CampaignListRow,
    pub first_seen: String,
    pub last_seen: String,
    pub spark: Sparkline,
}

/// An indicator the exports mark for blocking (MISP `to_ids`), for people.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlockItem {
    /// MISP attribute type (`url`, `hostname`, `ip-src`, ...).
    pub kind: String,
    /// Defanged.
    pub value: String,
    pub campaign: String,
}

/// The indicators of `campaigns` that the export marks blockable (`to_ids` in their MISP
/// events, so the export's rules decide, not the console), defanged, each once, at most
/// [`BLOCK_ITEMS`] (the first campaign and type of a value stand for it).
pub fn block_items(
    campaigns: &[Campaign],
    producer: &smishtrap_export::Producer,
) -> Vec<BlockItem> {
    let events = smishtrap_export::misp::events(
        campaigns,
        smishtrap_export::misp::Mode::PerCampaign,
        producer,
    );
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    for (c, event) in campaigns.iter().zip(&events) {
        let event = &event["Event"];
        let loose = event["Attribute"].as_array().into_iter().flatten();
        let in_objects = event["Object"]
            .as_array()
            .into_iter()
            .flatten()
            .flat_map(|o| o["Attribute"].as_array().into_iter().flatten());
        for a in loose.chain(in_objects) {
            if a["to_ids"] != serde_json::Value::Bool(true) {
                continue;
            }
            let (Some(kind), Some(value)) = (a["type"].as_str(), a["value"].as_str()) else {
                continue;
            };
            // One line per value: a host is both a `domain-ip` and a `phishing` attribute.
            if !seen.insert(value.to_owned()) {
                continue;
            }
            out.push(BlockItem {
                kind: clip(&shown(kind), 24),
                value: defanged(value),
                campaign: c.id.clone(),
            });
            if out.len() == BLOCK_ITEMS {
                return out;
            }
        }
    }
    out
}

/// The copyable text of a block list: one defanged value per line.
pub fn block_text(items: &[BlockItem]) -> String {
    items.iter().map(|i| i.value.as_str()).collect::<Vec<_>>().join("\n")
}

/// URLs that share a host and a path shape.
#[derive(Debug)]
pub struct UrlGroup {
    /// Defanged host.
    pub host: String,
    /// The path with its variable parts as `{n}` (digits) and `{id}` (tokens), for people.
    pub shape: String,
    pub urls: usize,
    pub messages: usize,
    /// A few of the URLs, defanged.
    pub examples: Vec<String>,
}

/// Examples kept per URL group.
pub const GROUP_EXAMPLES: usize = 5;

/// The path, query and fragment of a URL (after its host).
fn rest_of(url: &str) -> &str {
    let after_scheme = url.split_once("://").map_or(url, |(_, r)| r);
    after_scheme.find(['/', '?', '#']).map_or("", |i| &after_scheme[i..])
}

/// A path segment's shape: digits become `{n}`, long tokens mixing letters and digits
/// `{id}`, anything else stays (bounded).
fn segment_shape(segment: &str) -> String {
    let digits = segment.bytes().filter(u8::is_ascii_digit).count();
    if !segment.is_empty() && digits == segment.len() {
        return "{n}".into();
    }
    if segment.len() >= 8
        && digits > 0
        && segment.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        return "{id}".into();
    }
    // A short word with a number in it (`a12`, `t-3`): the word stays, the number goes.
    if digits > 0 && segment.len() < 8 {
        let prefix: String = segment.chars().take_while(|c| !c.is_ascii_digit()).collect();
        let tail: String = segment.chars().skip_while(|c| !c.is_ascii_digit()).collect();
        if tail.bytes().all(|b| b.is_ascii_digit()) {
            return format!("{prefix}{{n}}");
        }
    }
    clip(segment, 40)
}

/// The shape of a URL's path: segments shaped, the query reduced to its parameter names.
pub fn path_shape(url: &str) -> String {
    let rest = rest_of(url);
    let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
    let path = path.split('#').next().unwrap_or("");
    let mut shape: String = path.split('/').map(segment_shape).collect::<Vec<_>>().join("/");
    if shape.is_empty() {
        shape.push('/');
    }
    let query = query.split('#').next().unwrap_or("");
    if !query.is_empty() {
        let names: Vec<&str> =
            query.split('&').map(|p| p.split('=').next().unwrap_or("")).collect();
        shape.push('?');
        shape.push_str(&names.iter().map(|n| format!("{n}=…")).collect::<Vec<_>>().join("&"));
    }
    clip(&shown(&shape), 120)
}

/// The campaign's URLs grouped by host and path shape, most messages first.
pub fn url_groups(c: &Campaign) -> Vec<UrlGroup> {
    let mut groups: BTreeMap<(String, String), UrlGroup> = BTreeMap::new();
    for u in &c.urls {
        let host = u.host.to_ascii_lowercase();
        let shape = path_shape(&u.url);
        let g = groups.entry((host.clone(), shape.clone())).or_insert_with(|| UrlGroup {
            host: defanged(&host),
            shape,
            urls: 0,
            messages: 0,
            examples: Vec::new(),
        });
        g.urls += 1;
        g.messages += u.count;
        if g.examples.len() < GROUP_EXAMPLES {
            g.examples.push(defanged(&u.url));
        }
    }
    let mut out: Vec<UrlGroup> = groups.into_values().collect();
    out.sort_by(|a, b| b.messages.cmp(&a.messages).then_with(|| a.host.cmp(&b.host)));
    out
}

/// One column of a wave's zoomed chart: wave sends and validation sends stacked.
#[derive(Debug)]
pub struct ZoomBar {
    pub x: u32,
    pub wave_y: u32,
    pub wave_h: u32,
    pub test_y: u32,
    pub test_h: u32,
    pub title: String,
}

/// One wave on a time scale of its own.
#[derive(Debug)]
pub struct WaveZoom {
    pub number: usize,
    pub width: u32,
    pub height: u32,
    pub bar_width: u32,
    pub bars: Vec<ZoomBar>,
    pub start_label: String,
    pub end_label: String,
    /// `3 min per bar`.
    pub scale: String,
}

/// Buckets of a wave's zoomed chart.
pub const ZOOM_BUCKETS: usize = 48;

fn duration_words(micros: i64) -> String {
    let secs = (micros / 1_000_000).max(1);
    match secs {
        s if s < 120 => format!("{s} s"),
        s if s < 7200 => format!("{} min", s / 60),
        s if s < 172_800 => format!("{} h", s / 3600),
        s => format!("{} days", s / 86_400),
    }
}

impl WaveZoom {
    /// The chart of wave `number` from `from` to `to` (microseconds) out of its buckets.
    pub fn of(number: usize, from: i64, to: i64, counts: &[BucketCount]) -> WaveZoom {
        let (bar_width, gap, height) = (12u32, 2u32, 60u32);
        let mut per = vec![(0u64, 0u64); ZOOM_BUCKETS];
        for c in counts {
            if let Some(slot) = per.get_mut(c.bucket) {
                if c.validation {
                    slot.1 += c.messages;
                } else {
                    slot.0 += c.messages;
                }
            }
        }
        let peak = per.iter().map(|(w, t)| w + t).max().unwrap_or(0).max(1);
        let scale = |n: u64| -> u32 {
            u32::try_from((n * u64::from(height)).div_ceil(peak)).unwrap_or(height).min(height)
        };
        let span = (to - from).max(0) + 1;
        let step = span / ZOOM_BUCKETS as i64;
        let at = |micros: i64| crate::findings::when_micros(micros);
        let bars = per
            .iter()
            .enumerate()
            .map(|(i, (wave, test))| {
                let (wave_h, test_h) = (scale(*wave), scale(*test));
                let start = from + step * i as i64;
                ZoomBar {
                    x: u32::try_from(i).unwrap_or(0) * (bar_width + gap),
                    wave_y: height - wave_h - test_h,
                    wave_h,
                    test_y: height - test_h,
                    test_h,
                    title: format!("{}: {wave} sends, {test} validation sends", at(start)),
                }
            })
            .collect();
        WaveZoom {
            number,
            width: u32::try_from(ZOOM_BUCKETS).unwrap_or(48) * (bar_width + gap),
            height,
            bar_width,
            bars,
            start_label: at(from),
            end_label: at(to),
            scale: format!("{} per bar", duration_words(step.max(1))),
        }
    }
}

/// A validation send for people.
#[derive(Debug)]
pub struct ValidationView {
    pub message_id: String,
    pub ts: String,
    pub recipient: String,
    pub sender: String,
    pub router: String,
    pub src_ip: String,
}

impl ValidationView {
    pub fn of(v: &smishtrap_store::ValidationSend) -> ValidationView {
        let s = |v: &Option<String>| clip(&v.as_deref().map(shown).unwrap_or_default(), 64);
        ValidationView {
            message_id: v.message_id.clone(),
            ts: crate::findings::when_micros(v.ts_micros),
            recipient: s(&v.recipient),
            sender: s(&v.sender),
            router: s(&v.router),
            src_ip: s(&v.src_ip),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(url: &str, expect: &str) {
        assert_eq!(path_shape(url), expect, "{url}");
    }

    #[test]
    fn paths_are_shaped_by_their_variable_parts() {
        check("https://bpost-be-levering.info/t/17", "/t/{n}");
        check("https://csam-be-login.info/a12", "/a{n}");
        check("https://x.info/verify/9f8e7d6c5b4a", "/verify/{id}");
        check("https://x.info/", "/");
        check("https://x.info", "/");
        check("https://x.info/pay?id=17&ref=abc#top", "/pay?id=…&ref=…");
        check("hxxps://x[.]info/login", "/login");
        // hostile text stays text (escaping is the template's job) and URLs in it are defanged
        check("https://x.info/<script>", "/<script>");
    }

    #[test]
    fn sparkline_covers_the_last_day_per_hour() {
        let now = DateTime::from_timestamp(1_750_000_000, 0).unwrap_or_default();
        let hour = now.timestamp() / 3600;
        let s = Sparkline::of(
            &[
                HourCount { hour, messages: 4 },
                HourCount { hour: hour - 23, messages: 1 },
                HourCount { hour: hour - 24, messages: 99 },
            ],
            now,
        );
        assert_eq!(s.bars.len(), 24);
        assert_eq!((s.total, s.peak), (5, 4));
        assert_eq!(s.bars[23].h, 24);
        assert_eq!(s.bars[0].h, 6);
        assert_eq!(s.bars[1].h, 1, "an empty hour is a baseline");
    }
}
