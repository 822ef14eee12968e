//! The brand catalog: a data file (`data/brands.toml`, embedded) plus optional user files,
//! validated at load and indexed once so per-message work never loops over all brands.

use std::collections::{BTreeMap, HashMap, HashSet};

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, AhoCorasickKind, MatchKind};
use serde::Deserialize;

use crate::squat::{self, Technique};
use crate::text::{at_word_boundaries, fold};

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
}

impl Brand {
    /// True when the brand serves people of `country` (or everyone).
    pub fn serves(&self, country: &str) -> bool {
        self.countries.iter().any(|c| c == "*" || c.eq_ignore_ascii_case(country))
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
}

/// How a brand was found in message text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum MentionKind {
    /// The brand name or one of its tokens, as a word.
    Name,
    /// One of its keywords.
    Keyword,
}

/// A brand named in message text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Mention {
    pub brand: BrandId,
    pub kind: MentionKind,
    /// Byte offset in the folded text.
    pub at: usize,
}

/// A brand token found in a hostname.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct HostToken {
    pub(crate) brand: BrandId,
    pub(crate) start: usize,
    pub(crate) end: usize,
}

#[derive(Debug, Clone, Copy)]
struct TextPattern {
    brand: BrandId,
    kind: MentionKind,
}

/// Maps looked up for every URL of every message: foldhash is several times cheaper than
/// SipHash on short keys, and their keys are our own catalog data (no flooding risk).
pub(crate) type FastMap<K, V> = HashMap<K, V, foldhash::fast::RandomState>;

/// The validated, indexed catalog.
#[derive(Debug)]
pub struct Catalog {
    brands: Vec<Brand>,
    /// Official registrable domain -> brands.
    official: FastMap<String, Vec<BrandId>>,
    /// First label of official domains -> (brand, suffix) for TLD swaps.
    official_labels: FastMap<String, Vec<(BrandId, String)>>,
    host_tokens: AhoCorasick,
    host_token_brand: Vec<BrandId>,
    text_matcher: AhoCorasick,
    text_patterns: Vec<TextPattern>,
    text_patterns_str: Vec<String>,
    /// Short tokens (<= 3 chars) matched case-sensitively in capitals in the original text.
    caps_matcher: AhoCorasick,
    caps_brand: Vec<BrandId>,
    /// Typosquat variants of official labels and long tokens.
    variants: FastMap<String, (BrandId, Technique)>,
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

    /// Parses and validates every source, later sources replacing same-named brands.
    pub fn from_sources(sources: &[(&str, &str)]) -> Result<Catalog, CatalogError> {
        let mut brands: Vec<Brand> = Vec::new();
        for (file, text) in sources {
            let parsed: CatalogFile = toml::from_str(text).map_err(|e| CatalogError {
                file: (*file).to_string(),
                brand: None,
                field: None,
                message: e.to_string().trim().replace('\n', " "),
            })?;
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
                match brands.iter_mut().find(|b| b.name.eq_ignore_ascii_case(&brand.name)) {
                    Some(existing) => *existing = brand,
                    None => brands.push(brand),
                }
            }
        }
        if brands.len() > usize::from(u16::MAX) {
            return Err(CatalogError {
                file: "catalog".into(),
                brand: None,
                field: None,
                message: "too many brands".into(),
            });
        }
        Catalog::index(brands)
    }

    fn index(brands: Vec<Brand>) -> Result<Catalog, CatalogError> {
        let mut official: FastMap<String, Vec<BrandId>> = FastMap::default();
        let mut official_labels: FastMap<String, Vec<(BrandId, String)>> = FastMap::default();
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
                if let Some((label, suffix)) = d.split_once('.') {
                    official_labels
                        .entry(label.to_string())
                        .or_default()
                        .push((id, suffix.to_string()));
                }
            }
            let name_folded = fold(&brand.name);
            let mut text_words: Vec<(String, MentionKind)> =
                vec![(name_folded.clone(), MentionKind::Name)];
            for t in &brand.tokens {
                host_patterns.push(t.clone());
                host_token_brand.push(id);
                if t.len() <= 3 {
                    caps_patterns.push(t.to_ascii_uppercase());
                    caps_brand.push(id);
                } else {
                    text_words.push((t.clone(), MentionKind::Name));
                }
            }
            for words in brand.keywords.values() {
                for k in words {
                    text_words.push((fold(k), MentionKind::Keyword));
                }
            }
            if name_folded.chars().filter(|c| c.is_alphanumeric()).count() <= 3 {
                // Short names ("ING", "UPS") are matched in capitals only.
                text_words.retain(|(w, _)| *w != name_folded);
                caps_patterns.push(brand.name.clone());
                caps_brand.push(id);
            }
            for (w, kind) in text_words {
                text_patterns_str.push(w);
                text_patterns.push(TextPattern { brand: id, kind });
            }
        }
        let variants = squat::variants(&brands);
        Ok(Catalog {
            host_tokens: build_matcher(&host_patterns, true)?,
            host_token_brand,
            text_matcher: build_matcher(&text_patterns_str, true)?,
            text_patterns,
            text_patterns_str,
            caps_matcher: build_matcher(&caps_patterns, false)?,
            caps_brand,
            brands,
            official,
            official_labels,
            variants,
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

    /// Brands for which `registrable_domain` is official.
    pub fn official_for(&self, registrable_domain: &str) -> &[BrandId] {
        self.official.get(registrable_domain).map(Vec::as_slice).unwrap_or(&[])
    }

    pub(crate) fn official_label(&self, label: &str) -> &[(BrandId, String)] {
        self.official_labels.get(label).map(Vec::as_slice).unwrap_or(&[])
    }

    pub(crate) fn variant(&self, label: &str) -> Option<(BrandId, Technique)> {
        self.variants.get(label).copied()
    }

    /// Brand tokens inside `host` (lowercase ASCII), every occurrence, overlapping.
    pub(crate) fn host_tokens(&self, host: &str) -> Vec<HostToken> {
        self.host_tokens
            .find_overlapping_iter(host)
            .filter_map(|m| {
                let brand = *self.host_token_brand.get(m.pattern().as_usize())?;
                Some(HostToken { brand, start: m.start(), end: m.end() })
            })
            .collect()
    }

    /// Brands named in `original` text (`folded` is `fold(original)`), in order of appearance.
    pub fn mentions(&self, original: &str, folded: &str) -> Vec<Mention> {
        let found = self
            .text_matcher
            .find_overlapping_iter(folded)
            .map(|m| (m.pattern().as_usize(), m.start(), m.end()));
        self.mentions_from(original, folded, found)
    }

    /// The text patterns (folded names, tokens and keywords), in pattern-index order, for
    /// an automaton that also holds other patterns (see [`Catalog::mentions_from`]).
    pub(crate) fn text_patterns(&self) -> &[String] {
        &self.text_patterns_str
    }

    /// [`Catalog::mentions`] from the overlapping matches `(pattern, start, end)` of
    /// [`Catalog::text_patterns`] in `folded`, found by the caller.
    pub(crate) fn mentions_from(
        &self,
        original: &str,
        folded: &str,
        found: impl Iterator<Item = (usize, usize, usize)>,
    ) -> Vec<Mention> {
        let mut out: Vec<Mention> = Vec::new();
        for (pattern, start, end) in found {
            if !at_word_boundaries(folded, start, end) {
                continue;
            }
            if let Some(p) = self.text_patterns.get(pattern) {
                out.push(Mention { brand: p.brand, kind: p.kind, at: start });
            }
        }
        for m in self.caps_matcher.find_overlapping_iter(original) {
            if !at_word_boundaries(original, m.start(), m.end()) {
                continue;
            }
            if let Some(&brand) = self.caps_brand.get(m.pattern().as_usize()) {
                // Offsets of `original` and `folded` agree closely enough for ordering.
                out.push(Mention { brand, kind: MentionKind::Name, at: m.start() });
            }
        }
        out.sort_by_key(|m| (m.at, m.kind, m.brand));
        let mut seen: Vec<BrandId> = Vec::with_capacity(out.len());
        out.retain(|m| {
            let first = !seen.contains(&m.brand);
            seen.push(m.brand);
            first
        });
        out
    }
}

fn build_matcher(
    patterns: &[String],
    ascii_case_insensitive: bool,
) -> Result<AhoCorasick, CatalogError> {
    AhoCorasickBuilder::new()
        .match_kind(MatchKind::Standard)
        // A full DFA: more memory at load, fastest per-message scans.
        .kind(Some(AhoCorasickKind::DFA))
        .ascii_case_insensitive(ascii_case_insensitive)
        .build(patterns)
        .map_err(|e| CatalogError {
            file: "catalog".into(),
            brand: None,
            field: None,
            message: e.to_string(),
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

const MAX_ITEMS: usize = 200;
const MAX_LEN: usize = 120;

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
        let d = d.trim().to_ascii_lowercase();
        if !valid_domain(&d) {
            return Err(err(
                file,
                &name,
                "domains",
                &format!(
                    "{d:?} is not a domain name (lowercase ASCII labels joined by dots, punycode for IDN)"
                ),
            ));
        }
        if domains.contains(&d) {
            return Err(err(file, &name, "domains", &format!("{d:?} is listed twice")));
        }
        domains.push(d);
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
        let c = c.trim().to_ascii_uppercase();
        if !(c == "*" || (c.len() == 2 && c.bytes().all(|b| b.is_ascii_uppercase()))) {
            return Err(err(
                file,
                &name,
                "countries",
                &format!("{c:?} is not an ISO 3166-1 alpha-2 code or \"*\""),
            ));
        }
        countries.push(c);
    }
    let mut keywords = BTreeMap::new();
    for (lang, words) in spec.keywords {
        if lang.len() != 2 || !lang.bytes().all(|b| b.is_ascii_lowercase()) {
            return Err(err(
                file,
                &name,
                "keywords",
                &format!("{lang:?} is not an ISO 639-1 language code"),
            ));
        }
        let mut clean = Vec::new();
        for w in words {
            let w = w.trim().to_string();
            if w.chars().filter(|c| c.is_alphanumeric()).count() < 3
                || w.len() > MAX_LEN
                || w.chars().any(char::is_control)
            {
                return Err(err(
                    file,
                    &name,
                    "keywords",
                    &format!("{w:?} must hold 3 to 120 printable characters"),
                ));
            }
            clean.push(w);
        }
        keywords.insert(lang, clean);
    }
    let sector = spec.sector.map(|s| s.trim().to_string()).filter(|s| !s.is_empty());
    Ok(Brand { name, sector, countries, domains, tokens, keywords })
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

    fn catalog() -> Catalog {
        match Catalog::builtin() {
            Ok(c) => c,
            Err(e) => panic!("builtin catalog: {e}"),
        }
    }

    #[test]
    fn builtin_catalog_covers_required_brands() {
        let c = catalog();
        for name in [
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
            "Amazon",
            "Apple",
            "Netflix",
            "PayPal",
            "Microsoft",
            "UPS",
            "FedEx",
        ] {
            assert!(c.find(name).is_some(), "missing brand {name}");
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
        check_error(
            "[[brand]]\nname = \"X\"\ndomains = [\"x.be\"]\ntokens = [\"xx\"]\ncolour = \"red\"\n",
            "unknown field",
        );
        check_error(
            "[[brand]]\nname = \"X\"\ndomains = [\"not a domain\"]\ntokens = [\"xx\"]\n",
            "brand \"X\": field domains",
        );
        check_error(
            "[[brand]]\nname = \"X\"\ndomains = [\"x.be\"]\ntokens = [\"x y\"]\n",
            "field tokens",
        );
        check_error(
            "[[brand]]\nname = \"X\"\ndomains = []\ntokens = [\"xx\"]\n",
            "at least one official domain",
        );
        check_error(
            "[[brand]]\nname = \"X\"\ndomains = [\"x.be\"]\ntokens = [\"xx\"]\n[[brand]]\nname = \"x\"\ndomains = [\"y.be\"]\ntokens = [\"yy\"]\n",
            "duplicate brand name",
        );
        check_error(
            "[[brand]]\nname = \"X\"\ndomains = [\"x.be\"]\ntokens = [\"xx\"]\ncountries = [\"Belgium\"]\n",
            "field countries",
        );
        check_error(
            "[[brand]]\nname = \"X\"\ndomains = [\"x.be\", \"X.be\"]\ntokens = [\"xx\"]\n",
            "listed twice",
        );
        check_error("[[brand]\n", "user.toml");
    }

    #[test]
    fn user_brand_extends_and_replaces() {
        let user = "[[brand]]\nname = \"Acme Bank\"\ncountries = [\"BE\"]\ndomains = [\"acmebank.be\"]\ntokens = [\"acmebank\"]\n\
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
        check_mentions("Your ING account is blocked", &["ING"]);
        check_mentions("I am going to the booking office", &[]);
        check_mentions("ups and downs of life", &[]);
        check_mentions("Your UPS parcel is waiting", &["UPS"]);
        check_mentions("Avis de contravention impayé", &["ANTAI"]);
        check_mentions("eBox : nouveau document du SPF Finances", &["eBox", "MyMinfin"]);
        check_mentions("the apples are ripe", &[]);
    }
}
