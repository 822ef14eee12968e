//! Brand impersonation in hostnames: combosquatting (brand token plus words), TLD swaps,
//! typosquats (the dnstwist fuzzers: omission, insertion, transposition, replacement,
//! repetition, hyphenation, vowel swap, bitsquatting, addition, ASCII homoglyphs) and
//! Unicode homoglyphs (confusable skeleton of an IDN host).
//!
//! Typosquat variants are not stored: brand labels are indexed by their one-letter deletions
//! at catalog load, so checking a host is a few lookups, and only a near miss regenerates
//! a brand label's variants (dnstwist's fuzzers, turned around).

use std::collections::{HashMap, HashSet};

use crate::catalog::{Brand, BrandId, Catalog, FastMap};
use crate::text::fold;

/// How a hostname imitates a brand.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Technique {
    Combosquatting,
    TldSwap,
    Omission,
    Insertion,
    Transposition,
    Replacement,
    Repetition,
    Hyphenation,
    VowelSwap,
    Bitsquatting,
    Addition,
    Homoglyph,
}

impl Technique {
    /// Machine name used in the `technique` output field.
    pub fn as_str(self) -> &'static str {
        match self {
            Technique::Combosquatting => "combosquatting",
            Technique::TldSwap => "tld-swap",
            Technique::Omission => "typosquatting:omission",
            Technique::Insertion => "typosquatting:insertion",
            Technique::Transposition => "typosquatting:transposition",
            Technique::Replacement => "typosquatting:replacement",
            Technique::Repetition => "typosquatting:repetition",
            Technique::Hyphenation => "typosquatting:hyphenation",
            Technique::VowelSwap => "typosquatting:vowel-swap",
            Technique::Bitsquatting => "typosquatting:bitsquatting",
            Technique::Addition => "typosquatting:addition",
            Technique::Homoglyph => "homoglyph",
        }
    }

    /// Words for a person.
    pub fn describe(self) -> &'static str {
        match self {
            Technique::Combosquatting => "combosquatting",
            Technique::TldSwap => "same name under another top-level domain",
            Technique::Omission => "typosquatting: letter left out",
            Technique::Insertion => "typosquatting: letter added",
            Technique::Transposition => "typosquatting: letters swapped",
            Technique::Replacement => "typosquatting: letter replaced",
            Technique::Repetition => "typosquatting: letter doubled",
            Technique::Hyphenation => "typosquatting: hyphen inserted",
            Technique::VowelSwap => "typosquatting: vowel swapped",
            Technique::Bitsquatting => "bitsquatting",
            Technique::Addition => "typosquatting: character appended",
            Technique::Homoglyph => "look-alike characters",
        }
    }
}

/// A hostname as the extractor describes it.
#[derive(Debug, Clone, Copy)]
pub struct HostView<'a> {
    /// Lowercase ASCII (punycode) host.
    pub host: &'a str,
    /// Unicode form of the host.
    pub host_unicode: &'a str,
    /// UTS #39 confusable skeleton of the Unicode host.
    pub skeleton: &'a str,
    /// Registrable domain (public suffix plus one label), when the host has a real suffix.
    pub registrable: Option<&'a str>,
    /// Public suffix of the host.
    pub suffix: Option<&'a str>,
    pub mixed_script: bool,
}

/// The brand a host imitates and how.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Impersonation {
    pub brand: BrandId,
    pub technique: Technique,
}

/// Words that often surround a short brand token in look-alike domains (`mycsam-login`).
const AFFIXES: &[&str] = &[
    "my", "mijn", "mon", "ma", "mi", "mein", "min", "mitt", "mio", "il", "la", "le", "e", "i", "m",
    "login", "log", "secure", "online", "id", "app", "web", "portal", "service", "services",
    "verify", "verifica", "account", "info", "help", "support", "update", "auth", "sso", "www",
    "mobile", "bank", "pay", "net", "be", "nl", "fr", "it", "se", "es", "de", "pt", "dk", "no",
    "fi", "pl", "uk", "eu", "gov", "gouv", "post", "track", "client", "klant",
];

/// Checks a host against the catalog. `prefer` lists brands named in the message text, best
/// first ([`Catalog::named`]); they win ties between candidates, earlier ones first.
pub fn impersonation(
    catalog: &Catalog,
    view: &HostView<'_>,
    prefer: &[BrandId],
) -> Option<Impersonation> {
    let registrable = view.registrable?;
    if !catalog.official_for(registrable).is_empty() {
        return None;
    }
    // A link service's customer subdomain (`mybank.onelink.me`) names the customer: the
    // service, not the customer, owns the name, so it imitates nothing.
    if catalog.domains().is_link_service_host(view.host) {
        return None;
    }
    let host = view.host.trim_end_matches('.');
    let suffix = view.suffix.unwrap_or("");
    let name = strip_suffix(host, suffix);
    let registrable_label = registrable.split('.').next().unwrap_or("");
    // Global brands run national sites on country-code domains (`dhl.ch`, `amazon.com.mx`)
    // that no catalog lists completely: the bare brand label under a ccTLD is not flagged.
    let country_suffix = suffix.rsplit('.').next().is_some_and(|tld| tld.len() == 2);
    if country_suffix
        && catalog
            .official_label(registrable_label)
            .iter()
            .any(|(b, _)| catalog.brand(*b).countries.iter().any(|c| c == "*"))
    {
        return None;
    }

    let idn = view.host_unicode != view.host || host.contains("xn--") || view.mixed_script;
    if idn {
        let skeleton = fold(view.skeleton);
        let suffix_labels = suffix.split('.').filter(|s| !s.is_empty()).count();
        let labels: Vec<&str> = skeleton.trim_end_matches('.').split('.').collect();
        let keep = labels.len().saturating_sub(suffix_labels.max(1));
        let skeleton_name = labels.get(..keep).map(|l| l.join(".")).unwrap_or_default();
        if skeleton_name != name {
            let found = combosquat(catalog, &skeleton_name, prefer)
                .map(|(b, _)| b)
                .or_else(|| typosquat(catalog, &skeleton_name, prefer).map(|(b, _)| b));
            if let Some(brand) = found {
                return Some(Impersonation { brand, technique: Technique::Homoglyph });
            }
        }
    }
    if let Some((brand, token_is_label)) = combosquat(catalog, name, prefer) {
        let technique = if token_is_label
            && catalog
                .official_label(registrable_label)
                .iter()
                .any(|(b, s)| *b == brand && s != suffix)
        {
            Technique::TldSwap
        } else {
            Technique::Combosquatting
        };
        return Some(Impersonation { brand, technique });
    }
    if let Some((brand, technique)) = typosquat(catalog, name, prefer) {
        return Some(Impersonation { brand, technique });
    }
    // Same label as an official domain under another suffix (`kivra.net`).
    if registrable_label.len() >= 4 {
        let candidates = catalog.official_label(registrable_label);
        if let Some((brand, _)) = candidates
            .iter()
            .find(|(b, s)| s != suffix && prefer.contains(b))
            .or(candidates.first())
        {
            return Some(Impersonation { brand: *brand, technique: Technique::TldSwap });
        }
    }
    None
}

fn strip_suffix<'a>(host: &'a str, suffix: &str) -> &'a str {
    if suffix.is_empty() {
        return host;
    }
    host.strip_suffix(suffix).and_then(|h| h.strip_suffix('.')).unwrap_or(host)
}

/// Brand token inside `name` (host without suffix) with the context rule for short tokens.
/// Returns the brand and whether the token is a whole label.
fn combosquat(catalog: &Catalog, name: &str, prefer: &[BrandId]) -> Option<(BrandId, bool)> {
    let bytes = name.as_bytes();
    let mut best: Option<(usize, usize, usize, BrandId, bool)> = None; // (preference, len, -start, brand, whole)
    for t in catalog.host_tokens(name) {
        let len = t.end - t.start;
        let mut seg_start = t.start;
        while seg_start > 0 && bytes.get(seg_start - 1).is_some_and(u8::is_ascii_alphanumeric) {
            seg_start -= 1;
        }
        let mut seg_end = t.end;
        while bytes.get(seg_end).is_some_and(u8::is_ascii_alphanumeric) {
            seg_end += 1;
        }
        let left = name.get(seg_start..t.start).unwrap_or("");
        let right = name.get(t.end..seg_end).unwrap_or("");
        let fits = |ctx: &str| {
            ctx.is_empty() || ctx.bytes().all(|b| b.is_ascii_digit()) || AFFIXES.contains(&ctx)
        };
        let accepted = if len >= 7 {
            true
        } else if len >= 4 {
            fits(left) && fits(right)
        } else {
            (left.is_empty() || left.bytes().all(|b| b.is_ascii_digit()))
                && (right.is_empty() || right.bytes().all(|b| b.is_ascii_digit()))
        };
        if !accepted {
            continue;
        }
        let label_start = name.get(..t.start).map_or(0, |s| s.rfind('.').map_or(0, |i| i + 1));
        let label_end =
            name.get(t.end..).map_or(name.len(), |s| s.find('.').map_or(name.len(), |i| t.end + i));
        let whole = label_start == t.start && label_end == t.end && label_end == name.len();
        let key = (preference(prefer, t.brand), len, usize::MAX - t.start, t.brand, whole);
        if best.is_none_or(|b| (key.0, key.1, key.2) > (b.0, b.1, b.2)) {
            best = Some(key);
        }
    }
    best.map(|(_, _, _, brand, whole)| (brand, whole))
}

/// Rank of `brand` in `prefer` (brands named in the text, best first): higher is better,
/// 0 when not named.
fn preference(prefer: &[BrandId], brand: BrandId) -> usize {
    prefer.iter().position(|b| *b == brand).map_or(0, |i| usize::MAX - i)
}

fn typosquat(catalog: &Catalog, name: &str, prefer: &[BrandId]) -> Option<(BrandId, Technique)> {
    let mut found: Option<(usize, BrandId, Technique)> = None;
    for label in name.split('.') {
        let parts =
            std::iter::once(label).chain(label.split('-').filter(|p| p.len() != label.len()));
        for part in parts {
            if part.len() < 4 {
                continue;
            }
            if let Some((brand, technique)) = catalog.variant(part) {
                let rank = preference(prefer, brand);
                if found.is_none_or(|(best, _, _)| rank > best) {
                    found = Some((rank, brand, technique));
                }
            }
        }
    }
    found.map(|(_, brand, technique)| (brand, technique))
}

const ROWS: &[&[&str]] = &[
    &["1234567890", "qwertyuiop", "asdfghjkl", "zxcvbnm"],
    &["1234567890", "azertyuiop", "qsdfghjklm", "wxcvbn"],
    &["1234567890", "qwertzuiop", "asdfghjkl", "yxcvbnm"],
];

fn keyboard_neighbours() -> HashMap<char, Vec<char>> {
    let mut map: HashMap<char, Vec<char>> = HashMap::new();
    for layout in ROWS {
        let rows: Vec<Vec<char>> = layout.iter().map(|r| r.chars().collect()).collect();
        for (r, row) in rows.iter().enumerate() {
            for (i, &c) in row.iter().enumerate() {
                let mut near = Vec::new();
                if i > 0 {
                    near.extend(row.get(i - 1));
                }
                near.extend(row.get(i + 1));
                for other in [r.checked_sub(1), Some(r + 1)].into_iter().flatten() {
                    if let Some(o) = rows.get(other) {
                        near.extend(o.get(i));
                        if i > 0 {
                            near.extend(o.get(i - 1));
                        }
                        near.extend(o.get(i + 1));
                    }
                }
                let entry = map.entry(c).or_default();
                for n in near {
                    if n != c && !entry.contains(&n) {
                        entry.push(n);
                    }
                }
            }
        }
    }
    map
}

const ASCII_HOMOGLYPHS: &[(&str, &str)] = &[
    ("o", "0"),
    ("0", "o"),
    ("l", "1"),
    ("i", "1"),
    ("1", "l"),
    ("i", "l"),
    ("l", "i"),
    ("m", "rn"),
    ("rn", "m"),
    ("w", "vv"),
    ("d", "cl"),
    ("e", "3"),
    ("a", "4"),
    ("s", "5"),
];

/// Multi-letter look-alikes of [`ASCII_HOMOGLYPHS`]: a variant made with one of them is two
/// edits away from its source, so a lookup rewrites the label back before probing.
const MULTI_HOMOGLYPHS: &[(&str, &str)] =
    &[("rn", "m"), ("m", "rn"), ("vv", "w"), ("w", "vv"), ("cl", "d"), ("d", "cl")];

/// Typosquat variants of every official label and long token (the sources), found without
/// storing them: each source is indexed under itself and its one-letter deletions (about ten
/// keys, where the variants number hundreds), a label probes the same keys of its own, and
/// each candidate source regenerates its variants to confirm the match and name the
/// technique. The answer is the one a map of every variant would give (first source, first
/// technique); `tests::index_finds_what_the_full_map_holds` checks it.
#[derive(Debug)]
pub(crate) struct Variants {
    /// Sources in catalog order; an earlier one wins a variant two sources share.
    sources: Vec<(String, BrandId)>,
    /// Official labels and tokens: never a variant of another brand.
    protected: HashSet<String, foldhash::fast::RandomState>,
    /// [`COMMON_LABELS`] and [`AFFIXES`], for one lookup per label.
    common: HashSet<&'static str, foldhash::fast::RandomState>,
    /// A source or a source minus one letter -> source indexes.
    index: FastMap<String, Vec<u32>>,
    near: HashMap<char, Vec<char>>,
}

impl Variants {
    pub(crate) fn new(brands: &[Brand]) -> Variants {
        let mut protected = HashSet::default();
        let mut sources: Vec<(String, BrandId)> = Vec::new();
        let mut seen: HashSet<String> = HashSet::new();
        for (i, b) in brands.iter().enumerate() {
            let id = BrandId(u16::try_from(i).unwrap_or(u16::MAX));
            let labels = b.domains.iter().filter_map(|d| d.split('.').next()).map(str::to_string);
            for s in labels.chain(b.tokens.iter().cloned()) {
                protected.insert(s.clone());
                if s.len() >= 4
                    && s.bytes().all(|c| c.is_ascii_alphanumeric())
                    && seen.insert(s.clone())
                {
                    sources.push((s, id));
                }
            }
        }
        let mut index: FastMap<String, Vec<u32>> = FastMap::default();
        for (n, (s, _)) in sources.iter().enumerate() {
            let n = u32::try_from(n).unwrap_or(u32::MAX);
            for key in std::iter::once(s.clone()).chain(deletions(s)) {
                let ids = index.entry(key).or_default();
                if !ids.contains(&n) {
                    ids.push(n);
                }
            }
        }
        let common = COMMON_LABELS.iter().chain(AFFIXES).copied().collect();
        Variants { sources, protected, common, index, near: keyboard_neighbours() }
    }

    /// The brand whose label or token `label` imitates by one typo, and how.
    pub(crate) fn get(&self, label: &str) -> Option<(BrandId, Technique)> {
        if label.len() < 4 || self.common.contains(label) || self.protected.contains(label) {
            return None;
        }
        let mut candidates: Vec<u32> = Vec::new();
        let mut probe = |key: &str| {
            if let Some(ids) = self.index.get(key) {
                candidates.extend_from_slice(ids);
            }
        };
        probe(label);
        // the deletions of `label` in one reused buffer (this runs for every host label)
        let mut key = String::with_capacity(label.len());
        for (at, c) in label.char_indices() {
            key.clear();
            key.push_str(label.get(..at).unwrap_or(""));
            key.push_str(label.get(at + c.len_utf8()..).unwrap_or(""));
            probe(&key);
        }
        for (from, to) in MULTI_HOMOGLYPHS {
            // (look-alikes are ASCII, so every match sits on a char boundary; `match_indices`
            // would set a searcher up per pattern and label)
            let from_bytes = from.as_bytes();
            let found = label.as_bytes().windows(from_bytes.len()).enumerate();
            let matches = |w: &[u8]| w.first() == from_bytes.first() && w == from_bytes;
            for (at, _) in found.filter(|(_, w)| matches(w)) {
                let mut back = String::with_capacity(label.len() + 1);
                back.push_str(label.get(..at).unwrap_or(""));
                back.push_str(to);
                back.push_str(label.get(at + from.len()..).unwrap_or(""));
                probe(&back);
            }
        }
        candidates.sort_unstable();
        candidates.dedup();
        candidates.into_iter().find_map(|n| {
            let (source, brand) = self.sources.get(usize::try_from(n).ok()?)?;
            let mut found = None;
            for_each_variant(source, &self.near, Some(label), |v, t| {
                if v == label {
                    found = Some(t);
                }
                found.is_some()
            });
            found.map(|t| (*brand, t))
        })
    }
}

/// Words that hostnames use everywhere ("link.example.com", "mail."), never read as a typo
/// of a brand ("linkt", "posti").
const COMMON_LABELS: &[&str] = &[
    "link", "links", "post", "mail", "email", "news", "shop", "store", "home", "bank", "card",
    "cards", "cash", "money", "click", "track", "login", "secure", "online", "account", "update",
    "verify", "portal", "service", "cloud", "media", "mobile", "smart", "send", "pay", "best",
    "tele", "data", "info", "help", "live", "life", "play", "free", "plus", "game", "games",
    "event", "events", "promo", "offer", "offers", "sale", "deals", "rewards", "points",
];

/// `s` with one char left out, for each char.
fn deletions(s: &str) -> impl Iterator<Item = String> + '_ {
    s.char_indices().map(move |(at, c)| {
        let mut v = String::with_capacity(s.len());
        v.push_str(s.get(..at).unwrap_or(""));
        v.push_str(s.get(at + c.len_utf8()..).unwrap_or(""));
        v
    })
}

/// Calls `visit` with every typosquat variant of `s` (at least 4 bytes, not `s` itself) and
/// its technique, in a fixed order, until `visit` returns true. With `target`, only the
/// variants that could equal it are built (same length, and made at or before the first
/// char where `s` and `target` differ): the order, and so the first technique, is kept.
fn for_each_variant(
    s: &str,
    near: &HashMap<char, Vec<char>>,
    target: Option<&str>,
    mut visit: impl FnMut(&str, Technique) -> bool,
) {
    let chars: Vec<char> = s.chars().collect();
    let full = chars.len() >= 5;
    // a variant made at char `i` keeps `chars[..i]`: past the first difference none can match
    let last = target.map_or(chars.len(), |t| {
        chars.iter().zip(t.chars()).take_while(|(a, b)| **a == *b).count()
    });
    // ...and keeps `chars[i + 2..]` at least: before the last difference less two, none can
    let first = target.map_or(0, |t| {
        let same_end = chars.iter().rev().zip(t.chars().rev()).take_while(|(a, b)| **a == *b);
        chars.len().saturating_sub(same_end.count() + 2)
    });
    let wanted_len = target.map(str::len);
    let mut done = false;
    // `len`: the variant's byte length, known before it is built
    let mut add = |len: usize, build: &dyn Fn() -> String, t: Technique| {
        if done || len < 4 || wanted_len.is_some_and(|w| w != len) {
            return;
        }
        let v = build();
        if v != s {
            done = visit(&v, t);
        }
    };
    let at = |i: usize| chars.get(i).copied().unwrap_or('-');
    let base = s.len();
    let without = |i: usize| {
        chars.iter().enumerate().filter(|(j, _)| *j != i).map(|(_, c)| *c).collect::<String>()
    };
    let with_at = |i: usize, ins: &str| {
        let mut v: String = chars.get(..i).unwrap_or(&[]).iter().collect();
        v.push_str(ins);
        v.extend(chars.get(i..).unwrap_or(&[]));
        v
    };
    let replaced = |i: usize, rep: &str| {
        let mut v: String = chars.get(..i).unwrap_or(&[]).iter().collect();
        v.push_str(rep);
        v.extend(chars.get(i + 1..).unwrap_or(&[]));
        v
    };
    for i in first..chars.len().min(last.saturating_add(1)) {
        let c = at(i);
        let c_len = c.len_utf8();
        add(base + c_len, &|| with_at(i, &c.to_string()), Technique::Repetition);
        if i + 1 < chars.len() && at(i + 1) != c {
            add(
                base,
                &|| {
                    let mut v = chars.clone();
                    v.swap(i, i + 1);
                    v.into_iter().collect()
                },
                Technique::Transposition,
            );
        }
        for (from, to) in ASCII_HOMOGLYPHS {
            if chars
                .get(i..i + from.chars().count())
                .is_some_and(|w| w.iter().copied().eq(from.chars()))
            {
                let build = || {
                    let mut v: String = chars.get(..i).unwrap_or(&[]).iter().collect();
                    v.push_str(to);
                    v.extend(chars.get(i + from.chars().count()..).unwrap_or(&[]));
                    v
                };
                add(base - from.len() + to.len(), &build, Technique::Homoglyph);
            }
        }
        if !full {
            continue;
        }
        add(base - c_len, &|| without(i), Technique::Omission);
        if i > 0 {
            add(base + 1, &|| with_at(i, "-"), Technique::Hyphenation);
        }
        for &n in near.get(&c).map(Vec::as_slice).unwrap_or(&[]) {
            let n_len = n.len_utf8();
            add(base - c_len + n_len, &|| replaced(i, &n.to_string()), Technique::Replacement);
            add(base + n_len, &|| with_at(i, &n.to_string()), Technique::Insertion);
            add(base + n_len, &|| with_at(i + 1, &n.to_string()), Technique::Insertion);
        }
        if "aeiouy".contains(c) {
            for v in "aeiouy".chars().filter(|v| *v != c) {
                add(base - c_len + 1, &|| replaced(i, &v.to_string()), Technique::VowelSwap);
            }
        }
        let byte = u32::from(c);
        for bit in 0..8 {
            if let Some(f) = char::from_u32(byte ^ (1 << bit))
                && (f.is_ascii_lowercase() || f.is_ascii_digit())
            {
                add(base - c_len + 1, &|| replaced(i, &f.to_string()), Technique::Bitsquatting);
            }
        }
    }
    // additions keep all of `s`: only a target that starts with it can be one
    if full && target.is_none_or(|t| t.starts_with(s)) {
        for c in ('a'..='z').chain('0'..='9') {
            add(base + 1, &|| with_at(chars.len(), &c.to_string()), Technique::Addition);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn catalog() -> Catalog {
        match Catalog::builtin() {
            Ok(c) => c,
            Err(e) => panic!("builtin catalog: {e}"),
        }
    }

    /// `host` is checked as an ASCII host whose registrable domain is the last two labels
    /// (or three when `suffix` has a dot); `expect` is `Some((brand, technique))`.
    fn check(host: &str, suffix: &str, expect: Option<(&str, &str)>) {
        check_idn(host, host, host, suffix, expect);
    }

    fn check_idn(
        host: &str,
        unicode: &str,
        skeleton: &str,
        suffix: &str,
        expect: Option<(&str, &str)>,
    ) {
        let c = catalog();
        let n = suffix.split('.').count() + 1;
        let labels: Vec<&str> = host.split('.').collect();
        let registrable = labels.get(labels.len().saturating_sub(n)..).map(|l| l.join("."));
        let view = HostView {
            host,
            host_unicode: unicode,
            skeleton,
            registrable: registrable.as_deref(),
            suffix: Some(suffix),
            mixed_script: false,
        };
        let got = impersonation(&c, &view, &[])
            .map(|i| (c.brand(i.brand).name.as_str(), i.technique.as_str()));
        assert_eq!(got, expect, "impersonation of {host}");
    }

    #[test]
    fn combosquatting() {
        check("csam-be.info", "info", Some(("CSAM", "combosquatting")));
        check("csam.belgium-id.top", "top", Some(("CSAM", "combosquatting")));
        check("myebox-be.com", "com", Some(("eBox", "combosquatting")));
        check("www.mycsam-login.com", "com", Some(("CSAM", "combosquatting")));
        check("postnord-se.delivery-id.com", "com", Some(("PostNord", "combosquatting")));
        check("ing-verificatie.com", "com", Some(("ING", "combosquatting")));
        check("secure-kbc.be", "be", Some(("KBC", "combosquatting")));
        check("dhl-paket.info", "info", Some(("DHL", "combosquatting")));
        check("ups-redelivery.top", "top", Some(("UPS", "combosquatting")));
        check("posteitaliane-sicurezza.info", "info", Some(("Poste Italiane", "combosquatting")));
    }

    #[test]
    fn official_domains_and_subdomains_never_impersonate() {
        check("myebox.be", "be", None);
        check("track.bpost.cloud", "cloud", None);
        check("www.csam.be", "be", None);
        check("mycitizenebox.belgium.be", "be", None);
        check("impots.gouv.fr", "gouv.fr", None);
        check("www.poste.it", "it", None);
    }

    #[test]
    fn short_tokens_need_boundaries() {
        check("booking.com", "com", None);
        check("upstream.io", "io", None);
        check("kbcnews.org", "org", None);
        check("cafe-paris.fr", "fr", None);
        check("bringme.com", "com", None);
        check("applebees.com", "com", None);
        check("example.com", "com", None);
        check("postenmarket.com", "com", None);
        // common hostname words are no typo of a brand ("linkt", "posti")
        check("link.example.com", "com", None);
        check("mail.example.org", "org", None);
    }

    #[test]
    fn typosquatting_techniques() {
        check("bpots.be", "be", Some(("bpost", "typosquatting:transposition")));
        check("postnrd.se", "se", Some(("PostNord", "typosquatting:omission")));
        check("bposst.be", "be", Some(("bpost", "typosquatting:repetition")));
        check("belfuis.be", "be", Some(("Belfius", "typosquatting:transposition")));
        check("belfiux.be", "be", Some(("Belfius", "typosquatting:replacement")));
        check("b-post.com", "com", Some(("bpost", "typosquatting:hyphenation")));
        check("nordee.com", "com", Some(("Nordea", "typosquatting:vowel-swap")));
        check("paypa1.com", "com", Some(("PayPal", "homoglyph")));
        check("arnazon.com", "com", Some(("Amazon", "homoglyph")));
        check("bpostx.com", "com", Some(("bpost", "typosquatting:addition")));
        check("swedbamk.se", "se", Some(("Swedbank", "typosquatting:replacement")));
        check("kivra.net", "net", Some(("Kivra", "tld-swap")));
        check("dhl.ch", "ch", None);
        check("amazon.com.mx", "com.mx", None);
        check("amazon-prime.mx", "mx", Some(("Amazon", "combosquatting")));
        check("bpost.info", "info", Some(("bpost", "tld-swap")));
        check("postnord-levering.cmo", "cmo", Some(("PostNord", "combosquatting")));
    }

    fn common_label(label: &str) -> bool {
        COMMON_LABELS.contains(&label) || AFFIXES.contains(&label)
    }

    /// The map of every variant that `Variants` replaces (first source, first technique).
    fn full_map(brands: &[Brand]) -> HashMap<String, (BrandId, Technique)> {
        let v = Variants::new(brands);
        let mut out: HashMap<String, (BrandId, Technique)> = HashMap::new();
        for (s, id) in &v.sources {
            for_each_variant(s, &v.near, None, |variant, t| {
                if !v.protected.contains(variant) && !common_label(variant) {
                    out.entry(variant.to_string()).or_insert((*id, t));
                }
                false
            });
        }
        out
    }

    #[test]
    fn index_finds_what_the_full_map_holds() {
        let c = catalog();
        let map = full_map(c.brands());
        assert!(map.len() > 100_000, "{} variants", map.len());
        // every 13th variant (a debug build regenerates a source's variants per lookup),
        // plus labels that are no variant
        for (i, (variant, expect)) in map.iter().enumerate() {
            if i % 13 == 0 {
                assert_eq!(c.variant(variant), Some(*expect), "{variant}");
            }
        }
        for label in ["example", "bpost", "weather", "postnl", "zzzzzz", "amaz", "rnrnrnrn", "link"]
        {
            assert_eq!(c.variant(label), map.get(label).copied(), "{label}");
        }
    }

    #[test]
    fn bitsquatting() {
        // 'b' (0x62) with bit 0 flipped is 'c' (0x63), not a keyboard neighbour of 'b'
        check("cpost.be", "be", Some(("bpost", "typosquatting:bitsquatting")));
    }

    #[test]
    fn unicode_homoglyphs() {
        check_idn(
            "xn--bpst-be-bjg.com",
            "bpøst-be.com",
            "bpøst-be.com",
            "com",
            Some(("bpost", "homoglyph")),
        );
        check_idn("xn--cam-qdd.be", "\u{0441}sam.be", "csam.be", "be", Some(("CSAM", "homoglyph")));
    }
}
