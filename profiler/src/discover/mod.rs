//! Finding the processes to record with `--all-go`: a scan of `/proc` at start-up ([`scan`]),
//! then the exec and exit tracepoints while recording ([`follow`]): a process that execs a Go
//! binary is attached within the second, and an exit is noticed at once.

pub mod follow;
pub mod scan;
