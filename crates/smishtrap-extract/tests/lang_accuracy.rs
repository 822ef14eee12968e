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

/// lingua's held-out test sets (shipped in its model crates), per language.
fn lingua_testdata(file: &str) -> Vec<(String, String)> {
    let dirs = [
        (
            "nl",
            lingua_dutch_language_model::DUTCH_TESTDATA_DIRECTORY
                .get_file(file)
                .and_then(|f| f.contents_utf8()),
        ),
        (
            "fr",
            lingua_french_language_model::FRENCH_TESTDATA_DIRECTORY
                .get_file(file)
                .and_then(|f| f.contents_utf8()),
        ),
        (
            "sv",
            lingua_swedish_language_model::SWEDISH_TESTDATA_DIRECTORY
                .get_file(file)
                .and_then(|f| f.contents_utf8()),
        ),
        (
            "it",
            lingua_italian_language_model::ITALIAN_TESTDATA_DIRECTORY
                .get_file(file)
                .and_then(|f| f.contents_utf8()),
        ),
        (
            "en",
            lingua_english_language_model::ENGLISH_TESTDATA_DIRECTORY
                .get_file(file)
                .and_then(|f| f.contents_utf8()),
        ),
        (
            "es",
            lingua_spanish_language_model::SPANISH_TESTDATA_DIRECTORY
                .get_file(file)
                .and_then(|f| f.contents_utf8()),
        ),
        (
            "de",
            lingua_german_language_model::GERMAN_TESTDATA_DIRECTORY
                .get_file(file)
                .and_then(|f| f.contents_utf8()),
        ),
        (
            "pt",
            lingua_portuguese_language_model::PORTUGUESE_TESTDATA_DIRECTORY
                .get_file(file)
                .and_then(|f| f.contents_utf8()),
        ),
        (
            "da",
            lingua_danish_language_model::DANISH_TESTDATA_DIRECTORY
                .get_file(file)
                .and_then(|f| f.contents_utf8()),
        ),
        (
            "no",
            lingua_bokmal_language_model::BOKMAL_TESTDATA_DIRECTORY
                .get_file(file)
                .and_then(|f| f.contents_utf8()),
        ),
        (
            "no",
            lingua_nynorsk_language_model::NYNORSK_TESTDATA_DIRECTORY
                .get_file(file)
                .and_then(|f| f.contents_utf8()),
        ),
        (
            "fi",
            lingua_finnish_language_model::FINNISH_TESTDATA_DIRECTORY
                .get_file(file)
                .and_then(|f| f.contents_utf8()),
        ),
        (
            "pl",
            lingua_polish_language_model::POLISH_TESTDATA_DIRECTORY
                .get_file(file)
                .and_then(|f| f.contents_utf8()),
        ),
        (
            "id",
            lingua_indonesian_language_model::INDONESIAN_TESTDATA_DIRECTORY
                .get_file(file)
                .and_then(|f| f.contents_utf8()),
        ),
        (
            "ms",
            lingua_malay_language_model::MALAY_TESTDATA_DIRECTORY
                .get_file(file)
                .and_then(|f| f.contents_utf8()),
        ),
        (
            "vi",
            lingua_vietnamese_language_model::VIETNAMESE_TESTDATA_DIRECTORY
                .get_file(file)
                .and_then(|f| f.contents_utf8()),
        ),
        (
            "tl",
            lingua_tagalog_language_model::TAGALOG_TESTDATA_DIRECTORY
                .get_file(file)
                .and_then(|f| f.contents_utf8()),
        ),
        (
            "tr",
            lingua_turkish_language_model::TURKISH_TESTDATA_DIRECTORY
                .get_file(file)
                .and_then(|f| f.contents_utf8()),
        ),
        (
            "ro",
            lingua_romanian_language_model::ROMANIAN_TESTDATA_DIRECTORY
                .get_file(file)
                .and_then(|f| f.contents_utf8()),
        ),
        (
            "cs",
            lingua_czech_language_model::CZECH_TESTDATA_DIRECTORY
                .get_file(file)
                .and_then(|f| f.contents_utf8()),
        ),
        (
            "hu",
            lingua_hungarian_language_model::HUNGARIAN_TESTDATA_DIRECTORY
                .get_file(file)
                .and_then(|f| f.contents_utf8()),
        ),
        (
            "hr",
            lingua_croatian_language_model::CROATIAN_TESTDATA_DIRECTORY
                .get_file(file)
                .and_then(|f| f.contents_utf8()),
        ),
        (
            "sk",
            lingua_slovak_language_model::SLOVAK_TESTDATA_DIRECTORY
                .get_file(file)
                .and_then(|f| f.contents_utf8()),
        ),
        (
            "sl",
            lingua_slovene_language_model::SLOVENE_TESTDATA_DIRECTORY
                .get_file(file)
                .and_then(|f| f.contents_utf8()),
        ),
        (
            "lt",
            lingua_lithuanian_language_model::LITHUANIAN_TESTDATA_DIRECTORY
                .get_file(file)
                .and_then(|f| f.contents_utf8()),
        ),
        (
            "lv",
            lingua_latvian_language_model::LATVIAN_TESTDATA_DIRECTORY
                .get_file(file)
                .and_then(|f| f.contents_utf8()),
        ),
        (
            "et",
            lingua_estonian_language_model::ESTONIAN_TESTDATA_DIRECTORY
                .get_file(file)
                .and_then(|f| f.contents_utf8()),
        ),
        (
            "sw",
            lingua_swahili_language_model::SWAHILI_TESTDATA_DIRECTORY
                .get_file(file)
                .and_then(|f| f.contents_utf8()),
        ),
        (
            "af",
            lingua_afrikaans_language_model::AFRIKAANS_TESTDATA_DIRECTORY
                .get_file(file)
                .and_then(|f| f.contents_utf8()),
        ),
        (
            "ca",
            lingua_catalan_language_model::CATALAN_TESTDATA_DIRECTORY
                .get_file(file)
                .and_then(|f| f.contents_utf8()),
        ),
        (
            "sq",
            lingua_albanian_language_model::ALBANIAN_TESTDATA_DIRECTORY
                .get_file(file)
                .and_then(|f| f.contents_utf8()),
        ),
        (
            "ru",
            lingua_russian_language_model::RUSSIAN_TESTDATA_DIRECTORY
                .get_file(file)
                .and_then(|f| f.contents_utf8()),
        ),
        (
            "uk",
            lingua_ukrainian_language_model::UKRAINIAN_TESTDATA_DIRECTORY
                .get_file(file)
                .and_then(|f| f.contents_utf8()),
        ),
        (
            "bg",
            lingua_bulgarian_language_model::BULGARIAN_TESTDATA_DIRECTORY
                .get_file(file)
                .and_then(|f| f.contents_utf8()),
        ),
        (
            "sr",
            lingua_serbian_language_model::SERBIAN_TESTDATA_DIRECTORY
                .get_file(file)
                .and_then(|f| f.contents_utf8()),
        ),
        (
            "mk",
            lingua_macedonian_language_model::MACEDONIAN_TESTDATA_DIRECTORY
                .get_file(file)
                .and_then(|f| f.contents_utf8()),
        ),
        (
            "kk",
            lingua_kazakh_language_model::KAZAKH_TESTDATA_DIRECTORY
                .get_file(file)
                .and_then(|f| f.contents_utf8()),
        ),
        (
            "be",
            lingua_belarusian_language_model::BELARUSIAN_TESTDATA_DIRECTORY
                .get_file(file)
                .and_then(|f| f.contents_utf8()),
        ),
        (
            "mn",
            lingua_mongolian_language_model::MONGOLIAN_TESTDATA_DIRECTORY
                .get_file(file)
                .and_then(|f| f.contents_utf8()),
        ),
        (
            "ar",
            lingua_arabic_language_model::ARABIC_TESTDATA_DIRECTORY
                .get_file(file)
                .and_then(|f| f.contents_utf8()),
        ),
        (
            "fa",
            lingua_persian_language_model::PERSIAN_TESTDATA_DIRECTORY
                .get_file(file)
                .and_then(|f| f.contents_utf8()),
        ),
        (
            "ur",
            lingua_urdu_language_model::URDU_TESTDATA_DIRECTORY
                .get_file(file)
                .and_then(|f| f.contents_utf8()),
        ),
        (
            "hi",
            lingua_hindi_language_model::HINDI_TESTDATA_DIRECTORY
                .get_file(file)
                .and_then(|f| f.contents_utf8()),
        ),
        (
            "mr",
            lingua_marathi_language_model::MARATHI_TESTDATA_DIRECTORY
                .get_file(file)
                .and_then(|f| f.contents_utf8()),
        ),
        (
            "th",
            lingua_thai_language_model::THAI_TESTDATA_DIRECTORY
                .get_file(file)
                .and_then(|f| f.contents_utf8()),
        ),
        (
            "ja",
            lingua_japanese_language_model::JAPANESE_TESTDATA_DIRECTORY
                .get_file(file)
                .and_then(|f| f.contents_utf8()),
        ),
        (
            "zh",
            lingua_chinese_language_model::CHINESE_TESTDATA_DIRECTORY
                .get_file(file)
                .and_then(|f| f.contents_utf8()),
        ),
        (
            "ko",
            lingua_korean_language_model::KOREAN_TESTDATA_DIRECTORY
                .get_file(file)
                .and_then(|f| f.contents_utf8()),
        ),
        (
            "el",
            lingua_greek_language_model::GREEK_TESTDATA_DIRECTORY
                .get_file(file)
                .and_then(|f| f.contents_utf8()),
        ),
        (
            "he",
            lingua_hebrew_language_model::HEBREW_TESTDATA_DIRECTORY
                .get_file(file)
                .and_then(|f| f.contents_utf8()),
        ),
        (
            "bn",
            lingua_bengali_language_model::BENGALI_TESTDATA_DIRECTORY
                .get_file(file)
                .and_then(|f| f.contents_utf8()),
        ),
        (
            "ta",
            lingua_tamil_language_model::TAMIL_TESTDATA_DIRECTORY
                .get_file(file)
                .and_then(|f| f.contents_utf8()),
        ),
        (
            "te",
            lingua_telugu_language_model::TELUGU_TESTDATA_DIRECTORY
                .get_file(file)
                .and_then(|f| f.contents_utf8()),
        ),
        (
            "gu",
            lingua_gujarati_language_model::GUJARATI_TESTDATA_DIRECTORY
                .get_file(file)
                .and_then(|f| f.contents_utf8()),
        ),
        (
            "pa",
            lingua_punjabi_language_model::PUNJABI_TESTDATA_DIRECTORY
                .get_file(file)
                .and_then(|f| f.contents_utf8()),
        ),
        (
            "ka",
            lingua_georgian_language_model::GEORGIAN_TESTDATA_DIRECTORY
                .get_file(file)
                .and_then(|f| f.contents_utf8()),
        ),
        (
            "hy",
            lingua_armenian_language_model::ARMENIAN_TESTDATA_DIRECTORY
                .get_file(file)
                .and_then(|f| f.contents_utf8()),
        ),
    ];
    let mut rows = Vec::new();
    for (code, text) in dirs {
        rows.extend(text.unwrap().lines().map(|l| (code.to_owned(), l.to_owned())));
    }
    rows
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
