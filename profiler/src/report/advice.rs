//! What to change: one or two sentences per line that name its objects (the map's type and
//! where it was made), the fields in the line and the functions that write it, with the fix for
//! the line's verdict.

use crate::report::{
    advice_sampled, parse_hex, verdict::MapIndex, FrameReport, LineReport, MapReport, ObjectKind,
    ObjectReport, Verdict,
};

/// Functions named as a line's writers, at most.
const WRITERS_NAMED: usize = 2;

/// The advice for `line`, judged `verdict`; None for a private line.
pub fn advice(line: &LineReport, verdict: Verdict, maps: &MapIndex<'_>) -> Option<String> {
    if verdict == Verdict::Undecided {
        return Some(undecided(line));
    }
    // A line whose writers no map or custom probe saw (at most watched words): what its data
    // samples touched names it better (a lock, a counter of a global).
    if let Some(data) = &line.data_samples {
        let probed = |o: &ObjectReport| o.writes > 0 && o.kind != ObjectKind::Watched;
        if !line.objects.iter().any(probed) {
            return advice_sampled::advice(data, verdict);
        }
    }
    let writers = writer_functions(line);
    let subject = Subject {
        line,
        maps,
        written: line.objects.iter().filter(|o| o.writes > 0).collect(),
        in_writers: if writers.is_empty() {
            String::new()
        } else {
            format!(" (in {})", writers.join(", "))
        },
    };
    match verdict {
        Verdict::Private | Verdict::Undecided => None,
        Verdict::FalseSharing => Some(subject.false_sharing()),
        Verdict::TrueSharing => Some(subject.true_sharing()),
        Verdict::ReadWriteSharing => Some(subject.read_write_sharing()),
        Verdict::Growth => Some(subject.growth()),
        Verdict::Race => Some(subject.race()),
    }
}

/// What advice about one line speaks of: its written objects and the functions that write it.
struct Subject<'a> {
    line: &'a LineReport,
    maps: &'a MapIndex<'a>,
    /// The line's objects written while recorded.
    written: Vec<&'a ObjectReport>,
    /// ` (in f, g)`: the line's writing functions, or nothing when none is known.
    in_writers: String,
}

impl Subject<'_> {
    /// The map `o` is or is a slot of, when it is known.
    fn map_of(&self, o: &ObjectReport) -> Option<&MapReport> {
        let addr = match o.kind {
            ObjectKind::GoMap => parse_hex(&o.addr)?,
            ObjectKind::GoMapSlot => parse_hex(o.owner.as_deref()?)?,
            _ => return None,
        };
        self.maps.get(&(self.line.pid, addr)).copied()
    }

    /// `o`, described with its map.
    fn describe(&self, o: &ObjectReport) -> String {
        describe_object(o, self.map_of(o))
    }

    /// The first written object's map, described (`The map[int]int made in …`).
    fn the_map(&self) -> (Option<&MapReport>, String) {
        let map = self.written.iter().find_map(|o| self.map_of(o));
        let what = map.map_or_else(
            || "This map".to_owned(),
            |m| format!("The {}", describe_map(m)),
        );
        (map, what)
    }

    fn false_sharing(&self) -> String {
        let in_writers = &self.in_writers;
        let written = &self.written;
        if !written.is_empty() && written.iter().all(|o| o.kind == ObjectKind::GoMapSlot) {
            let owner = written.iter().find_map(|o| self.map_of(o));
            return format!(
                "Slots of keys written by different threads share one bucket of {}{in_writers}. \
                 Give each writer its own map (shard by writer) and merge them when read.",
                owner.map_or_else(|| "a map".to_owned(), describe_map)
            );
        }
        let names: Vec<String> = written.iter().map(|o| self.describe(o)).collect();
        format!(
            "{} share this line and are written by different threads{in_writers}. \
             Allocate them apart, or pad each to a cache line of its own (64 bytes; 128 \
             where the adjacent-line prefetcher pairs lines).",
            capitalize(&join_and(&names))
        )
    }

    fn true_sharing(&self) -> String {
        let shared = self
            .written
            .iter()
            .max_by_key(|o| (o.writers, o.writes))
            .copied();
        let n = shared.map_or(self.line.threads, |o| o.writers).max(2);
        let what = shared.map_or_else(|| "This line".to_owned(), |o| capitalize(&self.describe(o)));
        let fix = if shared.is_some_and(|o| o.kind == ObjectKind::Watched) {
            format!(
                "Shard it {} ways, each shard on a cache line of its own (a per-CPU or \
                 per-goroutine counter), and sum the shards when read.",
                shards(n)
            )
        } else {
            format!(
                "Shard it {} ways (by key hash, a lock per shard, each shard's header on a \
                 line of its own), or give each goroutine its own map and merge them later.",
                shards(n)
            )
        };
        format!("{what} is written by {n} threads{}. {fix}", self.in_writers)
    }

    fn read_write_sharing(&self) -> String {
        let what = self
            .written
            .first()
            .map_or_else(|| "This line".to_owned(), |o| capitalize(&self.describe(o)));
        let readers = self.line.reader_threads.unwrap_or(0);
        format!(
            "{what} is written{} while {readers} thread(s) read it on other CPUs. \
             Publish read-only snapshots (copy on write behind an atomic.Pointer), or take \
             the read path of a sync.RWMutex.",
            self.in_writers
        )
    }

    fn growth(&self) -> String {
        let (map, what) = self.the_map();
        let size = map.and_then(|m| m.entries);
        let make = match (map.and_then(|m| m.go_type.as_deref()), size) {
            (Some(t), Some(n)) => format!("make({t}, {n})"),
            (Some(t), None) => format!("make({t}, n)"),
            (None, _) => "make(map[K]V, n)".to_owned(),
        };
        let held = size.map_or_else(String::new, |n| format!(" (it held {n} entries)"));
        format!(
            "{what} keeps growing while written{}: {} of its {} writes here came \
             during growth. Pre-size it with {make}{held}.",
            self.in_writers,
            self.line.growth_writes.unwrap_or(0),
            self.line.writes
        )
    }

    fn race(&self) -> String {
        let (_, what) = self.the_map();
        format!(
            "{what} is written by one thread while another is inside a write or read of \
             it{}: a data race, which Go may kill the program for. It is a bug: \
             guard it with a sync.Mutex, or use sync.Map where keys are written once and \
             read often, or goroutines touch disjoint keys.",
            self.in_writers
        )
    }
}

/// What was seen of a line too little seen to judge, and how to see more.
fn undecided(line: &LineReport) -> String {
    let moves = super::verdict::moves_seen(line);
    let samples = line.data_samples.as_ref().map_or(0, |d| d.samples);
    let seen = match (moves, samples) {
        (0, n) => format!("{n} data sample(s)"),
        (m, 0) => format!("{m} move(s) between caches"),
        (m, n) => format!("{m} move(s) between caches and {n} data sample(s)"),
    };
    format!(
        "Only {seen} of this line were seen: too few to tell how it is shared. Record longer, \
         or with a larger --budget, to judge it."
    )
}

/// Shards for `writers`: the next power of two (for a cheap hash to shard).
fn shards(writers: u32) -> u32 {
    writers.max(2).next_power_of_two()
}

/// `map[int]int made in main.main (main.go:12)`.
pub fn describe_map(m: &MapReport) -> String {
    let ty = m.go_type.as_deref().unwrap_or("map");
    match where_made(m) {
        Some(at) => format!("{ty} {at}"),
        None => format!("{ty} at {}", m.addr),
    }
}

/// Where a map was made, else where it was first written; None when neither was seen.
fn where_made(m: &MapReport) -> Option<String> {
    if let Some(f) = outside_runtime(&m.made_at) {
        return Some(format!("made in {}", frame_text(f)));
    }
    outside_runtime(&m.first_assign).map(|f| format!("first written in {}", frame_text(f)))
}

/// The innermost frame that is not the Go runtime's.
fn outside_runtime(frames: &[FrameReport]) -> Option<&FrameReport> {
    frames.iter().find(|f| !is_runtime(&f.function))
}

fn is_runtime(function: &str) -> bool {
    function.starts_with("runtime.") || function.starts_with("internal/runtime/")
}

/// `main.main (main.go:12)`.
fn frame_text(f: &FrameReport) -> String {
    let file = f.file.as_deref().map(|p| p.rsplit('/').next().unwrap_or(p));
    match (file, f.line) {
        (Some(file), Some(line)) => format!("{} ({file}:{line})", f.function),
        (Some(file), None) => format!("{} ({file})", f.function),
        _ => f.function.clone(),
    }
}

/// One object of a line, with its fields there.
fn describe_object(o: &ObjectReport, map: Option<&MapReport>) -> String {
    let fields = if o.fields.is_empty() || o.kind == ObjectKind::Watched {
        String::new()
    } else {
        format!(" (fields {})", o.fields.join(", "))
    };
    match o.kind {
        ObjectKind::GoMap => format!(
            "the header of {}{fields}",
            map.map_or_else(|| format!("the map at {}", o.addr), describe_map)
        ),
        ObjectKind::GoMapSlot => format!(
            "a slot of {}",
            map.map_or_else(|| "a map".to_owned(), describe_map)
        ),
        ObjectKind::Watched => {
            let name = o.fields.first().map_or(o.addr.as_str(), String::as_str);
            match &o.writer {
                Some(w) => format!("`{name}` (written in {})", frame_text(w)),
                None => format!("`{name}`"),
            }
        }
        ObjectKind::Custom => format!(
            "the object at {} written by {}",
            o.addr,
            o.assign.as_deref().unwrap_or("a custom probe")
        ),
    }
}

/// The functions that wrote the line most: the assigns' callers, then the watched words'
/// writers.
fn writer_functions(line: &LineReport) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let frames = line
        .top_frames
        .iter()
        .chain(line.objects.iter().filter_map(|o| o.writer.as_ref()));
    for f in frames {
        if !out.contains(&f.function) && !is_runtime(&f.function) {
            out.push(f.function.clone());
        }
    }
    out.truncate(WRITERS_NAMED);
    out
}

/// `a`, `a and b`, `a, b and c`.
fn join_and(items: &[String]) -> String {
    match items {
        [] => "its objects".to_owned(),
        [one] => one.clone(),
        [rest @ .., last] => format!("{} and {last}", rest.join(", ")),
    }
}

fn capitalize(s: &str) -> String {
    let mut chars = s.chars();
    match chars.next() {
        Some(c) => c.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

#[cfg(test)]
#[path = "advice_tests.rs"]
mod tests;
