mod budget;
mod cli_errors;
mod export;
mod go;
mod perf_events;
mod record;
mod semantics;
mod support;
