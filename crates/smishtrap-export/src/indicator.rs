//! The one place that decides what an export may ask a sharing community to block.
//!
//! Never blocked: URL shorteners (the analyser's list, `smishtrap_extract::is_shortener`),
//! hosting and messaging platforms many tenants share (`data/platforms.txt`, checked at
//! load), a brand's official domains (the brand catalog), and addresses that are loopback,
//! private, link-local, shared, reserved, documentation, multicast or the sensor's own.
//! Such values are exported as context only (the full URL stays, `to_ids` off where the
//! value is not specific to the attacker).

use std::collections::HashSet;
use std::net::IpAddr;
use std::sync::OnceLock;

use smishtrap_intel::Catalog;

static PLATFORMS_TXT: &str = include_str!("../data/platforms.txt");
const PLATFORMS_FILE: &str = "smishtrap-export/data/platforms.txt";

/// Why a value is no blockable indicator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reason {
    Shortener,
    /// A hosting or messaging platform shared by many tenants.
    Platform,
    /// An official domain of this brand.
    Official(String),
    /// Loopback, private, reserved, documentation and similar ranges (which one).
    NotPublic(&'static str),
    /// One of the sensor's own addresses.
    OwnAddress,
    /// Not a DNS name or address at all.
    Malformed,
}

impl Reason {
    /// Short words for comments and notes.
    pub fn describe(&self) -> String {
        match self {
            Reason::Shortener => "a link shortener (block the full URL instead)".into(),
            Reason::Platform => {
                "a shared hosting or messaging platform (block the full URL)".into()
            }
            Reason::Official(brand) => format!("an official domain of {brand}"),
            Reason::NotPublic(range) => format!("a {range} address"),
            Reason::OwnAddress => "the sensor's own address".into(),
            Reason::Malformed => "not a valid host or address".into(),
        }
    }
}

/// A malformed line of the platforms file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}:{line}: {reason}")]
pub struct PlatformsError {
    pub file: String,
    pub line: usize,
    pub reason: String,
}

/// Shared and per-tenant platform names (see `data/platforms.txt`).
#[derive(Debug, Clone, Default)]
pub struct Platforms {
    shared: HashSet<String>,
    tenant: HashSet<String>,
}

impl Platforms {
    /// Parses and checks a platforms file; `file` names it in errors.
    pub fn parse(file: &str, text: &str) -> Result<Platforms, PlatformsError> {
        let mut out = Platforms::default();
        for (n, raw) in text.lines().enumerate() {
            let line = raw.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let fail =
                |reason: String| PlatformsError { file: file.to_owned(), line: n + 1, reason };
            let (kind, name) =
                line.split_once(char::is_whitespace).map(|(k, v)| (k, v.trim())).ok_or_else(
                    || fail(format!("expected `shared NAME` or `tenant NAME`, got {line:?}")),
                )?;
            if !is_dns_name(name) {
                return Err(fail(format!("{name:?} is not a lowercase ASCII DNS name")));
            }
            let set = match kind {
                "shared" => &mut out.shared,
                "tenant" => &mut out.tenant,
                other => return Err(fail(format!("unknown kind {other:?} (shared, tenant)"))),
            };
            if !set.insert(name.to_owned()) {
                return Err(fail(format!("{name} is listed twice")));
            }
        }
        if let Some(both) = out.shared.iter().find(|n| out.tenant.contains(*n)) {
            return Err(PlatformsError {
                file: file.to_owned(),
                line: 0,
                reason: format!("{both} is both shared and tenant"),
            });
        }
        Ok(out)
    }

    /// The list shipped with smishtrap.
    pub fn builtin() -> Result<Platforms, PlatformsError> {
        Platforms::parse(PLATFORMS_FILE, PLATFORMS_TXT)
    }

    fn covers(&self, host: &str) -> bool {
        let bare = host.strip_prefix("www.").unwrap_or(host);
        if self.tenant.contains(bare) {
            return true;
        }
        // the host or any parent name is shared
        let mut name = host;
        loop {
            if self.shared.contains(name) {
                return true;
            }
            match name.split_once('.') {
                Some((_, parent)) if parent.contains('.') => name = parent,
                _ => return false,
            }
        }
    }
}

fn is_dns_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 253
        && name.contains('.')
        && name.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        })
}

/// The decisions of one export: platforms, official domains and the sensor's addresses.
#[derive(Debug, Clone, Default)]
pub struct Hygiene {
    platforms: Platforms,
    own: HashSet<IpAddr>,
}

/// The built-in catalog, loaded once; `None` if it does not load (then no domain counts as
/// official: the catalog's own tests keep that from shipping).
fn catalog() -> Option<&'static Catalog> {
    static CATALOG: OnceLock<Option<Catalog>> = OnceLock::new();
    CATALOG.get_or_init(|| Catalog::builtin().ok()).as_ref()
}

impl Hygiene {
    /// The built-in platform list and brand catalog, with the sensor's own addresses.
    pub fn builtin(own: &[IpAddr]) -> Result<Hygiene, PlatformsError> {
        Ok(Hygiene { platforms: Platforms::builtin()?, own: own.iter().copied().collect() })
    }

    /// Whether a host name may be blocked as a domain indicator.
    pub fn host(&self, host: &str) -> Result<(), Reason> {
        let host = host.trim_end_matches('.').to_ascii_lowercase();
        if let Ok(ip) = host.trim_matches(['[', ']']).parse::<IpAddr>() {
            return self.ip(ip);
        }
        if !is_dns_name(&host) {
            return Err(Reason::Malformed);
        }
        if smishtrap_extract::is_shortener(&host) {
            return Err(Reason::Shortener);
        }
        if self.platforms.covers(&host) {
            return Err(Reason::Platform);
        }
        if let Some(brand) = official(&host) {
            return Err(Reason::Official(brand));
        }
        Ok(())
    }

    /// Whether a full URL is specific enough to block (`to_ids`): yes on shorteners and
    /// platforms (the path names the lure), no on a brand's own site or a non-public host.
    pub fn url(&self, host: &str) -> Result<(), Reason> {
        match self.host(host) {
            Err(Reason::Shortener | Reason::Platform) | Ok(()) => Ok(()),
            // a URL of an IP that is public and not ours is specific
            Err(Reason::Malformed) if host.is_empty() => Ok(()),
            Err(other) => Err(other),
        }
    }

    /// Whether an address may be blocked.
    pub fn ip(&self, ip: IpAddr) -> Result<(), Reason> {
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
            v4 => v4,
        };
        if self.own.contains(&ip) {
            return Err(Reason::OwnAddress);
        }
        match not_public(ip) {
            Some(range) => Err(Reason::NotPublic(range)),
            None => Ok(()),
        }
    }
}

/// The brand whose official domain `host` is (or is under).
fn official(host: &str) -> Option<String> {
    let catalog = catalog()?;
    let domain = smishtrap_extract::RegistrableDomain::parse(host)?;
    let brand = catalog.official_for(domain.as_str()).first()?;
    Some(catalog.brand(*brand).name.clone())
}

/// The special-purpose range `ip` is in (RFC 6890 and successors), if any.
fn not_public(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, c, _] = v4.octets();
            Some(match (a, b, c) {
                _ if v4.is_unspecified() || a == 0 => "unspecified",
                _ if v4.is_loopback() => "loopback",
                _ if v4.is_private() => "private",
                _ if v4.is_link_local() => "link-local",
                (100, 64..=127, _) => "shared (carrier-grade NAT)",
                (192, 0, 0) => "IETF protocol",
                (192, 0, 2) | (198, 51, 100) | (203, 0, 113) => "documentation",
                (198, 18..=19, _) => "benchmarking",
                (192, 88, 99) => "6to4 relay",
                _ if v4.is_multicast() => "multicast",
                _ if a >= 240 => "reserved",
                _ => return None,
            })
        }
        IpAddr::V6(v6) => {
            let s = v6.segments();
            Some(match s {
                _ if v6.is_unspecified() => "unspecified",
                _ if v6.is_loopback() => "loopback",
                _ if v6.is_multicast() => "multicast",
                [0x2001, 0x0db8, ..] => "documentation",
                [0x3fff, 0..=0x0fff, ..] => "documentation",
                [a, ..] if a & 0xfe00 == 0xfc00 => "private (unique local)",
                [a, ..] if a & 0xffc0 == 0xfe80 => "link-local",
                [0x0064, 0xff9b, 1, ..] => "local NAT64",
                [0x0100, 0, 0, 0, ..] => "discard",
                [0x2001, b, ..] if b < 0x0200 => "IETF protocol",
                [0x2002, ..] => "6to4",
                _ => return None,
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hygiene() -> Hygiene {
        match Hygiene::builtin(&["192.0.2.1".parse().unwrap_or(IpAddr::from([0, 0, 0, 0]))]) {
            Ok(h) => h,
            Err(e) => panic!("builtin platforms: {e}"),
        }
    }

    #[track_caller]
    fn check(value: &str, expect: Result<(), Reason>) {
        let h = hygiene();
        let got = match value.parse::<IpAddr>() {
            Ok(ip) => h.ip(ip),
            Err(_) => h.host(value),
        };
        assert_eq!(got, expect, "{value}");
    }

    #[test]
    fn hosts_and_addresses() {
        check("login.csam-be.info", Ok(()));
        check("bit.ly", Err(Reason::Shortener));
        check("www.bit.ly", Err(Reason::Shortener));
        check("sites.google.com", Err(Reason::Platform));
        check("storage.googleapis.com", Err(Reason::Platform));
        check("wa.me", Err(Reason::Platform));
        check("netlify.app", Err(Reason::Platform));
        // one tenant's name under a per-tenant platform is the attacker's
        check("csam-verify.netlify.app", Ok(()));
        check("www.bpost.be", Err(Reason::Official("bpost".into())));
        check("BIT.LY.", Err(Reason::Shortener));
        check("not a host", Err(Reason::Malformed));
        check("127.0.0.1", Err(Reason::NotPublic("loopback")));
        check("10.1.2.3", Err(Reason::NotPublic("private")));
        check("172.16.0.9", Err(Reason::NotPublic("private")));
        check("169.254.1.1", Err(Reason::NotPublic("link-local")));
        check("100.64.0.1", Err(Reason::NotPublic("shared (carrier-grade NAT)")));
        check("198.51.100.7", Err(Reason::NotPublic("documentation")));
        check("203.0.113.9", Err(Reason::NotPublic("documentation")));
        check("240.0.0.1", Err(Reason::NotPublic("reserved")));
        check("::1", Err(Reason::NotPublic("loopback")));
        check("fd00::1", Err(Reason::NotPublic("private (unique local)")));
        check("2001:db8::1", Err(Reason::NotPublic("documentation")));
        check("::ffff:127.0.0.1", Err(Reason::NotPublic("loopback")));
        check("192.0.2.1", Err(Reason::OwnAddress));
        check("8.8.8.8", Ok(()));
        check("2a00:1450:4001::1", Ok(()));
        check("[127.0.0.1]", Err(Reason::NotPublic("loopback")));
    }

    #[test]
    fn urls_on_shared_hosts_are_specific_but_official_sites_are_not() {
        let h = hygiene();
        assert_eq!(h.url("bit.ly"), Ok(()));
        assert_eq!(h.url("sites.google.com"), Ok(()));
        assert_eq!(h.url("www.bpost.be"), Err(Reason::Official("bpost".into())));
        assert_eq!(h.url("127.0.0.1"), Err(Reason::NotPublic("loopback")));
    }

    #[test]
    fn the_platforms_file_is_checked_naming_file_line_and_reason() {
        assert!(Platforms::builtin().is_ok());
        let err = |text: &str| match Platforms::parse("p.txt", text) {
            Ok(_) => panic!("{text:?} accepted"),
            Err(e) => e.to_string(),
        };
        assert_eq!(
            err("# c\nshared a.com\nhosted b.com"),
            "p.txt:3: unknown kind \"hosted\" (shared, tenant)"
        );
        assert_eq!(err("shared A.com"), "p.txt:1: \"A.com\" is not a lowercase ASCII DNS name");
        assert_eq!(err("tenant a.com\ntenant a.com"), "p.txt:2: a.com is listed twice");
        assert_eq!(
            err("nodomain"),
            "p.txt:1: expected `shared NAME` or `tenant NAME`, got \"nodomain\""
        );
    }
}
