//! Derives the fast language profiles from lingua's own n-gram models at build time.
//!
//! lingua ships, per language, an FST of character n-grams (1 to 5 chars) whose values are
//! `ln P(last char | preceding chars)` as f64 bits. Full lingua costs far more per message
//! than the analysis budget allows, so we keep, per language, the most frequent unigrams,
//! bigrams and trigrams (ranked by joint probability), take the union across languages and
//! store every language's conditional log-probability for each kept n-gram, quantised to a
//! byte, with lower-order back-off precomputed where a language lacks the n-gram.
//! Output: `$OUT_DIR/lang_profiles.bin` (format documented in `src/lang.rs`).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::Write;

use fst::{IntoStreamer, Streamer};

/// Languages in the order of `lang::MODEL_LANGUAGES`.
fn model_bytes() -> Vec<(&'static str, &'static [u8])> {
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
    ]
}

/// Kept per language, by joint probability.
const TOP_TRIGRAMS: usize = 8000;
const TOP_BIGRAMS: usize = 1500;
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

fn load(bytes: &'static [u8]) -> Model {
    let map = fst::Map::new(bytes).expect("lingua model is a valid fst");
    let mut m = Model { uni: HashMap::new(), bi: HashMap::new(), tri: HashMap::new() };
    let mut stream = map.into_stream();
    while let Some((k, v)) = stream.next() {
        let Ok(s) = std::str::from_utf8(k) else { continue };
        let p = f64::from_bits(v);
        let c: Vec<char> = s.chars().collect();
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

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    let langs = model_bytes();
    let models: Vec<Model> = langs.iter().map(|(_, b)| load(b)).collect();

    let mut uni_keys: HashSet<char> = HashSet::new();
    let mut bi_keys: HashSet<(char, char)> = HashSet::new();
    let mut tri_keys: HashSet<(char, char, char)> = HashSet::new();
    for m in &models {
        uni_keys.extend(m.uni.keys().copied());
        let mut bis: Vec<((char, char), f64)> =
            m.bi.iter().filter_map(|(&(a, b), &p)| Some(((a, b), m.uni.get(&a)? + p))).collect();
        bis.sort_by(|x, y| y.1.total_cmp(&x.1).then(x.0.cmp(&y.0)));
        bi_keys.extend(bis.iter().take(TOP_BIGRAMS).map(|x| x.0));
        let mut tris: Vec<((char, char, char), f64)> = m
            .tri
            .iter()
            .filter_map(|(&(a, b, c), &p)| {
                Some(((a, b, c), m.uni.get(&a)? + m.bi.get(&(a, b))? + p))
            })
            .collect();
        tris.sort_by(|x, y| y.1.total_cmp(&x.1).then(x.0.cmp(&y.0)));
        tri_keys.extend(tris.iter().take(TOP_TRIGRAMS).map(|x| x.0));
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

    let out_dir = std::env::var("OUT_DIR").expect("cargo sets OUT_DIR");
    let path = std::path::Path::new(&out_dir).join("lang_profiles.bin");
    let mut buf = Vec::with_capacity(table.len() * (8 + langs.len()) + 16);
    buf.extend_from_slice(b"SLP1");
    buf.push(langs.len() as u8);
    for (code, _) in &langs {
        buf.extend_from_slice(code.as_bytes());
    }
    for (k, v) in &table {
        buf.extend_from_slice(&k.to_le_bytes());
        buf.extend_from_slice(v);
    }
    let mut f = std::fs::File::create(&path).expect("create lang_profiles.bin");
    f.write_all(&buf).expect("write lang_profiles.bin");
}
