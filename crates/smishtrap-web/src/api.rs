//! The REST API under `/api/v1`, documented by `openapi.json` (a data file served as is; the
//! tests check that every route is documented and every documented path answers).

use std::collections::HashSet;
use std::convert::Infallible;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Json;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, header};
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use chrono::{DateTime, Utc};
use futures_util::Stream;
use serde::Deserialize;
use serde_json::json;
use smishtrap_event::{Event, EventKind};
use smishtrap_store::EventFilter;
use tokio::sync::broadcast::error::RecvError;

use crate::source::Cursor;
use crate::view::EventRow;
use crate::{AppState, WebError};

/// The OpenAPI 3.1 document of this API.
pub const OPENAPI_JSON: &str = include_str!("openapi.json");
/// Default and largest page size of `GET /api/v1/events`.
pub const DEFAULT_LIMIT: usize = 100;
pub const MAX_LIMIT: usize = 1000;
/// Most SSE clients at once.
pub const MAX_STREAMS: usize = 64;
/// Longest filter value accepted (sensor names are short; anything longer matches nothing).
const MAX_FILTER_LEN: usize = 256;

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/health", get(health))
        .route("/api/v1/events", get(events))
        .route("/api/v1/events/stream", get(stream))
        .route("/api/v1/events/{id}", get(event))
        .route("/api/v1/sensors", get(sensors))
        .route("/api/v1/openapi.json", get(openapi))
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
    pub(crate) fn parse(q: &EventQuery) -> Result<Filters, WebError> {
        let nonempty = |v: &Option<String>| {
            v.as_deref().map(str::trim).filter(|s| !s.is_empty()).map(str::to_owned)
        };
        let mut kinds = Vec::new();
        if let Some(raw) = nonempty(&q.kind) {
            for name in raw.split(',').map(str::trim).filter(|s| !s.is_empty()) {
                let kind = EventKind::parse(name).ok_or_else(|| {
                    let known: Vec<&str> = EventKind::ALL.iter().map(|k| k.as_str()).collect();
                    WebError::bad(
                        "kind",
                        format!("unknown kind, expected one of {}", known.join(", ")),
                    )
                })?;
                if !kinds.contains(&kind) {
                    kinds.push(kind);
                }
            }
        }
        let sensor = nonempty(&q.sensor);
        if sensor.as_ref().is_some_and(|s| s.len() > MAX_FILTER_LEN) {
            return Err(WebError::bad("sensor", "longer than 256 bytes"));
        }
        let src_ip = nonempty(&q.src_ip)
            .map(|s| s.parse::<IpAddr>().map_err(|_| WebError::bad("src_ip", "not an IP address")))
            .transpose()?;
        let since = nonempty(&q.since)
            .map(|s| {
                DateTime::parse_from_rfc3339(&s).map(|t| t.with_timezone(&Utc)).map_err(|_| {
                    WebError::bad("since", "not an RFC 3339 time (2025-07-22T10:00:00Z)")
                })
            })
            .transpose()?;
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

async fn health(State(state): State<AppState>) -> Json<serde_json::Value> {
    let live = &state.inner.live;
    let (total, last) = live.with_stats(|s| (s.total, s.last_ts));
    let error = live.last_error();
    Json(json!({
        "status": if error.is_none() { "ok" } else { "degraded" },
        "store": { "caught_up": live.caught_up(), "events": total, "last_event": last, "error": error.map(|_| "the event store could not be read, see the console log") },
    }))
}

async fn events(
    State(state): State<AppState>,
    Query(q): Query<EventQuery>,
) -> Result<Json<serde_json::Value>, WebError> {
    let filters = Filters::parse(&q)?;
    let limit = q.limit.unwrap_or(DEFAULT_LIMIT);
    if limit == 0 || limit > MAX_LIMIT {
        return Err(WebError::bad("limit", format!("must be between 1 and {MAX_LIMIT}")));
    }
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
    Json(json!({ "sensors": sensors, "caught_up": state.inner.live.caught_up() }))
}

/// A sensor counts as active when it recorded something in the last 15 minutes.
pub(crate) fn sensor_active(last_seen: DateTime<Utc>, now: DateTime<Utc>) -> bool {
    now.signed_duration_since(last_seen) < chrono::TimeDelta::minutes(15)
}

async fn openapi() -> Response {
    ([(header::CONTENT_TYPE, "application/json")], OPENAPI_JSON).into_response()
}

/// `GET /api/v1/events/stream`: Server-Sent Events, one `event: event` per new matching event
/// with an [`EventRow`] as data and the event id as SSE id. After `?after=ID` or a
/// `Last-Event-ID` header, kept newer events are replayed first, so a reconnect or a page
/// rendered just before connecting misses nothing the console still holds.
async fn stream(
    State(state): State<AppState>,
    Query(q): Query<EventQuery>,
    headers: HeaderMap,
) -> Result<Sse<impl Stream<Item = Result<SseEvent, Infallible>>>, WebError> {
    let filters = Filters::parse(&q)?;
    let permit =
        state.inner.streams.clone().try_acquire_owned().map_err(|_| WebError::TooManyStreams)?;
    let live = state.inner.live.clone();
    let mut receiver = live.subscribe();
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
                received = receiver.recv() => received,
            };
            let item = match received {
                Ok(event) => {
                    if replayed.contains(&event.id) || !filters.matches(&event) {
                        continue;
                    }
                    sse_event(&event)
                }
                Err(RecvError::Lagged(n)) => {
                    SseEvent::default().event("lagged").data(n.to_string())
                }
                Err(RecvError::Closed) => return,
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
