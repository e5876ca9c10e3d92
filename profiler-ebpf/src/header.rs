//! Reading a Go map header in the target: the fields userspace located (`TargetConfig`) and the
//! lines holding the fields writers dirty.

use aya_ebpf::helpers::bpf_probe_read_user;
use profiler_common::{line_of, TargetConfig, NO_FIELD, WRITTEN_FIELDS};

/// Reads the header byte at `map + offset`; 0 when absent or unreadable.
#[inline(always)]
pub fn header_u8(map: u64, offset: u16) -> u8 {
    if offset == NO_FIELD {
        return 0;
    }
    // SAFETY: reads target memory through the checked helper; failure gives 0.
    unsafe { bpf_probe_read_user((map + offset as u64) as *const u8) }.unwrap_or(0)
}

/// Reads the header word at `map + offset`; 0 when absent or unreadable.
#[inline(always)]
pub fn header_u64(map: u64, offset: u16) -> u64 {
    if offset == NO_FIELD {
        return 0;
    }
    // SAFETY: reads target memory through the checked helper; failure gives 0.
    unsafe { bpf_probe_read_user((map + offset as u64) as *const u64) }.unwrap_or(0)
}

/// The lines holding the header fields writers dirty (each once; 0 = none): Go's header fields
/// are naturally aligned and at most 8 bytes, so none straddles two lines.
#[inline(always)]
pub fn field_lines(map: u64, config: &TargetConfig) -> [u64; WRITTEN_FIELDS] {
    let mut lines = [0u64; WRITTEN_FIELDS];
    for i in 0..WRITTEN_FIELDS {
        if config.field_size[i] == 0 {
            continue;
        }
        let line = line_of(map.wrapping_add(config.field_offset[i] as u64));
        if i > 0 && line == lines[0] {
            continue;
        }
        lines[i] = line;
    }
    lines
}
