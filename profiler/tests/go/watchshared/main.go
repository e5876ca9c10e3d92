// A map header and an unrelated 48-byte counter object share one cache line (Go's allocator
// puts objects of one size class back to back). One goroutine writes the map (inserting and
// deleting, so the header's count changes); another, on another CPU, increments the counter
// atomically. The map probes see one writer; the line is
// contended all the same. The banner gives the header's and the counter's addresses; the
// increment's line carries a marker comment the tests look for.
package main

import (
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"clproftest/testkit"
)

// counter is 48 bytes, the size class of a map header, and holds a pointer as a header does:
// the allocator keeps objects with and without pointers in different spans.
type counter struct {
	n     int64
	label *string
	pad   [4]int64
}

var (
	shared map[int]int
	hits   *counter
	// keep holds every map and counter allocated, so that none is freed and reused.
	keep []interface{}
)

// allocate makes counter, map, counter, again and again, until a counter (in the slot just
// before or after the header, in the same span) starts in the header's line.
func allocate() {
	for i := 0; i < 100000; i++ {
		before := new(counter)
		m := make(map[int]int)
		after := new(counter)
		keep = append(keep, before, m, after)
		for _, c := range []*counter{before, after} {
			if testkit.Header(m)/64 == uintptr(unsafe.Pointer(&c.n))/64 {
				shared, hits = m, c
				return
			}
		}
	}
	panic("no counter in a map header's line")
}

func mapWriter(stop <-chan struct{}, wg *sync.WaitGroup) {
	defer wg.Done()
	runtime.LockOSThread()
	testkit.PinToCPU(0)
	h := uint64(1)
	for i := 0; ; i++ {
		select {
		case <-stop:
			return
		default:
		}
		for j := 0; j < 5000; j++ {
			h = h*6364136223846793005 + 1
		}
		// Insert and delete: the header's count changes with every write, as in a cache.
		shared[i%1024] = int(h)
		delete(shared, (i+512)%1024)
	}
}

func counterWriter(stop <-chan struct{}, wg *sync.WaitGroup) {
	defer wg.Done()
	runtime.LockOSThread()
	testkit.PinToCPU(1)
	h := uint64(1)
	for {
		select {
		case <-stop:
			return
		default:
		}
		// Work between increments: tens of thousands of them a second, a hot counter all
		// the same.
		for i := 0; i < 20000; i++ {
			h = h*6364136223846793005 + 1
		}
		atomic.AddInt64(&hits.n, int64(h&1)|1) // COUNTER ADD
	}
}

func main() {
	d := testkit.Duration()
	allocate()
	fmt.Printf("map %#x counter %#x\n", testkit.Header(shared), uintptr(unsafe.Pointer(&hits.n)))
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(2)
	go mapWriter(stop, &wg)
	go counterWriter(stop, &wg)
	time.Sleep(d)
	close(stop)
	wg.Wait()
}
