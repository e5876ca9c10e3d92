// Two goroutines count into neighbouring fields of one heap object through its methods, as a
// service's per-connection statistics do: no global names the object, yet its line moves between
// the CPUs on every add (false sharing). The fields are named from the DWARF: the method's
// receiver is in the register the add's address is computed from. The banner gives the object's
// address; the adds carry marker comments the tests look for.
package main

import (
	"fmt"
	"sync/atomic"
	"unsafe"

	"clproftest/testkit"
)

type stats struct {
	hits   int64
	misses int64
}

//go:noinline
func (s *stats) hit() {
	atomic.AddInt64(&s.hits, 1) // HIT ADD
}

//go:noinline
func (s *stats) miss() {
	atomic.AddInt64(&s.misses, 1) // MISS ADD
}

func newStats() *stats {
	return new(stats)
}

func main() {
	d := testkit.Duration()
	s := newStats()
	fmt.Printf("stats %#x\n", uintptr(unsafe.Pointer(s)))
	testkit.RunWorkers(2, d, func(id int, stop <-chan struct{}) {
		h := uint64(id + 1)
		for n := 0; ; n++ {
			if testkit.Stopped(n, stop) {
				return
			}
			h = testkit.Work(h, 8)
			if id == 0 {
				s.hit()
			} else {
				s.miss()
			}
		}
	})
	fmt.Println(atomic.LoadInt64(&s.hits), atomic.LoadInt64(&s.misses))
}
