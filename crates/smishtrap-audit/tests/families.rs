//! Non-Milesight routers through the real HTTP client: Teltonika, Huawei HiLink, ZTE, TP-Link
//! and Netgear fixtures (reply bodies shaped as `router_personas.md` describes) served on
//! loopback, each open and locked. The audit must name vendor, model and firmware where the
//! device tells them, find the SMS API open exactly where it is, and request nothing but its
//! allow-listed reads (no send, set, delete or login path of any family).

#![allow(clippy::unwrap_used, reason = "test code fails loudly")]

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use smishtrap_audit::cgi::{ALLOWED_FUNCTIONS, VendorRead};
use smishtrap_audit::{Advisories, Check, Limits, Options, Prober, audit_target, parse_targets};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// path (with query) → (status, content type, body); anything else is a 404.
type Routes = BTreeMap<&'static str, (u16, &'static str, String)>;

/// A loopback device on 127.0.0.`host` answering `routes`, recording every request line
/// (and `/cgi` body).
async fn serve(host: u8, routes: Routes, seen: Arc<Mutex<Vec<String>>>) -> SocketAddr {
    let listener = TcpListener::bind(format!("127.0.0.{host}:0")).await.unwrap();
    let addr = listener.local_addr().unwrap();
    let routes = Arc::new(routes);
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else { return };
            tokio::spawn(handle(stream, routes.clone(), seen.clone()));
        }
    });
    addr
}

async fn handle(mut stream: TcpStream, routes: Arc<Routes>, seen: Arc<Mutex<Vec<String>>>) {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") else {
            match stream.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
            continue;
        };
        let head = String::from_utf8_lossy(&buf[..end]).into_owned();
        let len: usize = head
            .to_lowercase()
            .lines()
            .find_map(|l| l.strip_prefix("content-length:").and_then(|v| v.trim().parse().ok()))
            .unwrap_or(0);
        while buf.len() < end + 4 + len {
            match stream.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
        }
        let body = String::from_utf8_lossy(&buf[end + 4..end + 4 + len]).into_owned();
        buf.drain(..end + 4 + len);
        let line = head.lines().next().unwrap_or("").to_owned();
        let path = line.split(' ').nth(1).unwrap_or("").to_owned();
        seen.lock().unwrap().push(format!("{line} {body}"));
        let (status, ctype, body) =
            routes.get(path.as_str()).cloned().unwrap_or((404, "text/html", "not found".into()));
        let reply = format!(
            "HTTP/1.1 {status} X\r\nServer: fixture\r\nContent-Type: {ctype}\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        );
        if stream.write_all(reply.as_bytes()).await.is_err() {
            return;
        }
    }
}

fn limits() -> Limits {
    Limits {
        connect_timeout: Duration::from_secs(2),
        request_timeout: Duration::from_secs(2),
        max_body_bytes: 256 * 1024,
        min_interval: Duration::ZERO,
        max_requests: 64,
        target_timeout: Duration::from_secs(10),
    }
}

const JSON: &str = "application/json";
const XML: &str = "text/xml";
const HTML: &str = "text/html";

fn routes(pairs: &[(&'static str, u16, &'static str, &str)]) -> Routes {
    pairs.iter().map(|(p, s, c, b)| (*p, (*s, *c, (*b).to_owned()))).collect()
}

fn path(read: VendorRead) -> &'static str {
    read.path()
}

/// Every family, open and locked: (name, routes, vendor, model, firmware, SMS API open).
fn fleet() -> Vec<(&'static str, Routes, &'static str, &'static str, &'static str, bool)> {
    let teltonika_root = r#"<!DOCTYPE html><html><head><title>RUT955</title></head><body><div id="app">Teltonika Networks</div><script src="/assets/app.js"></script></body></html>"#;
    let teltonika_status = r#"{"success":true,"data":{"lang":"en","filename":"RUT9_R_00.07.06","device_name":"RUT955","device_model":"RUT955","api_version":"1.6","device_identifier":"0123","security_banner":{"title":"","message":""}}}"#;
    let hilink_root = r#"<html><head><meta name="csrf_token" content="abc"><title>LTE</title><script src="/js/hilink.js"></script></head></html>"#;
    let hilink_basic = r#"<?xml version="1.0" encoding="UTF-8"?><response><productfamily>LTE</productfamily><classify>cpe</classify><multimode>0</multimode><restore_default_status>0</restore_default_status><devicename>B525s-23a</devicename></response>"#;
    let hilink_info = r#"<?xml version="1.0" encoding="UTF-8"?><response><DeviceName>E3372h-320</DeviceName><SerialNumber>X</SerialNumber><HardwareVersion>CL2E3372HM</HardwareVersion><SoftwareVersion>22.317.01.00.00</SoftwareVersion><WebUIVersion>17.100.14.02.577</WebUIVersion><ProductFamily>LTE</ProductFamily><Classify>hilink</Classify></response>"#;
    let hilink_refused = r#"<?xml version="1.0" encoding="UTF-8"?><error><code>100003</code><message></message></error>"#;
    let hilink_count = r#"<?xml version="1.0" encoding="UTF-8"?><response><LocalUnread>0</LocalUnread><LocalInbox>4</LocalInbox><LocalOutbox>311</LocalOutbox><LocalDraft>0</LocalDraft><SimUnread>0</SimUnread><SimInbox>0</SimInbox><SimOutbox>0</SimOutbox></response>"#;
    let zte_root = r#"<html><head><title>MF286D</title><script>var url = "/goform/goform_get_cmd_process";</script></head></html>"#;
    let zte_id = r#"{"model_name":"MF286D","wa_inner_version":"BD_MF286DV1.0.0B05","web_version":"WEB_BLMF286DV1.0.0B03","hardware_version":"MF286D-1.0"}"#;
    let zte_msgs = r#"{"messages":[{"id":"412","number":"+32470000001","content":"00620070006F00730074","tag":"2","date":"24,05,02,10,30,15,+8","draft_group_id":""}]}"#;
    let tplink_root =
        r#"<html><head><title>Archer MR600</title><link href="/css/tp-link.css"></head></html>"#;
    let netgear_root = r#"<html><head><title>NETGEAR LB2120</title></head></html>"#;
    let netgear_open = r#"{"session":{"secToken":"5a1b","userRole":"Guest"},"general":{"FSN":"X","model":"LB2120","deviceName":"LB2120","FWversion":"M18QW_v07.05.170721"},"sms":{"ready":true,"msgs":[{"id":"1","rxTime":"11/03/18 08:18:11 PM","text":"hello","sender":"+1555","read":false}]}}"#;
    let netgear_locked = r#"{"session":{"secToken":"5a1b","userRole":"Guest"},"general":{"model":"LM1200","FWversion":"NTG9X07C_20.06.09.00"}}"#;
    use VendorRead as V;
    vec![
        (
            "teltonika-open",
            routes(&[
                ("/", 200, HTML, teltonika_root),
                (path(V::TeltonikaStatus), 200, JSON, teltonika_status),
                (path(V::TeltonikaSmsTotal), 200, "text/plain", "Used: 2\nTotal: 50\n"),
            ]),
            "Teltonika",
            "RUT955",
            "",
            true,
        ),
        (
            "teltonika-locked",
            routes(&[
                ("/", 200, HTML, teltonika_root),
                (path(V::TeltonikaStatus), 200, JSON, teltonika_status),
                (path(V::TeltonikaSmsTotal), 200, "text/plain", "ERROR"),
            ]),
            "Teltonika",
            "RUT955",
            "",
            false,
        ),
        (
            "hilink-open",
            routes(&[
                ("/", 200, HTML, hilink_root),
                (path(V::HuaweiInformation), 200, XML, hilink_info),
                (path(V::HuaweiSmsCount), 200, XML, hilink_count),
            ]),
            "Huawei",
            "E3372h-320",
            "22.317.01.00.00",
            true,
        ),
        (
            "hilink-locked",
            routes(&[
                ("/", 200, HTML, hilink_root),
                (path(V::HuaweiInformation), 200, XML, hilink_refused),
                (path(V::HuaweiBasicInformation), 200, XML, hilink_basic),
                (path(V::HuaweiSmsCount), 200, XML, hilink_refused),
            ]),
            "Huawei",
            "B525s-23a",
            "",
            false,
        ),
        (
            "zte-open",
            routes(&[
                ("/", 200, HTML, zte_root),
                (path(V::ZteIdentity), 200, JSON, zte_id),
                (path(V::ZteSmsList), 200, JSON, zte_msgs),
            ]),
            "ZTE",
            "MF286D",
            "BD_MF286DV1.0.0B05",
            true,
        ),
        (
            "zte-locked",
            routes(&[
                ("/", 200, HTML, zte_root),
                (path(V::ZteIdentity), 200, JSON, zte_id),
                (path(V::ZteSmsList), 200, JSON, r#"{"result":"failure"}"#),
            ]),
            "ZTE",
            "MF286D",
            "BD_MF286DV1.0.0B05",
            false,
        ),
        ("tplink", routes(&[("/", 200, HTML, tplink_root)]), "TP-Link", "Archer MR600", "", false),
        (
            "netgear-open",
            routes(&[
                ("/", 200, HTML, netgear_root),
                (path(V::NetgearModel), 200, "text/plain", netgear_open),
            ]),
            "Netgear",
            "LB2120",
            "M18QW_v07.05.170721",
            true,
        ),
        (
            "netgear-locked",
            routes(&[
                ("/", 200, HTML, netgear_root),
                (path(V::NetgearModel), 200, "text/plain", netgear_locked),
            ]),
            "Netgear",
            "LM1200",
            "NTG9X07C_20.06.09.00",
            false,
        ),
    ]
}

#[tokio::test]
async fn families_are_recognised_and_their_sms_api_checked_read_only() {
    let prober = Prober::new(limits()).unwrap();
    let advisories = Advisories::builtin().unwrap();
    let options = Options { exposure: true, try_default_credentials: true, ..Options::default() };
    let mut wrong = Vec::new();
    for (i, (name, routes, vendor, model, firmware, open)) in fleet().into_iter().enumerate() {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let addr = serve(60 + i as u8, routes, seen.clone()).await;
        let target = parse_targets(&addr.to_string(), 1).unwrap().remove(0);
        let r = audit_target(&prober, &advisories, &options, target).await;
        let d = &r.device;
        let got = (
            d.vendor.as_deref().unwrap_or(""),
            d.model.as_deref().unwrap_or(""),
            d.firmware.as_deref().unwrap_or(""),
            r.has(Check::SmsApiOpen),
        );
        if got != (vendor, model, firmware, open) {
            wrong.push(format!(
                "{name}: got {got:?}, expected {:?}",
                (vendor, model, firmware, open)
            ));
        }
        assert!(r.has(Check::Identified), "{name}: {:?}", r.findings);
        let identified = r.findings.iter().find(|f| f.check == Check::Identified).unwrap();
        assert!(identified.title.contains(vendor), "{name}: {}", identified.title);
        // read-only on the wire: GETs of fixed pages and allow-listed reads, `/cgi` only with
        // allow-listed functions
        let fixed = ["/", "/lang/log/httpd.log", "/lang/log/system.log", "/islogin"];
        for request in seen.lock().unwrap().iter() {
            let mut parts = request.splitn(3, ' ');
            let (method, path) = (parts.next().unwrap(), parts.next().unwrap());
            let body = request.rsplit_once(" HTTP/1.1 ").map_or("", |(_, b)| b);
            let vendor_read = VendorRead::ALL.iter().any(|v| v.path() == path);
            let ok = match (method, path) {
                ("GET", p) => fixed.contains(&p) || vendor_read,
                ("POST", "/islogin") => true,
                ("POST", "/cgi") => {
                    let v: serde_json::Value = serde_json::from_str(body).unwrap();
                    ALLOWED_FUNCTIONS.contains(&v["function"].as_str().unwrap_or("?"))
                }
                _ => false,
            };
            assert!(ok, "{name}: {request}");
            let lower = request.to_lowercase();
            for word in ["send", "set_cmd", "delete", "/forms/", "/api/login", "sms_read"] {
                assert!(!lower.contains(word), "{name}: {request}");
            }
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}
