//! Go's function table (`.gopclntab`): locating it in an ELF file, listing the functions and
//! expanding the inlined frames at PCs inside them.
#![no_main]

use clprof::symbolize::gopclntab::GoLineTable;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some(table) = GoLineTable::from_data(data.to_vec()) else {
        return;
    };
    let _ = table.found_by();
    let _ = table.moduledata_word(0);
    let pcs: Vec<u64> = table
        .functions()
        .take(64)
        .flat_map(|f| [f.entry, f.entry.wrapping_add(1), f.end.wrapping_sub(1)])
        .collect();
    for pc in pcs {
        let _ = table.frames(pc);
    }
});
