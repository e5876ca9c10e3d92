// A read-mostly map under a sync.RWMutex: one goroutine writes it now and then, three others
// read it all the time, each locked to an OS thread of its own. The writer is pinned to CPU 0;
// the readers go where the kernel puts them. Beside it, one goroutine, pinned to the last CPU,
// reads and writes a private map that nothing else touches, in another cache line. Every
// goroutine has a P of its own (GOMAXPROCS), so the kernel shares the CPUs among the threads
// fairly: locked goroutines waiting for a P starve. The banner gives the shared map's header,
// then the private map's.
package main

import (
	"fmt"
	"runtime"
	"sync"

	"clproftest/testkit"
)

var (
	mu      sync.RWMutex
	cfg     = make(map[int]int)
	private map[int]int
	sink    uint64
	// keep holds the maps allocated to put the private map in a line of its own.
	keep []map[int]int
)

// work is `n` rounds of arithmetic the compiler cannot drop.
func work(n int, x uint64) uint64 {
	for i := 0; i < n; i++ {
		x = x*6364136223846793005 + 1442695040888963407
	}
	return x
}

// newPrivate makes maps until one's header shares no line with the shared map's.
func newPrivate() map[int]int {
	for {
		m := make(map[int]int)
		keep = append(keep, m)
		line, other := testkit.Header(m)/64, testkit.Header(cfg)/64
		if line != other && line != other+1 && line+1 != other {
			return m
		}
	}
}

func main() {
	d := testkit.Duration()
	for i := 0; i < 64; i++ {
		cfg[i] = i
	}
	private = newPrivate()
	fmt.Printf("maps %#x %#x\n", testkit.Header(cfg), testkit.Header(private))
	runtime.GOMAXPROCS(8)
	testkit.RunWorkers(5, d, func(id int, stop <-chan struct{}) {
		runtime.LockOSThread()
		switch id {
		case 0:
			testkit.PinToCPU(0)
		case 4:
			testkit.PinToCPU(runtime.NumCPU() - 1)
		}
		x := uint64(id)
		for i := 0; ; i++ {
			select {
			case <-stop:
				sink += x
				return
			default:
			}
			switch id {
			case 0: // the writer, now and then
				x = work(20000, x)
				mu.Lock()
				cfg[i%64] = int(x)
				mu.Unlock()
			case 1, 2, 3: // the readers, all the time
				x = work(2000, x)
				mu.RLock()
				x += uint64(cfg[i%64])
				mu.RUnlock()
			default: // the private map, read and written by this thread alone
				x = work(2000, x)
				private[i%64] = private[(i+1)%64] + int(x&1)
			}
		}
	})
}
