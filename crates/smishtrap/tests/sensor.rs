//! The sensor end to end, through the real binary: an attacker's session, stored events field
//! by field, identity stability, durability under `kill -9`, the `personas` command.

#![allow(clippy::unwrap_used, reason = "tests fail loudly")]

#[path = "sensor_support.rs"]
mod support;

use std::collections::HashSet;

use serde_json::{Value, json};
use support::{Sensor, client, decrypt, encrypt, events, leaked_credentials};

fn cgi(c: &reqwest::blocking::Client, s: &Sensor, body: &Value) -> Value {
    let r = c.post(s.url("/cgi")).json(body).send().unwrap();
    assert_eq!(r.status(), 200);
    r.json().unwrap()
}

/// The identity fields every `/cgi` answer carries.
fn assert_envelope(v: &Value, model: &str) {
    for key in ["id", "model", "pn", "oem", "rtver", "status", "result"] {
        assert!(v.get(key).is_some(), "{key} missing in {v}");
    }
    assert_eq!(v["model"], model);
    assert_eq!(v["pn"].as_str().unwrap().len(), 24);
}

#[test]
fn an_attacker_session_end_to_end() {
    let dir = tempfile::tempdir().unwrap();
    let s = Sensor::start(dir.path());
    let c = client();

    // Reconnaissance: the login page and the scanner fingerprints.
    let page = c.get(s.url("/")).send().unwrap();
    assert_eq!(page.status(), 200);
    assert!(page.headers().get("server").is_none(), "the persona sends no Server header");
    let html = page.text().unwrap();
    for needle in ["rt_title", "URSALINK", "English", "Login"] {
        assert!(html.contains(needle), "login page lacks {needle}");
    }
    assert_eq!(c.get(s.url("/css/style.css")).send().unwrap().status(), 200);
    assert_eq!(c.get(s.url("/js/login.js")).send().unwrap().status(), 200);
    let listing = c.get(s.url("/lang/log/")).send().unwrap().text().unwrap();
    assert!(listing.contains("httpd.log") && listing.contains("system.log"));
    let system = c.get(s.url("/lang/log/system.log")).send().unwrap();
    assert!(system.headers()["content-type"].to_str().unwrap().contains("text/plain"));
    let system = system.text().unwrap();
    assert!(system.contains("daemon.info") && system.contains("authpriv.info"));

    // CVE-2023-43261: read the log, decrypt the password, log in.
    let log = c.get(s.url("/lang/log/httpd.log")).send().unwrap().text().unwrap();
    let creds = leaked_credentials(&log);
    assert!(!creds.is_empty(), "no credentials in httpd.log:\n{log}");
    let (user, enc) = creds[0].clone();
    let password = decrypt(&enc);
    let islogin: Value = c.post(s.url("/islogin")).send().unwrap().json().unwrap();
    assert_eq!(islogin["result"][0]["login"], "false");
    assert_envelope(&islogin, "UR32L");
    let login = c
        .post(s.url("/cgi"))
        .json(&json!({"id":"1","execute":1,"core":"user","function":"login","values":[{"username":user,"password":encrypt(&password)}]}))
        .send()
        .unwrap();
    let cookies: Vec<String> = login
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .collect();
    let login: Value = login.json().unwrap();
    assert_envelope(&login, "UR32L");
    assert_eq!(login["status"], 0, "{login}");
    assert_eq!(login["id"], "1");
    let td = login["result"][0]["td"].as_str().unwrap().to_owned();
    assert_eq!(td.len(), 32);
    assert!(cookies.iter().any(|c| c.starts_with(&format!("td={td}"))), "{cookies:?}");
    let islogin: Value = c
        .post(s.url("/islogin"))
        .header("Cookie", format!("td={td}"))
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(islogin["result"][0]["login"], "true");

    // Counter before sending.
    let summary = json!({"id":3,"execute":1,"core":"yruo_status","function":"get","values":[{"base":"summary"}]});
    let before = cgi(&c, &s, &summary)["result"][0]["get"][0]["value"]["cell"]["sim_monthly_sms"]
        .as_u64()
        .unwrap();

    // Validation sends (dialect A, three recipients in one string), then the wave (dialect B).
    let a = cgi(
        &c,
        &s,
        &json!({"id":"7","execute":1,"function":"send_sms","values":[{"base":"api_sms","phone_number":"+32470000001, +32470000002;+32470000003","content":"Test hxxps://example[.]invalid"}]}),
    );
    assert_eq!((a["status"].clone(), a["result"].clone()), (json!(0), json!([{}])));
    let b = cgi(
        &c,
        &s,
        &json!({"id":8,"execute":1,"core":"yruo_sms","function":"send","values":[{"base":"send","value":{"destination":"+32470000004","content":"Wave message"}}]}),
    );
    assert_eq!(b["status"], 0);

    // The outbox shows this client's messages, newest first, failed then success.
    let outbox = cgi(
        &c,
        &s,
        &json!({"id":10,"execute":1,"core":"yruo_sms","function":"query_outbox","values":[{"base":"query_outbox","limit":10,"start":0}]}),
    );
    let rows = outbox["result"][0]["get"].as_array().unwrap();
    assert_eq!(outbox["result"][0]["count"], 4);
    let seen: Vec<(String, String)> = rows
        .iter()
        .map(|r| {
            (
                r["value"]["number"].as_str().unwrap().to_owned(),
                r["value"]["status"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        seen,
        [
            ("+32470000004", "success"),
            ("+32470000003", "success"),
            ("+32470000002", "failed"),
            ("+32470000001", "failed")
        ]
        .map(|(a, b)| (a.to_owned(), b.to_owned()))
    );
    assert!(rows[0]["value"]["time"].as_str().unwrap().len() == 19);
    let paged = cgi(
        &c,
        &s,
        &json!({"function":"query_outbox","values":[{"base":"api_sms","limit":1,"start":1}]}),
    );
    assert_eq!(paged["result"][0]["get"].as_array().unwrap().len(), 1);
    assert_eq!(paged["result"][0]["get"][0]["value"]["number"], "+32470000003");
    let inbox = cgi(
        &c,
        &s,
        &json!({"core":"yruo_sms","function":"query_inbox","values":[{"base":"query_inbox"}]}),
    );
    assert!(inbox["result"][0]["count"].as_u64().unwrap() >= 1);

    // The modem counter grew by the successful sends.
    let after = cgi(&c, &s, &summary)["result"][0]["get"][0]["value"]["cell"]["sim_monthly_sms"]
        .as_u64()
        .unwrap();
    assert_eq!(after, before + 2);
    let unknown = cgi(
        &c,
        &s,
        &json!({"id":1,"core":"yruo_nothing","function":"get","values":[{"base":"x"}]}),
    );
    assert_eq!(unknown["status"], -1);
    assert_envelope(&unknown, "UR32L");
    let cell = cgi(
        &c,
        &s,
        &json!({"core":"yruo_status","function":"get","values":[{"base":"yruo_celluar"}]}),
    );
    assert_eq!(cell["result"][0]["get"][0]["type"], "yruo_cell_status");
    assert_eq!(cell["result"][0]["get"][0]["value"]["modem"]["imei"].as_str().unwrap().len(), 15);
    let missing = c.get(s.url("/admin.php")).send().unwrap();
    assert_eq!(missing.status(), 404);

    let port = s.addr().port();
    s.stop();

    // Field by field, in order.
    let ev = events(dir.path());
    let kinds: Vec<&str> = ev.iter().map(|e| e["kind"].as_str().unwrap()).collect();
    assert_eq!(
        kinds,
        [
            "http.request",
            "http.request",
            "http.request",
            "log.read",
            "log.read",
            "log.read",
            "http.request",
            "auth.login",
            "http.request",
            "api.call",
            "sms.send",
            "sms.send",
            "sms.query",
            "sms.query",
            "sms.query",
            "api.call",
            "api.call",
            "api.call",
            "http.request"
        ]
    );
    for e in &ev {
        assert_eq!(e["schema"], 1);
        assert_eq!(e["sensor"], "test-sensor");
        assert_eq!(e["persona"], "milesight-ur32l");
        assert_eq!(e["src_ip"], "127.0.0.1");
        assert_eq!(e["dst_port"], port);
        assert!(e["src_port"].as_u64().unwrap() > 0);
        assert!(!e["session"].as_str().unwrap().is_empty());
        assert!(e["id"].as_str().unwrap().starts_with(e["session"].as_str().unwrap()));
        assert!(e["ts"].as_str().unwrap().ends_with('Z'));
        assert_eq!(e["http"]["body_sha256"].as_str().unwrap().len(), 64);
    }
    let ids: HashSet<&str> = ev.iter().map(|e| e["id"].as_str().unwrap()).collect();
    assert_eq!(ids.len(), ev.len(), "event ids are unique");
    let log_read = &ev[5];
    assert_eq!(log_read["http"]["path"], "/lang/log/httpd.log");
    assert_eq!(log_read["tags"], json!(["cve-2023-43261"]));
    let auth = &ev[7];
    assert_eq!(auth["http"]["method"], "POST");
    assert_eq!(auth["http"]["path"], "/cgi");
    assert_eq!(auth["response_status"], 200);
    assert_eq!(auth["auth"]["username"], user);
    assert_eq!(auth["auth"]["password"], password);
    assert_eq!(auth["auth"]["password_decrypted"], true);
    assert_eq!(auth["auth"]["success"], true);
    let send_a = &ev[10];
    assert_eq!(send_a["sms"]["to"], json!(["+32470000001", "+32470000002", "+32470000003"]));
    assert_eq!(send_a["sms"]["text"], "Test hxxps://example[.]invalid");
    assert_eq!(send_a["sms"]["dialect"], "api_sms");
    assert_eq!(send_a["sms"]["status"], "failed");
    let body = send_a["http"]["body"].as_str().unwrap();
    assert!(body.contains("\"send_sms\""));
    assert_eq!(send_a["http"]["body_len"], body.len());
    assert_eq!(send_a["http"]["body_truncated"], false);
    let headers = send_a["http"]["headers"].as_array().unwrap();
    assert!(headers.iter().any(|h| h[0].as_str().unwrap().eq_ignore_ascii_case("content-type")));
    let send_b = &ev[11];
    assert_eq!(send_b["sms"]["to"], json!(["+32470000004"]));
    assert_eq!(send_b["sms"]["text"], "Wave message");
    assert_eq!(send_b["sms"]["dialect"], "yruo_sms");
    assert_eq!(send_b["sms"]["status"], "success");
    let query = &ev[12];
    assert_eq!(query["sms"]["box"], "outbox");
    assert_eq!(query["sms"]["dialect"], "yruo_sms");
    assert_eq!(ev[14]["sms"]["box"], "inbox");
    assert_eq!(ev.last().unwrap()["response_status"], 404);
}

#[test]
fn lockout_after_five_failures_and_tolerant_login_encodings() {
    let dir = tempfile::tempdir().unwrap();
    let s = Sensor::start(dir.path());
    let c = client();
    let log = c.get(s.url("/lang/log/httpd.log")).send().unwrap().text().unwrap();
    let (user, enc) = leaked_credentials(&log)[0].clone();
    let body = |user: &str, pass: &str| json!({"id":"1","execute":1,"core":"user","function":"login","values":[{"username":user,"password":pass}]});

    // Form-encoded JSON string, as some clients send it.
    let form = c
        .post(s.url("/cgi"))
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body(body(&user, &enc).to_string())
        .send()
        .unwrap()
        .json::<Value>()
        .unwrap();
    assert_eq!(form["status"], 0, "{form}");
    // GET with a JSON body.
    let get = c
        .get(s.url("/cgi"))
        .body(body(&user, &enc).to_string())
        .send()
        .unwrap()
        .json::<Value>()
        .unwrap();
    assert_eq!(get["status"], 0, "{get}");

    let wrong = encrypt("not-the-password");
    let mut chances = Vec::new();
    for _ in 0..5 {
        let r = cgi(&c, &s, &body(&user, &wrong));
        assert_eq!(r["status"], -2);
        chances.push((
            r["result"][0]["chance"].as_u64().unwrap(),
            r["result"][0]["locktime"].as_u64().unwrap(),
        ));
    }
    assert_eq!(chances, [(4, 0), (3, 0), (2, 0), (1, 0), (0, 600)]);
    // Locked: even the right password is refused, with the time left.
    let locked = cgi(&c, &s, &body(&user, &enc));
    assert_eq!(locked["status"], -2);
    let left = locked["result"][0]["locktime"].as_u64().unwrap();
    assert!((590..=600).contains(&left), "{locked}");
    // A plaintext password is not what the web UI sends: it fails and is recorded as sent.
    s.stop();
    let ev = events(dir.path());
    let logins: Vec<&Value> = ev.iter().filter(|e| e["kind"] == "auth.login").collect();
    assert_eq!(logins.len(), 8);
    assert_eq!(logins[2]["auth"]["password"], "not-the-password");
    assert_eq!(logins[2]["auth"]["success"], false);
    assert_eq!(logins[7]["auth"]["success"], false);
}

#[test]
fn identity_is_stable_across_restarts_and_differs_between_sensors() {
    let a = tempfile::tempdir().unwrap();
    let b = tempfile::tempdir().unwrap();
    let probe = |dir: &std::path::Path| -> (String, String, String) {
        let s = Sensor::start(dir);
        let c = client();
        let cell = cgi(&c, &s, &json!({"core":"yruo_celluar","function":"get","values":[]}));
        let modem = &cell["result"][0]["get"][0]["value"]["modem"];
        let log = c.get(s.url("/lang/log/httpd.log")).send().unwrap().text().unwrap();
        let out = (
            modem["imei"].as_str().unwrap().to_owned(),
            modem["iccid"].as_str().unwrap().to_owned(),
            decrypt(&leaked_credentials(&log)[0].1),
        );
        s.stop();
        out
    };
    let first = probe(a.path());
    let again = probe(a.path());
    let other = probe(b.path());
    assert_eq!(first, again, "one sensor keeps its identity across restarts");
    assert_ne!(first.0, other.0, "two sensors have different IMEIs");
    assert_ne!(first.1, other.1);
    assert_ne!(first.2, other.2, "two sensors have different bait passwords");
    assert!(a.path().join("sensor.seed").exists());
}

#[test]
fn kill_9_right_after_answers_loses_no_answered_request() {
    let dir = tempfile::tempdir().unwrap();
    let s = Sensor::start(dir.path());
    let c = client();
    let n = 300;
    for i in 0..n {
        let r = c
            .post(s.url("/cgi"))
            .json(&json!({"id":i,"function":"send_sms","values":[{"base":"api_sms","phone":format!("+3247{i:07}"),"content":"x"}]}))
            .send()
            .unwrap();
        assert_eq!(r.status(), 200);
    }
    s.kill9();
    let ev = events(dir.path());
    assert_eq!(ev.len(), n, "every answered request is stored");
    let to: HashSet<String> =
        ev.iter().map(|e| e["sms"]["to"][0].as_str().unwrap().to_owned()).collect();
    assert_eq!(to.len(), n);
}

#[test]
fn personas_command_lists_the_shipped_personas() {
    let out = std::process::Command::new(support::BIN).arg("personas").output().unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    let names: Vec<&str> = text.lines().map(|l| l.split('\t').next().unwrap()).collect();
    // the sensor crate's persona files, each named after its persona, sorted
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../smishtrap-sensor/personas");
    let mut shipped: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| Some(e.ok()?.file_name().to_str()?.strip_suffix(".toml")?.to_owned()))
        .collect();
    shipped.sort();
    assert!(shipped.len() >= 14, "{shipped:?}");
    assert_eq!(names, shipped);
    assert!(text.contains("UR32L 32.3.0."));
    assert!(text.contains("\tmilesight\n") && text.contains("\thilink\n"));
    let out =
        std::process::Command::new(support::BIN).args(["personas", "--families"]).output().unwrap();
    let families = String::from_utf8(out.stdout).unwrap();
    assert!(families.contains("Huawei\thilink\tB535-232, E3372h-153\n"), "{families}");
    assert!(families.contains("TP-Link\ttplink\tArcher MR600, TL-MR6400\n"), "{families}");
    assert_eq!(families.lines().count(), 6, "{families}");
}

#[test]
fn sigterm_lets_an_in_flight_request_finish_and_stores_it() {
    use std::io::{Read, Write};
    let dir = tempfile::tempdir().unwrap();
    let s = Sensor::start(dir.path());
    let body = r#"{"function":"send_sms","values":[{"phone":"+32470000099","content":"late"}]}"#;
    let mut conn = std::net::TcpStream::connect(s.addr()).unwrap();
    conn.set_read_timeout(Some(std::time::Duration::from_secs(20))).unwrap();
    let head = format!("POST /cgi HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\n\r\n", body.len());
    conn.write_all(head.as_bytes()).unwrap();
    conn.write_all(&body.as_bytes()[..10]).unwrap();
    std::thread::sleep(std::time::Duration::from_millis(300));
    support::signal(&s.child, 15);
    std::thread::sleep(std::time::Duration::from_millis(300));
    conn.write_all(&body.as_bytes()[10..]).unwrap();
    let mut answer = Vec::new();
    let _ = conn.read_to_end(&mut answer);
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 200 OK"), "{answer}");
    assert!(answer.contains(r#""status":0"#));
    s.stop();
    let ev = events(dir.path());
    assert_eq!(ev.len(), 1);
    assert_eq!(ev[0]["sms"]["to"], json!(["+32470000099"]));
}

#[test]
fn a_persona_directory_adds_personas() {
    let shipped =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../smishtrap-sensor/personas");
    let dir = tempfile::tempdir().unwrap();
    let personas = dir.path().join("personas");
    // every file the shipped personas name, whatever the folders
    let mut stack = vec![std::path::PathBuf::from("milesight")];
    while let Some(sub) = stack.pop() {
        std::fs::create_dir_all(personas.join(&sub)).unwrap();
        for entry in std::fs::read_dir(shipped.join(&sub)).unwrap() {
            let path = entry.unwrap().path();
            let rel = sub.join(path.file_name().unwrap());
            if path.is_dir() {
                stack.push(rel);
            } else {
                std::fs::copy(&path, personas.join(rel)).unwrap();
            }
        }
    }
    let toml = std::fs::read_to_string(shipped.join("milesight-ur32l.toml"))
        .unwrap()
        .replace("name = \"milesight-ur32l\"", "name = \"lab-ur99\"")
        .replace("model = \"UR32L\"", "model = \"UR99\"");
    std::fs::write(personas.join("lab-ur99.toml"), toml).unwrap();
    let data = dir.path().join("data");
    let s = Sensor::start_with(
        &data,
        &[
            "--listen",
            "127.0.0.1:0",
            "--persona",
            "lab-ur99",
            "--personas",
            personas.to_str().unwrap(),
        ],
        1,
    );
    let v: Value = client().post(s.url("/islogin")).send().unwrap().json().unwrap();
    assert_eq!(v["model"], "UR99");
    s.stop();
    assert_eq!(events(&data)[0]["persona"], "lab-ur99");
}

#[test]
fn a_keep_alive_connection_quiet_between_requests_keeps_working() {
    use std::io::{Read, Write};
    let dir = tempfile::tempdir().unwrap();
    let s = Sensor::start(dir.path());
    let mut conn = std::net::TcpStream::connect(s.addr()).unwrap();
    conn.set_read_timeout(Some(std::time::Duration::from_secs(10))).unwrap();
    let mut answers = Vec::new();
    for pause in [0, 1500, 10] {
        // 1.5 s of silence parks the connection (its HTTP state is dropped) in between
        std::thread::sleep(std::time::Duration::from_millis(pause));
        conn.write_all(b"POST /islogin HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n").unwrap();
        let mut buf = vec![0u8; 4096];
        let n = conn.read(&mut buf).unwrap();
        answers.push(String::from_utf8_lossy(&buf[..n]).into_owned());
    }
    assert!(
        answers
            .iter()
            .all(|a| a.starts_with("HTTP/1.1 200 OK") && a.contains("\"login\":\"false\"")),
        "{answers:?}"
    );
    drop(conn);
    s.stop();
    let ev = events(dir.path());
    let ids: Vec<&str> = ev.iter().map(|e| e["id"].as_str().unwrap()).collect();
    let session = ev[0]["session"].as_str().unwrap();
    assert_eq!(ids, [0, 1, 2].map(|n| format!("{session}-{n}")));
}

/// `--forward` is checked with the configuration: a NATS address and a sensor name that is
/// one subject token.
#[test]
fn forward_settings_are_checked_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let run = |name: &str, url: &str| {
        let out = std::process::Command::new(support::BIN)
            .args(["sensor", "--check-config", "--listen", "127.0.0.1:0", "--data"])
            .arg(dir.path())
            .args(["--sensor-name", name, "--forward", url])
            .output()
            .unwrap();
        (out.status.success(), String::from_utf8_lossy(&out.stderr).into_owned())
    };
    let check = |name: &str, url: &str, expect_ok: bool, expect_err: &str| {
        let (ok, err) = run(name, url);
        assert_eq!(ok, expect_ok, "{name} {url}: {err}");
        assert!(err.contains(expect_err), "{name} {url}: {err}");
    };
    check("be-01", "nats://127.0.0.1:4222", true, "");
    check("be-01", "tls://nats.example.org:4222", true, "");
    check("be.01", "nats://127.0.0.1:4222", false, "names the sensor in the NATS subject");
    check("be-01", "http://127.0.0.1:4222", false, "expected nats://HOST:PORT");
}
