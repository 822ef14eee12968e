//! Fuzzes the `/cgi` body parser and call classifier (JSON, form-encoded JSON, query string).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    smishtrap_sensor::fuzz_cgi(data);
});
