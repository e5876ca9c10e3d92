//! The report model, serialized as schema `clprof/1` (see README.md): a contract that tests and
//! users parse. Unknown values are `null`, never made up.

use serde::{Deserialize, Serialize};

use super::model_overhead::{RecordingOverhead, TargetOverhead};
use super::model_sampled::{DataAddressSources, DataSamples};

/// Schema identifier; bump when a field changes meaning.
pub const SCHEMA: &str = "clprof/1";

/// A whole profile.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Report {
    /// Always [`SCHEMA`].
    pub schema: String,
    /// When recording started (RFC 3339, UTC).
    pub started_at: String,
    /// How long probes were attached (seconds).
    pub duration_s: f64,
    /// Profiled processes.
    pub targets: Vec<TargetInfo>,
    /// What produced the data.
    pub sources: Sources,
    /// Data lost on the way.
    pub drops: Drops,
    /// Probe hits that passed the target filter.
    pub events: u64,
    /// Events sampled with a user stack.
    pub samples: u64,
    /// Contended lines, by `cost.cpu_ns_per_s`, `contention`, then `writes`, descending: the
    /// probes', the watchpoints' and the sampled data addresses' lines in one ranking.
    pub lines: Vec<LineReport>,
    /// Every written Go map, by `concurrent_writers`, `growth_writes`, then `writes`, descending.
    pub maps: Vec<MapReport>,
    /// Functions by perf samples (`sources.perf` says which event), descending; empty without
    /// perf events.
    pub functions: Vec<FrameReport>,
    /// Sampled write stacks, symbolized, per line they wrote: what flamegraphs are drawn from.
    #[serde(default)]
    pub stacks: Vec<StackReport>,
    /// Things the reader should know (target exited early, interrupted, ...).
    pub notices: Vec<String>,
}

/// One profiled process.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TargetInfo {
    pub pid: u32,
    /// Its pid inside its own pid namespace (last `NSpid:` field): equal to `pid` unless it runs
    /// in a child pid namespace (a container); null when unknown.
    #[serde(default)]
    pub ns_pid: Option<u32>,
    /// The container it runs in, from its cgroups (`{id, runtime, pod_uid}`); null outside one.
    #[serde(default)]
    pub container: Option<crate::inspect::container::Container>,
    /// Executable path as the process saw it.
    pub exe: String,
    /// Go version from `.go.buildinfo` (`go1.27.3`), null when absent.
    pub go_version: Option<String>,
    /// `classic` (hmap) or `swiss`, null when unknown.
    pub map_layout: Option<crate::inspect::LayoutFlavor>,
    /// Where the layout came from: `dwarf` or `builtin-table`.
    pub layout_source: Option<crate::inspect::LayoutSource>,
    /// Where the runtime functions were found: `symtab` (the ELF symbol table) or
    /// `gopclntab` (Go's own function table, for stripped binaries); null without Go probes.
    #[serde(default)]
    pub symbols_source: Option<crate::inspect::SymbolsSource>,
    /// True when the process exited before recording ended.
    pub exited: bool,
    /// GNU or Go build id of the executable, when known.
    #[serde(default)]
    pub build_id: Option<String>,
    /// What the overhead budget did for this process (flattened: its fields are the target's).
    #[serde(flatten)]
    pub overhead: TargetOverhead,
}

/// Event sources.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Sources {
    /// One entry per probed function and binary.
    pub uprobes: Vec<UprobeSource>,
    /// Perf-event source: `pebs-l1-miss`, `l1d-read-miss`, `cpu-clock` or `none`.
    pub perf: String,
    /// Whether the machine exposes a hardware PMU.
    pub pmu_available: bool,
    /// What the overhead budget did over all targets (flattened: its fields are `sources`').
    #[serde(flatten)]
    pub overhead: RecordingOverhead,
    /// Perf samples taken in the targets (user mode); null without perf events.
    #[serde(default)]
    pub perf_samples: Option<u64>,
    /// Of those, samples of a thread single-stepping a probed instruction in the kernel's
    /// `[uprobes]` page: probe overhead, in `functions` as `[clprof probe] FUNCTION`; null
    /// without perf events.
    #[serde(default)]
    pub probe_trampoline_samples: Option<u64>,
    /// What moving one cache line between two CPUs costs on this machine (ns): the mean over
    /// every pair of the CPUs clprof may run on; null where it could not be measured.
    #[serde(default)]
    pub line_transfer_ns: Option<f64>,
    /// The cost per class of CPU pair, as measured (one pair each).
    #[serde(default)]
    pub line_transfer: Vec<crate::machine::ClassCost>,
    /// What became of the sampled IPs decoded for their data accesses; null without perf
    /// events.
    #[serde(default)]
    pub data_addresses: Option<DataAddressSources>,
}

/// Hits of one probed function.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UprobeSource {
    pub binary: String,
    pub symbol: String,
    pub hits: u64,
}

/// Losses.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Drops {
    /// Sampled events dropped because the ring buffer was full.
    pub ringbuf: u64,
    /// Line/object entries lost: insert failures plus LRU evictions of the kernel maps.
    pub map_full: u64,
    /// Sampled events whose user stack could not be stored.
    pub stacks: u64,
    /// Sampled events not folded because the recording already held the maximum of distinct
    /// sample keys (`collect::MAX_SAMPLE_KEYS`).
    #[serde(default)]
    pub samples_overflow: u64,
}

/// One contended cache line.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct LineReport {
    /// Address of the line (hex, 64-byte aligned).
    pub line: String,
    pub pid: u32,
    /// Assigns that wrote this line.
    pub writes: u64,
    /// Sampled events (with stacks) that wrote this line.
    pub samples: u64,
    /// Distinct writer threads: exact when `threads_exact`; otherwise estimated from the kernel's
    /// 256-bit linear-counting sketch of writer thread ids (relative error about 5% at 256
    /// threads, 7% at 500, 11% at 1,000; a full sketch reads as 1,420), never below 9.
    pub threads: u32,
    /// False when more threads wrote than the kernel tracks exactly (8): `threads` is then an
    /// estimate.
    pub threads_exact: bool,
    /// Distinct writer CPUs.
    pub cpus: u32,
    /// Writes from a CPU other than the previous writer's (cache-line moves).
    pub transfers: u64,
    /// Reads by the lookup and iteration probes; null when they were not attached.
    #[serde(default)]
    pub reads: Option<u64>,
    /// Reads on a CPU that did not hold the line's current version while another CPU did: the
    /// line came from another cache (the software analogue of a load HITM); null as `reads`.
    #[serde(default)]
    pub remote_reads: Option<u64>,
    /// Distinct reader threads (exact up to 8, then the sketch's estimate); null as `reads`.
    #[serde(default)]
    pub reader_threads: Option<u32>,
    /// Readers' copies destroyed by writes; null as `reads`.
    #[serde(default)]
    pub invalidations: Option<u64>,
    /// What lines are ranked by: `transfers + remote_reads + invalidations / 2`, from the
    /// estimates (`est_*`) where the probes ran in windows (README, "Reads and the sharing
    /// model").
    #[serde(default)]
    pub contention: u64,
    /// The counts over the whole recording, estimated from the windows (`est_*`).
    #[serde(flatten)]
    pub est: LineEstimates,
    /// Assigns that started while the map was growing; null: not measured.
    pub growth_writes: Option<u64>,
    /// Assigns that found another writer inside the same map; null: not measured.
    pub concurrent_writers: Option<u64>,
    /// Hardware L1-miss samples with a data address in this line; null: not measured.
    pub l1_miss_samples: Option<u64>,
    /// What kind of contention this is (README, "Verdicts": the rules, in the order applied).
    #[serde(default)]
    pub verdict: Verdict,
    /// What moving this line costs the target; null where the transfer cost could not be
    /// measured (one CPU) or the target's CPU time is unknown. Lines rank by it.
    #[serde(default)]
    pub cost: Option<Cost>,
    /// What to change, for the verdict: the objects, fields and writing functions, and the fix;
    /// null for `private` lines.
    #[serde(default)]
    pub advice: Option<String>,
    /// Objects whose memory overlaps this line.
    pub objects: Vec<ObjectReport>,
    /// Code that wrote this line, by sampled stacks (callers of the map assign).
    pub top_frames: Vec<FrameReport>,
    /// What the hardware write watchpoints saw of this line (`--watch`); null when none of its
    /// words was watched.
    #[serde(default)]
    pub watch: Option<WatchReport>,
    /// What the perf samples' data addresses saw of this line, whatever object holds it; null
    /// where none fell in it (or no perf events ran).
    #[serde(default)]
    pub data_samples: Option<DataSamples>,
    /// The counts made inside sampled windows: what `est_*` scale (not in the JSON).
    #[serde(skip)]
    pub sampled: profiler_common::Sampled,
}

/// What kind of contention a line shows; the rules are in `report::verdict`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Verdict {
    /// Objects of different threads share the line; none is written by two threads.
    FalseSharing,
    /// One object is written by several threads.
    TrueSharing,
    /// Written on one CPU, read on others: remote reads move it more than writes do.
    ReadWriteSharing,
    /// Its maps keep growing: writes during growth are a large share of its writes.
    Growth,
    /// Writers (or a reader and a writer) inside one map at once.
    Race,
    /// No contention: the line stays in one cache.
    #[default]
    Private,
    /// Too little of the line was seen to tell how it is shared: fewer than
    /// `verdict::MIN_MOVES_SEEN` moves, or fewer than `SampledSharing::MIN_SAMPLES` data
    /// samples where only those saw it.
    Undecided,
}

impl Verdict {
    /// The JSON name.
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::FalseSharing => "false-sharing",
            Verdict::TrueSharing => "true-sharing",
            Verdict::ReadWriteSharing => "read-write-sharing",
            Verdict::Growth => "growth",
            Verdict::Race => "race",
            Verdict::Private => "private",
            Verdict::Undecided => "undecided",
        }
    }
}

/// What a line's contention costs the target: also the most a fix can win.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Cost {
    /// CPU time the line costs, per second recorded (ns/s). `moves` (see `basis`): (estimated
    /// transfers + estimated remote reads) × `sources.line_transfer_ns` / the seconds the
    /// target was recorded; `samples`: the line's share of the target's perf samples × the
    /// target's CPU time per second.
    pub cpu_ns_per_s: f64,
    /// `cpu_ns_per_s` over the CPU time the target used per second for its own work (percent).
    pub target_cpu_pct: f64,
    /// Relative standard error of the counts behind it (0.05 = 5%). `moves`: the estimates'
    /// errors and the counting noise of the moves seen (√n / n); the transfer cost's own spread
    /// is left out (one figure for every recording on a host). `samples`: the sampling error
    /// of the line's share of the samples (binomial: √((1 − p) / n) for n of them) and its
    /// drift between runs of one program (0.25), in quadrature.
    pub rel_err: f64,
    /// What it was measured from: the CPU time the timer samples found on the instructions that
    /// access the line where the samples gave its verdict, else its moves times the transfer
    /// cost.
    #[serde(default)]
    pub basis: CostBasis,
}

/// What a line's cost was measured from.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum CostBasis {
    /// (Estimated transfers + remote reads) × `sources.line_transfer_ns`.
    #[default]
    Moves,
    /// The line's share of the target's perf samples (`data_samples.share`) × the target's
    /// own CPU time: the time its accessing instructions took, waits on the line included
    /// (and their uncontended cost with them).
    Samples,
}

/// Writes to a line's watched words: every write while a word was watched, by any instruction.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct WatchReport {
    /// The watched words in this line, by address.
    pub words: Vec<WatchedWordReport>,
    /// Seconds the line was watched: the longest any of its words was.
    pub active_s: f64,
}

/// One watched word.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct WatchedWordReport {
    /// Address of its first byte (hex).
    pub addr: String,
    /// Bytes (1, 2, 4 or 8).
    pub len: u8,
    /// What `--watch` named it: `SYMBOL+OFF` for a variable, the address for ADDR.
    pub name: String,
    /// Writes to it while it was watched (exact).
    pub writes: u64,
    /// Distinct writer threads (exact up to 8; beyond, estimated as `LineReport::threads`).
    pub threads: u32,
    /// Writes to it from a CPU other than the previous write's (exact).
    pub transfers: u64,
    /// Seconds it was watched.
    pub active_s: f64,
    /// The code that wrote it, most writes first: the source line of each writing instruction
    /// (inlined frames innermost first), then the callers from a sampled stack; `samples` is
    /// the writes by that instruction.
    pub frames: Vec<FrameReport>,
}

/// A line's counts over the whole recording, probes on or off, estimated from what the windows
/// observed, each with its relative standard error; null where the probes ran all along (the
/// counts are then exact) or nothing was observed. In the JSON they sit beside the line's other
/// fields, named `est_*`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct LineEstimates {
    /// Writes over the whole recording, probes on or off: `writes` × the process's `est_scale`.
    #[serde(default, rename = "est_writes")]
    pub writes: Option<u64>,
    /// Relative standard error of `est_writes` (0.05 = 5%).
    #[serde(default, rename = "est_writes_rel_err")]
    pub writes_rel_err: Option<f64>,
    /// `transfers` scaled the same way (transfers seen between consecutive writes in windows).
    #[serde(default, rename = "est_transfers")]
    pub transfers: Option<u64>,
    /// Relative standard error of `est_transfers`.
    #[serde(default, rename = "est_transfers_rel_err")]
    pub transfers_rel_err: Option<f64>,
    /// `reads` × the process's `est_read_scale`; null where reads were not probed.
    #[serde(default, rename = "est_reads")]
    pub reads: Option<u64>,
    /// Relative standard error of `est_reads`.
    #[serde(default, rename = "est_reads_rel_err")]
    pub reads_rel_err: Option<f64>,
    /// `remote_reads` scaled the same way.
    #[serde(default, rename = "est_remote_reads")]
    pub remote_reads: Option<u64>,
    /// Relative standard error of `est_remote_reads`.
    #[serde(default, rename = "est_remote_reads_rel_err")]
    pub remote_reads_rel_err: Option<f64>,
    /// `invalidations` scaled the same way (they are counted only while reads are watched).
    #[serde(default, rename = "est_invalidations")]
    pub invalidations: Option<u64>,
    /// Relative standard error of `est_invalidations`.
    #[serde(default, rename = "est_invalidations_rel_err")]
    pub invalidations_rel_err: Option<f64>,
}

/// What an object living in a line is. The variants are declared in the order of their names,
/// so objects sort as they did by name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ObjectKind {
    /// Memory a custom probe (`--probe`) writes.
    Custom,
    /// A Go map's header.
    GoMap,
    /// A value slot of a Go map (its `owner` is the map header).
    GoMapSlot,
    /// A watched word written by code the probes do not see (not a map assign).
    Watched,
}

impl ObjectKind {
    /// The name reports use (`go-map`, `go-map-slot`, `custom`, `watched`).
    pub fn as_str(self) -> &'static str {
        match self {
            ObjectKind::Custom => "custom",
            ObjectKind::GoMap => "go-map",
            ObjectKind::GoMapSlot => "go-map-slot",
            ObjectKind::Watched => "watched",
        }
    }
}

impl std::fmt::Display for ObjectKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for ObjectKind {
    type Err = String;

    fn from_str(name: &str) -> Result<Self, String> {
        [
            ObjectKind::Custom,
            ObjectKind::GoMap,
            ObjectKind::GoMapSlot,
            ObjectKind::Watched,
        ]
        .into_iter()
        .find(|k| k.as_str() == name)
        .ok_or_else(|| format!("no object kind `{name}` (go-map, go-map-slot, custom, watched)"))
    }
}

impl PartialEq<&str> for ObjectKind {
    fn eq(&self, name: &&str) -> bool {
        self.as_str() == *name
    }
}

/// An object (e.g. a Go map header) living in a line.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObjectReport {
    pub kind: ObjectKind,
    /// Address of the object's first byte (hex).
    pub addr: String,
    /// The object's fields inside this line, by offset.
    pub fields: Vec<String>,
    /// Of those, the fields the probed writes modify.
    pub written_fields: Vec<String>,
    /// Writes to this object (all its lines).
    pub writes: u64,
    /// Distinct threads writing this object: exact up to 8; a larger value is an estimate from the
    /// kernel's 256-bit linear-counting sketch, as `LineReport::threads`.
    pub writers: u32,
    /// Map-assign function used (`runtime.mapassign_fast64`, ...); the probed symbol for custom.
    pub assign: Option<String>,
    /// For `go-map-slot`: the map header the slot belongs to.
    pub owner: Option<String>,
    /// For `watched`: the code that wrote it most (function, file and line of the writing
    /// instruction; `samples` is its writes).
    #[serde(default)]
    pub writer: Option<FrameReport>,
}

/// One written Go map.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MapReport {
    pub pid: u32,
    /// Header address (hex).
    pub addr: String,
    /// Go type from DWARF (`map[int]int`), null when unknown.
    pub go_type: Option<String>,
    /// Key handling of its assign function: `generic`, `fast32`, `fast64`, `fast64ptr`, `faststr`.
    pub key_kind: String,
    /// Map-assign function.
    pub assign: String,
    pub writes: u64,
    /// Writes over the whole recording: `writes` × the process's `est_scale`.
    #[serde(default)]
    pub est_writes: Option<u64>,
    /// Relative standard error of `est_writes`.
    #[serde(default)]
    pub est_writes_rel_err: Option<f64>,
    /// Distinct writer threads: exact up to 8; a larger value is an estimate from the kernel's
    /// 256-bit linear-counting sketch, as `LineReport::threads`.
    pub writers: u32,
    /// Assigns that started while the map was growing (classic) or that grew it (swiss).
    pub growth_writes: u64,
    /// Assigns that found another writer inside the map.
    pub concurrent_writers: u64,
    /// Lookups (`mapaccess*`); null when the lookup probes were not attached.
    #[serde(default)]
    pub reads: Option<u64>,
    /// Lookups over the whole recording: `reads` × the process's `est_scale`.
    #[serde(default)]
    pub est_reads: Option<u64>,
    /// Relative standard error of `est_reads`.
    #[serde(default)]
    pub est_reads_rel_err: Option<f64>,
    /// Deletes; null as `reads`.
    #[serde(default)]
    pub deletes: Option<u64>,
    /// `clear`s; null as `reads`.
    #[serde(default)]
    pub clears: Option<u64>,
    /// `range` loops started; null as `reads`.
    #[serde(default)]
    pub iterations: Option<u64>,
    /// Lookups and iteration steps that found a writer inside the map (the race behind Go's
    /// "concurrent map read and map write"); null as `reads`.
    #[serde(default)]
    pub read_races: Option<u64>,
    /// Perf samples taken while an assign on this map ran; null without perf events.
    pub perf_samples: Option<u64>,
    /// Lines holding the header fields an assign writes (hex).
    pub lines: Vec<String>,
    /// Entry-to-return latency of its assigns; null without RET probes.
    pub latency: Option<LatencyReport>,
    /// Entries it held when the report was built, read from the target's memory (classic
    /// `hmap.count`, swiss `Map.used`); null when the process had exited, or when the count
    /// does not fit the header's size fields (a dropped map's memory, reused).
    #[serde(default)]
    pub entries: Option<u64>,
    /// Where the map was made (a `runtime.makemap*` return; caller frames, innermost first);
    /// empty when it was made while the probes were off (before the recording, or outside the
    /// budget's windows), or by code the compiler inlined (a small map that does not escape).
    #[serde(default)]
    pub made_at: Vec<FrameReport>,
    /// Where the map was first written when that was sampled (caller frames, innermost first):
    /// usually where it was made, or close by.
    pub first_assign: Vec<FrameReport>,
    /// Sampled races (first ones): the thread that entered and the one already inside.
    pub races: Vec<RaceReport>,
    /// The writes and lookups made inside sampled windows: what `est_*` scale (not in the JSON).
    #[serde(skip)]
    pub sampled: profiler_common::Sampled,
}

/// Latency percentiles from the kernel's histogram (bucket upper bounds, so within +50%).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LatencyReport {
    /// Assigns measured.
    pub count: u64,
    pub p50_ns: u64,
    pub p99_ns: u64,
}

/// A sampled concurrent write: `tid` entered while `other_tid` was inside a write of the map.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RaceReport {
    /// What the entering thread was doing.
    #[serde(default)]
    pub kind: RaceKind,
    pub tid: u32,
    /// Null when the writer inside could not be identified.
    pub other_tid: Option<u32>,
    /// The entering thread's caller frames (innermost first).
    pub frames: Vec<FrameReport>,
    /// The inside thread's caller frames, when its entry was sampled.
    pub other_frames: Vec<FrameReport>,
}

/// What a thread was doing when it found a writer inside the map.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RaceKind {
    /// Writing (an assign): Go's "concurrent map writes".
    #[default]
    WriteWrite,
    /// Reading (a lookup): "concurrent map read and map write".
    ReadWrite,
    /// Iterating (a `range` step): "concurrent map iteration and map write".
    IterateWrite,
}

/// One instruction address of a stack and the source frames there.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct StackLocation {
    /// Address in the binary (runtime address minus load bias; hex); 0x0 when synthetic.
    pub addr: String,
    /// Source frames at that address, innermost (inlined) first.
    pub lines: Vec<crate::symbolize::Frame>,
}

/// One sampled write stack and the line it wrote.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StackReport {
    pub pid: u32,
    /// Locations, root first, ending with the probed function.
    pub frames: Vec<StackLocation>,
    /// The written line (hex).
    pub line: String,
    /// The written object (hex) and its kind.
    pub object: String,
    pub object_kind: ObjectKind,
    /// Fields of the object written in this line.
    pub fields: Vec<String>,
    /// Sampled writes with this stack to this line.
    pub samples: u64,
}

/// A source location and how many samples it accounts for.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FrameReport {
    pub function: String,
    pub file: Option<String>,
    pub line: Option<u32>,
    pub samples: u64,
}

/// Formats an address as the schema wants it.
pub fn hex(addr: u64) -> String {
    format!("{addr:#x}")
}

/// Parses an address written by [`hex`].
pub fn parse_hex(s: &str) -> Option<u64> {
    u64::from_str_radix(s.strip_prefix("0x")?, 16).ok()
}

#[cfg(test)]
#[path = "model_tests.rs"]
mod tests;
