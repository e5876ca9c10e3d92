//! The decoder of the data access behind a sampled IP.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| clprof::inspect::fuzz::operand_bytes(data));
