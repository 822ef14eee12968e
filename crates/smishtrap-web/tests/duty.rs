//! The console of the analyst on duty through the real HTTP server: login by POST form and
//! expiring sessions, the Overview's active campaigns and block list, the campaign page's
//! summary, URL groups, wave zooms and validation sends, verdicts on live events, and the
//! Exports page.

mod common;

use std::time::Duration;

use chrono::{TimeDelta, Utc};
use common::seed::{self, Seeded};
use common::{Server, TOKEN, hostile_event};
use smishtrap_event::SmsRecord;
use smishtrap_web::{ConsoleConfig, ConsoleLimits, Token};

/// The test corpus moved so that its last message is `ago` before now.
fn recent_corpus(ago: TimeDelta) -> Vec<SmsRecord> {
    let mut records = common::corpus();
    let last =
        records.iter().filter_map(|r| seed::micros(r.ts.as_deref())).max().expect("timestamps");
    let shift = Utc::now().timestamp_micros() - ago.num_microseconds().unwrap_or(0) - last;
    for r in &mut records {
        let moved = seed::micros(r.ts.as_deref()).map(|t| t + shift);
        r.ts = moved
            .and_then(chrono::DateTime::from_timestamp_micros)
            .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true));
    }
    records
}

async fn seeded(records: &[SmsRecord]) -> (Server, Seeded) {
    let dir = tempfile::tempdir().expect("tempdir");
    let seeded = seed::seed(dir.path(), records, "import");
    (Server::start_in(dir).await, seeded)
}

fn campaign_of(seeded: &Seeded, brand: &str) -> String {
    seeded
        .campaigns
        .iter()
        .find(|c| c.brand.as_deref() == Some(brand))
        .map(|c| c.id.clone())
        .unwrap_or_else(|| panic!("a {brand} campaign"))
}

/// The text between `<tag ... id="id"` and the matching close of its first `</tag>`.
fn element<'a>(html: &'a str, tag: &str, id: &str) -> &'a str {
    let open = format!("id=\"{id}\"");
    let start = html.find(&open).unwrap_or_else(|| panic!("no #{id} in {html}"));
    let rest = &html[start..];
    let end = rest.find(&format!("</{tag}>")).unwrap_or(rest.len());
    &rest[..end]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_posts_the_token_and_never_keeps_it_in_a_url() {
    let server = Server::start().await;
    // The form sends the token in the body, not the query string.
    let response = server.get("/login?next=/events").await;
    assert_eq!(response.status(), 200);
    let html = response.text().await.expect("body");
    assert!(html.contains("<form method=\"post\" action=\"/login\""), "{html}");
    assert!(!html.contains("method=\"get\""), "{html}");
    assert!(html.contains("href=\"/static/console.css\""), "the login page is styled");
    // The stylesheet it needs answers without a session.
    assert_eq!(server.get("/static/console.css").await.status(), 200);

    let post = |body: String| {
        server
            .client
            .post(server.url("/login"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body)
            .send()
    };
    let response = post(format!("token={TOKEN}&next=%2Fevents")).await.expect("post");
    assert_eq!(response.status(), 303);
    assert_eq!(response.headers()["location"], "/events");
    let cookie = response.headers()["set-cookie"].to_str().expect("cookie").to_owned();
    let session = cookie.split(';').next().expect("pair").to_owned();
    assert_eq!(server.page(&session, "/events").await.0, 200);

    let response = post("token=wrong-token-0123456789&next=%2F".into()).await.expect("post");
    assert_eq!(response.status(), 401);
    assert!(response.headers().get("set-cookie").is_none());
    let response = post(format!("token={TOKEN}&next=%2F%2Fevil.example")).await.expect("post");
    assert_eq!(response.headers()["location"], "/", "only local redirects");

    // The first-start URL still logs in, and its redirect leaves the token behind.
    let response = server.get(&format!("/login?token={TOKEN}&next=/events")).await;
    assert_eq!(response.status(), 303);
    let location = response.headers()["location"].to_str().expect("location");
    assert_eq!(location, "/events");
    assert!(!location.contains(TOKEN));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_end_after_their_idle_time() {
    let dir = tempfile::tempdir().expect("tempdir");
    let token = Token::parse(TOKEN, "test").expect("token");
    let mut config = ConsoleConfig::new(dir.path(), token);
    config.session_idle = Duration::from_millis(1500);
    config.limits = ConsoleLimits::default();
    let server = Server::start_config(dir, config).await;
    let cookie = server.login().await;
    for _ in 0..4 {
        tokio::time::sleep(Duration::from_millis(500)).await;
        assert_eq!(server.page(&cookie, "/").await.0, 200, "a used session stays");
    }
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let (status, _) = server.page(&cookie, "/").await;
    assert_eq!(status, 303, "an idle session has ended");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn overview_shows_active_campaigns_and_what_to_block() {
    let (server, seeded) = seeded(&recent_corpus(TimeDelta::hours(3))).await;
    let cookie = server.login().await;
    let (status, html) = server.page(&cookie, "/").await;
    assert_eq!(status, 200);
    let active = element(&html, "table", "active-campaigns");
    // Only the CSAM wave ran in the last day (bpost ran a day earlier).
    let csam = campaign_of(&seeded, "CSAM");
    let bpost = campaign_of(&seeded, "bpost");
    assert!(active.contains(&format!("data-id=\"{csam}\"")), "{active}");
    assert!(!active.contains(&format!("data-id=\"{bpost}\"")), "{active}");
    assert!(active.contains("<svg class=\"spark\""), "a sparkline per campaign");
    assert!(active.contains("12 sends in 24 hours"), "{active}");
    // Block now: the active campaign's blockable indicators, defanged, copyable.
    let list = element(&html, "textarea", "block-list");
    assert!(list.contains("csam-be-login[.]info"), "{list}");
    assert!(list.contains("hxxps://csam-be-login[.]info/a"), "{list}");
    assert!(!list.contains("bpost"), "only active campaigns: {list}");
    assert!(!html.contains("https://csam-be-login.info"), "a live URL on the Overview");
    assert!(html.contains("data-copy=\"block-list\""));
    // The list is what the exports mark for blocking, nothing more.
    let summary = seeded.campaigns.iter().find(|c| c.id == csam).expect("summary");
    let blockable = smishtrap_web::duty::block_items(
        std::slice::from_ref(summary),
        &smishtrap_export::Producer::default(),
    );
    assert_eq!(list.lines().count(), blockable.len());
    assert!(html.contains("data-refresh=\""), "the page refreshes itself");
    // The CSAM messages carry hostile payloads: the Overview and the campaign page show them
    // only escaped.
    for path in ["/".to_owned(), format!("/campaigns/{csam}"), "/exports".to_owned()] {
        let (status, html) = server.page(&cookie, &path).await;
        assert_eq!(status, 200, "{path}");
        for raw in ["<script>alert", "<img src=x", "<svg onload", "onerror=alert(1)>"] {
            assert!(!html.contains(raw), "{path} contains raw {raw:?}");
        }
        assert!(!html.contains("https://csam-be-login.info"), "{path} shows a live URL");
        assert_eq!(html.matches("<script").count(), 1, "{path}");
        assert!(!html.contains("style="), "{path}: inline style");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn overview_without_recent_campaigns_says_so() {
    let (server, _) = seeded(&common::corpus()).await;
    let cookie = server.login().await;
    let (_, html) = server.page(&cookie, "/").await;
    assert!(html.contains("id=\"no-active\""), "old campaigns are not active");
    assert!(html.contains("id=\"no-block\""));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn campaign_page_groups_urls_zooms_waves_and_lists_validation_sends() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut seeded = seed::insert(dir.path(), &common::corpus(), "import");
    let bpost = campaign_of(&seeded, "bpost");
    // A summary with validation sends but no operator numbers (what issue 14 saw): the page
    // must not say both "1 validation send" and "no validation sends".
    for c in &mut seeded.campaigns {
        if c.id == bpost {
            c.operator_numbers.clear();
        }
    }
    seed::apply(dir.path(), &seeded);
    let server = Server::start_in(dir).await;
    let cookie = server.login().await;
    let (status, html) = server.page(&cookie, &format!("/campaigns/{bpost}")).await;
    assert_eq!(status, 200);
    let summary = seeded.campaigns.iter().find(|c| c.id == bpost).expect("summary");
    assert!(summary.validation_messages > 0);
    // No contradiction with the count of validation sends.
    assert!(!html.contains("No validation sends seen"), "contradicts the count");

    // Summary first: the cards come before any table.
    let cards = html.find("id=\"campaign-summary\"").expect("summary cards");
    assert!(cards < html.find("<table").expect("a table"));
    assert!(
        html.find("id=\"samples\"").expect("samples")
            < html.find("id=\"url-groups\"").expect("groups")
    );

    // 30 URLs of one shape are one group.
    let groups = element(&html, "table", "url-groups");
    assert_eq!(groups.matches("<tr>").count(), 2, "a header and one group: {groups}");
    assert!(groups.contains("bpost-be-levering[.]info") && groups.contains("/t/{n}"), "{groups}");
    assert!(groups.contains("<td class=\"num\">30</td>"), "{groups}");

    // Each wave gets its own zoomed chart.
    for w in &summary.waves {
        assert!(html.contains(&format!("id=\"wave-{}\"", w.number)), "wave {}", w.number);
    }

    // Validation sends with their source.
    let sends = element(&html, "table", "validation-sends");
    assert_eq!(sends.matches("<tr>").count(), summary.validation_messages + 1, "{sends}");
    assert!(sends.contains("203[.]0[.]113[.]7") && sends.contains("router-1"), "{sends}");

    // Samples in time order.
    let samples = element(&html, "table", "samples");
    let times: Vec<&str> = samples
        .split("<td class=\"nowrap\">")
        .skip(1)
        .step_by(2)
        .filter_map(|t| t.split('<').next())
        .collect();
    let mut sorted = times.clone();
    sorted.sort_unstable();
    assert!(!times.is_empty());
    assert_eq!(times, sorted, "samples in time order");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_events_carry_the_verdict_and_link_to_their_message_and_back() {
    let dir = tempfile::tempdir().expect("tempdir");
    let now = Utc::now();
    let event = hostile_event(1, "<b>x</b>", now - TimeDelta::seconds(5));
    common::write_events(dir.path(), std::slice::from_ref(&event));
    let record = seed::record(
        &event.id,
        &(now - TimeDelta::seconds(5)).to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        "+32470000000",
        "sensor-a/milesight-ur32l",
        "CSAM: uw account wordt vandaag geblokkeerd. Bevestig via https://csam-be-login.info/a1",
    );
    seed::seed(dir.path(), &[record], "sensor");
    let server = Server::start_in(dir).await;
    server.wait_for_events(1).await;
    let cookie = server.login().await;
    let mut html = String::new();
    for _ in 0..200 {
        html = server.page(&cookie, "/events").await.1;
        if html.contains("class=\"verdict v-smishing\"") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    let events = element(&html, "table", "events");
    assert!(events.contains("<th>verdict</th>"));
    assert!(
        events.contains(&format!(
            "<td class=\"verdict v-smishing\"><a href=\"/messages/{}\">smishing</a></td>",
            event.id
        )),
        "{events}"
    );
    // Event page -> its analysed message; the message page links back.
    let (_, page) = server.page(&cookie, &format!("/events/{}", event.id)).await;
    assert!(page.contains(&format!("href=\"/messages/{}\"", event.id)), "{page}");
    let (_, message) = server.page(&cookie, &format!("/messages/{}", event.id)).await;
    assert!(message.contains(&format!("href=\"/events/{}\"", event.id)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exports_page_offers_every_format_per_campaign_and_for_all() {
    let (server, seeded) = seeded(&common::corpus()).await;
    let cookie = server.login().await;
    let (status, html) = server.page(&cookie, "/exports").await;
    assert_eq!(status, 200);
    let mut links: Vec<String> = Vec::new();
    for format in ["stix", "misp", "csv"] {
        links.push(format!("/api/v1/exports?format={format}"));
        for c in &seeded.campaigns {
            links.push(format!("/api/v1/campaigns/{}/export?format={format}", c.id));
        }
    }
    for link in &links {
        assert!(html.contains(&format!("href=\"{link}\"")), "{link} missing");
        let response = server.client.get(server.url(link)).header("cookie", &cookie).send().await;
        let response = response.expect("download");
        assert_eq!(response.status(), 200, "{link}");
        assert!(
            response.headers()["content-disposition"]
                .to_str()
                .is_ok_and(|d| d.starts_with("attachment"))
        );
    }
}

/// A campaign whose links point at the sensor's own public address (an attacker's test
/// against the honeypot, or a spoofed link): the console never offers it to block once the
/// address is known as the sensor's, while another public address stays blockable.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sensors_own_address_is_never_offered_to_block() {
    let own: std::net::IpAddr = "45.33.32.156".parse().expect("ip");
    let mut records = Vec::new();
    for i in 0..8 {
        records.push(seed::record(
            &format!("own-{i}"),
            &format!("2025-07-22T10:{i:02}:00Z"),
            &format!("+3247100{i:04}"),
            "router-9",
            &format!(
                "bpost: uw pakket {i} wacht. Betaal 1,99 EUR verzendkosten via http://{own}/bpost/{i}"
            ),
        ));
    }
    let records = {
        let mut all = recent_corpus(TimeDelta::hours(3));
        let last = all.iter().filter_map(|r| seed::micros(r.ts.as_deref())).max().expect("ts");
        let first = records.iter().filter_map(|r| seed::micros(r.ts.as_deref())).min().expect("ts");
        for mut r in records {
            let moved = seed::micros(r.ts.as_deref()).map(|t| t - first + last - 3_600_000_000);
            r.ts = moved
                .and_then(chrono::DateTime::from_timestamp_micros)
                .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true));
            all.push(r);
        }
        all
    };
    let block_list = |html: &str| element(html, "textarea", "block-list").to_owned();
    let ip_defanged = "45[.]33[.]32[.]156";

    let (server, _) = seeded(&records).await;
    let cookie = server.login().await;
    let (_, html) = server.page(&cookie, "/").await;
    assert!(block_list(&html).contains(ip_defanged), "a public address is blockable: {html}");

    let dir = tempfile::tempdir().expect("tempdir");
    seed::seed(dir.path(), &records, "import");
    let mut config = ConsoleConfig::new(dir.path(), Token::parse(TOKEN, "test").expect("token"));
    config.producer.hygiene =
        smishtrap_export::indicator::Hygiene::builtin(&[own]).expect("platforms");
    let server = Server::start_config(dir, config).await;
    let cookie = server.login().await;
    let (_, html) = server.page(&cookie, "/").await;
    let list = block_list(&html);
    assert!(!list.contains(ip_defanged), "the sensor's own address offered to block: {list}");
    assert!(list.contains("csam-be-login[.]info"), "other indicators stay: {list}");
}
