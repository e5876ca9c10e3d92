// Two goroutines increment one counter behind a sync.Mutex, as request counters often are: the
// mutex's state word and the counter beside it move between the CPUs on every increment. The
// banner gives the mutex's address; the increment carries a marker comment the tests look for.
// With `pergoroutine` as the second argument, the fix: each goroutine counts on a line of its
// own, summed when read. A third argument sets how many goroutines increment (default 2, at most
// 8): more than there are CPUs, and some of them wait for the lock asleep. Prints
// `ops N cpu_ms M` (the increments, the CPU time used).
//
// Usage: mutexcounter [DURATION] [pergoroutine|shared] [GOROUTINES]
package main

import (
	"fmt"
	"strconv"
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
	perG     [8]own
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
	workers := 2
	if n, err := strconv.Atoi(testkit.Arg(3)); err == nil && n >= 1 && n <= len(perG) {
		workers = n
	}
	fmt.Printf("mutex %#x\n", uintptr(unsafe.Pointer(&counters.mu)))
	testkit.RunWorkers(workers, d, worker)
	ops := counters.requests
	for _, c := range perG {
		ops += c.requests
	}
	fmt.Printf("ops %d cpu_ms %d\n", ops, testkit.CPUTime().Milliseconds())
}
