#![no_main]
// The family dialects' body parsers (HiLink XML, ZTE goform hex bodies): total, bounded.
libfuzzer_sys::fuzz_target!(|data: &[u8]| smishtrap_sensor::fuzz_dialects(data));
