// Two readers look a config map up under a sync.RWMutex read lock while a writer replaces an
// entry every 50 ms: RLock and RUnlock each add to the mutex's reader count, so that word moves
// between the readers' CPUs on every lookup, though no reader ever waits. The banner gives the
// mutex's address; the lookup carries a marker comment the tests look for.
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

var cfg = &config{values: map[string]int{"limit": 1, "timeout": 2}}

var sink uint64

func reader(id int, stop <-chan struct{}) {
	h := uint64(id + 1)
	for n := 0; ; n++ {
		if testkit.Stopped(n, stop) {
			atomic.AddUint64(&sink, h)
			return
		}
		cfg.mu.RLock() // READ LOCK
		h += uint64(cfg.values["limit"]) // LOOKUP
		cfg.mu.RUnlock()
	}
}

func writer(stop <-chan struct{}) {
	for i := 0; ; i++ {
		select {
		case <-stop:
			return
		case <-time.After(50 * time.Millisecond):
		}
		cfg.mu.Lock()
		cfg.values["limit"] = i
		cfg.mu.Unlock()
	}
}

func main() {
	d := testkit.Duration()
	fmt.Printf("mutex %#x\n", uintptr(unsafe.Pointer(&cfg.mu)))
	stop := make(chan struct{})
	go writer(stop)
	testkit.RunWorkers(2, d, reader)
	close(stop)
	fmt.Println(atomic.LoadUint64(&sink))
}
