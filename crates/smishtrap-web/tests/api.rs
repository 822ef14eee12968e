//! The console through its real HTTP server and a real client: authentication, sessions,
//! CSRF, headers, the API and its OpenAPI document, and escaping of hostile event text.

mod common;

use std::collections::BTreeSet;
use std::time::Duration;

use chrono::TimeDelta;
use common::{PAYLOADS, Server, TOKEN, event, events, hostile_event, ts};
use smishtrap_event::EventKind;

/// Every page of the console (the API paths come from the OpenAPI document).
const PAGES: [&str; 13] = [
    "/exports",
    "/fleet",
    "/",
    "/events",
    "/events/c0-1",
    "/history",
    "/campaigns",
    "/campaigns?brand=bpost",
    "/campaigns/cmp-0123456789ab",
    "/messages",
    "/messages?text=pakket",
    "/messages/bp-03",
    "/static/console.js",
];

fn openapi() -> serde_json::Value {
    serde_json::from_str(smishtrap_web::api::OPENAPI_JSON).expect("openapi.json is JSON")
}

/// The documented paths, with `{id}` filled in (an event, a message of the corpus, or the
/// given campaign) and required query parameters set to their examples.
fn documented_paths_with(campaign: &str) -> Vec<String> {
    let doc = openapi();
    let paths = doc["paths"].as_object().expect("paths");
    paths
        .iter()
        .map(|(path, item)| {
            let id = if path.starts_with("/api/v1/messages/") {
                "bp-03"
            } else if path.starts_with("/api/v1/campaigns/") {
                campaign
            } else {
                "c0-1"
            };
            let mut filled = path.replace("{id}", id);
            let required: Vec<String> = parameters(&doc, &item["get"])
                .into_iter()
                .filter(|p| p["in"] == "query" && p["required"] == true)
                .map(|p| format!("{}={}", p["name"].as_str().unwrap_or(""), example(&p)))
                .collect();
            if !required.is_empty() {
                filled.push('?');
                filled.push_str(&required.join("&"));
            }
            filled
        })
        .collect()
}

fn documented_paths() -> Vec<String> {
    documented_paths_with("cmp-0123456789ab")
}

/// An operation's parameters, `$ref`s resolved.
fn parameters(doc: &serde_json::Value, op: &serde_json::Value) -> Vec<serde_json::Value> {
    op["parameters"]
        .as_array()
        .map(|list| {
            list.iter()
                .map(|p| match p["$ref"].as_str() {
                    Some(r) => {
                        let name = r.rsplit('/').next().unwrap_or("");
                        doc["components"]["parameters"][name].clone()
                    }
                    None => p.clone(),
                })
                .collect()
        })
        .unwrap_or_default()
}

/// A parameter's documented example, percent-encoded.
fn example(p: &serde_json::Value) -> String {
    let value = match &p["example"] {
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Null => String::new(),
        other => other.to_string(),
    };
    form_urlencoded::byte_serialize(value.as_bytes()).collect()
}

/// HTML escaping as askama does it (numeric character references).
fn escape(s: &str) -> String {
    s.replace('&', "&#38;")
        .replace('<', "&#60;")
        .replace('>', "&#62;")
        .replace('"', "&#34;")
        .replace('\'', "&#39;")
}

fn assert_security_headers(response: &reqwest::Response, what: &str) {
    let h = response.headers();
    let get = |name: &str| h.get(name).and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
    assert_eq!(get("content-security-policy"), smishtrap_web::CONTENT_SECURITY_POLICY, "{what}");
    assert!(get("content-security-policy").contains("script-src 'self'"), "{what}");
    assert!(!get("content-security-policy").contains("unsafe-inline"), "{what}");
    assert_eq!(get("x-content-type-options"), "nosniff", "{what}");
    assert_eq!(get("referrer-policy"), "no-referrer", "{what}");
    assert_eq!(get("x-frame-options"), "DENY", "{what}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn everything_but_login_and_healthz_needs_authentication() {
    let server = Server::start().await;
    server.write(&events(3, ts("2025-07-22T10:00:00Z"), TimeDelta::seconds(1)));
    for path in PAGES {
        let response = server.get(path).await;
        assert_eq!(response.status(), 303, "{path}");
        let location = response.headers()["location"].to_str().expect("location").to_owned();
        assert!(location.starts_with("/login"), "{path} -> {location}");
        assert_security_headers(&response, path);
        let body = response.text().await.expect("body");
        assert!(!body.contains("sensor-a"), "{path} leaked data");
    }
    for path in documented_paths() {
        for auth in [None, Some("wrong-token-0123456789"), Some("")] {
            let mut request = server.client.get(server.url(&path));
            if let Some(token) = auth {
                request = request.bearer_auth(token);
            }
            let response = request.send().await.expect("request");
            assert_eq!(response.status(), 401, "{path} with {auth:?}");
            assert_eq!(response.headers()["www-authenticate"], "Bearer");
            assert_security_headers(&response, &path);
            let body: serde_json::Value = response.json().await.expect("json error");
            assert_eq!(body["error"]["code"], "unauthorized");
        }
    }
    // A forged or expired session cookie is no session.
    let (status, _) = server.page("smishtrap_session=00ff", "/events").await;
    assert_eq!(status, 303);
    // Unknown paths do not reveal whether they exist before authentication.
    assert_eq!(server.get("/no/such/page").await.status(), 303);
    assert_eq!(server.get("/api/v1/nothing").await.status(), 401);
    for open in ["/healthz", "/login", "/login?next=/events", "/static/console.css"] {
        let response = server.get(open).await;
        assert_eq!(response.status(), 200, "{open}");
        assert_security_headers(&response, open);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_sets_a_strict_session_cookie_and_only_redirects_locally() {
    let server = Server::start().await;
    let response =
        server.get(&format!("/login?token={TOKEN}&next=/events%3Fkind%3Dsms.send")).await;
    assert_eq!(response.status(), 303);
    assert_eq!(response.headers()["location"], "/events?kind=sms.send");
    let cookie = response.headers()["set-cookie"].to_str().expect("cookie").to_owned();
    let attrs: Vec<&str> = cookie.split(';').map(str::trim).collect();
    assert!(attrs[0].starts_with("smishtrap_session=") && attrs[0].len() > 40, "{cookie}");
    for flag in ["HttpOnly", "SameSite=Strict", "Path=/"] {
        assert!(attrs.contains(&flag), "{flag} missing in {cookie}");
    }
    assert!(attrs.iter().any(|a| a.starts_with("Max-Age=")), "{cookie}");
    let session = attrs[0].to_owned();
    let (status, body) = server.page(&session, "/events").await;
    assert_eq!(status, 200);
    assert!(body.contains("Live events"));

    for hostile in [
        "//evil.example/x",
        "/%5Cevil.example",
        "%2F%2Fevil.example",
        "https://evil.example/",
        "javascript:alert(1)",
        "/%09/evil.example",
        "evil.example",
    ] {
        let response = server.get(&format!("/login?token={TOKEN}&next={hostile}")).await;
        assert_eq!(response.status(), 303, "{hostile}");
        assert_eq!(response.headers()["location"], "/", "next={hostile} must fall back to /");
    }

    let response = server.get("/login?token=wrong-token-0123456789&next=/events").await;
    assert_eq!(response.status(), 401);
    assert!(response.headers().get("set-cookie").is_none());
    assert!(response.text().await.expect("body").contains("Wrong token"));

    // The login form carries `next` back, escaped.
    let response = server.get("/login?next=/events%3Fx%3D%22%3E%3Cscript%3E").await;
    let body = response.text().await.expect("body");
    assert!(body.contains(&format!("value=\"{}\"", escape("/events?x=\"><script>"))), "{body}");

    // Unauthenticated page visits come back to where they started after login.
    let response = server.get("/events?kind=sms.send").await;
    assert_eq!(response.headers()["location"], "/login?next=/events%3Fkind%3Dsms.send");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn state_changes_need_the_csrf_token_and_our_origin() {
    let server = Server::start().await;
    let cookie = server.login().await;
    let (_, page) = server.page(&cookie, "/").await;
    let csrf = page
        .split("name=\"csrf\" value=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("csrf field in the page")
        .to_owned();
    assert_eq!(csrf.len(), 64);
    let post = |form: Option<String>, headers: Vec<(&'static str, String)>| {
        let mut request = server.client.post(server.url("/logout")).header("cookie", &cookie);
        if let Some(form) = form {
            request =
                request.header("content-type", "application/x-www-form-urlencoded").body(form);
        }
        for (name, value) in headers {
            request = request.header(name, value);
        }
        request.send()
    };
    let origin = format!("http://{}", server.addr);
    let refused = [
        (None, vec![]),
        (Some("csrf=".into()), vec![]),
        (Some("csrf=0000".into()), vec![]),
        (None, vec![("x-csrf-token", "nope".into())]),
        (Some(format!("csrf={csrf}")), vec![("origin", "http://evil.example".into())]),
        (Some(format!("csrf={csrf}")), vec![("origin", "null".into())]),
        (Some(format!("csrf={csrf}")), vec![("sec-fetch-site", "cross-site".into())]),
        (Some(format!("csrf={csrf}")), vec![("sec-fetch-site", "same-site".into())]),
    ];
    for (form, headers) in refused {
        let what = format!("{form:?} {headers:?}");
        let response = post(form, headers).await.expect("request");
        assert_eq!(response.status(), 403, "{what}");
        assert_security_headers(&response, &what);
    }
    // Still logged in after all those attempts.
    assert_eq!(server.page(&cookie, "/").await.0, 200);
    // What Chromium sends from our own form under `Referrer-Policy: no-referrer`, minus the
    // token: still refused; the real form (with it) is exercised in the browser test.
    let response = post(
        Some("csrf=wrong".into()),
        vec![("origin", "null".into()), ("sec-fetch-site", "same-origin".into())],
    )
    .await
    .expect("request");
    assert_eq!(response.status(), 403);
    let response = post(
        Some(format!("csrf={csrf}")),
        vec![("origin", "null".into()), ("sec-fetch-site", "same-origin".into())],
    )
    .await
    .expect("request");
    assert_eq!(response.status(), 303, "our own form under no-referrer");
    let cookie = server.login().await;
    let (_, page) = server.page(&cookie, "/").await;
    let csrf = page
        .split("name=\"csrf\" value=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("csrf field in the page")
        .to_owned();
    let post = |form: Option<String>, headers: Vec<(&'static str, String)>| {
        let mut request = server.client.post(server.url("/logout")).header("cookie", &cookie);
        if let Some(form) = form {
            request =
                request.header("content-type", "application/x-www-form-urlencoded").body(form);
        }
        for (name, value) in headers {
            request = request.header(name, value);
        }
        request.send()
    };
    let response = post(
        Some(format!("csrf={csrf}")),
        vec![("origin", origin.clone()), ("sec-fetch-site", "same-origin".into())],
    )
    .await
    .expect("request");
    assert_eq!(response.status(), 303);
    assert!(response.headers()["set-cookie"].to_str().expect("cookie").contains("Max-Age=0"));
    assert_eq!(server.page(&cookie, "/").await.0, 303, "the session ended");
    // Bearer clients are not exposed to CSRF (browsers never add the header by themselves).
    let response =
        server.client.post(server.url("/logout")).bearer_auth(TOKEN).send().await.expect("request");
    assert_eq!(response.status(), 303);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cursor_pages_cover_every_event_once_in_order() {
    let server = Server::start().await;
    // 250 events, in pairs sharing one timestamp so pages end inside an instant.
    let mut all = events(250, ts("2025-07-22T10:00:00Z"), TimeDelta::zero());
    for (i, e) in all.iter_mut().enumerate() {
        e.ts = ts("2025-07-22T10:00:00Z") + TimeDelta::milliseconds((i / 2) as i64);
    }
    server.write(&all);
    for (query, expect) in [
        ("limit=100", all.iter().collect::<Vec<_>>()),
        ("limit=7", all.iter().collect()),
        ("limit=33&kind=sms.send", all.iter().filter(|e| e.kind == EventKind::SmsSend).collect()),
        (
            "limit=5&kind=sms.send,auth.login&src_ip=127.0.0.2",
            all.iter()
                .filter(|e| {
                    matches!(e.kind, EventKind::SmsSend | EventKind::AuthLogin)
                        && e.src_ip.to_string() == "127.0.0.2"
                })
                .collect(),
        ),
        (
            "limit=20&since=2025-07-22T10:00:00.100Z",
            all.iter().filter(|e| e.ts >= ts("2025-07-22T10:00:00.100Z")).collect(),
        ),
    ] {
        let mut got = Vec::new();
        let mut cursor: Option<String> = None;
        let mut pages = 0;
        loop {
            let mut path = format!("/api/v1/events?{query}");
            if let Some(c) = &cursor {
                path.push_str(&format!("&cursor={c}"));
            }
            let page = server.api_json(&path).await;
            pages += 1;
            let events = page["events"].as_array().expect("events");
            got.extend(events.iter().map(|e| e["id"].as_str().expect("id").to_owned()));
            match page["next_cursor"].as_str() {
                Some(next) => cursor = Some(next.to_owned()),
                None => break,
            }
            assert!(pages < 100, "pagination does not end for {query}");
        }
        let want: Vec<String> = expect.iter().map(|e| e.id.clone()).collect();
        assert!(want.len() > 1, "{query}");
        assert_eq!(got, want, "{query}");
        assert!(pages > 1, "{query} should need more than one page");
    }
    for (bad, field) in [
        ("limit=0", "limit"),
        ("limit=1001", "limit"),
        ("cursor=abc", "cursor"),
        ("kind=sms.sent", "kind"),
        ("src_ip=not-an-ip", "src_ip"),
        ("since=yesterday", "since"),
    ] {
        let response = server.api(&format!("/api/v1/events?{bad}")).await;
        assert_eq!(response.status(), 400, "{bad}");
        let body: serde_json::Value = response.json().await.expect("json");
        assert_eq!(body["error"]["code"], "bad_request");
        assert!(body["error"]["message"].as_str().expect("message").contains(field), "{body}");
    }
    let one = server.api_json("/api/v1/events/c3-4").await;
    assert_eq!(one["id"], "c3-4");
    assert_eq!(one["schema"], 1);
    for missing in ["/api/v1/events/c99-9", "/api/v1/events/no-dash-here-x", "/api/v1/events/x"] {
        assert_eq!(server.api(missing).await.status(), 404, "{missing}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_openapi_document_matches_the_router() {
    let dir = tempfile::tempdir().expect("tempdir");
    let seeded = common::seed::seed(dir.path(), &common::corpus(), "import");
    let campaign = seeded.campaigns.first().map(|c| c.id.clone()).expect("a campaign");
    let server = Server::start_in(dir).await;
    server.write(&events(12, ts("2025-07-22T10:00:00Z"), TimeDelta::seconds(1)));
    let doc = openapi();
    assert_eq!(doc["openapi"], "3.1.0");
    let served = server.api_json("/api/v1/openapi.json").await;
    assert_eq!(served, doc);
    // Every API route registered in the router's source is documented, and nothing else is.
    let source = include_str!("../src/api.rs");
    let routed: BTreeSet<String> = source
        .split(".route(\"")
        .skip(1)
        .filter_map(|rest| rest.split('"').next())
        .map(str::to_owned)
        .collect();
    let documented: BTreeSet<String> =
        doc["paths"].as_object().expect("paths").keys().cloned().collect();
    assert_eq!(routed, documented);
    // Every documented operation answers with a valid token (the stream answers with headers).
    for path in documented_paths_with(&campaign) {
        let response = server
            .client
            .get(server.url(&path))
            .bearer_auth(TOKEN)
            .timeout(Duration::from_secs(10))
            .send()
            .await
            .expect("request");
        assert!(response.status().is_success(), "{path}: {}", response.status());
        assert_security_headers(&response, &path);
        let content_type = response.headers()["content-type"].to_str().expect("ct").to_owned();
        let template = path
            .split('?')
            .next()
            .unwrap_or("")
            .replace("c0-1", "{id}")
            .replace("bp-03", "{id}")
            .replace(&campaign, "{id}");
        let op = &doc["paths"][template.as_str()]["get"]["responses"]["200"];
        let documented_type = op["content"].as_object().expect("content").keys().next().cloned();
        assert_eq!(
            Some(content_type.split(';').next().unwrap_or("").to_owned()),
            documented_type,
            "{path}"
        );
    }
    // Every documented query parameter is understood: its example (each has one, but opaque
    // cursors) is accepted, and a value the schema forbids is refused where the schema says so.
    for (path, item) in doc["paths"].as_object().expect("paths") {
        let base = documented_paths_with(&campaign)
            .into_iter()
            .find(|p| {
                let plain = p.split('?').next().unwrap_or("");
                path.replace("{id}", "").split('/').count() == plain.split('/').count()
                    && path.split('/').zip(plain.split('/')).all(|(a, b)| a == b || a == "{id}")
            })
            .expect("documented path");
        for p in parameters(&doc, &item["get"]).iter().filter(|p| p["in"] == "query") {
            let name = p["name"].as_str().expect("name");
            if name == "cursor" {
                assert!(p["example"].is_null());
                continue;
            }
            assert!(!p["example"].is_null(), "{path}: {name} has no example");
            // A required parameter replaces the one the base path already carries.
            let base = if p["required"] == true {
                base.split('?').next().unwrap_or("").to_owned()
            } else {
                base.clone()
            };
            let sep = if base.contains('?') { '&' } else { '?' };
            let url = format!("{base}{sep}{name}={}", example(p));
            let response = server
                .client
                .get(server.url(&url))
                .bearer_auth(TOKEN)
                .timeout(Duration::from_secs(10))
                .send()
                .await
                .expect("request");
            assert!(response.status().is_success(), "{url}: {}", response.status());
            let refused = p["schema"]["enum"].is_array()
                || p["schema"]["pattern"].is_string()
                || p["schema"]["maximum"].is_number();
            if refused && item["get"]["responses"]["400"].is_object() {
                let url = format!("{base}{sep}{name}=9999%3Cx%3E");
                let response = server.api(&url).await;
                assert_eq!(response.status(), 400, "{url}");
            }
        }
    }
    // Documented error statuses are real.
    assert_eq!(server.api("/api/v1/events?limit=0").await.status(), 400);
    assert_eq!(server.api("/api/v1/events/c42-0").await.status(), 404);
    assert_eq!(server.api("/api/v1/messages/nope").await.status(), 404);
    assert_eq!(server.api("/api/v1/campaigns/nope").await.status(), 404);
    assert_eq!(server.api("/api/v1/exports?format=xml").await.status(), 400);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sensors_and_overview_are_derived_from_events() {
    let server = Server::start().await;
    let now = chrono::Utc::now();
    let mut all = events(40, now - TimeDelta::minutes(20), TimeDelta::seconds(30));
    for e in all.iter_mut().skip(30) {
        e.sensor = "sensor-b".into();
        e.persona = "milesight-ur5x".into();
    }
    // One more three hours ago: in the day chart, not in the last hour's.
    all.push(event(40, EventKind::HttpRequest, now - TimeDelta::hours(3)));
    server.write(&all);
    server.wait_for_events(41).await;
    let sensors = server.api_json("/api/v1/sensors").await;
    let list = sensors["sensors"].as_array().expect("sensors");
    assert_eq!(list.len(), 2);
    assert_eq!(list[0]["sensor"], "sensor-a");
    assert_eq!(list[0]["events"], 31);
    assert_eq!(list[0]["by_kind"]["sms.send"], 8);
    assert_eq!(list[1]["sensor"], "sensor-b");
    assert_eq!(list[1]["persona"], "milesight-ur5x");
    assert_eq!(list[1]["events"], 10);
    assert_eq!(list[1]["active"], true);
    let cookie = server.login().await;
    let (status, html) = server.page(&cookie, "/").await;
    assert_eq!(status, 200);
    assert!(html.contains("<svg class=\"chart\""));
    // 40 events in the last 20 minutes: the chart's window counts all of them.
    assert!(html.contains("/hour · 41 events in the window"), "{html}");
    assert!(html.contains("/min · 40 events in the window"), "{html}");
    assert!(html.contains("127.0.0.1"));
    assert!(html.contains("milesight-ur5x"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_event_text_is_escaped_on_every_page() {
    let server = Server::start().await;
    let now = chrono::Utc::now();
    let hostile: Vec<_> = PAYLOADS
        .iter()
        .enumerate()
        .map(|(i, p)| hostile_event(10 * (i + 1), p, now - TimeDelta::seconds(10 - i as i64)))
        .collect();
    let mut plain = event(1, EventKind::HttpRequest, now - TimeDelta::seconds(30));
    plain.sensor = "<script>alert('sensor')</script>".into();
    let mut all = vec![plain];
    all.extend(hostile.iter().cloned());
    server.write(&all);
    server.wait_for_events(all.len() as u64).await;
    let cookie = server.login().await;
    let mut pages: Vec<String> = vec![
        "/".into(),
        "/events".into(),
        "/events?kind=sms.send".into(),
        "/history".into(),
        "/history?kind=sms.send".into(),
    ];
    pages.extend(hostile.iter().map(|e| format!("/events/{}", e.id)));
    for path in &pages {
        let (status, html) = server.page(&cookie, path).await;
        assert_eq!(status, 200, "{path}");
        for raw in ["<script>alert", "<img src=x", "<svg onload", "onerror=alert(1)>"] {
            assert!(!html.contains(raw), "{path} contains raw {raw:?}");
        }
        assert!(!html.contains("href=\"javascript"), "{path}");
        assert!(!html.contains("https://secure-login-bank.info"), "{path} shows a live URL");
        // Only our own pages are linked, and the only script is our file.
        for href in html.split("href=\"").skip(1).filter_map(|r| r.split('"').next()) {
            assert!(href.starts_with('/') && !href.starts_with("//"), "{path}: href {href}");
        }
        assert_eq!(html.matches("<script").count(), 1, "{path}");
        assert!(html.contains("<script src=\"/static/console.js\" defer></script>"));
        assert!(!html.contains("style="), "{path}: inline style");
    }
    // The detail page shows every payload literally (escaped), in SMS, headers, path, body.
    for (e, payload) in hostile.iter().zip(PAYLOADS) {
        let (_, html) = server.page(&cookie, &format!("/events/{}", e.id)).await;
        let escaped = escape(payload);
        assert!(html.matches(&escaped).count() >= 6, "{payload}: {html}");
        assert!(html.contains("hxxps://secure-login-bank[.]info/x"), "{payload}");
    }
    let (_, html) = server.page(&cookie, "/").await;
    assert!(html.contains(&escape("<script>alert('sensor')</script>")), "{html}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_stream_delivers_new_matching_events() {
    let server = Server::start().await;
    let now = chrono::Utc::now();
    server.write(&[event(0, EventKind::HttpRequest, now - TimeDelta::seconds(5))]);
    server.wait_for_events(1).await;
    let mut response = server.api("/api/v1/events/stream?kind=sms.send").await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "text/event-stream");
    assert_security_headers(&response, "stream");
    let mut hostile = hostile_event(20, PAYLOADS[0], chrono::Utc::now());
    hostile.id = "c2-5".into();
    server.write(&[event(11, EventKind::HttpRequest, chrono::Utc::now()), hostile]);
    let mut text = String::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while !text.contains("\n\n") {
        let chunk = tokio::time::timeout_at(deadline, response.chunk())
            .await
            .expect("an event within 20 s")
            .expect("chunk")
            .expect("stream open");
        text.push_str(&String::from_utf8_lossy(&chunk));
    }
    assert!(text.starts_with("event: event\n"), "{text}");
    assert!(text.contains("id: c2-5\n"), "the http.request event must be filtered out: {text}");
    let data = text.lines().find_map(|l| l.strip_prefix("data: ")).expect("data");
    let row: serde_json::Value = serde_json::from_str(data).expect("row json");
    assert_eq!(row["kind"], "sms.send");
    assert!(row["summary"].as_str().expect("summary").contains("<script>alert(1)</script>"));
    assert!(row["summary"].as_str().expect("summary").contains("hxxps://secure-login-bank[.]info"));
    assert_eq!(server.api("/api/v1/events/stream?kind=nope").await.status(), 400);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn history_pages_through_every_matching_event() {
    let server = Server::start().await;
    let all = events(230, ts("2025-07-22T10:00:00Z"), TimeDelta::seconds(1));
    server.write(&all);
    let cookie = server.login().await;
    for (start, expect) in [
        ("/history", all.iter().collect::<Vec<_>>()),
        (
            "/history?kind=sms.send&src_ip=127.0.0.2",
            all.iter()
                .filter(|e| e.kind == EventKind::SmsSend && e.src_ip.to_string() == "127.0.0.2")
                .collect(),
        ),
        (
            "/history?since=2025-07-22T10:02:00Z",
            all.iter().filter(|e| e.ts >= ts("2025-07-22T10:02:00Z")).collect(),
        ),
    ] {
        let ids = common::page_ids(&server, &cookie, start).await;
        let want: Vec<String> = expect.iter().map(|e| e.id.clone()).collect();
        assert_eq!(ids, want, "{start}");
    }
    let (status, _) = server.page(&cookie, "/history?cursor=junk").await;
    assert_eq!(status, 400);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_fleet_page_shows_stored_audits_escaped_and_defanged() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = smishtrap_store::db_path(dir.path());
    let mut store = smishtrap_store::SqliteStore::open(&db).expect("store");
    let finding = |check: &str, severity: &str, title: &str, evidence: &[&str]| {
        serde_json::json!({"check": check, "severity": severity, "title": title,
            "evidence": evidence, "remediation": "lock the SMS API"})
    };
    let abused = serde_json::json!({"schema": 1, "target": "10.0.0.7",
        "url": "http://10.0.0.7:80",
        "device": {"vendor": "Milesight", "model": PAYLOADS[0], "firmware": "32.3.0.8-r1"},
        "findings": [
            finding("identified", "info", "Milesight UR32L", &[PAYLOADS[1]]),
            finding("outbox-abused", "critical", "the outbox holds 3 smishing message(s)",
                &["link hosts: https://secure-login-bank.info/x (3)", PAYLOADS[3]]),
            finding("password-recovered", "critical", "password of \"admin\" recovered", &["password not stored"])],
        "mailbox_access": "open", "messages_read": 5,
        "campaigns": [{"id": "cmp-0123456789ab", "messages": 3}, {"id": "javascript:alert(1)", "messages": 1}]});
    let patched = serde_json::json!({"schema": 1, "target": "10.0.0.8", "device": {},
        "findings": [finding("unreachable", "info", "no answer", &[])], "campaigns": []});
    let row = |target: &str, worst: &str, report: &serde_json::Value| smishtrap_store::AuditRow {
        target: target.into(),
        audited: 1_764_000_000_000_000,
        worst: worst.into(),
        report: report.to_string(),
    };
    store
        .put_audit_results(&[
            row("10.0.0.8", "info", &patched),
            row("10.0.0.7", "critical", &abused),
            row("10.0.0.9", "info", &serde_json::json!({"schema": 2})),
        ])
        .expect("store audits");
    drop(store);
    let server = Server::start_in(dir).await;
    let cookie = server.login().await;
    let (status, html) = server.page(&cookie, "/fleet").await;
    assert_eq!(status, 200);
    for raw in ["<script>alert", "<img src=x", "<svg onload", "https://secure-login-bank.info"] {
        assert!(!html.contains(raw), "raw {raw:?} in {html}");
    }
    assert!(html.contains(&escape(PAYLOADS[0])), "{html}");
    assert!(html.contains("hxxps://secure-login-bank[.]info/x (3)"), "{html}");
    // the campaign the clustering named is a link; a hostile id is text
    assert!(html.contains("href=\"/campaigns/cmp-0123456789ab\""), "{html}");
    assert!(!html.contains("href=\"/campaigns/javascript"), "{html}");
    for href in html.split("href=\"").skip(1).filter_map(|r| r.split('"').next()) {
        assert!(href.starts_with('/') || href.starts_with("#target-"), "href {href}");
    }
    assert!(html.contains("1 written by a newer smishtrap"), "{html}");
    // worst first: the abused router's row comes before the unreachable one
    let (a, b) = (html.find("<td>10.0.0.7</td>"), html.find("<td>10.0.0.8</td>"));
    assert!(a.is_some() && a < b, "{html}");
    let api = server.api_json("/api/v1/fleet").await;
    assert_eq!(api["stored"], 3);
    assert_eq!(api["unreadable"], 1);
    assert_eq!(api["abused"], serde_json::json!(["10.0.0.7"]));
    assert_eq!(api["targets"][0]["findings"][0]["check"], "outbox-abused", "{api}");
    assert_eq!(api["by_severity"][0], serde_json::json!({"name": "critical", "targets": 1}));
    assert!(!api.to_string().contains("https://secure-login-bank.info"), "{api}");
}
