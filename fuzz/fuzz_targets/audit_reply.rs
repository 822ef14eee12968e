//! Fuzzes every parser of audited devices' replies (envelope, mailbox pages, leaked logs,
//! login page hints, certificates) and the targets file parser.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    smishtrap_audit::reply::fuzz_replies(data);
    let text = String::from_utf8_lossy(data);
    if let Ok(targets) = smishtrap_audit::parse_targets(&text, 256) {
        assert!(targets.len() <= 256);
    }
});
