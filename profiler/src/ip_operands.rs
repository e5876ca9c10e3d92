//! The data access behind each user IP the perf samples hit, decoded once per IP of a target and
//! handed to the kernel side (`IP_OPERANDS`): every later sample at that IP then computes its
//! data address from its registers and is folded per line there (see
//! `profiler_common::sampled`). IPs in code clprof cannot read (in neither Go's function table
//! nor the symbol table: a stripped cgo binary's C, the vDSO) or whose instruction touches no
//! memory it can follow get a marker, so that each is looked at once.

use std::{
    collections::HashSet,
    time::{Duration, Instant},
};

use profiler_common::{operand::SampleIp, sampled::IpOperand, IpKey};

use crate::{
    inspect::operand::{access_for, NoAccess},
    kernel::probes::Probes,
    target::Target,
};

/// How often the sampled IPs are looked through for new ones.
const EVERY: Duration = Duration::from_millis(250);

/// What became of the IPs decoded so far.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DecodeCounts {
    /// IPs with a data access the kernel side now follows.
    pub accesses: u64,
    /// IPs whose instruction touches no memory that can be followed (see [`NoAccess`]).
    pub no_access: u64,
    /// IPs in code in neither Go's function table nor the symbol table's functions, or in a
    /// process without symbols.
    pub unreadable: u64,
}

/// Decodes the sampled IPs of the targets as they appear.
pub struct IpDecoder {
    known: HashSet<IpKey>,
    next: Instant,
    /// Where the perf source's IPs stand relative to their access.
    how: SampleIp,
    pub counts: DecodeCounts,
}

impl IpDecoder {
    /// A decoder for the IPs of a source whose samples stand `how` to their access.
    pub fn new(how: SampleIp) -> Self {
        IpDecoder {
            known: HashSet::new(),
            next: Instant::now(),
            how,
            counts: DecodeCounts::default(),
        }
    }

    /// Decodes the IPs sampled since the last look (at most every [`EVERY`]) in the processes
    /// of `targets`, and writes their operands to the kernel side.
    pub fn step<'a>(&mut self, probes: &mut Probes, targets: impl Fn(u32) -> Option<&'a Target>) {
        let now = Instant::now();
        if now < self.next {
            return;
        }
        self.next = now + EVERY;
        let keys = match probes.maps().perf_ip_keys() {
            Ok(keys) => keys,
            Err(e) => {
                tracing::debug!("reading the sampled IPs: {e}");
                return;
            }
        };
        let fresh: Vec<IpKey> = keys.into_iter().filter(|k| self.known.insert(*k)).collect();
        let new: Vec<(IpKey, IpOperand)> = fresh
            .into_iter()
            .map(|k| (k, self.decode(targets(k.pid), k.ip)))
            .collect();
        if new.is_empty() {
            return;
        }
        if let Err(e) = probes.set_ip_operands(&new) {
            tracing::debug!("writing {} decoded IPs: {e}", new.len());
        }
    }

    /// The operand behind a sample at runtime address `ip` of `target`, counted.
    fn decode(&mut self, target: Option<&Target>, ip: u64) -> IpOperand {
        match operand_at(target, ip, self.how) {
            Some(Ok(operand)) => {
                self.counts.accesses += 1;
                operand
            }
            Some(Err(why)) => {
                tracing::trace!(ip, %why, "no data access");
                self.counts.no_access += 1;
                IpOperand::NONE
            }
            None => {
                self.counts.unreadable += 1;
                IpOperand::NONE
            }
        }
    }
}

/// The operand of a sample at runtime address `ip` of `target` standing `how` to its access;
/// None where its code cannot be read.
fn operand_at(
    target: Option<&Target>,
    ip: u64,
    how: SampleIp,
) -> Option<Result<IpOperand, NoAccess>> {
    let target = target?;
    let file_ip = ip.checked_sub(target.bias?)?;
    let (entry, code) = target.symbolizer.as_ref()?.code_at(file_ip)?;
    Some(access_for(code, entry, file_ip, how).map(|a| IpOperand { operand: a.operand }))
}
