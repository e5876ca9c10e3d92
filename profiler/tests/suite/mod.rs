mod cli_errors;
mod go;
mod record;
mod semantics;
mod support;
