// The version-matrix program: one mutex-guarded map written by two OS threads with about
// 20 µs of work between writes (true sharing),
// and two maps whose headers share one cache line, each written by its own OS thread (false
// sharing). Prints "maps SHARED A B cgo BOOL".
package main

import (
	"fmt"
	"runtime"
	"sync"
	"time"

	"clproftest/testkit"
)

var (
	mu     sync.Mutex
	shared = make(map[int]int)
	// Set by cgo.go's init in builds with cgo.
	cgoUsed bool
)

func sharer(id int, stop <-chan struct{}) {
	runtime.LockOSThread()
	testkit.PinToCPU(id)
	for i := 0; ; i++ {
		select {
		case <-stop:
			return
		default:
		}
		mu.Lock()
		shared[(i*2+id)%4096] = i
		mu.Unlock()
		work(15000)
	}
}

var sink uint64

// work is `n` rounds of arithmetic between two writes (about 20 µs): without it the
// thread holding the mutex takes it back at once, the line moves once in a thousand writes or
// less and is rightly judged private.
func work(n int) {
	x := sink
	for k := 0; k < n; k++ {
		x = x*6364136223846793005 + 1442695040888963407
	}
	sink = x
}

func main() {
	d := testkit.Duration()
	a, b := testkit.AdjacentMaps()
	fmt.Printf("maps %#x %#x %#x cgo %v\n", testkit.Header(shared), testkit.Header(a), testkit.Header(b), cgoUsed)
	stop := make(chan struct{})
	go sharer(0, stop)
	go sharer(1, stop)
	go testkit.WriteOwn(a, 0, stop)
	go testkit.WriteOwn(b, 1, stop)
	time.Sleep(d)
	close(stop)
}
