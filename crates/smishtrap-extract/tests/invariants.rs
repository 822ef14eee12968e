//! Property tests: the invariants extraction promises on any input.
//!
//! The same entry points as the cargo-fuzz targets (`fuzz/fuzz_targets/extract_*.rs`) run
//! here with many cases, because CI has no nightly toolchain for libFuzzer.
#![allow(clippy::unwrap_used)]

use proptest::prelude::*;
use smishtrap_extract::{
    SUPPORTED_LANGUAGES, defang, detect_language, extract, extract_with, normalize_url,
    parse_number, refang,
};

/// Text built from the pieces that drive the scanners: defang tokens, dots, brackets,
/// digits, separators, scripts and invisible characters.
fn sms_like() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        Just("hxxps://".to_owned()),
        Just("http://".to_owned()),
        Just("www.".to_owned()),
        Just("[.]".to_owned()),
        Just("(.)".to_owned()),
        Just("{.}".to_owned()),
        Just("[dot]".to_owned()),
        Just(" . ".to_owned()),
        Just("[:]//".to_owned()),
        Just("[/]".to_owned()),
        Just("\\.".to_owned()),
        Just("@".to_owned()),
        Just(".com".to_owned()),
        Just(".be".to_owned()),
        Just(".co.uk".to_owned()),
        Just("xn--".to_owned()),
        Just("+32".to_owned()),
        Just("00".to_owned()),
        Just(" ".to_owned()),
        Just("/".to_owned()),
        Just(":".to_owned()),
        Just("€".to_owned()),
        Just("\u{200B}".to_owned()),
        Just("\u{FF0E}".to_owned()),
        Just("а".to_owned()),
        Just("ü".to_owned()),
        Just("(".to_owned()),
        Just(")".to_owned()),
        Just("\"".to_owned()),
        "[a-z]{1,8}",
        "[0-9]{1,10}",
        "[0-9 ./()-]{1,14}",
        ".{0,4}",
    ];
    prop::collection::vec(piece, 0..24).prop_map(|v| v.concat())
}

fn check_extracted(text: &str, region: Option<&str>) {
    let e = extract_with(text, region);
    for u in &e.urls {
        assert!(
            u.span.start <= u.span.end && u.span.end <= text.len(),
            "span {:?} in {text:?}",
            u.span
        );
        assert!(text.is_char_boundary(u.span.start) && text.is_char_boundary(u.span.end));
        assert_eq!(&text[u.span.clone()], u.raw);
        assert!(
            u.url.starts_with("http://")
                || u.url.starts_with("https://")
                || u.url.starts_with("ftp://")
        );
        assert!(u.host.is_ascii() && u.host == u.host.to_ascii_lowercase(), "host {:?}", u.host);
        // normalisation is idempotent
        assert_eq!(normalize_url(&u.url).as_deref(), Some(u.url.as_str()), "from {text:?}");
        // and the normalised URL is found again in a text, with the same host
        let again = extract(&format!("see {} now", u.url));
        assert_eq!(
            again.urls.first().map(|a| a.host.as_str()),
            Some(u.host.as_str()),
            "{:?}",
            u.url
        );
    }
    for m in &e.emails {
        assert!(text.is_char_boundary(m.span.start) && text.is_char_boundary(m.span.end));
        assert_eq!(&text[m.span.clone()], m.raw);
    }
    for n in &e.numbers {
        assert!(
            n.span.end <= text.len()
                && text.is_char_boundary(n.span.start)
                && text.is_char_boundary(n.span.end)
        );
        assert_eq!(&text[n.span.clone()], n.raw);
        if let Some(p) = &n.number {
            check_e164(p.e164.as_str());
        }
    }
    for d in &e.diagnostics {
        assert!(d.message.len() < 400);
    }
    assert!(e.urls.len() <= smishtrap_extract::MAX_URLS);
    assert!(e.numbers.len() <= smishtrap_extract::MAX_NUMBERS);
}

fn check_e164(e164: &str) {
    assert!(
        e164.starts_with('+') && e164.len() <= 16 && e164[1..].bytes().all(|b| b.is_ascii_digit()),
        "{e164}"
    );
    // parsing the E.164 form again gives the same number
    assert_eq!(parse_number(e164, None).unwrap().e164.as_str(), e164);
}

fn check_language(text: &str) {
    if let Some(code) = detect_language(text) {
        assert!(SUPPORTED_LANGUAGES.contains(&code), "{code}");
    }
}

/// Inputs the fuzzers and proptest once broke on.
#[test]
fn regressions() {
    for text in [
        "htti://a%$b@c.top/x",
        "www . csam . Tel:04\u{FFFD}21\u{FFFD}3 :4 56 http://a.`@c.top/x",
        "http://{.}\".com@а\u{200b}.com[/])+32.com",
        "hxxps://([dot]3(5 ( ))/(379467800hxxps://+32[.]+32[/][:]//.com[:]//+32",
        "𭮤\u{3c2f4}  . €[.](.)€\\.00hxxps://3€\\.K",
        "00[dot]\"+32hxxps://ü\u{200b}00\\.329919653hxxps://ü",
        "(\u{200b}@)",
    ] {
        check_extracted(text, Some("BE"));
        let once = defang(text);
        assert_eq!(defang(&once), once);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 3000, ..ProptestConfig::default() })]

    #[test]
    fn extract_never_panics_on_any_string(text in any::<String>()) {
        check_extracted(&text, None);
        check_language(&text);
    }

    #[test]
    fn extract_invariants_on_sms_like_text(text in sms_like(), region in prop::option::of(prop_oneof![Just("BE"), Just("FR"), Just("SE"), Just("zz")])) {
        check_extracted(&text, region);
        check_language(&text);
        let _ = refang(&text);
    }

    #[test]
    fn parse_number_never_panics(raw in prop_oneof![any::<String>(), "[+0-9 ().-]{0,30}", "\\+?[0-9]{1,18}"], region in prop::option::of("[A-Za-z]{0,3}")) {
        if let Ok(n) = parse_number(&raw, region.as_deref()) {
            check_e164(n.e164.as_str());
            if let Some(c) = &n.country {
                prop_assert!(c.len() == 2 && c.bytes().all(|b| b.is_ascii_uppercase()), "{c}");
            }
        }
    }

    #[test]
    fn defang_is_idempotent(s in prop_oneof![sms_like(), any::<String>()]) {
        let once = defang(&s);
        prop_assert_eq!(defang(&once), once);
    }

    #[test]
    fn refang_undoes_defang_for_plain_urls(
        https in any::<bool>(),
        // no `--`: positions 3-4 are reserved for IDNs (`xn--`)
        labels in prop::collection::vec("[a-z0-9]([a-z0-9]|-[a-z0-9]){0,8}", 1..4),
        tld in prop_oneof![Just("com"), Just("be"), Just("info"), Just("co.uk"), Just("top")],
        path in "(/[A-Za-z0-9._~-]{0,12}){0,3}(\\?[a-z]=[0-9]{1,4})?",
    ) {
        let url = format!("{}://{}.{tld}{path}", if https { "https" } else { "http" }, labels.join("."));
        let d = defang(&url);
        prop_assert!(!d.contains("http://") && !d.contains("https://"), "{}", d);
        prop_assert_eq!(refang(&d).into_owned(), url.clone());
        // and the defanged form is still found as the same link
        let e = extract(&d);
        prop_assert_eq!(e.urls.len(), 1);
        prop_assert!(e.urls[0].defanged);
    }
}
