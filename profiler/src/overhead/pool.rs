//! One budget for every target: the accounts of all targets draw on one pool.
//!
//! `--budget PCT` bounds what clprof costs the targets together to PCT percent of the CPU time
//! they spend on their own work. Each target keeps its own account ([`Duty`]), which earns the
//! budget's share of the target's own work and pays for its probes: that share is the target's
//! own and no other target can take it, so a busy target never starves another one. What an
//! account holds beyond what its longest window needs is lent to the pool; accounts short of
//! their longest window borrow from it, every borrower raised by the same fraction of its own
//! work (water-filling by own CPU time), and none beyond [`CAP_FACTOR`] times the budget of its
//! own work: the per-target ceiling. Transfers move allowance from account to account and sum to
//! zero, so the total cost stays within the budget of the summed CPU time, as each account stays
//! within its own allowance. It is the rate-and-ceiling rule of hierarchical token buckets: the
//! own share is the guaranteed rate, the ceiling bounds what borrowing can add.
//!
//! Pure logic (balances in, transfers out), tested by simulation.

use crate::overhead::budget::Duty;

/// Highest cost a target may be charged, as a multiple of the budget of its own work, when it
/// borrows the allowance other targets left unused.
pub const CAP_FACTOR: f64 = 3.0;

/// One account as the pool sees it (ns, as of its last observation).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Standing {
    /// What the account may still spend; negative when overspent.
    pub balance_ns: f64,
    /// What it holds on to before lending: the allowance its longest window needs.
    pub need_ns: f64,
    /// The target's own work.
    pub own_work_ns: f64,
    /// Share of its own work the account earns.
    pub fraction: f64,
    /// Allowance it received from the pool so far, net of what it lent.
    pub granted_ns: f64,
}

impl Standing {
    /// The standing of `duty`.
    pub fn of(duty: &Duty) -> Self {
        Standing {
            balance_ns: duty.balance_ns(),
            need_ns: duty.need_ns(),
            own_work_ns: duty.own_work_ns(),
            fraction: duty.fraction(),
            granted_ns: duty.granted_ns(),
        }
    }

    /// What it can lend.
    fn surplus(&self) -> f64 {
        (self.balance_ns - self.need_ns).max(0.0)
    }

    /// What it would borrow: up to its need, within its ceiling.
    fn shortfall(&self) -> f64 {
        if self.fraction >= 1.0 || self.balance_ns >= self.need_ns {
            return 0.0;
        }
        let ceiling = (CAP_FACTOR - 1.0) * self.fraction * self.own_work_ns - self.granted_ns;
        (self.need_ns - self.balance_ns).min(ceiling).max(0.0)
    }
}

/// The allowance (ns) to move into each account (out of it when negative): lenders give in
/// proportion to their surplus, borrowers receive the same fraction of their own work up to
/// their shortfall. The transfers sum to zero.
pub fn transfers(accounts: &[Standing]) -> Vec<f64> {
    let mut out = vec![0.0; accounts.len()];
    let supply: f64 = accounts.iter().map(Standing::surplus).sum();
    let demand: Vec<f64> = accounts.iter().map(Standing::shortfall).collect();
    let wanted: f64 = demand.iter().sum();
    let moved = supply.min(wanted);
    if moved <= 0.0 {
        return out;
    }
    // Water-filling: raise every open borrower by `level` × its own work; borrowers whose
    // shortfall is below that get their shortfall and leave.
    let mut open: Vec<usize> = (0..accounts.len()).filter(|&i| demand[i] > 0.0).collect();
    let mut left = moved;
    while !open.is_empty() && left > 0.0 {
        let weight: f64 = open.iter().map(|&i| accounts[i].own_work_ns).sum();
        if weight <= 0.0 {
            break;
        }
        let level = left / weight;
        let (filled, rest): (Vec<usize>, Vec<usize>) = open
            .iter()
            .partition(|&&i| demand[i] <= level * accounts[i].own_work_ns);
        if filled.is_empty() {
            for &i in &rest {
                out[i] = level * accounts[i].own_work_ns;
            }
            left = 0.0;
            break;
        }
        for &i in &filled {
            out[i] = demand[i];
            left -= demand[i];
        }
        open = rest;
    }
    let given = moved - left.max(0.0);
    for (i, a) in accounts.iter().enumerate() {
        let surplus = a.surplus();
        if surplus > 0.0 {
            out[i] = -given * surplus / supply;
        }
    }
    out
}

/// Moves allowance between `accounts` by [`transfers`].
pub fn rebalance(accounts: &mut [&mut Duty]) {
    let standings: Vec<Standing> = accounts.iter().map(|d| Standing::of(d)).collect();
    for (duty, ns) in accounts.iter_mut().zip(transfers(&standings)) {
        if ns != 0.0 {
            duty.grant(ns);
        }
    }
}

#[cfg(test)]
#[path = "pool_tests.rs"]
mod tests;
