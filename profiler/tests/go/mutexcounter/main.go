// Two goroutines increment one counter behind a sync.Mutex, as request counters often are: the
// mutex's state word and the counter beside it move between the CPUs on every increment. The
// banner gives the mutex's address; the increment carries a marker comment the tests look for.
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

var counters = &stats{}

var sink uint64

func worker(id int, stop <-chan struct{}) {
	h := uint64(id + 1)
	for n := 0; ; n++ {
		if testkit.Stopped(n, stop) {
			atomic.AddUint64(&sink, h)
			return
		}
		h = testkit.Work(h, 8)
		counters.mu.Lock()
		counters.requests++ // LOCKED INCREMENT
		counters.mu.Unlock()
	}
}

func main() {
	d := testkit.Duration()
	fmt.Printf("mutex %#x\n", uintptr(unsafe.Pointer(&counters.mu)))
	testkit.RunWorkers(2, d, worker)
	fmt.Println(counters.requests)
}
