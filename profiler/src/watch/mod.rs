//! Hardware write watchpoints (`--watch`): which words to watch ([`spec`], [`words`]) and
//! the debug registers held while recording, rotated over the words when there are more words
//! than registers ([`Watcher`]). The kernel side folds every hit (`profiler_common::watch`);
//! the report joins the folds to the lines (`report::watch`).

pub mod auto;
pub mod spec;
pub mod words;

use std::{
    collections::{HashMap, HashSet},
    os::fd::BorrowedFd,
    time::{Duration, Instant},
};

use profiler_common::line_of;

use crate::{
    folded::WatchSnapshot,
    kernel::probes::Probes,
    perf::{
        breakpoint::{Breakpoints, Word, DEBUG_REGISTERS},
        PerfError,
    },
};
use words::WatchRange;

/// How long one group of words is watched (registers enabled) in its turn when there are more
/// words than registers.
pub const ROTATE_EVERY: Duration = Duration::from_millis(50);
/// How long each group of words is watched in its turn while `auto` looks for the written ones:
/// a hot word is written thousands of times in that, and a tight budget watches little.
pub const DISCOVERY_TURN: Duration = Duration::from_millis(10);

/// One watched word of one target, and how long it was watched.
#[derive(Clone, Debug, PartialEq)]
pub struct WatchedWord {
    pub pid: u32,
    pub word: Word,
    /// What `--watch` named it ([`WatchRange::name_of`]).
    pub name: String,
    /// Time its watchpoint was enabled.
    pub active: Duration,
}

/// What watching did, for the report.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct WatchOutcome {
    pub words: Vec<WatchedWord>,
    /// Debug registers held (at most [`DEBUG_REGISTERS`]).
    pub registers: usize,
    /// One line each: registers taken by others, rotation, failures.
    pub notices: Vec<String>,
}

/// The debug registers clprof holds and the words it rotates them over.
pub struct Watcher {
    breakpoints: Breakpoints,
    /// The words rotated over (a word of several targets at one address is watched once).
    words: Vec<Word>,
    /// Registers in use: the first `in_use` of `breakpoints`.
    in_use: usize,
    /// Time each word was watched.
    active: HashMap<Word, Duration>,
    /// Every target's words.
    owners: Vec<WatchedWord>,
    /// Index in `words` of the word on register 0.
    cursor: usize,
    /// Rotations since the start.
    turns: usize,
    /// How long the words on the registers have been watched in their turn.
    turn_watched: Duration,
    /// When the watched time was last booked.
    since: Instant,
    /// The targets whose words may be watched now: those whose probe window is open (the
    /// budget pays for both together).
    open: HashSet<u32>,
    /// False once a rotation failed: the words on the registers stay.
    rotating: bool,
    /// After one full rotation, keep only the words that were written, together (`auto`);
    /// `Some(n)` once done, with the words kept.
    focus: Focus,
    notices: Vec<String>,
}

/// Whether the words are narrowed down to the written ones.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Focus {
    /// Every word named is watched in turn.
    Never,
    /// After one full rotation.
    Pending,
    /// Done: this many words were written and kept.
    Done(usize),
}

impl Watcher {
    /// Opens as many debug registers as the words need and are free (on every CPU of `cpus`),
    /// with the watch program `prog` on each, and enables them on the first words.
    pub fn start(
        ranges: &[(u32, WatchRange)],
        cpus: &[u32],
        prog: BorrowedFd<'_>,
    ) -> Result<Self, PerfError> {
        let mut owners = Vec::new();
        let mut words: Vec<Word> = Vec::new();
        for (pid, range) in ranges {
            for word in range.words() {
                owners.push(WatchedWord {
                    pid: *pid,
                    word,
                    name: range.name_of(word.addr),
                    active: Duration::ZERO,
                });
                if !words.contains(&word) {
                    words.push(word);
                }
            }
        }
        let mut breakpoints = Breakpoints::open(&words, cpus, prog)?;
        let mut notices = Vec::new();
        let wanted = words.len().min(DEBUG_REGISTERS);
        if breakpoints.len() < wanted {
            notices.push(format!(
                "watchpoints: {} of the {wanted} debug registers needed were free (a debugger or another perf user holds the rest){}",
                breakpoints.len(),
                if breakpoints.is_empty() { ": nothing was watched" } else { "" }
            ));
        }
        for i in 0..breakpoints.len() {
            breakpoints.enable(i)?;
        }
        Ok(Watcher {
            in_use: breakpoints.len(),
            breakpoints,
            active: HashMap::new(),
            words,
            owners,
            cursor: 0,
            turns: 0,
            turn_watched: Duration::ZERO,
            since: Instant::now(),
            open: ranges.iter().map(|(pid, _)| *pid).collect(),
            rotating: true,
            focus: Focus::Never,
            notices,
        })
    }

    /// A watcher holding no register, for the report's notice of why nothing was watched.
    pub fn unavailable(notice: String) -> Self {
        Watcher {
            breakpoints: Breakpoints::default(),
            words: Vec::new(),
            in_use: 0,
            active: HashMap::new(),
            owners: Vec::new(),
            cursor: 0,
            turns: 0,
            turn_watched: Duration::ZERO,
            since: Instant::now(),
            open: HashSet::new(),
            rotating: false,
            focus: Focus::Never,
            notices: vec![notice],
        }
    }

    /// Adds a notice for the report.
    pub fn notice(&mut self, notice: String) {
        self.notices.push(notice);
    }

    /// After one full rotation, watch only the words that were written (together, when the
    /// registers suffice: their transfers are then exact between them).
    pub fn focusing(mut self) -> Self {
        self.focus = Focus::Pending;
        self
    }

    /// Moves the registers to the next words when the current ones had their turn; narrows
    /// them down to the written ones (see [`Watcher::focusing`]) from what `probes` folded.
    pub fn step(&mut self, probes: &Probes) {
        let held = self.in_use;
        if !self.rotating || held == 0 || self.words.len() <= held {
            return;
        }
        self.settle();
        let turn = if self.focus == Focus::Pending {
            DISCOVERY_TURN
        } else {
            ROTATE_EVERY
        };
        if self.turn_watched < turn {
            return;
        }
        self.turn_watched = Duration::ZERO;
        self.turns += 1;
        if self.focus == Focus::Pending && self.turns * held >= self.words.len() {
            match probes.maps().watch_snapshot() {
                Ok(snapshot) => return self.narrow(&snapshot),
                Err(e) => tracing::debug!("watch counts unreadable, rotating on: {e}"),
            }
        }
        let n = self.words.len();
        self.cursor = (self.cursor + held) % n;
        let next: Vec<Word> = (0..held)
            .map(|i| self.words[(self.cursor + i) % n])
            .collect();
        self.place(&next);
    }

    /// Keeps the written words (most written lines first, a line's words together); rotates
    /// over them only if they still outnumber the registers.
    fn narrow(&mut self, snapshot: &WatchSnapshot) {
        let mut writes: HashMap<u64, u64> = HashMap::new();
        for (key, stats) in &snapshot.words {
            *writes.entry(key.addr).or_default() += stats.writes;
        }
        let mut by_line: HashMap<u64, u64> = HashMap::new();
        for w in &self.words {
            *by_line.entry(line_of(w.addr)).or_default() +=
                writes.get(&w.addr).copied().unwrap_or(0);
        }
        let mut kept: Vec<Word> = self
            .words
            .iter()
            .copied()
            .filter(|w| writes.get(&w.addr).is_some_and(|&n| n > 0))
            .collect();
        kept.sort_by(|a, b| {
            let (la, lb) = (line_of(a.addr), line_of(b.addr));
            by_line[&lb]
                .cmp(&by_line[&la])
                .then(la.cmp(&lb))
                .then(a.addr.cmp(&b.addr))
        });
        tracing::debug!(
            kept = kept.len(),
            of = self.words.len(),
            "watching the written words"
        );
        self.focus = Focus::Done(kept.len());
        if kept.is_empty() {
            // Nothing written yet: go on rotating over everything.
            return;
        }
        self.words = kept;
        self.cursor = 0;
        let held = self.breakpoints.len();
        self.in_use = held.min(self.words.len());
        for i in self.in_use..held {
            self.breakpoints.disable(i);
        }
        let next: Vec<Word> = self.words[..self.in_use].to_vec();
        self.place(&next);
    }

    /// Moves the registers in use onto `next` and enables those of open targets.
    fn place(&mut self, next: &[Word]) {
        for (i, &word) in next.iter().enumerate() {
            if let Err(e) = self.breakpoints.retarget(i, word) {
                return self.stop_rotating(e);
            }
        }
        self.apply_gate();
    }

    /// Watches only the words of targets `open` says may be (their probe window is open), from
    /// now on.
    pub fn gate(&mut self, open: &dyn Fn(u32) -> bool) {
        let changed = self
            .owners
            .iter()
            .any(|o| open(o.pid) != self.open.contains(&o.pid));
        if changed {
            self.settle();
            self.open = self
                .owners
                .iter()
                .map(|o| o.pid)
                .filter(|&p| open(p))
                .collect();
            self.apply_gate();
        }
    }

    /// Enables the registers in use whose word belongs to an open target, disables the others.
    fn apply_gate(&mut self) {
        for i in 0..self.in_use {
            let word = self.breakpoints.word(i);
            let on = self
                .owners
                .iter()
                .any(|o| o.word == word && self.open.contains(&o.pid));
            if on && !self.breakpoints.is_enabled(i) {
                if let Err(e) = self.breakpoints.enable(i) {
                    return self.stop_rotating(e);
                }
            } else if !on && self.breakpoints.is_enabled(i) {
                self.breakpoints.disable(i);
            }
        }
    }

    /// Books the time since the last booking to the words whose registers are enabled (and to
    /// their turn, if any was).
    fn settle(&mut self) {
        let now = Instant::now();
        let spent = now - self.since;
        self.since = now;
        let mut watched = false;
        for i in 0..self.in_use {
            if self.breakpoints.is_enabled(i) {
                *self.active.entry(self.breakpoints.word(i)).or_default() += spent;
                watched = true;
            }
        }
        if watched {
            self.turn_watched += spent;
        }
    }

    fn stop_rotating(&mut self, e: PerfError) {
        tracing::warn!("watchpoints stay on the words they watch: {e}");
        self.notices
            .push(format!("watchpoints stopped rotating: {e}"));
        self.rotating = false;
    }

    /// Disables every watchpoint and says what was watched for how long.
    pub fn finish(mut self) -> WatchOutcome {
        self.settle();
        self.breakpoints.disable_all();
        let held = self.breakpoints.len();
        let named = self.owners.len();
        match self.focus {
            Focus::Done(kept) if kept > 0 => self.notices.push(format!(
                "watchpoints: {named} words of the top lines watched in turn on {held} debug registers until each had one turn ({} ms each), then the {kept} written ones{}",
                DISCOVERY_TURN.as_millis(),
                if kept <= held { ", together" } else { ", in turn" }
            )),
            _ if held > 0 && self.words.len() > held => self.notices.push(format!(
                "watchpoints: {} words on {held} debug registers, rotated every {} ms: each word was watched about {:.0}% of the time (`watch.active_s`)",
                self.words.len(),
                ROTATE_EVERY.as_millis(),
                100.0 * held as f64 / self.words.len() as f64
            )),
            _ => {}
        }
        let mut words = self.owners;
        for w in &mut words {
            w.active = self.active.get(&w.word).copied().unwrap_or_default();
        }
        WatchOutcome {
            words,
            registers: held,
            notices: self.notices,
        }
    }
}

#[cfg(test)]
mod tests;
