//! The exec and exit tracepoints (`profiler_common::process`): loaded and attached only when
//! clprof follows processes as they start (`--all-go`). They are raw tracepoints, found by name,
//! so no tracefs mount is needed; they stay attached as long as clprof's programs are loaded.

use aya::{
    maps::{MapData, RingBuf},
    programs::RawTracePoint,
    Ebpf,
};
use profiler_common::process::{
    PROCESS_EVENTS, PROGRAM_PROCESS_EXEC, PROGRAM_PROCESS_EXIT, TRACEPOINT_EXEC, TRACEPOINT_EXIT,
};

use crate::kernel::error::AttachError;

/// Loads and attaches both programs; the ring buffer they send to.
pub fn attach(ebpf: &mut Ebpf) -> Result<RingBuf<MapData>, AttachError> {
    for (name, tracepoint) in [
        (PROGRAM_PROCESS_EXEC, TRACEPOINT_EXEC),
        (PROGRAM_PROCESS_EXIT, TRACEPOINT_EXIT),
    ] {
        let program: &mut RawTracePoint = ebpf
            .program_mut(name)
            .ok_or(AttachError::Missing(name))?
            .try_into()?;
        program.load()?;
        program.attach(tracepoint)?;
    }
    let map = ebpf
        .take_map(PROCESS_EVENTS)
        .ok_or(AttachError::Missing(PROCESS_EVENTS))?;
    Ok(RingBuf::try_from(map)?)
}
