// lingua's held-out test texts, shared by the detector's unit tests (`src/lang.rs`) and
// `tests/lang_accuracy.rs` (included by both, so the list of 64 model crates is written once).

/// lingua's held-out test texts (`file`: sentences, word pairs or single words) of every
/// supported language, and as `-` those of languages lingua has but we do not.
pub(crate) fn lingua_testdata(file: &str) -> Vec<(String, String)> {
    macro_rules! dirs {
        ($($code:literal => $dir:path,)*) => {
            [$(($code, $dir.get_file(file).and_then(|f| f.contents_utf8()))),*]
        };
    }
    let dirs: [(&str, Option<&str>); 64] = dirs![
        "nl" => lingua_dutch_language_model::DUTCH_TESTDATA_DIRECTORY,
        "fr" => lingua_french_language_model::FRENCH_TESTDATA_DIRECTORY,
        "sv" => lingua_swedish_language_model::SWEDISH_TESTDATA_DIRECTORY,
        "it" => lingua_italian_language_model::ITALIAN_TESTDATA_DIRECTORY,
        "en" => lingua_english_language_model::ENGLISH_TESTDATA_DIRECTORY,
        "es" => lingua_spanish_language_model::SPANISH_TESTDATA_DIRECTORY,
        "de" => lingua_german_language_model::GERMAN_TESTDATA_DIRECTORY,
        "pt" => lingua_portuguese_language_model::PORTUGUESE_TESTDATA_DIRECTORY,
        "da" => lingua_danish_language_model::DANISH_TESTDATA_DIRECTORY,
        "no" => lingua_bokmal_language_model::BOKMAL_TESTDATA_DIRECTORY,
        "no" => lingua_nynorsk_language_model::NYNORSK_TESTDATA_DIRECTORY,
        "fi" => lingua_finnish_language_model::FINNISH_TESTDATA_DIRECTORY,
        "pl" => lingua_polish_language_model::POLISH_TESTDATA_DIRECTORY,
        "id" => lingua_indonesian_language_model::INDONESIAN_TESTDATA_DIRECTORY,
        "ms" => lingua_malay_language_model::MALAY_TESTDATA_DIRECTORY,
        "vi" => lingua_vietnamese_language_model::VIETNAMESE_TESTDATA_DIRECTORY,
        "tl" => lingua_tagalog_language_model::TAGALOG_TESTDATA_DIRECTORY,
        "tr" => lingua_turkish_language_model::TURKISH_TESTDATA_DIRECTORY,
        "ro" => lingua_romanian_language_model::ROMANIAN_TESTDATA_DIRECTORY,
        "cs" => lingua_czech_language_model::CZECH_TESTDATA_DIRECTORY,
        "hu" => lingua_hungarian_language_model::HUNGARIAN_TESTDATA_DIRECTORY,
        "hr" => lingua_croatian_language_model::CROATIAN_TESTDATA_DIRECTORY,
        "sk" => lingua_slovak_language_model::SLOVAK_TESTDATA_DIRECTORY,
        "sl" => lingua_slovene_language_model::SLOVENE_TESTDATA_DIRECTORY,
        "lt" => lingua_lithuanian_language_model::LITHUANIAN_TESTDATA_DIRECTORY,
        "lv" => lingua_latvian_language_model::LATVIAN_TESTDATA_DIRECTORY,
        "et" => lingua_estonian_language_model::ESTONIAN_TESTDATA_DIRECTORY,
        "sw" => lingua_swahili_language_model::SWAHILI_TESTDATA_DIRECTORY,
        "af" => lingua_afrikaans_language_model::AFRIKAANS_TESTDATA_DIRECTORY,
        "ca" => lingua_catalan_language_model::CATALAN_TESTDATA_DIRECTORY,
        "sq" => lingua_albanian_language_model::ALBANIAN_TESTDATA_DIRECTORY,
        "ru" => lingua_russian_language_model::RUSSIAN_TESTDATA_DIRECTORY,
        "uk" => lingua_ukrainian_language_model::UKRAINIAN_TESTDATA_DIRECTORY,
        "bg" => lingua_bulgarian_language_model::BULGARIAN_TESTDATA_DIRECTORY,
        "sr" => lingua_serbian_language_model::SERBIAN_TESTDATA_DIRECTORY,
        "mk" => lingua_macedonian_language_model::MACEDONIAN_TESTDATA_DIRECTORY,
        "kk" => lingua_kazakh_language_model::KAZAKH_TESTDATA_DIRECTORY,
        "be" => lingua_belarusian_language_model::BELARUSIAN_TESTDATA_DIRECTORY,
        "mn" => lingua_mongolian_language_model::MONGOLIAN_TESTDATA_DIRECTORY,
        "ar" => lingua_arabic_language_model::ARABIC_TESTDATA_DIRECTORY,
        "fa" => lingua_persian_language_model::PERSIAN_TESTDATA_DIRECTORY,
        "ur" => lingua_urdu_language_model::URDU_TESTDATA_DIRECTORY,
        "hi" => lingua_hindi_language_model::HINDI_TESTDATA_DIRECTORY,
        "mr" => lingua_marathi_language_model::MARATHI_TESTDATA_DIRECTORY,
        "th" => lingua_thai_language_model::THAI_TESTDATA_DIRECTORY,
        "ja" => lingua_japanese_language_model::JAPANESE_TESTDATA_DIRECTORY,
        "zh" => lingua_chinese_language_model::CHINESE_TESTDATA_DIRECTORY,
        "ko" => lingua_korean_language_model::KOREAN_TESTDATA_DIRECTORY,
        "el" => lingua_greek_language_model::GREEK_TESTDATA_DIRECTORY,
        "he" => lingua_hebrew_language_model::HEBREW_TESTDATA_DIRECTORY,
        "bn" => lingua_bengali_language_model::BENGALI_TESTDATA_DIRECTORY,
        "ta" => lingua_tamil_language_model::TAMIL_TESTDATA_DIRECTORY,
        "te" => lingua_telugu_language_model::TELUGU_TESTDATA_DIRECTORY,
        "gu" => lingua_gujarati_language_model::GUJARATI_TESTDATA_DIRECTORY,
        "pa" => lingua_punjabi_language_model::PUNJABI_TESTDATA_DIRECTORY,
        "ka" => lingua_georgian_language_model::GEORGIAN_TESTDATA_DIRECTORY,
        "hy" => lingua_armenian_language_model::ARMENIAN_TESTDATA_DIRECTORY,
        "-" => lingua_basque_language_model::BASQUE_TESTDATA_DIRECTORY,
        "-" => lingua_esperanto_language_model::ESPERANTO_TESTDATA_DIRECTORY,
        "-" => lingua_welsh_language_model::WELSH_TESTDATA_DIRECTORY,
        "-" => lingua_icelandic_language_model::ICELANDIC_TESTDATA_DIRECTORY,
        "-" => lingua_yoruba_language_model::YORUBA_TESTDATA_DIRECTORY,
        "-" => lingua_zulu_language_model::ZULU_TESTDATA_DIRECTORY,
        "-" => lingua_somali_language_model::SOMALI_TESTDATA_DIRECTORY,
    ];
    let mut rows = Vec::new();
    for (code, text) in dirs {
        rows.extend(text.unwrap_or("").lines().map(|l| (code.to_owned(), l.to_owned())));
    }
    rows
}
