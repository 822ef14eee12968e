//! Language accuracy of the fast detector on the shared dev corpus and on this crate's own
//! fixtures, measured against gold labels and against lingua (the reference it derives from).
//!
//! Run with `--nocapture` to see the figures.
#![allow(clippy::print_stderr, clippy::unwrap_used)]

use std::path::PathBuf;

use lingua::{Language, LanguageDetector, LanguageDetectorBuilder};
use smishtrap_extract::{SUPPORTED_LANGUAGES, detect_language};

/// The languages of [`SUPPORTED_LANGUAGES`], as lingua names them.
const LINGUA_LANGUAGES: &[Language] = &[
    Language::Dutch,
    Language::French,
    Language::Swedish,
    Language::Italian,
    Language::English,
    Language::Spanish,
    Language::German,
    Language::Portuguese,
    Language::Danish,
    Language::Bokmal,
    Language::Nynorsk,
    Language::Finnish,
    Language::Polish,
    Language::Indonesian,
    Language::Malay,
    Language::Vietnamese,
    Language::Tagalog,
    Language::Turkish,
    Language::Romanian,
    Language::Czech,
    Language::Hungarian,
    Language::Croatian,
    Language::Slovak,
    Language::Slovene,
    Language::Lithuanian,
    Language::Latvian,
    Language::Estonian,
    Language::Swahili,
    Language::Afrikaans,
    Language::Catalan,
    Language::Albanian,
    Language::Russian,
    Language::Ukrainian,
    Language::Bulgarian,
    Language::Serbian,
    Language::Macedonian,
    Language::Kazakh,
    Language::Belarusian,
    Language::Mongolian,
    Language::Arabic,
    Language::Persian,
    Language::Urdu,
    Language::Hindi,
    Language::Marathi,
    Language::Thai,
    Language::Japanese,
    Language::Chinese,
    Language::Korean,
    Language::Greek,
    Language::Hebrew,
    Language::Bengali,
    Language::Tamil,
    Language::Telugu,
    Language::Gujarati,
    Language::Punjabi,
    Language::Georgian,
    Language::Armenian,
];

fn lingua(low_accuracy: bool) -> LanguageDetector {
    let mut b = LanguageDetectorBuilder::from_languages(LINGUA_LANGUAGES);
    if low_accuracy {
        b.with_low_accuracy_mode();
    }
    b.build()
}

fn lingua_code(d: &LanguageDetector, text: &str) -> Option<&'static str> {
    Some(match d.detect_language_of(text)? {
        Language::Bokmal | Language::Nynorsk => "no",
        l => {
            let code = l.iso_code_639_1().to_string();
            SUPPORTED_LANGUAGES.iter().copied().find(|c| *c == code)?
        }
    })
}

fn dev_corpus() -> Option<Vec<(String, String)>> {
    corpus("smish-dev.jsonl")
}

/// The records of a shared dev corpus with a gold language we support.
fn corpus(file: &str) -> Option<Vec<(String, String)>> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data").join(file);
    let Ok(text) = std::fs::read_to_string(&path) else {
        eprintln!("skipping: {} not found", path.display());
        return None;
    };
    let mut out = Vec::new();
    for line in text.lines() {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        if let (Some(lang), Some(text)) = (v["lang"].as_str(), v["text"].as_str())
            && SUPPORTED_LANGUAGES.contains(&lang)
        {
            out.push((lang.to_owned(), text.to_owned()));
        }
    }
    Some(out)
}

fn fixtures() -> Vec<(String, String)> {
    include_str!("fixtures/lang.tsv")
        .lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| l.split_once('\t'))
        .map(|(c, t)| (c.to_owned(), t.to_owned()))
        .collect()
}

/// Accuracy of `f` on `rows`, printing up to `show` errors.
fn accuracy(
    name: &str,
    rows: &[(String, String)],
    show: usize,
    f: impl Fn(&str) -> Option<&'static str>,
) -> f64 {
    let mut ok = 0;
    let mut shown = 0;
    for (gold, text) in rows {
        let got = f(text);
        if got == Some(gold.as_str()) {
            ok += 1;
        } else if shown < show {
            shown += 1;
            eprintln!(
                "  {name}: gold {gold} got {got:?}: {}",
                text.chars().take(100).collect::<String>()
            );
        }
    }
    let acc = ok as f64 / rows.len().max(1) as f64;
    eprintln!("{name}: {ok}/{} = {acc:.4}", rows.len());
    acc
}

#[test]
fn dev_corpus_accuracy() {
    let Some(rows) = dev_corpus() else { return };
    assert!(rows.len() > 2000);
    let acc = accuracy("fast detector on smish-dev", &rows, 100, detect_language);
    assert!(acc >= 0.97, "language accuracy {acc:.4} on smish-dev.jsonl is below 0.97");
}

/// Real reported smishing in many languages and Thai spam and ham: at least 95 % right where
/// the language is supported (a `None` counts as wrong).
#[test]
fn real_corpora_accuracy() {
    for file in ["real-imc25-sample-dev.jsonl", "real-thai-spamham-dev.jsonl"] {
        let Some(rows) = corpus(file) else { continue };
        let acc = accuracy(&format!("fast detector on {file}"), &rows, 20, detect_language);
        assert!(acc >= 0.95, "language accuracy {acc:.4} on {file}");
    }
}

/// lingua on the real corpora, for the report (slow: ignored by default).
#[test]
#[ignore]
fn lingua_reference_on_real_corpora() {
    let high = lingua(false);
    let low = lingua(true);
    for file in ["real-imc25-sample-dev.jsonl", "real-thai-spamham-dev.jsonl"] {
        let Some(rows) = corpus(file) else { continue };
        accuracy(&format!("lingua high-accuracy on {file}"), &rows, 0, |t| lingua_code(&high, t));
        accuracy(&format!("lingua low-accuracy on {file}"), &rows, 0, |t| lingua_code(&low, t));
    }
}

#[test]
fn fixture_accuracy_against_lingua() {
    let rows = fixtures();
    let fast = accuracy("fast detector on fixtures", &rows, 10, detect_language);
    let low = lingua(true);
    let lingua_low =
        accuracy("lingua low-accuracy on fixtures", &rows, 10, |t| lingua_code(&low, t));
    assert!(fast >= 0.97, "fast detector {fast:.4} on fixtures");
    // the derived detector must not be clearly worse than the model it derives from
    assert!(fast + 0.02 >= lingua_low, "fast {fast:.4} vs lingua low-accuracy {lingua_low:.4}");
}

/// lingua's high-accuracy mode on the dev corpus, for the report (slow: ignored by default).
#[test]
#[ignore]
fn lingua_reference_on_dev_corpus() {
    let Some(rows) = dev_corpus() else { return };
    let high = lingua(false);
    let low = lingua(true);
    accuracy("lingua high-accuracy on smish-dev", &rows, 10, |t| lingua_code(&high, t));
    accuracy("lingua low-accuracy on smish-dev", &rows, 10, |t| lingua_code(&low, t));
}

// lingua's held-out test sets (shipped in its model crates), per language; rows of languages
// we do not support are marked `-` and left out here.
mod support {
    include!("support/lingua_testdata.rs");
}

fn lingua_testdata(file: &str) -> Vec<(String, String)> {
    support::lingua_testdata(file).into_iter().filter(|(code, _)| code != "-").collect()
}

#[test]
fn lingua_test_sentences() {
    let rows = lingua_testdata("sentences.txt");
    let acc = accuracy("fast detector on lingua test sentences", &rows, 0, detect_language);
    assert!(acc >= 0.95, "{acc:.4}");
    let rows = lingua_testdata("word-pairs.txt");
    accuracy("fast detector on lingua test word pairs", &rows, 0, detect_language);
}

/// The same sets through lingua itself, for the report (slow: ignored by default).
#[test]
#[ignore]
fn lingua_reference_on_test_sentences() {
    let low = lingua(true);
    let high = lingua(false);
    for file in ["sentences.txt", "word-pairs.txt"] {
        let rows = lingua_testdata(file);
        accuracy(&format!("lingua low-accuracy on {file}"), &rows, 0, |t| lingua_code(&low, t));
        accuracy(&format!("lingua high-accuracy on {file}"), &rows, 0, |t| lingua_code(&high, t));
    }
}
