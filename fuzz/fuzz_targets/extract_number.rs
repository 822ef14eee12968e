//! Fuzzes phone-number parsing (libphonenumber metadata through the `phonenumber` crate,
//! which has known panics: `parse_number` must catch them and stay total).
#![no_main]

use libfuzzer_sys::fuzz_target;
use smishtrap_extract::parse_number;

fuzz_target!(|data: &[u8]| {
    // first byte picks a region hint, the rest is the number
    let (region, raw) = match data.split_first() {
        Some((&b, rest)) => (
            ["BE", "FR", "SE", "IT", "NL", "US", "GB", "ZZ"].get(usize::from(b % 9)).copied(),
            rest,
        ),
        None => (None, data),
    };
    let raw = String::from_utf8_lossy(raw);
    if let Ok(n) = parse_number(&raw, region) {
        let e = n.e164.as_str();
        assert!(e.starts_with('+') && e.len() <= 16 && e[1..].bytes().all(|b| b.is_ascii_digit()));
        assert_eq!(parse_number(e, None).map(|m| m.e164), Ok(n.e164));
    }
});
