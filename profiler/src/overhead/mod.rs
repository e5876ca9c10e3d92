//! The overhead budget: what the probes may cost each target ([`budget`]), duty cycling them
//! while recording ([`duty`]) with the write and read probes in accounts of their own ([`mix`]),
//! and turning what the windows saw into estimates ([`estimate`]).

pub mod budget;
pub mod duty;
pub mod estimate;
pub mod mix;
pub mod plan;
pub mod pool;
