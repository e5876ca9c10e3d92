// Two readers look a config map up under a sync.RWMutex read lock while a writer replaces an
// entry every 50 ms: RLock and RUnlock each add to the mutex's reader count, so that word moves
// between the readers' CPUs on every lookup, though no reader ever waits. The banner gives the
// mutex's address; the lookup carries a marker comment the tests look for. With `snapshot` as
// the second argument, the fix: readers load a copy-on-write snapshot behind an atomic.Pointer,
// which the writer replaces. Prints `ops N cpu_ms M` (the lookups, the CPU time used).
//
// Usage: rwconfig [DURATION] [snapshot]
package main

import (
	"fmt"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"clproftest/testkit"
)

type config struct {
	mu     sync.RWMutex
	values map[string]int
}

// cfg is made on the heap: 32 bytes, so 32-byte aligned, all in one cache line with the reader
// count (a static composite literal lands wherever the linker puts it).
var cfg = newConfig()

//go:noinline
func newConfig() *config {
	return &config{values: map[string]int{"limit": 1, "timeout": 2}}
}

// snap is the fix's snapshot: replaced whole by the writer, never changed in place.
var snap atomic.Pointer[map[string]int]

var (
	sink     uint64
	lookups  atomic.Int64
	snapshot bool
)

// stopping tells a reader in its round n whether to stop, adding its lookups and h when so.
func stopping(n int, h uint64, stop <-chan struct{}) bool {
	if !testkit.Stopped(n, stop) {
		return false
	}
	atomic.AddUint64(&sink, h)
	lookups.Add(int64(n))
	return true
}

func reader(id int, stop <-chan struct{}) {
	h := uint64(id + 1)
	for n := 0; !stopping(n, h, stop); n++ {
		cfg.mu.RLock()                   // READ LOCK
		h += uint64(cfg.values["limit"]) // LOOKUP
		cfg.mu.RUnlock()
	}
}

// snapshotReader is reader with the fix.
func snapshotReader(id int, stop <-chan struct{}) {
	h := uint64(id + 1)
	for n := 0; !stopping(n, h, stop); n++ {
		h += uint64((*snap.Load())["limit"]) // SNAPSHOT READ
	}
}

func writer(stop <-chan struct{}) {
	for i := 0; ; i++ {
		select {
		case <-stop:
			return
		case <-time.After(50 * time.Millisecond):
		}
		if snapshot {
			next := make(map[string]int)
			for k, v := range *snap.Load() {
				next[k] = v
			}
			next["limit"] = i
			snap.Store(&next)
			continue
		}
		cfg.mu.Lock()
		cfg.values["limit"] = i
		cfg.mu.Unlock()
	}
}

func main() {
	d := testkit.Duration()
	snapshot = testkit.Arg(2) == "snapshot"
	first := map[string]int{"limit": 1, "timeout": 2}
	snap.Store(&first)
	fmt.Printf("mutex %#x\n", uintptr(unsafe.Pointer(&cfg.mu)))
	stop := make(chan struct{})
	go writer(stop)
	if snapshot {
		testkit.RunWorkers(2, d, snapshotReader)
	} else {
		testkit.RunWorkers(2, d, reader)
	}
	close(stop)
	fmt.Printf("ops %d cpu_ms %d\n", lookups.Load(), testkit.CPUTime().Milliseconds())
	fmt.Println(atomic.LoadUint64(&sink))
}
