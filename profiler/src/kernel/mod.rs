//! The kernel side: loading clprof's eBPF programs, attaching and detaching each target's
//! uprobes, reading back what the programs folded, and calibrating what a hit costs.

pub mod calibrate;
pub mod links;
pub mod probes;
pub mod readback;
pub mod uprobe_multi;
pub mod xol;
