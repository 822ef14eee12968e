//! End to end in headless Chromium: a real sensor captures hostile requests, the real console
//! shows them live over SSE, and the browser proves that nothing executed and every payload is
//! shown literally.
//!
//! Needs `/usr/bin/chromium` (Debian package `chromium`); without it the test prints why and
//! skips. Chromium is driven over the Chrome DevTools Protocol with a minimal client below (a
//! WebSocket and four methods): the CDP crates pull in far more than these tests need.

mod chromium_support;
mod console_support;
mod sensor_support;

use std::path::Path;
use std::time::{Duration, Instant};

use console_support::ConsoleProcess;
use sensor_support::Sensor;
use serde_json::{Value, json};

const TOKEN: &str = "browser-test-token-0123456789";

/// Payloads that would set `window.__xss` or the title if they ever ran.
const PAYLOADS: [&str; 4] = [
    "<script>window.__xss='script';document.title='pwned'</script>",
    "\"><img src=x onerror=\"window.__xss='img'\">",
    "javascript:window.__xss='js-url'",
    "<svg onload=\"window.__xss='svg'\">",
];

/// A headless Chromium with one page, driven over CDP.
struct Browser(chromium_support::Page);

impl Browser {
    /// `None` (with a message) when Chromium is not installed.
    fn launch() -> Option<Browser> {
        chromium_support::Page::open(&["Page", "Runtime"]).map(Browser)
    }

    /// Sends one command to the page and waits for its result.
    fn call(&mut self, method: &str, params: Value) -> Value {
        self.0.call(method, params)
    }

    /// Evaluates `expression` in the page and returns its JSON value.
    fn eval(&mut self, expression: &str) -> Value {
        let result = self.call(
            "Runtime.evaluate",
            json!({"expression": expression, "returnByValue": true, "awaitPromise": true}),
        );
        assert!(result.get("exceptionDetails").is_none(), "{expression}: {result}");
        result["result"]["value"].clone()
    }

    fn navigate(&mut self, url: &str) {
        self.call("Page.navigate", json!({"url": url}));
    }

    /// Polls `expression` until it is `true` (bounded; a failure names what never happened).
    fn wait_for(&mut self, expression: &str, what: &str) -> Duration {
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(30) {
            if self.eval(expression) == json!(true) {
                return start.elapsed();
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let html = self.eval("document.documentElement ? document.documentElement.outerHTML : ''");
        panic!("{what} never happened; page:\n{html}");
    }

    /// Like [`Self::wait_for`] with a longer bound (a page that refreshes itself).
    fn wait_long(&mut self, expression: &str, what: &str, limit: Duration) -> Duration {
        let start = Instant::now();
        while start.elapsed() < limit {
            if self.eval(expression) == json!(true) {
                return start.elapsed();
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let html = self.eval("document.documentElement ? document.documentElement.outerHTML : ''");
        panic!("{what} never happened; page:\n{html}");
    }

    /// Sets the viewport (CSS pixels) as a desktop or phone screen.
    fn viewport(&mut self, width: u32, height: u32) {
        self.call(
            "Emulation.setDeviceMetricsOverride",
            json!({"width": width, "height": height, "deviceScaleFactor": 1, "mobile": width < 600}),
        );
    }

    /// A PNG of the viewport, written to `dir/name`.
    fn screenshot(&mut self, dir: &Path, name: &str) {
        let shot = self.call("Page.captureScreenshot", json!({"format": "png"}));
        let data = shot["data"].as_str().expect("png data");
        let png = base64::Engine::decode(&base64::engine::general_purpose::STANDARD, data)
            .expect("base64 png");
        assert!(png.starts_with(b"\x89PNG"), "a PNG");
        std::fs::write(dir.join(name), png).expect("write screenshot");
    }

    /// No cell that must stay whole (IPs, times, numbers, verdicts) wraps onto two lines.
    fn assert_cells_unbroken(&mut self, page: &str) {
        let broken = self.eval(
            "Array.from(document.querySelectorAll('td.ip, td.nowrap, td.num, td.verdict'))
                .filter(td => { const r = document.createRange(); r.selectNodeContents(td);
                    const tops = new Set(Array.from(r.getClientRects()).map(x => Math.round(x.top)));
                    return tops.size > 1; })
                .map(td => td.textContent)",
        );
        assert_eq!(broken, json!([]), "{page}: cells broken over lines");
    }

    /// Nothing injected ever ran or became an element.
    fn assert_inert(&mut self, title: &str, page: &str) {
        let checks = self.eval(
            "JSON.stringify({
                xss: window.__xss === undefined ? null : String(window.__xss),
                title: document.title,
                scripts: Array.from(document.scripts).map(s => s.getAttribute('src')),
                imgs: document.querySelectorAll('img').length,
                svgHandlers: document.querySelectorAll('[onload],[onerror],[onclick]').length,
                jsLinks: Array.from(document.links).filter(a => !a.href.startsWith(location.origin + '/')).map(a => a.href)
            })",
        );
        let checks: Value = serde_json::from_str(checks.as_str().expect("json")).expect("checks");
        assert_eq!(checks["xss"], Value::Null, "{page}: a payload ran: {checks}");
        assert_eq!(checks["title"], title, "{page}: {checks}");
        assert_eq!(checks["scripts"], json!(["/static/console.js"]), "{page}: {checks}");
        assert_eq!(checks["imgs"], 0, "{page}: {checks}");
        assert_eq!(checks["svgHandlers"], 0, "{page}: {checks}");
        assert_eq!(checks["jsLinks"], json!([]), "{page}: {checks}");
    }
}

fn browser_title(browser: &mut Browser) -> String {
    browser.eval("document.title").as_str().unwrap_or_default().to_owned()
}

/// A JavaScript string literal for `s`.
fn js(s: &str) -> String {
    serde_json::to_string(s).expect("string")
}

#[test]
fn live_send_appears_and_hostile_text_stays_inert_in_chromium() {
    let Some(mut browser) = Browser::launch() else { return };
    let dir = tempfile::tempdir().expect("tempdir");
    let sensor = Sensor::start(dir.path());
    let console = ConsoleProcess::start(dir.path(), &["--token", TOKEN]);
    let http = sensor_support::client();

    // A first request so the store exists before the page loads.
    let status = http.get(sensor.url("/")).send().expect("warm-up").status();
    assert!(status.is_success());

    browser.navigate(&console.url(&format!("/login?token={TOKEN}&next=/events")));
    browser.wait_for(
        "location.pathname === '/events' && document.readyState === 'complete'",
        "login and redirect to /events",
    );
    browser.wait_for(
        "(document.getElementById('stream-status') || {}).textContent.startsWith('Live')",
        "the SSE stream opening",
    );
    browser.assert_inert("Live events · smishtrap", "/events before");

    // Hostile sends through the real sensor: SMS text, User-Agent, and raw request paths.
    let sent = Instant::now();
    for (i, payload) in PAYLOADS.iter().enumerate() {
        let body = json!({"id": format!("{i}"), "execute": 1, "function": "send_sms", "values": [{
            "base": "api_sms",
            "phone_number": "+32470000001",
            "content": format!("{payload} Uw pakket wacht: https://secure-login-bank.info/x"),
        }]});
        let response = http
            .post(sensor.url("/cgi"))
            .header("user-agent", *payload)
            .json(&body)
            .send()
            .expect("send_sms");
        assert!(response.status().is_success());
    }
    // Paths: `<` and `"` never pass the sensor's HTTP parser, so the path payload is a
    // `javascript:` one made of characters a request target may carry.
    let raw_path = "/cgi/javascript:window.__xss='path';alert(1)//";
    let request = format!("GET {raw_path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    sensor_support::raw(sensor.addr(), request.as_bytes(), Duration::from_secs(2));

    // Every SMS payload shows up live, literally, in a row the script added.
    let mut waits = Vec::new();
    for payload in PAYLOADS {
        let found = format!(
            "Array.from(document.querySelectorAll('#events tbody tr.new td.summary'))
                .some(td => td.textContent.includes({}))",
            js(payload)
        );
        waits.push(browser.wait_for(&found, &format!("live row with {payload}")));
    }
    #[allow(clippy::print_stderr, reason = "a figure for the report, not an assertion")]
    {
        eprintln!(
            "figure: captured send to visible live row: {:?} (all {} sends: {:?})",
            waits.first().map(|w| *w + Duration::ZERO),
            PAYLOADS.len(),
            sent.elapsed()
        );
    }
    browser.wait_for(
        &format!(
            "Array.from(document.querySelectorAll('#events tbody tr.new td'))
                .some(td => td.textContent === {})",
            js(&format!("GET {raw_path}"))
        ),
        "the live row of the hostile path",
    );
    let defanged = browser.eval(
        "Array.from(document.querySelectorAll('#events tbody td.summary'))
            .every(td => !td.textContent.includes('https://secure-login-bank.info'))",
    );
    assert_eq!(defanged, json!(true), "live rows show URLs defanged");
    browser.assert_inert("Live events · smishtrap", "/events live");

    // Open the detail of the first hostile send by clicking its row's link.
    let clicked = browser.eval(&format!(
        "(() => {{ const td = Array.from(document.querySelectorAll('#events tbody tr td.summary'))
            .find(td => td.textContent.includes({}));
          if (!td) return false; td.parentElement.querySelector('a').click(); return true; }})()",
        js(PAYLOADS[0])
    ));
    assert_eq!(clicked, json!(true));
    browser.wait_for(
        "location.pathname.startsWith('/events/') && !!document.getElementById('sms-text')",
        "the event detail page",
    );
    let text = browser.eval("document.getElementById('sms-text').textContent");
    let text = text.as_str().expect("sms text");
    assert!(text.starts_with(PAYLOADS[0]), "{text}");
    assert!(text.contains("hxxps://secure-login-bank[.]info/x"), "{text}");
    let headers = browser.eval("document.getElementById('headers').textContent");
    assert!(headers.as_str().expect("headers").contains(PAYLOADS[0]), "{headers}");
    let title = browser.eval("document.title");
    let title = title.as_str().expect("title").to_owned();
    assert!(title.starts_with("Event "), "{title}");
    browser.assert_inert(&title, "event detail");

    // Every hostile event's detail page, and the overview.
    let ids = browser.eval(
        "fetch('/api/v1/events?limit=100').then(r => r.json()).then(p => p.events.map(e => e.id))",
    );
    let ids: Vec<String> =
        ids.as_array().expect("ids").iter().filter_map(|v| v.as_str().map(str::to_owned)).collect();
    assert!(ids.len() >= 6, "{ids:?}");
    for id in &ids {
        browser.navigate(&console.url(&format!("/events/{id}")));
        browser.wait_for(
            &format!(
                "location.pathname === {} && document.readyState === 'complete'",
                js(&format!("/events/{id}"))
            ),
            "a detail page",
        );
        let title = browser.eval("document.title");
        let title = title.as_str().expect("title").to_owned();
        browser.assert_inert(&title, id);
    }
    // The path's detail page shows it literally in the request line.
    browser.navigate(&console.url("/events"));
    browser.wait_for(
        "location.pathname === '/events' && document.readyState === 'complete'",
        "the events page",
    );
    let clicked = browser.eval(&format!(
        "(() => {{ const td = Array.from(document.querySelectorAll('#events tbody tr td'))
            .find(td => td.textContent === {});
          if (!td) return false; td.parentElement.querySelector('a').click(); return true; }})()",
        js(&format!("GET {raw_path}"))
    ));
    assert_eq!(clicked, json!(true));
    browser.wait_for("!!document.getElementById('request-line')", "the path event's page");
    let line = browser.eval("document.getElementById('request-line').textContent");
    assert!(line.as_str().expect("line").starts_with(&format!("GET {raw_path} ")), "{line}");
    let title = browser_title(&mut browser);
    browser.assert_inert(&title, "path event");
    browser.navigate(&console.url("/"));
    browser.wait_for("location.pathname === '/' && document.readyState === 'complete'", "overview");
    browser.assert_inert("Overview · smishtrap", "overview");

    // Log out with the real form (a state change: CSRF token, Origin, Sec-Fetch-Site).
    browser.eval("document.querySelector('form.logout button').click(), true");
    browser.wait_for(
        "location.pathname === '/login' && document.readyState === 'complete'",
        "logout landing on the login page",
    );
    browser.navigate(&console.url("/events"));
    browser.wait_for(
        "location.pathname === '/login' && location.search === '?next=/events'",
        "the session to be gone after logout",
    );

    drop(browser);
    assert_eq!(console.stop(), Some(0));
    sensor.stop();
}

/// `smishtrap run` end to end: a send captured by the sensor shows up live on the console,
/// analysed (verdict, brand) and with its campaign; the campaign page opens from that row and
/// shows the lure's domain defanged with its technique; hostile text stays inert everywhere.
#[test]
fn run_shows_a_captured_send_live_with_its_campaign_in_chromium() {
    let Some(mut browser) = Browser::launch() else { return };
    let dir = tempfile::tempdir().expect("tempdir");
    let run = ConsoleProcess::run(dir.path(), &["--console-token", TOKEN]);
    let sensor = run.sensor.expect("sensor address");
    let http = sensor_support::client();

    browser.navigate(&run.url(&format!("/login?token={TOKEN}&next=/events")));
    browser.wait_for(
        "location.pathname === '/events' && document.readyState === 'complete'",
        "login and redirect to /events",
    );
    browser.wait_for(
        "(document.getElementById('stream-status') || {}).textContent.startsWith('Live')",
        "the SSE stream opening",
    );

    let lure = "CSAM: uw digitale identiteit verloopt vandaag. Bevestig uw gegevens via \
                https://login.csam-be.info/verify om blokkering te voorkomen";
    let sent = Instant::now();
    for (i, payload) in PAYLOADS.iter().enumerate() {
        let body = json!({"id": format!("{i}"), "execute": 1, "function": "send_sms", "values": [{
            "base": "api_sms",
            "phone_number": format!("+3247012345{i}"),
            "content": format!("{payload} {lure}"),
        }]});
        let response =
            http.post(format!("http://{sensor}/cgi")).json(&body).send().expect("send_sms");
        assert!(response.status().is_success());
    }
    let shown = browser.wait_for(
        "Array.from(document.querySelectorAll('#live-messages tbody tr.new'))
            .filter(tr => tr.textContent.includes('smishing') && tr.textContent.includes('CSAM')
                && tr.querySelector('a[href^=\"/campaigns/\"]')).length >= 4",
        "the analysed sends with their campaign on the live page",
    );
    #[allow(clippy::print_stderr, reason = "a figure for the report, not an assertion")]
    {
        eprintln!(
            "figure: 4 captured sends to live rows with verdict and campaign: {shown:?} \
             (after the first send: {:?})",
            sent.elapsed()
        );
    }
    let defanged = browser.eval(
        "Array.from(document.querySelectorAll('#live-messages tbody td.summary'))
            .every(td => !td.textContent.includes('https://login.csam-be.info'))",
    );
    assert_eq!(defanged, json!(true), "live messages never show the live link");
    browser.assert_inert("Live events · smishtrap", "/events with analysed messages");

    // Open the campaign from the live row.
    let clicked = browser.eval(
        "(() => { const a = document.querySelector('#live-messages tbody tr.new a[href^=\"/campaigns/\"]');
          if (!a) return false; a.click(); return true; })()",
    );
    assert_eq!(clicked, json!(true));
    browser.wait_for(
        "location.pathname.startsWith('/campaigns/') && !!document.getElementById('domains')",
        "the campaign page",
    );
    let domains = browser.eval("document.getElementById('domains').textContent");
    let domains = domains.as_str().expect("domains");
    assert!(domains.contains("csam-be[.]info") && !domains.contains("csam-be.info"), "{domains}");
    assert!(domains.contains("CSAM") && domains.contains("combosquatting"), "{domains}");
    let urls = browser.eval("document.getElementById('urls').textContent");
    assert!(
        urls.as_str()
            .is_some_and(|u| u.contains("hxxps://") && u.contains("csam-be[.]info/verify")),
        "{urls}"
    );
    let samples = browser.eval("document.getElementById('samples').textContent");
    let samples = samples.as_str().expect("samples");
    assert!(PAYLOADS.iter().any(|p| samples.contains(p)), "samples show text literally: {samples}");
    let title = browser.eval("document.title");
    let title = title.as_str().expect("title").to_owned();
    assert!(title.starts_with("Campaign cmp-"), "{title}");
    browser.assert_inert(&title, "campaign page");

    // The same messages through the search page, by text.
    browser.navigate(&run.url("/messages?text=%3Cscript%3E"));
    browser.wait_for(
        "location.pathname === '/messages' && document.readyState === 'complete'",
        "the messages page",
    );
    let found =
        browser.eval("document.body.textContent.includes(\"<script>window.__xss='script'\")");
    assert_eq!(found, json!(true), "search finds the hostile text and shows it literally");
    browser.assert_inert("Messages · smishtrap", "messages search");
    assert_eq!(run.stop(), Some(0));
}

/// The analyst's walk in Chromium: log in with the form (the token never in a URL), the
/// Overview picks up a campaign that starts while it is open (its own refresh), block list
/// copyable and defanged, campaign page summary first, exports page downloads; at desktop
/// (1400x1000) and phone (390x844) sizes, no cell breaks an IP, time or number. Screenshots go
/// to `$SMISHTRAP_SCREENSHOTS` when set (the README's come from there), else a temporary dir.
#[test]
fn analyst_walks_overview_campaign_and_exports_in_chromium() {
    let Some(mut browser) = Browser::launch() else { return };
    let dir = tempfile::tempdir().expect("tempdir");
    let shots_tmp = tempfile::tempdir().expect("shots");
    let shots = std::env::var_os("SMISHTRAP_SCREENSHOTS")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| shots_tmp.path().to_owned());
    std::fs::create_dir_all(&shots).expect("screenshot dir");
    let run = ConsoleProcess::run(dir.path(), &["--console-token", TOKEN]);
    let sensor = run.sensor.expect("sensor address");
    let http = sensor_support::client();
    browser.viewport(1400, 1000);

    // The styled login form, filled and submitted as a person would.
    browser.navigate(&run.url("/login"));
    browser.wait_for("!!document.getElementById('login-form')", "the login form");
    browser.screenshot(&shots, "login.png");
    browser.eval(&format!(
        "document.getElementById('token').value = {}; document.getElementById('login-form').submit(), true",
        js(TOKEN)
    ));
    browser.wait_for(
        "location.pathname === '/' && document.readyState === 'complete' && !!document.getElementById('overview-live')",
        "login landing on the Overview",
    );
    let href = browser.eval("location.href");
    assert!(!href.as_str().unwrap_or_default().contains(TOKEN), "token in the URL: {href}");
    let history = browser.eval("history.length");
    assert!(history.as_u64().is_some(), "{history}");
    assert_eq!(browser.eval("!!document.getElementById('no-active')"), json!(true));

    // A campaign starts while the Overview is open: a validation send, then a wave.
    let lure = "CSAM: uw digitale identiteit verloopt vandaag. Bevestig uw gegevens via \
                https://login.csam-be.info/verify/";
    let mut sends = vec![("+32470999999".to_owned(), "test".to_owned())];
    for i in 0..8 {
        sends.push((format!("+3247012345{i}"), format!("{lure}{i}")));
    }
    for (i, (to, text)) in sends.iter().enumerate() {
        let body = json!({"id": format!("{i}"), "execute": 1, "function": "send_sms", "values": [{
            "base": "api_sms", "phone_number": to, "content": text,
        }]});
        let response =
            http.post(format!("http://{sensor}/cgi")).json(&body).send().expect("send_sms");
        assert!(response.status().is_success());
    }
    let took = browser.wait_long(
        "!!document.querySelector('#active-campaigns svg.spark') && !!document.getElementById('block-list')",
        "the Overview showing the new campaign without a reload",
        Duration::from_secs(90),
    );
    #[allow(clippy::print_stderr, reason = "a figure for the report, not an assertion")]
    {
        eprintln!("figure: sends to active campaign on the open Overview (own refresh): {took:?}");
    }
    let list = browser.eval("document.getElementById('block-list').value");
    let list = list.as_str().expect("block list").to_owned();
    assert!(list.contains("csam-be[.]info"), "{list}");
    assert!(!list.contains("https://"), "block list is defanged: {list}");
    browser.eval("document.querySelector('button[data-copy=\"block-list\"]').click(), true");
    browser.wait_for(
        "document.querySelector('.copy-status').textContent.length > 0",
        "the copy button to answer",
    );
    browser.assert_inert("Overview · smishtrap", "overview");
    browser.assert_cells_unbroken("overview");
    browser.screenshot(&shots, "overview.png");

    // Overview -> campaign.
    browser
        .eval("document.querySelector('#active-campaigns a[href^=\"/campaigns/\"]').click(), true");
    browser.wait_for(
        "location.pathname.startsWith('/campaigns/') && !!document.getElementById('campaign-summary')",
        "the campaign page",
    );
    let groups = browser.eval("document.getElementById('url-groups').textContent");
    let groups = groups.as_str().expect("groups");
    assert!(groups.contains("csam-be[.]info") && groups.contains("/verify/{n}"), "{groups}");
    let cards = browser.eval("document.getElementById('campaign-summary').textContent");
    assert!(cards.as_str().is_some_and(|c| c.contains("CSAM") && c.contains("waves")), "{cards}");
    assert_eq!(
        browser.eval("document.querySelectorAll('.zoom svg.wave-zoom').length > 0"),
        json!(true)
    );
    let title = browser_title(&mut browser);
    browser.assert_inert(&title, "campaign");
    browser.assert_cells_unbroken("campaign");
    browser.screenshot(&shots, "campaign.png");
    let campaign_path = browser.eval("location.pathname");
    let campaign_path = campaign_path.as_str().expect("path").to_owned();

    // Campaign -> exports: every download answers.
    browser.eval("document.querySelector('nav a[href=\"/exports\"]').click(), true");
    browser.wait_for(
        "location.pathname === '/exports' && !!document.getElementById('export-campaigns')",
        "the exports page",
    );
    let statuses = browser.eval(
        "Promise.all(Array.from(document.querySelectorAll('a.export')).map(a =>
            fetch(a.href).then(r => r.status + ' ' + (r.headers.get('content-disposition') || '')))) ",
    );
    let statuses = statuses.as_array().expect("statuses");
    assert!(statuses.len() >= 7, "{statuses:?}");
    for s in statuses {
        let s = s.as_str().expect("status");
        assert!(s.starts_with("200 attachment"), "{s}");
    }
    browser.assert_inert("Exports · smishtrap", "exports");
    browser.screenshot(&shots, "exports.png");

    // The same pages on a phone.
    browser.viewport(390, 844);
    for (path, name) in [
        ("/", "overview-phone.png"),
        (campaign_path.as_str(), "campaign-phone.png"),
        ("/events", ""),
    ] {
        browser.navigate(&run.url(path));
        browser.wait_for(
            &format!("location.pathname === {} && document.readyState === 'complete'", js(path)),
            path,
        );
        browser.assert_cells_unbroken(&format!("{path} on a phone"));
        let wide = browser.eval("document.documentElement.scrollWidth <= window.innerWidth + 1");
        assert_eq!(wide, json!(true), "{path}: the page itself scrolls sideways on a phone");
        if !name.is_empty() {
            browser.screenshot(&shots, name);
        }
    }
    // The live events show verdicts in colour, linked to the analysed message.
    browser.viewport(1400, 1000);
    browser.navigate(&run.url("/events"));
    browser.wait_for(
        "!!document.querySelector('#events td.verdict.v-smishing a[href^=\"/messages/\"]')",
        "a verdict on a live event row",
    );
    browser.screenshot(&shots, "events.png");
    drop(browser);
    assert_eq!(run.stop(), Some(0));
}
