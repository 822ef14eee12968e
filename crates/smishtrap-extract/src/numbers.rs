//! Phone numbers: sender/recipient fields ([`parse_number`]) and numbers mentioned in a text.
//!
//! Parsing and validation use libphonenumber's metadata through the `phonenumber` crate.
//! That crate has no free-text matcher, so candidates in a text are found by a small
//! hand-written scanner with guards against amounts, dates, codes and order numbers.
//! It also has known panics and maps letters to digits, so every call sees only a
//! sanitised `+digits` / `digits` string of bounded length and runs under `catch_unwind`.

mod fast;

use std::cell::RefCell;
use std::collections::HashMap;
use std::ops::Range;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::str::FromStr;

use phonenumber::country::Id;
use serde::Serialize;

use crate::{Diagnostic, DiagnosticKind, Extracted, MAX_NUMBERS, quote};

/// A phone number in E.164 form: `+` and up to 15 digits, e.g. `+32470123456`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct E164(String);

impl E164 {
    pub fn as_str(&self) -> &str {
        &self.0
    }
    /// Country calling code digits and national digits, without the `+`.
    pub fn digits(&self) -> &str {
        self.0.get(1..).unwrap_or_default()
    }
}

impl std::fmt::Display for E164 {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// A valid phone number.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct PhoneNumber {
    pub e164: E164,
    /// ISO 3166-1 alpha-2 of the number's region, when the metadata knows it.
    pub country: Option<String>,
}

/// A phone number written in a text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MentionedNumber {
    /// Byte span in the input, on char boundaries.
    pub span: Range<usize>,
    pub raw: String,
    /// `None` when the number could not be validated (kept because the text calls it one).
    pub number: Option<PhoneNumber>,
}

/// Longest raw value [`parse_number`] looks at.
const MAX_RAW_LEN: usize = 64;
/// E.164 allows 15 digits; with `00` and a trunk `0` a written number may have 17.
const MAX_DIGITS: usize = 17;
/// Fewer digits than this in a text's number: not reported as a phone number.
const MIN_DIGITS: usize = 8;

fn invalid(raw: &str, why: &str) -> Diagnostic {
    Diagnostic::new(DiagnosticKind::InvalidNumber, format!("phone number {}: {why}", quote(raw)))
}

/// Why a sanitised number did not resolve; turned into a [`Diagnostic`] naming the raw input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Failure {
    Invalid(&'static str),
    /// The `phonenumber` parser panicked (caught).
    Panic,
}

/// Capacity given to `phonenumber`'s shared regex cache (its default is 100): the patterns
/// of a few dozen regions, which is what a stream uses. Not every pattern of the metadata
/// (a few thousand): a compiled Unicode pattern and its search caches take tens of KiB, so
/// numbers from ever more regions grew memory by tens of MiB per million records.
const REGEX_CACHE_ENTRIES: usize = 256;

/// `phonenumber` compiles its metadata patterns lazily into one global LRU cache of 100
/// regexes. A stream with a dozen countries needs more than that, so it kept evicting and
/// recompiling them: most of the cost of a parse, and all of it under the cache's lock.
/// Widening the cache once keeps the patterns in use compiled; results are unchanged (same
/// patterns, same code), memory is bounded by [`REGEX_CACHE_ENTRIES`].
fn widen_regex_cache() {
    static WIDENED: std::sync::Once = std::sync::Once::new();
    WIDENED.call_once(|| {
        let cache = phonenumber::metadata::DATABASE.cache();
        // a poisoned lock only means a parse panicked elsewhere: keep the default size
        if let Ok(mut cache) = cache.lock() {
            cache.set_capacity(REGEX_CACHE_ENTRIES);
        }
    });
}

/// Full parses between two resets of `phonenumber`'s regex cache. Each reset makes the
/// patterns in use compile again: every 4,096 parses that cost about 4 % of the analysis
/// of a million records; every 65,536 the lazy DFAs still cannot grow for long (RSS at a
/// million records rose by 5 MB).
const PARSES_PER_RESET: u64 = 65_536;

/// Empties `phonenumber`'s regex cache every [`PARSES_PER_RESET`] full parses. A compiled
/// pattern keeps adding states to its lazy DFA's transition cache (up to 2 MiB per pattern
/// and thread) as new digit strings reach new states, so a stream of distinct numbers grew
/// memory with its length; dropping the compiled patterns now and then bounds it. Those in
/// use are recompiled on demand; results do not change.
fn bound_regex_cache() {
    static PARSES: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = PARSES.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    if n > 0 && n.is_multiple_of(PARSES_PER_RESET) {
        // a poisoned lock only means a parse panicked elsewhere: leave the cache alone
        if let Ok(mut cache) = phonenumber::metadata::DATABASE.cache().lock() {
            cache.clear();
        }
    }
}

/// Calls the `phonenumber` parser on a sanitised string, catching panics.
fn guarded_parse(region: Option<Id>, s: &str) -> Result<Option<PhoneNumber>, Failure> {
    widen_regex_cache();
    bound_regex_cache();
    let result = catch_unwind(AssertUnwindSafe(|| {
        let n = phonenumber::parse(region, s).ok()?;
        if !n.is_valid() {
            return None;
        }
        // E.164 is the country code, the national number's leading zeros (Italy) and digits
        let national = n.national();
        let zeros = "0".repeat(usize::from(national.zeros()).min(15));
        let e164 = format!("+{}{zeros}{}", n.code().value(), national.value());
        let country = n.country().id().map(|id| id.as_ref().to_owned()).or_else(|| {
            // numbers the metadata cannot pin to one region (`+39 06…` is Italy or the
            // Vatican): take the code's main region, listed first
            let code = n.code().value();
            let db = &*phonenumber::metadata::DATABASE;
            db.by_code(&code)?.first().map(|m| m.id().to_owned())
        });
        // non-geographic codes (+800, +881, ...) have the metadata id "001": no country
        let country = country.filter(|c| c.len() == 2 && c.bytes().all(|b| b.is_ascii_uppercase()));
        Some((e164, country))
    }));
    match result {
        Ok(Some((e164, country))) => Ok(checked(e164, country)),
        Ok(None) => Ok(None),
        Err(_) => Err(Failure::Panic),
    }
}

/// The E.164 newtype's invariant: `+` and 3 to 15 digits.
fn checked(e164: String, country: Option<String>) -> Option<PhoneNumber> {
    let ok = e164.len() >= 4
        && e164.len() <= 16
        && e164.starts_with('+')
        && e164[1..].bytes().all(|b| b.is_ascii_digit());
    ok.then_some(PhoneNumber { e164: E164(e164), country })
}

/// Resolves sanitised digits; the decision table of [`parse_number`].
fn resolve(plus: bool, digits: &str, region: Option<Id>) -> Result<PhoneNumber, Failure> {
    let international = |d: &str| match fast::international(d) {
        Some(known) => Ok(known.and_then(|(e164, country)| checked(e164, country))),
        None => guarded_parse(None, &format!("+{d}")),
    };
    let bad_international = Failure::Invalid("not a valid international number");
    if plus {
        return international(digits)?.ok_or(bad_international);
    }
    if let Some(rest) = digits.strip_prefix("00") {
        return international(rest)?.ok_or(bad_international);
    }
    let national = |r: Option<Id>| match r {
        Some(r) => guarded_parse(Some(r), digits),
        None => Ok(None),
    };
    if digits.starts_with('0') {
        return national(region)?.ok_or(Failure::Invalid(if region.is_none() {
            "national number without a region to read it in"
        } else {
            "not a valid national number"
        }));
    }
    // Without `+` or a trunk `0` the digits may be international (`32470…`) or national
    // without trunk prefix (`612345678` in NL). International numbers are usually longer,
    // so the likelier reading is tried first and the other only when it fails.
    let international_first = digits.len() >= 11;
    let first = if international_first { international(digits)? } else { national(region)? };
    if let Some(n) = first {
        return Ok(n);
    }
    let second = if international_first {
        national(region)?
    } else if digits.len() >= 8 {
        international(digits)?
    } else {
        None
    };
    second.ok_or(Failure::Invalid("not a valid number"))
}

type CacheKey = (bool, String, Option<Id>);

/// Entries kept per thread before the cache is emptied.
const CACHE_ENTRIES: usize = 8192;

thread_local! {
    /// libphonenumber parsing costs microseconds and the same senders and recipients recur
    /// across a batch, so results are memoised per thread (bounded; invisible to callers).
    static CACHE: RefCell<HashMap<CacheKey, Result<PhoneNumber, Failure>>> = RefCell::new(HashMap::new());
}

fn resolve_cached(plus: bool, digits: String, region: Option<Id>) -> Result<PhoneNumber, Failure> {
    let key = (plus, digits, region);
    if let Some(hit) = CACHE.with(|c| c.borrow().get(&key).cloned()) {
        return hit;
    }
    let result = resolve(key.0, &key.1, key.2);
    CACHE.with(|c| {
        let mut c = c.borrow_mut();
        if c.len() >= CACHE_ENTRIES {
            c.clear();
        }
        c.insert(key, result.clone());
    });
    result
}

/// The digits of a written number and whether it was written with a leading `+`.
/// Rejects anything but digits and the usual separators (letters are not keypad digits here).
fn sanitise(raw: &str) -> Result<(bool, String), &'static str> {
    let mut s = raw.trim();
    for prefix in ["tel:", "TEL:", "Tel:"] {
        if let Some(r) = s.strip_prefix(prefix) {
            s = r.trim_start();
        }
    }
    let plus = s.starts_with('+') || s.starts_with('＋');
    let body = s.trim_start_matches(['+', '＋']);
    let mut digits = String::with_capacity(body.len());
    // `+32 (0)470 …`: the trunk prefix in brackets is not dialled from abroad
    let body_owned;
    let body = if plus && body.contains("(0)") {
        body_owned = body.replacen("(0)", "", 1);
        body_owned.as_str()
    } else {
        body
    };
    for c in body.chars() {
        match c {
            '0'..='9' => digits.push(c),
            ' ' | '-' | '.' | '(' | ')' | '/' | '\u{00A0}' | '\u{2009}' | '\u{202F}'
            | '\u{2011}' | '\u{2013}' => {}
            _ => return Err("contains characters that are not digits or separators"),
        }
    }
    if digits.len() < 3 {
        return Err("too few digits");
    }
    if digits.len() > MAX_DIGITS {
        return Err("too many digits");
    }
    Ok((plus, digits))
}

fn region_id(hint: Option<&str>) -> Option<Id> {
    let h = hint?.trim();
    if h.len() != 2 || !h.is_ascii() {
        return None;
    }
    Id::from_str(&h.to_ascii_uppercase()).ok()
}

/// Parses a sender or recipient number into E.164 and ISO country.
///
/// Tries, in order: `+…` as international; `00…` as international; otherwise a national
/// number in `region_hint` (the router's country or `--default-region`) and international
/// digits without `+` (`32470…`). Invalid numbers come back as `Err` for the caller to keep
/// the raw value with the diagnostic.
pub fn parse_number(raw: &str, region_hint: Option<&str>) -> Result<PhoneNumber, Diagnostic> {
    if raw.len() > MAX_RAW_LEN {
        return Err(invalid(raw, "longer than 64 bytes"));
    }
    let (plus, digits) = sanitise(raw).map_err(|why| invalid(raw, why))?;
    resolve_cached(plus, digits, region_id(region_hint)).map_err(|f| match f {
        Failure::Invalid(why) => invalid(raw, why),
        Failure::Panic => Diagnostic::new(
            DiagnosticKind::NumberParserPanic,
            format!("phone number parser failed on {}", quote(raw)),
        ),
    })
}

/// Whether `number` is a toll-free number of its region (`1800…` in India, `+1 800…`): the
/// lines banks print for disputes, which take a registered business to obtain.
pub fn is_toll_free(number: &PhoneNumber) -> bool {
    widen_regex_cache();
    bound_regex_cache();
    catch_unwind(AssertUnwindSafe(|| {
        phonenumber::parse(None, number.e164.as_str()).is_ok_and(|n| {
            n.number_type(&phonenumber::metadata::DATABASE) == phonenumber::Type::TollFree
        })
    }))
    .unwrap_or(false)
}

/// Words that say a number is a phone number (several languages, lowercase prefixes).
static PHONE_WORDS: WordSet = WordSet::new(&[
    "call", "phone", "tel", "ring", "bel ", "bellen", "belt", "telefoon", "nummer", "appel",
    "appelez", "numéro", "numero", "número", "chiama", "chiamare", "llam", "ruf", "anruf",
    "telefon", "ligue", "ligar", "zadzwo", "soita", "puhelin", "whatsapp", "contact", "kontakt",
    "hotline", "helpdesk", "service", "support",
]);

/// Words that say a number is something else: a code, an order, an account.
static CODE_WORDS: WordSet = WordSet::new(&[
    "code", "kod", "codice", "código", "pin", "otp", "ref", "order", "bestel", "commande",
    "ordine", "pedido", "zending", "tracking", "colis", "sendung", "paket", "pakket", "kolli",
    "iban", "konto", "account", "rekening", "dossier", "factuur", "facture", "fattura", "invoice",
    "rechnung", "faktura", "klant", "client", "kunde", "cliente", "ticket", "id ", "id:", "nr.",
    "no.", "n°", "nº", "#",
]);

/// Currency and unit markers next to a number that make it an amount.
static AMOUNT_MARKERS: WordSet = WordSet::new(&[
    "€", "$", "£", "eur", "usd", "gbp", "sek", "nok", "dkk", "pln", "chf", "kr", "zł", "zl", "%",
    "euro",
]);

/// A fixed word list with the set of its first bytes, so that [`contains_any`] looks at a
/// word only where the text has its first byte.
struct WordSet {
    words: &'static [&'static str],
    first: [bool; 256],
}

impl WordSet {
    const fn new(words: &'static [&'static str]) -> WordSet {
        let mut first = [false; 256];
        let mut k = 0;
        while k < words.len() {
            if let Some(&b) = words[k].as_bytes().first() {
                first[b as usize] = true;
            }
            k += 1;
        }
        WordSet { words, first }
    }
}

/// Whether some word of `words` starts a word in `hay` (prefix match at a word start).
///
/// One pass over `hay` (a window of a few dozen bytes): building a substring searcher per
/// word and call cost more than the whole scan. Every occurrence is looked at, where the
/// earlier definition (`match_indices`) skipped occurrences overlapping an earlier match;
/// the answer is the same because such an occurrence follows a char of the listed word
/// other than its last, and those are all alphanumeric (tested), so it never starts a word.
fn contains_any(hay: &str, words: &WordSet) -> bool {
    let bytes = hay.as_bytes();
    for (at, &b) in bytes.iter().enumerate() {
        if !words.first[usize::from(b)] {
            continue;
        }
        let rest = &bytes[at..];
        let mut starts_word = None;
        for w in words.words {
            if !rest.starts_with(w.as_bytes()) {
                continue;
            }
            // a word that does not start with a letter or digit (`€`, `#`) counts anywhere
            if !w.starts_with(char::is_alphanumeric) {
                return true;
            }
            let starts = *starts_word.get_or_insert_with(|| {
                !hay.get(..at)
                    .unwrap_or_default()
                    .chars()
                    .next_back()
                    .is_some_and(char::is_alphanumeric)
            });
            if starts {
                return true;
            }
        }
    }
    false
}

/// Lowercased window of at most `n` bytes before `at` (on a char boundary).
fn before(text: &str, at: usize, n: usize) -> String {
    let mut s = at.saturating_sub(n);
    while s > 0 && !text.is_char_boundary(s) {
        s -= 1;
    }
    text.get(s..at).unwrap_or_default().to_lowercase()
}

fn after(text: &str, at: usize, n: usize) -> String {
    let mut e = (at + n).min(text.len());
    while e < text.len() && !text.is_char_boundary(e) {
        e += 1;
    }
    text.get(at..e).unwrap_or_default().to_lowercase()
}

fn is_sep(c: char) -> bool {
    matches!(c, ' ' | '-' | '.' | '/' | '(' | ')' | '\u{00A0}' | '\u{202F}')
}

/// `12.05.2024`, `2024-05-12`, `12/05/24`: a date, not a number.
fn looks_like_date(raw: &str) -> bool {
    let groups: Vec<&str> = raw.split(['.', '/', '-']).collect();
    if groups.len() != 3 || raw.contains(' ') {
        return false;
    }
    let lens: Vec<usize> = groups.iter().map(|g| g.len()).collect();
    matches!(lens.as_slice(), [1 | 2, 1 | 2, 2 | 4] | [4, 1 | 2, 1 | 2])
}

/// `1.234.567`, `12 345 678`: thousands grouping of an amount.
fn looks_like_amount(raw: &str) -> bool {
    let groups: Vec<&str> = raw.split(['.', ' ', '\u{00A0}', '\u{202F}']).collect();
    groups.len() >= 2
        && groups[0].len() <= 3
        && !groups[0].starts_with('0')
        && groups[1..].iter().all(|g| g.len() == 3)
}

/// Scans `text` for written phone numbers and appends them to `out`.
pub(crate) fn find_numbers(text: &str, region_hint: Option<&str>, out: &mut Extracted) {
    // a number needs `MIN_DIGITS` digits (and nothing is reported without one): many texts
    // have fewer in all, and this count is much cheaper than the scan
    if text.bytes().filter(u8::is_ascii_digit).count() < MIN_DIGITS {
        return;
    }
    scan_numbers(text, region_hint, out);
}

/// [`find_numbers`] without its pre-check.
fn scan_numbers(text: &str, region_hint: Option<&str>, out: &mut Extracted) {
    let bytes = text.as_bytes();
    let mut i = 0;
    let mut candidates = 0usize;
    while i < bytes.len() {
        let b = bytes[i];
        let starts = (matches!(b, b'+' | b'(') && bytes.get(i + 1).is_some_and(u8::is_ascii_digit))
            || b.is_ascii_digit();
        // only where a number could start: this reads the char before, backwards
        let prev_ok = !starts || i == 0 || {
            let p = text[..i].chars().next_back().unwrap_or(' ');
            !p.is_alphanumeric()
                && !matches!(p, '+' | '.' | ',' | '/' | '-' | '_' | '@' | '=' | '&' | ':' | '#')
                || (p == ':' && i >= 2 && bytes[i - 2] != b'/')
        };
        if !starts || !prev_ok {
            // skip the rest of a word or number this byte belongs to
            let in_word = b.is_ascii_alphanumeric() || b >= 0x80;
            i += 1;
            while in_word
                && i < bytes.len()
                && (bytes[i].is_ascii_alphanumeric() || bytes[i] >= 0x80)
            {
                i += 1;
            }
            continue;
        }
        // extend over digits and single separators (a space may follow a closing bracket)
        let start = i;
        let mut end = i + 1;
        let mut j = i + 1;
        let mut last_sep = false;
        while j < bytes.len() && j - start < 40 {
            let c = bytes[j];
            if c.is_ascii_digit() {
                end = j + 1;
                last_sep = false;
                j += 1;
            } else if is_sep(c as char) && (!last_sep || bytes[j - 1] == b')' || c == b'(') {
                last_sep = true;
                j += 1;
            } else if c == 0xC2 && bytes.get(j + 1) == Some(&0xA0) && !last_sep {
                last_sep = true;
                j += 2;
            } else {
                break;
            }
        }
        // a closing bracket that belongs to the number
        if bytes.get(end) == Some(&b')') && text[start..end].contains('(') {
            end += 1;
        }
        // an opening bracket without its closing one is not part of the number: `0800 (18+)`
        let mut raw = &text[start..end];
        if let Some(open) = raw.rfind('(').filter(|&o| !raw[o..].contains(')')) {
            raw = raw[..open].trim_end_matches(is_sep);
            end = start + raw.len();
        }
        if raw.contains(')') && !raw.contains('(') {
            raw = raw[..raw.find(')').unwrap_or(raw.len())].trim_end_matches(is_sep);
            end = start + raw.len();
        }
        i = end.max(i + 1);
        let digits = raw.bytes().filter(u8::is_ascii_digit).count();
        if !(MIN_DIGITS..=MAX_DIGITS).contains(&digits) {
            continue;
        }
        // glued to a word, a decimal comma or another number
        let next = text[end..].chars().next();
        if next.is_some_and(|c| {
            c.is_alphanumeric()
                || c == ',' && text[end + 1..].starts_with(|d: char| d.is_ascii_digit())
        }) {
            continue;
        }
        if out.urls.iter().any(|u| u.span.start < end && start < u.span.end) {
            continue;
        }
        candidates += 1;
        if candidates > MAX_NUMBERS * 4 {
            out.diagnostics.push(Diagnostic::new(
                DiagnosticKind::TooManyCandidates,
                "too many number-like tokens, the rest were ignored",
            ));
            break;
        }
        let pre = before(text, start, 24);
        let post = after(text, end, 6);
        let pre_near = before(text, start, 4);
        if contains_any(&pre_near, &AMOUNT_MARKERS)
            || post.trim_start().starts_with(|c: char| "€$£%".contains(c))
        {
            continue;
        }
        if AMOUNT_MARKERS
            .words
            .iter()
            .any(|m| m.chars().all(char::is_alphabetic) && post.trim_start().starts_with(m))
        {
            continue;
        }
        if looks_like_date(raw) {
            continue;
        }
        let phone_word = contains_any(&pre, &PHONE_WORDS);
        let code_word = contains_any(&pre, &CODE_WORDS);
        let prefixed = raw.starts_with('+') || raw.starts_with("00");
        let national = raw.starts_with('0') && !prefixed;
        // a code word before it makes a number a code, unless it is written with its country
        // prefix ("send the code to +62 812..."): codes never are
        if code_word && !phone_word && !prefixed {
            continue;
        }
        if !prefixed && !national && (!phone_word || looks_like_amount(raw)) {
            continue;
        }
        let number = match parse_number(raw, region_hint) {
            Ok(n) => Some(n),
            Err(d) if d.kind == DiagnosticKind::NumberParserPanic => {
                out.diagnostics.push(d);
                None
            }
            Err(_) => None,
        };
        if number.is_none() && !phone_word {
            continue;
        }
        if out.numbers.len() >= MAX_NUMBERS {
            out.diagnostics.push(Diagnostic::new(
                DiagnosticKind::TooManyCandidates,
                format!("more than {MAX_NUMBERS} phone numbers, the rest were ignored"),
            ));
            break;
        }
        out.numbers.push(MentionedNumber { span: start..end, raw: raw.to_owned(), number });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn toll_free_numbers() {
        for (raw, hint, expect) in [
            ("1800 425 3800", Some("IN"), true),
            ("18002586161", Some("IN"), true),
            ("+1 800 723 3456", None, true),
            ("+91 98765 43210", None, false),
            ("+44 20 7946 0958", None, false),
        ] {
            let number = parse_number(raw, hint).unwrap_or_else(|d| panic!("{raw}: {}", d.message));
            assert_eq!(is_toll_free(&number), expect, "{raw:?}");
        }
    }

    /// `expect`: `Ok((e164, country))` or `Err(())`.
    fn check(raw: &str, hint: Option<&str>, expect: Result<(&str, &str), ()>) {
        let got = parse_number(raw, hint)
            .map(|n| (n.e164.as_str().to_owned(), n.country.unwrap_or_default()))
            .map_err(|d| {
                assert!(
                    d.message == d.message.to_lowercase() || d.message.contains('"'),
                    "{}",
                    d.message
                );
            });
        let want = expect.map(|(e, c)| (e.to_owned(), c.to_owned()));
        assert_eq!(got, want, "parse_number({raw:?}, {hint:?})");
    }

    /// `contains_any` as first written: one substring search per word.
    fn contains_any_reference(hay: &str, words: &[&str]) -> bool {
        words.iter().any(|w| {
            hay.match_indices(w).any(|(at, _)| {
                let starts_word = !hay[..at].chars().next_back().is_some_and(char::is_alphanumeric);
                starts_word || !w.starts_with(char::is_alphanumeric)
            })
        })
    }

    #[test]
    fn listed_words_are_alphanumeric_but_their_last_char() {
        for set in [&PHONE_WORDS, &CODE_WORDS, &AMOUNT_MARKERS] {
            for w in set.words {
                let mut chars = w.chars();
                chars.next_back();
                assert!(chars.all(char::is_alphanumeric), "{w:?}");
            }
        }
    }

    fn contains_any_agrees(hay: &str) {
        for set in [&PHONE_WORDS, &CODE_WORDS, &AMOUNT_MARKERS] {
            assert_eq!(
                contains_any(hay, set),
                contains_any_reference(hay, set.words),
                "contains_any({hay:?}, {:?})",
                set.words.first()
            );
        }
    }

    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(20_000))]
        #[test]
        fn contains_any_matches_its_reference(
            pieces in prop::collection::vec(prop_oneof![
                prop::sample::select(vec![
                    "call", "tel", "bel ", "bel", "belt", "número", "numéro", "code", "kod", "id ",
                    "id:", "nr.", "no.", "n°", "nº", "#", "€", "$", "£", "%", "eur", "euro", "zł",
                    "kr", " ", ".", ":", "-", "a", "x", "1", "é", "ó", "ticket", "tickettick",
                    "appelez", "colis", "\u{00A0}",
                ]).prop_map(str::to_owned),
                ".{0,3}",
            ], 0..10)
        ) {
            contains_any_agrees(&pieces.concat());
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(5_000))]
        #[test]
        fn the_digit_count_pre_check_changes_nothing(
            text in "[0-9 +().a-z€/-]{0,40}",
            region in prop::option::of(prop::sample::select(vec!["BE", "FR", "SE"])),
        ) {
            let (mut fast, mut full) = (Extracted::default(), Extracted::default());
            find_numbers(&text, region, &mut fast);
            scan_numbers(&text, region, &mut full);
            prop_assert_eq!(fast, full);
        }
    }

    #[test]
    fn parse_table() {
        let be = Ok(("+32470123456", "BE"));
        for raw in [
            "+32470123456",
            "+32 470 12 34 56",
            "+32 (0)470 12 34 56",
            "+32-470-12-34-56",
            "+32.470.12.34.56",
            "0032470123456",
            "00 32 470 12 34 56",
            "32470123456",
            "tel:+32470123456",
            " +32470123456 ",
        ] {
            check(raw, None, be);
        }
        check("0470 12 34 56", Some("BE"), be);
        check("0470/12.34.56", Some("be"), be);
        check("(0470) 12 34 56", Some("BE"), be);
        check("0470123456", None, Err(()));
        check("0470123456", Some("XX"), Err(()));
        check("+46701234567", None, Ok(("+46701234567", "SE")));
        check("070-123 45 67", Some("SE"), Ok(("+46701234567", "SE")));
        check("46701234567", Some("SE"), Ok(("+46701234567", "SE")));
        check("+393123456789", None, Ok(("+393123456789", "IT")));
        check("+39 06 1234 5678", None, Ok(("+390612345678", "IT")));
        check("06 12 34 56 78", Some("FR"), Ok(("+33612345678", "FR")));
        check("+33612345678", None, Ok(("+33612345678", "FR")));
        check("+31612345678", None, Ok(("+31612345678", "NL")));
        check("612345678", Some("NL"), Ok(("+31612345678", "NL")));
        check("+447400123456", None, Ok(("+447400123456", "GB")));
        check("+447911123456", None, Ok(("+447911123456", "GG")));
        check("+12025550123", None, Ok(("+12025550123", "US")));
        check("+4915112345678", None, Ok(("+4915112345678", "DE")));
        check("+32 0470 12 34 56", None, Ok(("+32470123456", "BE")));
        check("+46 (0)70-123 45 67", None, Ok(("+46701234567", "SE")));
        check("0046701234567", None, Ok(("+46701234567", "SE")));
        check("+33 6 12 34 56 78", None, Ok(("+33612345678", "FR")));
        check("+351 912 345 678", None, Ok(("+351912345678", "PT")));
        check("+48 512 345 678", None, Ok(("+48512345678", "PL")));
        check("+45 20 12 34 56", None, Ok(("+4520123456", "DK")));
        check("+47 412 34 567", None, Ok(("+4741234567", "NO")));
        check("+358 40 1234567", None, Ok(("+358401234567", "FI")));
        check("+34 612 34 56 78", None, Ok(("+34612345678", "ES")));
        check("+61 412 345 678", None, Ok(("+61412345678", "AU")));
        check("0412 345 678", Some("AU"), Ok(("+61412345678", "AU")));
        check("+90 532 123 45 67", None, Ok(("+905321234567", "TR")));
        // a foreign national number read in the wrong region is invalid, not guessed
        check("0470123456", Some("TR"), Err(()));
        // invalid, kept raw by the caller
        check("+3367a829916", None, Err(()));
        check("hello", None, Err(()));
        check("", None, Err(()));
        check("12", None, Err(()));
        check("+32 1", None, Err(()));
        check("+999123456789", None, Err(()));
        check("+12345678901234567890", None, Err(()));
        check(&"1".repeat(100), None, Err(()));
        check("jan@example.com", None, Err(()));
        // non-geographic (satellite) numbers have no country
        check("+881000000001", None, Ok(("+881000000001", "")));
    }

    fn check_text(text: &str, hint: Option<&str>, expect: &[(&str, Option<&str>)]) {
        let got = crate::extract_with(text, hint);
        for n in &got.numbers {
            assert_eq!(&text[n.span.clone()], n.raw);
        }
        let got: Vec<(String, Option<String>)> = got
            .numbers
            .iter()
            .map(|n| (n.raw.clone(), n.number.as_ref().map(|p| p.e164.as_str().to_owned())))
            .collect();
        let want: Vec<(String, Option<String>)> =
            expect.iter().map(|(r, e)| ((*r).to_owned(), e.map(str::to_owned))).collect();
        assert_eq!(got, want, "numbers in {text:?}");
    }

    #[test]
    fn mentioned_numbers() {
        check_text(
            "Bel ons op +32 470 12 34 56 voor hulp.",
            None,
            &[("+32 470 12 34 56", Some("+32470123456"))],
        );
        check_text(
            "Appelez le 06 12 34 56 78 avant demain",
            Some("FR"),
            &[("06 12 34 56 78", Some("+33612345678"))],
        );
        check_text(
            "Ring 070-123 45 67 idag",
            Some("SE"),
            &[("070-123 45 67", Some("+46701234567"))],
        );
        check_text(
            "Chiama 0039 312 345 6789!",
            None,
            &[("0039 312 345 6789", Some("+393123456789"))],
        );
        check_text(
            "Call (0470) 12 34 56 now",
            Some("BE"),
            &[("(0470) 12 34 56", Some("+32470123456"))],
        );
        // phone word with an unparseable number: kept raw
        check_text("Call 0470123456 now", None, &[("0470123456", None)]);
        check_text(
            "Call 08000407165 (18+) now",
            Some("GB"),
            &[("08000407165", Some("+448000407165"))],
        );
        // a number with its country prefix is a phone number even after a code word
        check_text(
            "Send the code to +62 812 3456 7890 now",
            None,
            &[("+62 812 3456 7890", Some("+6281234567890"))],
        );
        // not phone numbers
        for text in [
            "Betaal 12345678 EUR voor 12.05.2024",
            "Uw code is 48213377",
            "Order 123456789 shipped",
            "Bestelling nr. 0012345678 is onderweg",
            "Total: € 1.234.567",
            "Montant 1 234 567,89 €",
            "Datum 2024-05-12, tijd 10:30",
            "IBAN BE68 5390 0754 7034",
            "tracking JJD0001234567890",
            "https://csam-be.info/0470123456",
            "3.14159265358979",
            "Your balance is 1234567890",
            "(",
        ] {
            check_text(text, Some("BE"), &[]);
        }
    }
}
