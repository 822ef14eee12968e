//! Authentication and CSRF.
//!
//! - Browsers log in with the form of `GET /login`, which POSTs the token (so it never lands
//!   in the URL, the history or a proxy log): the token is checked in constant time, a random
//!   session id goes into a cookie (`HttpOnly; SameSite=Strict; Path=/`) and the browser is
//!   sent to `next`, which must be a local path ([`LocalPath`]). The first-start login URL
//!   (`GET /login?token=T`, printed once) still works: it answers with a redirect that strips
//!   the token.
//! - Scripts send `Authorization: Bearer TOKEN`.
//! - Sessions expire after an idle time and after an absolute lifetime; at most [`MAX_SESSIONS`] live at once (the oldest
//!   go first), so logins cannot grow memory.
//! - A state-changing request (any method but GET/HEAD/OPTIONS) made with a session cookie must
//!   come from our own origin (`Origin`, `Sec-Fetch-Site`) and carry the session's CSRF token
//!   (`X-CSRF-Token` header or `csrf` form field). Bearer requests are exempt: browsers never
//!   attach that header on their own.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use askama::Template;
use axum::body::Body;
use axum::extract::{Query, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{Html, IntoResponse, Redirect, Response};
use rand::RngCore;
use serde::Deserialize;

use crate::AppState;
use crate::error::json_error;

/// Name of the session cookie.
pub const SESSION_COOKIE: &str = "smishtrap_session";
/// Most sessions alive at once.
pub const MAX_SESSIONS: usize = 1024;
/// Largest form body read while checking a CSRF token.
const MAX_FORM_BYTES: usize = 16 * 1024;

/// Logged-in browser sessions.
#[derive(Debug)]
pub(crate) struct Sessions {
    /// Absolute lifetime of a session.
    ttl: Duration,
    /// Longest time between two requests of a session.
    idle: Duration,
    by_id: Mutex<HashMap<String, Session>>,
}

#[derive(Debug, Clone)]
struct Session {
    created: Instant,
    last_used: Instant,
    csrf: String,
}

/// How a request proved who it is; handlers read it from the request extensions.
#[derive(Debug, Clone)]
pub enum Authed {
    Bearer,
    Session { csrf: String },
}

impl Authed {
    /// The CSRF token forms must carry (empty for bearer clients, who need none).
    pub fn csrf(&self) -> &str {
        match self {
            Authed::Bearer => "",
            Authed::Session { csrf } => csrf,
        }
    }
}

fn random_hex() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    hex::encode(bytes)
}

impl Sessions {
    pub(crate) fn new(ttl: Duration, idle: Duration) -> Sessions {
        Sessions { ttl, idle, by_id: Mutex::new(HashMap::new()) }
    }

    fn expired(&self, session: &Session, now: Instant) -> bool {
        now.duration_since(session.created) >= self.ttl
            || now.duration_since(session.last_used) >= self.idle
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Session>> {
        // A panic while holding the lock cannot leave the map inconsistent: keep using it.
        self.by_id.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// A new session; returns its id (the cookie value).
    fn create(&self) -> String {
        let id = random_hex();
        let now = Instant::now();
        let mut map = self.lock();
        map.retain(|_, s| !self.expired(s, now));
        while map.len() >= MAX_SESSIONS {
            let oldest = map.iter().min_by_key(|(_, s)| s.created).map(|(k, _)| k.clone());
            match oldest {
                Some(key) => map.remove(&key),
                None => break,
            };
        }
        map.insert(id.clone(), Session { created: now, last_used: now, csrf: random_hex() });
        id
    }

    /// The CSRF token of a live session, which this use keeps from going idle.
    fn get(&self, id: &str) -> Option<String> {
        let now = Instant::now();
        let mut map = self.lock();
        let session = map.get_mut(id)?;
        if self.expired(session, now) {
            map.remove(id);
            return None;
        }
        session.last_used = now;
        Some(session.csrf.clone())
    }

    fn remove(&self, id: &str) {
        self.lock().remove(id);
    }
}

/// A redirect target that stays on this site: starts with one `/`, no `//` or `/\` prefix
/// (protocol-relative URLs), no backslash or control character anywhere (browsers turn `\`
/// into `/` and drop tabs and newlines), at most 2048 bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalPath(String);

impl LocalPath {
    pub fn parse(raw: &str) -> Option<LocalPath> {
        let ok = raw.len() <= 2048
            && raw.starts_with('/')
            && !raw.starts_with("//")
            && !raw.contains('\\')
            && !raw.chars().any(|c| c.is_control() || c.is_whitespace());
        ok.then(|| LocalPath(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[derive(Debug, Deserialize)]
pub(crate) struct LoginQuery {
    token: Option<String>,
    next: Option<String>,
}

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage<'a> {
    next: &'a str,
    failed: bool,
}

/// `GET /login`: without a token, the form; with one (the first-start URL), what the form
/// does, answered with a redirect so the token leaves the address bar at once.
pub(crate) async fn login(State(state): State<AppState>, Query(q): Query<LoginQuery>) -> Response {
    let next = q.next.as_deref().and_then(LocalPath::parse);
    let next_str = next.as_ref().map_or("/", LocalPath::as_str);
    let Some(token) = q.token.as_deref() else {
        return render_login(next_str, false, StatusCode::OK);
    };
    start_session(&state, token, next_str)
}

/// `POST /login` (form `token`, `next`): the login form's target.
pub(crate) async fn login_form(State(state): State<AppState>, request: Request) -> Response {
    let bytes = match axum::body::to_bytes(request.into_body(), MAX_FORM_BYTES).await {
        Ok(bytes) => bytes,
        Err(_) => return render_login("/", true, StatusCode::PAYLOAD_TOO_LARGE),
    };
    let next = form_field(&bytes, "next");
    let next = next.as_deref().and_then(LocalPath::parse);
    let next_str = next.as_ref().map_or("/", LocalPath::as_str);
    let token = form_field(&bytes, "token").unwrap_or_default();
    start_session(&state, &token, next_str)
}

/// With the right token, a session cookie and a redirect to `next`; else the form again.
fn start_session(state: &AppState, token: &str, next_str: &str) -> Response {
    if token.len() > crate::token::MAX_TOKEN_LEN || !state.inner.token.matches(token) {
        tracing::warn!("console login with a wrong token");
        return render_login(next_str, true, StatusCode::UNAUTHORIZED);
    }
    let id = state.inner.sessions.create();
    let max_age = state.inner.sessions.ttl.as_secs();
    let cookie =
        format!("{SESSION_COOKIE}={id}; HttpOnly; SameSite=Strict; Path=/; Max-Age={max_age}");
    let mut response = Redirect::to(next_str).into_response();
    if let Ok(value) = HeaderValue::from_str(&cookie) {
        response.headers_mut().insert(header::SET_COOKIE, value);
    }
    response
}

fn render_login(next: &str, failed: bool, status: StatusCode) -> Response {
    match (LoginPage { next, failed }).render() {
        Ok(html) => (status, Html(html)).into_response(),
        Err(err) => crate::pages::render_error(&err),
    }
}

/// `POST /logout` (CSRF-checked by [`require_auth`]): ends the session, clears the cookie.
pub(crate) async fn logout(State(state): State<AppState>, headers: HeaderMap) -> Response {
    if let Some(id) = session_cookie(&headers) {
        state.inner.sessions.remove(id);
    }
    let mut response = Redirect::to("/login").into_response();
    let clear = format!("{SESSION_COOKIE}=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0");
    if let Ok(value) = HeaderValue::from_str(&clear) {
        response.headers_mut().insert(header::SET_COOKIE, value);
    }
    response
}

fn session_cookie(headers: &HeaderMap) -> Option<&str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == SESSION_COOKIE)
        .map(|(_, value)| value)
}

fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then_some(token.trim())
}

/// Middleware in front of every protected route: authenticates, then enforces CSRF rules on
/// state-changing requests.
pub(crate) async fn require_auth(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    let headers = request.headers();
    let authed = if let Some(token) = bearer(headers) {
        (token.len() <= crate::token::MAX_TOKEN_LEN && state.inner.token.matches(token))
            .then_some(Authed::Bearer)
    } else {
        session_cookie(headers)
            .and_then(|id| state.inner.sessions.get(id))
            .map(|csrf| Authed::Session { csrf })
    };
    let Some(authed) = authed else {
        return unauthenticated(&request);
    };
    let safe = matches!(*request.method(), Method::GET | Method::HEAD | Method::OPTIONS);
    let mut request = request;
    if let (false, Authed::Session { csrf }) = (safe, &authed) {
        request = match check_csrf(request, csrf).await {
            Ok(request) => request,
            Err(reason) => {
                tracing::warn!(reason, "console request refused by the CSRF check");
                return json_error(
                    StatusCode::FORBIDDEN,
                    "csrf",
                    format!("csrf check failed: {reason}"),
                );
            }
        };
    }
    request.extensions_mut().insert(authed);
    next.run(request).await
}

fn unauthenticated(request: &Request) -> Response {
    let path = request.uri().path();
    if path.starts_with("/api/") {
        let mut response = json_error(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "authentication required: Authorization: Bearer TOKEN or a console session".into(),
        );
        response.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        return response;
    }
    let here = request.uri().path_and_query().map_or(path, |pq| pq.as_str());
    let target = match LocalPath::parse(here) {
        Some(local) if local.as_str() != "/" => {
            format!("/login?next={}", percent_encode(local.as_str()))
        }
        _ => "/login".to_owned(),
    };
    Redirect::to(&target).into_response()
}

/// Percent-encodes everything but unreserved characters and `/`.
pub(crate) fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~/".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Same-origin check plus the session's token in a header or form field; gives the request
/// back (its body re-attached) when it passes.
async fn check_csrf(request: Request, csrf: &str) -> Result<Request, &'static str> {
    let headers = request.headers();
    let fetch_site = headers.get("sec-fetch-site").map(|v| v.as_bytes());
    if fetch_site.is_some_and(|site| site != b"same-origin") {
        return Err("request did not come from this site");
    }
    if let Some(origin) = headers.get(header::ORIGIN) {
        let origin = origin.to_str().unwrap_or("");
        if origin == "null" {
            // Browsers send `Origin: null` on our own forms too, because every page says
            // `Referrer-Policy: no-referrer`; then only `Sec-Fetch-Site` can vouch for it.
            if fetch_site != Some(b"same-origin".as_slice()) {
                return Err("opaque origin without same-origin fetch metadata");
            }
        } else {
            let host = headers.get(header::HOST).and_then(|h| h.to_str().ok()).unwrap_or("");
            let same = origin
                .strip_prefix("http://")
                .or_else(|| origin.strip_prefix("https://"))
                .is_some_and(|rest| !host.is_empty() && rest == host);
            if !same {
                return Err("origin does not match this console");
            }
        }
    }
    let given = |value: &str| subtle::ConstantTimeEq::ct_eq(value.as_bytes(), csrf.as_bytes());
    if let Some(value) = headers.get("x-csrf-token").and_then(|v| v.to_str().ok()) {
        return if bool::from(given(value)) { Ok(request) } else { Err("wrong csrf token") };
    }
    let is_form = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    if !is_form {
        return Err("missing csrf token");
    }
    let (parts, body) = request.into_parts();
    let bytes =
        axum::body::to_bytes(body, MAX_FORM_BYTES).await.map_err(|_| "form body too large")?;
    let token = form_field(&bytes, "csrf").ok_or("missing csrf token")?;
    if !bool::from(given(&token)) {
        return Err("wrong csrf token");
    }
    Ok(Request::from_parts(parts, Body::from(bytes)))
}

fn form_field(body: &[u8], name: &str) -> Option<String> {
    form_urlencoded::parse(body).find(|(key, _)| key == name).map(|(_, value)| value.into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(raw: &str, expect_local: bool) {
        assert_eq!(LocalPath::parse(raw).is_some(), expect_local, "{raw:?}");
    }

    #[test]
    fn only_local_paths_are_redirect_targets() {
        check("/", true);
        check("/events?kind=sms.send", true);
        check("/events/abc-1", true);
        check("//evil.example/x", false);
        check("/\\evil.example", false);
        check("\\\\evil.example", false);
        check("https://evil.example/", false);
        check("javascript:alert(1)", false);
        check("evil.example", false);
        check("", false);
        check("/\t/evil.example", false);
        check("/ /evil.example", false);
        check("/\n/evil.example", false);
        check(&format!("/{}", "a".repeat(3000)), false);
    }

    #[test]
    fn sessions_expire_and_are_bounded() {
        let sessions = Sessions::new(Duration::from_millis(30), Duration::from_secs(60));
        let id = sessions.create();
        assert!(sessions.get(&id).is_some());
        std::thread::sleep(Duration::from_millis(40));
        assert!(sessions.get(&id).is_none());
        let sessions = Sessions::new(Duration::from_secs(60), Duration::from_secs(60));
        let first = sessions.create();
        for _ in 0..MAX_SESSIONS {
            sessions.create();
        }
        assert!(sessions.get(&first).is_none(), "the oldest session makes room");
        assert_eq!(sessions.lock().len(), MAX_SESSIONS);
    }

    #[test]
    fn idle_sessions_expire_and_used_ones_live_until_their_lifetime() {
        let (ttl, idle) = (Duration::from_millis(2400), Duration::from_millis(800));
        let sessions = Sessions::new(ttl, idle);
        let start = Instant::now();
        let idle_one = sessions.create();
        let used = sessions.create();
        // Used every 100 ms, the session lives past its idle time up to its lifetime.
        while start.elapsed() < ttl - Duration::from_millis(300) {
            assert!(sessions.get(&used).is_some(), "a used session stays");
            std::thread::sleep(Duration::from_millis(100));
        }
        assert!(sessions.get(&idle_one).is_none(), "a session idle past its idle time is gone");
        std::thread::sleep(Duration::from_millis(400));
        assert!(start.elapsed() >= ttl);
        assert!(sessions.get(&used).is_none(), "no session outlives its lifetime");
    }

    #[test]
    fn percent_encoding_keeps_paths_readable() {
        assert_eq!(
            percent_encode("/events?kind=sms.send&x=<"),
            "/events%3Fkind%3Dsms.send%26x%3D%3C"
        );
    }
}

#[cfg(test)]
mod proptests {
    use proptest::prelude::*;

    use super::LocalPath;

    proptest! {
        /// Whatever `next` says, an accepted target is a path on this site.
        #[test]
        fn accepted_redirect_targets_stay_on_this_site(raw in "\\PC{0,40}|[/\\\\a-z:.%\t ]{0,12}") {
            if let Some(local) = LocalPath::parse(&raw) {
                let s = local.as_str();
                prop_assert!(s.starts_with('/'));
                prop_assert!(!s.starts_with("//"));
                prop_assert!(!s.contains('\\'));
                prop_assert!(!s.chars().any(|c| c.is_control() || c.is_whitespace()));
            }
        }
    }
}
