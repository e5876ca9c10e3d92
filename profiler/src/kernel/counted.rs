//! The probed functions whose hits are counted, by probe id (the index of their counter in the
//! kernel side's `HITS`). Ids are few (`MAX_PROBES`), so those of a target that is gone are
//! given out again: a daemon following a churn of processes would otherwise run out of them
//! after a few hundred.

use profiler_common::MAX_PROBES;

use crate::kernel::error::AttachError;

/// A probed function whose hits are counted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CountedProbe {
    pub pid: u32,
    /// The binary as the user knows it.
    pub binary: String,
    pub symbol: String,
}

/// Probe ids in use (Some) and free again (None).
#[derive(Default)]
pub struct CountedProbes {
    ids: Vec<Option<CountedProbe>>,
}

impl CountedProbes {
    /// An id for `probe`: the lowest free one.
    pub fn add(&mut self, probe: CountedProbe) -> Result<u32, AttachError> {
        let id = match self.ids.iter().position(Option::is_none) {
            Some(free) => free,
            None if (self.ids.len() as u32) < MAX_PROBES => {
                self.ids.push(None);
                self.ids.len() - 1
            }
            None => return Err(AttachError::TooManyProbes),
        };
        self.ids[id] = Some(probe);
        Ok(id as u32)
    }

    /// Frees the ids of `pid`'s probes; returns them (their counters are to be zeroed).
    pub fn release(&mut self, pid: u32) -> Vec<u32> {
        let mut freed = Vec::new();
        for (id, slot) in self.ids.iter_mut().enumerate() {
            if slot.as_ref().is_some_and(|p| p.pid == pid) {
                *slot = None;
                freed.push(id as u32);
            }
        }
        freed
    }

    /// Ids handed out so far: `0..id_count` covers every one in use.
    pub fn id_count(&self) -> usize {
        self.ids.len()
    }

    /// The probe with id `id`, if in use.
    pub fn get(&self, id: usize) -> Option<&CountedProbe> {
        self.ids.get(id).and_then(Option::as_ref)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn probe(pid: u32, symbol: &str) -> CountedProbe {
        CountedProbe {
            pid,
            binary: "/bin/x".into(),
            symbol: symbol.into(),
        }
    }

    #[test]
    fn ids_of_a_released_target_are_given_out_again() {
        let mut counted = CountedProbes::default();
        assert_eq!(counted.add(probe(1, "a")).unwrap(), 0);
        assert_eq!(counted.add(probe(2, "b")).unwrap(), 1);
        assert_eq!(counted.add(probe(1, "c")).unwrap(), 2);
        assert_eq!(counted.release(1), vec![0, 2]);
        assert_eq!(counted.get(0), None);
        assert_eq!(counted.get(1), Some(&probe(2, "b")));
        assert_eq!(counted.add(probe(3, "d")).unwrap(), 0);
        assert_eq!(counted.add(probe(3, "e")).unwrap(), 2);
        assert_eq!(counted.add(probe(3, "f")).unwrap(), 3);
        assert_eq!(counted.id_count(), 4);
    }

    #[test]
    fn a_churn_of_targets_never_runs_out_of_ids() {
        let mut counted = CountedProbes::default();
        for pid in 0..10 * MAX_PROBES {
            for symbol in ["a", "b", "c"] {
                counted
                    .add(probe(pid, symbol))
                    .unwrap_or_else(|e| panic!("target {pid}: {e}"));
            }
            counted.release(pid);
        }
        assert_eq!(counted.id_count(), 3);
    }

    #[test]
    fn live_probes_are_bounded() {
        let mut counted = CountedProbes::default();
        for id in 0..MAX_PROBES {
            counted.add(probe(id, "a")).expect("within the bound");
        }
        assert!(matches!(
            counted.add(probe(0, "b")),
            Err(AttachError::TooManyProbes)
        ));
    }
}
