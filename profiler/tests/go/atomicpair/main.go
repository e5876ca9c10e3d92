// Two goroutines atomically add to neighbouring int64 fields of one global struct, as metrics
// counters do: no map is at fault, yet the struct's line moves between the CPUs on every add
// (false sharing). The banner gives the struct's address; the add carries a marker comment the
// tests look for.
package main

import (
	"fmt"
	"sync/atomic"
	"unsafe"

	"clproftest/testkit"
)

type counters struct {
	a int64
	b int64
}

var hot counters

// sink keeps the work between adds from being optimized away.
var sink uint64

func worker(id int, stop <-chan struct{}) {
	field := &hot.a
	if id == 1 {
		field = &hot.b
	}
	h := uint64(id + 1)
	for n := 0; ; n++ {
		if testkit.Stopped(n, stop) {
			atomic.AddUint64(&sink, h)
			return
		}
		// A little work between adds, as counters in real code have.
		h = testkit.Work(h, 8)
		atomic.AddInt64(field, 1) // CONTENDED ADD
	}
}

func main() {
	d := testkit.Duration()
	fmt.Printf("hot %#x\n", uintptr(unsafe.Pointer(&hot)))
	testkit.RunWorkers(2, d, worker)
	fmt.Printf("cpu_ms %d\n", testkit.CPUTime().Milliseconds())
	fmt.Println(atomic.LoadInt64(&hot.a), atomic.LoadInt64(&hot.b))
}
