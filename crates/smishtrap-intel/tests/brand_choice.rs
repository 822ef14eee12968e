//! Brand choice through the engine: the recipient's number gives the country that decides
//! between brands sharing a word, and generic phrases never name a brand. Messages written
//! for this test.

use smishtrap_event::SmsRecord;
use smishtrap_intel::{AnalyzeOptions, Engine};

fn engine() -> &'static Engine {
    static ENGINE: std::sync::OnceLock<Engine> = std::sync::OnceLock::new();
    ENGINE.get_or_init(|| match Engine::builtin() {
        Ok(e) => e,
        Err(e) => panic!("{e}"),
    })
}

/// `to`: the recipient's number (its country is the recipient's country).
#[track_caller]
fn check(text: &str, to: Option<&str>, expect_brand: Option<&str>) {
    let record =
        SmsRecord { text: text.to_string(), to: to.map(str::to_string), ..SmsRecord::default() };
    let a = engine().analyze(&record, "1".into(), &AnalyzeOptions::default());
    assert_eq!(a.brand.as_deref(), expect_brand, "brand of {text:?} to {to:?}: {a:#?}");
}

const US: Option<&str> = Some("+14159302456");
const GB: Option<&str> = Some("+447911123456");
const IE: Option<&str> = Some("+353871234567");
const TH: Option<&str> = Some("+66812345678");
const PE: Option<&str> = Some("+51912345678");
const PT: Option<&str> = Some("+351912345678");
const AU: Option<&str> = Some("+61412345678");

#[test]
fn generic_phrases_alone_name_no_brand() {
    check("Your tax refund of $1,204.18 is ready. Claim it before Friday", US, None);
    check("You are due a tax rebate of £276.40, apply today", GB, None);
    check("Your package could not be delivered. Confirm your address", US, None);
    check("Final notice: unpaid toll charges on your vehicle", US, None);
}

#[test]
fn the_named_agency_is_the_brand() {
    check("IRS: your tax refund of $1,204.18 is ready. Claim it before Friday", US, Some("IRS"));
    check("HMRC: you are due a tax rebate of £276.40, apply today", GB, Some("HMRC"));
    check("SunPass: unpaid toll charges on your vehicle, pay $4.35 today", US, Some("SunPass"));
}

#[test]
fn the_recipient_country_decides_between_brands_sharing_a_word() {
    check("Revenue: you are owed a refund of €310, confirm your bank details", IE, Some("Revenue"));
    check(
        "Revenue Department: you are owed a refund, confirm your bank details",
        TH,
        Some("Revenue Department"),
    );
    check("BCP: su tarjeta fue bloqueada, llame al banco", PE, Some("BCP"));
    check("BCP: o seu cartão foi bloqueado, ligue ao banco", PT, Some("Millennium BCP"));
    check("ING: your card has been paused, call us back", AU, Some("ING Australia"));
}

#[test]
fn official_domains_never_impersonate_and_links_win() {
    let a = engine().analyze(
        &SmsRecord {
            text: "IRS: view your notice at https://www.irs.gov/notices".into(),
            to: US.map(str::to_string),
            ..SmsRecord::default()
        },
        "1".into(),
        &AnalyzeOptions::default(),
    );
    assert!(a.urls.iter().all(|u| u.impersonates.is_none()), "{a:#?}");
    assert_eq!(a.brand.as_deref(), Some("IRS"));
    check("Your refund is waiting: https://irs-refund-portal.top/claim", US, Some("IRS"));
}
