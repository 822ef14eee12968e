//! Detection checks for the web surface (issue 13, tells 4, 6 and 7): what a careful attacker
//! sees through a browser or a script against the real sensor binary, compared with the device.
//!
//! Each test failed against the sensor before the web UI came from persona data (see
//! docs/fingerprint.md, "Web surface"). The browser check needs `/usr/bin/chromium` and skips
//! with a notice without it, like `console_browser.rs`.

#![allow(clippy::unwrap_used, reason = "tests fail loudly")]

mod chromium_support;
mod sensor_support;

use std::path::Path;
use std::time::{Duration, Instant};

use sensor_support::{Sensor, client, decrypt, encrypt, events, leaked_credentials};
use serde_json::{Value, json};

fn start(persona: &str, dir: &Path) -> Sensor {
    Sensor::start_with(dir, &["--listen", "127.0.0.1:0", "--persona", persona], 1)
}

/// POSTs `body` to `/cgi` (with `cookie` if any) and returns the raw reply text.
fn cgi(s: &Sensor, body: &Value, cookie: Option<&str>) -> String {
    let mut req = client().post(s.url("/cgi")).json(body);
    if let Some(c) = cookie {
        req = req.header("cookie", c);
    }
    let resp = req.send().unwrap();
    assert_eq!(resp.status(), 200);
    resp.text().unwrap()
}

fn parsed(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}

fn get_body(core: &str, base: &str) -> Value {
    json!({"id": 7, "execute": 1, "core": core, "function": "get", "values": [{"base": base}]})
}

/// Logs in with the credentials leaked by `httpd.log`, as the CVE-2023-43261 PoC does; returns
/// the raw reply and the `td` cookie.
fn login(s: &Sensor) -> (String, String) {
    let log = client().get(s.url("/lang/log/httpd.log")).send().unwrap().text().unwrap();
    let (user, enc) = leaked_credentials(&log).first().cloned().expect("leaked credentials");
    let password = decrypt(&enc);
    let body = json!({"id": "1", "execute": 1, "core": "user", "function": "login",
        "values": [{"username": user, "password": encrypt(&password)}]});
    let text = cgi(s, &body, None);
    let v = parsed(&text);
    assert_eq!(v["status"], 0, "{text}");
    let td = v["result"][0]["td"].as_str().expect("td").to_owned();
    (text, format!("td={td}"))
}

/// Tell 4: JSON keys come out in the device's order, and list rows carry the device's string
/// `index` tokens (core name + 8 characters), different on every sensor.
#[test]
fn tell4_json_keys_in_device_order_and_index_tokens() {
    let dir = tempfile::tempdir().unwrap();
    let s = start("milesight-ur32l", dir.path());
    let (text, cookie) = login(&s);
    assert!(
        text.contains(
            r#""status":0,"result":[{"ysrole":4,"ystimeout":1800,"ysexpires":1799,"username":""#
        ),
        "login reply keys out of the device's order: {text}"
    );
    let summary = cgi(&s, &get_body("yruo_status", "summary"), Some(&cookie));
    assert!(
        summary.contains(r#""result":[{"get":[{"type":"summary","index":0,"value":{"system":{"model":"UR32L","sn":""#),
        "summary keys out of the device's order: {summary}"
    );
    let cell = cgi(&s, &get_body("yruo_status", "yruo_celluar"), None);
    assert!(cell.contains(r#""value":{"modem":{"modem_status":"Ready","model":""#), "{cell}");
    let inbox = cgi(
        &s,
        &json!({"id": 10, "execute": 1, "core": "yruo_sms", "function": "query_inbox",
            "values": [{"base": "query_inbox", "limit": 10, "start": 0}]}),
        None,
    );
    assert!(inbox.contains(r#""result":[{"timezone":""#), "{inbox}");

    let tokens = |s: &Sensor| -> Vec<String> {
        let v = parsed(&cgi(s, &get_body("yruo_usermanagement", "user_list"), None));
        assert_eq!(v["status"], 0, "{v}");
        let items = v["result"][0]["get"].as_array().cloned().unwrap_or_default();
        assert!(!items.is_empty(), "{v}");
        items.iter().map(|i| i["index"].as_str().unwrap_or_default().to_owned()).collect()
    };
    let first = tokens(&s);
    for t in &first {
        let rest = t.strip_prefix("yruo_usermanagement").unwrap_or_default();
        assert!(
            rest.len() == 8 && rest.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit()),
            "index {t:?} is not the core name and an 8-character token"
        );
    }
    assert_eq!(tokens(&s), first, "a row keeps its index");
    let other_dir = tempfile::tempdir().unwrap();
    let other = start("milesight-ur32l", other_dir.path());
    assert_ne!(tokens(&other), first, "two sensors share index tokens");
}

/// The `src` of every `<script>` of a page.
fn scripts(html: &str) -> Vec<String> {
    html.split("<script")
        .skip(1)
        .filter_map(|tag| {
            let tag = &tag[..tag.find('>')?];
            let start = tag.find("src=\"")? + 5;
            Some(tag[start..][..tag[start..].find('"')?].to_owned())
        })
        .collect()
}

/// Tell 6: the login page loads the crypto library its script calls, and the page a successful
/// login lands on exists.
#[test]
fn tell6_login_page_loads_its_crypto_and_lands_on_a_dashboard() {
    let dir = tempfile::tempdir().unwrap();
    let s = start("milesight-ur32l", dir.path());
    let c = client();
    let page = c.get(s.url("/login.html")).send().unwrap().text().unwrap();
    assert!(page.contains("rt_title"), "the Shodan fingerprint is gone: {page}");
    let mut defines = false;
    let mut calls = false;
    let mut target = None;
    for src in scripts(&page) {
        let resp = c.get(s.url(&src)).send().unwrap();
        assert_eq!(resp.status(), 200, "{src}");
        let ct = resp.headers()["content-type"].to_str().unwrap().to_owned();
        assert!(ct.contains("javascript"), "{src}: {ct}");
        let js = resp.text().unwrap();
        if js.contains("var CryptoJS = CryptoJS ||") {
            defines = true;
            assert!(js.contains("The MIT License") && js.contains("Jeff Mott"), "licence header");
        }
        calls |= js.contains("CryptoJS.AES.encrypt");
        if let Some(i) = js.find("window.location.href=\"") {
            let rest = &js[i + 22..];
            target = rest.find('"').map(|end| rest[..end].to_owned());
        }
    }
    assert!(calls, "the login script does not encrypt with CryptoJS");
    assert!(defines, "the login page calls CryptoJS but never loads it: {page}");
    let target = target.expect("the login script's landing page");
    let (_, cookie) = login(&s);
    let dash = c.get(s.url(&target)).header("cookie", cookie).send().unwrap();
    assert_eq!(dash.status(), 200, "a successful login lands on a missing {target}");
    let html = dash.text().unwrap();
    assert!(html.contains("UR32L") && html.contains("system_info"), "{html}");
}

/// Tell 6: the UI follows model and firmware: URSALINK branding only on the old 32.x
/// firmware, Milesight on 35.x and 41.x; the model shows on each.
#[test]
fn tell6_branding_follows_model_and_firmware() {
    for (persona, model, brand, not) in [
        ("milesight-ur32l", "UR32L", "URSALINK", "Milesight"),
        ("milesight-ur35", "UR35", "Milesight", "URSALINK"),
        ("milesight-ur41", "UR41", "Milesight", "URSALINK"),
        ("milesight-ur5x", "UR55", "Milesight", "URSALINK"),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let s = start(persona, dir.path());
        for path in ["/login.html", "/index.html"] {
            let resp = client().get(s.url(path)).send().unwrap();
            assert_eq!(resp.status(), 200, "{persona} {path}");
            let html = resp.text().unwrap();
            assert!(html.contains(brand) && html.contains(model), "{persona} {path}: {html}");
            assert!(!html.contains(not), "{persona} {path} shows {not}: {html}");
        }
    }
}

/// The `(core, base)` of every `get` a script sends.
fn gets_in(js: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for part in js.split("\"core\":\"").skip(1) {
        let Some(end) = part.find('"') else { continue };
        let core = &part[..end];
        let rest = &part[end..];
        if !rest.starts_with("\",\"function\":\"get\"") {
            continue;
        }
        let Some(b) = rest.find("\"base\":\"") else { continue };
        let base = &rest[b + 8..];
        out.push((core.to_owned(), base[..base.find('"').unwrap_or(0)].to_owned()));
    }
    out
}

/// Tell 7: every core the web UI reads (its own script, and the status, system, network and
/// cellular cores of the firmware family) answers from data, not `status:-1`.
#[test]
fn tell7_every_core_the_ui_uses_answers() {
    let dir = tempfile::tempdir().unwrap();
    let s = start("milesight-ur35", dir.path());
    let ui = client().get(s.url("/js/index.js")).send().unwrap();
    assert_eq!(ui.status(), 200, "the dashboard script is missing");
    let mut wanted = gets_in(&ui.text().unwrap());
    assert!(wanted.len() >= 2, "{wanted:?}");
    for (core, base) in [
        ("yruo_status", "summary"),
        ("yruo_celluar", "yruo_celluar"),
        ("yruo_cell", "yruo_celluar"),
        ("yruo_cell", "cell"),
        ("yruo_system", "time"),
        ("yruo_system", "general"),
        ("yruo_lan", "lan"),
        ("yruo_wan", "wan"),
        ("yruo_dhcpserver", "dhcp_server"),
        ("yruo_bridge", "bridge"),
        ("yruo_firewall_security", "security"),
        ("yruo_firewall_port_mapping", "port_mapping"),
        ("yruo_usermanagement", "security"),
        ("yruo_usermanagement", "user_list"),
        ("yruo_usermanagement", "api_user_list"),
        ("yruo_httpapi", "httpapi"),
        ("yruo_phone", "sms"),
        ("yruo_log", "system_log"),
        ("yruo_upgrade", "upgrade"),
    ] {
        wanted.push((core.to_owned(), base.to_owned()));
    }
    for (core, base) in wanted {
        let text = cgi(&s, &get_body(&core, &base), None);
        let v = parsed(&text);
        assert_eq!(v["status"], 0, "{core}/{base}: {text}");
        assert_eq!(v["result"][0]["grey"], 0, "{core}/{base}: {text}");
        assert!(v["result"][0]["get"].is_array(), "{core}/{base}: {text}");
    }
    // the framework's answer to a core it does not have stays -1
    let v = parsed(&cgi(&s, &get_body("yruo_nope", "nope"), None));
    assert_eq!(v["status"], -1);
}

/// Tell 7: `set` and `apply` are answered like the device, change nothing, and are recorded
/// as `config.change`; nothing from the request is reflected.
#[test]
fn tell7_set_and_apply_answered_and_recorded() {
    let dir = tempfile::tempdir().unwrap();
    let s = start("milesight-ur32l", dir.path());
    let before = parsed(&cgi(&s, &get_body("yruo_system", "general"), None));
    let set = json!({"id": 11, "execute": 1, "core": "yruo_system", "function": "set",
        "values": [{"base": "general", "index": 0, "value": {"hostname": "pwned"}}]});
    let v = parsed(&cgi(&s, &set, None));
    assert_eq!((v["status"].clone(), v["result"].clone()), (json!(0), json!([{}])), "{v}");
    let apply =
        json!({"id": 12, "execute": 1, "core": "yruo_apply", "function": "apply", "values": []});
    let v = parsed(&cgi(&s, &apply, None));
    assert_eq!(
        (v["status"].clone(), v["result"].clone()),
        (json!(0), json!([{"reboot": 0}])),
        "{v}"
    );
    // `set` on the apply core is refused, as on the device
    let wrong =
        json!({"id": 13, "core": "yruo_apply", "function": "set", "values": [{"base": "apply"}]});
    assert_eq!(parsed(&cgi(&s, &wrong, None))["status"], -1);
    // a hostile core is neither echoed nor tagged
    let hostile = json!({"id": 14, "core": "<script>x</script>", "function": "set",
        "values": [{"base": "<img src=x onerror=alert(1)>"}]});
    let text = cgi(&s, &hostile, None);
    assert!(!text.contains('<') && parsed(&text)["status"] == -1, "{text}");
    // Another client sees the device unchanged (the writer's own view: see
    // `a_session_reads_back_what_it_set`).
    let other = cgi_from("127.0.0.9", &s, &get_body("yruo_system", "general"));
    assert_eq!(parsed(&other)["result"], before["result"], "a set changed the device");
    drop(s.stop());
    let changes: Vec<Value> =
        events(dir.path()).into_iter().filter(|e| e["kind"] == "config.change").collect();
    let tags: Vec<Value> = changes.iter().map(|e| e["tags"].clone()).collect();
    assert_eq!(
        tags,
        [
            json!(["config:set", "core:yruo_system"]),
            json!(["config:apply", "core:yruo_apply"]),
            json!(["config:set", "core:yruo_apply"]),
            json!(["config:set"]),
        ],
        "{changes:?}"
    );
}

/// Like [`cgi`], from source address `ip` (127.0.0.0/8).
fn cgi_from(ip: &str, s: &Sensor, body: &Value) -> String {
    let c = reqwest::blocking::Client::builder()
        .no_proxy()
        .local_address(ip.parse::<std::net::IpAddr>().unwrap())
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap();
    c.post(s.url("/cgi")).json(body).send().unwrap().text().unwrap()
}

/// A `set` followed by a `get` from the same attacker shows the value written, as on a device
/// that stored it; another client still sees the device's own value, nothing real changes,
/// the write is recorded as `config.change`, and what is kept is bounded (fields the base
/// has, scalars of at most 128 bytes).
#[test]
fn a_session_reads_back_what_it_set() {
    let dir = tempfile::tempdir().unwrap();
    let s = start("milesight-ur32l", dir.path());
    let hostname = |text: &str| parsed(text)["result"][0]["get"][0]["value"]["hostname"].clone();
    let before = hostname(&cgi_from("127.0.0.2", &s, &get_body("yruo_system", "general")));
    assert!(before.is_string(), "{before}");
    let long = "x".repeat(500);
    let set = json!({"id": 11, "execute": 1, "core": "yruo_system", "function": "set",
        "values": [{"base": "general", "index": 0,
            "value": {"hostname": "pwned", "no_such_field": "kept?"}},
            {"base": "time", "index": 0, "value": {"timezone": long}}]});
    assert_eq!(parsed(&cgi_from("127.0.0.2", &s, &set))["status"], 0);
    let mine = cgi_from("127.0.0.2", &s, &get_body("yruo_system", "general"));
    assert_eq!(hostname(&mine), json!("pwned"), "the writer reads the old value: {mine}");
    assert!(!mine.contains("no_such_field"), "{mine}");
    let time = cgi_from("127.0.0.2", &s, &get_body("yruo_system", "time"));
    let zone = parsed(&time)["result"][0]["get"][0]["value"]["timezone"].clone();
    assert_eq!(zone, json!("x".repeat(128)), "a written string is kept bounded");
    let theirs = cgi_from("127.0.0.3", &s, &get_body("yruo_system", "general"));
    assert_eq!(hostname(&theirs), before, "another client sees the write: {theirs}");
    // A logged-in session keeps its own view, apart from its address's.
    let (_, cookie) = login(&s);
    let set = json!({"id": 12, "core": "yruo_system", "function": "set",
        "values": [{"base": "general", "index": 0, "value": {"hostname": "session-host"}}]});
    cgi(&s, &set, Some(&cookie));
    let with_session = cgi(&s, &get_body("yruo_system", "general"), Some(&cookie));
    assert_eq!(hostname(&with_session), json!("session-host"), "{with_session}");
    drop(s.stop());
    let changes = events(dir.path()).into_iter().filter(|e| e["kind"] == "config.change").count();
    assert_eq!(changes, 2, "each set recorded");
}

/// Browsers fetch `/favicon.ico` on a first visit: the device's icon (the brand of its UI),
/// with the validators of a static file, never a 404.
#[test]
fn favicon_is_served_like_the_devices_other_files() {
    let mut icons = Vec::new();
    for persona in ["milesight-ur32l", "milesight-ur35"] {
        let dir = tempfile::tempdir().unwrap();
        let s = start(persona, dir.path());
        let r = client().get(s.url("/favicon.ico")).send().unwrap();
        assert_eq!(r.status(), 200, "{persona}");
        let header = |n: &str| r.headers().get(n).map(|v| v.to_str().unwrap().to_owned());
        assert_eq!(header("content-type").as_deref(), Some("image/x-icon"), "{persona}");
        assert!(header("etag").is_some() && header("last-modified").is_some(), "{persona}");
        let body = r.bytes().unwrap();
        assert!(body.starts_with(&[0, 0, 1, 0]), "{persona}: not an ICO file");
        icons.push(body);
        drop(s.stop());
    }
    assert_ne!(icons[0], icons[1], "the URSALINK and Milesight UIs share an icon");
}

/// Tell 7: `/cgi-bin/file-export` answers like the device: an OpenSSL `Salted__` backup with a
/// session (a fresh salt each time), the failure text without one.
#[test]
fn tell7_file_export_like_the_device() {
    let dir = tempfile::tempdir().unwrap();
    let s = start("milesight-ur32l", dir.path());
    let export = |session: &str| {
        let form = format!(
            "sessionid={session}&type=backup&file=cfgbackup&filename=type%3Dbackup%26file%3Dcfgbackup"
        );
        let resp = client()
            .post(s.url("/cgi-bin/file-export"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(form)
            .send()
            .unwrap();
        assert_eq!(resp.status(), 200);
        resp.bytes().unwrap().to_vec()
    };
    let refused = export("0123456789abcdef0123456789abcdef");
    assert!(refused.starts_with(b"Export"), "{:?}", String::from_utf8_lossy(&refused));
    let (_, cookie) = login(&s);
    let td = cookie.trim_start_matches("td=");
    let a = export(td);
    let b = export(td);
    assert!(a.starts_with(b"Salted__"), "{:?}", &a[..a.len().min(32)]);
    assert_eq!((a.len() - 16) % 16, 0, "not whole AES blocks: {}", a.len());
    assert!((9000..=15_100).contains(&a.len()), "{}", a.len());
    assert_eq!(a.len(), b.len(), "one device, one backup size");
    assert_ne!(a[8..16], b[8..16], "the salt repeats");
}

/// A headless Chromium with one page, driven over CDP; keeps the page's errors.
struct Browser {
    page: chromium_support::Page,
    errors: Vec<String>,
}

impl Browser {
    fn launch() -> Option<Browser> {
        let page = chromium_support::Page::open(&["Page", "Runtime", "Log"])?;
        Some(Browser { page, errors: Vec::new() })
    }

    /// Sends one command and waits for its result, keeping the page's errors seen meanwhile.
    fn call(&mut self, method: &str, params: Value) -> Value {
        let errors = &mut self.errors;
        let reply = self.page.send(method, params, |value| match value["method"].as_str() {
            Some("Runtime.exceptionThrown") => errors.push(value["params"].to_string()),
            Some("Runtime.consoleAPICalled") if value["params"]["type"] == "error" => {
                errors.push(value["params"].to_string());
            }
            // The favicon is not part of the persona data (binary); everything else is.
            Some("Log.entryAdded")
                if value["params"]["entry"]["level"] == "error"
                    && !value["params"]["entry"]["url"]
                        .as_str()
                        .is_some_and(|u| u.ends_with("/favicon.ico")) =>
            {
                errors.push(value["params"].to_string());
            }
            _ => {}
        });
        // An evaluation the page's own navigation cut short (a login or logout that leaves the
        // page) has no result; the callers poll again.
        let navigated = reply["error"]["message"].as_str().is_some_and(|m| {
            m.contains("navigated or closed") || m.contains("context was destroyed")
        });
        if method == "Runtime.evaluate" && navigated {
            return Value::Null;
        }
        assert!(reply.get("error").is_none(), "{method} failed: {reply}");
        reply["result"].clone()
    }

    fn eval(&mut self, expression: &str) -> Value {
        let result = self.call(
            "Runtime.evaluate",
            json!({"expression": expression, "returnByValue": true, "awaitPromise": true}),
        );
        assert!(result.get("exceptionDetails").is_none(), "{expression}: {result}");
        result["result"]["value"].clone()
    }

    fn wait_for(&mut self, expression: &str, what: &str) {
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(30) {
            if self.eval(expression) == json!(true) {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let html = self.eval("document.documentElement ? document.documentElement.outerHTML : ''");
        panic!("{what} never happened; errors {:?}; page:\n{html}", self.errors);
    }
}

/// Tell 6 in a real browser, on the old (URSALINK) and the Milesight UI: the login page's
/// scripts run without errors, the leaked credentials log in through the page's own form, the
/// dashboard shows the device, and logging out returns to the login page.
#[test]
fn tell6_browser_login_reaches_the_dashboard() {
    let Some(mut browser) = Browser::launch() else { return };
    for (persona, model) in [("milesight-ur32l", "UR32L"), ("milesight-ur35", "UR35")] {
        let dir = tempfile::tempdir().unwrap();
        let s = start(persona, dir.path());
        let log = client().get(s.url("/lang/log/httpd.log")).send().unwrap().text().unwrap();
        let (user, enc) = leaked_credentials(&log).first().cloned().expect("leaked credentials");
        let password = decrypt(&enc);
        let general = parsed(&cgi(&s, &get_body("yruo_system", "general"), None));
        let serial = general["result"][0]["get"][0]["value"]["sn"].as_str().unwrap().to_owned();

        browser.call("Page.navigate", json!({"url": s.url("/login.html")}));
        browser.wait_for(
            "location.pathname === '/login.html' && document.readyState === 'complete' && !!document.getElementById('login_btn')",
            "the login page loading",
        );
        let fill = format!(
            "document.getElementById('username').value = {}; document.getElementById('password').value = {}; document.getElementById('login_btn').click(); true",
            serde_json::to_string(&user).unwrap(),
            serde_json::to_string(&password).unwrap()
        );
        browser.eval(&fill);
        browser.wait_for(
            "location.pathname === '/index.html' && document.querySelectorAll('#system_info tr').length > 0 && document.querySelectorAll('#cell_info tr').length > 0",
            "login through the page and the dashboard filling in",
        );
        let shown = browser.eval("document.getElementById('content').textContent");
        let shown = shown.as_str().unwrap_or_default();
        assert!(shown.contains(&serial) && shown.contains(model), "{persona}: {shown}");
        let user_shown = browser.eval("document.getElementById('login_user').textContent");
        assert_eq!(user_shown, json!(user), "{persona}");
        browser.eval("do_logout(); true");
        browser.wait_for(
            "location.pathname === '/login.html' && document.readyState === 'complete'",
            "logout back to the login page",
        );
        // the session is over: the dashboard sends the browser back to the login page
        browser.call("Page.navigate", json!({"url": s.url("/index.html")}));
        browser.wait_for(
            "location.pathname === '/login.html' && document.readyState === 'complete'",
            "the dashboard refusing a logged-out browser",
        );
        assert!(browser.errors.is_empty(), "{persona}: the page had errors: {:?}", browser.errors);
    }
}
