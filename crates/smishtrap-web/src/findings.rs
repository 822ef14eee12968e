//! What pages and the stream show of analysed messages and campaigns: display strings with
//! every URL and host defanged and control characters escaped (HTML escaping stays the
//! template engine's job, or `textContent`'s in the browser). The API serves the stored
//! machine values instead ([`api_message`], [`api_campaign`]).

use chrono::DateTime;
use serde::Serialize;
use smishtrap_event::SmsRecord;
use smishtrap_intel::Analysis;
use smishtrap_intel::campaign::{Campaign, Count, sanitise};
use smishtrap_store::{CampaignRow, StoredMessage};

use crate::view::{clip, defang_text};

/// Longest message text in a list row or stream frame, in characters.
pub const ROW_TEXT_CHARS: usize = 300;
/// URLs of a campaign shown on its page (all of them are in the exports).
pub const PAGE_URLS: usize = 200;
/// Values of one campaign list (routers, source IPs, numbers) shown on its page.
pub const PAGE_VALUES: usize = 50;

/// Attacker text for people: URLs and domains defanged, control characters (but line
/// breaks and tabs) and invisible format characters escaped as `\u{..}`.
pub fn shown(text: &str) -> String {
    let defanged = defang_text(text);
    let mut out = String::with_capacity(defanged.len());
    for c in defanged.chars() {
        let format = matches!(c as u32, 0x200B..=0x200F | 0x202A..=0x202E | 0x2060..=0x2064 | 0x2066..=0x2069 | 0xFEFF | 0x00AD);
        if (c.is_control() && c != '\n' && c != '\t') || format {
            out.push_str(&format!("\\u{{{:x}}}", c as u32));
        } else {
            out.push(c);
        }
    }
    out
}

/// A URL or host for people (`hxxps://csam-be[.]info/x`), never live.
pub fn defanged(url_or_host: &str) -> String {
    smishtrap_export::defang(url_or_host)
}

fn opt(value: Option<&str>) -> String {
    value.map(shown).unwrap_or_default()
}

/// `2025-07-22 10:00:00` (UTC) of microseconds since the epoch.
pub fn when_micros(micros: i64) -> String {
    DateTime::from_timestamp_micros(micros)
        .map(|t| t.format("%Y-%m-%d %H:%M:%S").to_string())
        .unwrap_or_default()
}

/// `2025-07-22 10:00` of an RFC 3339 summary time (shown as given when it does not parse).
fn when_text(ts: Option<&str>) -> String {
    let Some(ts) = ts else { return String::new() };
    DateTime::parse_from_rfc3339(ts)
        .map(|t| t.format("%Y-%m-%d %H:%M").to_string())
        .unwrap_or_else(|_| clip(&sanitise(ts), 40))
}

/// A campaign id that may go into a file name or a URL path as is: what the clustering makes
/// (`cmp-` and hex, maybe `-N`), checked because the store is data, not code.
pub fn safe_id(id: &str) -> bool {
    (1..=64).contains(&id.len()) && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
}

/// One line of the Messages list, the Live page's analysed messages and their stream frames.
#[derive(Debug, Clone, Serialize)]
pub struct MessageRow {
    pub id: String,
    pub ts: String,
    pub recipient: String,
    pub country: String,
    pub verdict: String,
    pub score: String,
    pub brand: String,
    pub lang: String,
    /// Defanged, clipped.
    pub text: String,
    /// The campaign id as stored (pages and the script build links only from a safe id).
    pub campaign: Option<String>,
    pub phase: String,
    /// The captured event it came from (the Live page puts the verdict on that event's row).
    pub event_id: Option<String>,
}

/// The CSS class of a verdict's colour (a fixed word, whatever the store holds).
pub fn verdict_class(verdict: &str) -> &'static str {
    match verdict {
        "smishing" => "v-smishing",
        "spam" => "v-spam",
        "ham" => "v-ham",
        _ => "v-other",
    }
}

impl MessageRow {
    /// [`verdict_class`] of this row.
    pub fn verdict_class(&self) -> &'static str {
        verdict_class(&self.verdict)
    }

    pub fn of(m: &StoredMessage) -> MessageRow {
        let msg = &m.message;
        MessageRow {
            id: msg.id.clone(),
            ts: DateTime::from_timestamp_micros(msg.ts_micros)
                .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
                .unwrap_or_default(),
            recipient: clip(&opt(msg.recipient.as_deref()), 40),
            country: clip(&opt(msg.country.as_deref()), 8),
            verdict: clip(&sanitise(&msg.verdict), 16),
            score: format!("{:.2}", msg.score),
            brand: clip(&opt(msg.brand.as_deref()), 64),
            lang: clip(&opt(msg.lang.as_deref()), 8),
            text: clip(&shown(&clip(&msg.text, ROW_TEXT_CHARS * 2)), ROW_TEXT_CHARS),
            campaign: m.campaign.clone().filter(|c| safe_id(c)),
            phase: clip(&opt(m.phase.as_deref()), 16),
            event_id: msg.event_id.clone().filter(|id| !id.is_empty()),
        }
    }
}

/// A link of a message as the detail page shows it.
#[derive(Debug)]
pub struct UrlView {
    pub url: String,
    pub host: String,
    pub domain: String,
    pub impersonates: String,
    pub technique: String,
    pub shortener: bool,
}

/// Everything the message page shows.
#[derive(Debug)]
pub struct MessageDetail {
    pub row: MessageRow,
    pub text: String,
    pub origin: String,
    pub event_id: Option<String>,
    pub sender: String,
    pub router: String,
    pub src_ip: String,
    pub reasons: Vec<String>,
    pub urls: Vec<UrlView>,
    /// Role (`recipient`, `sender`), number, country.
    pub numbers: Vec<(&'static str, String, String)>,
    pub domains: Vec<String>,
    /// The input record's fields that are set.
    pub record: Vec<(&'static str, String)>,
    /// Set when the stored analysis did not decode (written by another version).
    pub analysis_note: Option<&'static str>,
}

impl MessageDetail {
    pub fn of(m: &StoredMessage) -> MessageDetail {
        let msg = &m.message;
        let analysis: Option<Analysis> = serde_json::from_str(&msg.analysis).ok();
        let record: Option<SmsRecord> = serde_json::from_str(&msg.record).ok();
        let (reasons, urls, numbers) = match &analysis {
            Some(a) => (
                a.reasons.iter().map(|r| shown(r)).collect(),
                a.urls
                    .iter()
                    .map(|u| UrlView {
                        url: defanged(&u.url),
                        host: defanged(&u.host),
                        domain: u.registrable_domain.as_deref().map(defanged).unwrap_or_default(),
                        impersonates: opt(u.impersonates.as_deref()),
                        technique: opt(u.technique.as_deref()),
                        shortener: u.shortener,
                    })
                    .collect(),
                [("recipient", &a.recipient), ("sender", &a.sender)]
                    .into_iter()
                    .filter_map(|(role, n)| {
                        n.as_ref().map(|n| (role, shown(&n.e164), opt(n.country.as_deref())))
                    })
                    .collect(),
            ),
            None => (Vec::new(), Vec::new(), Vec::new()),
        };
        let record = record
            .map(|r| {
                [
                    ("id", r.id),
                    ("ts", r.ts),
                    ("to", r.to),
                    ("from", r.from),
                    ("direction", r.direction),
                    ("status", r.status),
                    ("router", r.router),
                    ("router_country", r.router_country),
                    ("source", r.source),
                    ("src_ip", r.src_ip),
                ]
                .into_iter()
                .filter_map(|(name, v)| v.map(|v| (name, clip(&shown(&v), 512))))
                .collect()
            })
            .unwrap_or_default();
        MessageDetail {
            row: MessageRow::of(m),
            text: shown(&msg.text),
            origin: shown(&msg.origin),
            event_id: msg.event_id.clone().filter(|id| !id.is_empty()),
            sender: opt(msg.sender.as_deref()),
            router: opt(msg.router.as_deref()),
            src_ip: opt(msg.src_ip.as_deref()),
            reasons,
            urls,
            numbers,
            domains: msg.domains.iter().map(|d| defanged(d)).collect(),
            record,
            analysis_note: analysis
                .is_none()
                .then_some("the stored analysis could not be read (written by another version)"),
        }
    }
}

/// The API's form of a message: stored machine values (real URLs, raw text), the analysis
/// with its campaign and phase from the store (the analysis is written before clustering).
pub fn api_message(m: &StoredMessage) -> serde_json::Value {
    let msg = &m.message;
    let mut analysis: serde_json::Value =
        serde_json::from_str(&msg.analysis).unwrap_or(serde_json::Value::Null);
    if let Some(obj) = analysis.as_object_mut() {
        obj.insert("campaign".into(), m.campaign.clone().into());
        obj.insert("phase".into(), m.phase.clone().into());
    }
    let record: serde_json::Value =
        serde_json::from_str(&msg.record).unwrap_or(serde_json::Value::Null);
    serde_json::json!({
        "id": msg.id,
        "ts": DateTime::from_timestamp_micros(msg.ts_micros),
        "event_id": msg.event_id,
        "origin": msg.origin,
        "recipient": msg.recipient,
        "country": msg.country,
        "sender": msg.sender,
        "router": msg.router,
        "src_ip": msg.src_ip,
        "text": msg.text,
        "lang": msg.lang,
        "verdict": msg.verdict,
        "score": msg.score,
        "brand": msg.brand,
        "domains": msg.domains,
        "campaign": m.campaign,
        "phase": m.phase,
        "analysis": analysis,
        "record": record,
    })
}

/// The stored summary of a campaign, `None` when it does not decode.
pub fn summary(row: &CampaignRow) -> Option<Campaign> {
    serde_json::from_str(&row.summary).ok()
}

/// The API's form of a campaign: its summary as the clustering wrote it.
pub fn api_campaign(row: &CampaignRow) -> serde_json::Value {
    match serde_json::from_str::<serde_json::Value>(&row.summary) {
        Ok(serde_json::Value::Object(summary)) => serde_json::Value::Object(summary),
        _ => serde_json::json!({
            "id": row.id,
            "brand": row.brand,
            "message_count": row.message_count,
            "first_seen": row.first_seen.and_then(DateTime::from_timestamp_micros),
            "last_seen": row.last_seen.and_then(DateTime::from_timestamp_micros),
        }),
    }
}

fn counts(list: &[Count], max: usize) -> Vec<(String, usize)> {
    list.iter().take(max).map(|c| (clip(&shown(&c.value), 200), c.count)).collect()
}

fn period(first: Option<&str>, last: Option<&str>) -> String {
    match (when_text(first), when_text(last)) {
        (f, l) if f.is_empty() && l.is_empty() => String::new(),
        (f, l) if f == l || l.is_empty() => f,
        (f, l) => format!("{f} – {l}"),
    }
}

/// One line of the Campaigns list.
#[derive(Debug, Clone)]
pub struct CampaignListRow {
    pub id: String,
    pub label: String,
    pub brand: String,
    pub period: String,
    pub messages: i64,
    pub recipients: usize,
    /// Top target countries, `BE 120, NL 3`.
    pub countries: String,
    pub domains: usize,
}

impl CampaignListRow {
    pub fn of(row: &CampaignRow) -> CampaignListRow {
        let c = summary(row);
        let micros =
            |t: Option<i64>| t.map(when_micros).map(|s| s.get(..16).unwrap_or("").to_owned());
        CampaignListRow {
            id: row.id.clone(),
            label: c
                .as_ref()
                .map(|c| clip(&shown(&c.label), 200))
                .unwrap_or_else(|| shown(&row.id)),
            brand: opt(row.brand.as_deref()),
            period: period(micros(row.first_seen).as_deref(), micros(row.last_seen).as_deref())
                .replace('T', " "),
            messages: row.message_count,
            recipients: c.as_ref().map_or(0, |c| c.recipients),
            countries: c
                .as_ref()
                .map(|c| {
                    counts(&c.target_countries, 3)
                        .into_iter()
                        .map(|(v, n)| format!("{v} {n}"))
                        .collect::<Vec<_>>()
                        .join(", ")
                })
                .unwrap_or_default(),
            domains: c.as_ref().map_or(0, |c| c.domains.len()),
        }
    }
}

/// A host a campaign's links used, for people.
#[derive(Debug)]
pub struct DomainView {
    pub host: String,
    pub domain: String,
    pub impersonates: String,
    pub technique: String,
    pub count: usize,
    pub period: String,
}

#[derive(Debug)]
pub struct OperatorView {
    pub number: String,
    pub country: String,
    pub sends: usize,
    pub failed: usize,
    pub routers: usize,
    pub period: String,
}

#[derive(Debug)]
pub struct WaveView {
    pub number: usize,
    pub start: String,
    pub end: String,
    pub fanout: String,
    pub messages: usize,
    pub validation: usize,
    pub recipients: usize,
    pub countries: String,
}

#[derive(Debug)]
pub struct SampleView {
    pub ts: String,
    pub router: String,
    pub recipient: String,
    pub status: String,
    pub phase: &'static str,
    pub text: String,
}

/// One rectangle of the timeline (numbers and our own words only reach the SVG).
#[derive(Debug)]
pub struct TimeBar {
    pub class: &'static str,
    pub x: u32,
    pub y: u32,
    pub w: u32,
    pub h: u32,
    pub title: String,
}

/// The campaign timeline: each wave's fan-out (from its fan-out to its end, height by its
/// messages) and its validation sends (from the first test to the fan-out, height by their
/// number), on one time axis from the campaign's first to its last message.
#[derive(Debug)]
pub struct Timeline {
    pub width: u32,
    pub height: u32,
    pub bars: Vec<TimeBar>,
    pub start_label: String,
    pub end_label: String,
}

fn secs(ts: Option<&str>) -> Option<i64> {
    ts.and_then(|t| DateTime::parse_from_rfc3339(t).ok()).map(|t| t.timestamp())
}

impl Timeline {
    pub fn of(c: &Campaign) -> Timeline {
        let (width, height) = (720u32, 100u32);
        let t0 = secs(c.first_seen.as_deref())
            .or_else(|| c.waves.iter().filter_map(|w| secs(Some(&w.start))).min());
        let t1 = secs(c.last_seen.as_deref())
            .or_else(|| c.waves.iter().filter_map(|w| secs(Some(&w.end))).max());
        let mut bars = Vec::new();
        if let (Some(t0), Some(t1)) = (t0, t1) {
            let span = (t1 - t0).max(1);
            let x = |t: i64| -> u32 {
                let off = (t.clamp(t0, t1) - t0) as f64 / span as f64;
                (off * f64::from(width - 4)).round() as u32
            };
            let peak = c
                .waves
                .iter()
                .map(|w| {
                    w.messages.saturating_sub(w.validation_messages).max(w.validation_messages)
                })
                .max()
                .unwrap_or(0)
                .max(1);
            let h = |n: usize| -> u32 {
                (((n as f64) / (peak as f64)) * f64::from(height)).ceil().clamp(2.0, 100.0) as u32
            };
            for w in &c.waves {
                let (Some(start), Some(end)) = (secs(Some(&w.start)), secs(Some(&w.end))) else {
                    continue;
                };
                let fanout = secs(w.fanout_at.as_deref()).unwrap_or(start);
                let first_test = secs(w.first_test_at.as_deref());
                if let Some(test) = first_test.filter(|_| w.validation_messages > 0) {
                    let (a, b) = (x(test), x(fanout.max(test)));
                    let bh = h(w.validation_messages);
                    bars.push(TimeBar {
                        class: "validation",
                        x: a,
                        y: height - bh,
                        w: (b - a).max(3),
                        h: bh,
                        title: format!(
                            "wave {}: {} validation sends from {}",
                            w.number,
                            w.validation_messages,
                            when_text(w.first_test_at.as_deref())
                        ),
                    });
                }
                let sent = w.messages.saturating_sub(w.validation_messages);
                if sent > 0 {
                    let (a, b) = (x(fanout), x(end.max(fanout)));
                    let bh = h(sent);
                    bars.push(TimeBar {
                        class: "wave",
                        x: a,
                        y: height - bh,
                        w: (b - a).max(3),
                        h: bh,
                        title: format!(
                            "wave {}: {} messages, {} – {}",
                            w.number,
                            sent,
                            when_text(Some(&w.start)),
                            when_text(Some(&w.end))
                        ),
                    });
                }
            }
        }
        Timeline {
            width,
            height,
            bars,
            start_label: when_text(c.first_seen.as_deref()),
            end_label: when_text(c.last_seen.as_deref()),
        }
    }
}

/// Everything the campaign page shows.
#[derive(Debug)]
pub struct CampaignDetail {
    pub id: String,
    pub label: String,
    pub brand: String,
    pub period: String,
    pub messages: usize,
    pub wave_messages: usize,
    pub validation_messages: usize,
    pub recipients: usize,
    pub templates: usize,
    pub languages: Vec<(String, usize)>,
    pub countries: Vec<(String, usize)>,
    pub routers: Vec<(String, usize)>,
    pub source_ips: Vec<(String, usize)>,
    pub sender_numbers: Vec<(String, usize)>,
    pub domains: Vec<DomainView>,
    pub urls: Vec<(String, usize)>,
    /// URLs not on the page (left out here or by the clustering's cap).
    pub urls_more: usize,
    pub operators: Vec<OperatorView>,
    pub waves: Vec<WaveView>,
    pub samples: Vec<SampleView>,
    pub timeline: Timeline,
}

impl CampaignDetail {
    pub fn of(c: &Campaign) -> CampaignDetail {
        CampaignDetail {
            id: c.id.clone(),
            label: shown(&c.label),
            brand: opt(c.brand.as_deref()),
            period: period(c.first_seen.as_deref(), c.last_seen.as_deref()),
            messages: c.message_count,
            wave_messages: c.wave_messages,
            validation_messages: c.validation_messages,
            recipients: c.recipients,
            templates: c.templates,
            languages: counts(&c.languages, PAGE_VALUES),
            countries: counts(&c.target_countries, PAGE_VALUES),
            routers: counts(&c.routers, PAGE_VALUES),
            source_ips: counts(&c.source_ips, PAGE_VALUES),
            sender_numbers: counts(&c.sender_numbers, PAGE_VALUES),
            domains: c
                .domains
                .iter()
                .map(|d| DomainView {
                    host: defanged(&d.host),
                    domain: defanged(&d.registrable_domain),
                    impersonates: opt(d.impersonates.as_deref()),
                    technique: opt(d.technique.as_deref()),
                    count: d.count,
                    period: period(d.first_seen.as_deref(), d.last_seen.as_deref()),
                })
                .collect(),
            urls: c.urls.iter().take(PAGE_URLS).map(|u| (defanged(&u.url), u.count)).collect(),
            urls_more: c.urls.len().saturating_sub(PAGE_URLS) + c.urls_omitted,
            operators: c
                .operator_numbers
                .iter()
                .take(PAGE_VALUES)
                .map(|n| OperatorView {
                    number: shown(&n.e164),
                    country: opt(n.country.as_deref()),
                    sends: n.count,
                    failed: n.failed,
                    routers: n.routers,
                    period: period(n.first_seen.as_deref(), n.last_seen.as_deref()),
                })
                .collect(),
            waves: c
                .waves
                .iter()
                .map(|w| WaveView {
                    number: w.number,
                    start: when_text(Some(&w.start)),
                    end: when_text(Some(&w.end)),
                    fanout: when_text(w.fanout_at.as_deref()),
                    messages: w.messages,
                    validation: w.validation_messages,
                    recipients: w.recipients,
                    countries: counts(&w.target_countries, 5)
                        .into_iter()
                        .map(|(v, n)| format!("{v} {n}"))
                        .collect::<Vec<_>>()
                        .join(", "),
                })
                .collect(),
            samples: {
                // In time order (the clustering keeps them by its own choice).
                let mut samples: Vec<&smishtrap_intel::campaign::Sample> =
                    c.samples.iter().collect();
                samples.sort_by_key(|s| secs(s.ts.as_deref()));
                samples
            }
            .into_iter()
            .map(|s| SampleView {
                ts: when_text(s.ts.as_deref()),
                router: opt(s.router.as_deref()),
                recipient: opt(s.recipient.as_deref()),
                status: opt(s.status.as_deref()),
                phase: match s.phase {
                    Some(smishtrap_intel::Phase::Validation) => "validation",
                    _ => "wave",
                },
                text: shown(&s.text),
            })
            .collect(),
            timeline: Timeline::of(c),
        }
    }
}

/// How long a sensor may go without a heartbeat before the console calls it silent, unless
/// configured (`ConsoleConfig::silent_after`, `--silent-after`): three heartbeat periods.
pub const DEFAULT_SILENT_AFTER: std::time::Duration =
    std::time::Duration::from_secs(smishtrap_event::HEARTBEAT_PERIOD.as_secs() * 3);

/// What a sensor's heartbeat says, for the Overview, the Sensors page and
/// `GET /api/v1/sensors`.
#[derive(Debug, Clone, Serialize)]
pub struct Heartbeat {
    pub sensor: String,
    /// `persona@address` of every listener.
    pub listeners: Vec<String>,
    /// Distinct personas of the listeners.
    pub personas: Vec<String>,
    pub started_at: DateTime<chrono::Utc>,
    pub updated_at: DateTime<chrono::Utc>,
    /// `running`, `stopped` (said goodbye) or `silent` (no heartbeat for the silent threshold).
    pub state: &'static str,
    /// Seconds from start to the last heartbeat (or to now while running).
    pub uptime_secs: i64,
    /// Seconds since the last heartbeat.
    pub heartbeat_age_secs: i64,
    pub events_recorded: u64,
    pub events_not_recorded: u64,
    /// Seconds since the oldest event the sensor has not forwarded yet was recorded (none
    /// when it forwards everything, does not forward, or sends no fleet figures).
    pub forward_lag_age_secs: Option<i64>,
    /// Fleet figures (forward lag, store size, retention), from sensors that send them.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fleet: Option<smishtrap_event::FleetHealth>,
}

impl Heartbeat {
    /// The heartbeat `s` seen at `now`; silent after `silent_after` without a newer one.
    pub fn of(
        s: &smishtrap_event::SensorStatus,
        now: DateTime<chrono::Utc>,
        silent_after: std::time::Duration,
    ) -> Heartbeat {
        let stale = chrono::TimeDelta::from_std(silent_after).unwrap_or(chrono::TimeDelta::MAX);
        let state = if s.stopped {
            "stopped"
        } else if now - s.updated_at > stale {
            "silent"
        } else {
            "running"
        };
        let until = if state == "running" { now } else { s.updated_at };
        let mut personas: Vec<String> = s
            .listeners
            .iter()
            .map(|l| l.split_once('@').map_or(l.as_str(), |(p, _)| p).to_owned())
            .collect();
        personas.sort();
        personas.dedup();
        let forward_lag_age_secs = s
            .fleet
            .as_ref()
            .filter(|f| f.forwarding && f.forward_lag > 0)
            .and_then(|f| f.oldest_unforwarded)
            .map(|t| (now - t).num_seconds().max(0));
        Heartbeat {
            sensor: s.sensor.clone(),
            listeners: s.listeners.clone(),
            personas,
            started_at: s.started_at,
            updated_at: s.updated_at,
            state,
            uptime_secs: (until - s.started_at).num_seconds().max(0),
            heartbeat_age_secs: (now - s.updated_at).num_seconds().max(0),
            events_recorded: s.events_recorded,
            events_not_recorded: s.events_not_recorded,
            forward_lag_age_secs,
            fleet: s.fleet.clone(),
        }
    }

    /// `3d 4h`, `2h 5m`, `4m 10s`.
    pub fn uptime(&self) -> String {
        span(self.uptime_secs)
    }

    /// Events waiting to be forwarded, with dropped ones (`-` for sensors that do not forward
    /// or send no fleet figures).
    pub fn forward_lag(&self) -> String {
        match &self.fleet {
            Some(f) if f.forwarding && f.retention_dropped_unforwarded > 0 => {
                format!("{} ({} dropped)", f.forward_lag, f.retention_dropped_unforwarded)
            }
            Some(f) if f.forwarding => f.forward_lag.to_string(),
            _ => "-".to_owned(),
        }
    }

    /// Live size of the sensor's store in MiB (`-` without fleet figures).
    pub fn store(&self) -> String {
        self.fleet.as_ref().map_or_else(
            || "-".to_owned(),
            |f| format!("{:.1} MiB", f.store_bytes as f64 / 1_048_576.0),
        )
    }

    /// The last heartbeat, as the Overview shows it.
    pub fn updated(&self) -> String {
        self.updated_at.format("%Y-%m-%d %H:%M:%S").to_string()
    }

    /// How long ago the last heartbeat came (`4m 10s ago`).
    pub fn heartbeat_age(&self) -> String {
        format!("{} ago", span(self.heartbeat_age_secs))
    }

    /// The sensor's smishtrap version (`-` without fleet figures).
    pub fn version(&self) -> &str {
        self.fleet.as_ref().map_or("-", |f| f.version.as_str())
    }

    /// Personas the sensor serves: its fleet figures', else its listeners'.
    pub fn served(&self) -> String {
        match &self.fleet {
            Some(f) if !f.personas.is_empty() => f.personas.join(", "),
            _ => self.personas.join(", "),
        }
    }

    /// Age of the oldest unforwarded event (`-` when nothing waits).
    pub fn lag_age(&self) -> String {
        self.forward_lag_age_secs.map_or_else(|| "-".to_owned(), span)
    }

    /// Events the sensor stored in the last hour (`-` without fleet figures).
    pub fn per_hour(&self) -> String {
        self.fleet.as_ref().map_or_else(|| "-".to_owned(), |f| f.events_last_hour.to_string())
    }
}

/// `3d 4h`, `2h 5m`, `4m 10s` for a number of seconds.
fn span(s: i64) -> String {
    let (d, h, m) = (s / 86_400, s % 86_400 / 3600, s % 3600 / 60);
    match (d, h, m) {
        (0, 0, m) => format!("{m}m {}s", s % 60),
        (0, h, m) => format!("{h}h {m}m"),
        (d, h, _) => format!("{d}d {h}h"),
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn check(id: &str, safe: bool) {
        assert_eq!(safe_id(id), safe, "{id}");
    }

    fn beat(started: i64, updated: i64, stopped: bool) -> smishtrap_event::SensorStatus {
        let t = |s: i64| DateTime::from_timestamp(1_750_000_000 + s, 0).unwrap_or_default();
        smishtrap_event::SensorStatus {
            sensor: "s1".into(),
            listeners: vec![
                "milesight-ur32l@127.0.0.1:8080".into(),
                "milesight-ur32l@[::1]:8080".into(),
            ],
            started_at: t(started),
            updated_at: t(updated),
            events_recorded: 3,
            events_not_recorded: 1,
            stopped,
            health: smishtrap_event::Health::Ok,
            fleet: None,
        }
    }

    #[test]
    fn heartbeats_say_running_stopped_or_silent() {
        let now = DateTime::from_timestamp(1_750_000_000 + 7200, 0).unwrap_or_default();
        let check = |b: smishtrap_event::SensorStatus, state: &str, uptime: &str| {
            let h = Heartbeat::of(&b, now, DEFAULT_SILENT_AFTER);
            assert_eq!((h.state, h.uptime().as_str()), (state, uptime));
            assert_eq!(h.personas, ["milesight-ur32l"]);
        };
        check(beat(0, 7198, false), "running", "2h 0m");
        check(beat(0, 7200 - 16, false), "silent", "1h 59m");
        check(beat(7000, 7100, true), "stopped", "1m 40s");
        check(beat(-200_000, 7199, false), "running", "2d 9h");
    }

    #[test]
    fn the_silent_threshold_is_configurable() {
        let now = DateTime::from_timestamp(1_750_000_000 + 7200, 0).unwrap_or_default();
        let check = |updated: i64, after_secs: u64, state: &str| {
            let h = Heartbeat::of(&beat(0, updated, false), now, Duration::from_secs(after_secs));
            assert_eq!(
                h.state,
                state,
                "heartbeat {}s old, silent after {after_secs}s",
                7200 - updated
            );
            assert_eq!(h.heartbeat_age_secs, 7200 - updated);
        };
        check(7200 - 16, 15, "silent");
        check(7200 - 16, 60, "running");
        check(7200 - 9, 8, "silent");
        check(7200 - 8, 8, "running");
        check(0, 86_400, "running");
    }

    #[test]
    fn forward_lag_shows_count_and_age_of_the_oldest() {
        let now = DateTime::from_timestamp(1_750_000_000 + 7200, 0).unwrap_or_default();
        let check = |fleet: Option<smishtrap_event::FleetHealth>, lag: &str, age: &str| {
            let mut b = beat(0, 7199, false);
            b.fleet = fleet;
            let h = Heartbeat::of(&b, now, DEFAULT_SILENT_AFTER);
            assert_eq!((h.forward_lag().as_str(), h.lag_age().as_str()), (lag, age));
        };
        let fleet = |lag: u64, oldest: Option<i64>, forwarding: bool| {
            Some(smishtrap_event::FleetHealth {
                version: "0.1.0".into(),
                forward_lag: lag,
                oldest_unforwarded: oldest
                    .map(|s| DateTime::from_timestamp(1_750_000_000 + s, 0).unwrap_or_default()),
                forwarding,
                ..smishtrap_event::FleetHealth::default()
            })
        };
        check(None, "-", "-");
        check(fleet(0, None, false), "-", "-");
        check(fleet(0, None, true), "0", "-");
        check(fleet(42, Some(7200 - 75), true), "42", "1m 15s");
        check(fleet(3, Some(0), true), "3", "2h 0m");
    }

    #[test]
    fn only_plain_ids_are_safe_in_names_and_paths() {
        check("cmp-0123456789ab", true);
        check("cmp-0123456789ab-2", true);
        check("", false);
        check("../etc/passwd", false);
        check("cmp-1\r\nSet-Cookie: x=1", false);
        check("cmp\"; filename=evil.exe", false);
        check(&"a".repeat(65), false);
    }

    #[test]
    fn shown_text_is_defanged_and_has_no_controls() {
        assert_eq!(shown("go to https://evil.com/x now"), "go to hxxps://evil[.]com/x now");
        assert_eq!(shown("a\u{202e}b\u{7}c\nd"), "a\\u{202e}b\\u{7}c\nd");
        assert_eq!(defanged("https://csam-be.info/login"), "hxxps://csam-be[.]info/login");
        assert_eq!(defanged("hxxps://csam-be[.]info/login"), "hxxps://csam-be[.]info/login");
    }
}
