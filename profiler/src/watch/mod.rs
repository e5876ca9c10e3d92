//! Hardware write watchpoints (`--watch`): which words to watch ([`spec`], [`words`]) and
//! the debug registers held while recording, rotated over the words when there are more words
//! than registers ([`Watcher`]). The kernel side folds every hit (`profiler_common::watch`);
//! the report joins the folds to the lines (`report::watch`).

pub mod spec;
pub mod words;

use std::{
    os::fd::BorrowedFd,
    time::{Duration, Instant},
};

use crate::perf::{
    breakpoint::{Breakpoints, Word, DEBUG_REGISTERS},
    PerfError,
};
use words::WatchRange;

/// How long one group of words holds the registers when there are more words than registers.
pub const ROTATE_EVERY: Duration = Duration::from_millis(100);

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
    /// Distinct words (a word of several targets at one address is watched once).
    words: Vec<Word>,
    /// Time each of `words` was watched.
    active: Vec<Duration>,
    /// Every target's words.
    owners: Vec<WatchedWord>,
    /// Index in `words` of the word on register 0.
    cursor: usize,
    /// When the words on the registers were enabled.
    since: Instant,
    /// False once a rotation failed: the words on the registers stay.
    rotating: bool,
    notices: Vec<String>,
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
        let held = breakpoints.len();
        if held > 0 && words.len() > held {
            notices.push(format!(
                "watchpoints: {} words on {held} debug registers, rotated every {} ms: each word was watched about {:.0}% of the time (`watch.active_s`)",
                words.len(),
                ROTATE_EVERY.as_millis(),
                100.0 * held as f64 / words.len() as f64
            ));
        }
        Ok(Watcher {
            breakpoints,
            active: vec![Duration::ZERO; words.len()],
            words,
            owners,
            cursor: 0,
            since: Instant::now(),
            rotating: true,
            notices,
        })
    }

    /// Moves the registers to the next words when the current ones had their turn.
    pub fn step(&mut self) {
        let held = self.breakpoints.len();
        if !self.rotating || held == 0 || self.words.len() <= held {
            return;
        }
        if self.since.elapsed() < ROTATE_EVERY {
            return;
        }
        self.settle();
        let n = self.words.len();
        self.cursor = (self.cursor + held) % n;
        for i in 0..held {
            let word = self.words[(self.cursor + i) % n];
            if let Err(e) = self.breakpoints.retarget(i, word) {
                self.stop_rotating(e);
                return;
            }
        }
        for i in 0..held {
            if let Err(e) = self.breakpoints.enable(i) {
                self.stop_rotating(e);
                return;
            }
        }
    }

    /// Books the time since the words on the registers were enabled.
    fn settle(&mut self) {
        let now = Instant::now();
        let spent = now - self.since;
        self.since = now;
        for i in 0..self.breakpoints.len() {
            let word = self.breakpoints.word(i);
            if let Some(at) = self.words.iter().position(|w| *w == word) {
                self.active[at] += spent;
            }
        }
    }

    fn stop_rotating(&mut self, e: PerfError) {
        tracing::warn!("watchpoints stay on the words they watch: {e}");
        self.notices
            .push(format!("watchpoints stopped rotating: {e}"));
        self.rotating = false;
        // The words a failed move left disabled stay so; the others go on.
        for i in 0..self.breakpoints.len() {
            let _ = self.breakpoints.enable(i);
        }
    }

    /// Disables every watchpoint and says what was watched for how long.
    pub fn finish(mut self) -> WatchOutcome {
        self.settle();
        self.breakpoints.disable_all();
        let mut words = self.owners;
        for w in &mut words {
            if let Some(at) = self.words.iter().position(|x| *x == w.word) {
                w.active = self.active[at];
            }
        }
        WatchOutcome {
            words,
            registers: self.breakpoints.len(),
            notices: self.notices,
        }
    }
}
