//! API dialects behind the persona engine. A family is persona data (TOML, page and answer
//! templates, validated at load) plus one module here that parses its requests and renders its
//! answers; [`crate::device::Device`] keeps what every family shares: sessions and the login
//! lockout, the one outbox and the SIM counter, the inbox, logs, pages and error pages.
//!
//! Every dialect records the same events: `auth.login` with an `AuthRecord`, `sms.send` with
//! recipients, decoded text and its `SmsDialect`, `sms.query` with the mailbox read.

pub mod goform;
pub mod hilink;
pub mod milesight;
pub mod netgear;
pub mod teltonika;
pub mod tplink;
pub mod xml;

use chrono::{DateTime, Utc};

use crate::device::{Device, Reply, RequestView};

/// The API dialect a persona speaks.
#[derive(Debug, Clone)]
pub enum Dialect {
    /// Milesight/Ursalink `/cgi` JSON-RPC.
    Milesight,
    /// Huawei HiLink XML API with session and CSRF tokens.
    Hilink(hilink::Hilink),
    /// ZTE `goform` reads and commands.
    Goform(goform::Goform),
    /// Teltonika legacy query-string SMS API and RutOS 7 REST API.
    Teltonika(teltonika::Teltonika),
    /// Netgear LTE `model.json` and `/Forms/*` posts.
    Netgear(netgear::Netgear),
    /// TP-Link LTE act frames: encrypted `cgi_gdpr` or plain `/cgi?N`.
    Tplink(tplink::Tplink),
}

impl Dialect {
    /// The dialect's name in persona files and listings.
    pub fn name(&self) -> &'static str {
        match self {
            Dialect::Milesight => "milesight",
            Dialect::Hilink(_) => "hilink",
            Dialect::Goform(_) => "goform",
            Dialect::Teltonika(_) => "teltonika",
            Dialect::Netgear(_) => "netgear",
            Dialect::Tplink(_) => "tplink",
        }
    }
}

/// The dialect's answer for its own endpoints; `None` leaves the request to the device's
/// pages and error pages.
pub(crate) fn handle(device: &Device, req: &RequestView<'_>) -> Option<Reply> {
    match &device.persona.dialect {
        Dialect::Milesight => milesight::handle(device, req),
        Dialect::Hilink(h) => hilink::handle(device, h, req),
        Dialect::Goform(g) => goform::handle(device, g, req),
        Dialect::Teltonika(t) => teltonika::handle(device, t, req),
        Dialect::Netgear(n) => netgear::handle(device, n, req),
        Dialect::Tplink(t) => tplink::handle(device, t, req),
    }
}

/// Template variables of a page that shows anti-CSRF tokens (`{{csrf_token}}`,
/// `{{csrf_token2}}`) and the cookie of a session made for it.
pub(crate) fn page_tokens(
    device: &Device,
    req: &RequestView<'_>,
) -> (Vec<(&'static str, String)>, Option<String>) {
    match &device.persona.dialect {
        Dialect::Hilink(_) => hilink::page_tokens(device, req),
        _ => (Vec::new(), None),
    }
}

pub(crate) fn fmt_time(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M:%S").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::device::StateLimits;
    use crate::identity::{Identity, Seed};
    use crate::persona::PersonaSet;

    /// One device per family persona (built once: identities and logs take a moment).
    fn devices() -> &'static [Device] {
        static DEVICES: std::sync::OnceLock<Vec<Device>> = std::sync::OnceLock::new();
        DEVICES.get_or_init(|| {
            let set = PersonaSet::embedded().unwrap();
            let seed =
                Seed::from_bytes([9; 32], DateTime::from_timestamp(1_750_000_000, 0).unwrap());
            set.iter()
                .filter(|p| !matches!(p.dialect, Dialect::Milesight))
                .map(|p| {
                    let identity = Identity::derive(&seed, p);
                    Device::new(p.clone(), identity, StateLimits::default())
                })
                .collect()
        })
    }

    const PATHS: &[&str] = &[
        "/api/user/login",
        "/api/sms/send-sms",
        "/api/sms/sms-list",
        "/api/webserver/SesTokInfo",
        "/goform/goform_set_cmd_process",
        "/goform/goform_get_cmd_process",
        "/cgi-bin/sms_send",
        "/cgi-bin/sms_list",
        "/api/login",
        "/api/messages/actions/send",
        "/model.json",
        "/Forms/smsSendMsg",
        "/Forms/config",
        "/cgi/getParm",
        "/cgi/login",
        "/cgi_gdpr",
        "/cgi",
        "/",
    ];

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(256))]
        /// Whatever an attacker sends to any family's endpoints: an answer, never a panic, and
        /// recorded recipients and texts stay within the event caps.
        #[test]
        fn hostile_requests_never_panic(
            path in 0..PATHS.len(),
            post in proptest::bool::ANY,
            body in "(?s:.){0,300}",
            query in "[ -~]{0,120}",
            cookie in "[ -~]{0,80}",
        ) {
            let now = DateTime::from_timestamp(1_760_000_000, 0).unwrap();
            for d in devices() {
                let req = RequestView {
                    method: if post { "POST" } else { "GET" },
                    path: PATHS[path],
                    query: Some(&query),
                    cookie: Some(&cookie),
                    authorization: Some("Bearer x"),
                    body: body.as_bytes(),
                    client: "10.0.0.1".parse().unwrap(),
                    now,
                    headers: None,
                };
                let reply = d.handle(&req);
                proptest::prop_assert!(reply.status >= 200);
                if let Some(sms) = &reply.sms {
                    proptest::prop_assert!(sms.to.len() <= crate::cgi::MAX_RECIPIENTS);
                    proptest::prop_assert!(sms.to.iter().all(|t| t.len() <= crate::cgi::MAX_RECIPIENT_BYTES));
                    proptest::prop_assert!(sms.text.as_ref().is_none_or(|t| t.len() <= crate::cgi::MAX_TEXT_BYTES));
                }
            }
        }
    }
}
