//! Derives the fast language profiles from lingua's own n-gram models at build time.
//!
//! lingua ships, per language, an FST of character n-grams (1 to 5 chars) whose values are
//! `ln P(last char | preceding chars)` as f64 bits. Full lingua costs far more per message
//! than the analysis budget allows, so we keep, per language, the most frequent unigrams,
//! bigrams and trigrams (ranked by joint probability) written in its script, take the union
//! across the languages sharing that script (a *group*), and store every language's
//! conditional log-probability for each kept n-gram, quantised to a byte, with lower-order
//! back-off precomputed where a language lacks the n-gram. Languages whose script is theirs
//! alone (Thai, Korean, Greek, ...) need no model: `src/lang.rs` decides them by script.
//! Output: `$OUT_DIR/lang_profiles.bin` (format documented in `src/lang.rs`).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::Write;

use fst::{IntoStreamer, Streamer};

/// Script ids, as `lang::Script` numbers them.
const LATIN: u8 = 1;
const CYRILLIC: u8 = 2;
const ARABIC: u8 = 3;
const DEVANAGARI: u8 = 4;

/// Whether `c` is a letter (or combining sign) of `script`, as `lang::script_of` classifies.
fn in_script(c: char, script: u8) -> bool {
    let u = u32::from(c);
    match script {
        LATIN => {
            c.is_ascii_alphabetic()
                || ((0xC0..=0x24F).contains(&u) && u != 0xD7 && u != 0xF7)
                || (0x1E00..=0x1EFF).contains(&u)
        }
        CYRILLIC => (0x400..=0x52F).contains(&u),
        ARABIC => {
            ((0x600..=0x6FF).contains(&u)
                && !(0x660..=0x669).contains(&u)
                && !(0x6F0..=0x6F9).contains(&u)
                && !matches!(u, 0x60C | 0x61B | 0x61F | 0x66A..=0x66D | 0x6D4))
                || (0x750..=0x77F).contains(&u)
                || (0x8A0..=0x8FF).contains(&u)
        }
        DEVANAGARI => (0x900..=0x97F).contains(&u) && !matches!(u, 0x964..=0x96F),
        _ => false,
    }
}

struct Group {
    script: u8,
    /// Trigrams and bigrams kept per language, by joint probability.
    top_trigrams: usize,
    top_bigrams: usize,
    langs: Vec<(&'static str, &'static [u8])>,
}

/// The groups, each language in the order of its lane.
fn groups() -> Vec<Group> {
    macro_rules! model {
        ($code:literal, $krate:ident, $dir:ident) => {
            (
                $code,
                $krate::$dir
                    .get_file("ngrams.fst")
                    .map(|f| f.contents())
                    .expect(concat!($code, " ngrams.fst")),
            )
        };
    }
    vec![
        Group {
            script: LATIN,
            top_trigrams: 6000,
            top_bigrams: 1200,
            langs: vec![
                model!("nl", lingua_dutch_language_model, DUTCH_MODELS_DIRECTORY),
                model!("fr", lingua_french_language_model, FRENCH_MODELS_DIRECTORY),
                model!("sv", lingua_swedish_language_model, SWEDISH_MODELS_DIRECTORY),
                model!("it", lingua_italian_language_model, ITALIAN_MODELS_DIRECTORY),
                model!("en", lingua_english_language_model, ENGLISH_MODELS_DIRECTORY),
                model!("es", lingua_spanish_language_model, SPANISH_MODELS_DIRECTORY),
                model!("de", lingua_german_language_model, GERMAN_MODELS_DIRECTORY),
                model!("pt", lingua_portuguese_language_model, PORTUGUESE_MODELS_DIRECTORY),
                model!("da", lingua_danish_language_model, DANISH_MODELS_DIRECTORY),
                model!("nb", lingua_bokmal_language_model, BOKMAL_MODELS_DIRECTORY),
                model!("nn", lingua_nynorsk_language_model, NYNORSK_MODELS_DIRECTORY),
                model!("fi", lingua_finnish_language_model, FINNISH_MODELS_DIRECTORY),
                model!("pl", lingua_polish_language_model, POLISH_MODELS_DIRECTORY),
                model!("id", lingua_indonesian_language_model, INDONESIAN_MODELS_DIRECTORY),
                model!("ms", lingua_malay_language_model, MALAY_MODELS_DIRECTORY),
                model!("vi", lingua_vietnamese_language_model, VIETNAMESE_MODELS_DIRECTORY),
                model!("tl", lingua_tagalog_language_model, TAGALOG_MODELS_DIRECTORY),
                model!("tr", lingua_turkish_language_model, TURKISH_MODELS_DIRECTORY),
                model!("ro", lingua_romanian_language_model, ROMANIAN_MODELS_DIRECTORY),
                model!("cs", lingua_czech_language_model, CZECH_MODELS_DIRECTORY),
                model!("hu", lingua_hungarian_language_model, HUNGARIAN_MODELS_DIRECTORY),
                model!("hr", lingua_croatian_language_model, CROATIAN_MODELS_DIRECTORY),
                model!("sk", lingua_slovak_language_model, SLOVAK_MODELS_DIRECTORY),
                model!("sl", lingua_slovene_language_model, SLOVENE_MODELS_DIRECTORY),
                model!("lt", lingua_lithuanian_language_model, LITHUANIAN_MODELS_DIRECTORY),
                model!("lv", lingua_latvian_language_model, LATVIAN_MODELS_DIRECTORY),
                model!("et", lingua_estonian_language_model, ESTONIAN_MODELS_DIRECTORY),
                model!("sw", lingua_swahili_language_model, SWAHILI_MODELS_DIRECTORY),
                model!("af", lingua_afrikaans_language_model, AFRIKAANS_MODELS_DIRECTORY),
                model!("ca", lingua_catalan_language_model, CATALAN_MODELS_DIRECTORY),
                model!("sq", lingua_albanian_language_model, ALBANIAN_MODELS_DIRECTORY),
            ],
        },
        Group {
            script: CYRILLIC,
            top_trigrams: 6000,
            top_bigrams: 1200,
            langs: vec![
                model!("ru", lingua_russian_language_model, RUSSIAN_MODELS_DIRECTORY),
                model!("uk", lingua_ukrainian_language_model, UKRAINIAN_MODELS_DIRECTORY),
                model!("bg", lingua_bulgarian_language_model, BULGARIAN_MODELS_DIRECTORY),
                model!("sr", lingua_serbian_language_model, SERBIAN_MODELS_DIRECTORY),
                model!("mk", lingua_macedonian_language_model, MACEDONIAN_MODELS_DIRECTORY),
                model!("kk", lingua_kazakh_language_model, KAZAKH_MODELS_DIRECTORY),
                model!("be", lingua_belarusian_language_model, BELARUSIAN_MODELS_DIRECTORY),
                model!("mn", lingua_mongolian_language_model, MONGOLIAN_MODELS_DIRECTORY),
            ],
        },
        Group {
            script: ARABIC,
            top_trigrams: 6000,
            top_bigrams: 1200,
            langs: vec![
                model!("ar", lingua_arabic_language_model, ARABIC_MODELS_DIRECTORY),
                model!("fa", lingua_persian_language_model, PERSIAN_MODELS_DIRECTORY),
                model!("ur", lingua_urdu_language_model, URDU_MODELS_DIRECTORY),
            ],
        },
        Group {
            script: DEVANAGARI,
            top_trigrams: 6000,
            top_bigrams: 1200,
            langs: vec![
                model!("hi", lingua_hindi_language_model, HINDI_MODELS_DIRECTORY),
                model!("mr", lingua_marathi_language_model, MARATHI_MODELS_DIRECTORY),
            ],
        },
    ]
}

/// Quantisation: byte = round(-ln p * SCALE); MISSING marks "no estimate at any order".
const SCALE: f64 = 8.0;
const MISSING: u8 = 255;
/// Cost of backing off one order, in nats (added on top of the lower-order estimate).
const BACKOFF: f64 = 1.0;

fn key(chars: &[char]) -> u64 {
    chars.iter().fold(0u64, |k, &c| (k << 21) | u64::from(c))
}

fn quantise(ln_p: f64) -> u8 {
    (-ln_p * SCALE).round().clamp(0.0, 254.0) as u8
}

struct Model {
    uni: HashMap<char, f64>,
    bi: HashMap<(char, char), f64>,
    tri: HashMap<(char, char, char), f64>,
}

/// The uni-, bi- and trigrams of a lingua model written wholly in `script`.
fn load(bytes: &'static [u8], script: u8) -> Model {
    let map = fst::Map::new(bytes).expect("lingua model is a valid fst");
    let mut m = Model { uni: HashMap::new(), bi: HashMap::new(), tri: HashMap::new() };
    let mut stream = map.into_stream();
    while let Some((k, v)) = stream.next() {
        let Ok(s) = std::str::from_utf8(k) else { continue };
        let p = f64::from_bits(v);
        let c: Vec<char> = s.chars().collect();
        if !c.iter().all(|&ch| in_script(ch, script)) {
            continue;
        }
        match c.as_slice() {
            [a] => {
                m.uni.insert(*a, p);
            }
            [a, b] => {
                m.bi.insert((*a, *b), p);
            }
            [a, b, d] => {
                m.tri.insert((*a, *b, *d), p);
            }
            _ => {}
        }
    }
    m
}

impl Model {
    fn uni_q(&self, c: char) -> Option<f64> {
        self.uni.get(&c).copied()
    }
    fn bi_q(&self, a: char, b: char) -> Option<f64> {
        self.bi.get(&(a, b)).copied().or_else(|| self.uni_q(b).map(|p| p - BACKOFF))
    }
    fn tri_q(&self, a: char, b: char, c: char) -> Option<f64> {
        self.tri.get(&(a, b, c)).copied().or_else(|| self.bi_q(b, c).map(|p| p - BACKOFF))
    }
}

/// One group's table: every kept n-gram's key and per-language costs.
fn table(group: &Group) -> BTreeMap<u64, Vec<u8>> {
    let models: Vec<Model> = group.langs.iter().map(|(_, b)| load(b, group.script)).collect();
    let mut uni_keys: HashSet<char> = HashSet::new();
    let mut bi_keys: HashSet<(char, char)> = HashSet::new();
    let mut tri_keys: HashSet<(char, char, char)> = HashSet::new();
    for m in &models {
        uni_keys.extend(m.uni.keys().copied());
        let mut bis: Vec<((char, char), f64)> =
            m.bi.iter().filter_map(|(&(a, b), &p)| Some(((a, b), m.uni.get(&a)? + p))).collect();
        bis.sort_by(|x, y| y.1.total_cmp(&x.1).then(x.0.cmp(&y.0)));
        bi_keys.extend(bis.iter().take(group.top_bigrams).map(|x| x.0));
        let mut tris: Vec<((char, char, char), f64)> = m
            .tri
            .iter()
            .filter_map(|(&(a, b, c), &p)| {
                Some(((a, b, c), m.uni.get(&a)? + m.bi.get(&(a, b))? + p))
            })
            .collect();
        tris.sort_by(|x, y| y.1.total_cmp(&x.1).then(x.0.cmp(&y.0)));
        tri_keys.extend(tris.iter().take(group.top_trigrams).map(|x| x.0));
    }
    let mut table: BTreeMap<u64, Vec<u8>> = BTreeMap::new();
    let q = |v: Option<f64>| v.map_or(MISSING, quantise);
    for &c in &uni_keys {
        table.insert(key(&[c]), models.iter().map(|m| q(m.uni_q(c))).collect());
    }
    for &(a, b) in &bi_keys {
        table.insert(key(&[a, b]), models.iter().map(|m| q(m.bi_q(a, b))).collect());
    }
    for &(a, b, c) in &tri_keys {
        table.insert(key(&[a, b, c]), models.iter().map(|m| q(m.tri_q(a, b, c))).collect());
    }
    table
}

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    let groups = groups();
    let mut buf = Vec::new();
    buf.extend_from_slice(b"SLP2");
    buf.push(groups.len() as u8);
    for g in &groups {
        let table = table(g);
        buf.push(g.script);
        buf.push(g.langs.len() as u8);
        for (code, _) in &g.langs {
            buf.extend_from_slice(code.as_bytes());
        }
        buf.extend_from_slice(&(table.len() as u32).to_le_bytes());
        for (k, v) in &table {
            buf.extend_from_slice(&k.to_le_bytes());
            buf.extend_from_slice(v);
        }
    }
    let out_dir = std::env::var("OUT_DIR").expect("cargo sets OUT_DIR");
    let path = std::path::Path::new(&out_dir).join("lang_profiles.bin");
    let mut f = std::fs::File::create(&path).expect("create lang_profiles.bin");
    f.write_all(&buf).expect("write lang_profiles.bin");
}
