//! The overhead budget: what the probes may cost each target ([`budget`]), duty cycling them
//! while recording ([`duty`]), and turning what the windows saw into estimates ([`estimate`]).

pub mod budget;
pub mod duty;
pub mod estimate;
pub mod plan;
