//! Invariants of the engine on arbitrary input: never panics, score in 0..=1 and consistent
//! with the verdict, impersonated brands come from the catalog, reasons show no live link.

use proptest::prelude::*;
use smishtrap_event::SmsRecord;
use smishtrap_intel::{AnalyzeOptions, Engine, Verdict};

fn engine() -> &'static Engine {
    static E: std::sync::OnceLock<Engine> = std::sync::OnceLock::new();
    E.get_or_init(|| match Engine::builtin() {
        Ok(e) => e,
        Err(e) => panic!("engine: {e}"),
    })
}

fn fragment() -> impl Strategy<Value = String> {
    prop_oneof![
        "\\PC{0,20}",
        Just("https://".to_string()),
        Just("hxxps://".to_string()),
        Just("[.]".to_string()),
        Just(" . ".to_string()),
        Just("csam".to_string()),
        Just("bpost".to_string()),
        Just("-be".to_string()),
        Just(".info/".to_string()),
        Just("xn--".to_string()),
        Just("ING ".to_string()),
        Just("+32470123456".to_string()),
        Just("0906 170 1461".to_string()),
        Just("vérifiez votre identité".to_string()),
        Just("\u{0441}\u{0455}am".to_string()),
        Just("<URL>".to_string()),
        Just("<PHONE_NUMBER>".to_string()),
        Just("[link]".to_string()),
        Just(" dot com".to_string()),
        Just("hi mum new number ".to_string()),
        Just("your account is blocked ".to_string()),
        Just("reply YES ".to_string()),
        Just("pay the fee ".to_string()),
        Just("kbc-veilig.top/x ".to_string()),
        Just("50% off sale ".to_string()),
        Just("your OTP is 123456 ".to_string()),
        Just("บัญชีของท่านถูกระงับ".to_string()),
        "[a-z0-9-]{1,12}\\.[a-z]{2,6}",
    ]
}

/// Verdict and reasons never contradict each other (docs/verdict.md): only a smishing verdict
/// lists a claim of impersonation or a lure, a link that imitates a brand is never anything
/// but smishing, and every verdict gives at least one reason.
fn reasons_agree(a: &smishtrap_intel::Analysis) -> Result<(), TestCaseError> {
    const CLAIMS: [&str; 6] = [
        "imitates",
        "but links to",
        "invokes ",
        "mixes alphabets",
        "through a link",
        "offers nothing",
    ];
    prop_assert!(!a.reasons.is_empty(), "no reason for {:?}", a.verdict);
    if a.verdict != Verdict::Smishing {
        for r in &a.reasons {
            prop_assert!(!CLAIMS.iter().any(|c| r.contains(c)), "{:?} lists {}", a.verdict, r);
        }
    }
    if a.urls.iter().any(|u| u.impersonates.is_some()) {
        prop_assert_eq!(a.verdict, Verdict::Smishing, "impersonating link: {:?}", a.reasons);
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    #[test]
    fn analysis_invariants(parts in proptest::collection::vec(fragment(), 0..12), to in proptest::option::of("\\PC{0,20}"), region in proptest::option::of("[A-Z]{2}")) {
        let text: String = parts.concat();
        let record = SmsRecord { text, to, router_country: region, ..SmsRecord::default() };
        let a = engine().analyze(&record, "x".into(), &AnalyzeOptions::default());
        prop_assert!((0.0..=1.0).contains(&a.score), "score {}", a.score);
        prop_assert_eq!(a.verdict != Verdict::Ham, a.score >= 0.5);
        for u in &a.urls {
            if let Some(b) = &u.impersonates {
                prop_assert!(engine().catalog().find(b).is_some(), "unknown brand {}", b);
                prop_assert!(u.technique.is_some());
            }
        }
        if let Some(b) = &a.brand {
            prop_assert!(engine().catalog().find(b).is_some());
        }
        for r in &a.reasons {
            prop_assert!(!r.contains("://") || r.contains("hxxp"), "live link in reason {}", r);
            prop_assert!(!r.chars().any(char::is_control), "control char in reason {:?}", r);
        }
        prop_assert!(a.campaign.is_none() && a.phase.is_none());
        reasons_agree(&a)?;
    }

    #[test]
    fn fold_is_idempotent(s in "\\PC{0,40}") {
        let once = smishtrap_intel::text::fold(&s);
        prop_assert_eq!(smishtrap_intel::text::fold(&once), once);
    }
}
