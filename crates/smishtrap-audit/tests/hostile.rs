//! Hostile targets, through the real HTTP client: a redirect to another address (not
//! followed: the canary there sees nothing), an endless body and a dripping one (bounded,
//! timed out), garbage and a huge JSON reply (no panic, a clear finding), HTTPS with a
//! self-signed, an expired and an unparsable certificate. Plus the read-only guarantee on the
//! wire: every `/cgi` function a full audit sends is on the allow-list.

#![allow(clippy::unwrap_used, reason = "test code fails loudly")]

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use smishtrap_audit::cgi::ALLOWED_FUNCTIONS;
use smishtrap_audit::{
    Advisories, Check, Credential, Limits, Options, Prober, TargetReport, audit_target,
    parse_targets,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

type Handler = Arc<dyn Fn(Vec<u8>) -> Behaviour + Send + Sync>;

/// What a fake target does with a request.
enum Behaviour {
    Reply(Vec<u8>),
    /// Writes the head then body bytes forever.
    Endless,
    /// Writes a head then one byte every 300 ms.
    Drip,
}

/// A loopback server on 127.0.0.`host`: reads one request head (and body per
/// Content-Length) per connection and acts as `handler` says; returns its address.
async fn serve(host: u8, handler: Handler) -> SocketAddr {
    let listener = TcpListener::bind(format!("127.0.0.{host}:0")).await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else { return };
            let handler = handler.clone();
            tokio::spawn(async move { handle(stream, handler).await });
        }
    });
    addr
}

async fn read_request(stream: &mut TcpStream) -> Option<Vec<u8>> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..end]).to_lowercase();
            let len: usize = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .and_then(|v| v.trim().parse().ok())
                .unwrap_or(0);
            while buf.len() < end + 4 + len {
                let n = stream.read(&mut chunk).await.ok()?;
                if n == 0 {
                    break;
                }
                buf.extend_from_slice(&chunk[..n]);
            }
            return Some(buf);
        }
    }
}

async fn handle(mut stream: TcpStream, handler: Handler) {
    while let Some(request) = read_request(&mut stream).await {
        match handler(request) {
            Behaviour::Reply(bytes) => {
                if stream.write_all(&bytes).await.is_err() {
                    return;
                }
            }
            Behaviour::Endless => {
                let _ =
                    stream.write_all(b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n\r\n").await;
                let block = vec![b'A'; 64 * 1024];
                while stream.write_all(&block).await.is_ok() {}
                return;
            }
            Behaviour::Drip => {
                let _ =
                    stream.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n").await;
                while stream.write_all(b"x").await.is_ok() {
                    tokio::time::sleep(Duration::from_millis(300)).await;
                }
                return;
            }
        }
    }
}

fn http(status: &str, headers: &str, body: &[u8]) -> Vec<u8> {
    let mut out = format!("HTTP/1.1 {status}\r\n{headers}Content-Length: {}\r\n\r\n", body.len())
        .into_bytes();
    out.extend_from_slice(body);
    out
}

fn limits() -> Limits {
    Limits {
        connect_timeout: Duration::from_secs(2),
        request_timeout: Duration::from_millis(1500),
        max_body_bytes: 256 * 1024,
        min_interval: Duration::ZERO,
        max_requests: 64,
        target_timeout: Duration::from_secs(3),
    }
}

async fn audit(addr: SocketAddr, options: &Options) -> TargetReport {
    audit_at(&format!("{addr}"), options).await
}

async fn audit_at(target: &str, options: &Options) -> TargetReport {
    let prober = Prober::new(limits()).unwrap();
    let target = parse_targets(target, 1).unwrap().remove(0);
    audit_target(&prober, &Advisories::builtin().unwrap(), options, target).await
}

fn checks(r: &TargetReport) -> Vec<&'static str> {
    r.findings.iter().map(|f| f.check.as_str()).collect()
}

#[tokio::test]
async fn redirects_elsewhere_are_not_followed() {
    let canary_hits = Arc::new(Mutex::new(0usize));
    let hits = canary_hits.clone();
    let canary = serve(
        61,
        Arc::new(move |_| {
            *hits.lock().unwrap() += 1;
            Behaviour::Reply(http("200 OK", "", b"canary"))
        }),
    )
    .await;
    let to = format!("http://{canary}/login.html");
    let target = serve(
        60,
        Arc::new(move |req| {
            if req.starts_with(b"GET / ") {
                Behaviour::Reply(http("302 Found", &format!("Location: {to}\r\n"), b""))
            } else {
                Behaviour::Reply(http("404 Not Found", "", b"no"))
            }
        }),
    )
    .await;
    let report = audit(target, &Options::default()).await;
    assert!(report.has(Check::RedirectElsewhere), "{:?}", checks(&report));
    assert_eq!(*canary_hits.lock().unwrap(), 0, "the redirect was followed");
    let f = report.findings.iter().find(|f| f.check == Check::RedirectElsewhere).unwrap();
    assert!(f.evidence[0].contains(&canary.to_string()), "{:?}", f.evidence);
}

#[tokio::test]
async fn same_target_redirects_are_followed() {
    let target = serve(
        62,
        Arc::new(|req| {
            if req.starts_with(b"GET / ") {
                Behaviour::Reply(http("302 Found", "Location: /login.html\r\n", b""))
            } else if req.starts_with(b"GET /login.html") {
                Behaviour::Reply(http(
                    "200 OK",
                    "",
                    b"<title id=\"rt_title\">Login</title> URSALINK",
                ))
            } else {
                Behaviour::Reply(http("404 Not Found", "", b""))
            }
        }),
    )
    .await;
    let report = audit(target, &Options::default()).await;
    assert_eq!(report.device.vendor.as_deref(), Some("Milesight"), "{:?}", checks(&report));
    assert!(!report.has(Check::RedirectElsewhere));
}

#[tokio::test]
async fn endless_and_dripping_bodies_are_bounded() {
    let endless = serve(63, Arc::new(|_| Behaviour::Endless)).await;
    let started = Instant::now();
    let report = audit(endless, &Options::default()).await;
    assert!(report.has(Check::HostileReply), "{:?}", checks(&report));
    assert!(report.requests.iter().all(|r| r.bytes <= 256 * 1024));
    assert!(report.requests.iter().any(|r| r.truncated));
    assert!(started.elapsed() < Duration::from_secs(30), "{:?}", started.elapsed());

    let drip = serve(64, Arc::new(|_| Behaviour::Drip)).await;
    let started = Instant::now();
    let report = audit(drip, &Options::default()).await;
    assert!(report.has(Check::HostileReply), "{:?}", checks(&report));
    assert!(
        report
            .requests
            .iter()
            .all(|r| r.error.as_deref().is_some_and(|e| e.contains("no complete answer"))),
        "{:?}",
        report.requests
    );
    // two schemes tried, each cut at the request deadline
    assert!(started.elapsed() < Duration::from_secs(10), "{:?}", started.elapsed());
}

#[tokio::test]
async fn a_target_that_answers_slowly_is_cut_at_its_deadline() {
    // a quick login page, then every other path drips: each request would take its full
    // deadline, the target as a whole is cut at `target_timeout`
    let target = serve(
        71,
        Arc::new(|req| {
            if req.starts_with(b"GET / ") {
                Behaviour::Reply(http("200 OK", "", b"<title id=\"rt_title\">Login</title>"))
            } else {
                Behaviour::Drip
            }
        }),
    )
    .await;
    let started = Instant::now();
    let report = audit(target, &Options::default()).await;
    let took = started.elapsed();
    assert!(took >= Duration::from_secs(3) && took < Duration::from_secs(5), "{took:?}");
    let cut = report.findings.iter().find(|f| f.title == "the checks did not finish in time");
    assert!(cut.is_some(), "{:?}", checks(&report));
    assert_eq!(report.device.vendor.as_deref(), Some("Milesight"));
    // the requests made before the deadline are in the record
    assert!(report.requests.len() >= 2, "{:?}", report.requests);
}

#[tokio::test]
async fn garbage_and_huge_json_give_findings_not_panics() {
    let garbage =
        serve(65, Arc::new(|_| Behaviour::Reply(b"\x00\xff\xfeSSH-2.0-garbage\r\n\r\n".to_vec())))
            .await;
    let report = audit(garbage, &Options::default()).await;
    assert_eq!(checks(&report), ["hostile-reply"]);

    let huge = format!(
        "{{\"status\":0,\"result\":[{{\"get\":[{}]}}]}}",
        vec!["{\"value\":{\"content\":\"x\"}}"; 40_000].join(",")
    );
    let nested = "[".repeat(50_000);
    let target = serve(
        66,
        Arc::new(move |req| {
            if req.starts_with(b"POST /cgi") {
                Behaviour::Reply(http(
                    "200 OK",
                    "Content-Type: application/json\r\n",
                    huge.as_bytes(),
                ))
            } else if req.starts_with(b"POST /islogin") {
                Behaviour::Reply(http(
                    "200 OK",
                    "Content-Type: application/json\r\n",
                    nested.as_bytes(),
                ))
            } else {
                Behaviour::Reply(http("200 OK", "", b"<title>router</title>"))
            }
        }),
    )
    .await;
    let report = audit(target, &Options::default()).await;
    assert!(report.has(Check::HostileReply), "{:?}", checks(&report));
    assert!(!report.has(Check::SmsApiOpen), "{:?}", checks(&report));
}

#[tokio::test]
async fn only_allow_listed_functions_reach_the_wire() {
    let seen = Arc::new(Mutex::new(Vec::<String>::new()));
    let log = seen.clone();
    // a device that accepts every login and answers every call: every path is exercised
    let target = serve(67, Arc::new(move |req| {
        let text = String::from_utf8_lossy(&req).into_owned();
        if text.starts_with("POST /cgi") {
            let body = text.split("\r\n\r\n").nth(1).unwrap_or("");
            let v: serde_json::Value = serde_json::from_str(body).unwrap_or_default();
            let function = v["function"].as_str().unwrap_or("<none>").to_owned();
            log.lock().unwrap().push(function.clone());
            let result = match function.as_str() {
                "login" => r#"[{"td":"abc"}]"#,
                _ => r#"[{"count":1,"get":[{"value":{"number":"+1","content":"hi","status":"success"}}]}]"#,
            };
            let body = format!(r#"{{"model":"UR32L","rtver":"32.3.0.8-r1","status":0,"result":{result}}}"#);
            Behaviour::Reply(http("200 OK", "Content-Type: application/json\r\n", body.as_bytes()))
        } else if text.starts_with("GET /lang/log/httpd.log") {
            let line = format!(r#"{{"username":"admin","password":"{}"}}"#, smishtrap_sensor::crypto::encrypt_password("pw"));
            Behaviour::Reply(http("200 OK", "", line.as_bytes()))
        } else {
            Behaviour::Reply(http("200 OK", "", b"<title>x</title> rt_title"))
        }
    }))
    .await;
    let options = Options {
        credentials: vec![Credential { username: "admin".into(), password: "x".into() }],
        use_leaked_credentials: true,
        try_default_credentials: true,
        exposure: true,
        show_secrets: false,
        max_mailbox_rows: 500,
    };
    let report = audit(target, &options).await;
    let seen = seen.lock().unwrap().clone();
    assert!(seen.len() >= 4, "{seen:?}");
    for f in &seen {
        assert!(ALLOWED_FUNCTIONS.contains(&f.as_str()), "sent {f}");
    }
    assert!(
        report.has(Check::PasswordRecovered)
            && report.has(Check::SmsApiOpen)
            && report.has(Check::DefaultCredentials),
        "{:?}",
        checks(&report)
    );
    // the recovered password stays out of the report
    let json = serde_json::to_string(&report).unwrap();
    assert!(!json.contains("\"pw\"") && !json.contains("password \\\"pw"), "{json}");
    // every request is in the record, none carries a password
    assert_eq!(report.requests.iter().filter(|r| r.url.ends_with("/cgi")).count(), seen.len());
}

// ---- HTTPS ----------------------------------------------------------------------------

fn tls_config(
    cert: rustls::pki_types::CertificateDer<'static>,
    key: rustls::pki_types::PrivateKeyDer<'static>,
) -> Arc<rustls::ServerConfig> {
    #[allow(
        deprecated,
        reason = "ring is the provider this workspace builds; the test needs no post-quantum groups"
    )]
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let signing = provider.key_provider.load_private_key(key).unwrap();
    let certified = Arc::new(rustls::sign::CertifiedKey::new(vec![cert], signing));
    #[derive(Debug)]
    struct Fixed(Arc<rustls::sign::CertifiedKey>);
    impl rustls::server::ResolvesServerCert for Fixed {
        fn resolve(
            &self,
            _: rustls::server::ClientHello<'_>,
        ) -> Option<Arc<rustls::sign::CertifiedKey>> {
            Some(self.0.clone())
        }
    }
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_cert_resolver(Arc::new(Fixed(certified)));
    Arc::new(config)
}

/// An HTTPS router page on 127.0.0.`host` with the given certificate.
async fn serve_tls(host: u8, config: Arc<rustls::ServerConfig>) -> SocketAddr {
    let listener = TcpListener::bind(format!("127.0.0.{host}:0")).await.unwrap();
    let addr = listener.local_addr().unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(config);
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else { return };
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let Ok(mut tls) = acceptor.accept(stream).await else { return };
                let mut buf = vec![0u8; 8192];
                while let Ok(n) = tls.read(&mut buf).await {
                    if n == 0 {
                        return;
                    }
                    let body: &[u8] = b"<title id=\"rt_title\">Login</title> URSALINK";
                    if tls.write_all(&http("200 OK", "", body)).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    addr
}

fn self_signed(
    days: std::ops::Range<i64>,
) -> (rustls::pki_types::CertificateDer<'static>, rustls::pki_types::PrivateKeyDer<'static>) {
    let mut params = rcgen::CertificateParams::new(vec!["router.local".to_owned()]).unwrap();
    params.distinguished_name.push(rcgen::DnType::CommonName, "UR32L router");
    params.distinguished_name.push(rcgen::DnType::OrganizationName, "Milesight");
    let now = time_now();
    params.not_before = now + time::Duration::days(days.start);
    params.not_after = now + time::Duration::days(days.end);
    let key = rcgen::KeyPair::generate().unwrap();
    let cert = params.self_signed(&key).unwrap();
    (cert.der().clone(), rustls::pki_types::PrivateKeyDer::Pkcs8(key.serialize_der().into()))
}

fn time_now() -> time::OffsetDateTime {
    time::OffsetDateTime::now_utc()
}

#[tokio::test]
async fn https_reports_the_self_signed_certificate() {
    let (cert, key) = self_signed(-1..365);
    let fingerprint = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(cert.as_ref()));
    let addr = serve_tls(68, tls_config(cert, key)).await;
    let report =
        audit_at(&format!("https://{addr}"), &Options { exposure: true, ..Options::default() })
            .await;
    let c = report
        .certificate
        .clone()
        .unwrap_or_else(|| panic!("no certificate: {:?}", checks(&report)));
    assert_eq!(c.sha256, fingerprint);
    assert!(
        c.subject.contains("CN=UR32L router") && c.subject.contains("O=Milesight"),
        "{}",
        c.subject
    );
    assert_eq!(c.subject, c.issuer);
    assert!(c.self_signed && !c.expired);
    assert!(c.not_after.unwrap() > chrono::Utc::now() + chrono::Duration::days(360));
    assert_eq!(report.device.vendor.as_deref(), Some("Milesight"));
    assert!(!report.has(Check::PlainHttp), "{:?}", checks(&report));
    assert!(!report.has(Check::CertificateInvalid));
}

#[tokio::test]
async fn https_with_an_expired_certificate() {
    let (cert, key) = self_signed(-400..-30);
    let addr = serve_tls(69, tls_config(cert, key)).await;
    // no scheme given, port not 443: HTTP is tried first, then HTTPS
    let report = audit_at(&addr.to_string(), &Options::default()).await;
    assert!(report.url.as_deref().is_some_and(|u| u.starts_with("https://")), "{:?}", report.url);
    assert!(report.certificate.as_ref().is_some_and(|c| c.expired));
    assert!(report.has(Check::CertificateInvalid), "{:?}", checks(&report));
}

#[tokio::test]
async fn https_with_a_broken_certificate() {
    let (_, key) = self_signed(-1..10);
    let garbage =
        rustls::pki_types::CertificateDer::from(b"\x30\x82\x01\x00not a certificate".to_vec());
    let addr = serve_tls(70, tls_config(garbage, key)).await;
    let report = audit_at(&format!("https://{addr}"), &Options::default()).await;
    // the handshake goes through (any certificate is accepted); the certificate is reported
    let bad = report
        .bad_certificate
        .clone()
        .unwrap_or_else(|| panic!("{:?} {:?}", checks(&report), report.requests));
    let garbage = b"\x30\x82\x01\x00not a certificate";
    assert_eq!(bad.sha256, hex::encode(<sha2::Sha256 as sha2::Digest>::digest(garbage)));
    assert!(bad.reason.contains("DER"), "{}", bad.reason);
    assert!(report.has(Check::CertificateInvalid), "{:?}", checks(&report));
    assert_eq!(report.device.vendor.as_deref(), Some("Milesight"));
}

// ---- connections ----------------------------------------------------------------------

#[tokio::test]
async fn a_fleet_audit_holds_only_the_connections_of_targets_in_flight() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    let open = Arc::new(AtomicUsize::new(0));
    let peak = Arc::new(AtomicUsize::new(0));
    let mut targets = Vec::new();
    for host in 100..140u8 {
        let listener = TcpListener::bind(format!("127.0.0.{host}:0")).await.unwrap();
        targets.push(listener.local_addr().unwrap().to_string());
        let (open, peak) = (open.clone(), peak.clone());
        tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else { return };
                let (open, peak) = (open.clone(), peak.clone());
                tokio::spawn(async move {
                    let now = open.fetch_add(1, Ordering::SeqCst) + 1;
                    peak.fetch_max(now, Ordering::SeqCst);
                    let page: Handler =
                        Arc::new(|_| Behaviour::Reply(http("200 OK", "", b"<title>r</title>")));
                    handle(stream, page).await;
                    open.fetch_sub(1, Ordering::SeqCst);
                });
            }
        });
    }
    let prober = Prober::new(limits()).unwrap();
    let targets = parse_targets(&targets.join("\n"), 100).unwrap();
    let reports = smishtrap_audit::audit_fleet(
        &prober,
        &Advisories::builtin().unwrap(),
        &Options::default(),
        targets,
        4,
        |_| {},
    )
    .await;
    assert_eq!(reports.len(), 40);
    assert!(reports.iter().all(|r| r.url.is_some()));
    // 4 targets in flight, one connection each (kept alive between its requests)
    let peak = peak.load(Ordering::SeqCst);
    assert!(peak <= 8, "{peak} connections open at once");
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(open.load(Ordering::SeqCst), 0, "connections left open after the audit");
}

#[tokio::test]
async fn a_closed_port_is_unreachable() {
    let listener = TcpListener::bind("127.0.0.72:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let report = audit(addr, &Options::default()).await;
    assert_eq!(checks(&report), ["unreachable"]);
    assert_eq!(report.url, None);
    // HTTP and HTTPS were tried, each once
    assert_eq!(report.requests.len(), 2, "{:?}", report.requests);
    assert!(
        report
            .requests
            .iter()
            .all(|r| r.error.as_deref().is_some_and(|e| e.starts_with("connection failed")))
    );
}
