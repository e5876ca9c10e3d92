// Two goroutines increment one counter behind a sync.Mutex, as request counters often are: the
// mutex's state word and the counter beside it move between the CPUs on every increment. The
// banner gives the mutex's address; the increment carries a marker comment the tests look for.
// With `pergoroutine` as the second argument, the fix: each goroutine counts on a line of its
// own, summed when read. Prints `ops N cpu_ms M` (the increments, the CPU time used).
//
// Usage: mutexcounter [DURATION] [pergoroutine]
package main

import (
	"fmt"
	"sync"
	"sync/atomic"
	"unsafe"

	"clproftest/testkit"
)

type stats struct {
	mu       sync.Mutex
	requests int64
}

// own is one goroutine's counter, alone on its lines.
type own struct {
	requests int64
	_        [120]byte
}

var (
	counters = &stats{}
	perG     [2]own
	split    bool
)

var sink uint64

func worker(id int, stop <-chan struct{}) {
	h := uint64(id + 1)
	for n := 0; ; n++ {
		if testkit.Stopped(n, stop) {
			atomic.AddUint64(&sink, h)
			return
		}
		h = testkit.Work(h, 8)
		if split {
			perG[id].requests++ // OWN INCREMENT
			continue
		}
		counters.mu.Lock()
		counters.requests++ // LOCKED INCREMENT
		counters.mu.Unlock()
	}
}

func main() {
	d := testkit.Duration()
	split = testkit.Arg(2) == "pergoroutine"
	fmt.Printf("mutex %#x\n", uintptr(unsafe.Pointer(&counters.mu)))
	testkit.RunWorkers(2, d, worker)
	ops := counters.requests + perG[0].requests + perG[1].requests
	fmt.Printf("ops %d cpu_ms %d\n", ops, testkit.CPUTime().Milliseconds())
}
