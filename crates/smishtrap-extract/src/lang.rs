//! Language identification of short texts (ISO 639-1), fast enough for every message.
//!
//! A character n-gram language model (trigram, backing off to bigram and unigram) per
//! language, scored over the words of the text after links, e-mail addresses and tokens
//! with digits are dropped. The profiles are derived at build time from lingua's own models
//! (see `build.rs`): lingua itself (even in low-accuracy mode) costs far more per message than
//! the analysis budget, and it stays the reference this detector is tested against.
//!
//! Profile format (`$OUT_DIR/lang_profiles.bin`): `SLP1`, one byte `n` = number of model
//! languages, `n` two-letter codes, then entries of a little-endian u64 key (up to three
//! chars, 21 bits each, first char highest) followed by `n` bytes, each
//! `round(-ln P(char | context) * 8)` or 255 when the language has no estimate.

use std::collections::HashMap;
use std::sync::OnceLock;

/// Languages [`detect_language`] can report.
pub const SUPPORTED_LANGUAGES: &[&str] =
    &["nl", "fr", "sv", "it", "en", "es", "de", "pt", "da", "no", "fi", "pl"];

static PROFILES: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/lang_profiles.bin"));
static WORDS: &str = include_str!("../data/lang_words.txt");

/// Cost removed per listed function word (2 nats, in quantised units).
const WORD_BONUS: u32 = 16;
/// Longest word looked up in the function-word list, in bytes.
const MAX_HINT_WORD: usize = 16;

/// Only this much of a text is read.
const MAX_LANG_BYTES: usize = 1024;
/// Fewer scored letters than this: too little text to tell.
const MIN_LETTERS: usize = 3;
/// With at least this many letters outside all-caps tokens, those tokens are ignored.
const MIN_CAPS_IGNORED: usize = 12;
/// A lone word shorter than this (`STOP`, `test`, `ok`) exists in too many languages.
const MIN_LONE_WORD: usize = 5;
const MISSING: u8 = 255;
/// Cost, in quantised units, of a char a language has never seen (about e^-25).
const FLOOR: u8 = 200;
/// Model languages a row can hold (13 used); rows are padded so the add vectorises.
const LANES: usize = 16;

struct Profiles {
    /// Two-letter codes of the model languages (`nb`, `nn` are reported as `no`).
    codes: Vec<&'static str>,
    /// Open-addressing table of (key, costs per language); key 0 = empty slot. Costs are
    /// inline so a lookup touches one cache line; a missing estimate is stored as `FLOOR`.
    slots: Vec<(u64, [u8; LANES])>,
    mask: usize,
    /// Function word -> bit set of model languages it hints at.
    words: HashMap<&'static str, u16, BuildFnv>,
    /// Byte length of the longest listed word: longer words are not looked up.
    longest_word: usize,
}

/// FNV-1a: the word table is fixed data, so a fast non-keyed hash is fine here.
#[derive(Debug, Default, Clone, Copy)]
struct BuildFnv;

#[derive(Debug)]
struct Fnv(u64);

impl std::hash::BuildHasher for BuildFnv {
    type Hasher = Fnv;
    fn build_hasher(&self) -> Fnv {
        Fnv(0xcbf2_9ce4_8422_2325)
    }
}

impl std::hash::Hasher for Fnv {
    fn finish(&self) -> u64 {
        // FNV's top bits mix poorly on short keys, and the hash table takes its tags from
        // them: finish with a multiply-xorshift so similar words do not share tags
        let x = self.0.wrapping_mul(0x9E37_79B9_7F4A_7C15);
        x ^ (x >> 32)
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
    }
}

fn hash(key: u64) -> u64 {
    let x = key.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    x ^ (x >> 29)
}

impl Profiles {
    fn parse(bytes: &'static [u8]) -> Option<Profiles> {
        let rest = bytes.strip_prefix(b"SLP1")?;
        let (&n, rest) = rest.split_first()?;
        let n = usize::from(n);
        let code_bytes = rest.get(..2 * n)?;
        let mut words: HashMap<&'static str, u16, BuildFnv> = HashMap::default();
        for line in WORDS.lines().filter(|l| !l.starts_with('#')) {
            let Some((code, list)) = line.split_once(':') else { continue };
            let Some(i) = code_bytes.chunks(2).position(|c| c == code.trim().as_bytes()) else {
                continue;
            };
            for w in list.split_whitespace() {
                *words.entry(w).or_default() |= 1 << i;
            }
        }
        let codes = code_bytes
            .chunks(2)
            .map(|c| match c {
                b"nl" => Some("nl"),
                b"fr" => Some("fr"),
                b"sv" => Some("sv"),
                b"it" => Some("it"),
                b"en" => Some("en"),
                b"es" => Some("es"),
                b"de" => Some("de"),
                b"pt" => Some("pt"),
                b"da" => Some("da"),
                b"nb" | b"nn" => Some("no"),
                b"fi" => Some("fi"),
                b"pl" => Some("pl"),
                _ => None,
            })
            .collect::<Option<Vec<_>>>()?;
        if n > LANES {
            return None;
        }
        let entries = rest.get(2 * n..)?;
        let stride = 8 + n;
        let count = entries.len() / stride;
        let cap = (count * 2).next_power_of_two().max(16);
        let mut slots = vec![(0u64, [0u8; LANES]); cap];
        for e in entries.chunks_exact(stride) {
            let key = u64::from_le_bytes(e.get(..8)?.try_into().ok()?);
            let mut row = [0u8; LANES];
            for (r, &v) in row.iter_mut().zip(e.get(8..)?) {
                *r = if v == MISSING { FLOOR } else { v };
            }
            let mut at = hash(key) as usize & (cap - 1);
            while slots[at].0 != 0 {
                at = (at + 1) & (cap - 1);
            }
            slots[at] = (key, row);
        }
        let longest_word = words.keys().map(|w| w.len()).max().unwrap_or(0).min(MAX_HINT_WORD);
        Some(Profiles { codes, slots, mask: cap - 1, words, longest_word })
    }

    fn get(&self, key: u64) -> Option<&[u8; LANES]> {
        let mut at = hash(key) as usize & self.mask;
        loop {
            let (k, row) = self.slots.get(at)?;
            if *k == key {
                return Some(row);
            }
            if *k == 0 {
                return None;
            }
            at = (at + 1) & self.mask;
        }
    }
}

fn profiles() -> Option<&'static Profiles> {
    static P: OnceLock<Option<Profiles>> = OnceLock::new();
    P.get_or_init(|| Profiles::parse(PROFILES)).as_ref()
}

/// Whitespace-separated tokens that are links, addresses, numbers or codes say nothing
/// about the language.
fn skip_token(tok: &str) -> bool {
    if tok.contains("://") || tok.contains('@') || tok.bytes().any(|b| b.is_ascii_digit()) {
        return true;
    }
    let lower_www = tok.get(..4).is_some_and(|w| w.eq_ignore_ascii_case("www."));
    // a dot between letters: a domain such as `tele2.se` or `myebox.be/x`
    let dotted = tok
        .trim_end_matches(['.', ',', '!', '?', ':', ';', ')'])
        .split('.')
        .filter(|p| !p.is_empty())
        .count()
        > 1;
    lower_www || dotted || tok.contains('/')
}

/// Adds the function-word bonus of each word of `tok` (split at non-letters).
fn word_hints(p: &Profiles, tok: &str, bonus: &mut [u32; LANES]) {
    for word in tok
        .split(|c: char| !c.is_alphabetic())
        .filter(|w| !w.is_empty() && w.len() <= p.longest_word)
    {
        if w_is_lower_ascii(word) {
            add_hint(p, word, bonus);
            continue;
        }
        let mut buf = [0u8; MAX_HINT_WORD * 2];
        let mut len = 0;
        for c in word.chars().flat_map(char::to_lowercase) {
            let n = c.len_utf8();
            let Some(slot) = buf.get_mut(len..len + n) else { return };
            c.encode_utf8(slot);
            len += n;
        }
        let Ok(lower) = std::str::from_utf8(&buf[..len]) else { continue };
        add_hint(p, lower, bonus);
    }
}

fn w_is_lower_ascii(w: &str) -> bool {
    w.bytes().all(|b| b.is_ascii_lowercase())
}

fn add_hint(p: &Profiles, lower: &str, bonus: &mut [u32; LANES]) {
    if let Some(&mask) = p.words.get(lower) {
        for (i, b) in bonus.iter_mut().enumerate() {
            if mask & (1 << i) != 0 {
                *b += WORD_BONUS;
            }
        }
    }
}

/// Adds the n-gram costs of the letters of `tok` to `scores`; returns the letters scored.
///
/// Each letter costs `-ln P(letter | up to two letters before)` per language, from the
/// longest context the table has. Backing off costs every language the same, so it does
/// not change the ranking and is not added.
fn score_token(p: &Profiles, tok: &str, scores: &mut [u32; LANES]) -> usize {
    let mut letters = 0;
    // words: runs of letters, lowercased
    let (mut a, mut b) = ('\0', '\0');
    for ch in tok.chars() {
        if !ch.is_alphabetic() {
            (a, b) = ('\0', '\0');
            continue;
        }
        let c = ch.to_lowercase().next().unwrap_or(ch);
        let uni = u64::from(c);
        let bi = (u64::from(b) << 21) | uni;
        let tri = (u64::from(a) << 42) | bi;
        let row = (a != '\0')
            .then(|| p.get(tri))
            .flatten()
            .or_else(|| (b != '\0').then(|| p.get(bi)).flatten())
            .or_else(|| p.get(uni));
        if let Some(row) = row {
            letters += 1;
            for (s, &v) in scores.iter_mut().zip(row) {
                *s += u32::from(v);
            }
        }
        (a, b) = (b, c);
    }
    letters
}

/// All-caps tokens (`WAN`, `AEHFVF`, `SMS`) are mostly acronyms and identifiers.
fn is_caps_token(tok: &str) -> bool {
    let mut n = 0;
    for c in tok.chars().filter(|c| c.is_alphabetic()) {
        if !c.is_uppercase() {
            return false;
        }
        n += 1;
    }
    n >= 2
}

/// What one whitespace-separated token adds to a text's scores: a pure function of the
/// token, so it is remembered per thread (texts repeat their words, templates repeat
/// whole texts) and added back by [`detect_language`] exactly as computed.
#[derive(Debug, Clone)]
struct TokenScore {
    skip: bool,
    alphabetic: bool,
    caps: bool,
    letters: u16,
    scores: [u32; LANES],
    bonus: [u32; LANES],
}

impl TokenScore {
    fn new(p: &Profiles, tok: &str) -> TokenScore {
        let mut t = TokenScore {
            skip: skip_token(tok),
            alphabetic: false,
            caps: false,
            letters: 0,
            scores: [0; LANES],
            bonus: [0; LANES],
        };
        if t.skip {
            return t;
        }
        t.alphabetic = tok.chars().any(char::is_alphabetic);
        word_hints(p, tok, &mut t.bonus);
        t.caps = is_caps_token(tok);
        let letters = score_token(p, tok, &mut t.scores);
        t.letters = u16::try_from(letters).unwrap_or(u16::MAX);
        t
    }
}

/// Longest token remembered, in bytes; longer ones are scored every time.
const MEMO_KEY: usize = 32;
/// Slots of the per-thread memo (a direct-mapped cache: bounded, never cleared).
const MEMO_SLOTS: usize = 1 << MEMO_BITS;
const MEMO_BITS: u32 = 14;

/// A remembered [`TokenScore`]: a token of at most [`MEMO_KEY`] bytes has at most 32
/// letters of cost at most 254 and 16 words of bonus 16, so `u16` holds its sums exactly.
#[derive(Clone)]
struct Slot {
    /// Key length; 0 marks an empty slot (tokens are never empty).
    len: u8,
    key: [u8; MEMO_KEY],
    skip: bool,
    alphabetic: bool,
    caps: bool,
    letters: u8,
    scores: [u16; LANES],
    bonus: [u16; LANES],
}

struct Memo {
    slots: Vec<Slot>,
}

impl Memo {
    fn new() -> Memo {
        let empty = Slot {
            len: 0,
            key: [0; MEMO_KEY],
            skip: false,
            alphabetic: false,
            caps: false,
            letters: 0,
            scores: [0; LANES],
            bonus: [0; LANES],
        };
        Memo { slots: vec![empty; MEMO_SLOTS] }
    }

    /// Calls `add` with the score of `tok`, remembered or computed (and then remembered).
    fn score(&mut self, p: &Profiles, tok: &str, add: &mut impl FnMut(&TokenScore)) {
        let bytes = tok.as_bytes();
        let (Ok(len), true) = (u8::try_from(bytes.len()), bytes.len() <= MEMO_KEY) else {
            return add(&TokenScore::new(p, tok));
        };
        let mut key = [0u8; MEMO_KEY];
        if let Some(k) = key.get_mut(..bytes.len()) {
            k.copy_from_slice(bytes);
        }
        let mut h = u64::from(len);
        for chunk in key.chunks_exact(8) {
            let word = u64::from_le_bytes(chunk.try_into().unwrap_or([0; 8]));
            h = (h ^ word).wrapping_mul(0x9E37_79B9_7F4A_7C15).rotate_left(29);
        }
        let at = (h.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> (64 - MEMO_BITS)) as usize;
        let Some(slot) = self.slots.get_mut(at) else {
            return add(&TokenScore::new(p, tok));
        };
        if slot.len == len && slot.key == key {
            let widen = |v: [u16; LANES]| v.map(u32::from);
            return add(&TokenScore {
                skip: slot.skip,
                alphabetic: slot.alphabetic,
                caps: slot.caps,
                letters: u16::from(slot.letters),
                scores: widen(slot.scores),
                bonus: widen(slot.bonus),
            });
        }
        let t = TokenScore::new(p, tok);
        add(&t);
        let narrow = |v: [u32; LANES]| {
            let mut out = [0u16; LANES];
            for (o, v) in out.iter_mut().zip(v) {
                *o = u16::try_from(v).ok()?;
            }
            Some(out)
        };
        if let (Some(scores), Some(bonus), Ok(letters)) =
            (narrow(t.scores), narrow(t.bonus), u8::try_from(t.letters))
        {
            *slot = Slot {
                len,
                key,
                skip: t.skip,
                alphabetic: t.alphabetic,
                caps: t.caps,
                letters,
                scores,
                bonus,
            };
        }
    }
}

thread_local! {
    static MEMO: std::cell::RefCell<Memo> = std::cell::RefCell::new(Memo::new());
}

/// ISO 639-1 code of the text's language, `None` when there is too little text to tell.
pub fn detect_language(text: &str) -> Option<&'static str> {
    MEMO.with(|memo| match memo.try_borrow_mut() {
        Ok(mut memo) => detect(text, Some(&mut memo)),
        Err(_) => detect(text, None),
    })
}

/// [`detect_language`], with token scores remembered in `memo` when given.
fn detect(text: &str, mut memo: Option<&mut Memo>) -> Option<&'static str> {
    let p = profiles()?;
    let text = &text[..crate::floor_char_boundary(text, MAX_LANG_BYTES)];
    let n = p.codes.len();
    let mut scores = [0u32; LANES];
    let mut caps_scores = [0u32; LANES];
    let (mut letters, mut caps_letters, mut words) = (0usize, 0usize, 0usize);
    let mut bonus = [0u32; LANES];
    let mut add = |t: &TokenScore| {
        if t.skip {
            return;
        }
        words += usize::from(t.alphabetic);
        for (b, t) in bonus.iter_mut().zip(t.bonus) {
            *b += t;
        }
        let (sum, count) = if t.caps {
            (&mut caps_scores, &mut caps_letters)
        } else {
            (&mut scores, &mut letters)
        };
        *count += usize::from(t.letters);
        for (s, t) in sum.iter_mut().zip(t.scores) {
            *s += t;
        }
    };
    for tok in text.split_whitespace() {
        // codes, amounts and numbers: skipped, and never worth remembering
        if tok.bytes().any(|b| b.is_ascii_digit()) {
            continue;
        }
        match memo.as_deref_mut() {
            Some(memo) => memo.score(p, tok, &mut add),
            None => add(&TokenScore::new(p, tok)),
        }
    }
    // acronyms count only when the rest is too short to decide (or the text is all caps)
    if letters < MIN_CAPS_IGNORED {
        for (s, c) in scores.iter_mut().zip(caps_scores.iter()) {
            *s += c;
        }
        letters += caps_letters;
    }
    if letters < MIN_LETTERS || (words == 1 && letters < MIN_LONE_WORD) {
        return None;
    }
    for (s, b) in scores.iter_mut().zip(bonus) {
        *s = s.saturating_sub(b);
    }
    let best = scores.iter().take(n).enumerate().min_by_key(|&(i, s)| (*s, i)).map(|(i, _)| i)?;
    p.codes.get(best).copied()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(text: &str, expect: Option<&str>) {
        assert_eq!(detect_language(text), expect, "detect_language({text:?})");
    }

    #[test]
    fn profiles_load() {
        let p = profiles().expect("profiles parse");
        assert_eq!(p.codes.len(), 13);
        assert!(p.slots.iter().filter(|s| s.0 != 0).count() > 10_000);
    }

    #[test]
    fn too_little_text() {
        for t in [
            "",
            "ok",
            "t",
            "1",
            "Hi",
            "123 456",
            "https://example.com/abc",
            "!!!",
            "STOP",
            "Test",
            "TEST 1",
        ] {
            check(t, None);
        }
    }

    #[test]
    fn the_memo_changes_nothing() {
        let mut memo = Memo::new();
        let texts = include_str!("../tests/fixtures/lang.tsv");
        // twice: the second round reads the scores back from the memo
        for _ in 0..2 {
            for text in texts.lines().chain(["ÉÉÉ ÉTÉ été x", "AAAA aaaa Aaaa", "a b c d e f g"])
            {
                assert_eq!(detect(text, Some(&mut memo)), detect(text, None), "{text:?}");
            }
        }
    }

    #[test]
    fn fixtures() {
        let mut wrong = Vec::new();
        let mut total = 0;
        for line in include_str!("../tests/fixtures/lang.tsv").lines() {
            let Some((code, text)) = line.split_once('\t') else { continue };
            if code.starts_with('#') {
                continue;
            }
            total += 1;
            let got = detect_language(text);
            if got != Some(code) {
                wrong.push(format!("{code} -> {got:?}: {text}"));
            }
        }
        assert!(total >= 120, "fixture has {total} lines");
        // short texts are hard; allow at most 2 % errors, and show them
        assert!(
            wrong.len() * 50 <= total,
            "{} of {total} wrong:\n{}",
            wrong.len(),
            wrong.join("\n")
        );
    }
}
