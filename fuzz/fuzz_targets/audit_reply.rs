//! Fuzzes the audit's parsers of what an audited device answers: the `/cgi` and `/islogin`
//! envelope, mailbox pages, leaked logins in a log, login-page vendor hints, certificates.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    smishtrap_audit::reply::fuzz_replies(data);
});
