//! Advice for a line only the sampled data addresses found: what its accesses touched (a lock
//! word, a channel's lock, atomics, plain words of globals) and the fix for each.

use crate::report::{AccessSite, DataSamples, Verdict};

/// Functions named as the line's accessors, at most.
const FUNCTIONS_NAMED: usize = 2;

/// The advice for a line judged `verdict` from its `data` samples; None for verdicts that call
/// for none.
pub fn advice(data: &DataSamples, verdict: Verdict) -> Option<String> {
    if !matches!(verdict, Verdict::FalseSharing | Verdict::TrueSharing) {
        return None;
    }
    let in_code = in_functions(&data.accesses);
    // The first access named after a primitive: another may name the same word by the field
    // path of the struct holding it (`main.config.mu.readerCount`).
    let primitive = data
        .accesses
        .iter()
        .filter_map(|a| a.object.as_deref())
        .find_map(|p| primitive_advice(p, &in_code));
    if let Some(text) = primitive {
        return Some(text);
    }
    let names = word_names(data);
    Some(match verdict {
        Verdict::FalseSharing => format!(
            "Threads write different words of this line{names}{in_code}: each write takes the \
             line from the other CPUs. Pad them apart, each on a cache line of its own (a \
             `_ [64]byte` or `cpu.CacheLinePad` between them; 128 bytes where the adjacent-line \
             prefetcher pairs lines), or keep per-goroutine copies summed when read."
        ),
        _ if data.locked > 0 => format!(
            "Threads update the same word{names} with atomic read-modify-writes{in_code}: every \
             update moves the line. Shard it (per CPU or per goroutine, each shard on a line of \
             its own) and sum the shards when read, or batch the updates."
        ),
        _ => format!(
            "Threads write and read the same words{names}{in_code}: the data itself is shared. \
             Give each thread its own copy and merge them when read, or write less often."
        ),
    })
}

/// The fix for a line whose accesses are to `object`, a sync or runtime primitive
/// (`sync.RWMutex.readerCount`); None for other objects (the typed atomics among them).
fn primitive_advice(object: &str, in_code: &str) -> Option<String> {
    let text = if object.starts_with("sync.RWMutex") {
        format!(
            "Every RLock and RUnlock adds to the sync.RWMutex's reader count ({object}){in_code}, \
             so readers on different CPUs take its line from each other although none waits. \
             For read-mostly data, publish a copy-on-write snapshot behind an atomic.Pointer \
             (readers Load it; a writer copies, changes and Stores a new one), or shard the lock."
        )
    } else if object.starts_with("sync.Mutex") {
        format!(
            "A contended sync.Mutex ({object}){in_code}: every Lock and Unlock moves its state \
             word between CPUs, and waiters spin or sleep. Shard the lock (one per key range or \
             per CPU), or shorten or batch the critical sections."
        )
    } else if object.starts_with("runtime.hchan") {
        format!(
            "A contended channel ({object}){in_code}: its senders and receivers take its lock \
             for every item. Send items in batches (a slice per send), or give each worker a \
             channel of its own."
        )
    } else if object.starts_with("sync.WaitGroup") {
        format!(
            "Goroutines on different CPUs update one sync.WaitGroup ({object}){in_code}. Add \
             once per batch rather than once per item, or give each group of workers its own."
        )
    } else {
        return None;
    };
    Some(text)
}

/// ` (main.hot.a, main.hot.b)`: the names of the line's words (of the globals there, else the
/// fields its accesses were named with), or nothing where none is known.
fn word_names(data: &DataSamples) -> String {
    let names = data.object_names();
    if names.is_empty() {
        return String::new();
    }
    format!(" ({})", names.join(", "))
}

/// ` in f, g`: the functions that made the most sampled accesses, or nothing.
fn in_functions(accesses: &[AccessSite]) -> String {
    let mut named: Vec<&str> = Vec::new();
    for a in accesses {
        let f = a.frame.function.as_str();
        if !named.contains(&f) {
            named.push(f);
        }
    }
    named.truncate(FUNCTIONS_NAMED);
    if named.is_empty() {
        String::new()
    } else {
        format!(" in {}", named.join(", "))
    }
}

#[cfg(test)]
#[path = "advice_sampled_tests.rs"]
mod tests;
