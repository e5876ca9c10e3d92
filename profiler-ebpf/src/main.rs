//! clprof's kernel side: uprobes on Go map-assign functions that fold every write into per-line
//! and per-object statistics, and send a sample of the writes (with user stacks) to userspace.
#![no_std]
#![no_main]
#![feature(core_intrinsics)]
#![allow(internal_features)]

mod custom;
mod data_address;
mod entry;
mod fold;
mod header;
mod map_access;
mod map_assign;
mod map_grow;
mod map_make;
mod map_return;
mod maps;
mod perf_sample;
mod process;
mod sample;
mod watch;
mod xol;

#[cfg(not(test))]
#[panic_handler]
fn panic(_info: &core::panic::PanicInfo) -> ! {
    loop {}
}

#[unsafe(link_section = "license")]
#[unsafe(no_mangle)]
static LICENSE: [u8; 4] = *b"GPL\0";
