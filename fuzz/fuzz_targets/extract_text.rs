//! Fuzzes text extraction (URLs, mentioned numbers, refang) and language detection with
//! arbitrary bytes decoded lossily, as `analyze` does with invalid UTF-8.
#![no_main]

use libfuzzer_sys::fuzz_target;
use smishtrap_extract::{defang, detect_language, extract, extract_with, normalize_url, refang};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let e = extract_with(&text, Some("BE"));
    for u in &e.urls {
        assert!(text.is_char_boundary(u.span.start) && text.is_char_boundary(u.span.end));
        assert_eq!(&text[u.span.clone()], u.raw);
        // normalisation is idempotent, and the normalised URL is found again
        assert_eq!(normalize_url(&u.url).as_deref(), Some(u.url.as_str()));
        let again = extract(&format!("see {} now", u.url));
        assert_eq!(again.urls.first().map(|a| a.host.as_str()), Some(u.host.as_str()));
    }
    for n in &e.numbers {
        assert_eq!(&text[n.span.clone()], n.raw);
    }
    let once = defang(&text);
    assert_eq!(defang(&once), once);
    let _ = refang(&text);
    let _ = detect_language(&text);
});
