//! Finding the processes to record with `--all-go`: a scan of `/proc` at start-up ([`scan`]),
//! then the exec and exit tracepoints while recording ([`follow`]): a process that execs a Go
//! binary is attached within the second, and an exit is noticed at once.

pub mod follow;
pub mod scan;

use crate::{
    inspect::{self, TargetError},
    session::{ProbePlan, Recorded},
};

/// The target to record for `found` (a Go process): its namespace pid and container. Its
/// symbols are not read yet (see [`Recorded::symbolizer`]): a process found by its exec is
/// attached first.
pub fn recorded(found: inspect::Target, plan: &ProbePlan) -> Result<Recorded, TargetError> {
    let inspect::Target {
        pid,
        exe,
        attach_path,
        binary,
    } = found;
    let binary = plan.go_binary(Ok(binary))?;
    Ok(Recorded {
        pid,
        ns_pid: inspect::ns_pid_of(pid),
        container: inspect::container::of(pid),
        exe: exe.display().to_string(),
        symbolizer: None,
        attach_path,
        binary,
        bias: None,
    })
}
