//! Starting headless Debian Chromium for the browser tests, shared by `console_browser.rs` and
//! `fingerprint_webui.rs`: the process, its DevTools websocket and its throw-away profile, and
//! one page driven over the DevTools protocol (CDP).
#![allow(dead_code, unreachable_pub, reason = "test helpers, each test target uses what it needs")]

use std::io::{BufRead, BufReader};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::{Value, json};
use tungstenite::{Message, WebSocket};

pub const CHROMIUM: &str = "/usr/bin/chromium";

/// A running headless Chromium and its DevTools connection (the browser endpoint).
#[derive(Debug)]
pub struct Devtools {
    pub child: Child,
    pub ws: WebSocket<TcpStream>,
    pub profile: tempfile::TempDir,
}

/// Starts Chromium on loopback DevTools with a fresh profile and no background networking;
/// `None` (with a message) when Chromium is not installed (`.ci/run` installs it).
pub fn launch() -> Option<Devtools> {
    if !Path::new(CHROMIUM).exists() {
        #[allow(clippy::print_stderr, reason = "the skip notice is the point")]
        {
            eprintln!(
                "SKIPPED browser test: {CHROMIUM} not found (Debian: apt-get install -y chromium)"
            );
        }
        return None;
    }
    let profile = tempfile::tempdir().expect("profile dir");
    let mut child = Command::new(CHROMIUM)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-dev-shm-usage",
            "--remote-debugging-address=127.0.0.1",
            "--remote-debugging-port=0",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .arg("about:blank")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn chromium");
    let stderr = child.stderr.take().expect("stderr");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if let Some(url) = line.strip_prefix("DevTools listening on ") {
                let _ = tx.send(url.trim().to_owned());
            }
        }
    });
    let Ok(ws_url) = rx.recv_timeout(Duration::from_secs(60)) else {
        let _ = child.kill();
        panic!("chromium did not announce its DevTools endpoint");
    };
    let addr = ws_url
        .strip_prefix("ws://")
        .and_then(|rest| rest.split('/').next())
        .expect("ws address")
        .to_owned();
    let stream = TcpStream::connect(&addr).expect("connect devtools");
    stream.set_read_timeout(Some(Duration::from_secs(60))).expect("timeout");
    let (ws, _) = tungstenite::client(ws_url.as_str(), stream).expect("websocket handshake");
    Some(Devtools { child, ws, profile })
}

/// One blank page of a headless Chromium, driven over CDP (a flattened session); Chromium is
/// killed on drop.
#[derive(Debug)]
pub struct Page {
    devtools: Devtools,
    session: String,
    next_id: u64,
}

impl Page {
    /// Launches Chromium, attaches to a new blank page and enables `domains` (`Page`,
    /// `Runtime`, …); `None` (with a message) when Chromium is not installed.
    pub fn open(domains: &[&str]) -> Option<Page> {
        let mut page = Page { devtools: launch()?, session: String::new(), next_id: 0 };
        let target = page.call("Target.createTarget", json!({"url": "about:blank"}));
        let target_id = target["targetId"].as_str().expect("target").to_owned();
        let attached =
            page.call("Target.attachToTarget", json!({"targetId": target_id, "flatten": true}));
        page.session = attached["sessionId"].as_str().expect("session").to_owned();
        for domain in domains {
            page.call(&format!("{domain}.enable"), json!({}));
        }
        Some(page)
    }

    /// Sends one command (to the page once attached) and returns its whole reply (`result` or
    /// `error`); `event` sees every event that arrives meanwhile.
    pub fn send(&mut self, method: &str, params: Value, mut event: impl FnMut(&Value)) -> Value {
        self.next_id += 1;
        let id = self.next_id;
        let mut message = json!({"id": id, "method": method, "params": params});
        if !self.session.is_empty() {
            message["sessionId"] = json!(self.session);
        }
        self.devtools.ws.send(Message::text(message.to_string())).expect("send cdp");
        loop {
            let Message::Text(text) = self.devtools.ws.read().expect("read cdp") else { continue };
            let value: Value = serde_json::from_str(text.as_str()).expect("cdp json");
            if value["id"].as_u64() == Some(id) {
                return value;
            }
            event(&value);
        }
    }

    /// Sends one command and returns its result; an error fails the test.
    pub fn call(&mut self, method: &str, params: Value) -> Value {
        let reply = self.send(method, params, |_| {});
        assert!(reply.get("error").is_none(), "{method} failed: {reply}");
        reply["result"].clone()
    }
}

impl Drop for Page {
    fn drop(&mut self) {
        let _ = self.devtools.child.kill();
        let _ = self.devtools.child.wait();
    }
}
