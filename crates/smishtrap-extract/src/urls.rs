//! URL finding and host normalisation.
//!
//! Pipeline: refang (with a byte map back to the input) → `linkify` with optional scheme →
//! our own trimming and authority parsing (linkify finds, it does not normalise) → IDNA
//! (`idna`) for the ASCII and Unicode host → public suffix list (`psl`) for the registrable
//! domain → UTS #39 skeleton and mixed-script check (`unicode-security`).
//! Scheme-less tokens count only when their TLD is an ICANN public suffix, which rules out
//! `file.txt`, `v1.2` and most `Mr.Smith`-like words.

use std::collections::HashSet;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::ops::Range;
use std::sync::OnceLock;

use linkify::{LinkFinder, LinkKind};
use serde::{Serialize, Serializer};
use unicode_security::{GeneralSecurityProfile, MixedScript};

use crate::defang::{is_icann_tld, refang_mapped};
use crate::{Diagnostic, DiagnosticKind, Extracted, MAX_URLS, quote};

/// One URL found in a text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ExtractedUrl {
    /// Byte span in the input, always on char boundaries.
    pub span: Range<usize>,
    /// As written in the text.
    pub raw: String,
    /// Refanged and normalised, with scheme (`http://` added when missing), ASCII host.
    pub url: String,
    /// Lowercase ASCII (punycode) host, without port or userinfo.
    pub host: String,
    /// Unicode form of the host.
    pub host_unicode: String,
    pub registrable_domain: Option<RegistrableDomain>,
    /// UTS #39 confusable skeleton of `host_unicode`.
    pub skeleton: String,
    /// Some label of the host mixes scripts (e.g. Latin with Cyrillic look-alikes).
    pub mixed_script: bool,
    /// The host or its registrable domain is a known URL shortener.
    pub shortener: bool,
    /// The raw form was defanged or evasive (`hxxp`, `[.]`, spaced dots, zero-width chars).
    pub defanged: bool,
    /// The host is an IPv4 or IPv6 literal.
    pub ip_host: bool,
    /// Written without scheme, `www.` or path (`example.com`): weaker evidence of a link.
    pub bare: bool,
    /// The authority carries userinfo (`https://bank.com@evil.top/`), a classic lure.
    pub has_userinfo: bool,
    /// Explicit port, when written.
    pub port: Option<u16>,
}

/// An e-mail address found in a text (reply-to-this-address lures, call-back scams).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ExtractedEmail {
    /// Byte span in the input, on char boundaries.
    pub span: Range<usize>,
    pub raw: String,
    /// Lowercase ASCII (punycode) domain part.
    pub domain: String,
    pub registrable_domain: RegistrableDomain,
}

/// A registrable domain ("eTLD+1") from the public suffix list: `csam-be.info`, `bbc.co.uk`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RegistrableDomain {
    domain: String,
    /// Byte offset of the public suffix inside `domain`.
    suffix_at: usize,
}

impl RegistrableDomain {
    /// Registrable domain of a host (any case, ASCII or Unicode); `None` when the host has no
    /// known public suffix or is itself a suffix.
    pub fn parse(host: &str) -> Option<Self> {
        let host = host.trim_end_matches('.');
        if host.is_empty() || host.len() > 253 {
            return None;
        }
        let ascii = if host.is_ascii() {
            host.to_ascii_lowercase()
        } else {
            idna::domain_to_ascii_cow(host.as_bytes(), idna::AsciiDenyList::URL).ok()?.into_owned()
        };
        Self::from_ascii_host(&ascii)
    }

    /// `host` must already be lowercase ASCII.
    fn from_ascii_host(host: &str) -> Option<Self> {
        let Some(d) = psl::domain(host.as_bytes()) else { return Self::icann_only(host) };
        d.suffix().typ()?;
        let domain = std::str::from_utf8(d.as_bytes()).ok()?.to_owned();
        let suffix_len = d.suffix().as_bytes().len();
        if suffix_len >= domain.len() {
            return None;
        }
        let suffix_at = domain.len() - suffix_len;
        Some(Self { domain, suffix_at })
    }

    /// A host that is itself a private-section suffix (`us.com`, `github.io`) is a site of
    /// the suffix operator: its registrable domain under the ICANN rules.
    fn icann_only(host: &str) -> Option<Self> {
        let whole = psl::suffix(host.as_bytes())?;
        if whole.typ() != Some(psl::Type::Private) || whole.as_bytes() != host.as_bytes() {
            return None;
        }
        // the longest ICANN suffix that leaves one label in front of it
        let dots = host.match_indices('.').map(|(i, _)| i);
        for dot in dots {
            let tail = &host[dot + 1..];
            let icann = psl::suffix(tail.as_bytes()).is_some_and(|s| {
                s.typ() == Some(psl::Type::Icann) && s.as_bytes() == tail.as_bytes()
            });
            if icann {
                let start = host[..dot].rfind('.').map_or(0, |p| p + 1);
                let domain = host[start..].to_owned();
                return Some(Self { suffix_at: dot + 1 - start, domain });
            }
        }
        None
    }

    pub fn as_str(&self) -> &str {
        &self.domain
    }

    /// The domain as an owned string, without copying it.
    pub fn into_string(self) -> String {
        self.domain
    }

    /// The label bought from the registry: `csam-be` of `csam-be.info`.
    pub fn name(&self) -> &str {
        self.domain.get(..self.suffix_at.saturating_sub(1)).unwrap_or_default()
    }

    /// The public suffix: `info`, `co.uk`.
    pub fn suffix(&self) -> &str {
        self.domain.get(self.suffix_at..).unwrap_or_default()
    }

    /// Whether the suffix comes from the ICANN section (not a private one like `github.io`).
    pub fn is_icann(&self) -> bool {
        matches!(psl::suffix(self.domain.as_bytes()), Some(s) if s.typ() == Some(psl::Type::Icann))
    }
}

impl std::fmt::Display for RegistrableDomain {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.domain)
    }
}

impl Serialize for RegistrableDomain {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.domain)
    }
}

static SHORTENERS_TXT: &str = include_str!("../data/shorteners.txt");

fn shorteners() -> &'static HashSet<&'static str> {
    static SET: OnceLock<HashSet<&'static str>> = OnceLock::new();
    SET.get_or_init(|| {
        SHORTENERS_TXT
            .lines()
            .map(|l| l.split('#').next().unwrap_or_default().trim())
            .filter(|l| !l.is_empty())
            .collect()
    })
}

/// Whether a host (lowercase ASCII) or its registrable domain is a known URL shortener
/// (list shipped in `data/shorteners.txt`).
pub fn is_shortener(host: &str) -> bool {
    let set = shorteners();
    let host = host.strip_prefix("www.").unwrap_or(host);
    set.contains(host) || psl::domain_str(host).is_some_and(|d| set.contains(d))
}

/// Normalises one URL the way [`crate::extract`] normalises the URLs it finds (refang,
/// scheme, ASCII host, default port dropped, unsafe characters percent-encoded); `None` when
/// it is not a web link with a valid host. Idempotent: `normalize_url(u) == Some(u)` for
/// every URL it returns.
pub fn normalize_url(url: &str) -> Option<String> {
    if url.len() > crate::MAX_TEXT_BYTES {
        return None;
    }
    let refanged = crate::refang(url.trim());
    normalise(trim_trailing(&refanged)).ok().map(|n| n.url)
}

/// UTS #39 confusable skeleton of `s` (as in [`ExtractedUrl::skeleton`]), for comparing
/// brand names and domains with their look-alikes: `skeleton("pаypal") == skeleton("paypal")`.
pub fn confusable_skeleton(s: &str) -> String {
    if s.is_ascii() {
        let table = ascii_skeletons();
        let mut out = String::with_capacity(s.len());
        for b in s.bytes() {
            match table.get(usize::from(b)).and_then(Option::as_deref) {
                Some(p) => out.push_str(p),
                None => return unicode_security::skeleton(s).collect(),
            }
        }
        return out;
    }
    unicode_security::skeleton(s).collect()
}

/// The skeleton of each ASCII char when it is ASCII too. For ASCII text normalisation does
/// nothing and no char is ignorable, so its skeleton is these pieces joined (hosts are
/// mostly ASCII, and the full skeleton decomposes and recomposes every char).
fn ascii_skeletons() -> &'static [Option<String>] {
    static TABLE: OnceLock<Vec<Option<String>>> = OnceLock::new();
    TABLE.get_or_init(|| {
        (0u8..128)
            .map(|b| {
                let p: String = unicode_security::skeleton(&char::from(b).to_string()).collect();
                p.is_ascii().then_some(p)
            })
            .collect()
    })
}

/// File extensions that are also TLDs; bare `name.ext` tokens with them are files, not links.
const FILE_LIKE_TLDS: &[&str] = &["py", "sh", "md", "zip", "mov", "rs", "pl"];

static BARE_GTLDS_TXT: &str = include_str!("../data/bare_gtlds.txt");

/// Whether a domain written bare may end in `tld` (lowercase): any country code, or a
/// generic TLD from the shipped list.
fn bare_tld_ok(tld: &str) -> bool {
    static SET: OnceLock<HashSet<&'static str>> = OnceLock::new();
    let set = SET.get_or_init(|| {
        BARE_GTLDS_TXT
            .lines()
            .filter(|l| !l.starts_with('#'))
            .flat_map(str::split_whitespace)
            .collect()
    });
    (tld.len() == 2 && tld.bytes().all(|b| b.is_ascii_lowercase())) || set.contains(tld)
}

/// Trailing characters that end a sentence rather than a URL. Linear in the token length.
fn trim_trailing(token: &str) -> &str {
    let count = |open: char, close: char| {
        token.chars().fold((0usize, 0usize), |(o, c), ch| {
            (o + usize::from(ch == open), c + usize::from(ch == close))
        })
    };
    let (mut paren, mut square, mut curly) = (count('(', ')'), count('[', ']'), count('{', '}'));
    let mut t = token;
    loop {
        let Some(c) = t.chars().next_back() else { return t };
        let cut = match c {
            '.' | ',' | ':' | ';' | '!' | '?' | '\'' | '"' | '»' | '«' | '”' | '“' | '’' | '‘'
            | '…' | '>' | '*' | '_' | '~' | '<' => true,
            '(' => {
                paren.0 -= 1;
                true
            }
            '[' => {
                square.0 -= 1;
                true
            }
            '{' => {
                curly.0 -= 1;
                true
            }
            // a closing bracket stays when it closes one opened inside the URL: `wiki/A_(b)`
            ')' if paren.0 < paren.1 => {
                paren.1 -= 1;
                true
            }
            ']' if square.0 < square.1 => {
                square.1 -= 1;
                true
            }
            '}' if curly.0 < curly.1 => {
                curly.1 -= 1;
                true
            }
            _ => false,
        };
        if !cut {
            return t;
        }
        t = &t[..t.len() - c.len_utf8()];
    }
}

/// Accepted schemes; anything else (`javascript:`, `tel:`) is not a web link.
fn known_scheme(s: &str) -> Option<&'static str> {
    ["http", "https", "ftp"].into_iter().find(|k| s.eq_ignore_ascii_case(k))
}

pub(crate) struct Normalised {
    pub(crate) url: String,
    pub(crate) host: String,
    pub(crate) host_unicode: String,
    pub(crate) registrable_domain: Option<RegistrableDomain>,
    pub(crate) ip_host: bool,
    pub(crate) bare: bool,
    pub(crate) has_userinfo: bool,
    pub(crate) port: Option<u16>,
}

#[derive(Debug)]
pub(crate) enum Rejected {
    /// Not a URL at all (e.g. a file name); silently skipped.
    NotUrl,
    /// URL-shaped but its host is broken; reported.
    BadHost(String),
}

/// Normalises a refanged URL token. Idempotent on its own output.
pub(crate) fn normalise(token: &str) -> Result<Normalised, Rejected> {
    // a scheme is letters before `://` at the start; a `://` later is inside the path or query
    let scheme_end = token.find("://").filter(|&p| {
        p > 0
            && token[..p]
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.'))
    });
    let (scheme, rest) = match scheme_end {
        Some(p) => match known_scheme(&token[..p]) {
            Some(s) => (Some(s), &token[p + 3..]),
            None => return Err(Rejected::NotUrl),
        },
        None => (None, token),
    };
    let auth_end = rest.find(['/', '?', '#', '\\']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(auth_end);
    let (userinfo, host_port) = match authority.rfind('@') {
        Some(p) => (Some(&authority[..p]), &authority[p + 1..]),
        None => (None, authority),
    };
    let bad_escape = |u: &str| {
        u.match_indices('%').any(|(i, _)| {
            !u.get(i + 1..i + 3).is_some_and(|h| h.bytes().all(|b| b.is_ascii_hexdigit()))
        })
    };
    if userinfo.is_some_and(|u| !u.bytes().all(is_userinfo_byte) || bad_escape(u)) {
        return Err(Rejected::NotUrl);
    }
    // port: after the last ':' unless inside an IPv6 literal
    let (host_raw, port) = match host_port.rfind(':') {
        Some(p) if !host_port[p..].contains(']') => {
            let digits = &host_port[p + 1..];
            if digits.is_empty() {
                // `host:` with nothing after: not how links are written
                return Err(Rejected::NotUrl);
            } else if digits.len() <= 5 && digits.bytes().all(|b| b.is_ascii_digit()) {
                match digits.parse::<u16>() {
                    Ok(n) => (&host_port[..p], Some(n)),
                    Err(_) => {
                        return Err(Rejected::BadHost(format!("bad port in {}", quote(token))));
                    }
                }
            } else {
                return Err(Rejected::NotUrl);
            }
        }
        _ => (host_port, None),
    };
    let host_raw = host_raw.trim_end_matches('.');
    if host_raw.is_empty() || host_raw.len() > 253 {
        return Err(Rejected::NotUrl);
    }
    let bare = scheme.is_none()
        && userinfo.is_none()
        && (tail.is_empty() || tail == "/")
        && !host_raw.get(..4).is_some_and(|w| w.eq_ignore_ascii_case("www."));

    let mut ip_host = false;
    let host: String;
    let host_unicode: String;
    if let Some(v6) = host_raw.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
        let ip: Ipv6Addr = v6
            .parse()
            .map_err(|_| Rejected::BadHost(format!("bad ipv6 host in {}", quote(token))))?;
        ip_host = true;
        host = format!("[{ip}]");
        host_unicode = host.clone();
    } else if let Some(ip) = parse_ipv4(host_raw) {
        if scheme.is_none() && !host_raw.contains('.') {
            return Err(Rejected::NotUrl);
        }
        ip_host = true;
        host = ip.to_string();
        host_unicode = host.clone();
    } else {
        let ascii = idna::domain_to_ascii_cow(host_raw.as_bytes(), idna::AsciiDenyList::URL)
            .map_err(|_| {
                Rejected::BadHost(format!("host of {} is not a valid domain", quote(token)))
            })?;
        let ascii = ascii.trim_end_matches('.').to_owned();
        let bad_label = |l: &str| {
            l.is_empty()
                || l.len() > 63
                || l.starts_with('-')
                || l.ends_with('-')
                || !l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        };
        // TLDs are letters (or an IDN in punycode); `--` in positions 3-4 is reserved for IDNs
        let tld = ascii.rsplit('.').next().unwrap_or_default();
        let numeric_tld = !(tld.bytes().all(|b| b.is_ascii_alphabetic())
            || tld.starts_with("xn--"))
            || ascii.split('.').any(|l| l.get(2..4) == Some("--") && !l.starts_with("xn--"));
        if ascii.is_empty()
            || ascii.len() > 253
            || ascii.split('.').any(bad_label)
            || !ascii.contains('.')
            || numeric_tld
        {
            return Err(if scheme.is_some() {
                Rejected::BadHost(format!("host of {} is not a valid domain", quote(token)))
            } else {
                Rejected::NotUrl
            });
        }
        host_unicode = idna::domain_to_unicode(&ascii).0;
        // symbols (`€`, `✓`) pass lenient UTS 46 mapping but no registry sells them
        let symbol = host_unicode.chars().any(|c| !c.is_ascii() && !c.identifier_allowed());
        if symbol || tld.len() < 2 {
            return Err(if scheme.is_some() {
                Rejected::BadHost(format!("host of {} is not a valid domain", quote(token)))
            } else {
                Rejected::NotUrl
            });
        }
        host = ascii;
    }

    let registrable_domain = if ip_host { None } else { RegistrableDomain::from_ascii_host(&host) };
    // only hosts under a real public suffix count (`http://router.lan/` is not a web link)
    if !ip_host && registrable_domain.is_none() {
        return Err(Rejected::NotUrl);
    }
    if scheme.is_none() && !ip_host {
        // scheme-less: the TLD must be a real ICANN suffix and the token must not be a file name
        let tld_raw = host_raw.rsplit('.').next().unwrap_or_default();
        let tld = host.rsplit('.').next().unwrap_or_default();
        let title_case = tld_raw.chars().next().is_some_and(char::is_uppercase)
            && tld_raw.chars().skip(1).any(char::is_lowercase);
        let file_like = bare && FILE_LIKE_TLDS.contains(&tld) && host.matches('.').count() == 1;
        // a bare `x.tld` needs a plausible name and TLD; glued sentences fail here
        let weak_bare = bare
            && (!bare_tld_ok(tld)
                || registrable_domain.as_ref().is_some_and(|d| {
                    d.name().len() < 2 || !d.name().bytes().any(|b| b.is_ascii_alphabetic())
                }));
        if registrable_domain.is_none()
            || !is_icann_tld(tld.as_bytes())
            || title_case
            || file_like
            || weak_bare
        {
            return Err(Rejected::NotUrl);
        }
    }

    let scheme = scheme.unwrap_or("http");
    let mut url = String::with_capacity(token.len() + 8);
    url.push_str(scheme);
    url.push_str("://");
    if let Some(u) = userinfo {
        push_encoded(&mut url, u);
        url.push('@');
    }
    url.push_str(&host);
    if let Some(p) = port {
        let default = matches!((scheme, p), ("http", 80) | ("https", 443) | ("ftp", 21));
        if !default {
            url.push(':');
            url.push_str(&p.to_string());
        }
    }
    if tail.is_empty() {
        url.push('/');
    } else {
        if !tail.starts_with('/') {
            url.push('/');
        }
        push_encoded(&mut url, tail);
    }
    Ok(Normalised {
        url,
        host,
        host_unicode,
        registrable_domain,
        ip_host,
        bare,
        has_userinfo: userinfo.is_some(),
        port,
    })
}

/// RFC 3986 userinfo: unreserved, sub-delims, `:` and percent escapes.
fn is_userinfo_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"-._~!$&'()*+,;=:%".contains(&b)
}

/// Appends `s`, percent-encoding what may not stand in a URL as is: controls, spaces,
/// invisible format characters and the ASCII characters browsers escape. Letters of any
/// script stay readable (IRI).
fn push_encoded(out: &mut String, s: &str) {
    for c in s.chars() {
        let escape = c.is_control()
            || c.is_whitespace()
            || matches!(c, '"' | '<' | '>' | '\\' | '^' | '`' | '{' | '|' | '}')
            || matches!(c, '\u{00AD}' | '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2060}'..='\u{2064}' | '\u{FEFF}' | '\u{FF0E}' | '\u{3002}' | '\u{FF61}');
        if escape {
            let mut buf = [0u8; 4];
            for b in c.encode_utf8(&mut buf).bytes() {
                out.push('%');
                out.push(char::from(b"0123456789ABCDEF"[usize::from(b >> 4)]));
                out.push(char::from(b"0123456789ABCDEF"[usize::from(b & 15)]));
            }
        } else {
            out.push(c);
        }
    }
}

/// Dotted-quad IPv4 only (decimal); other WHATWG forms are rare in SMS.
fn parse_ipv4(s: &str) -> Option<Ipv4Addr> {
    if s.bytes().all(|b| b.is_ascii_digit() || b == b'.') && s.matches('.').count() == 3 {
        s.parse().ok()
    } else {
        None
    }
}

fn build(span: Range<usize>, raw: &str, scanned: &str, n: Normalised) -> ExtractedUrl {
    let skeleton = confusable_skeleton(&n.host_unicode);
    // ASCII is Latin and common punctuation: a single script
    let mixed_script = !n.ip_host
        && !n.host_unicode.is_ascii()
        && n.host_unicode.split('.').any(|label| !label.is_single_script());
    let shortener = !n.ip_host && is_shortener(&n.host);
    ExtractedUrl {
        span,
        raw: raw.to_owned(),
        defanged: raw != scanned,
        url: n.url,
        host: n.host,
        host_unicode: n.host_unicode,
        registrable_domain: n.registrable_domain,
        skeleton,
        mixed_script,
        shortener,
        ip_host: n.ip_host,
        bare: n.bare,
        has_userinfo: n.has_userinfo,
        port: n.port,
    }
}

/// Records an e-mail address whose domain has a real public suffix.
fn push_email(text: &str, found: &str, (os, oe): (usize, usize), out: &mut Extracted) {
    let Some((_, domain)) = found.rsplit_once('@') else { return };
    let Ok(ascii) = idna::domain_to_ascii_cow(domain.as_bytes(), idna::AsciiDenyList::URL) else {
        return;
    };
    let Some(registrable_domain) = RegistrableDomain::from_ascii_host(&ascii) else { return };
    if out.emails.len() >= MAX_URLS {
        return;
    }
    out.emails.push(ExtractedEmail {
        span: os..oe,
        raw: text.get(os..oe).unwrap_or_default().to_owned(),
        domain: ascii.into_owned(),
        registrable_domain,
    });
}

/// Finds URLs in `text` (already capped) and appends them to `out`.
pub(crate) fn find_urls(text: &str, out: &mut Extracted) {
    let refanged = refang_mapped(text);
    let scan: &str = refanged.as_ref().map_or(text, |r| r.text.as_str());
    let to_original = |s: usize, e: usize| match &refanged {
        Some(r) => r.original_span(s, e),
        None => (s, e),
    };
    let mut finder = LinkFinder::new();
    finder.url_must_have_scheme(false);
    finder.kinds(&[LinkKind::Url, LinkKind::Email]);
    let mut skip_until = 0;
    for link in finder.links(scan) {
        if link.start() < skip_until {
            continue;
        }
        let (start, mut end) = (link.start(), link.end());
        if *link.kind() == LinkKind::Email {
            // `bank.com@evil.top/login` is a URL with userinfo, not an e-mail address
            let local = link.as_str().split('@').next().unwrap_or_default();
            let host_like = local.contains('.')
                && local
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_'));
            if !scan[end..].starts_with('/') || !host_like {
                push_email(text, link.as_str(), to_original(start, end), out);
                continue;
            }
            end += scan[end..]
                .find(|c: char| !(c.is_alphanumeric() || "/._~%!$&'*+,;=:@?#-".contains(c)))
                .unwrap_or(scan.len() - end);
            skip_until = end;
        }
        let token = trim_trailing(&scan[start..end]);
        // nested forms such as `[[.]]` need more than the one mapped pass
        let refanged_token = crate::refang(token);
        let refanged_token = trim_trailing(&refanged_token);
        if token.is_empty() {
            continue;
        }
        let end = start + token.len();
        match normalise(refanged_token) {
            Ok(n) => {
                if out.urls.len() >= MAX_URLS {
                    out.diagnostics.push(Diagnostic::new(
                        DiagnosticKind::TooManyCandidates,
                        format!("more than {MAX_URLS} urls, the rest were ignored"),
                    ));
                    break;
                }
                let (os, oe) = to_original(start, end);
                let raw = text.get(os..oe).unwrap_or_default();
                out.urls.push(build(os..oe, raw, refanged_token, n));
            }
            Err(Rejected::NotUrl) => {}
            Err(Rejected::BadHost(msg)) => {
                out.diagnostics.push(Diagnostic::new(DiagnosticKind::InvalidHost, msg));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `expect`: (url, registrable domain or "-", flags) for each URL found, in order.
    fn check(input: &str, expect: &[(&str, &str, &str)]) {
        let got = crate::extract(input);
        let got: Vec<(String, String, String)> = got
            .urls
            .iter()
            .map(|u| {
                let mut flags = Vec::new();
                for (on, name) in [
                    (u.defanged, "defanged"),
                    (u.shortener, "shortener"),
                    (u.ip_host, "ip"),
                    (u.mixed_script, "mixed"),
                    (u.bare, "bare"),
                    (u.has_userinfo, "userinfo"),
                ] {
                    if on {
                        flags.push(name);
                    }
                }
                let rd =
                    u.registrable_domain.as_ref().map_or("-".to_owned(), |d| d.as_str().to_owned());
                (u.url.clone(), rd, flags.join(","))
            })
            .collect();
        let want: Vec<(String, String, String)> = expect
            .iter()
            .map(|(a, b, c)| ((*a).to_owned(), (*b).to_owned(), (*c).to_owned()))
            .collect();
        assert_eq!(got, want, "urls of {input:?}");
    }

    #[test]
    fn ascii_skeletons_agree_with_the_full_skeleton() {
        let all: String = (0u8..128).map(char::from).collect();
        for s in [all.as_str(), "paypal.com", "rnicrosoft-l0gin.top", "xn--pple-43d.com", "I1l|"] {
            let full: String = unicode_security::skeleton(s).collect();
            assert_eq!(confusable_skeleton(s), full, "{s:?}");
        }
        for b in 0u8..128 {
            let s = char::from(b).to_string();
            let full: String = unicode_security::skeleton(&s).collect();
            assert_eq!(confusable_skeleton(&s), full, "{b}");
            assert!(s.is_single_script(), "{b}");
        }
    }

    #[test]
    fn url_table() {
        check(
            "Ga naar https://csam-be.info/login om te verifieren.",
            &[("https://csam-be.info/login", "csam-be.info", "")],
        );
        check(
            "www.myebox-be.com/verify",
            &[("http://www.myebox-be.com/verify", "myebox-be.com", "")],
        );
        check("Bezoek csam-be.info", &[("http://csam-be.info/", "csam-be.info", "bare")]);
        check(
            "csam.belgium-id.top/x?a=1#f",
            &[("http://csam.belgium-id.top/x?a=1#f", "belgium-id.top", "")],
        );
        check(
            "HTTPS://WWW.Example.CO.UK/Path",
            &[("https://www.example.co.uk/Path", "example.co.uk", "")],
        );
        check("link: bit.ly/3abcDEF.", &[("http://bit.ly/3abcDEF", "bit.ly", "shortener")]);
        check("kort: https://t.co/x1", &[("https://t.co/x1", "t.co", "shortener")]);
        check(
            "(zie https://example.com/a_(b))",
            &[("https://example.com/a_(b)", "example.com", "")],
        );
        check("\"https://example.com/x\"", &[("https://example.com/x", "example.com", "")]);
        check("«https://example.com/x».", &[("https://example.com/x", "example.com", "")]);
        check("http://192.168.1.10:8080/cgi", &[("http://192.168.1.10:8080/cgi", "-", "ip")]);
        check("https://example.com:443/x", &[("https://example.com/x", "example.com", "")]);
        check(
            "https://www.paypal.com@evil.top/login",
            &[("https://www.paypal.com@evil.top/login", "evil.top", "userinfo")],
        );
        check(
            "paypal.com@evil.top/login",
            &[("http://paypal.com@evil.top/login", "evil.top", "userinfo")],
        );
        check(
            "https://xn--80ak6aa92e.com/",
            &[("https://xn--80ak6aa92e.com/", "xn--80ak6aa92e.com", "")],
        );
        check("https://аpple.com/", &[("https://xn--pple-43d.com/", "xn--pple-43d.com", "mixed")]);
        check("https://bücher.de/x", &[("https://xn--bcher-kva.de/x", "xn--bcher-kva.de", "")]);
        check("https://foo.github.io/x", &[("https://foo.github.io/x", "foo.github.io", "")]);
        check(
            "two: a.com/x and https://b.org",
            &[("http://a.com/x", "a.com", ""), ("https://b.org/", "b.org", "")],
        );
    }

    #[test]
    fn defanged_forms() {
        let want = [("https://csam-be.info/x", "csam-be.info", "defanged")];
        for input in [
            "hxxps://csam-be[.]info/x",
            "hXXps://csam-be[.]info/x",
            "hxxps[:]//csam-be.info/x",
            "hxxps://csam-be(.)info/x",
            "hxxps://csam-be{.}info/x",
            "hxxps://csam-be[dot]info/x",
            "https://csam-be . info/x",
            "https[://]csam-be.info/x",
            "https://csam-be.info[/]x",
            "hxxps__csam-be.info/x",
            "https:\\\\csam-be.info/x",
            "https://csam-be\\.info/x",
            "https://csam-be[.info/x",
            "https://csam\u{200B}-be.info/x",
            "https:// csam-be.info/x",
            "https:// csam-be .info /x",
            "https://csam-be. info/x",
            "hxxps[:]// csam-be [.] info [/]x",
        ] {
            check(input, &want);
        }
        check("csam-be[.]info", &[("http://csam-be.info/", "csam-be.info", "defanged,bare")]);
        check("csam-be . info/x", &[("http://csam-be.info/x", "csam-be.info", "defanged")]);
        check("www . csam . be", &[("http://www.csam.be/", "csam.be", "defanged")]);
    }

    #[test]
    fn not_urls() {
        for input in [
            "see file.txt and v1.2 now",
            "Dear Mr.Smith, thanks",
            "mail me at jan@example.com please",
            "Bedrag 12.50 EUR op 12.05.2024",
            "version 3.10.2 released",
            "run script.py",
            "i.e. e.g. z.B. a.s.a.p.",
            "Ok...so tired",
            "javascript://alert(1)",
            "http://router.lan/status",
            "http://co.uk/x",
            "Hello . World",
            "tel:+32470123456",
            "see you tomorrow.call me",
            "ok so.how are you",
            "I love it.now go",
            "2.IM",
            "nice dress .so pretty",
            "",
        ] {
            check(input, &[]);
        }
    }

    #[test]
    fn emails() {
        let text = "Schrijf naar support@csam-be.info of jan@intranet, zie a.com@evil.top/x";
        let e = crate::extract(text);
        let got: Vec<(&str, &str)> =
            e.emails.iter().map(|m| (m.raw.as_str(), m.registrable_domain.as_str())).collect();
        assert_eq!(got, [("support@csam-be.info", "csam-be.info")]);
        assert_eq!(&text[e.emails[0].span.clone()], "support@csam-be.info");
        // the userinfo trick is a URL, not an address
        assert_eq!(e.urls.len(), 1);
        assert_eq!(e.urls[0].host, "evil.top");
    }

    #[test]
    fn spans_and_raw() {
        let text = "Klik: hxxps://csam-be[.]info/x, snel!";
        let e = crate::extract(text);
        let u = &e.urls[0];
        assert_eq!(&text[u.span.clone()], "hxxps://csam-be[.]info/x");
        assert_eq!(u.raw, "hxxps://csam-be[.]info/x");
        let text = "€ ünï https://bücher.de/ü.";
        let u = &crate::extract(text).urls[0];
        assert_eq!(&text[u.span.clone()], "https://bücher.de/ü");
        assert_eq!(u.host_unicode, "bücher.de");
    }

    #[test]
    fn registrable_domain_parts() {
        for (host, domain, name, suffix) in [
            ("csam-be.info", "csam-be.info", "csam-be", "info"),
            ("WWW.BBC.CO.UK", "bbc.co.uk", "bbc", "co.uk"),
            ("a.b.csam.belgium-id.top", "belgium-id.top", "belgium-id", "top"),
            ("bücher.de", "xn--bcher-kva.de", "xn--bcher-kva", "de"),
            ("us.com", "us.com", "us", "com"),
            ("x.github.io", "x.github.io", "x", "github.io"),
            ("github.io", "github.io", "github", "io"),
        ] {
            let d = RegistrableDomain::parse(host).expect(host);
            assert_eq!((d.as_str(), d.name(), d.suffix()), (domain, name, suffix), "{host}");
        }
        for host in ["co.uk", "com", "", "localhost", "x.notatld"] {
            assert_eq!(RegistrableDomain::parse(host), None, "{host}");
        }
    }

    #[test]
    fn skeleton_matches_latin_lookalike() {
        let e = crate::extract("https://раураl.com/x"); // Cyrillic р а у
        let u = &e.urls[0];
        let latin: String = unicode_security::skeleton("paypal.com").collect();
        assert_eq!(u.skeleton, latin);
    }
}
