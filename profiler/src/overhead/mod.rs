//! The overhead budget: the share perf sampling takes ([`share`]), what the probes may cost
//! each target ([`budget`]), one pool for the
//! accounts of all targets ([`pool`]), duty cycling them while recording ([`duty`]) with the
//! write and read probes in accounts of their own ([`mix`]), the accounts kept from one daemon
//! window to the next ([`ledger`]), and turning what the windows saw into estimates
//! ([`estimate`]).

pub mod budget;
pub mod duty;
pub mod estimate;
pub mod ledger;
pub mod mix;
pub mod outcome;
pub mod plan;
pub mod pool;
pub mod share;
