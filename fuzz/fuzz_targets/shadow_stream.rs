//! Fuzzes the shadow HTTP reader as the socket drives it (reads of any size; the held-back
//! bytes are always the unfinished head at the end) and the lenient reader of refused heads.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    smishtrap_sensor::fuzz_shadow(data);
});
