//! clprof: find the cache lines that threads fight over, in live Go processes, with eBPF.
