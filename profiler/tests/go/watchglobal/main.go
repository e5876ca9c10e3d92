// Two goroutines, each locked to its own OS thread and CPU, atomically increment two adjacent
// fields of one global struct: no map is written, yet the struct's line bounces between the
// CPUs. The banner gives the struct's address; the increment's line carries a marker comment
// the tests look for.
package main

import (
	"fmt"
	"runtime"
	"sync/atomic"
	"unsafe"

	"clproftest/testkit"
)

type pair struct {
	a int64
	b int64
}

var x pair

// sink keeps the work between increments from being optimized away.
var sink uint64

func worker(id int, stop <-chan struct{}) {
	runtime.LockOSThread()
	testkit.PinToCPU(id)
	field := &x.a
	if id == 1 {
		field = &x.b
	}
	h := uint64(id + 1)
	for {
		select {
		case <-stop:
			atomic.AddUint64(&sink, h)
			return
		default:
		}
		// Some work between writes: a watchpoint hit costs microseconds.
		for i := 0; i < 2000; i++ {
			h = h*6364136223846793005 + 1
		}
		atomic.AddInt64(field, 1) // WATCHED ADD
	}
}

func main() {
	d := testkit.Duration()
	fmt.Printf("pair %#x\n", uintptr(unsafe.Pointer(&x)))
	testkit.RunWorkers(2, d, worker)
	fmt.Println(atomic.LoadInt64(&x.a), atomic.LoadInt64(&x.b))
}
