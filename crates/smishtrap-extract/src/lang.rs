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
    // `windows` rather than `contains("://")`, which builds a substring searcher per call
    let scheme = tok.as_bytes().windows(3).any(|w| w == b"://");
    if scheme || tok.contains('@') || tok.bytes().any(|b| b.is_ascii_digit()) {
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

/// Longest token remembered, in bytes; longer ones (about 0.1 % of tokens) are scored every
/// time.
const MEMO_KEY: usize = 24;
/// [`MEMO_KEY`] bytes as little-endian words, zero-padded.
const KEY_WORDS: usize = MEMO_KEY / 8;
/// Slots of the per-thread memo (a direct-mapped cache: bounded, never cleared): 2 MiB.
/// Twice the slots of 1 MiB cut the misses on a 200k-message stream by about 40 %, and a
/// miss (scoring the token) costs far more than the larger table's look-ups.
const MEMO_SLOTS: usize = 1 << MEMO_BITS;
const MEMO_BITS: u32 = 15;

/// A remembered [`TokenScore`] in one cache line: the memo is larger than the
/// core's cache, so the line a look-up touches is usually fetched from memory; one line
/// instead of two halves that cost. A token of at most [`MEMO_KEY`] bytes has at most 24
/// letters of cost at most 254, so `u16` holds its sums exactly. Its bonus is kept as the
/// set of languages one function word hints at; a token whose bonus is not of that form
/// (two listed words, as in `l'un`) is not remembered.
#[derive(Clone, Copy)]
#[repr(C, align(64))]
struct Slot {
    key: [u64; KEY_WORDS],
    /// Key length; 0 marks an empty slot (tokens are never empty).
    len: u8,
    /// `SKIP`, `ALPHABETIC`, `CAPS`.
    flags: u8,
    letters: u8,
    /// Languages given [`WORD_BONUS`] (bit `i` for lane `i`).
    hints: u16,
    scores: [u16; LANES],
}

const SKIP: u8 = 1;
const ALPHABETIC: u8 = 2;
const CAPS: u8 = 4;

impl Slot {
    fn score(&self) -> TokenScore {
        TokenScore {
            skip: self.flags & SKIP != 0,
            alphabetic: self.flags & ALPHABETIC != 0,
            caps: self.flags & CAPS != 0,
            letters: u16::from(self.letters),
            scores: self.scores.map(u32::from),
            bonus: std::array::from_fn(|i| WORD_BONUS * u32::from((self.hints >> i) & 1)),
        }
    }

    /// The slot holding `t` under `key`, when it fits exactly.
    fn of(key: [u64; KEY_WORDS], len: u8, t: &TokenScore) -> Option<Slot> {
        let mut scores = [0u16; LANES];
        for (o, &v) in scores.iter_mut().zip(&t.scores) {
            *o = u16::try_from(v).ok()?;
        }
        let mut hints = 0u16;
        for (i, &b) in t.bonus.iter().enumerate() {
            match b {
                0 => {}
                WORD_BONUS => hints |= 1 << i,
                _ => return None,
            }
        }
        let flags = if t.skip { SKIP } else { 0 }
            | if t.alphabetic { ALPHABETIC } else { 0 }
            | if t.caps { CAPS } else { 0 };
        Some(Slot { key, len, flags, letters: u8::try_from(t.letters).ok()?, hints, scores })
    }
}

struct Memo {
    slots: Vec<Slot>,
    /// What [`Memo::warm`] read (meaningless; keeps its loads).
    warmed: u8,
}

impl Memo {
    fn new() -> Memo {
        let empty = Slot {
            key: [0; KEY_WORDS],
            len: 0,
            flags: 0,
            letters: 0,
            hints: 0,
            scores: [0; LANES],
        };
        Memo { slots: vec![empty; MEMO_SLOTS], warmed: 0 }
    }

    /// Where `tok` is remembered: its slot index and key, `None` for a token too long to be.
    fn place(tok: &str) -> Option<Place> {
        let bytes = tok.as_bytes();
        let (Ok(len), true) = (u8::try_from(bytes.len()), bytes.len() <= MEMO_KEY) else {
            return None;
        };
        // the key as words, built byte by byte: a copy into a byte array read back as
        // words stalled on store forwarding
        let mut key = [0u64; KEY_WORDS];
        for (word, chunk) in key.iter_mut().zip(bytes.chunks(8)) {
            for (i, &b) in chunk.iter().enumerate() {
                *word |= u64::from(b) << (8 * i);
            }
        }
        let mut h = u64::from(len);
        for word in key {
            h = (h ^ word).wrapping_mul(0x9E37_79B9_7F4A_7C15).rotate_left(29);
        }
        let at = (h.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> (64 - MEMO_BITS)) as usize;
        Some(Place { at, len, key })
    }

    /// Reads the slots of a batch of tokens before any is scored. The memo is larger than
    /// the core's cache, so each look-up waits for memory; these loads do not depend on
    /// each other and overlap, where the look-ups between token scans ran one after the
    /// other. Only a timing matter: the results are the same without it.
    fn warm<'p>(&mut self, places: impl Iterator<Item = &'p Place>) {
        let mut seen = 0u8;
        for place in places {
            seen ^= self.slots.get(place.at).map_or(0, |s| s.len);
        }
        // kept, so that the loads are not optimised away
        self.warmed = self.warmed.wrapping_add(seen);
    }

    /// Calls `add` with the score of `tok`, remembered or computed (and then remembered);
    /// `place` is [`Memo::place`] of `tok`.
    fn score(
        &mut self,
        p: &Profiles,
        tok: &str,
        place: Option<&Place>,
        add: &mut impl FnMut(&TokenScore),
    ) {
        let Some((place, slot)) = place.and_then(|pl| Some((pl, self.slots.get_mut(pl.at)?)))
        else {
            return add(&TokenScore::new(p, tok));
        };
        if slot.len == place.len && slot.key == place.key {
            return add(&slot.score());
        }
        let t = TokenScore::new(p, tok);
        add(&t);
        if let Some(new) = Slot::of(place.key, place.len, &t) {
            *slot = new;
        }
    }
}

/// A token's slot in the memo and its key there.
#[derive(Clone, Copy)]
struct Place {
    at: usize,
    len: u8,
    key: [u64; KEY_WORDS],
}

/// Tokens whose memo slots are read together (see [`Memo::warm`]).
const BATCH: usize = 32;

thread_local! {
    static MEMO: std::cell::RefCell<Memo> = std::cell::RefCell::new(Memo::new());
}

/// The tokens of [`str::split_whitespace`], each with whether it has an ASCII digit, found
/// in one pass that decodes only non-ASCII chars (most SMS bytes are ASCII).
struct Tokens<'a> {
    text: &'a str,
    /// A char boundary of `text`: bytes before it are done.
    at: usize,
}

/// Byte classes for [`Tokens`]: what `char::is_whitespace` says of ASCII, digits, and the
/// lead bytes of the non-ASCII whitespace chars (U+0085, U+00A0, U+1680, U+2000..U+205F,
/// U+3000), the only bytes where a char is decoded.
const WORD: u8 = 0;
const DIGIT: u8 = 1;
const SPACE: u8 = 2;
const MAYBE_SPACE: u8 = 3;
static CLASS: [u8; 256] = {
    let mut t = [WORD; 256];
    let mut b = b'0';
    while b <= b'9' {
        t[b as usize] = DIGIT;
        b += 1;
    }
    t[b' ' as usize] = SPACE;
    let mut b = 0x09;
    while b <= 0x0d {
        t[b] = SPACE;
        b += 1;
    }
    t[0xC2] = MAYBE_SPACE;
    t[0xE1] = MAYBE_SPACE;
    t[0xE2] = MAYBE_SPACE;
    t[0xE3] = MAYBE_SPACE;
    t
};

impl Tokens<'_> {
    /// Whether a whitespace char starts at `at` (a char boundary), and its byte length.
    fn space_at(&self, at: usize, class: u8) -> usize {
        match class {
            SPACE => 1,
            MAYBE_SPACE => match self.text.get(at..).and_then(|r| r.chars().next()) {
                Some(c) if c.is_whitespace() => c.len_utf8(),
                _ => 0,
            },
            _ => 0,
        }
    }
}

impl<'a> Iterator for Tokens<'a> {
    type Item = (&'a str, bool);

    fn next(&mut self) -> Option<(&'a str, bool)> {
        let bytes = self.text.as_bytes();
        let mut at = self.at;
        while let Some(&b) = bytes.get(at) {
            match self.space_at(at, CLASS[usize::from(b)]) {
                0 => break,
                n => at += n,
            }
        }
        let start = at;
        let mut digits = false;
        // continuation bytes are WORD: only lead bytes (char boundaries) are decoded
        while let Some(&b) = bytes.get(at) {
            let class = CLASS[usize::from(b)];
            if class >= SPACE && self.space_at(at, class) > 0 {
                break;
            }
            digits |= class == DIGIT;
            at += 1;
        }
        self.at = at;
        if start == at {
            return None;
        }
        Some((self.text.get(start..at)?, digits))
    }
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
    let mut tokens = Tokens { text, at: 0 };
    let mut batch: [(&str, Option<Place>); BATCH] = [("", None); BATCH];
    loop {
        let mut n = 0;
        while let Some(entry) = batch.get_mut(n) {
            let Some((tok, digits)) = tokens.next() else { break };
            // codes, amounts and numbers: skipped, and never worth remembering
            if digits {
                continue;
            }
            *entry = (tok, if memo.is_some() { Memo::place(tok) } else { None });
            n += 1;
        }
        let Some(batch) = batch.get(..n).filter(|b| !b.is_empty()) else { break };
        match memo.as_deref_mut() {
            Some(memo) => {
                memo.warm(batch.iter().filter_map(|b| b.1.as_ref()));
                for (tok, place) in batch {
                    memo.score(p, tok, place.as_ref(), &mut add);
                }
            }
            None => batch.iter().for_each(|(tok, _)| add(&TokenScore::new(p, tok))),
        }
        if n < BATCH {
            break;
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
    fn a_slot_is_one_cache_line() {
        assert_eq!(std::mem::size_of::<Slot>(), 64);
    }

    /// Words, function words of several languages, caps, digits, links, long tokens and
    /// every kind of whitespace.
    fn sms_words() -> impl Strategy<Value = String> {
        let piece = prop_oneof![
            prop::sample::select(vec![
                " ",
                "  ",
                "\t",
                "\n",
                "\r\n",
                "\x0b",
                "\x0c",
                "\u{85}",
                "\u{A0}",
                "\u{2003}",
                "\u{3000}",
                "\u{1680}",
                "\u{2028}",
                "\u{205F}",
                "\u{202F}",
                "\u{2060}",
                "\u{200B}",
                "\u{1C}",
                "de",
                "la",
                "het",
                "the",
                "und",
                "och",
                "jest",
                "l'",
                "d'un",
                "l'un",
                "de-la",
                "het/de",
                "SMS",
                "STOP",
                "CSAM",
                "Été",
                "été",
                "ÉTÉ",
                "Ihr",
                "Paket",
                "wurde",
                "zugestellt",
                "votre",
                "colis",
                "uw",
                "pakket",
                "your",
                "parcel",
                "paczka",
                "została",
                "päivitä",
                "tietosi",
                "Σ",
                "σας",
                "ß",
                "İ",
                "www.",
                "://",
                "@",
                ".",
                ",",
                "!",
                "/",
                "-",
                "1",
                "42",
                "€",
                "x",
                "é",
                "abcdefghijklmnopqrstuvwxyz",
                "Straßenverkehrsamtsgebühr",
            ])
            .prop_map(str::to_owned),
            "[a-zA-Zåäöéèüß]{1,12}",
            ".{0,3}",
        ];
        prop::collection::vec(piece, 0..40).prop_map(|v| v.concat())
    }

    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2_000))]
        #[test]
        fn tokens_are_split_whitespace(text in prop_oneof![sms_words(), any::<String>()]) {
            let want: Vec<(&str, bool)> = text
                .split_whitespace()
                .map(|t| (t, t.bytes().any(|b| b.is_ascii_digit())))
                .collect();
            let got: Vec<(&str, bool)> = Tokens { text: &text, at: 0 }.collect();
            prop_assert_eq!(got, want);
        }

        #[test]
        fn the_memo_changes_nothing_on_any_text(texts in prop::collection::vec(sms_words(), 1..8)) {
            // twice: the second round reads the scores back from the memo
            let mut memo = Memo::new();
            for _ in 0..2 {
                for text in &texts {
                    prop_assert_eq!(detect(text, Some(&mut memo)), detect(text, None), "{:?}", text);
                }
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
