mod cli_errors;
mod go;
mod perf_events;
mod record;
mod semantics;
mod support;
