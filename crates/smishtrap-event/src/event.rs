use std::net::IpAddr;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// Version of the event schema; bump on any incompatible change and document it.
pub const SCHEMA_VERSION: u32 = 1;

/// Bodies are stored up to this many bytes; the digest always covers the full body.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// One request seen by a sensor.
///
/// Identity fields (`sensor`, `persona`, `session`, `src_ip`, `src_port`, `dst_port`) are bound
/// when the connection is accepted and are never derived from attacker-controlled bytes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event {
    pub schema: u32,
    /// Unique id of the event (`<session>-<sequence>`), used for idempotent storage.
    pub id: String,
    #[serde(with = "rfc3339")]
    pub ts: DateTime<Utc>,
    pub sensor: String,
    pub persona: String,
    /// Connection id, assigned by the sensor at accept time.
    pub session: String,
    pub src_ip: IpAddr,
    pub src_port: u16,
    pub dst_port: u16,
    pub kind: EventKind,
    pub http: HttpRecord,
    /// Status code of the response the sensor sent.
    pub response_status: u16,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth: Option<AuthRecord>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sms: Option<SmsAction>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
}

/// What a request was, from the point of view of an analyst.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum EventKind {
    /// Any request without a more specific meaning (page loads, probes, 404s).
    #[serde(rename = "http.request")]
    HttpRequest,
    /// A login attempt through `/cgi`.
    #[serde(rename = "auth.login")]
    AuthLogin,
    /// `/logout`.
    #[serde(rename = "auth.logout")]
    AuthLogout,
    /// An attempt to send an SMS (never actually sent).
    #[serde(rename = "sms.send")]
    SmsSend,
    /// A read of the inbox or outbox.
    #[serde(rename = "sms.query")]
    SmsQuery,
    /// A read of the leaky logs (CVE-2023-43261).
    #[serde(rename = "log.read")]
    LogRead,
    /// A `/cgi` call other than login or SMS (status cores, configuration reads, ...).
    #[serde(rename = "api.call")]
    ApiCall,
    /// Bytes that were not a valid HTTP request, or a request the sensor refused (limits).
    #[serde(rename = "http.malformed")]
    HttpMalformed,
    /// A `/cgi` configuration write or commit (`set`, `add`, `del`, `order`, `apply`):
    /// answered like the device, changing nothing (tags `config:<function>`, `core:<core>`).
    #[serde(rename = "config.change")]
    ConfigChange,
}

impl Event {
    /// A bodiless `GET /` (`http.request`) from `src_ip` to a sensor `sensor` wearing
    /// `persona`, session `c1`: the smallest valid event, which tools and tests then adjust.
    pub fn request(
        id: &str,
        ts: DateTime<Utc>,
        sensor: &str,
        persona: &str,
        src_ip: std::net::IpAddr,
    ) -> Event {
        Event {
            schema: SCHEMA_VERSION,
            id: id.to_owned(),
            ts,
            sensor: sensor.to_owned(),
            persona: persona.to_owned(),
            session: "c1".into(),
            src_ip,
            src_port: 40000,
            dst_port: 8080,
            kind: EventKind::HttpRequest,
            http: HttpRecord {
                method: "GET".into(),
                path: "/".into(),
                query: None,
                version: "HTTP/1.1".into(),
                headers: Vec::new(),
                body: String::new(),
                body_encoding: BodyEncoding::Utf8,
                body_len: 0,
                body_truncated: false,
                body_sha256: body_digest(b""),
            },
            response_status: 200,
            auth: None,
            sms: None,
            tags: Vec::new(),
        }
    }
}

impl EventKind {
    pub const ALL: [EventKind; 9] = [
        EventKind::HttpRequest,
        EventKind::AuthLogin,
        EventKind::AuthLogout,
        EventKind::SmsSend,
        EventKind::SmsQuery,
        EventKind::LogRead,
        EventKind::ApiCall,
        EventKind::HttpMalformed,
        EventKind::ConfigChange,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::HttpRequest => "http.request",
            EventKind::AuthLogin => "auth.login",
            EventKind::AuthLogout => "auth.logout",
            EventKind::SmsSend => "sms.send",
            EventKind::SmsQuery => "sms.query",
            EventKind::LogRead => "log.read",
            EventKind::ApiCall => "api.call",
            EventKind::HttpMalformed => "http.malformed",
            EventKind::ConfigChange => "config.change",
        }
    }

    pub fn parse(s: &str) -> Option<EventKind> {
        EventKind::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

impl std::fmt::Display for EventKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How [`HttpRecord::body`] is encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BodyEncoding {
    /// The (possibly truncated) body was valid UTF-8 and is stored as is.
    #[default]
    Utf8,
    /// The body was not valid UTF-8 and is stored as standard base64.
    Base64,
}

/// The request as received, bounded.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct HttpRecord {
    pub method: String,
    pub path: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub query: Option<String>,
    /// `HTTP/1.0` or `HTTP/1.1`.
    pub version: String,
    /// Headers in the order received, names as sent (bounded in count and size by the sensor).
    pub headers: Vec<(String, String)>,
    pub body: String,
    #[serde(default)]
    pub body_encoding: BodyEncoding,
    /// Length of the full body in bytes, before truncation.
    pub body_len: u64,
    pub body_truncated: bool,
    /// Lowercase hex SHA-256 of the full body.
    pub body_sha256: String,
}

/// A login attempt.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuthRecord {
    pub username: String,
    /// The password in clear where it could be decrypted, else as sent.
    pub password: String,
    /// True when `password` is the decrypted form of what was sent.
    pub password_decrypted: bool,
    pub success: bool,
}

/// The SMS API dialect a request used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SmsDialect {
    /// `function:"send_sms"`, `base:"api_sms"`: the exposed API attackers used.
    ApiSms,
    /// `core:"yruo_sms"`, `function:"send"`: the current web UI.
    YruoSms,
    /// Huawei HiLink XML API (`POST /api/sms/send-sms`, `/api/sms/sms-list`).
    Hilink,
    /// ZTE `goform` API (`goformId=SEND_SMS`, hex/UCS-2 `MessageBody`).
    Goform,
    /// Teltonika legacy query-string API (`/cgi-bin/sms_send?number=&text=`).
    TeltonikaGet,
    /// Teltonika RutOS 7 REST API (`POST /api/messages/actions/send`).
    TeltonikaRest,
    /// TP-Link LTE `cgi_gdpr` frames (`LTE_SMS_SENDNEWMSG`).
    TplinkGdpr,
    /// TP-Link LTE plain act frames of older firmware (`POST /cgi?2`, `LTE_SMS_SENDNEWMSG`).
    TplinkCgi,
    /// Netgear LTE forms (`POST /Forms/smsSendMsg`).
    NetgearForms,
    /// A dialect this reader does not know (written by a newer sensor).
    #[serde(other)]
    Unknown,
}

impl SmsDialect {
    pub fn as_str(self) -> &'static str {
        match self {
            SmsDialect::ApiSms => "api_sms",
            SmsDialect::YruoSms => "yruo_sms",
            SmsDialect::Hilink => "hilink",
            SmsDialect::Goform => "goform",
            SmsDialect::TeltonikaGet => "teltonika_get",
            SmsDialect::TeltonikaRest => "teltonika_rest",
            SmsDialect::TplinkGdpr => "tplink_gdpr",
            SmsDialect::TplinkCgi => "tplink_cgi",
            SmsDialect::NetgearForms => "netgear_forms",
            SmsDialect::Unknown => "unknown",
        }
    }
}

/// Which mailbox a query read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SmsBox {
    Inbox,
    Outbox,
}

/// An SMS send or mailbox query.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SmsAction {
    /// Recipients exactly as sent (after splitting lists), bounded by the sensor.
    #[serde(default)]
    pub to: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    pub dialect: SmsDialect,
    #[serde(default, rename = "box", skip_serializing_if = "Option::is_none")]
    pub mailbox: Option<SmsBox>,
    /// Delivery status the persona reported for a send (`failed` or `success`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
}

/// Lowercase hex SHA-256 of a body.
pub fn body_digest(body: &[u8]) -> String {
    hex::encode(Sha256::digest(body))
}

mod rfc3339 {
    use chrono::{DateTime, SecondsFormat, Utc};
    use serde::{Deserialize, Deserializer, Serializer};

    pub(super) fn serialize<S: Serializer>(ts: &DateTime<Utc>, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&ts.to_rfc3339_opts(SecondsFormat::Micros, true))
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<DateTime<Utc>, D::Error> {
        let raw = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        DateTime::parse_from_rfc3339(&raw)
            .map(|t| t.with_timezone(&Utc))
            .map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Event {
        Event {
            schema: SCHEMA_VERSION,
            id: "s1-0".into(),
            ts: DateTime::parse_from_rfc3339("2025-07-22T10:00:00Z").unwrap().with_timezone(&Utc),
            sensor: "sensor-a".into(),
            persona: "milesight-ur32l".into(),
            session: "s1".into(),
            src_ip: "127.0.0.1".parse().unwrap(),
            src_port: 40000,
            dst_port: 8080,
            kind: EventKind::SmsSend,
            http: HttpRecord {
                method: "POST".into(),
                path: "/cgi".into(),
                query: None,
                version: "HTTP/1.1".into(),
                headers: vec![("Host".into(), "x".into())],
                body: "{}".into(),
                body_encoding: BodyEncoding::Utf8,
                body_len: 2,
                body_truncated: false,
                body_sha256: body_digest(b"{}"),
            },
            response_status: 200,
            auth: None,
            sms: Some(SmsAction {
                to: vec!["+32470000000".into()],
                text: Some("hi".into()),
                dialect: SmsDialect::ApiSms,
                mailbox: None,
                status: Some("failed".into()),
            }),
            tags: vec![],
        }
    }

    /// Readers accept every family's dialect by name and map a newer sensor's unknown one to
    /// `Unknown` instead of failing the whole event.
    #[test]
    fn dialects_round_trip_and_unknown_ones_are_tolerated() {
        for d in [
            SmsDialect::ApiSms,
            SmsDialect::YruoSms,
            SmsDialect::Hilink,
            SmsDialect::Goform,
            SmsDialect::TeltonikaGet,
            SmsDialect::TeltonikaRest,
            SmsDialect::TplinkGdpr,
            SmsDialect::TplinkCgi,
            SmsDialect::NetgearForms,
        ] {
            let json = serde_json::to_string(&d).unwrap();
            assert_eq!(json, format!("\"{}\"", d.as_str()));
            assert_eq!(serde_json::from_str::<SmsDialect>(&json).unwrap(), d);
        }
        let newer: SmsDialect = serde_json::from_str("\"peplink_api\"").unwrap();
        assert_eq!(newer, SmsDialect::Unknown);
    }

    #[test]
    fn event_round_trips_through_json() {
        let e = sample();
        let json = serde_json::to_string(&e).unwrap();
        let back: Event = serde_json::from_str(&json).unwrap();
        assert_eq!(e, back);
    }

    #[test]
    fn event_json_shape_is_stable() {
        insta::assert_json_snapshot!(sample());
    }

    #[test]
    fn kinds_parse_back() {
        for k in EventKind::ALL {
            assert_eq!(EventKind::parse(k.as_str()), Some(k));
            assert_eq!(serde_json::to_string(&k).unwrap(), format!("\"{k}\""));
        }
    }
}
