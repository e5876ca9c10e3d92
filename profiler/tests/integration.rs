//! Integration tests: real eBPF against real Go programs built by the tests, with both Go map
//! implementations (Go 1.19 classic `hmap`, Go 1.27 swiss tables). They need root; run them with
//! `cargo xtask test` (one thread: they load BPF programs and watch the system's program list).

mod suite;
