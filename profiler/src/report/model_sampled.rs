//! The sampled part of the report's model: lines found from the data addresses of perf samples
//! (timer samples decoded at their IP, or PEBS/IBS), whatever object they belong to.

use serde::{Deserialize, Serialize};

use crate::{report::StackLocation, symbolize::Frame};

/// What the perf samples' data addresses saw of one line (`LineReport::data_samples`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DataSamples {
    /// Samples whose data address fell in the line: time-weighted, an access that waits for the
    /// line is sampled in proportion to its wait.
    pub samples: u64,
    /// `samples` over all of the target's perf samples (0.25 = a quarter of its sampled CPU
    /// time was spent on instructions accessing this line).
    pub share: f64,
    /// Of them, loads.
    pub loads: u64,
    /// Stores.
    pub stores: u64,
    /// Read-modify-writes without a lock prefix.
    pub updates: u64,
    /// Locked read-modify-writes (`lock`-prefixed, `xchg` with memory): atomics and lock words.
    pub locked: u64,
    /// Hardware data addresses at IPs not decoded: kind unknown.
    pub unknown_kind: u64,
    /// Distinct threads sampled touching it, goroutines in a Go program (a goroutine moves
    /// between threads): exact up to 8, then estimated as `LineReport::threads`.
    pub threads: u32,
    /// False when more threads touched it than are tracked exactly (8).
    pub threads_exact: bool,
    /// Distinct CPUs sampled touching it.
    pub cpus: u32,
    /// Per exactly tracked thread (goroutine in a Go program), the 8-byte words it touched and
    /// wrote (word `w` is bytes `8w` to `8w + 7` of the line).
    pub words: Vec<ThreadWords>,
    /// The words touched that lie in a global variable, named by it and the member of its type
    /// (`main.hot.b`; `main.hot+8` without DWARF), by word.
    pub names: Vec<WordName>,
    /// What the words say: see [`SampledSharing`].
    pub sharing: SampledSharing,
    /// The instructions sampled touching it, by samples, descending (at most 5): the function
    /// and source line holding the sampled IP.
    pub accesses: Vec<AccessSite>,
    /// The user stacks some of its samples took (its eighth, then one in 16), by samples,
    /// descending (at most 32): the code paths that reach the accesses.
    #[serde(default)]
    pub stacks: Vec<DataStack>,
}

/// A user stack some samples of a line took.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DataStack {
    /// Locations, root first, ending with the access (the sampled IP less one byte: the
    /// instruction before it, or its source line).
    pub frames: Vec<StackLocation>,
    /// The line's samples that took this stack (not all of its samples: see `DataSamples::samples`).
    pub samples: u64,
}

impl DataSamples {
    /// What the line holds, by name: the globals' words in it (`main.hot.a`), else the fields its
    /// accesses were named with (`main.stats.misses`, `sync.RWMutex.readerCount`), each once, in
    /// order; empty where nothing was named.
    pub fn object_names(&self) -> Vec<&str> {
        let mut names: Vec<&str> = self.names.iter().map(|n| n.name.as_str()).collect();
        if names.is_empty() {
            for object in self.accesses.iter().filter_map(|a| a.object.as_deref()) {
                if !names.contains(&object) {
                    names.push(object);
                }
            }
        }
        names
    }
}

/// The words of a line one thread was sampled touching.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ThreadWords {
    /// The thread id; in a Go program the goroutine's `g` address folded to 32 bits (an
    /// identity, not a goroutine id).
    pub tid: u32,
    /// Words touched (0 to 7), ascending.
    pub touched: Vec<u8>,
    /// Of them, words written (a store, an update or a locked read-modify-write).
    pub written: Vec<u8>,
}

/// The name of one word of a line.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WordName {
    /// The word (0 to 7: bytes `8w` to `8w + 7` of the line).
    pub word: u8,
    pub name: String,
}

/// What the sampled words of a line say about how its threads share it (the exactly tracked
/// threads' words, where more threads touched it).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SampledSharing {
    /// Several threads wrote it, each only words no other sampled thread touched: padding the
    /// words apart would end the contention.
    FalseSharing,
    /// A word one thread wrote was touched by another: the data itself is shared.
    TrueSharing,
    /// Several threads only read it: its copies stay valid in every cache.
    ReadShared,
    /// One thread was sampled on it.
    OneThread,
    /// Too few samples to say ([`SampledSharing::MIN_SAMPLES`]).
    Unknown,
}

impl SampledSharing {
    /// Samples a line needs before its words are read as a verdict.
    pub const MIN_SAMPLES: u64 = 8;

    /// The JSON name.
    pub fn as_str(self) -> &'static str {
        match self {
            SampledSharing::FalseSharing => "false-sharing",
            SampledSharing::TrueSharing => "true-sharing",
            SampledSharing::ReadShared => "read-shared",
            SampledSharing::OneThread => "one-thread",
            SampledSharing::Unknown => "unknown",
        }
    }

    /// Several threads wrote words of the line another touched or that lie beside theirs:
    /// false or true sharing.
    pub fn is_shared(self) -> bool {
        matches!(
            self,
            SampledSharing::FalseSharing | SampledSharing::TrueSharing
        )
    }
}

/// An instruction sampled touching a line.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessSite {
    /// The code that made the access: the function and source line of the sampled IP (one
    /// instruction past the access, usually on the same source line), or of the innermost
    /// caller outside sync and the runtime where the access was inside them.
    pub frame: Frame,
    /// The primitive and field the access was to, told from the code that made it
    /// (`sync.RWMutex.readerCount` inside `RLock`, `runtime.hchan.lock` inside a channel send,
    /// `sync/atomic.Int64`), else the struct field the DWARF names from the variable its base
    /// register held (`main.stats.misses`); null where neither says.
    #[serde(default)]
    pub object: Option<String>,
    pub samples: u64,
}

/// What became of the user IPs the perf samples hit, decoded for their data accesses.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct DataAddressSources {
    /// IPs whose instruction's data access the kernel side followed.
    pub decoded_ips: u64,
    /// IPs whose instructions touch no memory clprof can follow (no access, LEA, the stack,
    /// thread-local storage, an address register the instruction overwrote...).
    pub ips_without_access: u64,
    /// IPs in code clprof could not read (in neither Go's function table nor the symbol table's
    /// functions: a stripped cgo binary's C, the vDSO, shared libraries).
    pub unreadable_ips: u64,
    /// Samples whose data address was computed from their registers.
    pub operand_samples: u64,
    /// Samples whose data address came with the sample (PEBS, IBS, page faults).
    #[serde(default)]
    pub address_samples: u64,
    /// Samples at IPs not decoded yet when they were taken (counted by function only).
    pub undecoded_samples: u64,
    /// Of the samples of the lines in the report, the share whose object was named: lines
    /// holding a named global word or a Go map the probes saw, and accesses made by code that
    /// names the primitive or field it touched (`sync.RWMutex.readerCount`,
    /// `main.config.values`); 0 without such samples.
    #[serde(default)]
    pub named_share: f64,
}
