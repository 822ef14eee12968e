//! Hostile and odd query parameters through the real server: text searches with NUL, quotes
//! and full-text syntax, repeated or malformed parameters, empty values, and every value the
//! OpenAPI document allows (the document and the server agree; `tests/validators/
//! schemathesis.sh` checks the same thing with generated requests).

mod common;

use common::seed::{self, record};
use common::{Server, TOKEN, corpus};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use smishtrap_event::EventKind;

fn openapi() -> serde_json::Value {
    serde_json::from_str(smishtrap_web::api::OPENAPI_JSON).expect("openapi.json is JSON")
}

fn encode(value: &str) -> String {
    form_urlencoded::byte_serialize(value.as_bytes()).collect()
}

/// Texts with the bytes a full-text query cannot take as they are.
const ODD_TEXTS: [&str; 3] = [
    "pay a\0b now: https://odd-bank.info/x",
    "say \"hi\" NEAR(x) col:y * ^ to +32470000000",
    "ÉCOLE x\0yz\0end",
];

/// A console over the test corpus plus messages with [`ODD_TEXTS`] (ids `odd-0`...).
fn seeded_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut records = corpus();
    for (i, text) in ODD_TEXTS.iter().enumerate() {
        records.push(record(
            &format!("odd-{i}"),
            &format!("2025-07-24T10:0{i}:00Z"),
            "+32470111111",
            "router-9",
            text,
        ));
    }
    seed::seed(dir.path(), &records, "import");
    dir
}

/// Ids of the messages `GET /api/v1/messages?text=` finds (one page of up to 1,000).
async fn search(server: &Server, text: &str) -> (u16, serde_json::Value) {
    let response = server.api(&format!("/api/v1/messages?limit=1000&text={}", encode(text))).await;
    let status = response.status().as_u16();
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    assert_eq!(content_type, "application/json", "{text:?}");
    (status, response.json().await.expect("json"))
}

fn ids(page: &serde_json::Value) -> Vec<String> {
    page["messages"]
        .as_array()
        .map(|list| list.iter().filter_map(|m| m["id"].as_str().map(str::to_owned)).collect())
        .unwrap_or_default()
}

#[track_caller]
fn check_found(found: (u16, serde_json::Value), expect: &[&str]) {
    assert_eq!(found.0, 200, "{}", found.1);
    assert_eq!(ids(&found.1), expect);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn text_search_takes_nul_quotes_and_full_text_syntax() {
    let server = Server::start_in(seeded_dir()).await;
    check_found(search(&server, "a\0b").await, &["odd-0"]);
    check_found(search(&server, "\0").await, &["odd-2", "odd-0"]);
    check_found(search(&server, "x\0yz\0end").await, &["odd-2"]);
    check_found(search(&server, "\"hi\"").await, &["odd-1"]);
    check_found(search(&server, "NEAR(x) col:y * ^").await, &["odd-1"]);
    check_found(search(&server, "école").await, &["odd-2"]);
    check_found(search(&server, "\" OR \"").await, &[]);
    let (status, body) = search(&server, &"x".repeat(257)).await;
    assert_eq!(status, 400);
    assert_eq!(body["error"]["code"], "bad_request");
    // The Messages page searches the same way.
    let cookie = server.login().await;
    let (status, html) = server.page(&cookie, "/messages?text=a%00b").await;
    assert_eq!(status, 200);
    assert!(html.contains("data-id=\"odd-0\""), "{html}");
}

/// Any text is answered (200, or 400 past 256 characters), never with a server error, and
/// a message holding it is found.
#[test]
fn any_text_search_answers_and_finds_what_holds_it() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let server = runtime.block_on(Server::start_in(seeded_dir()));
    let texts: Vec<String> =
        corpus().into_iter().map(|r| r.text).chain(ODD_TEXTS.map(String::from)).collect();
    let mut runner = TestRunner::new(Config { cases: 128, ..Config::default() });
    let any_text = "(\\PC|\\x00|\"|\\*|:|\\^|\\(|\\)|\\\\){0,300}";
    runner
        .run(&any_text, |text| {
            let (status, body) = runtime.block_on(search(&server, &text));
            let too_long = text.chars().count() > 256;
            prop_assert_eq!(status, if too_long { 400 } else { 200 }, "{:?}: {}", text, body);
            Ok(())
        })
        .expect("any text");
    // Substrings of stored texts, cut anywhere (NULs, quotes and all).
    let lengths: Vec<usize> = texts.iter().map(|t| t.chars().count()).collect();
    let substring = (0..texts.len()).prop_flat_map(move |i| {
        let n = lengths[i];
        (Just(i), 0..n, 1..=n.min(40))
    });
    runner
        .run(&substring, |(i, start, len)| {
            let needle: String = texts[i].chars().skip(start).take(len).collect();
            let (status, body) = runtime.block_on(search(&server, &needle));
            prop_assert_eq!(status, 200, "{:?}: {}", needle, body);
            let found = ids(&body);
            let holders = texts.iter().filter(|t| t.contains(&needle)).count();
            // A blank needle filters nothing; any other finds at least every exact holder.
            prop_assert!(found.len() >= holders.min(1000), "{:?} found {:?}", needle, found);
            prop_assert!(!found.is_empty(), "{:?} found nothing", needle);
            Ok(())
        })
        .expect("substrings");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_queries_get_the_json_error_shape() {
    let server = Server::start().await;
    for path in [
        "/api/v1/messages?text=a&text=b",
        "/api/v1/messages?limit=abc",
        "/api/v1/messages?limit=-1",
        "/api/v1/campaigns?brand=a&brand=b",
        "/api/v1/events?since=a&since=b",
        "/api/v1/events?limit=1.5",
        "/api/v1/events/stream?kind=a&kind=b",
        "/api/v1/exports?format=csv&format=csv",
        "/api/v1/campaigns/x/export?format=csv&format=json",
        // values the document's patterns refuse
        "/api/v1/messages?number=%2B",
        "/api/v1/messages?number=()",
        "/api/v1/messages?number=%2032%09",
        "/api/v1/messages?verdict=SPAM",
        "/api/v1/messages?verdict=%20spam",
        "/api/v1/messages?country=%20be",
        "/api/v1/messages?cursor=m1.",
        "/api/v1/events?since=%202025-07-22T10:00:00Z",
        "/api/v1/events?src_ip=%20127.0.0.1",
        "/api/v1/events?kind=%09sms.send",
        "/api/v1/exports?format=CSV",
    ] {
        let response = server.api(path).await;
        assert_eq!(response.status(), 400, "{path}");
        assert_eq!(response.headers()["content-type"], "application/json", "{path}");
        let body: serde_json::Value = response.json().await.expect("json");
        assert_eq!(body["error"]["code"], "bad_request", "{path}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_page_queries_get_the_error_page() {
    let server = Server::start().await;
    let cookie = server.login().await;
    for path in [
        "/messages?text=a&text=b",
        "/campaigns?brand=a&brand=b",
        "/events?since=a&since=b",
        "/history?limit=x",
    ] {
        let response = server
            .client
            .get(server.url(path))
            .header("cookie", &cookie)
            .send()
            .await
            .expect("get");
        assert_eq!(response.status(), 400, "{path}");
        assert!(response.headers().contains_key("content-security-policy"), "{path}");
        let html = response.text().await.expect("body");
        assert!(html.contains("<!DOCTYPE html>") || html.contains("<html"), "{path}: {html}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn empty_values_mean_no_filter() {
    let server = Server::start_in(seeded_dir()).await;
    let all = server.api_json("/api/v1/messages?limit=1000").await;
    let empty = server
        .api_json("/api/v1/messages?limit=1000&text=&number=&domain=&brand=&verdict=&campaign=&country=&cursor=")
        .await;
    assert_eq!(ids(&all), ids(&empty));
    assert!(ids(&all).len() > 50);
    for path in [
        "/api/v1/events?kind=&sensor=&src_ip=&since=&cursor=",
        "/api/v1/events?kind=%20sms.send%20,,%20auth.login",
        "/api/v1/campaigns?brand=&cursor=",
        "/api/v1/messages?number=%20(%2B32)%20470-",
        "/api/v1/messages?country=be",
    ] {
        assert_eq!(server.api(path).await.status(), 200, "{path}");
    }
}

/// The document's `kind` pattern lists exactly the kinds the server knows.
#[test]
fn the_kind_pattern_lists_every_kind() {
    let doc = openapi();
    let pattern =
        doc["components"]["parameters"]["kind"]["schema"]["pattern"].as_str().expect("a pattern");
    let kinds: Vec<String> =
        EventKind::ALL.iter().map(|k| k.as_str().replace('.', "\\.")).collect();
    let one = kinds.join("|");
    assert_eq!(pattern, format!("^ *({one})? *(, *({one})? *)*$"));
}

/// Every cursor the document's grammar allows is accepted (it may start anywhere), and the
/// cursors the API returns match the grammar.
#[test]
fn documented_cursors_are_accepted() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let server = runtime.block_on(Server::start_in(seeded_dir()));
    let doc = openapi();
    let params = &doc["components"]["parameters"];
    for (param, list) in
        [("cursor", "events"), ("message_cursor", "messages"), ("campaign_cursor", "campaigns")]
    {
        let schema = &params[param]["schema"];
        let pattern = schema["pattern"].as_str().expect("pattern");
        let max = schema["maxLength"].as_u64().expect("maxLength") as usize;
        let inner = pattern
            .strip_prefix("^(")
            .and_then(|p| p.strip_suffix(")?$"))
            .expect("an optional whole");
        let matches = regex::Regex::new(pattern).expect("regex");
        let returned = runtime.block_on(server.api_json(&format!("/api/v1/{list}?limit=1")));
        if list != "events" {
            let next = returned["next_cursor"].as_str().expect("a second page");
            assert!(matches.is_match(next), "{next} vs {pattern}");
        }
        let strategy = proptest::string::string_regex(inner).expect("strategy");
        let mut runner = TestRunner::new(Config { cases: 48, ..Config::default() });
        runner
            .run(&strategy, |cursor| {
                prop_assert!(cursor.len() <= max, "{} longer than {}", cursor, max);
                let response = runtime.block_on(
                    server
                        .client
                        .get(server.url(&format!("/api/v1/{list}?cursor={cursor}")))
                        .bearer_auth(TOKEN)
                        .send(),
                );
                let status = response.map(|r| r.status().as_u16()).unwrap_or(0);
                prop_assert_eq!(status, 200, "{}?cursor={}", list, cursor);
                Ok(())
            })
            .expect(list);
    }
}
