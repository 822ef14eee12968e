//! Fuzzes the request recorder: raw socket bytes through the shadow HTTP reader into an
//! `Event`, which must stay bounded and survive a JSON round trip.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    smishtrap_sensor::fuzz_record(data);
});
