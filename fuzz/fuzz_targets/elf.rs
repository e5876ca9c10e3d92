//! The ELF, `.go.buildinfo`/build-id and map type-descriptor readers.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| clprof::inspect::fuzz::elf_bytes(data));
