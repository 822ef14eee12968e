//! Fuzzes the audit's target-list parser (lines of hosts, URLs and CIDRs, Shodan/Censys JSON).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    smishtrap_audit::target::fuzz_targets(data);
});
