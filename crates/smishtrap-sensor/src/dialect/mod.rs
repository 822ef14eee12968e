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
