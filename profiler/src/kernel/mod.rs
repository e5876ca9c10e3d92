//! The kernel side: loading clprof's eBPF programs, attaching and detaching each target's
//! uprobes, reading back what the programs folded, and calibrating what a hit costs.
//!
//! [`probes::Probes`] owns the loaded programs and the targets; its [`links::Links`] own every
//! target's uprobes and links, [`xol::XolAreas`] the targets' XOL areas, and
//! [`bpf_maps`] is the one place the kernel side's maps are read and written.

pub mod bpf_maps;
pub mod calibrate;
pub mod counted;
pub mod error;
pub mod held;
pub mod links;
pub mod probes;
pub mod process_events;
pub mod target_config;
pub mod uprobe_multi;
pub mod xol;
