//! Fast path for numbers written in international form (`+CC…`).
//!
//! `phonenumber` matches its metadata patterns through one global, locked LRU cache of
//! compiled regexes, and a parse of a `+CC…` number runs a dozen of them. This module runs
//! the same steps over the same metadata (`phonenumber::metadata::DATABASE`) with its own
//! regexes, compiled once per region into a shared table (no lock on the hot path), and
//! answers only when it is sure to agree with `phonenumber::parse`: whenever the number
//! could lose a national prefix, or anything else is unusual, it says "unsure" and the caller
//! runs the full parser. `tests::agrees_with_phonenumber` checks agreement on generated
//! numbers of every region.

use std::str::FromStr;
use std::sync::OnceLock;

use phonenumber::metadata::{DATABASE, Descriptor, Metadata};
use regex::{Regex, RegexBuilder};

/// A descriptor: its possible lengths and its national-number pattern (anchored).
struct Desc {
    possible: Vec<u16>,
    pattern: Regex,
}

impl Desc {
    fn new(d: &Descriptor) -> Option<Desc> {
        Some(Desc {
            possible: d.possible_length().to_vec(),
            pattern: compile(d.national_number().as_str())?,
        })
    }

    /// `phonenumber`'s `Descriptor::is_match`: a possible length and a match at the start.
    fn is_match(&self, national: &str) -> bool {
        let len = u16::try_from(national.len()).unwrap_or(u16::MAX);
        if !self.possible.is_empty() && !self.possible.contains(&len) {
            return false;
        }
        self.pattern.is_match(national)
    }
}

/// The compiled metadata of one region.
struct Region {
    id: &'static str,
    /// `phonenumber::country::Id` parses `id` (checked once here, not per number).
    known_id: bool,
    meta: &'static Metadata,
    leading_digits: Option<Regex>,
    national_prefix_for_parsing: Option<Regex>,
    general: Desc,
    /// Every type `phonenumber::validator::number_type` tries; order does not matter here.
    types: Vec<LazyDesc>,
}

impl Region {
    fn new(meta: &'static Metadata) -> Option<Region> {
        let optional = |source: Option<&str>| match source {
            Some(source) => compile(source).map(Some),
            None => Some(None),
        };
        let d = meta.descriptors();
        let mut types = Vec::new();
        // most numbers in SMS records are mobile, then fixed: tried first, they end the
        // search (`is_valid` asks whether any type matches) after one or two patterns
        // compiled on first use: a number rarely needs more than the first one or two
        for desc in [
            d.mobile(),
            d.fixed_line(),
            d.premium_rate(),
            d.toll_free(),
            d.shared_cost(),
            d.voip(),
            d.personal_number(),
            d.pager(),
            d.uan(),
            d.voicemail(),
        ]
        .into_iter()
        .flatten()
        {
            types.push(LazyDesc { desc, compiled: OnceLock::new() });
        }
        Some(Region {
            id: meta.id(),
            known_id: phonenumber::country::Id::from_str(meta.id()).is_ok(),
            meta,
            leading_digits: optional(meta.leading_digits().map(|re| re.as_str()))?,
            national_prefix_for_parsing: optional(
                meta.national_prefix_for_parsing().map(|re| re.as_str()),
            )?,
            general: Desc::new(d.general())?,
            types,
        })
    }

    /// `number_type(..) != Type::Unknown`; `None` (unsure) when a type it had to try does
    /// not compile.
    fn is_valid(&self, national: &str) -> Option<bool> {
        if !self.general.is_match(national) {
            return Some(false);
        }
        for t in &self.types {
            if t.get()?.is_match(national) {
                return Some(true);
            }
        }
        Some(false)
    }
}

/// A descriptor compiled on first use (most regions' numbers are mobile or fixed-line,
/// tried first, so the other types of a region are rarely compiled at all).
struct LazyDesc {
    desc: &'static Descriptor,
    compiled: OnceLock<Option<Desc>>,
}

impl LazyDesc {
    fn get(&self) -> Option<&Desc> {
        self.compiled.get_or_init(|| Desc::new(self.desc)).as_ref()
    }
}

/// Compiled like `phonenumber` compiles its patterns (whitespace ignored), but without
/// Unicode classes: the numbers matched here are ASCII digits only, on which `\d` means the
/// same, and the ASCII automata are far smaller and quicker to build. A pattern that needs
/// Unicode fails to compile, and its region is left to the full parser.
///
/// `phonenumber` asks for a match at the start (`find`, then `start() == 0`); a leftmost
/// match starts at 0 exactly when some match does, so the pattern is anchored instead and
/// only `is_match` runs (no scan past the start, no search for the match's bounds). The
/// newline ends a trailing `#` comment of the verbose syntax before the group closes.
fn compile(source: &str) -> Option<Regex> {
    RegexBuilder::new(&format!("^(?:{source}\n)"))
        .ignore_whitespace(true)
        .unicode(false)
        .build()
        .ok()
}

/// The regions of one country calling code, main region first (the database's order),
/// each compiled on first use.
type Code = Vec<(&'static Metadata, OnceLock<Option<Region>>)>;

/// The regions of each calling code, indexed by the code (they are below 1000); an empty
/// list for codes that do not exist.
fn codes() -> &'static [Code] {
    static CODES: OnceLock<Vec<Code>> = OnceLock::new();
    CODES.get_or_init(|| {
        let db: &'static phonenumber::metadata::Database = &DATABASE;
        let mut codes: Vec<Code> = Vec::new();
        for meta in db.iter() {
            let code = meta.country_code();
            let at = usize::from(code);
            if codes.len() <= at {
                codes.resize_with(at + 1, Vec::new);
            }
            if let Some(slot) = codes.get_mut(at)
                && slot.is_empty()
            {
                *slot = db
                    .by_code(&code)
                    .unwrap_or_default()
                    .into_iter()
                    .map(|m| (m, OnceLock::new()))
                    .collect::<Code>();
            }
        }
        codes
    })
}

fn region<'a>(entry: &'a (&'static Metadata, OnceLock<Option<Region>>)) -> Option<&'a Region> {
    entry.1.get_or_init(|| Region::new(entry.0)).as_ref()
}

/// Where `phonenumber::validator::source_for` finds a number's metadata.
#[derive(Clone, Copy)]
enum Source<'a> {
    Region(&'a Region),
    /// Non-geographic code (`001`): the code's first metadata.
    Code(&'a Region),
}

impl<'a> Source<'a> {
    fn region(&self) -> &'a Region {
        match self {
            Source::Region(r) | Source::Code(r) => r,
        }
    }
}

/// `phonenumber::validator::source_for`; outer `None` means unsure.
fn source_for<'a>(code: &'a Code, national: &str) -> Option<Option<Source<'a>>> {
    if let [only] = code.as_slice() {
        let r = region(only)?;
        if r.id == "001" {
            return Some(Some(Source::Code(r)));
        }
        return r.known_id.then_some(Some(Source::Region(r)));
    }
    for entry in code {
        let r = region(entry)?;
        if !r.known_id {
            return None;
        }
        if let Some(leading) = &r.leading_digits {
            if leading.is_match(national) {
                return Some(Some(Source::Region(r)));
            }
        } else if r.is_valid(national)? {
            return Some(Some(Source::Region(r)));
        }
    }
    Some(None)
}

/// `+digits` as `phonenumber::parse(None, ..)` then `is_valid()` and the country of
/// [`super::guarded_parse`] would read it: `Some(Some((e164, country)))` valid,
/// `Some(None)` invalid, `None` unsure (run the full parser).
pub(super) fn international(digits: &str) -> Option<Option<(String, Option<String>)>> {
    if digits.len() <= 3 || digits.len() > 16 || digits.starts_with('0') {
        return None;
    }
    if !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let codes = codes();
    // the first 1-, 2- or 3-digit prefix that is a calling code, as phonenumber does
    let (cc, code, national) = (1..=3).find_map(|len| {
        let cc: u16 = digits.get(..len)?.parse().ok()?;
        let code = codes.get(usize::from(cc)).filter(|c| !c.is_empty())?;
        Some((cc, code, digits.get(len..)?))
    })?;
    let without_zeros = national.trim_start_matches('0');
    if national.len() < 2 || without_zeros.is_empty() {
        return None;
    }
    // metadata the parser strips a national prefix with: unsure whenever it might strip
    let parse_source = source_for(code, without_zeros)?;
    let parse_meta = parse_source.map(|source| source.region());
    if let Some(r) = parse_meta {
        if let Some(npfp) = &r.national_prefix_for_parsing
            && npfp.is_match(national)
        {
            return None;
        }
        if r.meta.national_prefix().is_some_and(|p| national.starts_with(p)) {
            return None;
        }
    }
    // validity reads the national number with its leading zeros
    let national_source =
        if national == without_zeros { parse_source } else { source_for(code, national)? };
    let valid = match national_source {
        Some(source) => source.region().is_valid(national)?,
        None => false,
    };
    if !valid {
        return Some(None);
    }
    // the country reads it without them; numbers the metadata cannot pin to one region
    // take the code's main region, as guarded_parse does
    let country = match parse_source {
        Some(Source::Region(r)) => r.id,
        _ => region(code.first()?)?.id,
    };
    let country = (country.len() == 2 && country.bytes().all(|b| b.is_ascii_uppercase()))
        .then(|| country.to_owned());
    Some(Some((format!("+{cc}{national}"), country)))
}

#[cfg(test)]
mod tests {
    use super::super::{Failure, PhoneNumber, checked, guarded_parse};
    use super::*;

    /// The full parser's answer, as `resolve` gets it without the fast path.
    fn slow(digits: &str) -> Result<Option<PhoneNumber>, Failure> {
        guarded_parse(None, &format!("+{digits}"))
    }

    /// Compares both paths on `digits`; returns whether the fast path answered.
    fn check(digits: &str) -> bool {
        let Some(known) = international(digits) else {
            return false;
        };
        let fast = known.and_then(|(e164, country)| checked(e164, country));
        assert_eq!(Ok(fast), slow(digits), "+{digits}");
        true
    }

    /// Deterministic digit noise (no need for a random crate here).
    struct Lcg(u64);
    impl Lcg {
        fn next(&mut self, n: u64) -> u64 {
            self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            (self.0 >> 33) % n
        }
    }

    #[test]
    fn agrees_with_phonenumber() {
        let mut rng = Lcg(43261);
        let (mut tried, mut answered, mut valid) = (0usize, 0usize, 0usize);
        for meta in DATABASE.iter() {
            let cc = meta.country_code().to_string();
            let d = meta.descriptors();
            let examples = [
                d.general(),
                d.fixed_line().unwrap_or(d.general()),
                d.mobile().unwrap_or(d.general()),
                d.toll_free().unwrap_or(d.general()),
                d.premium_rate().unwrap_or(d.general()),
                d.voip().unwrap_or(d.general()),
                d.pager().unwrap_or(d.general()),
                d.uan().unwrap_or(d.general()),
            ];
            for example in examples.iter().filter_map(|e| e.example()) {
                let base = format!("{cc}{example}");
                let mut variants = vec![
                    base.clone(),
                    format!("{cc}0{example}"),
                    format!("{base}{}", rng.next(10)),
                    base[..base.len() - 1].to_string(),
                ];
                // the same number with its last digits changed, as a campaign's recipients are
                for _ in 0..6 {
                    let keep = base.len().saturating_sub(1 + rng.next(4) as usize).max(cc.len());
                    let mut v = base[..keep].to_string();
                    while v.len() < base.len() {
                        v.push(char::from(b'0' + rng.next(10) as u8));
                    }
                    variants.push(v);
                }
                for v in variants {
                    tried += 1;
                    if check(&v) {
                        answered += 1;
                        valid += usize::from(slow(&v).is_ok_and(|n| n.is_some()));
                    }
                }
            }
            // random national digits of every length
            for len in 1..=14 {
                let mut v = cc.clone();
                for _ in 0..len {
                    v.push(char::from(b'0' + rng.next(10) as u8));
                }
                tried += 1;
                answered += usize::from(check(&v));
            }
        }
        // the fast path must actually take most numbers, or the test proves little
        assert!(answered * 10 >= tried * 6, "fast path answered {answered} of {tried}");
        assert!(valid > 1000, "only {valid} valid numbers answered by the fast path");
    }

    #[test]
    fn agrees_on_the_dev_corpus_numbers() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/data/smish-dev.jsonl");
        let Ok(text) = std::fs::read_to_string(path) else {
            return; // the shared data sits beside the clone in CI and on developer machines
        };
        let mut answered = 0;
        for line in text.lines() {
            let Ok(v) = serde_json::from_str::<serde_json::Value>(line) else { continue };
            for field in ["to", "from"] {
                if let Some(raw) = v.get(field).and_then(|n| n.as_str()) {
                    let digits: String = raw.chars().filter(char::is_ascii_digit).collect();
                    let digits = digits.strip_prefix("00").unwrap_or(&digits);
                    answered += usize::from(check(digits));
                }
            }
        }
        assert!(answered > 1000, "fast path answered only {answered} corpus numbers");
    }
}
