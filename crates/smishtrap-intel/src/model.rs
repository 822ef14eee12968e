//! The statistical text model: logistic regression over hashed word, word-pair and
//! character n-gram features, trained on the shared dev corpora (see `examples/train.rs`).
//!
//! Written by hand (about 200 lines) because the crates that do this pull in BLAS or
//! ndarray stacks, and a hand-written trainer is easy to make bit-for-bit reproducible:
//! fixed seed, sorted input, one thread.
//!
//! File format (little endian): magic `SMTRAPLR`, u32 version (1), u32 hash bits, f32 bias,
//! u32 count, `count` x (u32 index, f32 weight) with strictly increasing indices, then the
//! u64 FNV-1a hash of everything before it.

use crate::text::fold;

/// The model shipped with smishtrap.
pub const BUILTIN_MODEL: &[u8] = include_bytes!("../data/model.bin");

const MAGIC: &[u8; 8] = b"SMTRAPLR";
const VERSION: u32 = 1;
pub use crate::text::{PHONE_PLACEHOLDER, URL_PLACEHOLDER};

/// The text the model reads for `text`, as the engine builds it (without a region hint):
/// links and phone numbers replaced by placeholders, masked tokens too (see
/// [`crate::text::splice`]). For trainers and tools; the engine splices what it extracted.
pub fn model_text(text: &str) -> String {
    let ex = smishtrap_extract::extract(text);
    crate::text::splice(
        text,
        ex.urls.iter().map(|u| u.span.clone()),
        ex.numbers.iter().map(|n| n.span.clone()),
    )
    .words
}

/// A model file problem.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("model: {0}")]
pub struct ModelError(String);

/// Logistic regression weights over hashed features.
#[derive(Debug, Clone, PartialEq)]
pub struct Model {
    bits: u32,
    bias: f32,
    weights: Vec<f32>,
}

/// Hyper-parameters of [`Model::train`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TrainConfig {
    pub bits: u32,
    pub epochs: u32,
    pub learning_rate: f32,
    pub l2: f32,
    pub seed: u64,
    /// Runs averaged into the model, each shuffled with its own seed.
    pub runs: u32,
}

impl Default for TrainConfig {
    fn default() -> Self {
        TrainConfig {
            bits: 18,
            epochs: 12,
            learning_rate: 0.5,
            l2: 2e-6,
            seed: 0x5EED_5A17,
            runs: 10,
        }
    }
}

fn fnv1a(bytes: &[u8], seed: u64) -> u64 {
    let mut h = 0xcbf2_9ce4_8422_2325_u64 ^ seed;
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

/// Hashed feature indices of a text (sorted, unique). `text` should already have its URLs
/// replaced by [`URL_PLACEHOLDER`].
pub fn features(text: &str, bits: u32) -> Vec<u32> {
    features_folded(&fold(text), text, bits)
}

/// Incremental FNV-1a, so n-grams are hashed without building strings.
#[derive(Clone, Copy)]
struct Fnv(u64);

impl Fnv {
    fn new(kind: u8) -> Fnv {
        Fnv(0xcbf2_9ce4_8422_2325_u64 ^ u64::from(kind).wrapping_mul(0x9E37_79B9_7F4A_7C15))
    }
    fn bytes(mut self, bytes: &[u8]) -> Fnv {
        for &b in bytes {
            self = self.byte(b);
        }
        self
    }
    fn byte(self, b: u8) -> Fnv {
        Fnv((self.0 ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3))
    }
    fn char(self, c: char) -> Fnv {
        let mut buf = [0u8; 4];
        self.bytes(c.encode_utf8(&mut buf).as_bytes())
    }
}

/// Buffers reused from message to message (one set per thread).
#[derive(Default)]
struct Scratch {
    token: String,
    /// `<token>` and the byte offset of each of its chars, then its length.
    padded: Vec<u8>,
    starts: Vec<usize>,
    /// One bit per feature index: seen in this message (cleared through `touched`).
    seen: Vec<u64>,
    touched: Vec<u32>,
}

thread_local! {
    static SCRATCH: std::cell::RefCell<Scratch> = std::cell::RefCell::new(Scratch::default());
}

/// Like [`features`] for text already folded with [`crate::text::fold`]; `original` is the
/// unfolded text (for the capital-letter ratio).
pub fn features_folded(folded: &str, original: &str, bits: u32) -> Vec<u32> {
    let mut out: Vec<u32> = Vec::with_capacity(folded.len() * 3 + 8);
    let mut s = Scratch::default();
    for_each_feature(folded, original, bits, &mut s, |i| out.push(i));
    out.sort_unstable();
    out.dedup();
    out
}

/// Calls `emit` with the hashed index of every feature occurrence of the text (repeats
/// included, in no useful order); [`features_folded`] sorts and dedups them.
fn for_each_feature(
    folded: &str,
    original: &str,
    bits: u32,
    s: &mut Scratch,
    mut emit: impl FnMut(u32),
) {
    let mask = (1u64 << bits) - 1;
    let mut emit = |h: Fnv| emit(u32::try_from(h.0 & mask).unwrap_or(0));
    let mut words = Words { pair: None, count: 0, digit_runs: 0 };
    // a char between words that is no space is a feature of its own
    let punctuation = |c: char, emit: &mut dyn FnMut(Fnv)| {
        if !c.is_whitespace() {
            emit(Fnv::new(b'p').char(c));
        }
    };
    if folded.is_ascii() {
        // most texts: the words are the runs of ASCII letters and digits, found 64 bytes at
        // a time, each with its digit count; the features come in the order of the char
        // loop below (the chars before a word, then the word)
        let bytes = folded.as_bytes();
        let mut gap = 0;
        crate::text::ascii_word_runs(bytes, |start, end, digits| {
            for &b in bytes.get(gap..start).unwrap_or(&[]) {
                punctuation(char::from(b), &mut emit);
            }
            let word = folded.get(start..end).unwrap_or("");
            words.word(word, digits, true, s, &mut emit);
            gap = end;
        });
        for &b in bytes.get(gap..).unwrap_or(&[]) {
            punctuation(char::from(b), &mut emit);
        }
    } else {
        let mut word_start: Option<usize> = None;
        // digits of the current word, counted on the way rather than by a scan of each word
        let mut digits = 0;
        for (i, c) in folded.char_indices() {
            // vowel and tone marks that folding keeps (Thai...) are part of their word
            if crate::text::is_word_char(c) {
                if word_start.is_none() {
                    word_start = Some(i);
                }
                digits += usize::from(c.is_ascii_digit());
                continue;
            }
            if let Some(start) = word_start.take() {
                let word = folded.get(start..i).unwrap_or("");
                words.word(word, digits, word.is_ascii(), s, &mut emit);
            }
            digits = 0;
            punctuation(c, &mut emit);
        }
        if let Some(start) = word_start.take() {
            let word = folded.get(start..).unwrap_or("");
            words.word(word, digits, word.is_ascii(), s, &mut emit);
        }
    }
    let (mut caps, mut letters, mut chars) = (0usize, 0usize, 0usize);
    if original.is_ascii() {
        chars = original.len();
        for b in original.bytes() {
            letters += usize::from(b.is_ascii_alphabetic());
            caps += usize::from(b.is_ascii_uppercase());
        }
    } else {
        for c in original.chars() {
            chars += 1;
            letters += usize::from(c.is_alphabetic());
            caps += usize::from(c.is_uppercase());
        }
    }
    let letters = letters.max(1);
    // every bucket is a single digit
    let digit = |n: usize| [b'0' + u8::try_from(n.min(9)).unwrap_or(9)];
    for (name, bucket) in [
        (&b"caps"[..], (caps * 10 / letters).min(9)),
        (b"len", (chars / 40).min(6)),
        (b"words", words.count.min(40) / 5),
        (b"digitruns", words.digit_runs.min(4)),
    ] {
        emit(Fnv::new(b'f').bytes(name).bytes(&digit(bucket)));
    }
}

/// Word-level state of [`for_each_feature`].
struct Words {
    /// The word-pair hash of the previous word, up to and including the space.
    pair: Option<Fnv>,
    count: usize,
    digit_runs: usize,
}

impl Words {
    /// Emits the features of one word (`digits` of its chars are ASCII digits; `ascii`: all
    /// are ASCII): the word, the pair with the previous word, and the character 3- and
    /// 4-grams of `<word>`. Generic in `emit` so the per-feature work is inlined (this runs
    /// for every n-gram of every message).
    fn word(
        &mut self,
        word: &str,
        digits: usize,
        ascii: bool,
        s: &mut Scratch,
        emit: &mut impl FnMut(Fnv),
    ) {
        let Scratch { token, padded, starts, .. } = s;
        // most words have no digit: they are their own token (no copy)
        let token: &str = if digits == word.len() {
            token.clear();
            self.digit_runs += 1;
            token.push('#');
            let len = word.len().min(12);
            if len >= 10 {
                token.push('1');
            }
            token.push(char::from(b'0' + (len % 10) as u8));
            token
        } else if digits > 0 {
            token.clear();
            // Codes and amounts: keep their shape, not their value.
            token.extend(word.chars().map(|c| if c.is_ascii_digit() { '0' } else { c }));
            token
        } else {
            word
        };
        let bytes = token.as_bytes();
        emit(Fnv::new(b'w').bytes(bytes));
        if let Some(pair) = self.pair {
            emit(pair.bytes(bytes));
        }
        padded.clear();
        padded.push(b'<');
        padded.extend_from_slice(bytes);
        padded.push(b'>');
        // character 3- and 4-grams share their seed: a 4-gram's hash continues the
        // 3-gram's that starts at the same char
        if ascii {
            // one byte per char: the n-grams are byte windows, each window of 4 a 3-gram
            // and its 4-gram, then the last 3-gram (no test inside the loop)
            for w in padded.windows(4) {
                if let &[a, b, c, d] = w {
                    let h = Fnv::new(b'c').byte(a).byte(b).byte(c);
                    emit(h);
                    emit(h.byte(d));
                }
            }
            if let Some(last) = padded.get(padded.len().saturating_sub(3)..) {
                emit(Fnv::new(b'c').bytes(last));
            }
        } else {
            starts.clear();
            starts.push(0);
            starts.extend(token.char_indices().map(|(at, _)| at + 1));
            starts.extend([token.len() + 1, token.len() + 2]);
            for (i, w) in starts.windows(4).enumerate() {
                let h = Fnv::new(b'c').bytes(padded.get(w[0]..w[3]).unwrap_or_default());
                emit(h);
                if let Some(&end) = starts.get(i + 4) {
                    emit(h.bytes(padded.get(w[3]..end).unwrap_or_default()));
                }
            }
        }
        self.pair = Some(Fnv::new(b'b').bytes(bytes).bytes(b" "));
        self.count += 1;
    }
}

impl Model {
    /// Probability that the text behind `features` is unwanted (spam or smishing).
    pub fn predict(&self, features: &[u32]) -> f32 {
        sigmoid(self.logit(features))
    }

    /// Raw log-odds.
    pub fn logit(&self, features: &[u32]) -> f32 {
        if features.is_empty() {
            return self.bias;
        }
        let scale = 1.0 / (features.len() as f32).sqrt();
        let dot: f32 = features.iter().filter_map(|&i| self.weights.get(i as usize)).sum();
        self.bias + dot * scale
    }

    /// Raw log-odds of a text already folded with [`crate::text::fold`] (`original`
    /// unfolded), as `logit(&features_folded(..))` but without building the feature list:
    /// repeats are dropped with a per-thread bit set instead of a sort. Sums in another
    /// order than `logit`, so the two may differ in the last bits of an `f32`.
    pub fn logit_folded(&self, folded: &str, original: &str) -> f32 {
        SCRATCH.with(|cell| {
            let Ok(mut guard) = cell.try_borrow_mut() else {
                return self.logit(&features_folded(folded, original, self.bits));
            };
            let s = &mut *guard;
            let words = (1usize << self.bits).div_ceil(64);
            if s.seen.len() != words {
                s.seen = vec![0; words];
            }
            let mut seen = std::mem::take(&mut s.seen);
            let mut touched = std::mem::take(&mut s.touched);
            // at most four features per byte and a few per text: pushes never grow it
            touched.reserve(folded.len() * 4 + 16);
            for_each_feature(folded, original, self.bits, s, |i| {
                let (word, bit) = ((i >> 6) as usize, 1u64 << (i & 63));
                if let Some(w) = seen.get_mut(word)
                    && *w & bit == 0
                {
                    *w |= bit;
                    touched.push(i);
                }
            });
            // a separate pass: the weight loads (a large table, mostly cache misses) are
            // independent of each other and overlap
            let dot: f32 =
                touched.iter().map(|&i| self.weights.get(i as usize).copied().unwrap_or(0.0)).sum();
            let n = touched.len();
            for &i in &touched {
                if let Some(w) = seen.get_mut((i >> 6) as usize) {
                    *w = 0;
                }
            }
            touched.clear();
            s.seen = seen;
            s.touched = touched;
            if n == 0 {
                return self.bias;
            }
            let scale = 1.0 / (n as f32).sqrt();
            self.bias + dot * scale
        })
    }

    pub fn bits(&self) -> u32 {
        self.bits
    }

    /// Trains on `(text, unwanted)` examples. Deterministic for a given input order and
    /// config: callers sort their inputs.
    pub fn train(examples: &[(String, bool)], config: &TrainConfig) -> Model {
        let runs = config.runs.max(1);
        let mut out = Model::train_once(examples, config);
        if runs == 1 {
            return out;
        }
        // The average of runs that differ only in their shuffling seed: one SGD run's
        // weights depend on the order it saw a small corpus in, and the average does not
        // (leave-one-source-out figures moved by 2-3 points from seed to seed).
        for k in 1..runs {
            let seed = config.seed.wrapping_add(u64::from(k).wrapping_mul(0x9E37_79B9_7F4A_7C15));
            let m = Model::train_once(examples, &TrainConfig { seed, ..*config });
            out.bias += m.bias;
            for (w, v) in out.weights.iter_mut().zip(&m.weights) {
                *w += v;
            }
        }
        let n = runs as f32;
        out.bias /= n;
        for w in &mut out.weights {
            *w /= n;
            // tiny weights carry no signal; dropping them keeps the shipped file small
            if w.abs() < 1e-3 {
                *w = 0.0;
            }
        }
        out
    }

    fn train_once(examples: &[(String, bool)], config: &TrainConfig) -> Model {
        let bits = config.bits.clamp(10, 24);
        let feats: Vec<Vec<u32>> = examples.iter().map(|(t, _)| features(t, bits)).collect();
        let size = 1usize << bits;
        let mut weights = vec![0f32; size];
        let mut grad_sq = vec![1e-8f32; size];
        let mut bias = 0f32;
        let mut bias_sq = 1e-8f32;
        let positives = examples.iter().filter(|(_, y)| *y).count().max(1) as f32;
        let negatives = examples.iter().filter(|(_, y)| !*y).count().max(1) as f32;
        let total = positives + negatives;
        // Balanced class weights so the rarer class is not drowned out.
        let w_pos = total / (2.0 * positives);
        let w_neg = total / (2.0 * negatives);
        let mut order: Vec<usize> = (0..examples.len()).collect();
        let mut rng = config.seed | 1;
        for _ in 0..config.epochs {
            // Fisher-Yates with xorshift64: same permutation on every machine.
            for i in (1..order.len()).rev() {
                rng ^= rng << 13;
                rng ^= rng >> 7;
                rng ^= rng << 17;
                let j = usize::try_from(rng % (i as u64 + 1)).unwrap_or(0);
                order.swap(i, j);
            }
            for &k in &order {
                let (Some(f), Some((_, y))) = (feats.get(k), examples.get(k)) else { continue };
                let scale = if f.is_empty() { 0.0 } else { 1.0 / (f.len() as f32).sqrt() };
                let dot: f32 = f.iter().filter_map(|&i| weights.get(i as usize)).sum();
                let p = sigmoid(bias + dot * scale);
                let target = if *y { 1.0 } else { 0.0 };
                let cw = if *y { w_pos } else { w_neg };
                let g = (p - target) * cw;
                for &i in f {
                    let i = i as usize;
                    if let (Some(w), Some(gs)) = (weights.get_mut(i), grad_sq.get_mut(i)) {
                        let gi = g * scale + config.l2 * *w;
                        *gs += gi * gi;
                        *w -= config.learning_rate * gi / gs.sqrt();
                    }
                }
                bias_sq += g * g;
                bias -= config.learning_rate * g / bias_sq.sqrt();
            }
        }
        // Tiny weights carry no signal; dropping them keeps the shipped file small.
        for w in &mut weights {
            if w.abs() < 1e-3 {
                *w = 0.0;
            }
        }
        Model { bits, bias, weights }
    }

    /// Serialises to the file format described in the module docs.
    pub fn to_bytes(&self) -> Vec<u8> {
        let nonzero: Vec<(u32, f32)> = self
            .weights
            .iter()
            .enumerate()
            .filter(|(_, w)| **w != 0.0)
            .filter_map(|(i, w)| Some((u32::try_from(i).ok()?, *w)))
            .collect();
        let mut out = Vec::with_capacity(32 + nonzero.len() * 8);
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&VERSION.to_le_bytes());
        out.extend_from_slice(&self.bits.to_le_bytes());
        out.extend_from_slice(&self.bias.to_le_bytes());
        out.extend_from_slice(&u32::try_from(nonzero.len()).unwrap_or(0).to_le_bytes());
        for (i, w) in nonzero {
            out.extend_from_slice(&i.to_le_bytes());
            out.extend_from_slice(&w.to_le_bytes());
        }
        let sum = fnv1a(&out, 0);
        out.extend_from_slice(&sum.to_le_bytes());
        out
    }

    /// Parses and validates a model file.
    pub fn from_bytes(bytes: &[u8]) -> Result<Model, ModelError> {
        let bad = |m: &str| ModelError(m.to_string());
        if bytes.len() < 32 {
            return Err(bad("file too short"));
        }
        let (body, sum) = bytes.split_at(bytes.len() - 8);
        let expected = u64::from_le_bytes(sum.try_into().map_err(|_| bad("bad checksum field"))?);
        if fnv1a(body, 0) != expected {
            return Err(bad("checksum mismatch (file damaged or not a smishtrap model)"));
        }
        if body.get(..8) != Some(MAGIC.as_slice()) {
            return Err(bad("not a smishtrap model (bad magic)"));
        }
        let u32_at = |at: usize| -> Result<u32, ModelError> {
            let b = body.get(at..at + 4).ok_or_else(|| bad("truncated"))?;
            Ok(u32::from_le_bytes(b.try_into().map_err(|_| bad("truncated"))?))
        };
        if u32_at(8)? != VERSION {
            return Err(bad("unsupported model version"));
        }
        let bits = u32_at(12)?;
        if !(10..=24).contains(&bits) {
            return Err(bad("hash bits out of range 10..=24"));
        }
        let bias = f32::from_bits(u32_at(16)?);
        let count = u32_at(20)? as usize;
        if body.len() != 24 + count * 8 {
            return Err(bad("length does not match the weight count"));
        }
        if !bias.is_finite() {
            return Err(bad("bias is not finite"));
        }
        let mut weights = vec![0f32; 1usize << bits];
        let mut last: Option<u32> = None;
        for k in 0..count {
            let at = 24 + k * 8;
            let i = u32_at(at)?;
            let w = f32::from_bits(u32_at(at + 4)?);
            if last.is_some_and(|l| i <= l) {
                return Err(bad("weight indices are not strictly increasing"));
            }
            last = Some(i);
            if !w.is_finite() || w.abs() > 1e4 {
                return Err(bad("weight is not finite or out of range"));
            }
            *weights.get_mut(i as usize).ok_or_else(|| bad("weight index out of range"))? = w;
        }
        Ok(Model { bits, bias, weights })
    }

    /// The shipped model.
    pub fn builtin() -> Result<Model, ModelError> {
        Model::from_bytes(BUILTIN_MODEL)
    }
}

fn sigmoid(x: f32) -> f32 {
    1.0 / (1.0 + (-x).exp())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn toy() -> Model {
        let ex: Vec<(String, bool)> = [
            ("WIN a free prize now, txt WIN to 80080", true),
            ("free entry to win cash, call 09061701461", true),
            ("see you at lunch tomorrow?", false),
            ("ok I will call you later", false),
        ]
        .iter()
        .map(|(t, y)| ((*t).to_string(), *y))
        .collect();
        Model::train(&ex, &TrainConfig { bits: 12, epochs: 20, ..TrainConfig::default() })
    }

    #[test]
    fn a_model_of_several_runs_scores_as_their_average() {
        let ex: Vec<(String, bool)> = [
            ("claim your prize now at the link", true),
            ("your account is blocked, verify here", true),
            ("dinner at 8?", false),
            ("thanks, got the parcel", false),
        ]
        .iter()
        .map(|(t, y)| ((*t).to_string(), *y))
        .collect();
        let config = TrainConfig { bits: 12, epochs: 5, runs: 3, ..TrainConfig::default() };
        let averaged = Model::train(&ex, &config);
        let singles: Vec<Model> = (0..3u64)
            .map(|k| {
                let seed = config.seed.wrapping_add(k.wrapping_mul(0x9E37_79B9_7F4A_7C15));
                Model::train(&ex, &TrainConfig { seed, runs: 1, ..config })
            })
            .collect();
        for (text, _) in &ex {
            let f = features(text, 12);
            let logit = |p: f32| (p / (1.0 - p)).ln();
            let mean = singles.iter().map(|m| logit(m.predict(&f))).sum::<f32>() / 3.0;
            // equal but for the weights under 1e-3 that the average drops
            assert!((logit(averaged.predict(&f)) - mean).abs() < 0.05, "{text}");
        }
        assert_ne!(averaged, singles[0]);
    }

    #[test]
    fn training_is_deterministic_and_learns() {
        let a = toy();
        let b = toy();
        assert_eq!(a.to_bytes(), b.to_bytes());
        let spam = a.predict(&features("win a free prize, txt now", 12));
        let ham = a.predict(&features("see you later at lunch", 12));
        assert!(spam > ham, "spam {spam} ham {ham}");
    }

    #[test]
    fn round_trip_and_validation() {
        let m = toy();
        let bytes = m.to_bytes();
        assert_eq!(Model::from_bytes(&bytes).as_ref(), Ok(&m));
        let check = |bytes: &[u8], expect: &str| match Model::from_bytes(bytes) {
            Ok(_) => panic!("accepted a bad model, expected {expect}"),
            Err(e) => assert!(e.to_string().contains(expect), "{e} should contain {expect}"),
        };
        check(&bytes[..10], "too short");
        let mut flipped = bytes.clone();
        flipped[30] ^= 1;
        check(&flipped, "checksum");
        check(&[0u8; 40], "checksum");
    }

    #[test]
    fn builtin_model_loads() {
        let m = Model::builtin();
        assert!(m.is_ok(), "{m:?}");
    }

    #[test]
    fn logit_folded_agrees_with_logit() {
        let m = Model::builtin().expect("builtin model");
        for text in [
            "",
            "Hello hello HELLO 123 zzurl",
            "KBC: uw kaartlezer vervalt vandaag. Bevestig via  zzurl ",
            "URGENT! You have won a £1000 prize. Call 09061701461 now",
            "Bekräfta din identitet 1234567890123 kod A1B2C3",
        ] {
            let folded = fold(text);
            let slow = m.logit(&features_folded(&folded, text, m.bits()));
            let fast = m.logit_folded(&folded, text);
            assert!((slow - fast).abs() < 1e-4, "{text:?}: {slow} vs {fast}");
            // the thread's bit set is left clean for the next message
            assert_eq!(m.logit_folded(&folded, text), fast, "{text:?} repeated");
        }
    }

    #[test]
    fn features_are_sorted_unique_and_bounded() {
        let f = features("Hello hello HELLO 123 zzurl", 10);
        assert!(f.windows(2).all(|w| w[0] < w[1]));
        assert!(f.iter().all(|&i| i < 1024));
        assert!(features("", 10).len() <= 8);
    }

    /// The definition the shipped model was trained with: words split on chars that are
    /// neither alphanumeric nor a kept vowel or tone mark, char 3/4-grams of `<token>` from per-char offsets, FNV-1a of every piece.
    fn features_reference(text: &str, bits: u32) -> Vec<u32> {
        let folded = fold(text);
        let mask = (1u64 << bits) - 1;
        let fnv = |kind: u8, parts: &[&[u8]]| {
            let mut h = Fnv::new(kind);
            for p in parts {
                h = h.bytes(p);
            }
            (h.0 & mask) as u32
        };
        let mut out = Vec::new();
        let (mut count, mut digit_runs) = (0usize, 0usize);
        let mut prev: Option<String> = None;
        let mut word = String::new();
        for c in folded.chars().chain(std::iter::once(' ')) {
            if crate::text::is_word_char(c) {
                word.push(c);
                continue;
            }
            if !word.is_empty() {
                let token = if word.bytes().all(|b| b.is_ascii_digit()) {
                    digit_runs += 1;
                    let len = word.len().min(12);
                    format!("#{}{}", if len >= 10 { "1" } else { "" }, len % 10)
                } else {
                    word.chars().map(|c| if c.is_ascii_digit() { '0' } else { c }).collect()
                };
                out.push(fnv(b'w', &[token.as_bytes()]));
                if let Some(p) = &prev {
                    out.push(fnv(b'b', &[p.as_bytes(), b" ", token.as_bytes()]));
                }
                let padded: Vec<char> = format!("<{token}>").chars().collect();
                for n in [3, 4] {
                    for w in padded.windows(n) {
                        let gram: String = w.iter().collect();
                        out.push(fnv(b'c', &[gram.as_bytes()]));
                    }
                }
                prev = Some(token);
                count += 1;
                word.clear();
            }
            if !c.is_whitespace() && c != ' ' {
                out.push(fnv(b'p', &[c.to_string().as_bytes()]));
            }
        }
        // the trailing ' ' added above is whitespace: no punctuation feature
        let chars = text.chars().count();
        let letters = text.chars().filter(|c| c.is_alphabetic()).count().max(1);
        let caps = text.chars().filter(|c| c.is_uppercase()).count();
        for (name, bucket) in [
            ("caps", (caps * 10 / letters).min(9)),
            ("len", (chars / 40).min(6)),
            ("words", count.min(40) / 5),
            ("digitruns", digit_runs.min(4)),
        ] {
            out.push(fnv(b'f', &[name.as_bytes(), bucket.to_string().as_bytes()]));
        }
        out.sort_unstable();
        out.dedup();
        out
    }

    fn check_features(text: &str) {
        assert_eq!(features(text, 18), features_reference(text, 18), "{text:?}");
    }

    #[test]
    fn features_follow_the_trained_definition() {
        for text in [
            "",
            "CSAM: uw account wordt op 7/11 gedeactiveerd zzurl",
            "Bekräfta din identitet på 1234567890123 ÅÄÖ straße",
            "ΑΒΓ δεζ 漢字テスト x",
            "a\u{0b}b\u{85}c\u{a0}d e1f2 99 ...!!",
            "URGENT! You have won a £1000 prize. Call 09061701461",
            "ยอดเงินคงเหลือ 1,200.00 บาท ก\u{0E49}\u{0E38}ง",
        ] {
            check_features(text);
        }
    }

    proptest::proptest! {
        #[test]
        fn features_follow_the_trained_definition_on_any_text(text in "\\PC{0,60}") {
            check_features(&text);
        }

        #[test]
        fn features_follow_the_trained_definition_on_word_like_text(
            text in "[a-zA-Z0-9 .,!éÅß\u{0b}]{0,60}",
        ) {
            check_features(&text);
        }
    }
}
