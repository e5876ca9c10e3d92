// Two goroutines atomically add to neighbouring int64 fields of one global struct, as metrics
// counters do: no map is at fault, yet the struct's line moves between the CPUs on every add
// (false sharing). The banner gives the struct's address; the add carries a marker comment the
// tests look for. A second argument sets the rounds of work between adds (default 8): the more,
// the less the line costs.
package main

import (
	"fmt"
	"strconv"
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

// rounds of work between adds.
var rounds = 8

func worker(id int, stop <-chan struct{}) {
	field := &hot.a
	if id == 1 {
		field = &hot.b
	}
	h, r := uint64(id+1), rounds
	for n := 0; ; n++ {
		if testkit.Stopped(n, stop) {
			atomic.AddUint64(&sink, h)
			return
		}
		// A little work between adds, as counters in real code have.
		h = testkit.Work(h, r)
		atomic.AddInt64(field, 1) // CONTENDED ADD
	}
}

func main() {
	d := testkit.Duration()
	if n, err := strconv.Atoi(testkit.Arg(2)); err == nil && n > 0 {
		rounds = n
	}
	fmt.Printf("hot %#x\n", uintptr(unsafe.Pointer(&hot)))
	testkit.RunWorkers(2, d, worker)
	fmt.Printf("cpu_ms %d\n", testkit.CPUTime().Milliseconds())
	fmt.Println(atomic.LoadInt64(&hot.a), atomic.LoadInt64(&hot.b))
}
