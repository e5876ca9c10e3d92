//! What a session hands every collection run: the SIGINT/SIGTERM listeners and the ring buffers
//! (sampled events, eBPF logs) registered with tokio.

use aya::maps::{MapData, RingBuf};
use tokio::{
    io::unix::AsyncFd,
    signal::unix::{signal, Signal, SignalKind},
};

/// SIGINT and SIGTERM listeners. Created at start, so that a signal arriving while clprof sets
/// up (loading, calibrating, attaching) ends recording cleanly instead of killing clprof.
pub struct Signals {
    pub(crate) interrupt: Signal,
    pub(crate) terminate: Signal,
}

impl Signals {
    pub fn catch() -> std::io::Result<Self> {
        Ok(Signals {
            interrupt: signal(SignalKind::interrupt())?,
            terminate: signal(SignalKind::terminate())?,
        })
    }
}

type Logger = aya_log::EbpfLogger<&'static dyn log::Log>;

/// The sampled-event ring buffer and the eBPF log ring, registered with tokio once and drained
/// by every collection run.
pub struct Streams {
    pub(crate) events: AsyncFd<RingBuf<MapData>>,
    pub(crate) logger: Option<AsyncFd<Logger>>,
}

impl Streams {
    pub fn new(events: RingBuf<MapData>, logger: Option<Logger>) -> std::io::Result<Self> {
        // SAFETY: both own their fd (a BPF ring buffer map) and keep it open and unchanged for
        // as long as the AsyncFd owns them.
        let events = unsafe { AsyncFd::register(events) }?;
        let logger = match logger {
            Some(l) => Some(unsafe { AsyncFd::register(l) }?),
            None => None,
        };
        Ok(Streams { events, logger })
    }
}
