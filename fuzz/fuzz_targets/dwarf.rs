//! The DWARF layout reader: map header structs, map types and global variables.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| clprof::inspect::fuzz::dwarf_bytes(data));
