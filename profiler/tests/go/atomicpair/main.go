// Two goroutines atomically add to neighbouring int64 fields of one global struct, as metrics
// counters do: no map is at fault, yet the struct's line moves between the CPUs on every add
// (false sharing). The banner gives the struct's address; the add carries a marker comment the
// tests look for. A second argument sets the rounds of work between adds (default 8): the more,
// the less the line costs. With `padded` as the third, the fix: the counters 128 bytes apart.
// With `busy` as the third, a third goroutine adds to a counter on a line of its own, with no
// work between its adds: a line touched far more often than the pair's, and never contended
// (its address on a second banner line, `busy ADDR`).
// Prints `ops N cpu_ms M` (the pair's adds, the CPU time used), then the two counts.
//
// Usage: atomicpair [DURATION] [ROUNDS] [padded|busy]
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

// padded keeps the two counters 128 bytes apart: the adjacent-line prefetcher pairs lines.
type padded struct {
	a int64
	_ [120]byte
	b int64
}

var (
	hot   counters
	apart padded
	// own.n is the busy goroutine's counter, alone on its line whatever lies around.
	own struct {
		_ [128]byte
		n int64
		_ [120]byte
	}
)

// sink keeps the work between adds from being optimized away.
var sink uint64

// rounds of work between adds.
var rounds = 8

// fields are the two counters the workers add to.
var fields = [2]*int64{&hot.a, &hot.b}

func worker(id int, stop <-chan struct{}) {
	field := fields[id]
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

// busy adds to its own counter until stopped.
func busy(stop <-chan struct{}) {
	for n := 0; ; n++ {
		if testkit.Stopped(n, stop) {
			return
		}
		atomic.AddInt64(&own.n, 1) // UNCONTENDED ADD
	}
}

func main() {
	d := testkit.Duration()
	if n, err := strconv.Atoi(testkit.Arg(2)); err == nil && n > 0 {
		rounds = n
	}
	banner := unsafe.Pointer(&hot)
	if testkit.Arg(3) == "padded" {
		fields = [2]*int64{&apart.a, &apart.b}
		banner = unsafe.Pointer(&apart)
	}
	fmt.Printf("hot %#x\n", uintptr(banner))
	workers := 2
	if testkit.Arg(3) == "busy" {
		fmt.Printf("busy %#x\n", uintptr(unsafe.Pointer(&own.n)))
		workers = 3
	}
	testkit.RunWorkers(workers, d, func(id int, stop <-chan struct{}) {
		if id == 2 {
			busy(stop)
			return
		}
		worker(id, stop)
	})
	a, b := atomic.LoadInt64(fields[0]), atomic.LoadInt64(fields[1])
	fmt.Printf("ops %d cpu_ms %d\n", a+b, testkit.CPUTime().Milliseconds())
	fmt.Println(a, b)
}
