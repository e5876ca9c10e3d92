//! Sync and runtime primitives named from the code that touches them: an access inside (or
//! inlined from) `sync.(*RWMutex).RLock` is the mutex's reader count, whatever object holds the
//! mutex. Function names come from `.gopclntab`, so stripped binaries are named too. Go 1.19 to
//! 1.27 keep these names and fields.

use crate::symbolize::Frame;

/// Functions whose memory accesses are one field of one primitive: (function, type, field).
const FIELDS: &[(&str, &str, &str)] = &[
    ("sync.(*RWMutex).RLock", "sync.RWMutex", "readerCount"),
    ("sync.(*RWMutex).RUnlock", "sync.RWMutex", "readerCount"),
    ("sync.(*RWMutex).TryRLock", "sync.RWMutex", "readerCount"),
    ("sync.(*RWMutex).rUnlockSlow", "sync.RWMutex", "readerWait"),
    ("sync.(*Mutex).Lock", "sync.Mutex", "state"),
    ("sync.(*Mutex).Unlock", "sync.Mutex", "state"),
    ("sync.(*Mutex).TryLock", "sync.Mutex", "state"),
    ("sync.(*Mutex).lockSlow", "sync.Mutex", "state"),
    ("sync.(*Mutex).unlockSlow", "sync.Mutex", "state"),
    ("internal/sync.(*Mutex).Lock", "sync.Mutex", "state"),
    ("internal/sync.(*Mutex).Unlock", "sync.Mutex", "state"),
    ("internal/sync.(*Mutex).lockSlow", "sync.Mutex", "state"),
    ("internal/sync.(*Mutex).unlockSlow", "sync.Mutex", "state"),
    ("sync.(*WaitGroup).Add", "sync.WaitGroup", "state"),
    ("sync.(*WaitGroup).Done", "sync.WaitGroup", "state"),
    ("sync.(*WaitGroup).Wait", "sync.WaitGroup", "state"),
    ("sync.(*Once).Do", "sync.Once", "done"),
    ("sync.(*Once).doSlow", "sync.Once", "done"),
];

/// Functions that touch several fields of a primitive: the type is known, the field is not.
const TYPES: &[(&str, &str)] = &[
    ("sync.(*RWMutex).Lock", "sync.RWMutex"),
    ("sync.(*RWMutex).Unlock", "sync.RWMutex"),
    ("runtime.chansend", "runtime.hchan"),
    ("runtime.chanrecv", "runtime.hchan"),
    ("runtime.closechan", "runtime.hchan"),
    ("runtime.selectgo", "runtime.hchan"),
];

/// The runtime's lock functions: inside a channel operation they touch the channel's lock.
const RUNTIME_LOCKS: &[&str] = &[
    "runtime.lock",
    "runtime.lock2",
    "runtime.lockWithRank",
    "runtime.unlock",
    "runtime.unlock2",
    "runtime.unlockWithRank",
];

/// What the code at one sampled instruction touched: the primitive (`sync.RWMutex.readerCount`,
/// `runtime.hchan.lock`, `sync.RWMutex` where the field is not told, `sync/atomic.Int64` for the
/// typed atomics), from its inline chain `frames`, innermost first. None outside them.
pub fn touched(frames: &[Frame]) -> Option<String> {
    let mut atomic = None;
    let mut runtime_lock = false;
    for f in frames {
        let name = f.function.as_str();
        if let Some((_, ty, field)) = FIELDS.iter().find(|(func, ..)| *func == name) {
            return Some(format!("{ty}.{field}"));
        }
        if let Some((_, ty)) = TYPES.iter().find(|(func, _)| *func == name) {
            let field = (runtime_lock && *ty == "runtime.hchan").then_some(".lock");
            return Some(format!("{ty}{}", field.unwrap_or("")));
        }
        if RUNTIME_LOCKS.contains(&name) {
            runtime_lock = true;
        }
        if atomic.is_none() {
            atomic = atomic_type(name);
        }
    }
    atomic
}

/// `sync/atomic.Int64` for a method of the typed atomics (`sync/atomic.(*Int64).Add`).
fn atomic_type(function: &str) -> Option<String> {
    let rest = function.strip_prefix("sync/atomic.(*")?;
    let (ty, _) = rest.split_once(")")?;
    Some(format!("sync/atomic.{ty}"))
}

/// The frame of the code that made the access: the innermost one outside the primitives and
/// the runtime's and sync's internals; the innermost frame where all are inside them.
pub fn caller(frames: &[Frame]) -> Option<&Frame> {
    let internal = |f: &&Frame| {
        let name = f.function.as_str();
        ["sync.", "sync/atomic.", "internal/sync.", "runtime."]
            .iter()
            .any(|p| name.starts_with(p))
    };
    frames
        .iter()
        .find(|f| !internal(f))
        .or_else(|| frames.first())
}

#[cfg(test)]
#[path = "primitives_tests.rs"]
mod tests;
