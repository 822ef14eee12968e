//! Server-rendered pages (askama templates in `templates/`, every value escaped) and the
//! console's own static files.

use askama::Template;
use axum::Extension;
use axum::extract::{FromRequestParts, Path, State};
use axum::http::request::Parts;
use axum::http::{StatusCode, Uri, header};
use axum::response::{Html, IntoResponse, Response};
use chrono::{DateTime, Utc};
use smishtrap_event::EventKind;
use smishtrap_intel::campaign::sanitise;

use crate::api::{
    CampaignParams, EventQuery, Filters, MessageParams, VERDICTS, blocking, sensor_active,
};
use crate::auth::Authed;
use crate::duty::{
    ACTIVE_CAMPAIGNS, ACTIVE_HOURS, ActiveCampaign, BlockItem, Sparkline, UrlGroup, ValidationView,
    WaveZoom, ZOOM_BUCKETS, block_items, block_text, url_groups,
};
use crate::findings::{
    CampaignDetail, CampaignListRow, Heartbeat, MessageDetail, MessageRow, safe_id,
};
use crate::source::Cursor;
use crate::view::{EventDetail, EventRow};
use crate::{AppState, WebError};

/// Rows on the Live page before the stream adds more.
pub const LIVE_ROWS: usize = 100;
/// Analysed messages on the Live page before the stream adds more.
pub const LIVE_MESSAGES: usize = 50;
/// Source IPs on the Overview.
pub const TOP_IPS: usize = 10;

const SCRIPT: &str = include_str!("../static/console.js");
const STYLESHEET: &str = include_str!("../static/console.css");

pub(crate) fn render_error(err: &askama::Error) -> Response {
    tracing::error!(error = %err, "console page failed to render");
    (StatusCode::INTERNAL_SERVER_ERROR, "internal error, see the console log").into_response()
}

fn page(template: &impl Template) -> Response {
    match template.render() {
        Ok(html) => Html(html).into_response(),
        Err(err) => render_error(&err),
    }
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage {
    status: u16,
    message: String,
}

fn error_page(status: StatusCode, message: String) -> Response {
    let mut response = page(&ErrorPage { status: status.as_u16(), message });
    *response.status_mut() = status;
    response
}

fn page_error(err: WebError) -> Response {
    let (status, _) = err.status_and_code();
    if status == StatusCode::INTERNAL_SERVER_ERROR {
        tracing::error!(error = %err, "console page failed");
    }
    error_page(status, err.public_message())
}

/// The query string as `T`; one that does not parse (a repeated parameter, a page size that
/// is not a number) gets the HTML error page with 400, as a bad value does.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct PageQuery<T>(pub(crate) T);

impl<T: serde::de::DeserializeOwned, S: Send + Sync> FromRequestParts<S> for PageQuery<T> {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Response> {
        match crate::api::ApiQuery::<T>::from_request_parts(parts, state).await {
            Ok(crate::api::ApiQuery(value)) => Ok(PageQuery(value)),
            Err(err) => Err(page_error(err)),
        }
    }
}

/// Unknown paths: JSON under `/api/`, HTML elsewhere. Reached only when authenticated or for
/// paths outside the protected router, and says nothing about the data.
pub(crate) async fn not_found(uri: Uri) -> Response {
    if uri.path().starts_with("/api/") {
        return WebError::NotFound.into_response();
    }
    error_page(StatusCode::NOT_FOUND, "no such page".into())
}

pub(crate) async fn script() -> Response {
    static_file("text/javascript; charset=utf-8", SCRIPT)
}

pub(crate) async fn stylesheet() -> Response {
    static_file("text/css; charset=utf-8", STYLESHEET)
}

fn static_file(content_type: &'static str, body: &'static str) -> Response {
    ([(header::CONTENT_TYPE, content_type), (header::CACHE_CONTROL, "private, max-age=300")], body)
        .into_response()
}

/// One bar of the per-minute chart (numbers only reach the SVG).
#[derive(Debug)]
struct Bar {
    x: u32,
    y: u32,
    h: u32,
    sms_y: u32,
    sms_h: u32,
    count: u64,
    sms: u64,
    label: String,
}

#[derive(Debug)]
struct Chart {
    width: u32,
    height: u32,
    bar_width: u32,
    peak: u64,
    window_total: u64,
    bars: Vec<Bar>,
    start_label: String,
    end_label: String,
}

/// A bar chart of the `buckets` buckets of `bucket_minutes` minutes that end with the one
/// holding `now`, from per-minute counts.
fn chart(
    minutes: &std::collections::BTreeMap<i64, (u64, u64)>,
    now: DateTime<Utc>,
    buckets: i64,
    bucket_minutes: i64,
) -> Chart {
    let (bar_width, gap, height) = (10u32, 2u32, 120u32);
    let end = now.timestamp().div_euclid(60 * bucket_minutes);
    let start = end - buckets + 1;
    let counts: Vec<(i64, (u64, u64))> = (start..=end)
        .map(|b| {
            let first = b * bucket_minutes;
            let sum = minutes
                .range(first..first + bucket_minutes)
                .fold((0, 0), |(n, sms), (_, (a, s))| (n + a, sms + s));
            (first, sum)
        })
        .collect();
    let peak = counts.iter().map(|(_, (n, _))| *n).max().unwrap_or(0);
    let scale = |n: u64| -> u32 {
        if peak == 0 {
            return 0;
        }
        // Round up so a single event still shows as a 1px bar.
        u32::try_from((n * u64::from(height)).div_ceil(peak)).unwrap_or(height).min(height)
    };
    let label = |m: i64| {
        DateTime::from_timestamp(m * 60, 0)
            .map(|t| t.format("%H:%M").to_string())
            .unwrap_or_default()
    };
    let bars = counts
        .iter()
        .enumerate()
        .map(|(i, (m, (n, sms)))| {
            let h = scale(*n);
            let sms_h = scale(*sms);
            Bar {
                x: u32::try_from(i).unwrap_or(0) * (bar_width + gap),
                y: height - h,
                h,
                sms_y: height - sms_h,
                sms_h,
                count: *n,
                sms: *sms,
                label: label(*m),
            }
        })
        .collect();
    Chart {
        width: u32::try_from(buckets).unwrap_or(60) * (bar_width + gap),
        height,
        bar_width,
        peak,
        window_total: counts.iter().map(|(_, (n, _))| n).sum(),
        bars,
        start_label: format!("{} UTC", label(start * bucket_minutes)),
        end_label: format!("{} UTC", label(end * bucket_minutes)),
    }
}

#[derive(Debug)]
struct SensorLine {
    sensor: String,
    persona: String,
    active: bool,
    first_seen: String,
    last_seen: String,
    events: u64,
    sms: u64,
}

#[derive(Template)]
#[template(path = "overview.html")]
struct OverviewPage {
    csrf: String,
    caught_up: bool,
    error: Option<String>,
    total: u64,
    by_kind: Vec<(&'static str, u64)>,
    top_ips: Vec<(String, u64)>,
    sensors: Vec<SensorLine>,
    chart: Chart,
    /// The last 24 hours, per hour.
    day: Chart,
    countries: CountryChart,
    verdicts: Vec<(String, u64)>,
    /// When and how fast the message counts were made.
    counted: String,
    campaigns: u64,
    newest: Vec<CampaignListRow>,
    heartbeats: Vec<Heartbeat>,
    /// Names of the silent sensors, and the threshold (`15s`).
    silent: Vec<String>,
    silent_after: String,
    /// Campaigns seen in the last [`ACTIVE_HOURS`] hours.
    active: Vec<ActiveCampaign>,
    active_hours: i64,
    /// Indicators of the active campaigns the exports mark blockable.
    block: Vec<BlockItem>,
    block_text: String,
    /// Seconds between the page's own refreshes.
    refresh_secs: u32,
}

/// Seconds between the Overview's refreshes of its figures.
pub const OVERVIEW_REFRESH_SECS: u32 = 15;

/// The active campaigns since the start of the hour [`ACTIVE_HOURS`] - 1 hours before
/// `now`'s, with their sparklines, and the indicators to block.
async fn active_now(
    state: &AppState,
    now: DateTime<Utc>,
) -> Result<(Vec<ActiveCampaign>, Vec<BlockItem>), WebError> {
    let since = (now.timestamp().div_euclid(3600) - ACTIVE_HOURS + 1) * 3600 * 1_000_000;
    let source = state.inner.source.clone();
    let rows = blocking(move || source.active_campaigns(since, ACTIVE_CAMPAIGNS)).await?;
    let mut summaries = Vec::with_capacity(rows.len());
    let active = rows
        .iter()
        .map(|(row, hours)| {
            if let Some(c) = crate::findings::summary(row) {
                summaries.push(c);
            }
            ActiveCampaign {
                row: CampaignListRow::of(row),
                first_seen: row.first_seen.map(crate::findings::when_micros).unwrap_or_default(),
                last_seen: row.last_seen.map(crate::findings::when_micros).unwrap_or_default(),
                spark: Sparkline::of(hours, now),
            }
        })
        .collect();
    Ok((active, block_items(&summaries, &state.inner.producer)))
}

/// One bar of the target-countries chart.
#[derive(Debug)]
struct CountryBar {
    country: String,
    y: u32,
    w: u32,
    count: u64,
}

#[derive(Debug)]
struct CountryChart {
    width: u32,
    height: u32,
    bars: Vec<CountryBar>,
}

/// Horizontal bars, one per country, longest for the largest count.
fn country_chart(counts: &[(String, u64)]) -> CountryChart {
    let (width, row) = (360u32, 18u32);
    let peak = counts.iter().map(|(_, n)| *n).max().unwrap_or(0).max(1);
    let bars = counts
        .iter()
        .enumerate()
        .map(|(i, (country, n))| CountryBar {
            country: crate::view::clip(country, 8),
            y: u32::try_from(i).unwrap_or(0) * row,
            // Leave room for the label (40px) and the count (60px).
            w: u32::try_from((n * u64::from(width - 100)).div_ceil(peak)).unwrap_or(1).max(1),
            count: *n,
        })
        .collect();
    CountryChart { width, height: u32::try_from(counts.len()).unwrap_or(0) * row, bars }
}

fn when(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M:%S").to_string()
}

pub(crate) async fn overview(
    State(state): State<AppState>,
    Extension(authed): Extension<Authed>,
) -> Response {
    let live = &state.inner.live;
    let now = Utc::now();
    let sms = crate::live::kind_index(EventKind::SmsSend);
    let mut view = live.with_stats(|s| OverviewPage {
        csrf: authed.csrf().to_owned(),
        caught_up: false,
        error: None,
        total: s.total,
        by_kind: EventKind::ALL
            .iter()
            .zip(s.by_kind)
            .filter(|(_, n)| *n > 0)
            .map(|(k, n)| (k.as_str(), n))
            .collect(),
        top_ips: s.top_src_ips(TOP_IPS).into_iter().map(|(ip, n)| (ip.to_string(), n)).collect(),
        sensors: s
            .sensors
            .iter()
            .map(|((sensor, persona), st)| SensorLine {
                sensor: sensor.clone(),
                persona: persona.clone(),
                active: sensor_active(st.last_seen, now),
                first_seen: when(st.first_seen),
                last_seen: when(st.last_seen),
                events: st.events,
                sms: st.by_kind[sms],
            })
            .collect(),
        chart: chart(&s.minutes, now, 60, 1),
        day: chart(&s.minutes, now, 24, 60),
        countries: country_chart(&[]),
        verdicts: Vec::new(),
        counted: String::new(),
        campaigns: 0,
        newest: Vec::new(),
        heartbeats: Vec::new(),
        silent: Vec::new(),
        silent_after: secs_text(state.inner.silent_after),
        active: Vec::new(),
        active_hours: ACTIVE_HOURS,
        block: Vec::new(),
        block_text: String::new(),
        refresh_secs: OVERVIEW_REFRESH_SECS,
    });
    view.caught_up = live.caught_up();
    view.error = live.last_error().map(|_| "see the console log".to_owned());
    let insights = live.insights();
    view.countries = country_chart(&insights.countries);
    view.verdicts = insights.verdicts;
    view.counted = insights
        .facets_at
        .map(|t| format!("counted {} UTC in {} ms", when(t), insights.facets_took.as_millis()))
        .unwrap_or_else(|| "not counted yet".into());
    view.campaigns = insights.campaigns;
    view.newest = insights.newest_campaigns;
    view.heartbeats = heartbeats(&insights.heartbeats, now, state.inner.silent_after);
    view.silent = silent(&view.heartbeats);
    match active_now(&state, now).await {
        Ok((active, block)) => {
            view.block_text = block_text(&block);
            view.active = active;
            view.block = block;
        }
        Err(err) => {
            tracing::error!(error = %err, "active campaigns could not be read");
            view.error = Some("see the console log".to_owned());
        }
    }
    page(&view)
}

/// A row of the Live events table, with the verdict of the event's analysed message (empty
/// strings while there is none).
#[derive(Debug)]
struct LiveRow {
    e: EventRow,
    message_id: String,
    verdict: String,
    class: &'static str,
}

#[derive(Template)]
#[template(path = "events.html")]
struct EventsPage {
    csrf: String,
    /// Every kind, and whether it is the selected one.
    kinds: Vec<(&'static str, bool)>,
    sensor: String,
    src_ip: String,
    stream_url: String,
    rows: Vec<LiveRow>,
    /// Newest analysed messages (with their campaign), newest first.
    messages: Vec<MessageRow>,
}

pub(crate) async fn events(
    State(state): State<AppState>,
    Extension(authed): Extension<Authed>,
    PageQuery(q): PageQuery<EventQuery>,
) -> Response {
    let filters = match Filters::parse(&q) {
        Ok(filters) => filters,
        Err(err) => return page_error(err),
    };
    let recent = state.inner.live.recent();
    let recent_messages = state.inner.live.recent_messages();
    // The verdict of each event the held analysed messages came from (the first message of
    // an event with several recipients stands for it).
    let mut verdicts: std::collections::HashMap<&str, &MessageRow> =
        std::collections::HashMap::new();
    for m in recent_messages.iter() {
        if let Some(event) = m.event_id.as_deref() {
            verdicts.entry(event).or_insert(m);
        }
    }
    let rows: Vec<LiveRow> = recent
        .iter()
        .rev()
        .filter(|e| filters.matches(e))
        .take(LIVE_ROWS)
        .map(|e| {
            let m = verdicts.get(e.id.as_str());
            LiveRow {
                e: EventRow::of(e),
                message_id: m.map(|m| m.id.clone()).unwrap_or_default(),
                verdict: m.map(|m| m.verdict.clone()).unwrap_or_default(),
                class: m.map_or("", |m| m.verdict_class()),
            }
        })
        .collect();
    let params = filter_params(&filters);
    let mut stream_url = String::from("/api/v1/events/stream");
    if !params.is_empty() {
        stream_url.push('?');
        stream_url.push_str(&query_string(&params));
    }
    page(&EventsPage {
        csrf: authed.csrf().to_owned(),
        kinds: kind_options(&filters),
        sensor: filters.sensor.clone().unwrap_or_default(),
        src_ip: filters.src_ip.map(|ip| ip.to_string()).unwrap_or_default(),
        stream_url,
        rows,
        messages: recent_messages
            .iter()
            .rev()
            .take(LIVE_MESSAGES)
            .map(|m| MessageRow::clone(m))
            .collect(),
    })
}

/// Events per page of the history view.
pub const HISTORY_ROWS: usize = 100;

#[derive(Template)]
#[template(path = "history.html")]
struct HistoryPage {
    csrf: String,
    kinds: Vec<(&'static str, bool)>,
    sensor: String,
    src_ip: String,
    since: String,
    rows: Vec<EventRow>,
    /// Query string of the next page (already percent-encoded), if there is one.
    next: Option<String>,
}

/// `GET /history`: every stored event matching the filters, oldest first, a page at a time
/// (the store's order; `since` jumps to a time).
pub(crate) async fn history(
    State(state): State<AppState>,
    Extension(authed): Extension<Authed>,
    PageQuery(q): PageQuery<EventQuery>,
) -> Response {
    let filters = match Filters::parse(&q) {
        Ok(filters) => filters,
        Err(err) => return page_error(err),
    };
    let cursor = match q.cursor.as_deref().filter(|c| !c.is_empty()).map(Cursor::decode).transpose()
    {
        Ok(cursor) => cursor,
        Err(err) => return page_error(err),
    };
    let source = state.inner.source.clone();
    let store_filter = filters.store_filter();
    let found =
        match blocking(move || source.page(&store_filter, cursor.as_ref(), HISTORY_ROWS)).await {
            Ok(found) => found,
            Err(err) => return page_error(err),
        };
    let mut params = filter_params(&filters);
    let since = q.since.clone().unwrap_or_default();
    if !since.trim().is_empty() {
        params.push(("since", since.trim().to_owned()));
    }
    let next = found.next.map(|cursor| {
        let mut all = params.clone();
        all.push(("cursor", cursor.encode()));
        query_string(&all)
    });
    page(&HistoryPage {
        csrf: authed.csrf().to_owned(),
        kinds: kind_options(&filters),
        sensor: filters.sensor.clone().unwrap_or_default(),
        src_ip: filters.src_ip.map(|ip| ip.to_string()).unwrap_or_default(),
        since,
        rows: found.events.iter().map(EventRow::of).collect(),
        next,
    })
}

fn kind_options(filters: &Filters) -> Vec<(&'static str, bool)> {
    EventKind::ALL.iter().map(|k| (k.as_str(), filters.kinds.first() == Some(k))).collect()
}

/// The non-empty filters as query parameters.
fn filter_params(filters: &Filters) -> Vec<(&'static str, String)> {
    [
        ("kind", filters.kinds.iter().map(|k| k.as_str()).collect::<Vec<_>>().join(",")),
        ("sensor", filters.sensor.clone().unwrap_or_default()),
        ("src_ip", filters.src_ip.map(|ip| ip.to_string()).unwrap_or_default()),
    ]
    .into_iter()
    .filter(|(_, value)| !value.is_empty())
    .collect()
}

/// `a=1&b=2` with every value percent-encoded; empty when there are no parameters.
fn query_string(params: &[(&'static str, String)]) -> String {
    params
        .iter()
        .map(|(name, value)| format!("{name}={}", crate::auth::percent_encode(value)))
        .collect::<Vec<_>>()
        .join("&")
}

#[derive(Template)]
#[template(path = "event.html")]
struct EventPage {
    csrf: String,
    e: EventDetail,
    /// The analysed messages made of this event: id, verdict, its colour class.
    analysed: Vec<(String, String, &'static str)>,
}

pub(crate) async fn event_detail(
    State(state): State<AppState>,
    Extension(authed): Extension<Authed>,
    Path(id): Path<String>,
) -> Response {
    let source = state.inner.source.clone();
    let read = blocking(move || {
        let event = source.get(&id)?;
        let messages = match &event {
            Some(_) => source.event_messages(&id)?,
            None => Vec::new(),
        };
        Ok(event.map(|e| (e, messages)))
    });
    match read.await {
        Ok(Some((event, messages))) => page(&EventPage {
            csrf: authed.csrf().to_owned(),
            e: EventDetail::of(&event),
            analysed: messages
                .into_iter()
                .map(|m| {
                    let class = crate::findings::verdict_class(&m.verdict);
                    (m.id, crate::view::clip(&sanitise(&m.verdict), 16), class)
                })
                .collect(),
        }),
        Ok(None) => error_page(StatusCode::NOT_FOUND, "no such event".into()),
        Err(err) => page_error(err),
    }
}

/// Messages per page of the Messages list.
pub const MESSAGE_ROWS: usize = 50;
/// Matching messages are counted up to this many ("more than" after that).
pub const MESSAGE_COUNT_CAP: u64 = 10_000;
/// Campaigns per page of the Campaigns list.
pub const CAMPAIGN_ROWS: usize = 50;

/// The search form's values, as the user gave them (the domain as searched).
#[derive(Debug, Default)]
struct MessageForm {
    text: String,
    number: String,
    domain: String,
    brand: String,
    campaign: String,
    country: String,
    verdicts: Vec<(&'static str, bool)>,
}

#[derive(Template)]
#[template(path = "messages.html")]
struct MessagesPage {
    csrf: String,
    form: MessageForm,
    rows: Vec<MessageRow>,
    /// `12`, or `more than 10000`.
    total: String,
    next: Option<String>,
    /// The API call that returns the same messages as JSON.
    api: String,
}

/// `GET /messages`: analysed messages matching the search, newest first, a page at a time.
pub(crate) async fn messages(
    State(state): State<AppState>,
    Extension(authed): Extension<Authed>,
    PageQuery(q): PageQuery<MessageParams>,
) -> Response {
    let (query, cursor) = match q.query().and_then(|query| Ok((query, q.cursor()?))) {
        Ok(parsed) => parsed,
        Err(err) => return page_error(err),
    };
    let params: Vec<(&'static str, String)> = [
        ("text", query.text.clone()),
        ("number", query.number.clone()),
        ("domain", query.domain.clone()),
        ("brand", query.brand.clone()),
        ("verdict", query.verdict.clone()),
        ("campaign", query.campaign.clone()),
        ("country", query.country.clone()),
    ]
    .into_iter()
    .filter_map(|(name, value)| value.map(|v| (name, v)))
    .collect();
    let source = state.inner.source.clone();
    let store_query = query.clone();
    let found = match blocking(move || {
        source.messages(&store_query, cursor.as_ref(), MESSAGE_ROWS, Some(MESSAGE_COUNT_CAP))
    })
    .await
    {
        Ok(found) => found,
        Err(err) => return page_error(err),
    };
    let next = found.next.map(|cursor| {
        let mut all = params.clone();
        all.push(("cursor", cursor.encode()));
        query_string(&all)
    });
    let total = match found.total.unwrap_or(0) {
        n if n >= MESSAGE_COUNT_CAP => format!("more than {MESSAGE_COUNT_CAP}"),
        n => n.to_string(),
    };
    let mut api = String::from("/api/v1/messages");
    if !params.is_empty() {
        api.push('?');
        api.push_str(&query_string(&params));
    }
    let form = MessageForm {
        text: query.text.unwrap_or_default(),
        number: query.number.unwrap_or_default(),
        domain: query.domain.unwrap_or_default(),
        brand: query.brand.unwrap_or_default(),
        campaign: query.campaign.unwrap_or_default(),
        country: query.country.unwrap_or_default(),
        verdicts: VERDICTS.iter().map(|v| (*v, query.verdict.as_deref() == Some(*v))).collect(),
    };
    page(&MessagesPage {
        csrf: authed.csrf().to_owned(),
        form,
        rows: found.messages.iter().map(MessageRow::of).collect(),
        total,
        next,
        api,
    })
}

#[derive(Template)]
#[template(path = "message.html")]
struct MessagePage {
    csrf: String,
    m: MessageDetail,
}

/// `GET /messages/{id}`: one analysed message with its reasons, links and record.
pub(crate) async fn message_detail(
    State(state): State<AppState>,
    Extension(authed): Extension<Authed>,
    Path(id): Path<String>,
) -> Response {
    let source = state.inner.source.clone();
    match blocking(move || source.message(&id)).await {
        Ok(Some(m)) => {
            page(&MessagePage { csrf: authed.csrf().to_owned(), m: MessageDetail::of(&m) })
        }
        Ok(None) => error_page(StatusCode::NOT_FOUND, "no such message".into()),
        Err(err) => page_error(err),
    }
}

#[derive(Template)]
#[template(path = "campaigns.html")]
struct CampaignsPage {
    csrf: String,
    brand: String,
    total: u64,
    rows: Vec<CampaignListRow>,
    next: Option<String>,
}

/// `GET /campaigns`: campaigns, most recently active first, a page at a time.
pub(crate) async fn campaigns(
    State(state): State<AppState>,
    Extension(authed): Extension<Authed>,
    PageQuery(q): PageQuery<CampaignParams>,
) -> Response {
    let (brand, cursor) = match q.brand().and_then(|brand| Ok((brand, q.cursor()?))) {
        Ok(parsed) => parsed,
        Err(err) => return page_error(err),
    };
    let source = state.inner.source.clone();
    let wanted = brand.clone();
    let found =
        match blocking(move || source.campaigns(wanted.as_deref(), cursor.as_ref(), CAMPAIGN_ROWS))
            .await
        {
            Ok(found) => found,
            Err(err) => return page_error(err),
        };
    let next = found.next.map(|cursor| {
        let mut params: Vec<(&'static str, String)> =
            brand.iter().map(|b| ("brand", b.clone())).collect();
        params.push(("cursor", cursor.encode()));
        query_string(&params)
    });
    page(&CampaignsPage {
        csrf: authed.csrf().to_owned(),
        brand: brand.unwrap_or_default(),
        total: state.inner.live.insights().campaigns,
        rows: found.campaigns.iter().map(CampaignListRow::of).collect(),
        next,
    })
}

#[derive(Template)]
#[template(path = "campaign.html")]
struct CampaignPage {
    csrf: String,
    c: CampaignDetail,
    /// Whether the id can go into links as is (always, for ids the clustering makes).
    linkable: bool,
    /// Top target countries, `BE 120, NL 3`.
    countries: String,
    groups: Vec<UrlGroup>,
    zooms: Vec<WaveZoom>,
    validation: Vec<ValidationView>,
    /// More validation sends than listed.
    validation_more: bool,
    block: Vec<BlockItem>,
    block_text: String,
}

/// Validation sends listed on a campaign page.
pub const PAGE_VALIDATION_SENDS: usize = 200;

fn micros_of(ts: &str) -> Option<i64> {
    DateTime::parse_from_rfc3339(ts).ok().map(|t| t.timestamp_micros())
}

/// `GET /campaigns/{id}`: one campaign: timeline, indicators, samples, exports.
pub(crate) async fn campaign_detail(
    State(state): State<AppState>,
    Extension(authed): Extension<Authed>,
    Path(id): Path<String>,
) -> Response {
    let source = state.inner.source.clone();
    let row = match blocking(move || source.campaign(&id)).await {
        Ok(Some(row)) => row,
        Ok(None) => return error_page(StatusCode::NOT_FOUND, "no such campaign".into()),
        Err(err) => return page_error(err),
    };
    let Some(summary) = crate::findings::summary(&row) else {
        return page_error(WebError::Internal(format!(
            "campaign {:?} has an unreadable summary",
            row.id
        )));
    };
    let mut c = CampaignDetail::of(&summary);
    // The row's id is the one the store finds (and the summary's should be the same).
    c.id = row.id.clone();
    let ranges: Vec<(usize, i64, i64)> = summary
        .waves
        .iter()
        .filter_map(|w| Some((w.number, micros_of(&w.start)?, micros_of(&w.end)?)))
        .collect();
    let source = state.inner.source.clone();
    let id = row.id.clone();
    let spans: Vec<(i64, i64)> = ranges.iter().map(|(_, a, b)| (*a, *b)).collect();
    let read = blocking(move || {
        let buckets = source.campaign_buckets(&id, &spans, ZOOM_BUCKETS)?;
        let sends = source.validation_sends(&id, PAGE_VALIDATION_SENDS + 1)?;
        Ok((buckets, sends))
    })
    .await;
    let (buckets, mut sends) = match read {
        Ok(read) => read,
        Err(err) => return page_error(err),
    };
    let validation_more = sends.len() > PAGE_VALIDATION_SENDS;
    sends.truncate(PAGE_VALIDATION_SENDS);
    let zooms = ranges
        .iter()
        .zip(&buckets)
        .map(|((number, from, to), counts)| WaveZoom::of(*number, *from, *to, counts))
        .collect();
    let block = block_items(std::slice::from_ref(&summary), &state.inner.producer);
    page(&CampaignPage {
        csrf: authed.csrf().to_owned(),
        linkable: safe_id(&row.id),
        countries: c
            .countries
            .iter()
            .take(5)
            .map(|(v, n)| format!("{v} {n}"))
            .collect::<Vec<_>>()
            .join(", "),
        groups: url_groups(&summary),
        zooms,
        validation: sends.iter().map(ValidationView::of).collect(),
        validation_more,
        block_text: block_text(&block),
        block,
        c,
    })
}

/// Campaigns listed on the Exports page (the rest are in the "all" downloads).
pub const EXPORT_ROWS: usize = 200;

#[derive(Template)]
#[template(path = "exports.html")]
struct ExportsPage {
    csrf: String,
    total: u64,
    /// Campaigns whose id can go into a link, most recently active first.
    rows: Vec<CampaignListRow>,
    more: bool,
}

/// `GET /exports`: downloads of STIX, MISP and CSV, for all campaigns and for each.
pub(crate) async fn exports(
    State(state): State<AppState>,
    Extension(authed): Extension<Authed>,
) -> Response {
    let source = state.inner.source.clone();
    let found = match blocking(move || source.campaigns(None, None, EXPORT_ROWS)).await {
        Ok(found) => found,
        Err(err) => return page_error(err),
    };
    page(&ExportsPage {
        csrf: authed.csrf().to_owned(),
        total: state.inner.live.insights().campaigns,
        more: found.next.is_some(),
        rows: found
            .campaigns
            .iter()
            .filter(|row| safe_id(&row.id))
            .map(CampaignListRow::of)
            .collect(),
    })
}

#[cfg(test)]
mod proptests {
    use proptest::prelude::*;
    use smishtrap_event::{
        AuthRecord, BodyEncoding, Event, EventKind, HttpRecord, SmsAction, SmsDialect,
    };

    use super::*;

    fn event(strings: &[String]) -> Event {
        let s = |i: usize| strings.get(i).cloned().unwrap_or_default();
        Event {
            schema: 1,
            id: "c1-1".into(),
            ts: DateTime::from_timestamp(1_750_000_000, 0).unwrap_or_default(),
            sensor: s(0),
            persona: s(1),
            session: "c1".into(),
            src_ip: [127, 0, 0, 1].into(),
            src_port: 1,
            dst_port: 2,
            kind: EventKind::SmsSend,
            http: HttpRecord {
                method: s(2),
                path: s(3),
                query: Some(s(4)),
                version: "HTTP/1.1".into(),
                headers: vec![(s(5), s(6)), (s(7), s(8))],
                body: s(9),
                body_encoding: BodyEncoding::Utf8,
                body_len: 0,
                body_truncated: false,
                body_sha256: String::new(),
            },
            response_status: 200,
            auth: Some(AuthRecord {
                username: s(10),
                password: s(11),
                password_decrypted: true,
                success: false,
            }),
            sms: Some(SmsAction {
                to: vec![s(12), s(13)],
                text: Some(s(14)),
                dialect: SmsDialect::ApiSms,
                mailbox: None,
                status: Some(s(15)),
            }),
            tags: vec![s(16)],
        }
    }

    fn render(event: &Event) -> String {
        let page = EventPage {
            csrf: "t".into(),
            e: EventDetail::of(event),
            analysed: vec![("m1".into(), "smishing".into(), "v-smishing")],
        };
        page.render().unwrap_or_default()
    }

    proptest! {
        /// Attacker strings never add markup: the page has exactly as many `<` as the same
        /// page with every attacker string replaced by a letter.
        #[test]
        fn attacker_strings_never_add_markup(
            strings in proptest::collection::vec("(\\PC|[<>\"'&/=])*", 17..=17),
        ) {
            let hostile = render(&event(&strings));
            let plain = render(&event(&vec!["a".to_owned(); 17]));
            prop_assert!(!hostile.is_empty());
            prop_assert_eq!(hostile.matches('<').count(), plain.matches('<').count());
            prop_assert_eq!(hostile.matches('"').count(), plain.matches('"').count());
        }
    }
}

#[cfg(test)]
mod analysed_proptests {
    use proptest::prelude::*;
    use smishtrap_store::{NewMessage, StoredMessage};

    use super::*;

    fn message(s: &[String]) -> StoredMessage {
        let g = |i: usize| s.get(i).cloned().unwrap_or_default();
        let record = smishtrap_event::SmsRecord {
            id: Some(g(0)),
            ts: Some(g(1)),
            to: Some(g(2)),
            router: Some(g(3)),
            status: Some(g(4)),
            text: g(5),
            ..Default::default()
        };
        let analysis = serde_json::json!({
            "id": g(0), "verdict": "smishing", "score": 0.9, "reasons": [g(6), g(7)],
            "lang": g(8), "recipient": {"e164": g(2), "country": g(9)}, "sender": null,
            "urls": [{"url": g(10), "host": g(11), "registrable_domain": g(11),
                      "impersonates": g(12), "technique": g(13)}],
            "brand": g(12), "campaign": null, "phase": null,
        });
        StoredMessage {
            seq: 1,
            message: NewMessage {
                id: g(0),
                event_id: Some(g(14)),
                origin: g(15),
                ts_micros: 1_750_000_000_000_000,
                recipient: Some(g(2)),
                country: Some(g(9)),
                sender: Some(g(16)),
                router: Some(g(3)),
                src_ip: Some(g(17)),
                text: g(5),
                lang: Some(g(8)),
                verdict: "smishing".into(),
                score: 0.9,
                brand: Some(g(12)),
                domains: vec![g(11)],
                record: serde_json::to_string(&record).unwrap_or_default(),
                analysis: analysis.to_string(),
            },
            campaign: Some("cmp-0123456789ab".into()),
            phase: Some("wave".into()),
        }
    }

    fn render(s: &[String]) -> String {
        let m = message(s);
        let detail = MessagePage { csrf: "t".into(), m: MessageDetail::of(&m) }.render();
        let list = MessagesPage {
            csrf: "t".into(),
            form: MessageForm {
                text: s.first().cloned().unwrap_or_default(),
                ..Default::default()
            },
            rows: vec![MessageRow::of(&m)],
            total: "1".into(),
            next: None,
            api: "/api/v1/messages".into(),
        }
        .render();
        format!("{}{}", detail.unwrap_or_default(), list.unwrap_or_default())
    }

    proptest! {
        /// Attacker strings in a message, its record and its analysis never add markup.
        #[test]
        fn message_strings_never_add_markup(
            strings in proptest::collection::vec("(\\PC|[<>\"'&/=])+", 18..=18),
        ) {
            let hostile = render(&strings);
            let plain = render(&vec!["a".to_owned(); 18]);
            prop_assert!(hostile.contains("</html>"));
            prop_assert_eq!(hostile.matches('<').count(), plain.matches('<').count());
            prop_assert_eq!(hostile.matches('"').count(), plain.matches('"').count());
        }
    }
}

#[derive(Template)]
#[template(path = "fleet.html")]
struct FleetPage {
    csrf: String,
    f: crate::fleet::FleetView,
}

/// `GET /fleet`: the routers `smishtrap audit --data` stored, worst first.
pub(crate) async fn fleet(
    State(state): State<AppState>,
    Extension(authed): Extension<Authed>,
) -> Response {
    let source = state.inner.source.clone();
    match blocking(move || source.fleet(crate::fleet::MAX_FLEET_TARGETS)).await {
        Ok((stored, rows)) => page(&FleetPage {
            csrf: authed.csrf().to_owned(),
            f: crate::fleet::FleetView::of(stored, &rows),
        }),
        Err(err) => page_error(err),
    }
}

/// Every sensor's latest heartbeat as seen at `now`.
fn heartbeats(
    statuses: &[smishtrap_event::SensorStatus],
    now: DateTime<Utc>,
    silent_after: std::time::Duration,
) -> Vec<Heartbeat> {
    statuses.iter().map(|h| Heartbeat::of(h, now, silent_after)).collect()
}

/// Names of the silent sensors.
fn silent(heartbeats: &[Heartbeat]) -> Vec<String> {
    heartbeats.iter().filter(|h| h.state == "silent").map(|h| h.sensor.clone()).collect()
}

/// `15 s`, `5 min`, `2 h`.
fn secs_text(d: std::time::Duration) -> String {
    match d.as_secs() {
        s if s >= 3600 && s % 3600 == 0 => format!("{} h", s / 3600),
        s if s >= 60 && s % 60 == 0 => format!("{} min", s / 60),
        s => format!("{s} s"),
    }
}

#[derive(Template)]
#[template(path = "sensors.html")]
struct SensorsPage {
    csrf: String,
    heartbeats: Vec<Heartbeat>,
    silent: Vec<String>,
    silent_after: String,
    period_secs: u64,
}

/// `GET /sensors`: fleet health, one row per sensor that sent a heartbeat.
pub(crate) async fn sensors(
    State(state): State<AppState>,
    Extension(authed): Extension<Authed>,
) -> Response {
    let heartbeats =
        heartbeats(&state.inner.live.insights().heartbeats, Utc::now(), state.inner.silent_after);
    page(&SensorsPage {
        csrf: authed.csrf().to_owned(),
        silent: silent(&heartbeats),
        heartbeats,
        silent_after: secs_text(state.inner.silent_after),
        period_secs: smishtrap_event::HEARTBEAT_PERIOD.as_secs(),
    })
}
