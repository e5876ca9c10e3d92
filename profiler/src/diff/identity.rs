//! What a line is across runs: its target's executable and the objects living in it, described
//! without addresses or pids, and a profile's lines added up per identity.

use std::{
    collections::{BTreeMap, HashMap},
    path::Path,
};

use serde::{Deserialize, Serialize};

use super::{ComparedBy, Side};
use crate::report::{
    parse_hex, DataSamples, FrameReport, LineReport, MapReport, ObjectKind, ObjectReport, Report,
    Verdict,
};

/// A line's identity: equal in two runs of one program when the same objects share the line.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Identity {
    /// Base name of the target's executable.
    pub exe: String,
    /// The objects in the line, sorted (a multiset: two maps of one type made by one function
    /// are two entries; the value slots of one map count once).
    pub objects: Vec<ObjectIdentity>,
    /// For a line no probe or watchpoint saw, what its data samples say it holds: its words'
    /// names, else the primitive its code touched and that code's function, else the function.
    pub sampled: Option<String>,
    /// The identity in one line of text.
    pub label: String,
}

impl Identity {
    /// The identity with the objects' fields and makers left out: what stays the same when the
    /// objects sit at other offsets of the line, or when another run's sampled stacks name
    /// another function for where a map was first written (an inlined frame or its caller).
    pub fn shape(&self) -> Identity {
        let mut objects = self.objects.clone();
        for o in &mut objects {
            o.fields.clear();
            o.made_in = None;
            o.written_by = None;
        }
        objects.sort();
        Identity {
            exe: self.exe.clone(),
            objects,
            sampled: self.sampled.clone(),
            label: String::new(),
        }
    }
}

/// One object of a line, without its address.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct ObjectIdentity {
    pub kind: ObjectKind,
    /// The map's Go type (for a slot, its owner map's); null when unknown or not a map.
    pub go_type: Option<String>,
    /// The function that made the map (`made_at`, else where it was first written:
    /// `first_assign`), the innermost one outside the runtime; null when unknown.
    pub made_in: Option<String>,
    /// The object's fields in this line.
    pub fields: Vec<String>,
    /// For `custom`: the probed function.
    pub probe: Option<String>,
    /// For `watched`: the watched word's name (`SYMBOL+OFF`); null when it was watched by
    /// address (`--watch auto`, an ADDR), which differs between runs.
    pub watched: Option<String>,
    /// For a `watched` word without a name: the function that wrote it most.
    pub written_by: Option<String>,
}

/// A profile's lines of one identity, added up.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Tally {
    pub lines: usize,
    pub writes_per_s: f64,
    pub transfers_per_s: f64,
    pub remote_reads_per_s: f64,
    /// CPU time moving them (ns/s); None when a line's is unknown.
    pub cpu_ns_per_s: Option<f64>,
    /// Variance of `cpu_ns_per_s` ((ns/s)²).
    pub cpu_var: f64,
    /// Variance of the moves per second.
    pub moves_var: f64,
    /// Share of the target's CPU time (percent); None when a line's is unknown.
    pub target_cpu_pct: Option<f64>,
    /// The costliest line's verdict and cost (ns/s, else moves/s).
    verdict: Option<(f64, Verdict)>,
}

impl Tally {
    fn add(&mut self, line: &LineFigures) {
        if self.lines == 0 {
            self.cpu_ns_per_s = Some(0.0);
            self.target_cpu_pct = Some(0.0);
        }
        self.lines += 1;
        self.writes_per_s += line.writes_per_s;
        self.transfers_per_s += line.transfers_per_s;
        self.remote_reads_per_s += line.remote_reads_per_s;
        self.cpu_ns_per_s = self.cpu_ns_per_s.zip(line.cpu_ns_per_s).map(|(a, b)| a + b);
        self.target_cpu_pct = self
            .target_cpu_pct
            .zip(line.target_cpu_pct)
            .map(|(a, b)| a + b);
        let cpu_sigma = line.cpu_ns_per_s.unwrap_or(0.0) * line.cpu_rel_err;
        self.cpu_var += cpu_sigma * cpu_sigma;
        let moves_sigma = line.moves_per_s() * line.moves_rel_err;
        self.moves_var += moves_sigma * moves_sigma;
        let weight = line.cpu_ns_per_s.unwrap_or(line.moves_per_s());
        if self.verdict.is_none_or(|(w, _)| weight > w) {
            self.verdict = Some((weight, line.verdict));
        }
    }

    /// The moves per second.
    pub fn moves_per_s(&self) -> f64 {
        self.transfers_per_s + self.remote_reads_per_s
    }

    /// The lines as the diff shows them, with the relative error of the measure compared by.
    pub fn side(&self, by: ComparedBy) -> Side {
        let moves = self.moves_per_s();
        let (value, var) = match by {
            ComparedBy::CpuTime => (self.cpu_ns_per_s.unwrap_or(0.0), self.cpu_var),
            ComparedBy::Moves => (moves, self.moves_var),
        };
        Side {
            lines: self.lines,
            writes_per_s: self.writes_per_s,
            transfers_per_s: self.transfers_per_s,
            remote_reads_per_s: self.remote_reads_per_s,
            moves_per_s: moves,
            cpu_ns_per_s: self.cpu_ns_per_s,
            target_cpu_pct: self.target_cpu_pct,
            rel_err: if value > 0.0 { var.sqrt() / value } else { 0.0 },
            verdict: self.verdict.map_or(Verdict::Private, |(_, v)| v),
        }
    }
}

/// Whether every line of a profile has a CPU-time cost.
pub fn has_costs(tallies: &BTreeMap<Identity, Tally>) -> bool {
    tallies.values().all(|t| t.cpu_ns_per_s.is_some())
}

/// A profile's lines added up per identity.
pub fn tally(report: &Report) -> BTreeMap<Identity, Tally> {
    let maps: HashMap<(u32, u64), &MapReport> = report
        .maps
        .iter()
        .filter_map(|m| Some(((m.pid, parse_hex(&m.addr)?), m)))
        .collect();
    let mut out: BTreeMap<Identity, Tally> = BTreeMap::new();
    for line in &report.lines {
        let id = identity(report, &maps, line);
        out.entry(id)
            .or_default()
            .add(&LineFigures::of(report, line));
    }
    out
}

/// The identity of one line.
pub fn identity(
    report: &Report,
    maps: &HashMap<(u32, u64), &MapReport>,
    line: &LineReport,
) -> Identity {
    let exe = report
        .targets
        .iter()
        .find(|t| t.pid == line.pid)
        .map(|t| {
            Path::new(&t.exe)
                .file_name()
                .map_or(t.exe.clone(), |n| n.to_string_lossy().into_owned())
        })
        .unwrap_or_else(|| "?".to_owned());
    let mut objects: Vec<ObjectIdentity> = Vec::new();
    let mut watched: Vec<ObjectIdentity> = Vec::new();
    for o in &line.objects {
        match o.kind {
            ObjectKind::GoMap | ObjectKind::GoMapSlot => {
                let id = map_identity(o, maps, line.pid);
                // A line holds as many slots of one map as were written there: count them once.
                if o.kind == ObjectKind::GoMap || !objects.contains(&id) {
                    objects.push(id);
                }
            }
            ObjectKind::Watched => watched.push(watched_identity(o, line)),
            _ => objects.push(ObjectIdentity {
                probe: o.assign.clone(),
                ..ObjectIdentity::blank(o)
            }),
        }
    }
    // Words watched by address are another look at the line's objects, and whether they were
    // watched at all depends on the run: they identify a line only when nothing else does.
    let only_watched = objects.is_empty();
    objects.extend(
        watched
            .into_iter()
            .filter(|w| only_watched || w.watched.is_some()),
    );
    objects.sort();
    let sampled = match objects.is_empty() {
        true => line.data_samples.as_ref().map(sampled_identity),
        false => None,
    };
    let label = match &sampled {
        Some(what) => format!("{exe}: sampled {what}"),
        None => label(&exe, &objects),
    };
    Identity {
        exe,
        objects,
        sampled,
        label,
    }
}

/// What a line's data samples say it holds, without addresses: the names of its words, else
/// the primitive its most sampled code touched (`sync.RWMutex.readerCount in main.reader`),
/// else that code's function.
fn sampled_identity(data: &DataSamples) -> String {
    if !data.names.is_empty() {
        let names: Vec<&str> = data.names.iter().map(|n| n.name.as_str()).collect();
        return names.join(" ");
    }
    let Some(top) = data.accesses.first() else {
        return "(no access named)".to_owned();
    };
    match &top.object {
        Some(object) => format!("{object} in {}", top.frame.function),
        None => top.frame.function.clone(),
    }
}

impl ObjectIdentity {
    /// `o`'s kind and fields, nothing else known yet.
    fn blank(o: &ObjectReport) -> Self {
        ObjectIdentity {
            kind: o.kind,
            go_type: None,
            made_in: None,
            fields: o.fields.clone(),
            probe: None,
            watched: None,
            written_by: None,
        }
    }
}

/// A map header or value slot of process `pid`, told by its map's type and maker.
fn map_identity(
    o: &ObjectReport,
    maps: &HashMap<(u32, u64), &MapReport>,
    pid: u32,
) -> ObjectIdentity {
    let header = if o.kind == ObjectKind::GoMap {
        Some(o.addr.as_str())
    } else {
        o.owner.as_deref()
    };
    let map = header.and_then(parse_hex).and_then(|a| maps.get(&(pid, a)));
    ObjectIdentity {
        go_type: map.and_then(|m| m.go_type.clone()),
        made_in: map.and_then(|m| made_in(m)),
        ..ObjectIdentity::blank(o)
    }
}

/// A watched word of `line`, told by its name, or by the code that wrote it when it was watched
/// by address (`--watch auto`: a name that differs between runs).
fn watched_identity(o: &ObjectReport, line: &LineReport) -> ObjectIdentity {
    let name = line
        .watch
        .as_ref()
        .and_then(|w| w.words.iter().find(|w| w.addr == o.addr))
        .map(|w| w.name.clone())
        .or_else(|| o.fields.first().cloned());
    let named = name.filter(|n| parse_hex(n).is_none());
    ObjectIdentity {
        fields: Vec::new(),
        written_by: match named {
            Some(_) => None,
            None => o.writer.as_ref().map(|f| f.function.clone()),
        },
        watched: named,
        ..ObjectIdentity::blank(o)
    }
}

/// The innermost frame outside the Go runtime of where the map was made, else of its first
/// write: the function's name only (a fix moves source lines).
pub fn made_in(map: &MapReport) -> Option<String> {
    let outside = |frames: &[FrameReport]| {
        frames
            .iter()
            .find(|f| !is_runtime(&f.function))
            .map(|f| f.function.clone())
    };
    outside(&map.made_at).or_else(|| outside(&map.first_assign))
}

/// Whether `function` is in package runtime or an internal package.
fn is_runtime(function: &str) -> bool {
    ["runtime.", "runtime/", "internal/"]
        .iter()
        .any(|p| function.starts_with(p))
}

/// `exe: go-map map[int]int from main.newCache [used seed] + …`.
fn label(exe: &str, objects: &[ObjectIdentity]) -> String {
    if objects.is_empty() {
        return format!("{exe}: (no known object)");
    }
    let parts: Vec<String> = objects
        .iter()
        .map(|o| {
            let mut s = o.kind.to_string();
            for part in [&o.go_type, &o.probe, &o.watched].into_iter().flatten() {
                s.push(' ');
                s.push_str(part);
            }
            if let Some(f) = &o.made_in {
                s.push_str(" from ");
                s.push_str(f);
            }
            if let Some(f) = &o.written_by {
                s.push_str(" written by ");
                s.push_str(f);
            }
            if !o.fields.is_empty() {
                s.push_str(&format!(" [{}]", o.fields.join(" ")));
            }
            s
        })
        .collect();
    format!("{exe}: {}", parts.join(" + "))
}

/// One line's rates, cost and their errors.
struct LineFigures {
    writes_per_s: f64,
    transfers_per_s: f64,
    remote_reads_per_s: f64,
    /// Relative error of the moves per second: the estimates' and the counting noise.
    moves_rel_err: f64,
    cpu_ns_per_s: Option<f64>,
    cpu_rel_err: f64,
    target_cpu_pct: Option<f64>,
    verdict: Verdict,
}

impl LineFigures {
    fn of(report: &Report, line: &LineReport) -> LineFigures {
        let target = report.targets.iter().find(|t| t.pid == line.pid);
        let secs = target
            .and_then(|t| t.overhead.recorded_s)
            .filter(|s| *s > 0.0)
            .unwrap_or(report.duration_s);
        let per_s = |n: u64| {
            if secs > 0.0 {
                n as f64 / secs
            } else {
                n as f64
            }
        };
        let transfers = line.est.transfers.unwrap_or(line.transfers);
        let remote = line.est.remote_reads.or(line.remote_reads).unwrap_or(0);
        // The estimates' errors, and the counting noise of the moves seen (√n / n).
        let est_sigma = |n: u64, rel: Option<f64>| n as f64 * rel.unwrap_or(0.0);
        let moves = (transfers + remote) as f64;
        let seen = line.transfers + line.remote_reads.unwrap_or(0);
        let moves_rel_err = if moves > 0.0 && seen > 0 {
            let est = est_sigma(transfers, line.est.transfers_rel_err)
                .hypot(est_sigma(remote, line.est.remote_reads_rel_err))
                / moves;
            (est * est + 1.0 / seen as f64).sqrt()
        } else {
            0.0
        };
        let moves_per_s = per_s(transfers) + per_s(remote);
        // Own CPU time per second recorded (ns/s), for the share of it.
        let cpu_per_s = target
            .and_then(|t| t.overhead.cpu_s)
            .filter(|_| secs > 0.0)
            .map(|cpu| cpu / secs * 1e9)
            .filter(|c| *c > 0.0);
        let (cpu_ns_per_s, cpu_rel_err, target_cpu_pct) = match line.cost {
            Some(c) => (Some(c.cpu_ns_per_s), c.rel_err, Some(c.target_cpu_pct)),
            None => {
                let ns = if moves_per_s == 0.0 {
                    Some(0.0)
                } else {
                    report.sources.line_transfer_ns.map(|t| moves_per_s * t)
                };
                let pct = ns.zip(cpu_per_s).map(|(ns, cpu)| 100.0 * ns / cpu);
                (ns, moves_rel_err, pct.or(ns.filter(|n| *n == 0.0)))
            }
        };
        LineFigures {
            writes_per_s: per_s(line.est.writes.unwrap_or(line.writes)),
            transfers_per_s: per_s(transfers),
            remote_reads_per_s: per_s(remote),
            moves_rel_err,
            cpu_ns_per_s,
            cpu_rel_err,
            target_cpu_pct,
            verdict: line.verdict,
        }
    }

    fn moves_per_s(&self) -> f64 {
        self.transfers_per_s + self.remote_reads_per_s
    }
}

#[cfg(test)]
#[path = "identity_tests.rs"]
mod tests;
