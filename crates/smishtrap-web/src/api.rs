//! The REST API under `/api/v1`, documented by `openapi.json` (a data file served as is; the
//! tests check that every route is documented and every documented path answers).

use std::collections::HashSet;
use std::convert::Infallible;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Json;
use axum::Router;
use axum::extract::{FromRequestParts, Path, Query, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use chrono::{DateTime, Utc};
use futures_util::Stream;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::json;
use smishtrap_event::{Event, EventKind};
use smishtrap_store::EventFilter;
use tokio::sync::broadcast::error::RecvError;

use crate::findings::{Heartbeat, MessageRow, api_campaign, api_message, safe_id, summary};
use crate::source::{CampaignCursor, Cursor, MessageCursor};
use crate::view::EventRow;
use crate::{AppState, WebError};

/// The OpenAPI 3.1 document of this API.
pub const OPENAPI_JSON: &str = include_str!("openapi.json");
/// Default and largest page size of the API's lists.
pub const DEFAULT_LIMIT: usize = 100;
pub const MAX_LIMIT: usize = 1000;
/// Most SSE clients at once.
pub const MAX_STREAMS: usize = 64;
/// Longest filter value accepted, in characters (sensor names are short; anything longer
/// matches nothing).
const MAX_FILTER_CHARS: usize = 256;

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/health", get(health))
        .route("/api/v1/events", get(events))
        .route("/api/v1/events/stream", get(stream))
        .route("/api/v1/events/{id}", get(event))
        .route("/api/v1/sensors", get(sensors))
        .route("/api/v1/messages", get(messages))
        .route("/api/v1/messages/{id}", get(message))
        .route("/api/v1/campaigns", get(campaigns))
        .route("/api/v1/campaigns/{id}", get(campaign))
        .route("/api/v1/campaigns/{id}/export", get(campaign_export))
        .route("/api/v1/exports", get(exports))
        .route("/api/v1/fleet", get(fleet))
        .route("/api/v1/openapi.json", get(openapi))
}

/// The query string as `T`. Unlike axum's `Query`, a query that does not parse (a repeated
/// parameter, a `limit` that is not a number, bytes that are not UTF-8) is refused with the
/// API's JSON error shape, like every other bad parameter.
#[derive(Debug, Clone, Copy, Default)]
pub struct ApiQuery<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = WebError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, WebError> {
        match Query::<T>::from_request_parts(parts, state).await {
            Ok(Query(value)) => Ok(ApiQuery(value)),
            Err(rejection) => Err(WebError::bad("query", rejection.body_text())),
        }
    }
}

/// Message search parameters shared by `GET /api/v1/messages` and the Messages page (all
/// optional).
#[derive(Debug, Default, Clone, Deserialize)]
pub struct MessageParams {
    /// Substring of the text, any case.
    pub text: Option<String>,
    /// Prefix of the recipient or sender number (`+32470`).
    pub number: Option<String>,
    /// Host name or registrable domain of a link; defanged input is accepted.
    pub domain: Option<String>,
    pub brand: Option<String>,
    pub verdict: Option<String>,
    pub campaign: Option<String>,
    /// ISO 3166-1 alpha-2 of the recipient.
    pub country: Option<String>,
    pub cursor: Option<String>,
    pub limit: Option<usize>,
}

/// The verdicts a message can have.
pub const VERDICTS: [&str; 3] = ["smishing", "spam", "ham"];

fn nonempty(v: Option<&str>) -> Option<&str> {
    v.map(str::trim).filter(|s| !s.is_empty())
}

/// A free-text value of at most 256 characters (blanks included), trimmed: `None` when blank.
fn bounded(field: &'static str, v: Option<&str>) -> Result<Option<String>, WebError> {
    if v.is_some_and(|s| s.chars().count() > smishtrap_store::MAX_QUERY_VALUE_CHARS) {
        return Err(WebError::bad(field, "longer than 256 characters"));
    }
    Ok(nonempty(v).map(str::to_owned))
}

/// A number prefix as `openapi.json` writes it (`^([ ().-]*(\+[ ().-]*)?[0-9][0-9 ().-]*)?$`,
/// at most 256 characters): `None` when empty, else the digits with their `+`.
fn number_prefix(raw: Option<&str>) -> Result<Option<String>, WebError> {
    let raw = raw.unwrap_or("");
    if raw.is_empty() {
        return Ok(None);
    }
    let bad = || {
        WebError::bad(
            "number",
            "digits with an optional leading + (spaces, dashes, dots and parentheses are ignored)",
        )
    };
    if raw.chars().count() > smishtrap_store::MAX_QUERY_VALUE_CHARS {
        return Err(bad());
    }
    let kept: String = raw.chars().filter(|c| !matches!(c, ' ' | '-' | '.' | '(' | ')')).collect();
    let digits = kept.strip_prefix('+').unwrap_or(&kept);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    Ok(Some(kept))
}

/// A domain as searched: refanged (`csam-be[.]info`, `hxxps://...`), the host of a pasted
/// URL, lowercase, without a trailing dot.
pub fn search_domain(raw: &str) -> String {
    let plain = smishtrap_extract::refang(raw.trim());
    let mut s: &str = &plain;
    if let Some((_, rest)) = s.split_once("://") {
        s = rest;
    }
    let s = s.split(['/', '?', '#']).next().unwrap_or("");
    // user info and port of a pasted URL
    let s = s.rsplit('@').next().unwrap_or("");
    let s = match s.rsplit_once(':') {
        Some((host, port)) if port.bytes().all(|b| b.is_ascii_digit()) => host,
        _ => s,
    };
    s.trim().trim_end_matches('.').to_lowercase()
}

impl MessageParams {
    /// The store query these parameters ask for (without the cursor).
    pub(crate) fn query(&self) -> Result<smishtrap_store::MessageQuery, WebError> {
        let number = number_prefix(self.number.as_deref())?;
        let domain = bounded("domain", self.domain.as_deref())?
            .map(|d| search_domain(&d))
            .filter(|d| !d.is_empty());
        let verdict = match self.verdict.as_deref().unwrap_or("") {
            "" => None,
            v if VERDICTS.contains(&v) => Some(v.to_owned()),
            _ => return Err(WebError::bad("verdict", "expected smishing, spam or ham")),
        };
        let country = match self.country.as_deref().unwrap_or("") {
            "" => None,
            c if c.len() == 2 && c.bytes().all(|b| b.is_ascii_alphabetic()) => {
                Some(c.to_ascii_uppercase())
            }
            _ => return Err(WebError::bad("country", "expected a two-letter country code (BE)")),
        };
        Ok(smishtrap_store::MessageQuery {
            text: bounded("text", self.text.as_deref())?,
            number,
            domain,
            brand: bounded("brand", self.brand.as_deref())?,
            verdict,
            campaign: bounded("campaign", self.campaign.as_deref())?,
            country,
            before: None,
        })
    }

    pub(crate) fn cursor(&self) -> Result<Option<MessageCursor>, WebError> {
        self.cursor.as_deref().filter(|c| !c.is_empty()).map(MessageCursor::decode).transpose()
    }
}

/// Parameters of `GET /api/v1/campaigns` and the Campaigns page.
#[derive(Debug, Default, Clone, Deserialize)]
pub struct CampaignParams {
    pub brand: Option<String>,
    pub cursor: Option<String>,
    pub limit: Option<usize>,
}

impl CampaignParams {
    pub(crate) fn brand(&self) -> Result<Option<String>, WebError> {
        bounded("brand", self.brand.as_deref())
    }

    pub(crate) fn cursor(&self) -> Result<Option<CampaignCursor>, WebError> {
        self.cursor.as_deref().filter(|c| !c.is_empty()).map(CampaignCursor::decode).transpose()
    }
}

fn limit(asked: Option<usize>) -> Result<usize, WebError> {
    let limit = asked.unwrap_or(DEFAULT_LIMIT);
    if limit == 0 || limit > MAX_LIMIT {
        return Err(WebError::bad("limit", format!("must be between 1 and {MAX_LIMIT}")));
    }
    Ok(limit)
}

async fn messages(
    State(state): State<AppState>,
    ApiQuery(q): ApiQuery<MessageParams>,
) -> Result<Json<serde_json::Value>, WebError> {
    let query = q.query()?;
    let cursor = q.cursor()?;
    let limit = limit(q.limit)?;
    let source = state.inner.source.clone();
    let page = blocking(move || source.messages(&query, cursor.as_ref(), limit, None)).await?;
    let items: Vec<serde_json::Value> = page.messages.iter().map(api_message).collect();
    Ok(Json(json!({ "messages": items, "next_cursor": page.next.map(|c| c.encode()) })))
}

async fn message(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<serde_json::Value>, WebError> {
    let source = state.inner.source.clone();
    let found = blocking(move || source.message(&id)).await?.ok_or(WebError::NotFound)?;
    Ok(Json(api_message(&found)))
}

async fn campaigns(
    State(state): State<AppState>,
    ApiQuery(q): ApiQuery<CampaignParams>,
) -> Result<Json<serde_json::Value>, WebError> {
    let brand = q.brand()?;
    let cursor = q.cursor()?;
    let limit = limit(q.limit)?;
    let source = state.inner.source.clone();
    let page = blocking(move || source.campaigns(brand.as_deref(), cursor.as_ref(), limit)).await?;
    let items: Vec<serde_json::Value> = page.campaigns.iter().map(api_campaign).collect();
    Ok(Json(json!({ "campaigns": items, "next_cursor": page.next.map(|c| c.encode()) })))
}

async fn campaign(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<serde_json::Value>, WebError> {
    let source = state.inner.source.clone();
    let found = blocking(move || source.campaign(&id)).await?.ok_or(WebError::NotFound)?;
    Ok(Json(api_campaign(&found)))
}

/// Export formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExportFormat {
    Stix,
    Misp,
    Csv,
    Json,
}

impl ExportFormat {
    fn parse(raw: Option<&str>) -> Result<ExportFormat, WebError> {
        match raw {
            Some("stix") => Ok(ExportFormat::Stix),
            Some("misp") => Ok(ExportFormat::Misp),
            Some("csv") => Ok(ExportFormat::Csv),
            Some("json") => Ok(ExportFormat::Json),
            _ => Err(WebError::bad("format", "expected stix, misp, csv or json")),
        }
    }

    fn extension(self) -> &'static str {
        match self {
            ExportFormat::Stix => "stix.json",
            ExportFormat::Misp => "misp.json",
            ExportFormat::Csv => "csv",
            ExportFormat::Json => "json",
        }
    }
}

#[derive(Debug, Default, Clone, Deserialize)]
pub struct ExportParams {
    pub format: Option<String>,
}

/// The export of `campaigns` as a download named `<stem>.<extension>`; `stem` is ours
/// (fixed words and validated ids), never stored or request text.
fn export_response(
    campaigns: &[smishtrap_intel::campaign::Campaign],
    format: ExportFormat,
    single: bool,
    stem: &str,
    producer: &smishtrap_export::Producer,
) -> Result<Response, WebError> {
    let to_json = |v: &serde_json::Value| {
        serde_json::to_vec_pretty(v).map_err(|e| WebError::Internal(format!("encode export: {e}")))
    };
    let (content_type, body) = match format {
        ExportFormat::Stix => {
            ("application/json", to_json(&smishtrap_export::stix::bundle(campaigns, producer))?)
        }
        ExportFormat::Json => ("application/json", to_json(&smishtrap_export::json(campaigns))?),
        ExportFormat::Csv => {
            ("text/csv; charset=utf-8", smishtrap_export::csv::indicators(campaigns))
        }
        ExportFormat::Misp => {
            // one event per campaign everywhere (uuids follow the stable campaign ids); all
            // of them as MISP's own multi-event JSON (`{"response": [...]}`)
            let mode = smishtrap_export::misp::Mode::PerCampaign;
            let events = smishtrap_export::misp::events(campaigns, mode, producer);
            let body = match (single, events.first()) {
                (true, Some(event)) => to_json(event)?,
                _ => to_json(&serde_json::json!({ "response": events }))?,
            };
            ("application/json", body)
        }
    };
    let disposition = format!("attachment; filename=\"{stem}.{}\"", format.extension());
    let disposition = HeaderValue::from_str(&disposition)
        .map_err(|_| WebError::Internal("export file name is not a header value".into()))?;
    Ok((
        [
            (header::CONTENT_TYPE, HeaderValue::from_static(content_type)),
            (header::CONTENT_DISPOSITION, disposition),
        ],
        body,
    )
        .into_response())
}

/// `GET /api/v1/campaigns/{id}/export?format=`: one campaign as a download.
pub(crate) async fn campaign_export(
    State(state): State<AppState>,
    Path(id): Path<String>,
    ApiQuery(q): ApiQuery<ExportParams>,
) -> Result<Response, WebError> {
    let format = ExportFormat::parse(q.format.as_deref())?;
    let source = state.inner.source.clone();
    let row = blocking(move || source.campaign(&id)).await?.ok_or(WebError::NotFound)?;
    let campaign = summary(&row).ok_or_else(|| {
        WebError::Internal(format!("campaign {:?} has an unreadable summary", row.id))
    })?;
    // The id names the file only when it is a plain id; anything else gets a fixed name.
    let stem = if safe_id(&row.id) {
        format!("smishtrap-{}", row.id)
    } else {
        "smishtrap-campaign".to_owned()
    };
    export_response(std::slice::from_ref(&campaign), format, true, &stem, &state.inner.producer)
}

/// `GET /api/v1/exports?format=`: every stored campaign as one download.
async fn exports(
    State(state): State<AppState>,
    ApiQuery(q): ApiQuery<ExportParams>,
) -> Result<Response, WebError> {
    let format = ExportFormat::parse(q.format.as_deref())?;
    let source = state.inner.source.clone();
    let rows = blocking(move || source.all_campaigns()).await?;
    let mut campaigns: Vec<smishtrap_intel::campaign::Campaign> = Vec::with_capacity(rows.len());
    let mut unreadable = 0usize;
    for row in &rows {
        match summary(row) {
            Some(c) => campaigns.push(c),
            None => unreadable += 1,
        }
    }
    if unreadable > 0 {
        tracing::warn!(unreadable, "export left out campaigns whose summary does not decode");
    }
    // Largest first, as `smishtrap export` writes them.
    campaigns.sort_by(|a, b| b.message_count.cmp(&a.message_count).then_with(|| a.id.cmp(&b.id)));
    export_response(&campaigns, format, false, "smishtrap-campaigns", &state.inner.producer)
}

/// Filters shared by the list, the stream and the Live page (all optional).
#[derive(Debug, Default, Clone, Deserialize)]
pub struct EventQuery {
    /// Comma-separated kinds (`sms.send,auth.login`).
    pub kind: Option<String>,
    pub sensor: Option<String>,
    pub src_ip: Option<String>,
    /// RFC 3339 instant.
    pub since: Option<String>,
    pub limit: Option<usize>,
    pub cursor: Option<String>,
    /// Stream only: replay kept events after this id first.
    pub after: Option<String>,
}

/// A parsed [`EventQuery`].
#[derive(Debug, Clone, Default)]
pub(crate) struct Filters {
    pub(crate) kinds: Vec<EventKind>,
    pub(crate) sensor: Option<String>,
    pub(crate) src_ip: Option<IpAddr>,
    pub(crate) since: Option<DateTime<Utc>>,
}

impl Filters {
    /// The filters of `q`, each exactly as `openapi.json` describes it (empty means no
    /// filter).
    pub(crate) fn parse(q: &EventQuery) -> Result<Filters, WebError> {
        let mut kinds = Vec::new();
        let names = q.kind.as_deref().unwrap_or("").split(',').map(|s| s.trim_matches(' '));
        for name in names.filter(|s| !s.is_empty()) {
            let kind = EventKind::parse(name).ok_or_else(|| {
                let known: Vec<&str> = EventKind::ALL.iter().map(|k| k.as_str()).collect();
                WebError::bad("kind", format!("unknown kind, expected one of {}", known.join(", ")))
            })?;
            if !kinds.contains(&kind) {
                kinds.push(kind);
            }
        }
        if q.sensor.as_deref().is_some_and(|s| s.chars().count() > MAX_FILTER_CHARS) {
            return Err(WebError::bad("sensor", "longer than 256 characters"));
        }
        let sensor = nonempty(q.sensor.as_deref()).map(str::to_owned);
        let src_ip = match q.src_ip.as_deref().unwrap_or("") {
            "" => None,
            s => Some(
                s.parse::<IpAddr>().map_err(|_| WebError::bad("src_ip", "not an IP address"))?,
            ),
        };
        let since = match q.since.as_deref().unwrap_or("") {
            "" => None,
            s => Some(DateTime::parse_from_rfc3339(s).map(|t| t.with_timezone(&Utc)).map_err(
                |_| WebError::bad("since", "not an RFC 3339 time (2025-07-22T10:00:00Z)"),
            )?),
        };
        Ok(Filters { kinds, sensor, src_ip, since })
    }

    pub(crate) fn store_filter(&self) -> EventFilter {
        EventFilter {
            kinds: self.kinds.clone(),
            since: self.since,
            sensor: self.sensor.clone(),
            src_ip: self.src_ip,
            ..Default::default()
        }
    }

    pub(crate) fn matches(&self, event: &Event) -> bool {
        (self.kinds.is_empty() || self.kinds.contains(&event.kind))
            && self.sensor.as_ref().is_none_or(|s| *s == event.sensor)
            && self.src_ip.is_none_or(|ip| ip == event.src_ip)
            && self.since.is_none_or(|t| event.ts >= t)
    }
}

/// Runs blocking store work off the async runtime.
pub(crate) async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, WebError> + Send + 'static,
) -> Result<T, WebError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| WebError::Internal(format!("store task failed: {e}")))?
}

/// `GET /api/v1/fleet`: the stored audit of each router, as the Fleet page shows it.
async fn fleet(State(state): State<AppState>) -> Result<Json<crate::fleet::FleetView>, WebError> {
    let source = state.inner.source.clone();
    let (stored, rows) = blocking(move || source.fleet(crate::fleet::MAX_FLEET_TARGETS)).await?;
    Ok(Json(crate::fleet::FleetView::of(stored, &rows)))
}

async fn health(State(state): State<AppState>) -> Json<serde_json::Value> {
    let live = &state.inner.live;
    let (total, last) = live.with_stats(|s| (s.total, s.last_ts));
    let error = live.last_error();
    let report = state.inner.health.report(live);
    let sensor = report.sensor.map(|s| {
        json!({
            "sensor": s.sensor,
            "updated_at": s.updated_at,
            "stopped": s.stopped,
            "health": s.health,
            "events_recorded": s.events_recorded,
            "events_not_recorded": s.events_not_recorded,
        })
    });
    Json(json!({
        "status": if report.health.is_ok() { "ok" } else { "degraded" },
        "reasons": report.health.reasons(),
        "store": { "caught_up": live.caught_up(), "events": total, "last_event": last, "error": error.map(|_| "the event store could not be read, see the console log") },
        "sensor": sensor,
    }))
}

async fn events(
    State(state): State<AppState>,
    ApiQuery(q): ApiQuery<EventQuery>,
) -> Result<Json<serde_json::Value>, WebError> {
    let filters = Filters::parse(&q)?;
    let limit = limit(q.limit)?;
    let cursor = q.cursor.as_deref().filter(|c| !c.is_empty()).map(Cursor::decode).transpose()?;
    let source = state.inner.source.clone();
    let page =
        blocking(move || source.page(&filters.store_filter(), cursor.as_ref(), limit)).await?;
    Ok(Json(json!({
        "events": page.events,
        "next_cursor": page.next.map(|c| c.encode()),
    })))
}

async fn event(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Event>, WebError> {
    let source = state.inner.source.clone();
    blocking(move || source.get(&id)).await?.map(Json).ok_or(WebError::NotFound)
}

async fn sensors(State(state): State<AppState>) -> Json<serde_json::Value> {
    let now = Utc::now();
    let sensors: Vec<serde_json::Value> = state.inner.live.with_stats(|stats| {
        stats
            .sensors
            .iter()
            .map(|((sensor, persona), s)| {
                let by_kind: serde_json::Map<String, serde_json::Value> = EventKind::ALL
                    .iter()
                    .zip(s.by_kind)
                    .filter(|(_, n)| *n > 0)
                    .map(|(k, n)| (k.as_str().to_owned(), n.into()))
                    .collect();
                json!({
                    "sensor": sensor,
                    "persona": persona,
                    "first_seen": s.first_seen,
                    "last_seen": s.last_seen,
                    "events": s.events,
                    "by_kind": by_kind,
                    "active": sensor_active(s.last_seen, now),
                })
            })
            .collect()
    });
    let silent_after = state.inner.silent_after;
    let heartbeats: Vec<Heartbeat> = state
        .inner
        .live
        .insights()
        .heartbeats
        .iter()
        .map(|s| Heartbeat::of(s, now, silent_after))
        .collect();
    Json(json!({
        "sensors": sensors,
        "heartbeats": heartbeats,
        "silent_after_secs": silent_after.as_secs(),
        "caught_up": state.inner.live.caught_up(),
    }))
}

/// A sensor counts as active when it recorded something in the last 15 minutes.
pub(crate) fn sensor_active(last_seen: DateTime<Utc>, now: DateTime<Utc>) -> bool {
    now.signed_duration_since(last_seen) < chrono::TimeDelta::minutes(15)
}

async fn openapi() -> Response {
    ([(header::CONTENT_TYPE, "application/json")], OPENAPI_JSON).into_response()
}

/// `GET /api/v1/events/stream`: Server-Sent Events, one `event: event` per new matching event
/// with an [`EventRow`] as data and the event id as SSE id, and one `event: message` per newly
/// clustered analysed message (a [`MessageRow`]) unless the stream is narrowed to a sensor,
/// a source or kinds without `sms.send`. After `?after=ID` or a
/// `Last-Event-ID` header, kept newer events are replayed first, so a reconnect or a page
/// rendered just before connecting misses nothing the console still holds.
async fn stream(
    State(state): State<AppState>,
    ApiQuery(q): ApiQuery<EventQuery>,
    headers: HeaderMap,
) -> Result<Sse<impl Stream<Item = Result<SseEvent, Infallible>>>, WebError> {
    let filters = Filters::parse(&q)?;
    if q.after.as_deref().is_some_and(|a| a.chars().count() > 256) {
        return Err(WebError::bad("after", "longer than 256 characters"));
    }
    let permit =
        state.inner.streams.clone().try_acquire_owned().map_err(|_| WebError::TooManyStreams)?;
    let live = state.inner.live.clone();
    let mut receiver = live.subscribe();
    let mut messages = live.subscribe_messages();
    // Analysed messages come from sms.send events; a stream narrowed to a sensor or source
    // gets none (a message's origin is not always one of them).
    let with_messages = (filters.kinds.is_empty() || filters.kinds.contains(&EventKind::SmsSend))
        && filters.sensor.is_none()
        && filters.src_ip.is_none();
    let after = headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
        .or(q.after.clone())
        .filter(|a| !a.is_empty() && a.len() <= 256);
    let mut replay: Vec<Arc<Event>> = Vec::new();
    if let Some(after) = after {
        let recent = live.recent();
        if let Some(pos) = recent.iter().position(|e| e.id == after) {
            replay = recent[pos + 1..].iter().filter(|e| filters.matches(e)).cloned().collect();
        }
    }
    let replayed: HashSet<String> = replay.iter().map(|e| e.id.clone()).collect();
    let mut closing = state.inner.closing.subscribe();
    let stream = async_stream(move |tx| async move {
        let _permit = permit;
        for event in replay {
            if tx.send(sse_event(&event)).await.is_err() {
                return;
            }
        }
        loop {
            let received = tokio::select! {
                // A client that left frees its slot even when no event arrives.
                () = tx.closed() => return,
                // The server shuts down: end the stream so the connection can close.
                _ = closing.wait_for(|closing| *closing) => return,
                received = receiver.recv() => Received::Event(received),
                message = messages.recv(), if with_messages => Received::Message(message),
            };
            let item = match received {
                Received::Event(Ok(event)) => {
                    if replayed.contains(&event.id) || !filters.matches(&event) {
                        continue;
                    }
                    sse_event(&event)
                }
                Received::Message(Ok(row)) => sse_message(&row),
                Received::Event(Err(RecvError::Lagged(n)))
                | Received::Message(Err(RecvError::Lagged(n))) => {
                    SseEvent::default().event("lagged").data(n.to_string())
                }
                Received::Event(Err(RecvError::Closed))
                | Received::Message(Err(RecvError::Closed)) => return,
            };
            if tx.send(item).await.is_err() {
                return;
            }
        }
    });
    Ok(Sse::new(stream).keep_alive(KeepAlive::new().interval(Duration::from_secs(15))))
}

fn sse_event(event: &Event) -> SseEvent {
    let row = EventRow::of(event);
    let data = serde_json::to_string(&row).unwrap_or_else(|_| "{}".into());
    // The id is a sensor-bound `<session>-<seq>`; SSE ids must not contain newlines.
    let id: String = event.id.chars().filter(|c| !c.is_control()).collect();
    SseEvent::default().event("event").id(id).data(data)
}

/// What a stream's task woke up for.
enum Received {
    Event(Result<Arc<Event>, RecvError>),
    Message(Result<Arc<MessageRow>, RecvError>),
}

/// An analysed message: `event: message` with a [`MessageRow`] as data and no SSE id (a
/// reconnect resumes from the last *event* id).
fn sse_message(row: &MessageRow) -> SseEvent {
    let data = serde_json::to_string(row).unwrap_or_else(|_| "{}".into());
    SseEvent::default().event("message").data(data)
}

/// A stream fed by a task through a small bounded channel; the task ends when the client
/// goes away (the send fails).
fn async_stream<F, Fut>(f: F) -> impl Stream<Item = Result<SseEvent, Infallible>>
where
    F: FnOnce(tokio::sync::mpsc::Sender<SseEvent>) -> Fut,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let (tx, rx) = tokio::sync::mpsc::channel(16);
    tokio::spawn(f(tx));
    futures_util::stream::unfold(
        rx,
        |mut rx| async move { rx.recv().await.map(|item| (Ok(item), rx)) },
    )
}
