//! How much of the machine's CPU time other work took over a span: the busy time `/proc/stat`
//! counts on every CPU, less this process's own. A figure measured on clprof itself (what a
//! probe hit costs) while other work ran is disturbed, and is not kept for later recordings.

use std::time::Duration;

/// Share of the CPU time other work may take while clprof measures itself, above which the
/// measurement serves only the recording that made it.
pub const QUIET_SHARE: f64 = 0.25;

/// The CPU time counters at one moment.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct CpuTimes {
    /// Busy time of every CPU together (ticks of `USER_HZ`).
    pub busy: u64,
    /// Busy and idle time of every CPU together (ticks of `USER_HZ`).
    pub total: u64,
    /// This process's own user and system time.
    pub own: Duration,
}

impl CpuTimes {
    /// Now; None where `/proc/stat` cannot be read.
    pub fn now() -> Option<CpuTimes> {
        let stat = std::fs::read_to_string("/proc/stat").ok()?;
        let (busy, total) = parse_stat(&stat)?;
        Some(CpuTimes {
            busy,
            total,
            own: own_cpu(),
        })
    }

    /// The share of the CPU time since `self` that other work took (0 to 1), at `tick` a tick.
    pub fn others_share_since(&self, now: &CpuTimes, tick: Duration) -> Option<f64> {
        let total = now.total.checked_sub(self.total)?;
        if total == 0 {
            return None;
        }
        let busy = tick.as_secs_f64() * now.busy.saturating_sub(self.busy) as f64;
        let own = now.own.saturating_sub(self.own).as_secs_f64();
        let all = tick.as_secs_f64() * total as f64;
        Some(((busy - own) / all).clamp(0.0, 1.0))
    }
}

/// One tick of `/proc/stat` (`USER_HZ`, 100 a second on Linux for x86).
pub fn tick() -> Duration {
    // SAFETY: sysconf takes no pointer.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    Duration::from_secs_f64(1.0 / if hz > 0 { hz as f64 } else { 100.0 })
}

/// (busy, total) ticks of the all-CPU line of `/proc/stat`: user nice system idle iowait irq
/// softirq steal …; idle and iowait are not busy, guest time is inside user already.
fn parse_stat(stat: &str) -> Option<(u64, u64)> {
    let line = stat.lines().find(|l| l.starts_with("cpu "))?;
    let fields: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .take(8)
        .map(|f| f.parse().ok())
        .collect::<Option<_>>()?;
    let [user, nice, system, idle, iowait, irq, softirq, steal] = fields.try_into().ok()?;
    let busy = user + nice + system + irq + softirq + steal;
    Some((busy, busy + idle + iowait))
}

/// This process's user and system time.
fn own_cpu() -> Duration {
    // SAFETY: getrusage writes the struct we pass.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: as above.
    if unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut ru) } != 0 {
        return Duration::ZERO;
    }
    let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1_000);
    tv(ru.ru_utime) + tv(ru.ru_stime)
}

#[cfg(test)]
mod tests {
    use super::*;

    const STAT: &str = "cpu  100 0 50 800 10 5 5 30 0 0\ncpu0 50 0 25 400 5 2 3 15 0 0\n";

    #[test]
    fn the_all_cpu_line_gives_busy_and_total_ticks() {
        assert_eq!(parse_stat(STAT), Some((190, 1000)));
        assert_eq!(parse_stat("cpu0 1 2 3 4 5 6 7 8\n"), None);
        assert_eq!(parse_stat("cpu  1 2 x 4 5 6 7 8\n"), None);
    }

    #[test]
    fn other_work_is_the_busy_time_less_our_own() {
        let tick = Duration::from_millis(10);
        let at = |busy, total, own_ms| CpuTimes {
            busy,
            total,
            own: Duration::from_millis(own_ms),
        };
        // 200 ticks (2 s) on every CPU together, 120 busy (1.2 s), 0.7 s of them ours.
        let share = at(0, 0, 0).others_share_since(&at(120, 200, 700), tick);
        assert!((share.unwrap() - 0.25).abs() < 1e-9, "{share:?}");
        // Only our own time: quiet.
        assert_eq!(
            at(0, 0, 0).others_share_since(&at(50, 200, 500), tick),
            Some(0.0)
        );
        assert_eq!(at(0, 10, 0).others_share_since(&at(0, 10, 0), tick), None);
    }
}
