//! The brand catalog: a data file (`data/brands.toml`, embedded) plus optional user files,
//! validated at load and indexed once so per-message work never loops over all brands.
//!
//! Brand choice: a brand is a candidate only on naming evidence (its name, a token, an
//! official-name keyword, or a link that imitates it). Generic service phrases ("tax
//! refund", "your parcel"), kept per sector, never name a brand: they only favour, among
//! the candidates, brands of their sector. The recipient country and the message language
//! decide between candidates that share a word; ties fall to a fixed order
//! ([`Catalog::choose`]).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::OnceLock;

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, AhoCorasickKind, MatchKind};
use serde::Deserialize;
use smishtrap_extract::RegistrableDomain;

use crate::domains::Domains;

use crate::squat::{self, Technique};
use crate::text::{at_word_boundaries, fold};
use crate::words::{Found, WordMatcher};

/// The catalog shipped with smishtrap.
pub const BUILTIN_BRANDS: &str = include_str!("../data/brands.toml");

/// Index of a brand inside its [`Catalog`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct BrandId(pub(crate) u16);

/// One catalogued brand, as validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Brand {
    pub name: String,
    pub sector: Option<String>,
    /// ISO 3166-1 alpha-2, or `*` for brands used everywhere.
    pub countries: Vec<String>,
    pub domains: Vec<String>,
    pub tokens: Vec<String>,
    pub keywords: BTreeMap<String, Vec<String>>,
    /// Name and tokens count in text only as written or in capitals (the name is a common
    /// word: "Target", "Chase", "Three").
    pub cased: bool,
    /// A messenger that lures name as the way to reach their sender ("add me on WhatsApp"):
    /// named that way, it is not the brand a text invokes ([`crate::text::names_a_channel`]).
    pub channel: bool,
}

impl Brand {
    /// True when the brand serves people of `country` (or everyone).
    pub fn serves(&self, country: &str) -> bool {
        self.countries.iter().any(|c| c == "*" || c.eq_ignore_ascii_case(country))
    }

    fn everywhere(&self) -> bool {
        self.countries.iter().any(|c| c == "*")
    }
}

/// A catalog file problem, naming the file, the brand and the field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}: {}{}{message}", brand.as_ref().map(|b| format!("brand {b:?}: ")).unwrap_or_default(), field.map(|f| format!("field {f}: ")).unwrap_or_default())]
pub struct CatalogError {
    pub file: String,
    pub brand: Option<String>,
    pub field: Option<&'static str>,
    pub message: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CatalogFile {
    /// Country -> the languages its people read SMS in.
    #[serde(default)]
    languages: BTreeMap<String, Vec<String>>,
    /// Sector -> language -> generic phrases of the sector's services.
    #[serde(default)]
    sectors: BTreeMap<String, BTreeMap<String, Vec<String>>>,
    #[serde(default)]
    brand: Vec<BrandSpec>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct BrandSpec {
    name: String,
    #[serde(default)]
    sector: Option<String>,
    #[serde(default)]
    countries: Vec<String>,
    #[serde(default)]
    domains: Vec<String>,
    #[serde(default)]
    tokens: Vec<String>,
    #[serde(default)]
    keywords: BTreeMap<String, Vec<String>>,
    #[serde(default)]
    cased: bool,
    #[serde(default)]
    channel: bool,
}

/// How a brand was found in message text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum MentionKind {
    /// The brand name or one of its tokens, as a word.
    Name,
    /// One of its keywords (an official name of the brand or its service).
    Keyword,
}

/// A brand named in message text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Mention {
    pub brand: BrandId,
    /// The strongest way the text names it.
    pub kind: MentionKind,
    /// Byte offset of its first mention in the folded text.
    pub at: usize,
    /// Bytes of its longest mention (a longer name is more specific).
    pub len: usize,
    /// Named only by a short token in capitals ("BCP", "SAT"): counts only where the brand
    /// fits the recipient's country or the message language.
    pub short: bool,
}

/// Brands named in a text, in order of first appearance, and the sectors whose generic
/// phrases it uses.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Mentions {
    pub brands: Vec<Mention>,
    /// Bit `i`: the text uses a generic phrase of sector `i`.
    pub sectors: u64,
}

impl std::ops::Deref for Mentions {
    type Target = [Mention];
    fn deref(&self) -> &[Mention] {
        &self.brands
    }
}

/// A brand token found in a hostname.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct HostToken {
    pub(crate) brand: BrandId,
    pub(crate) start: usize,
    pub(crate) end: usize,
}

#[derive(Debug, Clone, Copy)]
enum TextPattern {
    Brand {
        brand: BrandId,
        kind: MentionKind,
    },
    /// A generic phrase of the sector with this index.
    Sector(u8),
}

/// Maps looked up for every URL of every message: foldhash is several times cheaper than
/// SipHash on short keys, and their keys are our own catalog data (no flooding risk).
pub(crate) type FastMap<K, V> = HashMap<K, V, foldhash::fast::RandomState>;

/// The validated, indexed catalog.
#[derive(Debug)]
pub struct Catalog {
    brands: Vec<Brand>,
    /// Per brand: index of its sector in `sectors`.
    brand_sector: Vec<Option<u8>>,
    /// Per brand: ISO 639-1 codes it writes in (its countries' languages and its keywords').
    brand_langs: Vec<Vec<[u8; 2]>>,
    sectors: Vec<String>,
    /// Official registrable domain -> brands.
    official: FastMap<String, Vec<BrandId>>,
    /// Brand top-level domains (`.sbi`, `.scb`: a listed official domain under a TLD that
    /// is one of the brand's tokens) -> brands; every domain under them is official.
    brand_tlds: FastMap<String, Vec<BrandId>>,
    /// First label of official domains -> (brand, suffix) for TLD swaps.
    official_labels: FastMap<String, Vec<(BrandId, String)>>,
    /// Brand tokens, found anywhere in a host (hosts are short: an anchored walk from the
    /// few offsets where a token's first two bytes are, instead of a full DFA).
    host_tokens: WordMatcher,
    host_token_brand: Vec<BrandId>,
    /// The patterns of `host_tokens` and `caps_matcher`, for tests against an automaton.
    #[cfg_attr(not(test), allow(dead_code, reason = "read by tests"))]
    host_patterns: Vec<String>,
    #[cfg_attr(not(test), allow(dead_code, reason = "read by tests"))]
    caps_patterns: Vec<String>,
    /// The text patterns for [`Catalog::mentions`] on its own, built on first use: the
    /// engine finds them with its own word matcher, and building this one would only slow
    /// every start-up. Total pattern bytes are capped at load, so the build succeeds.
    text_matcher: OnceLock<Option<AhoCorasick>>,
    text_patterns: Vec<TextPattern>,
    text_patterns_str: Vec<String>,
    /// Short tokens (<= 3 chars) and cased names matched case-sensitively in the original
    /// text; `(brand, short)`. They all must start a word, so the walk only starts where
    /// a word does and its first two bytes begin a pattern (most texts: nowhere).
    caps_matcher: WordMatcher,
    caps_brand: Vec<(BrandId, bool)>,
    /// Typosquat variants of official labels and long tokens.
    variants: squat::Variants,
    /// Registries, TLDs and link services (`data/domains.toml`).
    domains: Domains,
}

/// A brand with the file it came from (for error messages).
struct Sourced {
    file: String,
    brand: Brand,
}

impl Catalog {
    /// The built-in catalog.
    pub fn builtin() -> Result<Catalog, CatalogError> {
        Catalog::from_sources(&[("builtin brands.toml", BUILTIN_BRANDS)])
    }

    /// Built-in catalog extended with user files (`(file name, contents)`); a user brand
    /// with the name of an earlier one replaces it.
    pub fn with_extensions(extra: &[(&str, &str)]) -> Result<Catalog, CatalogError> {
        let mut sources = vec![("builtin brands.toml", BUILTIN_BRANDS)];
        sources.extend_from_slice(extra);
        Catalog::from_sources(&sources)
    }

    /// Parses and validates every source, later sources replacing same-named brands and
    /// adding languages and sector phrases.
    pub fn from_sources(sources: &[(&str, &str)]) -> Result<Catalog, CatalogError> {
        let mut brands: Vec<Sourced> = Vec::new();
        let mut languages: BTreeMap<String, Vec<[u8; 2]>> = BTreeMap::new();
        let mut sectors: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for (file, text) in sources {
            let parsed: CatalogFile = toml::from_str(text).map_err(|e| CatalogError {
                file: (*file).to_string(),
                brand: None,
                field: None,
                message: e.to_string().trim().replace('\n', " "),
            })?;
            for (country, langs) in parsed.languages {
                let country = valid_country(file, None, "languages", &country)?;
                let entry = languages.entry(country).or_default();
                for l in langs {
                    let code = valid_lang(file, None, "languages", &l)?;
                    if !entry.contains(&code) {
                        entry.push(code);
                    }
                }
            }
            for (sector, phrases) in parsed.sectors {
                if !valid_sector_name(&sector) {
                    return Err(file_err(
                        file,
                        "sectors",
                        &format!("{sector:?} must be 2 to 32 characters of a-z and hyphens"),
                    ));
                }
                let entry = sectors.entry(sector).or_default();
                for (lang, words) in phrases {
                    valid_lang(file, None, "sectors", &lang)?;
                    for w in words {
                        entry.push(valid_phrase(file, None, "sectors", &w)?);
                    }
                }
            }
            let mut seen = HashSet::new();
            for spec in parsed.brand {
                let brand = validate(file, spec)?;
                if !seen.insert(brand.name.to_lowercase()) {
                    return Err(err(
                        file,
                        &brand.name,
                        "name",
                        "duplicate brand name in this file",
                    ));
                }
                let sourced = Sourced { file: (*file).to_string(), brand };
                match brands
                    .iter_mut()
                    .find(|b| b.brand.name.eq_ignore_ascii_case(&sourced.brand.name))
                {
                    Some(existing) => *existing = sourced,
                    None => brands.push(sourced),
                }
            }
        }
        if brands.len() > usize::from(u16::MAX) {
            return Err(file_err("catalog", "brand", "too many brands"));
        }
        let sector_names: Vec<String> = sectors.keys().cloned().collect();
        if sector_names.len() > 64 {
            return Err(file_err("catalog", "sectors", "too many sectors (at most 64)"));
        }
        let mut owner: HashMap<&str, &str> = HashMap::new();
        for Sourced { file, brand } in &brands {
            if let Some(sector) = &brand.sector
                && !sectors.contains_key(sector)
            {
                return Err(err(
                    file,
                    &brand.name,
                    "sector",
                    &format!("unknown sector {sector:?} (declare it under [sectors])"),
                ));
            }
            for d in &brand.domains {
                if let Some(other) = owner.insert(d, &brand.name) {
                    return Err(err(
                        file,
                        &brand.name,
                        "domains",
                        &format!("{d:?} is already an official domain of {other:?}"),
                    ));
                }
            }
        }
        let brand_langs = brands
            .iter()
            .map(|Sourced { brand, .. }| {
                let mut langs: Vec<[u8; 2]> = Vec::new();
                let spoken = brand.countries.iter().filter_map(|c| languages.get(c)).flatten();
                let written = brand.keywords.keys().filter_map(|l| two_bytes(l));
                for l in spoken.copied().chain(written) {
                    if !langs.contains(&l) {
                        langs.push(l);
                    }
                }
                langs
            })
            .collect();
        let brand_sector = brands
            .iter()
            .map(|s| {
                let sector = s.brand.sector.as_ref()?;
                sector_names.iter().position(|n| n == sector).and_then(|i| u8::try_from(i).ok())
            })
            .collect();
        let phrases: Vec<(u8, &[String])> = sector_names
            .iter()
            .enumerate()
            .filter_map(|(i, n)| Some((u8::try_from(i).ok()?, sectors.get(n)?.as_slice())))
            .collect();
        let domains = Domains::builtin().map_err(|e| CatalogError {
            file: e.file,
            brand: None,
            field: Some(e.list),
            message: e.message,
        })?;
        let mut catalog =
            Catalog::index(brands.into_iter().map(|s| s.brand).collect(), &phrases, domains)?;
        catalog.brand_langs = brand_langs;
        catalog.brand_sector = brand_sector;
        catalog.sectors = sector_names;
        Ok(catalog)
    }

    fn index(
        brands: Vec<Brand>,
        sector_phrases: &[(u8, &[String])],
        domains: Domains,
    ) -> Result<Catalog, CatalogError> {
        let mut official: FastMap<String, Vec<BrandId>> = FastMap::default();
        let mut official_labels: FastMap<String, Vec<(BrandId, String)>> = FastMap::default();
        let mut brand_tlds: FastMap<String, Vec<BrandId>> = FastMap::default();
        let mut host_patterns: Vec<String> = Vec::new();
        let mut host_token_brand = Vec::new();
        let mut text_patterns_str: Vec<String> = Vec::new();
        let mut text_patterns = Vec::new();
        let mut caps_patterns: Vec<String> = Vec::new();
        let mut caps_brand = Vec::new();
        for (i, brand) in brands.iter().enumerate() {
            let id = BrandId(u16::try_from(i).unwrap_or(u16::MAX));
            for d in &brand.domains {
                official.entry(d.clone()).or_default().push(id);
                if let Some((_, tld)) = d.rsplit_once('.')
                    && brand.tokens.iter().any(|t| t == tld)
                    && RegistrableDomain::parse(d).is_some_and(|r| r.suffix() == tld)
                {
                    let owners = brand_tlds.entry(tld.to_string()).or_default();
                    if !owners.contains(&id) {
                        owners.push(id);
                    }
                }
                if let Some((label, suffix)) = d.split_once('.') {
                    official_labels
                        .entry(label.to_string())
                        .or_default()
                        .push((id, suffix.to_string()));
                }
            }
            let name_folded = fold(&brand.name);
            let mut text_words: Vec<(String, MentionKind)> = Vec::new();
            let short_name = name_folded.chars().filter(|c| c.is_alphanumeric()).count() <= 3;
            if short_name || brand.cased {
                // Short names ("ING", "UPS") and common words ("Target") count only as
                // written or in capitals.
                caps_patterns.push(brand.name.clone());
                caps_brand.push((id, short_name));
                if brand.cased && !short_name {
                    caps_patterns.push(brand.name.to_uppercase());
                    caps_brand.push((id, false));
                }
            } else {
                text_words.push((name_folded, MentionKind::Name));
            }
            for t in &brand.tokens {
                host_patterns.push(t.clone());
                host_token_brand.push(id);
                if t.len() <= 3 || brand.cased {
                    caps_patterns.push(t.to_ascii_uppercase());
                    caps_brand.push((id, t.len() <= 3));
                } else {
                    text_words.push((t.clone(), MentionKind::Name));
                }
            }
            for words in brand.keywords.values() {
                for k in words {
                    text_words.push((fold(k), MentionKind::Keyword));
                }
            }
            for (w, kind) in text_words {
                text_patterns_str.push(w);
                text_patterns.push(TextPattern::Brand { brand: id, kind });
            }
        }
        for (sector, phrases) in sector_phrases {
            for p in *phrases {
                text_patterns_str.push(fold(p));
                text_patterns.push(TextPattern::Sector(*sector));
            }
        }
        let bytes = |patterns: &[String]| patterns.iter().map(String::len).sum::<usize>();
        if [&text_patterns_str, &host_patterns, &caps_patterns]
            .into_iter()
            .any(|p| bytes(p) > MAX_PATTERN_BYTES)
        {
            return Err(file_err(
                "catalog",
                "brand",
                &format!("names, tokens and phrases exceed {MAX_PATTERN_BYTES} bytes"),
            ));
        }
        let variants = squat::Variants::new(&brands);
        Ok(Catalog {
            // No full DFA: building one cost more at start-up than the anchored walks of the
            // word matchers, which also scan faster here.
            host_tokens: word_matcher(&host_patterns, true)?,
            host_token_brand,
            text_matcher: OnceLock::new(),
            text_patterns,
            text_patterns_str,
            caps_matcher: word_matcher(&caps_patterns, false)?,
            host_patterns,
            caps_patterns,
            caps_brand,
            brand_sector: vec![None; brands.len()],
            brand_langs: vec![Vec::new(); brands.len()],
            sectors: Vec::new(),
            brands,
            official,
            brand_tlds,
            official_labels,
            variants,
            domains,
        })
    }

    pub fn brands(&self) -> &[Brand] {
        &self.brands
    }

    pub fn brand(&self, id: BrandId) -> &Brand {
        // Ids are only minted by this catalog, so the index is in range.
        &self.brands[usize::from(id.0)]
    }

    pub fn find(&self, name: &str) -> Option<BrandId> {
        self.brands
            .iter()
            .position(|b| b.name.eq_ignore_ascii_case(name))
            .and_then(|i| u16::try_from(i).ok())
            .map(BrandId)
    }

    /// The declared sectors, in the order of the bits of [`Mentions::sectors`].
    pub fn sectors(&self) -> &[String] {
        &self.sectors
    }

    /// Brands for which `registrable_domain` is official.
    pub fn official_for(&self, registrable_domain: &str) -> &[BrandId] {
        self.official
            .get(registrable_domain)
            .or_else(|| {
                let (_, tld) = registrable_domain.rsplit_once('.')?;
                self.brand_tlds.get(tld)
            })
            .map(Vec::as_slice)
            .unwrap_or(&[])
    }

    /// Registries, TLDs and link services the scorer weighs.
    pub fn domains(&self) -> &Domains {
        &self.domains
    }

    pub(crate) fn official_label(&self, label: &str) -> &[(BrandId, String)] {
        self.official_labels.get(label).map(Vec::as_slice).unwrap_or(&[])
    }

    pub(crate) fn variant(&self, label: &str) -> Option<(BrandId, Technique)> {
        self.variants.get(label)
    }

    /// Brand tokens inside `host` (lowercase ASCII), every occurrence, overlapping, in the
    /// order of an overlapping search (by end, longest first, then catalog order).
    pub(crate) fn host_tokens(&self, host: &str) -> Vec<HostToken> {
        let mut found = Vec::new();
        self.host_tokens.find_anywhere(host, &mut found);
        found
            .into_iter()
            .filter_map(|(p, start, end)| {
                let brand = *self.host_token_brand.get(p)?;
                Some(HostToken { brand, start, end })
            })
            .collect()
    }

    /// Brands named in `original` text (`folded` is `fold(original)`), in order of appearance.
    pub fn mentions(&self, original: &str, folded: &str) -> Mentions {
        let mut caps = Vec::new();
        self.caps_matcher.find(original, &mut caps);
        let matcher = self.text_matcher.get_or_init(|| {
            build_matcher(&self.text_patterns_str, true, AhoCorasickKind::ContiguousNFA).ok()
        });
        let found = matcher
            .iter()
            .flat_map(|m| m.find_overlapping_iter(folded))
            .map(|m| (m.pattern().as_usize(), m.start(), m.end()));
        self.mentions_from(original, folded, found, &caps)
    }

    /// The text patterns (folded names, tokens, keywords and sector phrases), in
    /// pattern-index order, for an automaton that also holds other patterns (see
    /// [`Catalog::mentions_from`]).
    pub(crate) fn text_patterns(&self) -> &[String] {
        &self.text_patterns_str
    }

    /// Finds short tokens and cased names in the original text, for
    /// [`Catalog::mentions_from`].
    pub(crate) fn caps_matcher(&self) -> &WordMatcher {
        &self.caps_matcher
    }

    /// [`Catalog::mentions`] from the overlapping matches `(pattern, start, end)` of
    /// [`Catalog::text_patterns`] in `folded` and of [`Catalog::caps_matcher`] in
    /// `original`, found by the caller.
    pub(crate) fn mentions_from(
        &self,
        original: &str,
        folded: &str,
        found: impl Iterator<Item = (usize, usize, usize)>,
        caps: &[Found],
    ) -> Mentions {
        let mut out: Vec<Mention> = Vec::new();
        let mut sectors = 0u64;
        for (pattern, start, end) in found {
            if !at_word_boundaries(folded, start, end) {
                continue;
            }
            match self.text_patterns.get(pattern) {
                Some(TextPattern::Brand { brand, kind }) => out.push(Mention {
                    brand: *brand,
                    kind: *kind,
                    at: start,
                    len: end - start,
                    short: false,
                }),
                Some(TextPattern::Sector(s)) => sectors |= 1u64 << (s % 64),
                None => {}
            }
        }
        for &(pattern, start, end) in caps {
            if !at_word_boundaries(original, start, end) {
                continue;
            }
            if let Some(&(brand, short)) = self.caps_brand.get(pattern) {
                // Offsets of `original` and `folded` agree closely enough for ordering.
                out.push(Mention {
                    brand,
                    kind: MentionKind::Name,
                    at: start,
                    len: end - start,
                    short,
                });
            }
        }
        out.sort_by_key(|m| (m.at, m.kind, m.brand));
        // One mention per brand: its first place, its strongest kind, its longest match, and
        // short only when nothing else names it.
        let mut brands: Vec<Mention> = Vec::with_capacity(out.len());
        for m in out {
            match brands.iter_mut().find(|b| b.brand == m.brand) {
                Some(b) => {
                    b.kind = b.kind.min(m.kind);
                    b.len = b.len.max(m.len);
                    b.short &= m.short;
                }
                None => brands.push(m),
            }
        }
        Mentions { brands, sectors }
    }

    /// How well a brand fits the recipient's country and the message language; `None`
    /// (unknown) fits everything.
    fn fit(&self, id: BrandId, country: Option<&str>, lang: Option<&str>) -> Fit {
        let brand = self.brand(id);
        let serves = country.is_none_or(|c| brand.serves(c));
        let speaks = brand.everywhere()
            || lang.and_then(two_bytes).is_none_or(|l| {
                self.brand_langs.get(usize::from(id.0)).is_some_and(|ls| ls.contains(&l))
            });
        let local =
            country.is_some_and(|c| brand.countries.iter().any(|x| x.eq_ignore_ascii_case(c)));
        Fit { serves, speaks, local }
    }

    /// The brand serves `country` and writes in `lang` (either unknown counts as yes).
    pub fn fits(&self, id: BrandId, country: Option<&str>, lang: Option<&str>) -> bool {
        let fit = self.fit(id, country, lang);
        fit.serves && fit.speaks
    }

    fn supported(&self, id: BrandId, sectors: u64) -> bool {
        self.brand_sector
            .get(usize::from(id.0))
            .copied()
            .flatten()
            .is_some_and(|s| sectors & (1u64 << (s % 64)) != 0)
    }

    /// Brands the text names (by name, token or official-name keyword, never by a generic
    /// phrase alone), best candidate first; a short capital token counts only where its
    /// brand serves `country` (the recipient's) or writes in `lang`.
    pub fn named(
        &self,
        mentions: &Mentions,
        country: Option<&str>,
        lang: Option<&str>,
    ) -> Vec<BrandId> {
        let mut ranked: Vec<(RankKey, BrandId)> = mentions
            .iter()
            .filter(|m| {
                let fit = self.fit(m.brand, country, lang);
                // unknown country and language serve and speak everything
                !m.short
                    || (country.is_some() && fit.serves)
                    || (lang.is_some() && fit.speaks)
                    || (country.is_none() && lang.is_none())
            })
            .map(|m| {
                (
                    self.rank(m.brand, Some(m), false, usize::MAX, mentions.sectors, country, lang),
                    m.brand,
                )
            })
            .collect();
        ranked.sort_by_key(|r| std::cmp::Reverse(r.0));
        ranked.into_iter().map(|(_, b)| b).collect()
    }

    /// The brand a message is about: among the brands named in the text ([`Catalog::named`])
    /// and those its links imitate (`imitated`, in link order), a link that imitates a named
    /// brand first, then any imitated brand, then the named ones; within each, brands that
    /// serve the recipient's country, then those that write in the message language, then
    /// names before keywords, sector support by a generic phrase, first mention, longest
    /// mention, brands of the recipient's own country, catalog order. `None` without
    /// naming evidence: generic phrases alone never choose a brand.
    pub fn choose(
        &self,
        mentions: &Mentions,
        imitated: &[BrandId],
        country: Option<&str>,
        lang: Option<&str>,
    ) -> Option<BrandId> {
        self.choose_among(mentions, &self.named(mentions, country, lang), imitated, country, lang)
    }

    /// [`Catalog::choose`] when the caller already holds [`Catalog::named`] of the same
    /// mentions, country and language (the engine needs both: not ranked twice).
    pub fn choose_among(
        &self,
        mentions: &Mentions,
        named: &[BrandId],
        imitated: &[BrandId],
        country: Option<&str>,
        lang: Option<&str>,
    ) -> Option<BrandId> {
        let mention = |b: BrandId| mentions.iter().find(|m| m.brand == b);
        let from_links = imitated.iter().enumerate().map(|(i, &b)| {
            let key = self.rank(
                b,
                mention(b).filter(|_| named.contains(&b)),
                true,
                i,
                mentions.sectors,
                country,
                lang,
            );
            (key, b)
        });
        let from_text = named.iter().map(|&b| {
            (self.rank(b, mention(b), false, usize::MAX, mentions.sectors, country, lang), b)
        });
        from_links.chain(from_text).max_by(|a, b| a.0.cmp(&b.0).then(b.1.cmp(&a.1))).map(|(_, b)| b)
    }

    #[allow(clippy::too_many_arguments, reason = "private helper of `named` and `choose`")]
    fn rank(
        &self,
        brand: BrandId,
        mention: Option<&Mention>,
        imitated: bool,
        link: usize,
        sectors: u64,
        country: Option<&str>,
        lang: Option<&str>,
    ) -> RankKey {
        let fit = self.fit(brand, country, lang);
        let tier = match (imitated, mention.is_some()) {
            (true, true) => 2,
            (true, false) => 1,
            _ => 0,
        };
        RankKey {
            tier,
            link: std::cmp::Reverse(link),
            serves: fit.serves,
            speaks: fit.speaks,
            by_name: mention.is_none_or(|m| m.kind == MentionKind::Name),
            supported: self.supported(brand, sectors),
            first: std::cmp::Reverse(mention.map_or(usize::MAX, |m| m.at)),
            len: mention.map_or(0, |m| m.len),
            local: fit.local,
        }
    }
}

/// How a brand fits a message's recipient and language.
#[derive(Debug, Clone, Copy)]
struct Fit {
    /// Serves the recipient's country (or everyone, or the country is unknown).
    serves: bool,
    /// Writes in the message language (or everyone's, or the language is unknown).
    speaks: bool,
    /// Lists the recipient's country itself (not only `*`).
    local: bool,
}

/// Candidate order of [`Catalog::choose`], greatest first (fields compare in order).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct RankKey {
    tier: u8,
    link: std::cmp::Reverse<usize>,
    serves: bool,
    speaks: bool,
    by_name: bool,
    supported: bool,
    first: std::cmp::Reverse<usize>,
    len: usize,
    local: bool,
}

fn two_bytes(lang: &str) -> Option<[u8; 2]> {
    match lang.as_bytes() {
        &[a, b] => Some([a, b]),
        _ => None,
    }
}

fn build_matcher(
    patterns: &[String],
    ascii_case_insensitive: bool,
    kind: AhoCorasickKind,
) -> Result<AhoCorasick, CatalogError> {
    AhoCorasickBuilder::new()
        .match_kind(MatchKind::Standard)
        .kind(Some(kind))
        .ascii_case_insensitive(ascii_case_insensitive)
        .build(patterns)
        .map_err(|e| CatalogError {
            file: "catalog".into(),
            brand: None,
            field: None,
            message: e.to_string(),
        })
}

fn word_matcher(patterns: &[String], fold_case: bool) -> Result<WordMatcher, CatalogError> {
    WordMatcher::new(patterns, fold_case).ok_or_else(|| CatalogError {
        file: "catalog".into(),
        brand: None,
        field: None,
        message: "too many or too long brand tokens to index".into(),
    })
}

fn err(file: &str, brand: &str, field: &'static str, message: &str) -> CatalogError {
    CatalogError {
        file: file.to_string(),
        brand: Some(brand.to_string()),
        field: Some(field),
        message: message.to_string(),
    }
}

fn file_err(file: &str, field: &'static str, message: &str) -> CatalogError {
    CatalogError {
        file: file.to_string(),
        brand: None,
        field: Some(field),
        message: message.to_string(),
    }
}

fn err_at(file: &str, brand: Option<&str>, field: &'static str, message: &str) -> CatalogError {
    match brand {
        Some(b) => err(file, b, field, message),
        None => file_err(file, field, message),
    }
}

const MAX_ITEMS: usize = 200;
const MAX_LEN: usize = 120;
/// Bound on the bytes of each pattern set (the built-in catalog has under 100 KB): the
/// automata of a catalog the loader accepts always build, even those built on first use.
const MAX_PATTERN_BYTES: usize = 4 << 20;

/// ISO 3166-1 alpha-2 codes (officially assigned).
const ISO_3166: &str = "AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI BJ \
    BL BM BN BO BQ BR BS BT BV BW BY BZ CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY \
    CZ DE DJ DK DM DO DZ EC EE EG EH ER ES ET FI FJ FK FM FO FR GA GB GD GE GF GG GH GI GL GM \
    GN GP GQ GR GS GT GU GW GY HK HM HN HR HT HU ID IE IL IM IN IO IQ IR IS IT JE JM JO JP KE \
    KG KH KI KM KN KP KR KW KY KZ LA LB LC LI LK LR LS LT LU LV LY MA MC MD ME MF MG MH MK ML \
    MM MN MO MP MQ MR MS MT MU MV MW MX MY MZ NA NC NE NF NG NI NL NO NP NR NU NZ OM PA PE PF \
    PG PH PK PL PM PN PR PS PT PW PY QA RE RO RS RU RW SA SB SC SD SE SG SH SI SJ SK SL SM SN \
    SO SR SS ST SV SX SY SZ TC TD TF TG TH TJ TK TL TM TN TO TR TT TV TW TZ UA UG UM US UY UZ \
    VA VC VE VG VI VN VU WF WS YE YT ZA ZM ZW";

/// Country codes the catalog accepts: ISO 3166-1 alpha-2, uppercased.
fn valid_country(
    file: &str,
    brand: Option<&str>,
    field: &'static str,
    code: &str,
) -> Result<String, CatalogError> {
    let c = code.trim().to_ascii_uppercase();
    if c.len() == 2 && ISO_3166.split_ascii_whitespace().any(|k| k == c) {
        return Ok(c);
    }
    Err(err_at(file, brand, field, &format!("{c:?} is not an ISO 3166-1 alpha-2 country code")))
}

fn valid_lang(
    file: &str,
    brand: Option<&str>,
    field: &'static str,
    lang: &str,
) -> Result<[u8; 2], CatalogError> {
    match lang.as_bytes() {
        &[a, b] if a.is_ascii_lowercase() && b.is_ascii_lowercase() => Ok([a, b]),
        _ => {
            Err(err_at(file, brand, field, &format!("{lang:?} is not an ISO 639-1 language code")))
        }
    }
}

fn valid_phrase(
    file: &str,
    brand: Option<&str>,
    field: &'static str,
    phrase: &str,
) -> Result<String, CatalogError> {
    let w = phrase.trim();
    // two letters suffice in scripts without an alphabet ("楽天", "국세")
    let min = if w.is_ascii() { 3 } else { 2 };
    if w.chars().filter(|c| c.is_alphanumeric()).count() < min
        || w.len() > MAX_LEN
        || w.chars().any(char::is_control)
    {
        return Err(err_at(
            file,
            brand,
            field,
            &format!("{w:?} must hold 3 (2 outside ASCII) to 120 printable characters"),
        ));
    }
    Ok(w.to_string())
}

fn valid_sector_name(s: &str) -> bool {
    (2..=32).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_lowercase() || b == b'-')
}

fn validate(file: &str, spec: BrandSpec) -> Result<Brand, CatalogError> {
    let name = spec.name.trim().to_string();
    if name.is_empty() || name.len() > MAX_LEN || name.chars().any(char::is_control) {
        return Err(err(file, &name, "name", "must be 1 to 120 printable characters"));
    }
    if spec.domains.is_empty() {
        return Err(err(file, &name, "domains", "at least one official domain is required"));
    }
    if spec.tokens.is_empty() {
        return Err(err(file, &name, "tokens", "at least one token is required"));
    }
    for (field, len) in [
        ("domains", spec.domains.len()),
        ("tokens", spec.tokens.len()),
        ("countries", spec.countries.len()),
    ] {
        if len > MAX_ITEMS {
            return Err(err(file, &name, field, "too many entries (at most 200)"));
        }
    }
    let mut domains = Vec::new();
    for d in &spec.domains {
        let d = d.trim();
        if !valid_domain(d) {
            return Err(err(
                file,
                &name,
                "domains",
                &format!(
                    "{d:?} is not a domain name (lowercase ASCII labels joined by dots, punycode for IDN)"
                ),
            ));
        }
        // Official domains are compared with the registrable domain of each link, so one
        // that is not itself registrable (a subdomain, or no real public suffix) would
        // never match.
        if RegistrableDomain::parse(d).is_none_or(|r| r.as_str() != d) {
            return Err(err(
                file,
                &name,
                "domains",
                &format!("{d:?} is not a registrable domain under a real public suffix"),
            ));
        }
        if domains.iter().any(|x| x == d) {
            return Err(err(file, &name, "domains", &format!("{d:?} is listed twice")));
        }
        domains.push(d.to_string());
    }
    let mut tokens = Vec::new();
    for t in &spec.tokens {
        let t = t.trim().to_ascii_lowercase();
        let ok = t.len() >= 2
            && t.len() <= 63
            && t.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            && !t.starts_with('-')
            && !t.ends_with('-');
        if !ok {
            return Err(err(
                file,
                &name,
                "tokens",
                &format!("{t:?} must be 2 to 63 characters of a-z, 0-9 and inner hyphens"),
            ));
        }
        if !tokens.contains(&t) {
            tokens.push(t);
        }
    }
    let mut countries = Vec::new();
    for c in &spec.countries {
        let c = if c.trim() == "*" {
            "*".to_string()
        } else {
            valid_country(file, Some(&name), "countries", c)?
        };
        if !countries.contains(&c) {
            countries.push(c);
        }
    }
    let mut keywords = BTreeMap::new();
    for (lang, words) in spec.keywords {
        valid_lang(file, Some(&name), "keywords", &lang)?;
        let mut clean = Vec::new();
        for w in words {
            clean.push(valid_phrase(file, Some(&name), "keywords", &w)?);
        }
        keywords.insert(lang, clean);
    }
    let sector = spec.sector.map(|s| s.trim().to_string()).filter(|s| !s.is_empty());
    Ok(Brand {
        name,
        sector,
        countries,
        domains,
        tokens,
        keywords,
        cased: spec.cased,
        channel: spec.channel,
    })
}

fn valid_domain(d: &str) -> bool {
    if d.len() > 253 || !d.contains('.') {
        return false;
    }
    d.split('.').all(|label| {
        !label.is_empty()
            && label.len() <= 63
            && label.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            && !label.starts_with('-')
            && !label.ends_with('-')
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn catalog() -> &'static Catalog {
        static CATALOG: std::sync::OnceLock<Catalog> = std::sync::OnceLock::new();
        CATALOG.get_or_init(|| match Catalog::builtin() {
            Ok(c) => c,
            Err(e) => panic!("builtin catalog: {e}"),
        })
    }

    #[test]
    fn builtin_catalog_covers_required_brands() {
        let c = catalog();
        assert!(c.brands().len() >= 400, "{} brands", c.brands().len());
        for name in [
            // Europe
            "CSAM",
            "eBox",
            "MyMinfin",
            "itsme",
            "bpost",
            "KBC",
            "Belfius",
            "ING",
            "BNP Paribas Fortis",
            "Argenta",
            "Proximus",
            "DigiD",
            "Belastingdienst",
            "PostNL",
            "Rabobank",
            "ABN AMRO",
            "BankID",
            "PostNord",
            "Skatteverket",
            "Kivra",
            "Swedbank",
            "Handelsbanken",
            "Nordea",
            "Transportstyrelsen",
            "Poste Italiane",
            "INPS",
            "Agenzia delle Entrate",
            "Intesa Sanpaolo",
            "UniCredit",
            "BRT",
            "Ameli",
            "ANTAI",
            "impots.gouv",
            "La Poste",
            "Chronopost",
            "CAF",
            "Crédit Agricole",
            "Correos",
            "DGT",
            "Agencia Tributaria",
            "DHL",
            "Sparkasse",
            "Deutsche Post",
            "CTT",
            "HMRC",
            "Royal Mail",
            "An Post",
            "Revenue",
            "Swiss Post",
            "Österreichische Post",
            "ANAF",
            "ELTA",
            // North America
            "IRS",
            "Social Security Administration",
            "USPS",
            "UPS",
            "FedEx",
            "Chase",
            "Bank of America",
            "Wells Fargo",
            "Citi",
            "Capital One",
            "U.S. Bank",
            "PNC",
            "Truist",
            "Navy Federal",
            "USAA",
            "Walmart",
            "Target",
            "Costco",
            "Zelle",
            "Venmo",
            "Cash App",
            "E-ZPass",
            "SunPass",
            "FasTrak",
            "DMV",
            "Canada Post",
            "Canada Revenue Agency",
            "Interac",
            "RBC",
            "TD Bank",
            "Scotiabank",
            "BMO",
            "CIBC",
            // Latin America
            "Receita Federal",
            "Correios",
            "Nubank",
            "Mercado Libre",
            "Mercado Pago",
            "SAT",
            "AFIP",
            "DIAN",
            "SII",
            "SUNAT",
            "Bancolombia",
            "BCP",
            // India and South-East Asia
            "State Bank of India",
            "HDFC Bank",
            "ICICI Bank",
            "Axis Bank",
            "Kotak Mahindra Bank",
            "Punjab National Bank",
            "Paytm",
            "PhonePe",
            "India Post",
            "Income Tax Department",
            "EPFO",
            "UIDAI",
            "Jio",
            "Airtel",
            "Vodafone Idea",
            "BSNL",
            "Kasikornbank",
            "SCB",
            "Bangkok Bank",
            "Krungthai Bank",
            "Krungsri",
            "Thailand Post",
            "Kerry Express",
            "Flash Express",
            "AIS",
            "TrueMove H",
            "dtac",
            "Revenue Department",
            "BCA",
            "BRI",
            "Bank Mandiri",
            "BNI",
            "Pos Indonesia",
            "Telkomsel",
            "DANA",
            "OVO",
            "Gojek",
            "Tokopedia",
            "Shopee",
            "Maybank",
            "DBS",
            "SingPost",
            "GCash",
            "Vietcombank",
            // Africa and Oceania
            "SARS",
            "Safaricom",
            "MTN",
            "FNB",
            "ATO",
            "myGov",
            "Linkt",
            "Australia Post",
            "CommBank",
            "Westpac",
            "NAB",
            "ANZ",
            "Telstra",
            "Optus",
            "Inland Revenue",
            "NZ Post",
            "Waka Kotahi",
            // global
            "Amazon",
            "Apple",
            "Google",
            "Microsoft",
            "Netflix",
            "PayPal",
            "WhatsApp",
            "Instagram",
            "Facebook",
            "Spotify",
            "Disney+",
        ] {
            assert!(c.find(name).is_some(), "missing brand {name}");
        }
    }

    #[test]
    fn every_official_domain_has_a_real_public_suffix() {
        for b in catalog().brands() {
            for d in &b.domains {
                let registrable = RegistrableDomain::parse(d);
                assert_eq!(
                    registrable.as_ref().map(RegistrableDomain::as_str),
                    Some(d.as_str()),
                    "{}: {d} is not registrable under a public suffix",
                    b.name
                );
                assert!(registrable.is_some_and(|r| !r.name().is_empty()), "{d}");
            }
        }
    }

    #[test]
    fn domains_under_a_brand_tld_are_official() {
        let c = catalog();
        let scb = c.find("SCB");
        assert!(scb.is_some());
        assert_eq!(c.official_for("link.scb"), scb.as_slice());
        assert_eq!(c.official_for("anything.scb"), scb.as_slice());
        assert_eq!(c.official_for("onlinesbi.sbi"), c.find("State Bank of India").as_slice());
        // a generic TLD that merely ends an official domain is no brand's
        assert!(c.official_for("someone.app").is_empty());
        assert!(c.official_for("scb-verify.com").is_empty());
    }

    #[test]
    fn every_country_has_languages() {
        let c = catalog();
        for b in c.brands() {
            let i = c.find(&b.name).map(|id| usize::from(id.0)).unwrap_or(usize::MAX);
            let langs = c.brand_langs.get(i).map(Vec::len).unwrap_or(0);
            assert!(langs > 0 || b.everywhere(), "{} has no language", b.name);
            assert!(b.sector.is_some(), "{} has no sector", b.name);
        }
    }

    fn check_error(toml: &str, expect: &str) {
        match Catalog::from_sources(&[("user.toml", toml)]) {
            Ok(_) => panic!("accepted invalid catalog, expected error containing {expect:?}"),
            Err(e) => {
                let msg = e.to_string();
                assert!(msg.contains(expect), "error {msg:?} should contain {expect:?}");
                assert!(msg.starts_with("user.toml: "), "error names the file: {msg}");
            }
        }
    }

    #[test]
    fn invalid_catalogs_are_rejected_with_file_brand_and_field() {
        let brand = |extra: &str| format!("[[brand]]\nname = \"X\"\ntokens = [\"xx\"]\n{extra}");
        check_error(&brand("domains = [\"x.be\"]\ncolour = \"red\"\n"), "unknown field");
        check_error(&brand("domains = [\"not a domain\"]\n"), "brand \"X\": field domains");
        check_error(
            "[[brand]]\nname = \"X\"\ndomains = [\"x.be\"]\ntokens = [\"x y\"]\n",
            "field tokens",
        );
        check_error(&brand("domains = []\n"), "at least one official domain");
        check_error(
            "[[brand]]\nname = \"X\"\ndomains = [\"x.be\"]\ntokens = [\"xx\"]\n[[brand]]\nname = \"x\"\ndomains = [\"y.be\"]\ntokens = [\"yy\"]\n",
            "duplicate brand name",
        );
        check_error(&brand("domains = [\"x.be\"]\ncountries = [\"Belgium\"]\n"), "field countries");
        check_error(
            &brand("domains = [\"x.be\"]\ncountries = [\"XX\"]\n"),
            "\"XX\" is not an ISO 3166-1",
        );
        check_error(&brand("domains = [\"x.be\", \"x.be\"]\n"), "listed twice");
        // not lowercase, a made-up suffix, a subdomain, a bare public suffix
        check_error(&brand("domains = [\"X.be\"]\n"), "field domains");
        check_error(&brand("domains = [\"x.notarealtld\"]\n"), "real public suffix");
        check_error(&brand("domains = [\"www.x.be\"]\n"), "real public suffix");
        check_error(&brand("domains = [\"co.uk\"]\n"), "real public suffix");
        check_error(
            &brand("domains = [\"x.be\"]\nsector = \"sports\"\n"),
            "unknown sector \"sports\"",
        );
        check_error(
            &brand("domains = [\"x.be\"]\nkeywords = { english = [\"x bank\"] }\n"),
            "field keywords",
        );
        check_error(
            "[[brand]]\nname = \"X\"\ndomains = [\"x.be\"]\ntokens = [\"xx\"]\n[[brand]]\nname = \"Y\"\ndomains = [\"x.be\"]\ntokens = [\"yy\"]\n",
            "brand \"Y\": field domains: \"x.be\" is already an official domain of \"X\"",
        );
        check_error("[languages]\nZZ = [\"en\"]\n", "field languages");
        check_error("[sectors.tax]\nen = [\"x\"]\n", "field sectors");
        check_error("[[brand]\n", "user.toml");
    }

    #[test]
    fn user_brand_extends_and_replaces() {
        let user = "[[brand]]\nname = \"Acme Bank\"\nsector = \"bank\"\ncountries = [\"BE\"]\ndomains = [\"acmebank.be\"]\ntokens = [\"acmebank\"]\n\
                    [[brand]]\nname = \"bpost\"\ndomains = [\"bpost.be\", \"bpost-extra.be\"]\ntokens = [\"bpost\"]\n";
        let c = match Catalog::with_extensions(&[("user.toml", user)]) {
            Ok(c) => c,
            Err(e) => panic!("{e}"),
        };
        assert!(c.find("Acme Bank").is_some());
        let bpost = c.find("bpost");
        assert!(bpost.is_some());
        assert_eq!(c.official_for("bpost-extra.be"), bpost.as_slice());
        assert_eq!(c.brands().iter().filter(|b| b.name == "bpost").count(), 1);
    }

    fn check_mentions(text: &str, expect: &[&str]) {
        let c = catalog();
        let got: Vec<&str> =
            c.mentions(text, &fold(text)).iter().map(|m| c.brand(m.brand).name.as_str()).collect();
        assert_eq!(got, expect, "mentions in {text:?}");
    }

    #[test]
    fn text_mentions() {
        check_mentions("CSAM: uw account wordt gedeactiveerd", &["CSAM"]);
        check_mentions("Poste Italiane: il tuo conto BancoPosta è sospeso", &["Poste Italiane"]);
        check_mentions("Votre colis ChronoPost est en attente", &["Chronopost"]);
        check_mentions("Your ING account is blocked", &["ING", "ING Australia"]);
        check_mentions("I am going to the booking office", &[]);
        check_mentions("ups and downs of life", &[]);
        check_mentions("Your UPS parcel is waiting", &["UPS"]);
        check_mentions("eBox : nouveau document du SPF Finances", &["eBox", "MyMinfin"]);
        check_mentions("the apples are ripe", &[]);
        // generic phrases and common words name nothing
        check_mentions("Avis de contravention impayé", &[]);
        check_mentions("Your tax refund is ready", &[]);
        check_mentions("we hit our target and the chase is over", &[]);
        check_mentions("Target: your order is ready", &["Target"]);
    }

    /// What the catalog's full automata found before the word matchers replaced them: the
    /// caps matches that start and end a word, and every host token, overlapping.
    fn by_automaton(c: &Catalog, text: &str) -> (Vec<Found>, Vec<HostToken>) {
        let automaton = |patterns: &[String], fold_case: bool| match build_matcher(
            patterns,
            fold_case,
            AhoCorasickKind::DFA,
        ) {
            Ok(a) => a,
            Err(e) => panic!("{e}"),
        };
        let mut caps: Vec<Found> = automaton(&c.caps_patterns, false)
            .find_overlapping_iter(text)
            .map(|m| (m.pattern().as_usize(), m.start(), m.end()))
            .filter(|&(_, s, e)| at_word_boundaries(text, s, e))
            .collect();
        caps.sort_unstable();
        let host = automaton(&c.host_patterns, true)
            .find_overlapping_iter(text)
            .filter_map(|m| {
                let brand = *c.host_token_brand.get(m.pattern().as_usize())?;
                Some(HostToken { brand, start: m.start(), end: m.end() })
            })
            .collect();
        (caps, host)
    }

    #[track_caller]
    fn check_matchers(text: &str) {
        let c = catalog();
        let mut caps = Vec::new();
        c.caps_matcher.find(text, &mut caps);
        caps.retain(|&(_, s, e)| at_word_boundaries(text, s, e));
        caps.sort_unstable();
        assert_eq!((caps, c.host_tokens(text)), by_automaton(c, text), "{text:?}");
    }

    #[test]
    fn word_matchers_find_what_the_automata_found() {
        for text in [
            "ING: uw rekening is geblokkeerd, bel KBC of UPS",
            "Your UPS parcel, TARGET-REDCARD and AT&T (ATT) bill; O2 Öresund",
            "INGING ING1 1ING xING ING-x ÉING INGé",
            "mijn-ing-login.kbc-veilig.top",
            "ingbankverify.secure-postnl.xn--bpost-abc",
            "paypal.com.amazon-login",
            "",
            "I",
        ] {
            check_matchers(text);
        }
    }

    proptest::proptest! {
        #[test]
        fn word_matchers_find_what_the_automata_found_on_any_text(
            text in "((ING|UPS|ups|Target|TARGET|AT&T|O2|ing|kbc|bpost|paypal|post|nl|my|[A-Za-z0-9é]{1,4}|[ .,:&+-])){0,12}",
        ) {
            check_matchers(&text);
        }
    }

    /// `country` is the recipient's, `lang` the detected language; `expect` the chosen brand.
    #[track_caller]
    fn check(text: &str, country: Option<&str>, lang: Option<&str>, expect: Option<&str>) {
        let c = catalog();
        let mentions = c.mentions(text, &fold(text));
        let got = c.choose(&mentions, &[], country, lang).map(|b| c.brand(b).name.as_str());
        assert_eq!(got, expect, "brand of {text:?} to {country:?} in {lang:?}: {mentions:?}");
    }

    #[test]
    fn generic_phrases_never_choose_a_brand_alone() {
        check(
            "Your tax refund of $820 is pending, confirm your details",
            Some("US"),
            Some("en"),
            None,
        );
        check(
            "Your tax refund of £820 is pending, confirm your details",
            Some("GB"),
            Some("en"),
            None,
        );
        check(
            "Your parcel could not be delivered, pay the redelivery fee",
            Some("GB"),
            Some("en"),
            None,
        );
        check("We attempted to deliver your package today", Some("US"), Some("en"), None);
        check(
            "Unpaid toll balance of $6.99, pay now to avoid a late fee",
            Some("US"),
            Some("en"),
            None,
        );
        check("Your bank account has been suspended", Some("IN"), Some("en"), None);
        check("Avis de contravention : réglez l'amende forfaitaire", Some("FR"), Some("fr"), None);
        check("Su paquete está retenido en la aduana", Some("ES"), Some("es"), None);
        check("Hacienda: tiene una devolución de la renta pendiente", Some("MX"), Some("es"), None);
    }

    #[test]
    fn named_brands_win_and_generic_phrases_only_support() {
        check("IRS: your tax refund of $820 is pending", Some("US"), Some("en"), Some("IRS"));
        check("Internal Revenue Service: tax refund pending", Some("US"), Some("en"), Some("IRS"));
        check("HMRC: you are due a tax refund of £312", Some("GB"), Some("en"), Some("HMRC"));
        // a named brand is kept even where it does not serve the recipient
        check("HMRC: you are due a tax refund", Some("US"), Some("en"), Some("HMRC"));
        check(
            "USPS: your package is held, update your address",
            Some("US"),
            Some("en"),
            Some("USPS"),
        );
        check("E-ZPass: unpaid toll of $4.15", Some("US"), Some("en"), Some("E-ZPass"));
        check("ANTAI : avis de contravention impayé", Some("FR"), Some("fr"), Some("ANTAI"));
        // a generic phrase favours its sector among brands the text names
        check("Amazon: a tax refund from HMRC is waiting", Some("GB"), Some("en"), Some("HMRC"));
        check("Chase: your account is locked", Some("US"), Some("en"), Some("Chase"));
        check(
            "Your SBI account KYC expires today",
            Some("IN"),
            Some("en"),
            Some("State Bank of India"),
        );
        check("Kasikorn: please verify your K PLUS", Some("TH"), Some("en"), Some("Kasikornbank"));
    }

    #[test]
    fn country_and_language_decide_between_brands_sharing_a_word() {
        // "Revenue" (Ireland) and "Revenue Department" (Thailand)
        check("Revenue: you are owed a refund", Some("IE"), Some("en"), Some("Revenue"));
        check(
            "Revenue Department: you are owed a refund",
            Some("TH"),
            Some("en"),
            Some("Revenue Department"),
        );
        check("Revenue Department: คืนภาษี", None, Some("th"), Some("Revenue Department"));
        // "BCP": Banco de Crédito del Perú and Millennium BCP (Portugal)
        check("BCP: su cuenta ha sido bloqueada", Some("PE"), Some("es"), Some("BCP"));
        check("BCP: a sua conta foi bloqueada", Some("PT"), Some("pt"), Some("Millennium BCP"));
        check("BCP: a sua conta foi bloqueada", None, Some("pt"), Some("Millennium BCP"));
        check("BCP: su cuenta ha sido bloqueada", None, Some("es"), Some("BCP"));
        // "ING" in Europe and Australia
        check("ING: your account is on hold", Some("AU"), Some("en"), Some("ING Australia"));
        check("ING: uw rekening is geblokkeerd", Some("NL"), Some("nl"), Some("ING"));
        // "Correos" in Spain and "Correos de Chile"
        check("Correos: su envío está retenido", Some("ES"), Some("es"), Some("Correos"));
        check(
            "Correos de Chile: su envío está retenido",
            Some("CL"),
            Some("es"),
            Some("Correos de Chile"),
        );
        // "KBC": a Belgian bank, and the Indian quiz show whose name lottery lures borrow
        check("KBC: uw kaart is geblokkeerd", Some("BE"), Some("nl"), Some("KBC"));
        check(
            "Your number won Rs 25 lakh in the KBC lottery",
            Some("IN"),
            Some("en"),
            Some("Kaun Banega Crorepati"),
        );
        // "CPF": Singapore's Central Provident Fund, France's training account
        check(
            "CPF: il vous reste 800 EUR de droits",
            None,
            Some("fr"),
            Some("Mon Compte Formation"),
        );
        check("CPF: your contribution is credited", Some("SG"), Some("en"), Some("CPF"));
        // "O2" in the UK and Germany, "Vodafone" in Europe and Australia
        check("O2: your bill is overdue", Some("GB"), Some("en"), Some("O2"));
        check("O2: Ihre Rechnung ist offen", Some("DE"), Some("de"), Some("O2 Germany"));
        check("Vodafone: your bill failed", Some("AU"), Some("en"), Some("Vodafone Australia"));
        // a short capital token counts only where its brand fits
        check("SAT 10AM: team meeting moved", None, Some("en"), None);
        check("SAT: tienes un saldo a favor", Some("MX"), Some("es"), Some("SAT"));
        check("BCP: your account is on hold", Some("US"), Some("en"), None);
        // the router's country may be wrong; the language still admits a short token
        check("TIM: il tuo credito residuo è di 1,26 euro", Some("TR"), Some("it"), Some("TIM"));
    }

    const GENERIC: &[&str] = &[
        "tax refund",
        "your parcel",
        "unpaid toll",
        "bank account",
        "avis de contravention",
        "hacienda",
        "your package",
        "customs fee",
        "pay now",
        "hello",
        "urgent",
        "the",
    ];
    const NAMING: &[&str] =
        &["IRS", "HMRC", "Revenue", "BCP", "ING", "Correos", "Chase", "SBI", "O2", "Vodafone"];

    proptest::proptest! {
        #[test]
        fn generic_phrases_alone_never_choose(
            words in proptest::collection::vec(proptest::sample::select(GENERIC), 0..8),
            country in proptest::sample::select(&[None, Some("US"), Some("GB"), Some("FR"), Some("MX")][..]),
            lang in proptest::sample::select(&[None, Some("en"), Some("fr"), Some("es")][..]),
        ) {
            let c = catalog();
            let text = words.join(" ");
            let m = c.mentions(&text, &fold(&text));
            proptest::prop_assert_eq!(c.choose(&m, &[], country, lang), None, "{}", text);
        }

        #[test]
        fn the_choice_is_a_named_brand(
            words in proptest::collection::vec(
                proptest::sample::select([GENERIC, NAMING].concat()), 0..8),
            country in proptest::sample::select(&[None, Some("US"), Some("IE"), Some("PE"), Some("AU")][..]),
            lang in proptest::sample::select(&[None, Some("en"), Some("es"), Some("pt")][..]),
        ) {
            let c = catalog();
            let text = words.join(" ");
            let m = c.mentions(&text, &fold(&text));
            let named = c.named(&m, country, lang);
            let chosen = c.choose(&m, &[], country, lang);
            proptest::prop_assert_eq!(chosen, named.first().copied(), "{}", text);
            proptest::prop_assert_eq!(chosen, c.choose(&m, &[], country, lang));
        }
    }

    #[test]
    fn choice_is_deterministic_and_prefers_imitated_brands() {
        let c = catalog();
        let text = "Revenue: refund";
        let m = c.mentions(text, &fold(text));
        let first = c.choose(&m, &[], None, None);
        for _ in 0..3 {
            assert_eq!(c.choose(&m, &[], None, None), first);
        }
        // a link that imitates a brand beats one the text names elsewhere
        let (Some(usps), Some(fedex)) = (c.find("USPS"), c.find("FedEx")) else {
            panic!("catalog lacks USPS or FedEx")
        };
        let text = "USPS: your package";
        let m = c.mentions(text, &fold(text));
        assert_eq!(c.choose(&m, &[fedex], Some("US"), Some("en")), Some(fedex));
        assert_eq!(c.choose(&m, &[fedex, usps], Some("US"), Some("en")), Some(usps));
    }
}
