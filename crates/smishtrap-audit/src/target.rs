//! The targets an operator names: one host, `host:port`, URL or CIDR a line, or a Shodan /
//! Censys JSON export. Nothing else is ever contacted: no DNS expansion, no discovery.
//!
//! Pure and total: any text gives targets or a [`TargetError`] naming the line, never a panic;
//! CIDRs expand only up to the cap.

use std::collections::HashSet;
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use serde::Serialize;
use serde_json::Value;

/// Targets a file may expand to unless the operator raises the cap (a /20).
pub const DEFAULT_MAX_TARGETS: usize = 4096;
/// Longest line read from a targets file.
pub const MAX_LINE_BYTES: usize = 4096;
/// Longest host name (RFC 1035).
const MAX_HOST_BYTES: usize = 253;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Scheme {
    Http,
    Https,
}

impl Scheme {
    pub fn as_str(self) -> &'static str {
        match self {
            Scheme::Http => "http",
            Scheme::Https => "https",
        }
    }

    pub fn default_port(self) -> u16 {
        match self {
            Scheme::Http => 80,
            Scheme::Https => 443,
        }
    }
}

/// One router to audit. `host` is an IP literal or a lowercase DNS name checked to be one.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Target {
    /// Given by a URL or the export; `None` means "try HTTP, then HTTPS".
    pub scheme: Option<Scheme>,
    pub host: Host,
    /// Given explicitly; else the scheme's default.
    pub port: Option<u16>,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Host {
    Ip(IpAddr),
    Name(String),
}

impl fmt::Display for Host {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Host::Ip(IpAddr::V6(ip)) => write!(f, "[{ip}]"),
            Host::Ip(ip) => write!(f, "{ip}"),
            Host::Name(name) => f.write_str(name),
        }
    }
}

impl Target {
    /// The port a scheme connects to.
    pub fn port_for(&self, scheme: Scheme) -> u16 {
        self.port.unwrap_or(scheme.default_port())
    }

    /// The schemes to try, in order.
    pub fn schemes(&self) -> Vec<Scheme> {
        match (self.scheme, self.port) {
            (Some(s), _) => vec![s],
            (None, Some(443 | 8443)) => vec![Scheme::Https, Scheme::Http],
            (None, _) => vec![Scheme::Http, Scheme::Https],
        }
    }

    /// `scheme://host:port` for one scheme (the base every request path is joined to).
    pub fn base_url(&self, scheme: Scheme) -> String {
        format!("{}://{}:{}", scheme.as_str(), self.host, self.port_for(scheme))
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(s) = self.scheme {
            write!(f, "{}://", s.as_str())?;
        }
        write!(f, "{}", self.host)?;
        if let Some(p) = self.port {
            write!(f, ":{p}")?;
        }
        Ok(())
    }
}

impl Serialize for Target {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// A targets file could not be read as targets.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TargetError {
    #[error("line {line}: {reason}")]
    Line { line: usize, reason: String },
    #[error("{count} targets exceed the cap of {cap}; raise it with --max-targets")]
    TooMany { count: u128, cap: usize },
}

fn line_err(line: usize, reason: impl Into<String>) -> TargetError {
    TargetError::Line { line, reason: reason.into() }
}

/// Reads a targets file: a Shodan or Censys JSON export (array or JSON lines) when it starts
/// with `[` or `{`, else one target a line (`#` starts a comment). Duplicates are dropped,
/// first order kept; more than `cap` targets is an error, never a silent cut.
pub fn parse_targets(text: &str, cap: usize) -> Result<Vec<Target>, TargetError> {
    let trimmed = text.trim_start_matches('\u{feff}').trim_start();
    // `[::1]:80` is a target line; an export array opens with an object (or is empty)
    let array =
        trimmed.strip_prefix('[').map(str::trim_start).is_some_and(|r| r.starts_with(['{', ']']));
    let targets = if array || trimmed.starts_with('{') {
        parse_export(trimmed, cap)?
    } else {
        parse_lines(text, cap)?
    };
    let mut seen = HashSet::new();
    Ok(targets.into_iter().filter(|t| seen.insert(t.clone())).collect())
}

fn parse_lines(text: &str, cap: usize) -> Result<Vec<Target>, TargetError> {
    let mut out = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let n = i + 1;
        if raw.len() > MAX_LINE_BYTES {
            return Err(line_err(n, format!("longer than {MAX_LINE_BYTES} bytes")));
        }
        let line = raw.split('#').next().unwrap_or("").trim();
        if line.is_empty() {
            continue;
        }
        match parse_line(line).map_err(|reason| line_err(n, reason))? {
            Entry::One(t) => out.push(t),
            Entry::Cidr(net) => {
                let total = out.len() as u128 + net.size();
                if total > cap as u128 {
                    return Err(TargetError::TooMany { count: total, cap });
                }
                out.extend(net.hosts().map(|ip| Target {
                    scheme: None,
                    host: Host::Ip(ip),
                    port: None,
                }));
            }
        }
        if out.len() > cap {
            return Err(TargetError::TooMany { count: out.len() as u128, cap });
        }
    }
    Ok(out)
}

enum Entry {
    One(Target),
    Cidr(Cidr),
}

/// One non-empty line without its comment.
fn parse_line(line: &str) -> Result<Entry, String> {
    if line.contains(char::is_whitespace) {
        return Err("one target a line (found spaces)".to_owned());
    }
    if let Some((scheme, rest)) = line.split_once("://") {
        let scheme = match scheme.to_ascii_lowercase().as_str() {
            "http" => Scheme::Http,
            "https" => Scheme::Https,
            other => return Err(format!("scheme {:?} is not http or https", bounded(other))),
        };
        // the path of a URL is not a target: the audit asks for its own fixed paths
        let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
        if authority.contains('@') {
            return Err("credentials in a URL are not accepted (use --credentials)".to_owned());
        }
        let (host, port) = host_port(authority)?;
        return Ok(Entry::One(Target { scheme: Some(scheme), host, port }));
    }
    if let Some((addr, prefix)) = line.split_once('/') {
        return Cidr::parse(addr, prefix).map(Entry::Cidr);
    }
    let (host, port) = host_port(line)?;
    Ok(Entry::One(Target { scheme: None, host, port }))
}

/// `host`, `host:port`, `[v6]`, `[v6]:port` or a bare IPv6 literal.
fn host_port(s: &str) -> Result<(Host, Option<u16>), String> {
    if s.is_empty() {
        return Err("empty host".to_owned());
    }
    if let Some(rest) = s.strip_prefix('[') {
        let (ip, after) = rest.split_once(']').ok_or("unclosed [ in an IPv6 address")?;
        let ip: Ipv6Addr =
            ip.parse().map_err(|_| format!("{:?} is not an IPv6 address", bounded(ip)))?;
        let port = match after {
            "" => None,
            p => Some(port(p.strip_prefix(':').ok_or("expected :port after ]")?)?),
        };
        return Ok((Host::Ip(IpAddr::V6(ip)), port));
    }
    if let Ok(ip) = s.parse::<Ipv6Addr>() {
        return Ok((Host::Ip(IpAddr::V6(ip)), None));
    }
    let (host, port) = match s.rsplit_once(':') {
        Some((h, p)) => (h, Some(port(p)?)),
        None => (s, None),
    };
    if let Ok(ip) = host.parse::<Ipv4Addr>() {
        return Ok((Host::Ip(IpAddr::V4(ip)), port));
    }
    Ok((Host::Name(host_name(host)?), port))
}

fn port(s: &str) -> Result<u16, String> {
    match s.parse::<u16>() {
        Ok(p) if p > 0 => Ok(p),
        _ => Err(format!("{:?} is not a port (1-65535)", bounded(s))),
    }
}

/// A DNS name as written (no lookup here): ASCII letters, digits, `-` and `.`, labels of
/// 1-63 bytes; returned lowercase. Anything that looks like a mangled IP address is refused.
fn host_name(s: &str) -> Result<String, String> {
    let name = s.strip_suffix('.').unwrap_or(s).to_ascii_lowercase();
    let labels_ok = name
        .split('.')
        .all(|l| !l.is_empty() && l.len() <= 63 && !l.starts_with('-') && !l.ends_with('-'));
    let chars_ok = name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.');
    let numeric = name.bytes().all(|b| b.is_ascii_digit() || b == b'.');
    if name.is_empty() || name.len() > MAX_HOST_BYTES || !labels_ok || !chars_ok || numeric {
        return Err(format!("{:?} is not an IP address or host name", bounded(s)));
    }
    Ok(name)
}

/// An IP network.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Cidr {
    base: IpAddr,
    prefix: u8,
}

impl Cidr {
    fn parse(addr: &str, prefix: &str) -> Result<Cidr, String> {
        let base: IpAddr =
            addr.parse().map_err(|_| format!("{:?} is not an IP address", bounded(addr)))?;
        let max = if base.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix.parse::<u8>() {
            Ok(p) if p <= max => p,
            _ => return Err(format!("{:?} is not a prefix length (0-{max})", bounded(prefix))),
        };
        Ok(Cidr { base, prefix })
    }

    fn host_bits(self) -> u32 {
        let max = if self.base.is_ipv4() { 32 } else { 128 };
        max - u32::from(self.prefix)
    }

    /// Addresses the network expands to (IPv4 networks of 4 and more addresses skip the
    /// network and broadcast addresses).
    fn size(self) -> u128 {
        let all = 1u128.checked_shl(self.host_bits()).unwrap_or(u128::MAX);
        if self.base.is_ipv4() && self.host_bits() >= 2 { all - 2 } else { all }
    }

    fn hosts(self) -> impl Iterator<Item = IpAddr> {
        let bits = self.host_bits();
        let mask = if bits >= 128 { 0 } else { u128::MAX << bits };
        let (start, v4) = match self.base {
            IpAddr::V4(ip) => (u128::from(u32::from(ip)) & (mask & u128::from(u32::MAX)), true),
            IpAddr::V6(ip) => (u128::from(ip) & mask, false),
        };
        let skip_edges = v4 && bits >= 2;
        let first = start + u128::from(skip_edges);
        let count = self.size();
        (0..count).map(move |k| {
            let n = first + k;
            if v4 {
                IpAddr::V4(Ipv4Addr::from(u32::try_from(n).unwrap_or(u32::MAX)))
            } else {
                IpAddr::V6(Ipv6Addr::from(n))
            }
        })
    }
}

/// A Shodan export (JSON lines of banners with `ip_str`, `port`, `ssl`) or a Censys one (hosts
/// with `ip` and `services[]` of `port`, `service_name`, `extended_service_name`), as an array
/// or JSON lines. Only HTTP services of Censys hosts are taken.
fn parse_export(text: &str, cap: usize) -> Result<Vec<Target>, TargetError> {
    let mut out = Vec::new();
    let push = |line: usize, value: &Value, out: &mut Vec<Target>| -> Result<(), TargetError> {
        out.extend(export_targets(value).map_err(|r| line_err(line, r))?);
        if out.len() > cap {
            return Err(TargetError::TooMany { count: out.len() as u128, cap });
        }
        Ok(())
    };
    if text.starts_with('[') {
        let items: Vec<Value> = serde_json::from_str(text).map_err(|e| {
            line_err(e.line(), format!("not a JSON array: {}", bounded(&e.to_string())))
        })?;
        for (i, item) in items.iter().enumerate() {
            push(i + 1, item, &mut out)?;
        }
    } else {
        for (i, line) in text.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            let value: Value = serde_json::from_str(line)
                .map_err(|e| line_err(i + 1, format!("not JSON: {}", bounded(&e.to_string()))))?;
            push(i + 1, &value, &mut out)?;
        }
    }
    Ok(out)
}

fn export_targets(v: &Value) -> Result<Vec<Target>, String> {
    let ip_of = |s: &str| -> Result<IpAddr, String> {
        s.parse().map_err(|_| format!("{:?} is not an IP address", bounded(s)))
    };
    let port_of = |p: &Value| -> Result<u16, String> {
        p.as_u64()
            .and_then(|p| u16::try_from(p).ok())
            .filter(|p| *p > 0)
            .ok_or_else(|| "port is not 1-65535".to_owned())
    };
    if let Some(ip) = v.get("ip_str").and_then(Value::as_str) {
        let port = v.get("port").map(port_of).transpose()?;
        let scheme = if v.get("ssl").is_some_and(|s| !s.is_null()) {
            Some(Scheme::Https)
        } else if v.get("http").is_some() {
            Some(Scheme::Http)
        } else {
            None
        };
        return Ok(vec![Target { scheme, host: Host::Ip(ip_of(ip)?), port }]);
    }
    let Some(ip) = v.get("ip").and_then(Value::as_str) else {
        return Err("neither a Shodan banner (ip_str) nor a Censys host (ip)".to_owned());
    };
    let host = Host::Ip(ip_of(ip)?);
    let Some(services) = v.get("services").and_then(Value::as_array) else {
        let port = v.get("port").map(port_of).transpose()?;
        return Ok(vec![Target { scheme: None, host, port }]);
    };
    let mut out = Vec::new();
    for s in services {
        let name = |k: &str| s.get(k).and_then(Value::as_str).unwrap_or("").to_ascii_uppercase();
        let (service, extended) = (name("service_name"), name("extended_service_name"));
        if service != "HTTP" && extended != "HTTPS" && extended != "HTTP" {
            continue;
        }
        let scheme = if extended == "HTTPS" || s.get("tls").is_some_and(|t| !t.is_null()) {
            Scheme::Https
        } else {
            Scheme::Http
        };
        let port = s.get("port").map(port_of).transpose()?;
        out.push(Target { scheme: Some(scheme), host: host.clone(), port });
    }
    Ok(out)
}

/// Input shown back in an error: at most 64 bytes, control characters escaped.
fn bounded(s: &str) -> String {
    crate::text::shown(s, 64)
}

/// Fuzz entry point (`fuzz/fuzz_targets/audit_targets.rs`, and the proptest below): any bytes
/// read as a targets file, with the first byte choosing the cap; never a panic, never more
/// targets than the cap, and every target printed parses back to itself.
pub fn fuzz_targets(data: &[u8]) {
    let (cap, rest) = match data.split_first() {
        Some((c, rest)) => (usize::from(*c) * 16, rest),
        None => (0, data),
    };
    let text = String::from_utf8_lossy(rest);
    if let Ok(targets) = parse_targets(&text, cap) {
        assert!(targets.len() <= cap);
        for t in targets.iter().take(16) {
            assert_eq!(parse_targets(&t.to_string(), 1).ok(), Some(vec![t.clone()]), "{t}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn check(input: &str, cap: usize, expect: Result<&[&str], &str>) {
        let got = parse_targets(input, cap)
            .map(|ts| ts.iter().map(ToString::to_string).collect::<Vec<_>>())
            .map_err(|e| e.to_string());
        let expect = expect
            .map(|e| e.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>())
            .map_err(str::to_owned);
        assert_eq!(got, expect, "input {input:?}");
    }

    #[test]
    fn lines() {
        check("", 10, Ok(&[]));
        check("# fleet\n\n  10.0.0.1  # core\n", 10, Ok(&["10.0.0.1"]));
        check("10.0.0.1:8080", 10, Ok(&["10.0.0.1:8080"]));
        check("Router-1.Example.NET", 10, Ok(&["router-1.example.net"]));
        check("router.example:81", 10, Ok(&["router.example:81"]));
        check("https://10.0.0.1:8443/login.html?x", 10, Ok(&["https://10.0.0.1:8443"]));
        check("HTTP://[::1]", 10, Ok(&["http://[::1]"]));
        check("::1\n[2001:db8::1]:8080", 10, Ok(&["[::1]", "[2001:db8::1]:8080"]));
        check("10.0.0.1\n10.0.0.1\n10.0.0.2", 10, Ok(&["10.0.0.1", "10.0.0.2"]));
        check("10.0.0.0/30", 10, Ok(&["10.0.0.1", "10.0.0.2"]));
        check("10.0.0.7/31", 10, Ok(&["10.0.0.6", "10.0.0.7"]));
        check("10.0.0.9/32", 10, Ok(&["10.0.0.9"]));
        check("2001:db8::/127", 10, Ok(&["[2001:db8::]", "[2001:db8::1]"]));
    }

    #[test]
    fn refusals() {
        check("ftp://10.0.0.1", 10, Err("line 1: scheme \"ftp\" is not http or https"));
        check(
            "http://admin:pw@10.0.0.1",
            10,
            Err("line 1: credentials in a URL are not accepted (use --credentials)"),
        );
        check("10.0.0.1 10.0.0.2", 10, Err("line 1: one target a line (found spaces)"));
        check("x\n10.0.0.1:0", 10, Err("line 2: \"0\" is not a port (1-65535)"));
        check("10.0.0.1:99999", 10, Err("line 1: \"99999\" is not a port (1-65535)"));
        check("10.0.0.256", 10, Err("line 1: \"10.0.0.256\" is not an IP address or host name"));
        check(
            "-bad-.example",
            10,
            Err("line 1: \"-bad-.example\" is not an IP address or host name"),
        );
        check("a_b", 10, Err("line 1: \"a_b\" is not an IP address or host name"));
        check("10.0.0.0/33", 10, Err("line 1: \"33\" is not a prefix length (0-32)"));
        check("[::1", 10, Err("line 1: unclosed [ in an IPv6 address"));
    }

    #[test]
    fn cidr_caps() {
        assert_eq!(parse_targets("10.0.0.0/20", DEFAULT_MAX_TARGETS).map(|t| t.len()), Ok(4094));
        check(
            "10.0.0.0/19",
            DEFAULT_MAX_TARGETS,
            Err("8190 targets exceed the cap of 4096; raise it with --max-targets"),
        );
        check(
            "::/0",
            DEFAULT_MAX_TARGETS,
            Err(
                "340282366920938463463374607431768211455 targets exceed the cap of 4096; raise it with --max-targets",
            ),
        );
        check(
            "10.0.0.1\n10.0.0.2\n10.0.0.3",
            2,
            Err("3 targets exceed the cap of 2; raise it with --max-targets"),
        );
        assert_eq!(parse_targets("10.0.0.0/19", 10_000).map(|t| t.len()), Ok(8190));
    }

    #[test]
    fn exports() {
        let shodan = r#"{"ip_str":"192.0.2.1","port":443,"ssl":{"cert":{}},"http":{}}
{"ip_str":"192.0.2.2","port":8080,"http":{"title":"x"}}
{"ip_str":"192.0.2.3","port":80}"#;
        check(shodan, 10, Ok(&["https://192.0.2.1:443", "http://192.0.2.2:8080", "192.0.2.3:80"]));
        let censys = r#"[{"ip":"198.51.100.7","services":[{"port":22,"service_name":"SSH"},{"port":443,"service_name":"HTTP","extended_service_name":"HTTPS"},{"port":8080,"service_name":"HTTP"}]}]"#;
        check(censys, 10, Ok(&["https://198.51.100.7:443", "http://198.51.100.7:8080"]));
        check(r#"{"ip_str":"nope"}"#, 10, Err("line 1: \"nope\" is not an IP address"));
        check(r#"{"ip_str":"192.0.2.1","port":70000}"#, 10, Err("line 1: port is not 1-65535"));
        check(
            r#"[{"ip":"192.0.2.1"}"#,
            10,
            Err("line 1: not a JSON array: EOF while parsing a list at line 1 column 19"),
        );
        check(
            r#"[{"x":1}]"#,
            10,
            Err("line 1: neither a Shodan banner (ip_str) nor a Censys host (ip)"),
        );
    }

    #[test]
    fn schemes_to_try() {
        let t = |s: &str| parse_targets(s, 1).unwrap_or_default().remove(0);
        assert_eq!(t("10.0.0.1").schemes(), [Scheme::Http, Scheme::Https]);
        assert_eq!(t("10.0.0.1:8443").schemes(), [Scheme::Https, Scheme::Http]);
        assert_eq!(t("https://10.0.0.1").schemes(), [Scheme::Https]);
        assert_eq!(t("https://10.0.0.1").base_url(Scheme::Https), "https://10.0.0.1:443");
        assert_eq!(t("[::1]:81").base_url(Scheme::Http), "http://[::1]:81");
    }

    proptest::proptest! {
        #[test]
        fn never_panics_and_respects_the_cap(text in "[0-9a-f:./\\[\\]# \n{}\"a-z_,]{0,200}", cap in 0usize..300) {
            if let Ok(ts) = parse_targets(&text, cap) {
                proptest::prop_assert!(ts.len() <= cap);
            }
        }

        #[test]
        fn fuzz_entry_never_panics(data in proptest::collection::vec(proptest::num::u8::ANY, 0..300)) {
            fuzz_targets(&data);
        }

        #[test]
        fn printed_targets_parse_back(a in 1u8..255, b: u8, port in proptest::option::of(1u16..), https: Option<bool>) {
            let scheme = https.map(|h| if h { Scheme::Https } else { Scheme::Http });
            let t = Target { scheme, host: Host::Ip(IpAddr::V4(Ipv4Addr::new(10, a, b, 1))), port };
            proptest::prop_assert_eq!(parse_targets(&t.to_string(), 1), Ok(vec![t]));
        }
    }
}
