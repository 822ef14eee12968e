//! Language identification of short texts (ISO 639-1).

use std::sync::OnceLock;

use lingua::{Language, LanguageDetector, LanguageDetectorBuilder};

/// Languages [`detect_language`] can report.
pub const SUPPORTED_LANGUAGES: &[&str] =
    &["nl", "fr", "sv", "it", "en", "es", "de", "pt", "da", "no", "fi", "pl"];

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
];

fn detector() -> &'static LanguageDetector {
    static D: OnceLock<LanguageDetector> = OnceLock::new();
    D.get_or_init(|| {
        LanguageDetectorBuilder::from_languages(LINGUA_LANGUAGES)
            .with_low_accuracy_mode()
            .with_preloaded_language_models()
            .build()
    })
}

/// ISO 639-1 code of the text's language, `None` when there is too little text to tell.
pub fn detect_language(text: &str) -> Option<&'static str> {
    let text = &text[..crate::floor_char_boundary(text, 1024)];
    let lang = detector().detect_language_of(text)?;
    Some(match lang {
        Language::Dutch => "nl",
        Language::French => "fr",
        Language::Swedish => "sv",
        Language::Italian => "it",
        Language::English => "en",
        Language::Spanish => "es",
        Language::German => "de",
        Language::Portuguese => "pt",
        Language::Danish => "da",
        Language::Bokmal | Language::Nynorsk => "no",
        Language::Finnish => "fi",
        Language::Polish => "pl",
    })
}
