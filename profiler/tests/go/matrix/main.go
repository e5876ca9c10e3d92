// The version-matrix program: one mutex-guarded map written by two OS threads (true sharing),
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
	}
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
