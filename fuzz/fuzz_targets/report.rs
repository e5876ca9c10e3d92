//! The saved-profile loader behind `clprof report FILE`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = clprof::cmd::report::load_from_bytes(data, "<fuzz input>".to_owned());
});
