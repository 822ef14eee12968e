//! The smishtrap console: a REST API (`/api/v1`) and a server-rendered dashboard over a data
//! directory's event store, built to show attacker-written text safely.
//!
//! - [`app`] builds the axum [`Router`]; [`Console::start`] migrates an existing store to the
//!   current schema (its only write), then starts the [`live`] follower: one background
//!   thread tails the store's events and its clustered analysed messages, keeps the
//!   aggregates the Overview and `/api/v1/sensors` show and feeds the SSE stream; another
//!   keeps the insights (target countries, verdicts, newest campaigns, sensor heartbeats).
//! - [`token`] is the access token (generated on first start into `DIR/console-token`, mode
//!   0600, compared in constant time); [`auth`] turns it, POSTed by the login form, into
//!   sessions with idle and absolute timeouts (cookie `HttpOnly; SameSite=Strict`) and checks
//!   CSRF on every state-changing request.
//! - [`api`] serves JSON with opaque cursors; `openapi.json` (a data file) documents it, a
//!   test checks every route against it and schemathesis (`tests/validators/schemathesis.sh`)
//!   every parameter.
//! - [`serve`] runs its own accept loop over hyper (`server.rs`) with the [`ConsoleLimits`]:
//!   head and idle timeouts, caps on connections (all and per IP) that shed the oldest idle
//!   connection, and a body limit.
//! - [`pages`] renders HTML with askama, which escapes every value; no template marks a
//!   value safe. URLs and domains in attacker text are defanged ([`view`], [`findings`]) and
//!   never links. Overview (active campaigns with sparklines of their sends per hour, the
//!   [`duty`] block list of what the exports mark blockable, sensor heartbeats, target
//!   countries, SVG charts, top sources, verdicts, newest campaigns; it re-fetches itself),
//!   Live events (with the verdict of each event's analysed message) (newest held events and analysed messages
//!   plus the SSE stream, rendered by `static/console.js` with `textContent` only), History
//!   (stored events oldest first, cursor pages), event detail, Messages (search by text,
//!   number, domain, brand, verdict, campaign, country; newest first, cursor pages) and
//!   message detail, Campaigns (list, detail: summary first, block list, samples in time
//!   order, URLs grouped by host and path shape, a timeline and one zoomed chart per wave,
//!   validation sends with their source), Exports (STIX/MISP/CSV per campaign and for all), Fleet (what `smishtrap audit --data`
//!   stored: counts by finding and severity, firmware versions, abused routers with their
//!   campaigns, each router's findings, evidence and remediation; [`fleet`]).
//!
//! Invariant: every response carries the strict headers of [`security_headers`] (CSP without
//! inline script or style, `nosniff`, `no-referrer`, `frame-ancestors 'none'`).
//! Invariant: no page or API call but `/login`, `/healthz` and the stylesheet answers without
//! authentication.
//! Invariant: attacker bytes reach HTML only through askama's escaping or `textContent`.
//!
//! ```no_run
//! # async fn demo() -> Result<(), smishtrap_web::WebError> {
//! use smishtrap_web::{Console, ConsoleConfig, token};
//! let dir = std::path::Path::new("./smishtrap-data");
//! let (token, _origin) = token::load_or_create(dir, None)?;
//! let console = Console::start(ConsoleConfig::new(dir, token))?;
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:9090").await.map_err(|source| {
//!     smishtrap_web::WebError::Io { path: "127.0.0.1:9090".into(), source }
//! })?;
//! smishtrap_web::serve(listener, console.state(), std::future::pending()).await.ok();
//! # Ok(()) }
//! ```

pub mod api;
pub mod auth;
pub mod duty;
mod error;
pub mod findings;
pub mod fleet;
mod health;
pub mod live;
pub mod pages;
mod server;
mod source;
pub mod token;
pub mod view;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::http::{HeaderName, HeaderValue, header};
use axum::response::Response;
use axum::routing::{get, post};

pub use error::WebError;
pub use server::ConsoleLimits;
pub use source::{Store, StoreOpener};
pub use token::Token;

/// The Content-Security-Policy of every response: only our own script and style files, no
/// inline code, no framing, forms only to ourselves.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; \
     style-src 'self'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; \
     base-uri 'none'; form-action 'self'";

/// What a console needs to run.
#[derive(Debug, Clone)]
pub struct ConsoleConfig {
    /// The data directory (`--data`), holding the event store.
    pub data_dir: PathBuf,
    pub token: Token,
    /// How long a login session lasts at most (absolute, not sliding).
    pub session_ttl: Duration,
    /// How long a login session lasts without a request.
    pub session_idle: Duration,
    /// How often the follower looks for new events.
    pub poll_interval: Duration,
    /// Timeouts and caps of the HTTP server.
    pub limits: ConsoleLimits,
    /// Who the exports name and what they may ask to block (with the sensors' own addresses,
    /// never indicators): used by the export downloads and the "block now" lists alike.
    pub producer: smishtrap_export::Producer,
    /// Reads this store instead of the data directory's SQLite file (the hub's PostgreSQL).
    pub store: Option<StoreOpener>,
    /// A sensor without a heartbeat for this long (and no goodbye) is flagged silent.
    pub silent_after: Duration,
}

impl ConsoleConfig {
    /// Defaults: sessions of at most 12 h that end after 1 h without a request, new events looked for every 100 ms (an idle poll is two
    /// indexed queries; `bench/send-to-console.py` measures the resulting latency), and the
    /// [`ConsoleLimits`] defaults.
    pub fn new(data_dir: &Path, token: Token) -> ConsoleConfig {
        ConsoleConfig {
            data_dir: data_dir.to_owned(),
            token,
            session_ttl: Duration::from_secs(12 * 3600),
            session_idle: Duration::from_secs(3600),
            poll_interval: Duration::from_millis(100),
            limits: ConsoleLimits::default(),
            producer: smishtrap_export::Producer::default(),
            store: None,
            silent_after: findings::DEFAULT_SILENT_AFTER,
        }
    }
}

/// Shared state of every handler.
#[derive(Debug, Clone)]
pub struct AppState {
    pub(crate) inner: Arc<Inner>,
}

#[derive(Debug)]
pub(crate) struct Inner {
    pub(crate) token: Token,
    pub(crate) sessions: auth::Sessions,
    pub(crate) source: source::Source,
    pub(crate) live: Arc<live::Live>,
    /// Reads the sensor's status file for the health answers.
    pub(crate) health: health::Probe,
    /// Bounds concurrent SSE clients, each of which holds a connection open.
    pub(crate) streams: Arc<tokio::sync::Semaphore>,
    /// Turns true when the server shuts down, so open streams end and graceful shutdown
    /// does not wait for them forever.
    pub(crate) closing: tokio::sync::watch::Sender<bool>,
    pub(crate) limits: ConsoleLimits,
    pub(crate) producer: smishtrap_export::Producer,
    /// [`ConsoleConfig::silent_after`].
    pub(crate) silent_after: Duration,
}

/// A running console: the state for [`app`] plus the follower thread, stopped on drop.
#[derive(Debug)]
pub struct Console {
    state: AppState,
    follower: live::Follower,
}

impl Console {
    /// Starts following the store of `config.data_dir` (which may not exist yet: the console
    /// then shows an empty store until a sensor creates it). An existing store made by an
    /// older smishtrap is migrated to the current schema first (the console's only write).
    pub fn start(config: ConsoleConfig) -> Result<Console, WebError> {
        let source = source::Source::new(&config.data_dir, config.store.clone());
        source.migrate()?;
        let live = Arc::new(live::Live::new());
        let follower = live::Follower::start(source.clone(), live.clone(), config.poll_interval)?;
        let inner = Inner {
            token: config.token,
            sessions: auth::Sessions::new(config.session_ttl, config.session_idle),
            source,
            live,
            health: health::Probe::new(&config.data_dir, config.silent_after),
            streams: Arc::new(tokio::sync::Semaphore::new(api::MAX_STREAMS)),
            closing: tokio::sync::watch::channel(false).0,
            limits: config.limits,
            producer: config.producer,
            silent_after: config.silent_after,
        };
        Ok(Console { state: AppState { inner: Arc::new(inner) }, follower })
    }

    /// The state to pass to [`app`].
    pub fn state(&self) -> AppState {
        self.state.clone()
    }

    /// Stops the follower thread and waits for it.
    pub fn stop(self) {
        self.follower.stop();
    }
}

/// The console's routes. Everything but `/login`, `/healthz` and the stylesheet sits behind
/// [`auth::require_auth`]; every response gets [`security_headers`].
pub fn app(state: AppState) -> Router {
    let protected = Router::new()
        .route("/", get(pages::overview))
        .route("/events", get(pages::events))
        .route("/history", get(pages::history))
        .route("/events/{id}", get(pages::event_detail))
        .route("/campaigns", get(pages::campaigns))
        .route("/campaigns/{id}", get(pages::campaign_detail))
        .route("/messages", get(pages::messages))
        .route("/messages/{id}", get(pages::message_detail))
        .route("/exports", get(pages::exports))
        .route("/fleet", get(pages::fleet))
        .route("/sensors", get(pages::sensors))
        .route("/logout", post(auth::logout))
        .route("/static/console.js", get(pages::script))
        .merge(api::routes())
        // Behind authentication too, so nobody learns which paths exist without the token.
        .fallback(pages::not_found)
        .layer(axum::middleware::from_fn_with_state(state.clone(), auth::require_auth));
    Router::new()
        .route("/login", get(auth::login).post(auth::login_form))
        // Public, so the login page is styled; it says nothing about the data.
        .route("/static/console.css", get(pages::stylesheet))
        .route("/healthz", get(healthz))
        .merge(protected)
        .layer(axum::middleware::map_response(security_headers))
        .with_state(state)
}

/// Serves [`app`] on `listener` with the console's [`ConsoleLimits`] until `shutdown`
/// resolves; then ends the open live streams and waits (bounded) for the requests in flight.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let router = app(state.clone());
    server::serve(listener, state, router, shutdown).await
}

/// Health for load balancers and scripts: `200 ok`, or `503 degraded: REASON...` while the
/// sensor cannot record (`store-full`, `store-failing`), runs low on disk, its JSONL log
/// fails, it went silent, or the console cannot read the store. Fixed words only.
async fn healthz(
    axum::extract::State(state): axum::extract::State<AppState>,
) -> (axum::http::StatusCode, String) {
    let report = state.inner.health.report(&state.inner.live);
    let status = if report.health.is_ok() {
        axum::http::StatusCode::OK
    } else {
        axum::http::StatusCode::SERVICE_UNAVAILABLE
    };
    (status, format!("{}\n", report.health.summary()))
}

/// Adds the strict headers to every response, whatever produced it (handler, rejection,
/// fallback, auth redirect).
pub async fn security_headers(mut response: Response) -> Response {
    let headers = response.headers_mut();
    let fixed: [(HeaderName, &'static str); 5] = [
        (header::CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::REFERRER_POLICY, "no-referrer"),
        (header::X_FRAME_OPTIONS, "DENY"),
        (HeaderName::from_static("cross-origin-opener-policy"), "same-origin"),
    ];
    for (name, value) in fixed {
        headers.insert(name, HeaderValue::from_static(value));
    }
    // Pages and API answers show captured data: never keep them in shared or disk caches.
    headers.entry(header::CACHE_CONTROL).or_insert(HeaderValue::from_static("no-store"));
    response
}
