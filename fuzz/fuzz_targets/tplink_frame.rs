#![no_main]
// The TP-Link parsers (act frames, `cgi_gdpr` bodies, login signatures): total, bounded.
libfuzzer_sys::fuzz_target!(|data: &[u8]| smishtrap_sensor::fuzz_tplink(data));
