//! Message templates: normalise the variable parts of an SMS, then compare templates with
//! MinHash.
//!
//! MinHash and LSH banding are written here (about a hundred lines) rather than taken from a
//! crate: the signatures feed stable campaign ids, so the hash family must be seeded, fixed
//! and versioned ([`SIGNATURE_VERSION`]) instead of depending on a crate's or the standard
//! library's hasher, which may change between releases.

use unicode_normalization::UnicodeNormalization;

/// Bump when normalisation or the hash family changes: ids derived from templates change too.
pub const SIGNATURE_VERSION: u32 = 1;

/// Number of MinHash functions in a signature.
pub const PERMUTATIONS: usize = 64;
/// LSH bands x rows = [`PERMUTATIONS`]; 16 x 4 puts the candidate threshold near Jaccard 0.5.
pub const BANDS: usize = 16;
const ROWS: usize = PERMUTATIONS / BANDS;

/// Templates are built from at most this many bytes of text.
const MAX_TEMPLATE_INPUT: usize = 1024;
/// At most this many tokens take part in a template.
const MAX_TOKENS: usize = 96;

/// Placeholders that replace variable parts.
pub const URL: &str = "<url>";
pub const NUM: &str = "<num>";
pub const TOKEN: &str = "<tok>";
pub const EMAIL: &str = "<email>";

/// A normalised message template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    /// Normalised tokens, placeholders included.
    pub tokens: Vec<String>,
    /// Stable 64-bit hash of the token sequence.
    pub hash: u64,
    /// Tokens that are words (not placeholders).
    pub word_count: usize,
}

impl Template {
    /// The normalised form as one string (for display and tests).
    pub fn text(&self) -> String {
        self.tokens.join(" ")
    }
}

/// Normalises `text` into a template: NFKC, lowercase, URLs/e-mails/numbers/codes replaced by
/// placeholders, punctuation dropped, runs of the same placeholder collapsed.
pub fn normalise(text: &str) -> Template {
    let text = cut(text, MAX_TEMPLATE_INPUT);
    let nfkc: String = text.nfkc().collect();
    let mut tokens: Vec<String> = Vec::new();
    for raw in nfkc.split(|c: char| c.is_whitespace()) {
        if tokens.len() >= MAX_TOKENS {
            break;
        }
        if raw.is_empty() {
            continue;
        }
        for token in classify(raw) {
            // "12 / 11" or "EUR 12,50 €" collapse into one placeholder
            if token.starts_with('<') && tokens.last().is_some_and(|last| *last == token) {
                continue;
            }
            tokens.push(token);
        }
    }
    let word_count = tokens.iter().filter(|t| !t.starts_with('<')).count();
    let mut hash = Fnv::new();
    for t in &tokens {
        hash.write(t.as_bytes());
        hash.write(&[0xff]);
    }
    Template { tokens, hash: hash.finish(), word_count }
}

/// Splits one whitespace-separated chunk into normalised tokens.
fn classify(raw: &str) -> Vec<String> {
    let trimmed = raw.trim_matches(|c: char| !c.is_alphanumeric() && c != '<' && c != '>');
    if trimmed.is_empty() {
        return Vec::new();
    }
    if trimmed.contains('@') && trimmed.contains('.') {
        return vec![EMAIL.to_owned()];
    }
    if looks_like_url(trimmed) {
        return vec![URL.to_owned()];
    }
    let mut out = Vec::new();
    // split on inner punctuation ("d'un", "compte/profil") but keep letters+digits together
    for piece in trimmed.split(|c: char| !c.is_alphanumeric()) {
        if piece.is_empty() {
            continue;
        }
        let digits = piece.chars().filter(char::is_ascii_digit).count();
        let letters = piece.chars().filter(|c| c.is_alphabetic()).count();
        let token = if digits > 0 && letters == 0 {
            NUM.to_owned()
        } else if digits > 0 || is_code(piece) {
            TOKEN.to_owned()
        } else {
            // lowercasing can add combining marks ("İ" → "i̇"), which the next pass would
            // split on: keep letters and digits only, so normalising is idempotent
            piece.to_lowercase().chars().filter(|c| c.is_alphanumeric()).collect()
        };
        if token.starts_with('<') && out.last().is_some_and(|last: &String| *last == token) {
            continue;
        }
        out.push(token);
    }
    out
}

/// A tracking code or reference written in capitals ("QALINF", "XK9PLM"): at least six
/// capitals in a row. Brand names in capitals are usually shorter and are kept.
fn is_code(piece: &str) -> bool {
    let n = piece.chars().count();
    (6..=16).contains(&n) && piece.chars().all(|c| c.is_ascii_uppercase())
}

/// A token that is a URL or a bare domain (`https://…`, `www.…`, `name.tld/…`, `name.tld`).
fn looks_like_url(token: &str) -> bool {
    let lower = token.to_ascii_lowercase();
    if lower.starts_with("http") || lower.starts_with("hxxp") || lower.starts_with("www") {
        return lower.contains('.') || lower.contains("[.]") || lower.contains("://");
    }
    if lower.contains("[.]") || lower.contains("(.)") {
        return true;
    }
    // name.tld with letters on both sides of a dot, and a tld of two or more letters
    let host = lower.split('/').next().unwrap_or("");
    let mut labels = host.split('.');
    let first = labels.next().unwrap_or("");
    let rest: Vec<&str> = labels.collect();
    match rest.last() {
        Some(tld) => {
            !first.is_empty()
                && tld.len() >= 2
                && tld.chars().all(|c| c.is_ascii_alphabetic())
                && first.chars().any(|c| c.is_alphanumeric())
        }
        None => false,
    }
}

/// Cuts `s` to at most `max` bytes on a char boundary.
pub(crate) fn cut(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while end > 0 && !s.is_char_boundary(end) {
        end -= 1;
    }
    s.get(..end).unwrap_or("")
}

/// A MinHash signature over word 1- and 2-shingles of a template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signature(pub [u32; PERMUTATIONS]);

impl Signature {
    pub fn of(template: &Template) -> Signature {
        let mut mins = [u32::MAX; PERMUTATIONS];
        let mut feed = |h: u64| {
            for (i, slot) in mins.iter_mut().enumerate() {
                let v = (mix(h ^ SEEDS[i]) >> 32) as u32;
                if v < *slot {
                    *slot = v;
                }
            }
        };
        let tokens = &template.tokens;
        for t in tokens {
            feed(fnv(t.as_bytes()));
        }
        for pair in tokens.windows(2) {
            if let [a, b] = pair {
                let mut h = Fnv::new();
                h.write(a.as_bytes());
                h.write(&[0x1f]);
                h.write(b.as_bytes());
                feed(h.finish());
            }
        }
        Signature(mins)
    }

    /// Estimated Jaccard similarity of the shingle sets.
    pub fn similarity(&self, other: &Signature) -> f64 {
        let same = self.0.iter().zip(other.0.iter()).filter(|(a, b)| a == b).count();
        same as f64 / PERMUTATIONS as f64
    }

    /// LSH band keys: two templates sharing any band key are candidates.
    pub fn bands(&self) -> [u64; BANDS] {
        let mut out = [0u64; BANDS];
        for (b, slot) in out.iter_mut().enumerate() {
            let mut h = Fnv::new();
            h.write(&(b as u32).to_le_bytes());
            for v in self.0.iter().skip(b * ROWS).take(ROWS) {
                h.write(&v.to_le_bytes());
            }
            *slot = h.finish();
        }
        out
    }
}

/// Exact similarity of two templates' shingle sets (for tests and fixtures).
pub fn jaccard(a: &Template, b: &Template) -> f64 {
    use std::collections::HashSet;
    let shingles = |t: &Template| -> HashSet<String> {
        let mut s: HashSet<String> = t.tokens.iter().cloned().collect();
        for w in t.tokens.windows(2) {
            s.insert(w.join("\u{1f}"));
        }
        s
    };
    let (sa, sb) = (shingles(a), shingles(b));
    let union = sa.union(&sb).count();
    if union == 0 {
        return 1.0;
    }
    sa.intersection(&sb).count() as f64 / union as f64
}

/// Seeds of the hash family, fixed forever for [`SIGNATURE_VERSION`] 1: splitmix64 outputs.
const SEEDS: [u64; PERMUTATIONS] = seeds();

const fn seeds() -> [u64; PERMUTATIONS] {
    let mut out = [0u64; PERMUTATIONS];
    let mut state: u64 = 0x5EED_0000_0000_0001;
    let mut i = 0;
    while i < PERMUTATIONS {
        state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        out[i] = mix(state);
        i += 1;
    }
    out
}

/// splitmix64 finaliser: a fast, well-distributed 64-bit mixer.
pub(crate) const fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// FNV-1a, 64-bit: stable across platforms and releases (unlike `DefaultHasher`).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Fnv(u64);

impl Fnv {
    pub(crate) const fn new() -> Fnv {
        Fnv(0xcbf2_9ce4_8422_2325)
    }
    pub(crate) fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 ^= u64::from(*b);
            self.0 = self.0.wrapping_mul(0x0000_0100_0000_01B3);
        }
    }
    pub(crate) fn finish(self) -> u64 {
        mix(self.0)
    }
}

pub(crate) fn fnv(bytes: &[u8]) -> u64 {
    let mut h = Fnv::new();
    h.write(bytes);
    h.finish()
}

/// A short test text as operators send while validating a router ("test", "1", "ok", "hi").
/// Judged by shape, not by a word list (operators write "test", "1", "ok", "ping",
/// "test sms 2" in any language): at most four words and twenty-four characters, no link.
/// Only outbound sends from a campaign's routers or to its operator numbers are considered.
pub fn is_test_text(text: &str) -> bool {
    let t = text.trim();
    if t.is_empty() || t.chars().count() > 24 {
        return false;
    }
    let words = t.split_whitespace().count();
    words <= 4 && !looks_like_url(t) && !t.split_whitespace().any(looks_like_url)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(input: &str, expect: &str) {
        assert_eq!(normalise(input).text(), expect, "{input}");
    }

    #[test]
    fn normalisation_replaces_variable_parts() {
        check(
            "CSAM: uw account wordt op 24/11 gedeactiveerd. Werk uw gegevens bij: https://csam-be.info/xK3",
            "csam uw account wordt op <num> gedeactiveerd werk uw gegevens bij <url>",
        );
        check(
            "CSAM : votre compte sera désactivé le 3/11. Mettez à jour : csam-be.info/be",
            "csam votre compte sera désactivé le <num> mettez à jour <url>",
        );
        check(
            "Réglez 135 € avant majoration : hxxps://antai-gouv[.]top",
            "réglez <num> avant majoration <url>",
        );
        check(
            "Plan een nieuwe levering (EUR 2,99): www.example.com",
            "plan een nieuwe levering eur <num> <url>",
        );
        check("Ditt paket XK9PLM7 väntar", "ditt paket <tok> väntar");
        check("Ditt paket QALINFZ väntar", "ditt paket <tok> väntar");
        check("Uw zending 9ACWDBY staat klaar", "uw zending <tok> staat klaar");
        check("ＣＳＡＭ  fullwidth", "csam fullwidth");
        check("mail me at foo@bar.example now", "mail me at <email> now");
        check("", "");
        check("   ", "");
    }

    #[test]
    fn same_template_same_hash_and_full_similarity() {
        let a =
            normalise("bpost: Uw zending 9ACWDBY staat klaar, betaal 2,99 EUR via https://a.top/x");
        let b =
            normalise("bpost: Uw zending KXMJ6A staat klaar, betaal 1,50 EUR via bpost-be.com/y");
        assert_eq!(a.hash, b.hash);
        assert_eq!(Signature::of(&a), Signature::of(&b));
    }

    #[test]
    fn similarity_orders_related_and_unrelated_texts() {
        let base = normalise(
            "PostNord: Vi kunde inte leverera ditt paket idag. Boka ny leveranstid här: x.com/a",
        );
        let edit = normalise(
            "PostNord: Vi kunde inte leverera ditt paket. Boka en ny leveranstid här: y.com/b",
        );
        let other = normalise(
            "BankID: Ditt BankID upphör idag. Förnya här för att undvika avstängning: z.org",
        );
        let (sb, se, so) = (Signature::of(&base), Signature::of(&edit), Signature::of(&other));
        let near = sb.similarity(&se);
        let far = sb.similarity(&so);
        assert!(near >= 0.5, "near {near} exact {}", jaccard(&base, &edit));
        assert!(far <= 0.2, "far {far}");
        // the estimate tracks the exact value
        assert!((near - jaccard(&base, &edit)).abs() < 0.2);
    }

    #[test]
    fn signatures_are_versioned_constants() {
        // A change here changes campaign ids: bump SIGNATURE_VERSION deliberately.
        let sig = Signature::of(&normalise("hello world"));
        assert_eq!(SIGNATURE_VERSION, 1);
        assert_eq!(sig.0[0], Signature::of(&normalise("Hello, WORLD!")).0[0]);
        assert_eq!(fnv(b""), mix(0xcbf2_9ce4_8422_2325));
    }

    #[test]
    fn test_texts_by_shape() {
        for t in ["test", "1", "ok", "Hi", "TEST 1", "t", "check", "hello", "prova invio sms 2"] {
            assert!(is_test_text(t), "{t}");
        }
        for t in [
            "",
            "Vem är det här? Svara nu snälla",
            "see csam-be.info",
            "Your parcel is waiting for you today",
        ] {
            assert!(!is_test_text(t), "{t}");
        }
    }

    #[test]
    fn lowercasing_adds_no_combining_marks() {
        assert_eq!(normalise("İstanbul İº").text(), "istanbul io");
    }

    proptest::proptest! {
        #[test]
        fn normalise_never_panics_and_is_idempotent_on_its_output(s in "\\PC{0,200}") {
            let t = normalise(&s);
            let again = normalise(&t.text());
            proptest::prop_assert_eq!(again.tokens.len() <= t.tokens.len(), true);
        }
    }
}
