//! Detection suite, wire tells (issue 13, tells 8 to 10; `docs/fingerprint.md`, "Wire"): each
//! test is a check a careful attacker or a honeypot-detection scan runs against the real
//! binary, through a real client (reqwest, with rustls for HTTPS; a raw socket where a client
//! would repair the request), and fails if the sensor can be told from the router that way.

#![allow(clippy::unwrap_used, reason = "tests fail loudly")]

mod sensor_support;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::time::Duration;

use reqwest::StatusCode;
use reqwest::blocking::{Client, Response};
use sensor_support::{Sensor, client, events, raw};
use serde_json::Value;
use x509_cert::der::Decode;

fn tagged<'a>(ev: &'a [Value], tag: &str) -> Vec<&'a Value> {
    ev.iter().filter(|e| e["tags"].as_array().is_some_and(|t| t.iter().any(|x| x == tag))).collect()
}

fn header(r: &Response, name: &str) -> Option<String> {
    r.headers().get(name).map(|v| v.to_str().unwrap().to_owned())
}

/// Sends `bytes` on a new connection; returns the status line and the body of the answer.
fn raw_answer(addr: SocketAddr, bytes: &[u8]) -> (String, Vec<u8>) {
    let out = raw(addr, bytes, Duration::from_secs(3));
    let end = out.windows(4).position(|w| w == b"\r\n\r\n").unwrap_or(out.len());
    let head = String::from_utf8_lossy(&out[..end]).into_owned();
    let line = head.lines().next().unwrap_or_default().to_owned();
    (line, out.get(end + 4..).unwrap_or_default().to_vec())
}

/// Tell 8: PUT, DELETE, TRACE, OPTIONS and made-up methods get the server's 405 page (never
/// the page or the API answer), HEAD gets the headers of GET without a body.
#[test]
fn methods_the_server_does_not_serve_get_its_405_page() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let s = Sensor::start(&data);
    let c = client();
    for method in ["PUT", "DELETE", "TRACE", "OPTIONS", "PROPFIND", "FOO"] {
        for path in ["/login.html", "/cgi", "/lang/log/httpd.log", "/nothing-here"] {
            let m = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
            let r = c.request(m, s.url(path)).body("{}").send().unwrap();
            assert_eq!(r.status().as_u16(), 405, "{method} {path}");
            assert!(header(&r, "date").is_some(), "{method} {path}: Date");
            let body = r.text().unwrap();
            assert!(body.contains("<h1>405 Not Allowed</h1>"), "{method} {path}: {body}");
        }
    }
    // POST to a static file is refused too; POST to the API is served.
    assert_eq!(c.post(s.url("/login.html")).send().unwrap().status().as_u16(), 405);
    assert_eq!(c.post(s.url("/cgi")).body("{}").send().unwrap().status().as_u16(), 200);
    let get = c.get(s.url("/login.html")).send().unwrap();
    let length = header(&get, "content-length").unwrap();
    let head = raw(
        s.addr(),
        b"HEAD /login.html HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        Duration::from_secs(3),
    );
    let head = String::from_utf8_lossy(&head).into_owned();
    assert!(head.starts_with("HTTP/1.1 200 OK\r\n"), "{head}");
    assert!(head.contains(&format!("Content-Length: {length}\r\n")), "{head}");
    assert!(head.ends_with("\r\n\r\n"), "HEAD has no body: {head}");
    s.stop();
    let ev = events(&data);
    assert_eq!(tagged(&ev, "http:method-not-allowed").len(), 6 * 4 + 1, "each 405 recorded");
}

/// Tell 8: every answer has a `Date`; static files have `ETag` and `Last-Modified` that stay
/// the same across requests, and the conditional requests they invite get 304.
#[test]
fn static_files_have_stable_validators_and_conditional_requests_get_304() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let s = Sensor::start(&data);
    let c = client();
    for path in ["/login.html", "/nope", "/lang/log/httpd.log"] {
        assert!(header(&c.get(s.url(path)).send().unwrap(), "date").is_some(), "{path}");
    }
    let cgi = c.post(s.url("/cgi")).body(r#"{"id":"1","core":"yruo_status"}"#).send().unwrap();
    assert!(header(&cgi, "date").is_some(), "/cgi has a Date");
    let first = c.get(s.url("/login.html")).send().unwrap();
    let etag = header(&first, "etag").expect("ETag on a static file");
    let modified = header(&first, "last-modified").expect("Last-Modified on a static file");
    assert_eq!(header(&first, "accept-ranges").as_deref(), Some("bytes"));
    // nginx's shape: "<mtime hex>-<size hex>", mtime = Last-Modified.
    let inner = etag.trim_matches('"');
    let (mtime, size) = inner.split_once('-').unwrap();
    let mtime = i64::from_str_radix(mtime, 16).unwrap();
    let size = u64::from_str_radix(size, 16).unwrap();
    let body = first.bytes().unwrap();
    assert_eq!(size, body.len() as u64);
    let shown = chrono::DateTime::parse_from_rfc2822(&modified).unwrap();
    assert_eq!(shown.timestamp(), mtime);
    assert!(mtime < chrono::Utc::now().timestamp() - 3600, "the file is older than the request");
    std::thread::sleep(Duration::from_millis(1100));
    let again = c.get(s.url("/login.html")).send().unwrap();
    assert_eq!(header(&again, "etag").as_deref(), Some(etag.as_str()), "stable ETag");
    assert_eq!(header(&again, "last-modified").as_deref(), Some(modified.as_str()));
    for (name, value) in
        [("if-none-match", etag.as_str()), ("if-modified-since", modified.as_str())]
    {
        let r = c.get(s.url("/login.html")).header(name, value).send().unwrap();
        assert_eq!(r.status(), StatusCode::NOT_MODIFIED, "{name}");
        assert_eq!(header(&r, "etag").as_deref(), Some(etag.as_str()));
        assert!(r.bytes().unwrap().is_empty());
    }
    let r = c.get(s.url("/login.html")).header("if-none-match", "\"0-0\"").send().unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    s.stop();
}

/// Header names go out spelled as the device's server spells them: `ETag` (an HTTP library
/// that title-cases writes `Etag`), and the others in their usual case, on 200 and 304.
#[test]
fn header_names_are_spelled_like_the_device_server() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let s = Sensor::start(&data);
    let head = |extra: &str| {
        let req =
            format!("GET /login.html HTTP/1.1\r\nHost: x\r\n{extra}Connection: close\r\n\r\n");
        let out = raw(s.addr(), req.as_bytes(), Duration::from_secs(3));
        let text = String::from_utf8_lossy(&out).into_owned();
        text[..text.find("\r\n\r\n").unwrap() + 2].to_owned()
    };
    let first = head("");
    let names: Vec<&str> =
        first.lines().skip(1).filter_map(|l| l.split_once(": ").map(|(n, _)| n)).collect();
    assert_eq!(
        names,
        [
            "Content-Type",
            "Content-Length",
            "Date",
            "Last-Modified",
            "ETag",
            "Accept-Ranges",
            "Cache-Control",
            "Connection"
        ],
        "{first}"
    );
    let etag = first.lines().find_map(|l| l.strip_prefix("ETag: ")).unwrap().to_owned();
    let again = head(&format!("If-None-Match: {etag}\r\n"));
    assert!(again.starts_with("HTTP/1.1 304 "), "{again}");
    assert!(again.contains("\r\nETag: ") && !again.contains("Etag"), "{again}");
    // Other answers keep the usual spelling.
    let cgi = raw(
        s.addr(),
        b"POST /cgi HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}",
        Duration::from_secs(3),
    );
    let cgi = String::from_utf8_lossy(&cgi).into_owned();
    assert!(cgi.contains("\r\nContent-Type: application/json\r\n"), "{cgi}");
    s.stop();
}

/// Tell 8: a byte range gets 206 with `Content-Range`, one past the end 416.
#[test]
fn byte_ranges_get_206_and_unsatisfiable_ones_416() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let s = Sensor::start(&data);
    let c = client();
    let full = c.get(s.url("/lang/log/httpd.log")).send().unwrap().bytes().unwrap();
    let len = full.len();
    let r = c.get(s.url("/lang/log/httpd.log")).header("range", "bytes=0-9").send().unwrap();
    assert_eq!(r.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(header(&r, "content-range"), Some(format!("bytes 0-9/{len}")));
    assert_eq!(r.bytes().unwrap(), full.slice(..10));
    let r = c.get(s.url("/lang/log/httpd.log")).header("range", "bytes=-5").send().unwrap();
    assert_eq!(r.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(r.bytes().unwrap(), full.slice(len - 5..));
    let r = c
        .get(s.url("/lang/log/httpd.log"))
        .header("range", format!("bytes={len}-"))
        .send()
        .unwrap();
    assert_eq!(r.status().as_u16(), 416);
    assert_eq!(header(&r, "content-range"), Some(format!("bytes */{len}")));
    s.stop();
    let ev = events(&data);
    // A ranged read of the log is still a read of the log.
    assert_eq!(tagged(&ev, "cve-2023-43261").len(), 4);
}

/// Tell 8: `/lang/log` redirects to `/lang/log/` like a directory; a directory without an
/// index page is forbidden, not missing.
#[test]
fn a_directory_without_its_slash_redirects() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let s = Sensor::start(&data);
    let c = Client::builder()
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap();
    let r = c.get(s.url("/lang/log?x=1")).send().unwrap();
    assert_eq!(r.status(), StatusCode::MOVED_PERMANENTLY);
    let port = s.addr().port();
    assert_eq!(header(&r, "location"), Some(format!("http://127.0.0.1:{port}/lang/log/?x=1")));
    assert!(r.text().unwrap().contains("301 Moved Permanently"));
    assert_eq!(c.get(s.url("/lang/")).send().unwrap().status(), StatusCode::FORBIDDEN);
    assert_eq!(client().get(s.url("/lang/log")).send().unwrap().status(), StatusCode::OK);
    s.stop();
}

/// Tell 8: targets are resolved as the server does (`//`, percent-encoded letters, `.` and
/// `..` inside the root); `..` above the root is refused.
#[test]
fn targets_are_resolved_like_the_device_server() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let s = Sensor::start(&data);
    let get = |target: &str| {
        raw_answer(
            s.addr(),
            format!("GET {target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").as_bytes(),
        )
    };
    let (line, log) = get("/lang/log/httpd.log");
    assert_eq!(line, "HTTP/1.1 200 OK");
    for target in [
        "//lang/log/httpd.log",
        "/lang//log/httpd.log",
        "/lang/log/%68ttpd.log",
        "/%6c%61%6e%67/log/httpd.log",
        "/lang/./log/httpd.log",
        "/lang/x/../log/httpd.log",
    ] {
        assert_eq!(get(target), ("HTTP/1.1 200 OK".to_owned(), log.clone()), "{target}");
    }
    for target in ["/../etc/passwd", "/lang/../../etc/passwd", "/%2e%2e/etc/passwd", "/a%00"] {
        assert_eq!(get(target).0, "HTTP/1.1 400 Bad Request", "{target}");
    }
    s.stop();
    let ev = events(&data);
    // The event keeps the target as sent.
    assert!(ev.iter().any(|e| e["http"]["path"] == "/lang/log/%68ttpd.log"));
    let reads = ev.iter().filter(|e| e["kind"] == "log.read").count();
    assert_eq!(reads, 7, "every resolved read of the log is a log read");
}

/// Tell 8: an HTTP/1.1 request without `Host` (or with two) is refused as the server does.
#[test]
fn http11_without_host_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let s = Sensor::start(&data);
    let (line, body) = raw_answer(s.addr(), b"GET /login.html HTTP/1.1\r\n\r\n");
    assert_eq!(line, "HTTP/1.1 400 Bad Request");
    assert!(String::from_utf8_lossy(&body).contains("<h1>400 Bad Request</h1>"));
    let (line, _) = raw_answer(s.addr(), b"GET /login.html HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n");
    assert_eq!(line, "HTTP/1.1 400 Bad Request");
    // HTTP/1.0 needs no Host.
    let (line, _) = raw_answer(s.addr(), b"GET /login.html HTTP/1.0\r\n\r\n");
    assert_eq!(line, "HTTP/1.0 200 OK");
    s.stop();
    assert_eq!(tagged(&events(&data), "malformed:host").len(), 2);
}

/// Tell 9: a complete request followed by junk in the same segment is answered and recorded,
/// then the junk gets the 400 page and its own event.
#[test]
fn a_request_followed_by_junk_is_answered_and_recorded() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let s = Sensor::start(&data);
    let junks: [&[u8]; 4] = [
        b"\x00\x01junk\r\n\r\n",
        b"hello world\r\n\r\n",
        b"\x16\x03\x01\x02\x00",
        // A head the HTTP library refuses on its own (a length it cannot represent).
        b"POST /cgi HTTP/1.1\r\nHost: x\r\nContent-Length: 18446744073709551615\r\n\r\n",
    ];
    for (n, junk) in junks.into_iter().enumerate() {
        for version in ["1.0", "1.1"] {
            let valid = format!("GET /login.html?n={n} HTTP/{version}\r\nHost: x\r\n\r\n");
            let mut conn = TcpStream::connect(s.addr()).unwrap();
            conn.set_read_timeout(Some(Duration::from_secs(3))).unwrap();
            conn.write_all(&[valid.as_bytes(), junk].concat()).unwrap();
            let mut out = Vec::new();
            let _ = conn.read_to_end(&mut out);
            let out = String::from_utf8_lossy(&out).into_owned();
            assert!(out.starts_with(&format!("HTTP/{version} 200 OK\r\n")), "{out}");
            assert!(out.contains("URSALINK"), "the page itself: {out}");
            assert!(out.contains("HTTP/1.1 400 Bad Request\r\n"), "then the 400: {out}");
            assert!(out.ends_with("<h1>400 Bad Request</h1></body></html>\n"), "its page: {out}");
        }
    }
    s.stop();
    let ev = events(&data);
    let answered = ev.iter().filter(|e| e["response_status"] == 200).count();
    let refused: Vec<_> = ev.iter().filter(|e| e["kind"] == "http.malformed").collect();
    assert_eq!((answered, refused.len()), (8, 8));
    // Each junk is recorded with what it sent, answered with the page.
    for e in refused {
        assert_eq!(e["response_status"], 400, "{e}");
        assert_ne!(e["http"]["body_len"], 0, "{e}");
    }
}

/// An HTTPS client for the sensor: any certificate, the peer's certificate kept.
fn https_client(resolve: Option<(&str, SocketAddr)>) -> Client {
    let mut b = Client::builder()
        .no_proxy()
        .danger_accept_invalid_certs(true)
        .tls_info(true)
        .use_rustls_tls()
        .timeout(Duration::from_secs(30));
    if let Some((name, addr)) = resolve {
        b = b.resolve(name, addr);
    }
    b.build().unwrap()
}

fn start_tls(data: &Path) -> Sensor {
    Sensor::start_with(
        data,
        &["--listen", "127.0.0.1:0", "--tls-listen", "127.0.0.1:0", "--persona", "milesight-ur32l"],
        2,
    )
}

/// The certificate the sensor's HTTPS port presents.
fn peer_certificate(addr: SocketAddr) -> Vec<u8> {
    let r = https_client(None).get(format!("https://{addr}/login.html")).send().unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let info = r.extensions().get::<reqwest::tls::TlsInfo>().unwrap();
    info.peer_certificate().unwrap().to_vec()
}

fn fingerprint(der: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(der))
}

/// Tell 10: the firmware serves HTTPS; the sensor does too, with a self-signed certificate of
/// the device's shape, and records the TLS flag and the SNI of each request.
#[test]
fn https_serves_the_device_with_a_certificate_of_its_shape() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let s = start_tls(&data);
    let tls_addr = s.addrs[1];
    let der = peer_certificate(tls_addr);
    let cert = x509_cert::Certificate::from_der(&der).unwrap();
    let tbs = &cert.tbs_certificate;
    let subject = tbs.subject.to_string();
    assert_eq!(subject, tbs.issuer.to_string(), "self-signed");
    assert!(subject.contains("O=Ursalink") && subject.contains("CN=UR32L-"), "{subject}");
    // rsaEncryption, 2048 bits (a 270-byte PKCS#1 key).
    let spki = &tbs.subject_public_key_info;
    assert_eq!(spki.algorithm.oid.to_string(), "1.2.840.113549.1.1.1");
    assert_eq!(spki.subject_public_key.raw_bytes().len(), 270);
    let from = tbs.validity.not_before.to_unix_duration().as_secs();
    let to = tbs.validity.not_after.to_unix_duration().as_secs();
    assert_eq!(to - from, 3650 * 86_400);
    assert!(from < chrono::Utc::now().timestamp() as u64 - 86_400, "made at the device's boot");
    // The device's pages over HTTPS, with SNI recorded.
    let c = https_client(Some(("router.example", tls_addr)));
    let r = c.get(format!("https://router.example:{}/lang/log/httpd.log", tls_addr.port())).send();
    assert_eq!(r.unwrap().status(), StatusCode::OK);
    s.stop();
    let ev = events(&data);
    let tls = tagged(&ev, "tls");
    assert_eq!(tls.len(), 2, "both HTTPS requests");
    let sni = tagged(&ev, "sni:router.example");
    assert_eq!(sni.len(), 1);
    assert_eq!(sni[0]["kind"], "log.read");
    assert!(tls.iter().all(|e| e["dst_port"] == tls_addr.port()));
}

/// Tell 10 (certificate reuse across instances): two sensors present different certificates
/// (fingerprint, serial, key); one sensor keeps its certificate across restarts.
#[test]
fn certificates_differ_between_sensors_and_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("a"), dir.path().join("b"));
    let s = start_tls(&a);
    let first = peer_certificate(s.addrs[1]);
    s.stop();
    let s = start_tls(&b);
    let other = peer_certificate(s.addrs[1]);
    s.stop();
    let s = start_tls(&a);
    let restarted = peer_certificate(s.addrs[1]);
    s.stop();
    assert_eq!(fingerprint(&first), fingerprint(&restarted), "kept across a restart");
    assert_ne!(fingerprint(&first), fingerprint(&other));
    let (x, y) = (
        x509_cert::Certificate::from_der(&first).unwrap(),
        x509_cert::Certificate::from_der(&other).unwrap(),
    );
    let (x, y) = (&x.tbs_certificate, &y.tbs_certificate);
    assert_ne!(x.serial_number, y.serial_number);
    assert_ne!(
        x.subject_public_key_info.subject_public_key,
        y.subject_public_key_info.subject_public_key
    );
    assert_ne!(x.subject.to_string(), y.subject.to_string(), "host names differ");
}

/// Tell 10: plain HTTP on the HTTPS port and broken handshakes are answered as the server does
/// (a 400 page, a TLS alert), recorded, and never stop the port.
#[test]
fn plain_http_and_broken_handshakes_on_the_https_port_are_recorded() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let s = start_tls(&data);
    let tls_addr = s.addrs[1];
    let (line, body) =
        raw_answer(tls_addr, b"GET /login.html HTTP/1.1\r\nHost: x\r\nX-Probe: 1\r\n\r\n");
    assert_eq!(line, "HTTP/1.1 400 Bad Request");
    assert!(String::from_utf8_lossy(&body).contains("400 Bad Request"));
    // An empty ClientHello: a decode-error alert, then the end.
    let out = raw(tls_addr, b"\x16\x03\x01\x00\x04\x01\x00\x00\x00", Duration::from_secs(3));
    assert_eq!(out.first(), Some(&0x15), "a TLS alert: {out:?}");
    // The port still serves.
    assert!(!peer_certificate(tls_addr).is_empty());
    s.stop();
    let ev = events(&data);
    let plain = tagged(&ev, "tls:plain-http");
    assert_eq!(plain.len(), 1);
    assert_eq!(plain[0]["http"]["path"], "/login.html");
    assert_eq!(plain[0]["response_status"], 400);
    assert_eq!(tagged(&ev, "tls:handshake").len(), 1);
}

/// Tell 10: a persona whose firmware serves HTTPS only (32.3.0.14 and later) never gets a plain
/// listener; its HTTPS listener comes from the config file (`[[listener]] tls = true`).
#[test]
fn an_https_only_persona_is_served_over_tls_only() {
    let dir = tempfile::tempdir().unwrap();
    let personas = dir.path().join("personas");
    let shipped = Path::new(env!("CARGO_MANIFEST_DIR")).join("../smishtrap-sensor/personas");
    let copy =
        std::process::Command::new("cp").arg("-r").arg(&shipped).arg(&personas).status().unwrap();
    assert!(copy.success());
    let toml = std::fs::read_to_string(personas.join("milesight-ur32l.toml")).unwrap();
    let toml = toml
        .replace("name = \"milesight-ur32l\"", "name = \"milesight-ur32l-new\"")
        .replace("rtver = \"32.3.0.8-r1\"", "rtver = \"32.3.0.14\"")
        .replace("https_only = false", "https_only = true");
    std::fs::write(personas.join("milesight-ur32l-new.toml"), toml).unwrap();
    let data = dir.path().join("data");
    let out = std::process::Command::new(sensor_support::BIN)
        .args(["sensor", "--listen", "127.0.0.1:0", "--persona", "milesight-ur32l-new"])
        .arg("--personas")
        .arg(&personas)
        .arg("--data")
        .arg(&data)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("serves HTTPS only"), "{err}");
    let config = dir.path().join("sensor.toml");
    std::fs::write(
        &config,
        "[[listener]]\nlisten = \"127.0.0.1:0\"\npersona = \"milesight-ur32l-new\"\ntls = true\n",
    )
    .unwrap();
    let s = Sensor::start_with(
        &data,
        &["--config", config.to_str().unwrap(), "--personas", personas.to_str().unwrap()],
        1,
    );
    let r = https_client(None).get(format!("https://{}/login.html", s.addr())).send().unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    s.stop();
    let ev = events(&data);
    assert_eq!(tagged(&ev, "tls").len(), 1);
    assert_eq!(ev[0]["persona"], "milesight-ur32l-new");
}
