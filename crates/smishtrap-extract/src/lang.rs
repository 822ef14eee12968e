//! Language identification of short texts (ISO 639-1), fast enough for every message.
//!
//! Each letter is classified by script. A script that only one supported language writes
//! (Thai, Hangul, kana, Greek, Hebrew, Bengali, Tamil, ...) decides alone; Han without kana
//! is Chinese. Scripts that several languages share (Latin, Cyrillic, Arabic, Devanagari)
//! go through a character n-gram language model per language (trigram, backing off to
//! bigram and unigram), scored over the words of the text after links, e-mail addresses and
//! tokens with digits are dropped. The profiles are derived at build time from lingua's own
//! models (see `build.rs`): lingua itself (even in low-accuracy mode) costs far more per
//! message than the analysis budget, and it stays the reference this detector is tested
//! against.
//!
//! The answer is `None` rather than a guess when the text is too short, when the best
//! language is not clearly ahead of the next one, or when even the best language explains
//! the letters poorly (a language no profile covers, or romanised Hindi).
//!
//! Profile format (`$OUT_DIR/lang_profiles.bin`): `SLP2`, one byte = number of groups, then
//! per group: its script id, one byte `n` = number of languages, `n` two-letter codes, a
//! little-endian u32 entry count and the entries, each a little-endian u64 key (up to three
//! chars, 21 bits each, first char highest) followed by `n` bytes, each
//! `round(-ln P(char | context) * 8)` or 255 when the language has no estimate.

use std::collections::HashMap;
use std::sync::OnceLock;

/// Languages [`detect_language`] can report (`no` covers Bokmål and Nynorsk).
pub const SUPPORTED_LANGUAGES: &[&str] = &[
    // Latin script, by n-gram profile
    "nl", "fr", "sv", "it", "en", "es", "de", "pt", "da", "no", "fi", "pl", "id", "ms", "vi", "tl",
    "tr", "ro", "cs", "hu", "hr", "sk", "sl", "lt", "lv", "et", "sw", "af", "ca", "sq",
    // Cyrillic, Arabic and Devanagari scripts, by n-gram profile
    "ru", "uk", "bg", "sr", "mk", "kk", "be", "mn", "ar", "fa", "ur", "hi", "mr",
    // by script alone
    "th", "ko", "ja", "zh", "el", "he", "bn", "ta", "te", "gu", "pa", "ka", "hy",
];

static PROFILES: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/lang_profiles.bin"));
static WORDS: &str = include_str!("../data/lang_words.txt");
static LIMITS: &str = include_str!("../data/lang_limits.txt");

/// Cost removed per listed function word (2 nats, in quantised units).
const WORD_BONUS: u16 = 16;
/// Longest word looked up in the function-word list, in bytes.
const MAX_HINT_WORD: usize = 16;

/// Only this much of a text is read.
const MAX_LANG_BYTES: usize = 1024;
/// Fewer letters than this (in the deciding script): too little text to tell.
const MIN_LETTERS: u32 = 3;
/// Han, kana and Hangul chars carry about a word each: two are enough to tell.
const MIN_IDEOGRAPHS: u32 = 2;
/// With at least this many letters outside all-caps tokens, those tokens are ignored.
const MIN_CAPS_IGNORED: u32 = 12;
/// A lone word shorter than this (`STOP`, `test`, `ok`) exists in too many languages.
const MIN_LONE_WORD: u32 = 5;
/// Least lead, in quantised units (1/8 nat), of the best language over the best one with
/// another code: a likelihood ratio of about 2 (0.75 nat); more loses more right answers
/// on short texts than it saves wrong ones (see the `calibrate` test).
const MIN_MARGIN: u32 = 6;
/// How much more than its median cost per letter (`data/lang_limits.txt`, tenths of a
/// quantised unit) the best language may cost before the text counts as written in no
/// modelled language: 0.75 nat a letter. In-language text stays under it 98 % of the time;
/// text in a language we do not model (Basque, Welsh, Esperanto) mostly exceeds it. Short
/// texts pay word-start letters more often, so they are allowed [`UNKNOWN_SHORT_SLACK`]
/// more below [`UNKNOWN_SHORT_LETTERS`] letters.
const UNKNOWN_SLACK: u32 = 60;
const UNKNOWN_SHORT_SLACK: u32 = 40;
const UNKNOWN_SHORT_LETTERS: u32 = 25;
/// Median assumed for a language missing from `data/lang_limits.txt`.
const DEFAULT_MEDIAN: u32 = 200;
const MISSING: u8 = 255;
/// Cost, in quantised units, of a char a language has never seen (about e^-25).
const FLOOR: u8 = 200;
/// Cost of a letter of the script that no language of its group has an estimate for
/// (`ħ` in Latin script): the same for every language, it only marks the text as foreign.
const UNSEEN: u16 = 80;
/// Cost, in quantised units, a language pays (or, negative, is spared) once per text, for
/// how often it is met in SMS. Malay and Indonesian share most of their words, and
/// Indonesian is by far the more frequent, so a text between the two is Indonesian unless
/// Malay leads clearly (6 nats). English is the language of short acknowledgements, names
/// and brands in every country: two short words that fit it about as well as another
/// language are English (2 nats, nothing on a sentence).
const PRIORS: &[(&str, i32)] = &[("ms", 48), ("en", -16)];
/// Languages a group can hold (Latin uses 31); rows are padded so the add vectorises.
const LANES: usize = 32;
/// The n-gram groups: scripts 1 to 4.
const GROUPS: usize = 4;

/// Scripts: `NONE` for non-letters; 1 to 4 are the n-gram groups (numbered as in
/// `build.rs`); the rest decide alone, but `OTHER` (a script no supported language writes).
const NONE: u8 = 0;
const LATIN: u8 = 1;
const CYRILLIC: u8 = 2;
const ARABIC: u8 = 3;
const DEVANAGARI: u8 = 4;
const GREEK: u8 = 5;
const HEBREW: u8 = 6;
const THAI: u8 = 7;
const HANGUL: u8 = 8;
const KANA: u8 = 9;
const HAN: u8 = 10;
const BENGALI: u8 = 11;
const TAMIL: u8 = 12;
const TELUGU: u8 = 13;
const GUJARATI: u8 = 14;
const GURMUKHI: u8 = 15;
const GEORGIAN: u8 = 16;
const ARMENIAN: u8 = 17;
const OTHER: u8 = 18;
const SCRIPTS: usize = 19;

/// The language of a script only it writes (`HAN` is Chinese unless kana come with it).
fn script_language(script: u8) -> Option<&'static str> {
    Some(match script {
        GREEK => "el",
        HEBREW => "he",
        THAI => "th",
        HANGUL => "ko",
        KANA => "ja",
        HAN => "zh",
        BENGALI => "bn",
        TAMIL => "ta",
        TELUGU => "te",
        GUJARATI => "gu",
        GURMUKHI => "pa",
        GEORGIAN => "ka",
        ARMENIAN => "hy",
        _ => return None,
    })
}

/// Scripts written without spaces between words: a token is a phrase, not a word.
fn unspaced(script: u8) -> bool {
    matches!(script, THAI | HAN | KANA)
}

/// How much a letter of a script weighs when scripts compete. A text mostly in one script
/// with a few Latin words (a brand, `OTP`) is in that script's language: Thai and Indic
/// letters weigh three, Han, kana and Hangul (a syllable or a word each) four. Cyrillic and
/// Greek weigh as Latin: their letters also serve as look-alikes inside Latin words.
fn weight(script: u8) -> u32 {
    match script {
        LATIN | CYRILLIC | GREEK => 1,
        HAN | KANA | HANGUL => 4,
        _ => 3,
    }
}

/// The script of a letter (or combining sign) `c`, `NONE` for anything else.
fn script_of(c: char) -> u8 {
    let u = u32::from(c);
    if u < 0x80 {
        return if c.is_ascii_alphabetic() { LATIN } else { NONE };
    }
    let alpha = |s: u8| if c.is_alphabetic() { s } else { NONE };
    match u {
        0xD7 | 0xF7 => NONE,
        0xC0..=0x24F | 0x1E00..=0x1EFF => LATIN,
        0x370..=0x3FF | 0x1F00..=0x1FFF => alpha(GREEK),
        0x400..=0x52F => alpha(CYRILLIC),
        0x531..=0x58F => alpha(ARMENIAN),
        0x591..=0x5C7 if !matches!(u, 0x5BE | 0x5C0 | 0x5C3 | 0x5C6) => HEBREW,
        0x5D0..=0x5F2 => HEBREW,
        0x660..=0x669 | 0x6F0..=0x6F9 | 0x60C | 0x61B | 0x61F | 0x66A..=0x66D | 0x6D4 => NONE,
        0x600..=0x6FF | 0x750..=0x77F | 0x8A0..=0x8FF => ARABIC,
        0x964..=0x96F => NONE,
        0x900..=0x97F => DEVANAGARI,
        0x9E6..=0x9EF | 0x9F2..=0x9FB => NONE,
        0x980..=0x9FF => BENGALI,
        0xA66..=0xA6F => NONE,
        0xA00..=0xA7F => GURMUKHI,
        0xAE6..=0xAF1 => NONE,
        0xA80..=0xAFF => GUJARATI,
        0xBE6..=0xBFA => NONE,
        0xB80..=0xBFF => TAMIL,
        0xC66..=0xC7F => NONE,
        0xC00..=0xC7F => TELUGU,
        0xE01..=0xE3A | 0xE40..=0xE4E => THAI,
        0x10A0..=0x10FF | 0x1C90..=0x1CBF => alpha(GEORGIAN),
        0x1100..=0x11FF | 0x3130..=0x318F | 0xA960..=0xA97F | 0xAC00..=0xD7FF => HANGUL,
        0x3041..=0x309F | 0x30A1..=0x30FA | 0x30FC..=0x30FF | 0x31F0..=0x31FF => KANA,
        0xFF66..=0xFF9F => KANA,
        0x3005 | 0x3007 | 0x3400..=0x4DBF | 0x4E00..=0x9FFF | 0xF900..=0xFAFF => HAN,
        0x20000..=0x3134F => HAN,
        _ => alpha(OTHER),
    }
}

/// `c` in lower case, as one char.
fn lowercase(c: char) -> char {
    if c.is_ascii() { c.to_ascii_lowercase() } else { c.to_lowercase().next().unwrap_or(c) }
}

/// One n-gram group: the languages sharing a script, and their costs per n-gram.
struct Group {
    /// Codes as reported (`nb` and `nn` both as `no`), by lane.
    codes: Vec<&'static str>,
    /// Open-addressing table of (key, costs per language); key 0 = empty slot. Costs are
    /// inline so a lookup touches one cache line; a missing estimate is stored as `FLOOR`.
    slots: Vec<(u64, [u8; LANES])>,
    mask: usize,
    /// Median cost per letter of each language on its own text, by lane (see
    /// [`UNKNOWN_SLACK`]).
    medians: Vec<u32>,
    /// [`PRIORS`], by lane.
    priors: Vec<i32>,
    /// By lane, the first lane reported under the same code (Bokmål's for Nynorsk): lanes
    /// compare by number, not by string, on every message.
    kin: [u8; LANES],
}

struct Profiles {
    /// By script id minus one (`LATIN` first); a group absent from the profile is empty.
    groups: [Group; GROUPS],
    /// Function word -> (its script, bit set of that group's languages it hints at).
    words: HashMap<&'static str, (u8, u32), BuildFnv>,
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

/// The code a model language is reported as, from the fixed list (so it is `'static`).
fn reported(code: &[u8]) -> Option<&'static str> {
    if code == b"nb" || code == b"nn" {
        return Some("no");
    }
    SUPPORTED_LANGUAGES.iter().copied().find(|c| c.as_bytes() == code)
}

impl Group {
    fn empty() -> Group {
        Group {
            codes: Vec::new(),
            slots: vec![(0, [0; LANES])],
            mask: 0,
            medians: Vec::new(),
            priors: Vec::new(),
            kin: [0; LANES],
        }
    }

    /// Parses one group from `bytes`; returns it, its script, its model codes and the rest.
    fn parse(bytes: &'static [u8]) -> Option<(Group, u8, &'static [u8], &'static [u8])> {
        let (&script, rest) = bytes.split_first()?;
        let (&n, rest) = rest.split_first()?;
        let n = usize::from(n);
        if n > LANES || !(1..=GROUPS).contains(&usize::from(script)) {
            return None;
        }
        let model_codes = rest.get(..2 * n)?;
        let codes = model_codes.chunks(2).map(reported).collect::<Option<Vec<_>>>()?;
        let count = u32::from_le_bytes(rest.get(2 * n..2 * n + 4)?.try_into().ok()?) as usize;
        let stride = 8 + n;
        let entries = rest.get(2 * n + 4..2 * n + 4 + count.checked_mul(stride)?)?;
        let rest = rest.get(2 * n + 4 + count * stride..)?;
        let cap = (count * 2).next_power_of_two().max(16);
        let mut slots = vec![(0u64, [0u8; LANES]); cap];
        for e in entries.chunks_exact(stride) {
            let key = u64::from_le_bytes(e.get(..8)?.try_into().ok()?);
            let mut row = [FLOOR; LANES];
            for (r, &v) in row.iter_mut().zip(e.get(8..)?) {
                *r = if v == MISSING { FLOOR } else { v };
            }
            let mut at = hash(key) as usize & (cap - 1);
            while slots.get(at)?.0 != 0 {
                at = (at + 1) & (cap - 1);
            }
            *slots.get_mut(at)? = (key, row);
        }
        let medians = vec![DEFAULT_MEDIAN; n];
        let priors = codes
            .iter()
            .map(|code| PRIORS.iter().find(|(c, _)| c == code).map_or(0, |(_, p)| *p))
            .collect();
        let mut kin = [0u8; LANES];
        for (i, k) in kin.iter_mut().enumerate().take(n) {
            let first = codes.iter().position(|c| Some(c) == codes.get(i)).unwrap_or(i);
            *k = u8::try_from(first).ok()?;
        }
        let group = Group { codes, slots, mask: cap - 1, medians, priors, kin };
        Some((group, script, model_codes, rest))
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

impl Profiles {
    fn parse(bytes: &'static [u8]) -> Option<Profiles> {
        let rest = bytes.strip_prefix(b"SLP2")?;
        let (&n, mut rest) = rest.split_first()?;
        let mut groups: [Group; GROUPS] = std::array::from_fn(|_| Group::empty());
        let mut model_codes: [&[u8]; GROUPS] = [&[]; GROUPS];
        for _ in 0..n {
            let (group, script, codes, next) = Group::parse(rest)?;
            let i = usize::from(script) - 1;
            *groups.get_mut(i)? = group;
            *model_codes.get_mut(i)? = codes;
            rest = next;
        }
        let mut words: HashMap<&'static str, (u8, u32), BuildFnv> = HashMap::default();
        for line in WORDS.lines().filter(|l| !l.starts_with('#')) {
            let Some((code, list)) = line.split_once(':') else { continue };
            let found = model_codes.iter().enumerate().find_map(|(g, codes)| {
                let lane = codes.chunks(2).position(|c| c == code.trim().as_bytes())?;
                Some((g, lane))
            });
            let Some((g, lane)) = found else { continue };
            let script = u8::try_from(g + 1).ok()?;
            for w in list.split_whitespace() {
                let entry = words.entry(w).or_insert((script, 0));
                // a word written the same in two scripts cannot happen; keep the first
                if entry.0 == script {
                    entry.1 |= 1 << lane;
                }
            }
        }
        for line in LIMITS.lines().filter(|l| !l.starts_with('#')) {
            let Some((code, median)) = line.split_once(' ') else { continue };
            let Ok(median) = median.trim().parse::<u32>() else { continue };
            for (g, codes) in groups.iter_mut().zip(&model_codes) {
                if let Some(lane) = codes.chunks(2).position(|c| c == code.as_bytes())
                    && let Some(m) = g.medians.get_mut(lane)
                {
                    *m = median;
                }
            }
        }
        let longest_word = words.keys().map(|w| w.len()).max().unwrap_or(0).min(MAX_HINT_WORD);
        Some(Profiles { groups, words, longest_word })
    }

    /// The n-gram group of `script`, when it has one.
    fn group(&self, script: u8) -> Option<&Group> {
        self.groups.get(usize::from(script).checked_sub(1)?)
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

/// Adds the function-word bonus of each word of `tok` (split at non-letters) written in
/// `script` to `bonus`.
fn word_hints(p: &Profiles, tok: &str, script: u8, bonus: &mut [u16; LANES]) {
    for word in tok
        .split(|c: char| script_of(c) == NONE)
        .filter(|w| !w.is_empty() && w.len() <= p.longest_word)
    {
        if w_is_lower_ascii(word) {
            add_hint(p, word, script, bonus);
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
        add_hint(p, lower, script, bonus);
    }
}

fn w_is_lower_ascii(w: &str) -> bool {
    w.bytes().all(|b| b.is_ascii_lowercase())
}

fn add_hint(p: &Profiles, lower: &str, script: u8, bonus: &mut [u16; LANES]) {
    if let Some(&(word_script, mask)) = p.words.get(lower)
        && word_script == script
    {
        for (i, b) in bonus.iter_mut().enumerate() {
            if mask & (1 << i) != 0 {
                *b = b.saturating_add(WORD_BONUS);
            }
        }
    }
}

/// Adds the n-gram costs of the letters of `tok` written in `script` to `costs`.
///
/// Each letter costs `-ln P(letter | up to two letters before)` per language, from the
/// longest context the table has. Backing off costs every language the same, so it does
/// not change the ranking and is not added. Letters of other scripts break the context.
/// Sums saturate: a token long enough to reach `u16::MAX` in every language says nothing.
fn score_token(g: &Group, tok: &str, script: u8, costs: &mut [u16; LANES]) -> u32 {
    let mut letters = 0;
    let (mut a, mut b) = ('\0', '\0');
    for ch in tok.chars() {
        if script_of(ch) != script || (!ch.is_ascii() && is_mark(ch)) {
            (a, b) = ('\0', '\0');
            continue;
        }
        letters += 1;
        let c = lowercase(ch);
        let uni = u64::from(c);
        let bi = (u64::from(b) << 21) | uni;
        let tri = (u64::from(a) << 42) | bi;
        let row = (a != '\0')
            .then(|| g.get(tri))
            .flatten()
            .or_else(|| (b != '\0').then(|| g.get(bi)).flatten())
            .or_else(|| g.get(uni));
        match row {
            Some(row) => {
                for (s, &v) in costs.iter_mut().zip(row) {
                    *s = s.saturating_add(u16::from(v));
                }
            }
            None => costs.iter_mut().for_each(|s| *s = s.saturating_add(UNSEEN)),
        }
        (a, b) = (b, c);
    }
    letters
}

/// Vowel signs, viramas and vowel points of the n-gram scripts: lingua's models are made
/// of letters only, so a sign ends an n-gram, as it did when lingua counted them.
fn is_mark(c: char) -> bool {
    matches!(
        u32::from(c),
        0x483..=0x489
            | 0x610..=0x61A
            | 0x64B..=0x65F
            | 0x670
            | 0x6D6..=0x6DC
            | 0x6DF..=0x6E4
            | 0x6E7..=0x6E8
            | 0x6EA..=0x6ED
            | 0x8D3..=0x8FF
            | 0x900..=0x903
            | 0x93A..=0x93C
            | 0x93E..=0x94F
            | 0x951..=0x957
            | 0x962..=0x963
    )
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

/// What one whitespace-separated token adds to a text's tally: a pure function of the
/// token, so it is remembered per thread (texts repeat their words, templates repeat
/// whole texts) and added back by [`detect_language`] exactly as computed.
///
/// A token counts for one script, the one most of its letters are written in. In an
/// n-gram script its cost for language `i` is `base + off[i]`: `base` is the cheapest
/// language's, and a language more than 255 units (32 nats) behind on one token is held
/// there, so one foreign word (a brand, a name) cannot outweigh the rest of the text.
#[derive(Debug, Clone)]
struct TokenScore {
    skip: bool,
    caps: bool,
    /// The script the token counts for; `NONE` when it has no letter.
    script: u8,
    /// Letters of that script.
    letters: u16,
    base: u32,
    off: [u8; LANES],
}

impl TokenScore {
    const SKIPPED: TokenScore =
        TokenScore { skip: true, caps: false, script: NONE, letters: 0, base: 0, off: [0; LANES] };

    fn new(p: &Profiles, tok: &str) -> TokenScore {
        if skip_token(tok) {
            return TokenScore::SKIPPED;
        }
        let (script, letters) = main_script(tok);
        let mut t = TokenScore {
            skip: false,
            caps: false,
            script,
            letters: u16::try_from(letters).unwrap_or(u16::MAX),
            base: 0,
            off: [0; LANES],
        };
        let Some(g) = p.group(script) else { return t };
        t.caps = is_caps_token(tok);
        let mut costs = [0u16; LANES];
        let scored = score_token(g, tok, script, &mut costs);
        t.letters = u16::try_from(scored).unwrap_or(u16::MAX);
        let mut bonus = [0u16; LANES];
        word_hints(p, tok, script, &mut bonus);
        let n = g.codes.len();
        let net = |i: usize| i32::from(costs[i]) - i32::from(bonus[i]);
        let min = (0..n).map(net).min().unwrap_or(0).max(0);
        t.base = u32::try_from(min).unwrap_or(0);
        for (i, o) in t.off.iter_mut().enumerate().take(n) {
            *o = u8::try_from((net(i) - min).clamp(0, 255)).unwrap_or(u8::MAX);
        }
        t
    }

    /// A token with digits (a code, an amount, `ฟรี7วัน`): in a script written without
    /// spaces its letters still count, elsewhere it is skipped.
    fn with_digits(tok: &str) -> TokenScore {
        if tok.is_ascii() {
            return TokenScore::SKIPPED;
        }
        let (script, letters) = main_script(tok);
        if p_group_script(script) || script == NONE {
            return TokenScore::SKIPPED;
        }
        TokenScore {
            skip: false,
            caps: false,
            script,
            letters: u16::try_from(letters).unwrap_or(u16::MAX),
            base: 0,
            off: [0; LANES],
        }
    }
}

/// Whether `script` is scored by an n-gram group.
fn p_group_script(script: u8) -> bool {
    (1..=GROUPS).contains(&usize::from(script))
}

/// The script that weighs most in `tok` (the first such on a tie), and its letters there.
fn main_script(tok: &str) -> (u8, u32) {
    if tok.is_ascii() {
        let n = tok.bytes().filter(u8::is_ascii_alphabetic).count() as u32;
        return if n > 0 { (LATIN, n) } else { (NONE, 0) };
    }
    let mut counts = [0u32; SCRIPTS];
    for c in tok.chars() {
        if let Some(n) = counts.get_mut(usize::from(script_of(c))) {
            *n += 1;
        }
    }
    // Latin letters mixed with Cyrillic or Greek ones in one word: look-alikes standing in
    // for Latin letters (`ассоunt`), not a Cyrillic or Greek word
    let count = |s: u8| counts[usize::from(s)];
    let (latin, cyrillic, greek) = (count(LATIN), count(CYRILLIC), count(GREEK));
    if latin > 0 && cyrillic + greek > 0 {
        return (LATIN, latin + cyrillic + greek);
    }
    // weighed as scripts are for the whole text: a run of Japanese with a Latin code in it
    // (`お知らせ【<ID_NUMBER>】`, one token without spaces) is Japanese
    let mut best = (NONE, 0, 0);
    for (s, &n) in counts.iter().enumerate().skip(1) {
        let script = u8::try_from(s).unwrap_or(NONE);
        if n * weight(script) > best.2 {
            best = (script, n, n * weight(script));
        }
    }
    (best.0, best.1)
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
/// letters of cost at most 254, so `u16` holds its base exactly; a token whose score does
/// not fit is not remembered.
#[derive(Clone, Copy)]
#[repr(C, align(64))]
struct Slot {
    key: [u64; KEY_WORDS],
    base: u16,
    /// Key length; 0 marks an empty slot (tokens are never empty).
    len: u8,
    /// `SKIP`, `CAPS`, and the script shifted left by [`SCRIPT_SHIFT`].
    flags: u8,
    letters: u8,
    off: [u8; LANES],
}

const SKIP: u8 = 1;
const CAPS: u8 = 2;
const SCRIPT_SHIFT: u32 = 2;

impl Slot {
    fn score(&self) -> TokenScore {
        TokenScore {
            skip: self.flags & SKIP != 0,
            caps: self.flags & CAPS != 0,
            script: self.flags >> SCRIPT_SHIFT,
            letters: u16::from(self.letters),
            base: u32::from(self.base),
            off: self.off,
        }
    }

    /// The slot holding `t` under `key`, when it fits exactly.
    fn of(key: [u64; KEY_WORDS], len: u8, t: &TokenScore) -> Option<Slot> {
        let flags = if t.skip { SKIP } else { 0 }
            | if t.caps { CAPS } else { 0 }
            | (t.script << SCRIPT_SHIFT);
        Some(Slot {
            key,
            base: u16::try_from(t.base).ok()?,
            len,
            flags,
            letters: u8::try_from(t.letters).ok()?,
            off: t.off,
        })
    }
}

struct Memo {
    slots: Vec<Slot>,
    /// What [`Memo::warm`] read (meaningless; keeps its loads).
    warmed: u8,
}

impl Memo {
    fn new() -> Memo {
        let empty =
            Slot { key: [0; KEY_WORDS], base: 0, len: 0, flags: 0, letters: 0, off: [0; LANES] };
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

/// ISO 639-1 code of the text's language; `None` when there is too little text to tell,
/// when two languages explain it about as well, or when no supported language does.
pub fn detect_language(text: &str) -> Option<&'static str> {
    MEMO.with(|memo| match memo.try_borrow_mut() {
        Ok(mut memo) => detect(text, Some(&mut memo)),
        Err(_) => detect(text, None),
    })
}

/// What the tokens of a text add up to, per script; all-caps tokens apart.
struct Tally {
    letters: [u32; SCRIPTS],
    caps_letters: [u32; SCRIPTS],
    /// Tokens with letters, by the script they count for.
    words: [u32; SCRIPTS],
    /// Bit set of the scripts tokens counted for.
    seen: u32,
    /// Cost per language of the tokens of each n-gram group: the sum of the tokens' bases
    /// plus, per language, the sum of its offsets (saturating: a language 65,535 units
    /// behind has lost anyway).
    base: [u32; GROUPS],
    off: [[u16; LANES]; GROUPS],
    caps_base: [u32; GROUPS],
    caps_off: [[u16; LANES]; GROUPS],
}

impl Tally {
    fn new() -> Tally {
        Tally {
            letters: [0; SCRIPTS],
            caps_letters: [0; SCRIPTS],
            words: [0; SCRIPTS],
            seen: 0,
            base: [0; GROUPS],
            off: [[0; LANES]; GROUPS],
            caps_base: [0; GROUPS],
            caps_off: [[0; LANES]; GROUPS],
        }
    }

    #[inline]
    fn add(&mut self, t: &TokenScore) {
        let s = usize::from(t.script);
        if t.skip || t.script == NONE || s >= SCRIPTS {
            return;
        }
        self.words[s] += 1;
        self.seen |= 1 << s;
        let (letters, base, off) = if t.caps {
            (&mut self.caps_letters, &mut self.caps_base, &mut self.caps_off)
        } else {
            (&mut self.letters, &mut self.base, &mut self.off)
        };
        letters[s] += u32::from(t.letters);
        let g = s.wrapping_sub(1);
        if let (Some(base), Some(sum)) = (base.get_mut(g), off.get_mut(g)) {
            *base = base.saturating_add(t.base);
            for (c, &o) in sum.iter_mut().zip(&t.off) {
                *c = c.saturating_add(u16::from(o));
            }
        }
    }

    /// The language the tally points to, if it points clearly to one.
    fn decide(&mut self, p: &Profiles) -> Option<&'static str> {
        match self.judge(p)? {
            Judgement::Script(code) => Some(code),
            Judgement::Scored { code, cost, runner_up, letters, median } => {
                let limit = median
                    + UNKNOWN_SLACK
                    + if letters < UNKNOWN_SHORT_LETTERS { UNKNOWN_SHORT_SLACK } else { 0 };
                let known = u64::from(cost) * 10 <= u64::from(limit) * u64::from(letters);
                let clear = runner_up.saturating_sub(cost) >= MIN_MARGIN;
                (known && clear).then_some(code)
            }
        }
    }

    /// The deciding script's language, or the best-scoring language of its group with the
    /// figures [`Tally::decide`] weighs; `None` when there is too little text.
    fn judge(&mut self, p: &Profiles) -> Option<Judgement> {
        // acronyms count only when the rest is too short to decide (or the text is all caps)
        if self.letters.iter().sum::<u32>() < MIN_CAPS_IGNORED {
            for (l, c) in self.letters.iter_mut().zip(self.caps_letters) {
                *l += c;
            }
            for (b, c) in self.base.iter_mut().zip(self.caps_base) {
                *b = b.saturating_add(c);
            }
            for (sum, caps) in self.off.iter_mut().zip(&self.caps_off) {
                for (s, c) in sum.iter_mut().zip(caps) {
                    *s = s.saturating_add(*c);
                }
            }
        }
        // kana make Han text Japanese; without them it is Chinese
        let (han, kana) = (self.letters[usize::from(HAN)], self.letters[usize::from(KANA)]);
        let japanese = kana > 0 && kana * 10 >= han + kana;
        self.letters[usize::from(if japanese { KANA } else { HAN })] = han + kana;
        self.letters[usize::from(if japanese { HAN } else { KANA })] = 0;

        let script = if self.seen == 1 << LATIN {
            LATIN
        } else {
            (1..SCRIPTS)
                .max_by_key(|&s| (self.letters[s] * weight(s as u8), std::cmp::Reverse(s)))
                .and_then(|s| u8::try_from(s).ok())?
        };
        let letters = self.letters[usize::from(script)];
        let words = self.words[usize::from(script)];
        let enough = match script {
            HAN | KANA | HANGUL => letters >= MIN_IDEOGRAPHS,
            s if unspaced(s) => letters >= MIN_LETTERS,
            _ => letters >= MIN_LETTERS && (words > 1 || letters >= MIN_LONE_WORD),
        };
        if !enough {
            return None;
        }
        let Some(g) = p.group(script) else {
            return script_language(script).map(Judgement::Script);
        };
        let group = usize::from(script) - 1;
        let (base, off) = (*self.base.get(group)?, self.off.get(group)?);
        let mut costs = [u32::MAX; LANES];
        for ((cost, &o), &prior) in costs.iter_mut().zip(off).zip(&g.priors) {
            *cost = base.saturating_add(u32::from(o)).saturating_add_signed(prior);
        }
        let n = g.codes.len();
        let mut best = 0;
        for (i, &c) in costs.iter().enumerate().take(n) {
            if c < costs[best] {
                best = i;
            }
        }
        let (cost, code, kin) = (costs[best], *g.codes.get(best)?, g.kin[best]);
        let mut runner_up = u32::MAX;
        for (&c, &k) in costs.iter().zip(&g.kin).take(n) {
            if k != kin {
                runner_up = runner_up.min(c);
            }
        }
        let median = g.medians.get(best).copied().unwrap_or(DEFAULT_MEDIAN);
        Some(Judgement::Scored { code, cost, runner_up, letters, median })
    }
}

/// What a text's tally points to, before the thresholds of [`Tally::decide`].
#[derive(Debug, Clone, Copy)]
enum Judgement {
    /// A script only this language writes.
    Script(&'static str),
    /// The cheapest language of an n-gram group: its cost over the letters, and the cost of
    /// the cheapest language reported under another code.
    Scored { code: &'static str, cost: u32, runner_up: u32, letters: u32, median: u32 },
}

/// The tally of `text` (what [`detect`] decides from), without the memo.
#[cfg(test)]
fn tally(p: &Profiles, text: &str) -> Tally {
    let text = &text[..crate::floor_char_boundary(text, MAX_LANG_BYTES)];
    let mut tally = Tally::new();
    for (tok, digits) in (Tokens { text, at: 0 }) {
        tally.add(&if digits { TokenScore::with_digits(tok) } else { TokenScore::new(p, tok) });
    }
    tally
}

/// [`detect_language`], with token scores remembered in `memo` when given.
fn detect(text: &str, mut memo: Option<&mut Memo>) -> Option<&'static str> {
    let p = profiles()?;
    let text = &text[..crate::floor_char_boundary(text, MAX_LANG_BYTES)];
    let mut tally = Tally::new();
    let mut tokens = Tokens { text, at: 0 };
    let mut batch: [(&str, Option<Place>); BATCH] = [("", None); BATCH];
    loop {
        let mut n = 0;
        while let Some(entry) = batch.get_mut(n) {
            let Some((tok, digits)) = tokens.next() else { break };
            // codes, amounts and numbers: never worth remembering, and skipped unless
            // written in a script without spaces
            if digits {
                tally.add(&TokenScore::with_digits(tok));
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
                    memo.score(p, tok, place.as_ref(), &mut |t| tally.add(t));
                }
            }
            None => batch.iter().for_each(|(tok, _)| tally.add(&TokenScore::new(p, tok))),
        }
        if n < BATCH {
            break;
        }
    }
    tally.decide(p)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn check(text: &str, expect: Option<&str>) {
        assert_eq!(detect_language(text), expect, "detect_language({text:?})");
    }

    #[test]
    fn profiles_load() {
        let p = profiles().expect("profiles parse");
        let codes: Vec<&str> = p.groups.iter().flat_map(|g| g.codes.iter().copied()).collect();
        assert_eq!(codes.len(), 31 + 8 + 3 + 2);
        assert!(p.groups[0].slots.iter().filter(|s| s.0 != 0).count() > 10_000);
        // SUPPORTED_LANGUAGES is exactly what a group or a script can report
        let by_script = (0..SCRIPTS as u8).filter_map(script_language);
        let mut reportable: Vec<&str> = codes.iter().copied().chain(by_script).collect();
        reportable.sort_unstable();
        reportable.dedup();
        let mut supported = SUPPORTED_LANGUAGES.to_vec();
        supported.sort_unstable();
        assert_eq!(reportable, supported);
    }

    /// Messages written for this test in each language, and texts that must stay `None`.
    #[test]
    fn languages() {
        let mut wrong = Vec::new();
        for (expect, text) in [
            (
                "id",
                "Selamat! Nomor Anda terpilih sebagai pemenang undian dari kami. Silakan hubungi kantor kami segera.",
            ),
            ("id", "Pesanan kamu sudah dikirim dan akan tiba besok siang."),
            ("id", "Jangan lupa bayar tagihan listrik sebelum tanggal sepuluh ya."),
            (
                "ms",
                "Tahniah! Anda telah memenangi hadiah wang tunai. Sila hubungi kami untuk menuntut hadiah anda.",
            ),
            ("ms", "Akaun bank anda telah disekat. Sila kemas kini maklumat anda dengan segera."),
            ("vi", "Tài khoản của bạn đã bị khóa. Vui lòng đăng nhập để xác minh thông tin."),
            (
                "vi",
                "Chúc mừng bạn đã trúng thưởng một chiếc xe máy. Hãy liên hệ ngay với chúng tôi.",
            ),
            (
                "tl",
                "Magandang araw po! Nanalo ka ng premyo. Tumawag ka lang sa amin para makuha mo ito.",
            ),
            ("tl", "Ang iyong padala ay naghihintay sa aming tanggapan, pakibayaran ang singil."),
            (
                "tr",
                "Hesabınız geçici olarak askıya alındı. Bilgilerinizi güncellemek için lütfen giriş yapın.",
            ),
            ("tr", "Kargonuz teslim edilemedi, yeni bir teslimat tarihi seçmeniz gerekiyor."),
            (
                "ro",
                "Contul dumneavoastră a fost blocat. Vă rugăm să vă actualizați datele cât mai curând.",
            ),
            (
                "ro",
                "Coletul tău nu a putut fi livrat. Plătește taxa de livrare pentru o nouă încercare.",
            ),
            ("cs", "Vaše zásilka čeká na doručení. Zaplaťte prosím poplatek za dopravu."),
            ("cs", "Dobrý den, váš účet byl zablokován kvůli podezřelé aktivitě."),
            ("hu", "A csomagja nem kézbesíthető. Kérjük, fizesse ki a szállítási díjat."),
            ("hu", "Szia, ma este otthon leszel? Átmennék egy kicsit."),
            (
                "hr",
                "Poštovani, vaš račun je privremeno blokiran. Molimo vas da što prije ažurirate svoje podatke.",
            ),
            ("hr", "Bok, gdje si? Čekam te ispred kina već pola sata."),
            ("sk", "Vaša zásielka čaká na doručenie. Prosím, zaplaťte poplatok za dopravu."),
            ("sk", "Ahoj, dnes večer prídem neskôr, lebo mám veľa práce."),
            ("sl", "Vaša pošiljka čaka na dostavo. Prosimo, plačajte stroške pošiljanja."),
            ("sl", "Živjo, ali greš jutri z nami na izlet?"),
            ("lt", "Jūsų siunta laukia pristatymo. Prašome sumokėti pristatymo mokestį."),
            ("lt", "Labas, ar šiandien vakare būsi namie?"),
            ("lv", "Jūsu sūtījums gaida piegādi. Lūdzu, samaksājiet piegādes maksu."),
            ("lv", "Sveiki, vai šovakar būsi mājās?"),
            ("et", "Teie pakk ootab kättetoimetamist. Palun tasuge saatmiskulu."),
            ("et", "Tere, kas sa oled täna õhtul kodus?"),
            (
                "sw",
                "Habari, umeshinda zawadi ya pesa taslimu. Tafadhali piga simu ili kupokea zawadi yako.",
            ),
            ("sw", "Akaunti yako imesimamishwa kwa muda. Tuma neno la siri ili kuifungua."),
            ("af", "Jou pakkie wag vir aflewering. Betaal asseblief die afleweringsfooi."),
            ("af", "Hallo, is jy vanaand by die huis? Ek wil gou kom kuier."),
            (
                "ca",
                "El vostre paquet està pendent de lliurament. Si us plau, pagueu la taxa d'enviament.",
            ),
            ("ca", "Hola, vens a sopar aquesta nit? T'esperem a les nou."),
            ("sq", "Pako juaj është në pritje. Ju lutem paguani tarifën e dorëzimit."),
            ("sq", "Përshëndetje, a do të vish sonte në shtëpi?"),
            ("ru", "Ваша посылка ожидает доставки. Пожалуйста, оплатите таможенный сбор."),
            ("ru", "Привет, ты сегодня вечером дома?"),
            ("uk", "Ваша посилка очікує на доставку. Будь ласка, сплатіть митний збір."),
            ("uk", "Привіт, ти сьогодні ввечері вдома?"),
            ("bg", "Вашата пратка очаква доставка. Моля, платете таксата за доставка."),
            ("bg", "Здравей, ще бъдеш ли вкъщи довечера?"),
            ("sr", "Ваша пошиљка чека на испоруку. Молимо вас да платите трошкове доставе."),
            ("mk", "Вашата пратка чека на испорака. Ве молиме платете ја таксата за достава."),
            ("kk", "Сіздің сәлемдемеңіз жеткізуді күтуде. Жеткізу ақысын төлеңіз."),
            ("ar", "تم تعليق حسابك مؤقتا. يرجى تحديث بياناتك عبر الرابط."),
            ("ar", "مرحبا، هل ستكون في البيت هذا المساء؟"),
            ("fa", "حساب شما موقتا مسدود شده است. لطفا اطلاعات خود را به روز کنید."),
            ("ur", "آپ کا پیکج ڈیلیوری کا منتظر ہے۔ براہ کرم فیس ادا کریں۔"),
            ("hi", "आपका खाता अस्थायी रूप से बंद कर दिया गया है। कृपया अपनी जानकारी अपडेट करें।"),
            ("hi", "नमस्ते, क्या आप आज शाम घर पर होंगे?"),
            ("mr", "तुमचे खाते तात्पुरते बंद करण्यात आले आहे. कृपया तुमची माहिती अद्ययावत करा."),
            ("th", "บัญชีของคุณถูกระงับชั่วคราว กรุณายืนยันตัวตนที่ลิงก์ด้านล่าง"),
            ("th", "พัสดุของคุณรอการจัดส่ง กรุณาชำระค่าธรรมเนียม 25 บาท"),
            ("th", "รหัสOTPของคุณคือ 482913 ห้ามบอกผู้อื่น"),
            ("th", "เติมเงิน50บาท รับเน็ตฟรี7วัน"),
            ("th", "ครับ"),
            ("th", "AIS แจ้งเตือน: ยอดค้างชำระของคุณ กรุณาชำระภายในวันนี้"),
            ("ko", "고객님의 택배가 배송 대기 중입니다. 배송비를 결제해 주세요."),
            ("ja", "お荷物のお届けにあがりましたが不在のため持ち帰りました。"),
            ("ja", "アカウントがロックされました。こちらから確認してください。"),
            ("ja", "Amazonプライムの会員資格が停止されました"),
            ("ja", "【重要】お客様のアカウント【ACCOUNT_SUSPENDED_NOTICE】を確認してください"),
            ("zh", "您的包裹正在等待派送，请支付运费。"),
            ("zh", "你好，今晚你在家吗？"),
            ("el", "Το δέμα σας περιμένει παράδοση. Παρακαλούμε πληρώστε τα έξοδα αποστολής."),
            ("he", "החבילה שלך ממתינה למשלוח. נא לשלם את דמי המשלוח."),
            ("bn", "আপনার অ্যাকাউন্ট সাময়িকভাবে বন্ধ করা হয়েছে। অনুগ্রহ করে তথ্য আপডেট করুন।"),
            ("ta", "உங்கள் கணக்கு தற்காலிகமாக முடக்கப்பட்டுள்ளது."),
            ("te", "మీ ఖాతా తాత్కాలికంగా నిలిపివేయబడింది."),
            ("gu", "તમારું ખાતું હંગામી ધોરણે બંધ કરવામાં આવ્યું છે."),
            ("pa", "ਤੁਹਾਡਾ ਖਾਤਾ ਅਸਥਾਈ ਤੌਰ ਤੇ ਬੰਦ ਕਰ ਦਿੱਤਾ ਗਿਆ ਹੈ।"),
            ("ka", "თქვენი ამანათი ელოდება მიწოდებას."),
            ("hy", "Ձեր ծանրոցը սպասում է առաքման:"),
            // the dominant language of a mixed text
            (
                "id",
                "Promo spesial weekend! Dapatkan cashback hingga lima puluh persen untuk semua transaksi di aplikasi kami.",
            ),
            (
                "id",
                "Hai kak, paket kamu sudah sampai di hub kami. Mohon konfirmasi alamat pengiriman ya.",
            ),
            (
                "en",
                "Your OTP is valid for five minutes. Do not share it with anyone. - Tim Layanan",
            ),
            // Cyrillic look-alikes inside English words
            ("en", "Yоur ассоunt hаs bееn lосkеd, plеаsе vеrify yоur idеntity tоdаy"),
            ("th", "รหัส OTP Firster = 901337 (Ref: yC38p5)"),
        ] {
            let got = detect_language(text);
            if got != Some(expect) {
                wrong.push(format!("{expect} -> {got:?}: {text}"));
            }
        }
        for text in [
            // languages no profile covers: Basque, Esperanto, Maltese, Welsh, made up
            "Zure paketea bidaltzeko zain dago. Mesedez, ordaindu bidalketa kostua gaur.",
            "Via pakaĵo atendas liveron. Bonvolu pagi la sendokoston hodiaŭ.",
            "Il-pakkett tiegħek qed jistenna l-kunsinna. Jekk jogħġbok ħallas il-miżata.",
            "Mae eich parsel yn aros i gael ei ddosbarthu. Talwch y ffi os gwelwch yn dda.",
            "Blorvik zantu meshpa trovel quindar osk vemblat yurn",
            // a script no supported language writes (Kannada)
            "ನಿಮ್ಮ ಖಾತೆಯನ್ನು ನಿರ್ಬಂಧಿಸಲಾಗಿದೆ",
            // too little to tell
            "谢",
            "ok",
            "+66 81 234 5678",
            "123 456 789",
        ] {
            let got = detect_language(text);
            if got.is_some() {
                wrong.push(format!("None -> {got:?}: {text}"));
            }
        }
        assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    }

    /// Hindi written in Latin letters mixed with English: English or nothing, never a third
    /// language.
    #[test]
    fn romanised_hindi() {
        for text in [
            "Aapka account block ho gaya hai, turant KYC update karein warna service band ho jayegi",
            "Bhai kal milte hai, abhi bahut kaam hai office mein",
            "Dear customer, aapke number par special offer hai, abhi recharge karo aur double data pao",
        ] {
            let got = detect_language(text);
            assert!(matches!(got, None | Some("en")), "{text:?} -> {got:?}");
        }
    }

    include!("../tests/support/lingua_testdata.rs");

    /// Gold-labelled texts of the shared dev corpora (`-` for a language we do not support).
    fn dev_corpora() -> Vec<(String, String)> {
        let mut rows = Vec::new();
        for file in
            ["smish-dev.jsonl", "real-imc25-sample-dev.jsonl", "real-thai-spamham-dev.jsonl"]
        {
            let path = format!("{}/../../../shared/data/{file}", env!("CARGO_MANIFEST_DIR"));
            let Ok(text) = std::fs::read_to_string(&path) else { continue };
            for line in text.lines() {
                let Ok(v) = serde_json::from_str::<serde_json::Value>(line) else { continue };
                if let (Some(lang), Some(text)) = (v["lang"].as_str(), v["text"].as_str()) {
                    let gold = if SUPPORTED_LANGUAGES.contains(&lang) { lang } else { "-" };
                    rows.push((gold.to_owned(), text.to_owned()));
                }
            }
        }
        rows
    }

    /// Accuracy, `None` rate and rejection of unsupported languages for a grid of the two
    /// thresholds (`cargo test -p smishtrap-extract --lib calibrate -- --ignored --nocapture`).
    #[test]
    #[ignore]
    #[allow(clippy::print_stderr)]
    fn calibrate() {
        let p = profiles().expect("profiles");
        for (name, rows) in [
            ("lingua sentences", lingua_testdata("sentences.txt")),
            ("lingua word pairs", lingua_testdata("word-pairs.txt")),
            ("dev corpora", dev_corpora()),
        ] {
            let judged: Vec<(&str, Option<Judgement>)> =
                rows.iter().map(|(g, t)| (g.as_str(), tally(p, t).judge(p))).collect();
            eprintln!("== {name}: {} texts", judged.len());
            // cost per letter (quantised units) of the winning language: in its own texts,
            // and in texts of languages we do not support that it wins
            let mut own: std::collections::BTreeMap<&str, Vec<f64>> = Default::default();
            let mut foreign: std::collections::BTreeMap<&str, Vec<f64>> = Default::default();
            for (gold, j) in &judged {
                if let Some(Judgement::Scored { code, cost, letters, .. }) = *j {
                    let v = f64::from(cost) / f64::from(letters.max(1));
                    if *gold == "-" {
                        foreign.entry(code).or_default().push(v);
                    } else if code == *gold {
                        own.entry(code).or_default().push(v);
                    }
                }
            }
            let q = |v: &mut Vec<f64>, f: f64| {
                v.sort_by(f64::total_cmp);
                v.get(((v.len() as f64 - 1.0) * f) as usize).copied().unwrap_or(0.0)
            };
            for (code, v) in own.iter_mut() {
                let n = v.len();
                let (a, b, c, d) = (q(v, 0.5), q(v, 0.9), q(v, 0.98), q(v, 0.995));
                let f = foreign.get_mut(code).map(|f| (f.len(), q(f, 0.1), q(f, 0.5)));
                eprintln!(
                    "  cost/letter {code}: n {n} p50 {a:.1} p90 {b:.1} p98 {c:.1} p99.5 {d:.1} | foreign won (n, p10, p50) {f:?}"
                );
            }
            for slack in [30, 45, 60, 75, 90, 9999] {
                for margin in [0, 4, 6, 8, 16] {
                    let (mut ok, mut none, mut wrong, mut total) = (0, 0, 0, 0);
                    let (mut rejected, mut foreign) = (0, 0);
                    for (gold, j) in &judged {
                        let got = match *j {
                            None => None,
                            Some(Judgement::Script(c)) => Some(c),
                            Some(Judgement::Scored { code, cost, runner_up, letters, median }) => {
                                let limit = median
                                    + slack
                                    + if letters < UNKNOWN_SHORT_LETTERS {
                                        UNKNOWN_SHORT_SLACK
                                    } else {
                                        0
                                    };
                                (u64::from(cost) * 10 <= u64::from(limit) * u64::from(letters)
                                    && runner_up.saturating_sub(cost) >= margin)
                                    .then_some(code)
                            }
                        };
                        if *gold == "-" {
                            foreign += 1;
                            rejected += usize::from(got.is_none());
                            continue;
                        }
                        total += 1;
                        match got {
                            Some(c) if c == *gold => ok += 1,
                            None => none += 1,
                            Some(_) => wrong += 1,
                        }
                    }
                    eprintln!(
                        "slack {slack:4} margin {margin:2}: accuracy {:.4} none {:.4} wrong {:.4} | unsupported rejected {:.4} of {foreign}",
                        ok as f64 / total.max(1) as f64,
                        none as f64 / total.max(1) as f64,
                        wrong as f64 / total.max(1) as f64,
                        rejected as f64 / foreign.max(1) as f64,
                    );
                }
            }
            // errors at the current thresholds, per gold language
            let mut per: std::collections::BTreeMap<&str, (usize, usize, usize)> =
                Default::default();
            for ((gold, text), (_, j)) in rows.iter().zip(&judged) {
                let got = j.and_then(|_| tally(p, text).decide(p));
                let e = per.entry(gold.as_str()).or_default();
                e.0 += 1;
                if got == Some(gold.as_str()) {
                    e.1 += 1
                } else if got.is_none() {
                    e.2 += 1
                }
            }
            for (g, (n, ok, none)) in per {
                eprintln!("  {g}: {ok}/{n} right, {none} none");
            }
            let mut shown = 0;
            for ((gold, text), (_, j)) in rows.iter().zip(&judged) {
                let got = tally(p, text).decide(p);
                if got != Some(gold.as_str()) && gold != "-" && shown < 40 && name == "dev corpora"
                {
                    shown += 1;
                    let short: String = text.chars().take(90).collect();
                    eprintln!("  ! {gold} -> {got:?} {j:?}: {short}");
                }
            }
        }
    }

    #[test]
    #[ignore]
    #[allow(clippy::print_stderr)]
    fn debug_one() {
        let p = profiles().expect("profiles");
        let text = std::env::var("LANG_TEXT").unwrap_or_default();
        for tok in text.split_whitespace() {
            let t = TokenScore::new(p, tok);
            eprintln!(
                "{tok:?}: script {} letters {} base {} off {:?}",
                t.script,
                t.letters,
                t.base,
                &t.off[..8]
            );
        }
        for (i, g) in p.groups.iter().enumerate() {
            eprintln!(
                "group {i}: {:?} {} slots",
                g.codes,
                g.slots.iter().filter(|s| s.0 != 0).count()
            );
        }
        eprintln!("{:?}", tally(p, &text).judge(p));
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
