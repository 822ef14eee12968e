//! Messages and campaigns through the real HTTP server over a store seeded with real
//! analyses and clustering: search, pagination, detail pages, exports, escaping, the live
//! message stream, the Overview's insights and the migration of an old store.

mod common;

use std::collections::HashSet;
use std::time::Duration;

use chrono::{TimeDelta, Utc};
use common::seed::{self, Seeded};
use common::{PAYLOADS, Server, corpus, event, hostile_event};
use smishtrap_event::{EventKind, SensorStatus, SmsRecord};
use smishtrap_store::{SqliteStore, db_path};

async fn seeded() -> (Server, Seeded) {
    let dir = tempfile::tempdir().expect("tempdir");
    let seeded = seed::seed(dir.path(), &corpus(), "import");
    (Server::start_in(dir).await, seeded)
}

/// HTML escaping as askama does it.
fn escape(s: &str) -> String {
    s.replace('&', "&#38;")
        .replace('<', "&#60;")
        .replace('>', "&#62;")
        .replace('"', "&#34;")
        .replace('\'', "&#39;")
}

/// `a=1&b=2` with values percent-encoded.
fn encode(query: &[(&str, &str)]) -> String {
    query
        .iter()
        .map(|(k, v)| {
            format!("{k}={}", form_urlencoded::byte_serialize(v.as_bytes()).collect::<String>())
        })
        .collect::<Vec<_>>()
        .join("&")
}

/// The ids the API lists for `query`, following `next_cursor` with pages of `limit`; no id
/// may come twice.
async fn api_ids(server: &Server, list: &str, query: &str, limit: usize) -> Vec<String> {
    let mut ids = Vec::new();
    let mut cursor: Option<String> = None;
    for _ in 0..100 {
        let mut path = format!("/api/v1/{list}?{query}&limit={limit}");
        if let Some(c) = &cursor {
            path.push_str(&format!("&cursor={c}"));
        }
        let page = server.api_json(&path).await;
        let items = page[list].as_array().expect("items");
        assert!(items.len() <= limit, "{path}");
        ids.extend(items.iter().map(|m| m["id"].as_str().expect("id").to_owned()));
        match page["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => {
                let unique: HashSet<&String> = ids.iter().collect();
                assert_eq!(unique.len(), ids.len(), "{query}: an id came twice");
                return ids;
            }
        }
    }
    panic!("{query}: pagination does not end");
}

/// Ids of the seeded messages `keep` selects, newest first (time, then insertion order).
fn expected(seeded: &Seeded, keep: impl Fn(usize) -> bool) -> Vec<String> {
    let mut picked: Vec<(i64, usize)> = (0..seeded.messages.len())
        .filter(|&i| keep(i))
        .map(|i| (seeded.messages[i].ts_micros, i))
        .collect();
    picked.sort_by(|a, b| b.cmp(a));
    picked.into_iter().map(|(_, i)| seeded.messages[i].id.clone()).collect()
}

fn campaign_of(seeded: &Seeded, brand: &str) -> String {
    seeded
        .campaigns
        .iter()
        .find(|c| c.brand.as_deref() == Some(brand))
        .map(|c| c.id.clone())
        .unwrap_or_else(|| panic!("a {brand} campaign"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn searches_page_through_exactly_the_matching_messages() {
    let (server, seeded) = seeded().await;
    let cookie = server.login().await;
    let csam = campaign_of(&seeded, "CSAM");
    let text = |i: usize| seeded.messages[i].text.to_lowercase();
    let m = |i: usize| &seeded.messages[i];
    let check = |query: Vec<(&'static str, String)>, want: Vec<String>| {
        let server = &server;
        let cookie = &cookie;
        async move {
            let q: Vec<(&str, &str)> = query.iter().map(|(k, v)| (*k, v.as_str())).collect();
            let q = encode(&q);
            assert_eq!(api_ids(server, "messages", &q, 7).await, want, "api {q}");
            assert_eq!(
                common::page_ids(server, cookie, &format!("/messages?{q}")).await,
                want,
                "page {q}"
            );
        }
    };
    let all = expected(&seeded, |_| true);
    assert_eq!(all.len(), 54);
    check(vec![], all).await;
    check(vec![("text", "pakket".into())], expected(&seeded, |i| text(i).contains("pakket"))).await;
    check(vec![("text", "PAKKET 1".into())], expected(&seeded, |i| text(i).contains("pakket 1")))
        .await;
    check(vec![("text", "<script>".into())], expected(&seeded, |i| text(i).contains("<script>")))
        .await;
    let bpost_recipients =
        expected(&seeded, |i| m(i).recipient.as_deref().is_some_and(|r| r.starts_with("+3247000")));
    assert_eq!(bpost_recipients.len(), 30);
    check(vec![("number", "+3247000".into())], bpost_recipients.clone()).await;
    check(vec![("number", "+32 470-00".into())], bpost_recipients).await;
    let on = |d: &'static str| move |i: usize| m(i).domains.iter().any(|x| x == d);
    check(
        vec![("domain", "bpost-be-levering[.]info".into())],
        expected(&seeded, on("bpost-be-levering.info")),
    )
    .await;
    check(
        vec![("domain", "hxxps://CSAM-BE-LOGIN[.]info/a3".into())],
        expected(&seeded, on("csam-be-login.info")),
    )
    .await;
    check(vec![("domain", "be-login.info".into())], Vec::new()).await;
    check(
        vec![("brand", "BPOST".into())],
        expected(&seeded, |i| m(i).brand.as_deref() == Some("bpost")),
    )
    .await;
    check(vec![("verdict", "ham".into())], expected(&seeded, |i| m(i).verdict == "ham")).await;
    check(
        vec![("campaign", csam.clone())],
        expected(&seeded, |i| seeded.assignments[i].campaign.as_deref() == Some(csam.as_str())),
    )
    .await;
    check(
        vec![("country", "nl".into())],
        expected(&seeded, |i| m(i).country.as_deref() == Some("NL")),
    )
    .await;
    check(
        vec![("verdict", "smishing".into()), ("country", "BE".into())],
        expected(&seeded, |i| m(i).verdict == "smishing" && m(i).country.as_deref() == Some("BE")),
    )
    .await;
    // The page counts what matches.
    let (_, html) = server.page(&cookie, "/messages?country=NL").await;
    assert!(html.contains("12 matching"), "{html}");
    for (bad, field) in [
        ("verdict=evil", "verdict"),
        ("country=BEL", "country"),
        ("number=abc", "number"),
        ("cursor=junk", "cursor"),
        ("limit=0", "limit"),
        ("limit=1001", "limit"),
        (&format!("text={}", "x".repeat(300)), "text"),
    ] {
        let response = server.api(&format!("/api/v1/messages?{bad}")).await;
        assert_eq!(response.status(), 400, "{bad}");
        let body: serde_json::Value = response.json().await.expect("json");
        assert!(body["error"]["message"].as_str().unwrap_or("").contains(field), "{body}");
        if !bad.starts_with("limit") {
            assert_eq!(server.page(&cookie, &format!("/messages?{bad}")).await.0, 400, "{bad}");
        }
    }
    // A campaign cursor is not a message cursor.
    let campaigns = server.api_json("/api/v1/campaigns?limit=1").await;
    let cursor = campaigns["next_cursor"].as_str().expect("a second campaign");
    assert_eq!(server.api(&format!("/api/v1/messages?cursor={cursor}")).await.status(), 400);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn message_pages_show_the_analysis_defanged() {
    let (server, seeded) = seeded().await;
    let cookie = server.login().await;
    let bpost = campaign_of(&seeded, "bpost");
    let (status, html) = server.page(&cookie, "/messages/bp-03").await;
    assert_eq!(status, 200);
    for want in [
        "hxxps://bpost-be-levering[.]info/t/3",
        "bpost-be-levering[.]info",
        &format!("href=\"/campaigns/{bpost}\""),
        "router-1",
        "+32470000003",
        "smishing",
        "<ul id=\"reasons\">",
    ] {
        assert!(html.contains(want), "{want} missing: {html}");
    }
    assert!(!html.contains("https://bpost-be-levering.info"), "live URL on the page");
    assert!(!html.contains("event-link"), "an import has no event");
    let api = server.api_json("/api/v1/messages/bp-03").await;
    assert_eq!(api["campaign"], bpost.as_str());
    assert_eq!(api["analysis"]["campaign"], bpost.as_str());
    assert_eq!(api["phase"], "wave");
    assert_eq!(api["analysis"]["urls"][0]["url"], "https://bpost-be-levering.info/t/3");
    assert_eq!(api["record"]["router"], "router-1");
    assert_eq!(api["verdict"], "smishing");
    for (path, status) in
        [("/messages/nope", 404), ("/campaigns/nope", 404), ("/campaigns/..%2F..%2Fetc", 404)]
    {
        assert_eq!(server.page(&cookie, path).await.0, status, "{path}");
    }
    for path in [
        "/api/v1/messages/nope",
        "/api/v1/campaigns/nope",
        "/api/v1/campaigns/nope/export?format=csv",
    ] {
        let response = server.api(path).await;
        assert_eq!(response.status(), 404, "{path}");
        let body: serde_json::Value = response.json().await.expect("json");
        assert_eq!(body["error"]["code"], "not_found");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn campaigns_list_detail_and_exports() {
    let (server, seeded) = seeded().await;
    let cookie = server.login().await;
    let bpost = campaign_of(&seeded, "bpost");
    let csam = campaign_of(&seeded, "CSAM");
    // Most recently active first (CSAM ran a day later), one per page.
    assert_eq!(api_ids(&server, "campaigns", "", 1).await, [csam.clone(), bpost.clone()]);
    assert_eq!(api_ids(&server, "campaigns", "brand=csam", 1).await, std::slice::from_ref(&csam));
    assert_eq!(
        common::page_ids(&server, &cookie, "/campaigns").await,
        [csam.clone(), bpost.clone()]
    );
    assert_eq!(
        common::page_ids(&server, &cookie, "/campaigns?brand=BPOST").await,
        std::slice::from_ref(&bpost)
    );
    let one = server.api_json(&format!("/api/v1/campaigns/{bpost}")).await;
    let summary = seeded.campaigns.iter().find(|c| c.id == bpost).expect("summary");
    assert_eq!(one, serde_json::to_value(summary).expect("json"));

    let (status, html) = server.page(&cookie, &format!("/campaigns/{bpost}")).await;
    assert_eq!(status, 200);
    assert!(summary.validation_messages > 0, "the corpus has validation sends");
    for want in [
        "<svg class=\"chart\" id=\"timeline\"",
        "<rect class=\"wave\"",
        "<rect class=\"validation\"",
        "bpost-be-levering[.]info",
        "hxxps://bpost-be-levering[.]info/t/",
        "+32470999999",
        "router-1",
        &format!("href=\"/messages?campaign={bpost}\""),
        &format!("href=\"/api/v1/campaigns/{bpost}/export?format=stix\""),
        &format!("href=\"/api/v1/campaigns/{bpost}/export?format=misp\""),
        &format!("href=\"/api/v1/campaigns/{bpost}/export?format=csv\""),
    ] {
        assert!(html.contains(want), "{want} missing");
    }
    if let Some(technique) = summary.domains.first().and_then(|d| d.technique.as_deref()) {
        assert!(html.contains(technique), "technique {technique}");
    }
    assert!(!html.contains("https://bpost-be-levering.info"));
    // The campaign's messages link lists them.
    let members =
        expected(&seeded, |i| seeded.assignments[i].campaign.as_deref() == Some(bpost.as_str()));
    assert_eq!(
        common::page_ids(&server, &cookie, &format!("/messages?campaign={bpost}")).await,
        members
    );

    for (format, ext, kind) in [
        ("stix", "stix.json", "json"),
        ("misp", "misp.json", "json"),
        ("csv", "csv", "csv"),
        ("json", "json", "json"),
    ] {
        for (path, name) in [
            (
                format!("/api/v1/campaigns/{bpost}/export?format={format}"),
                format!("smishtrap-{bpost}.{ext}"),
            ),
            (format!("/api/v1/exports?format={format}"), format!("smishtrap-campaigns.{ext}")),
        ] {
            let response = server.api(&path).await;
            assert_eq!(response.status(), 200, "{path}");
            assert_eq!(
                response.headers()["content-disposition"],
                format!("attachment; filename=\"{name}\"").as_str(),
                "{path}"
            );
            let body = response.text().await.expect("body");
            if kind == "csv" {
                assert_eq!(
                    body.lines().next(),
                    Some(smishtrap_export::csv::HEADER.join(",").as_str())
                );
                assert!(body.contains("bpost-be-levering.info"), "{path}: real indicator values");
            } else {
                let doc: serde_json::Value = serde_json::from_str(&body).expect("export is JSON");
                assert!(body.contains("bpost-be-levering.info"), "{path}");
                match format {
                    "stix" => assert_eq!(doc["type"], "bundle"),
                    // one event per campaign, also in the export of all of them
                    "misp" if path.contains("/exports") => {
                        let events = doc["response"].as_array().cloned().unwrap_or_default();
                        assert!(events.len() >= 2, "{path}: {} events", events.len());
                        assert!(events.iter().all(|e| e["Event"].is_object()), "{path}");
                    }
                    "misp" => assert!(doc["Event"].is_object(), "{path}"),
                    _ => assert!(doc["campaigns"].is_array()),
                }
            }
            let all = path.contains("/exports");
            assert_eq!(body.contains("csam-be-login.info"), all, "{path}");
        }
    }
    // Session cookies reach the downloads (the page's buttons), wrong formats do not.
    let response = server
        .client
        .get(server.url(&format!("/api/v1/campaigns/{bpost}/export?format=csv")))
        .header("cookie", &cookie)
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), 200);
    for bad in ["", "format=xml", "format=stix%0d%0aSet-Cookie:x"] {
        assert_eq!(server.api(&format!("/api/v1/exports?{bad}")).await.status(), 400, "{bad}");
    }

    // A stored campaign whose id is not a plain id (the store is data): its page works, but
    // no link is built from it and its download gets a fixed name.
    let hostile_id = "cmp-1\"; filename=evil.exe\r\nSet-Cookie: a=b";
    {
        let mut store = SqliteStore::open(&db_path(server.dir.path())).expect("store");
        let mut rows = store.campaigns(None, None, 100).expect("campaigns");
        let mut evil = summary.clone();
        evil.id = hostile_id.into();
        evil.label = format!("{} <script>alert(1)</script>", evil.label);
        rows.push(seed::campaign_row(&evil));
        store.apply_clustering(&[], &rows, None).expect("store a hostile campaign");
    }
    let encoded: String = form_urlencoded::byte_serialize(hostile_id.as_bytes()).collect();
    let encoded = encoded.replace('+', "%20");
    let response = server.api(&format!("/api/v1/campaigns/{encoded}/export?format=csv")).await;
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers()["content-disposition"],
        "attachment; filename=\"smishtrap-campaign.csv\""
    );
    assert!(response.headers().get("set-cookie").is_none());
    let (status, html) = server.page(&cookie, &format!("/campaigns/{encoded}")).await;
    assert_eq!(status, 200);
    assert!(!html.contains("export?format"), "no link from an unsafe id");
    assert!(!html.contains("<script>alert"));
    assert!(html.contains(&escape("<script>alert(1)</script>")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_message_text_is_escaped_and_defanged_on_every_new_page() {
    let dir = tempfile::tempdir().expect("tempdir");
    // Captured sends: the events and the messages analysed from them.
    let now = Utc::now();
    let events: Vec<_> = PAYLOADS
        .iter()
        .enumerate()
        .map(|(i, p)| hostile_event(10 * (i + 1), p, now - TimeDelta::seconds(60 - i as i64)))
        .collect();
    common::write_events(dir.path(), &events);
    let mut records: Vec<SmsRecord> = events.iter().flat_map(SmsRecord::from_event).collect();
    records.extend(corpus());
    let seeded = seed::seed(dir.path(), &records, "sensor");
    let server = Server::start_in(dir).await;
    server.wait_for_events(events.len() as u64).await;
    let cookie = server.login().await;
    let csam = campaign_of(&seeded, "CSAM");
    let mut pages = vec![
        "/".to_owned(),
        "/events".to_owned(),
        "/messages".to_owned(),
        "/messages?text=script".to_owned(),
        "/campaigns".to_owned(),
        format!("/campaigns/{csam}"),
    ];
    pages.extend(seeded.messages.iter().map(|m| format!("/messages/{}", m.id.replace('#', "%23"))));
    for path in &pages {
        let (status, html) = server.page(&cookie, path).await;
        assert_eq!(status, 200, "{path}");
        for raw in ["<script>alert", "<img src=x", "<svg onload", "onerror=alert(1)>"] {
            assert!(!html.contains(raw), "{path} contains raw {raw:?}");
        }
        assert!(!html.contains("href=\"javascript"), "{path}");
        for live in ["https://secure-login-bank.info", "https://csam-be-login.info"] {
            assert!(!html.contains(live), "{path} shows a live URL {live}");
        }
        for href in html.split("href=\"").skip(1).filter_map(|r| r.split('"').next()) {
            assert!(href.starts_with('/') && !href.starts_with("//"), "{path}: href {href}");
        }
        assert_eq!(html.matches("<script").count(), 1, "{path}");
        assert!(!html.contains("style="), "{path}: inline style");
    }
    // Shown literally, escaped: in the campaign's samples and on each message page.
    let (_, html) = server.page(&cookie, &format!("/campaigns/{csam}")).await;
    assert!(html.contains(&escape(PAYLOADS[0])), "{html}");
    assert!(html.contains("hxxps://csam-be-login[.]info/a"));
    for (e, payload) in events.iter().zip(PAYLOADS) {
        // The first recipient's record of the event (`<event id>#1`).
        let (_, html) = server.page(&cookie, &format!("/messages/{}%231", e.id)).await;
        assert!(html.contains(&escape(payload)), "{payload}: {html}");
        assert!(html.contains("hxxps://secure-login-bank[.]info/x"), "{payload}");
        // A capture links to its event, which opens.
        let link = format!("href=\"/events/{}\"", e.id);
        assert!(html.contains(&link), "{link}");
        assert_eq!(server.page(&cookie, &format!("/events/{}", e.id)).await.0, 200);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_stream_sends_messages_once_clustered() {
    let server = Server::start().await;
    let now = Utc::now();
    server.write(&[event(0, EventKind::HttpRequest, now)]);
    server.wait_for_events(1).await;
    let mut stream = server.api("/api/v1/events/stream").await;
    let mut text = String::new();
    // Analysed but not clustered yet: nothing to show. Two events written after the
    // messages and streamed prove that the follower polled past them.
    let records = corpus();
    let seeded = seed::insert(server.dir.path(), &records, "import");
    for i in 1..=2 {
        server.write(&[event(i, EventKind::HttpRequest, Utc::now())]);
        let want = i;
        let seen = common::frames(&mut stream, &mut text, |f| {
            f.iter().filter(|(k, _)| k == "event").count() >= want
        })
        .await;
        assert!(seen.iter().all(|(k, _)| k == "event"), "{seen:?}");
    }
    // A stream narrowed to other kinds gets no messages.
    let mut narrowed = server.api("/api/v1/events/stream?kind=auth.login").await;
    seed::apply(server.dir.path(), &seeded);
    let seen = common::frames(&mut stream, &mut text, |f| {
        f.iter().filter(|(k, _)| k == "message").count() >= records.len()
    })
    .await;
    let rows: Vec<serde_json::Value> = seen
        .iter()
        .filter(|(k, _)| k == "message")
        .map(|(_, d)| serde_json::from_str(d).expect("row"))
        .collect();
    assert_eq!(rows.len(), records.len());
    for (row, (m, a)) in rows.iter().zip(seeded.messages.iter().zip(&seeded.assignments)) {
        assert_eq!(row["id"], m.id.as_str());
        assert_eq!(row["campaign"].as_str(), a.campaign.as_deref(), "{row}");
        assert_eq!(row["verdict"], m.verdict.as_str());
        let shown = row["text"].as_str().expect("text");
        assert!(!shown.contains("https://"), "{shown}");
    }
    let mut login = event(30, EventKind::AuthLogin, Utc::now());
    login.id = "c3-0".into();
    server.write(&[login]);
    let mut text = String::new();
    let seen = common::frames(&mut narrowed, &mut text, |f| !f.is_empty()).await;
    assert_eq!(seen[0].0, "event", "{seen:?}");
    // The Live page lists them too (newest first), with campaign links.
    let cookie = server.login().await;
    let (_, html) = server.page(&cookie, "/events").await;
    let table = html.split("id=\"live-messages\"").nth(1).expect("analysed messages table");
    assert!(table.contains("data-id=\"ham-09\""));
    assert!(table.contains(&format!("href=\"/campaigns/{}\"", campaign_of(&seeded, "CSAM"))));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn overview_shows_countries_verdicts_campaigns_and_heartbeats() {
    let dir = tempfile::tempdir().expect("tempdir");
    let seeded = seed::seed(dir.path(), &corpus(), "import");
    let now = Utc::now();
    let beat = |name: &str, updated: chrono::DateTime<Utc>, stopped: bool| SensorStatus {
        sensor: name.into(),
        listeners: vec![format!("milesight-ur32l@127.0.0.1:80{}", name.len())],
        started_at: now - TimeDelta::hours(2),
        updated_at: updated,
        events_recorded: 1234,
        events_not_recorded: 7,
        stopped,
        health: smishtrap_event::Health::Ok,
        fleet: None,
    };
    {
        let mut store = SqliteStore::open(&db_path(dir.path())).expect("store");
        for status in [
            beat("alive", now, false),
            beat("gone-quiet", now - TimeDelta::minutes(10), false),
            beat("<b>stopped</b>", now - TimeDelta::minutes(1), true),
        ] {
            store.put_sensor_status(&status).expect("heartbeat");
        }
    }
    let server = Server::start_in(dir).await;
    let sensors = async {
        for _ in 0..200 {
            let s = server.api_json("/api/v1/sensors").await;
            if s["heartbeats"].as_array().is_some_and(|h| h.len() == 3) {
                return s;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        panic!("no heartbeats");
    }
    .await;
    let states: Vec<(&str, &str)> = sensors["heartbeats"]
        .as_array()
        .expect("heartbeats")
        .iter()
        .map(|h| (h["sensor"].as_str().unwrap_or(""), h["state"].as_str().unwrap_or("")))
        .collect();
    assert_eq!(
        states,
        [("<b>stopped</b>", "stopped"), ("alive", "running"), ("gone-quiet", "silent")]
    );
    assert_eq!(sensors["heartbeats"][1]["events_not_recorded"], 7);
    assert_eq!(sensors["heartbeats"][1]["personas"][0], "milesight-ur32l");
    let cookie = server.login().await;
    let (_, html) = server.page(&cookie, "/").await;
    assert!(html.contains("<svg class=\"chart\" id=\"countries\""), "{html}");
    let smishing_be = seeded
        .messages
        .iter()
        .filter(|m| m.verdict == "smishing" && m.country.as_deref() == Some("BE"))
        .count();
    assert!(html.contains(&format!("<title>BE: {smishing_be}</title>")), "{html}");
    assert!(html.contains("<title>NL: 12</title>"));
    let ham = seeded.messages.iter().filter(|m| m.verdict == "ham").count();
    assert!(
        html.contains(&format!(
            "href=\"/messages?verdict=ham\">ham</a></th><td class=\"num\">{ham}</td>"
        )),
        "{html}"
    );
    for c in &seeded.campaigns {
        assert!(html.contains(&format!("href=\"/campaigns/{}\"", c.id)));
    }
    assert!(html.contains("running"));
    assert!(html.contains("silent since"));
    assert!(html.contains(&escape("<b>stopped</b>")));
    assert!(html.contains("stopped since"));
    assert!(html.contains("1234"));
    let flag = html.split("id=\"silent-sensors\"").nth(1).expect("silent sensors flagged");
    let flag = flag.split("</p>").next().unwrap_or_default();
    assert!(flag.contains("gone-quiet") && !flag.contains("alive"), "{flag}");
    assert_eq!(sensors["silent_after_secs"], 15);

    // The Sensors page: one row per heartbeat, names escaped, the silent one flagged.
    let (status, page) = server.page(&cookie, "/sensors").await;
    assert_eq!(status, 200);
    let table = page.split("id=\"fleet-sensors\"").nth(1).expect("sensors table");
    assert!(table.contains(&escape("<b>stopped</b>")) && !table.contains("<b>stopped"));
    assert!(table.contains("<td class=\"state-silent\">silent</td>"), "{table}");
    assert_eq!(table.matches("<td class=\"state-").count(), 3);
    assert!(page.contains("<a href=\"/sensors\">Sensors</a>"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_older_store_is_migrated_at_start() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = db_path(dir.path());
    // A store as smishtrap with schema v1 wrote it.
    {
        let conn = rusqlite::Connection::open(&db).expect("sqlite");
        conn.execute_batch(
            "PRAGMA journal_mode = WAL;
             CREATE TABLE events (
                seq INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, ts INTEGER NOT NULL,
                kind TEXT NOT NULL, sensor TEXT NOT NULL, persona TEXT NOT NULL,
                src_ip TEXT NOT NULL, session TEXT NOT NULL, event TEXT NOT NULL) STRICT;
             CREATE INDEX events_ts ON events (ts);
             CREATE INDEX events_kind_ts ON events (kind, ts);
             CREATE INDEX events_src_ip_ts ON events (src_ip, ts);
             CREATE INDEX events_session_ts ON events (session, ts);
             PRAGMA user_version = 1;",
        )
        .expect("v1 schema");
        let e = event(1, EventKind::SmsSend, Utc::now());
        conn.execute(
            "INSERT INTO events (id, ts, kind, sensor, persona, src_ip, session, event) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            rusqlite::params![
                e.id,
                e.ts.timestamp_micros(),
                e.kind.as_str(),
                e.sensor,
                e.persona,
                e.src_ip.to_string(),
                e.session,
                serde_json::to_string(&e).expect("json"),
            ],
        )
        .expect("v1 event");
    }
    assert!(
        matches!(
            SqliteStore::open_read_only(&db),
            Err(smishtrap_store::StoreError::OlderSchema { .. })
        ),
        "the fixture is an older store"
    );
    let server = Server::start_in(dir).await;
    server.wait_for_events(1).await;
    assert_eq!(server.api_json("/api/v1/events/c0-1").await["id"], "c0-1");
    let messages = server.api_json("/api/v1/messages").await;
    assert_eq!(messages["messages"], serde_json::json!([]));
    assert!(SqliteStore::open_read_only(&db).is_ok());
    // No store at all still reads as empty, and is not created by the console.
    let empty = Server::start().await;
    assert_eq!(empty.api_json("/api/v1/campaigns").await["campaigns"], serde_json::json!([]));
    assert_eq!(empty.api_json("/api/v1/messages").await["messages"], serde_json::json!([]));
    assert!(!db_path(empty.dir.path()).exists());
}
