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
	keep   []map[int32]int
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

// pair allocates map headers until two consecutive ones start in the same 64-byte line.
func pair() (map[int32]int, map[int32]int) {
	prev := make(map[int32]int)
	keep = append(keep, prev)
	for i := 0; i < 100000; i++ {
		next := make(map[int32]int)
		keep = append(keep, next)
		if testkit.Header(prev)/64 == testkit.Header(next)/64 {
			return prev, next
		}
		prev = next
	}
	panic("no two map headers in one line")
}

func owner(m map[int32]int, cpu int, stop <-chan struct{}) {
	runtime.LockOSThread()
	testkit.PinToCPU(cpu)
	for i := int32(0); ; i++ {
		select {
		case <-stop:
			return
		default:
		}
		m[i%1024] = int(i)
	}
}

func main() {
	d := testkit.Duration()
	a, b := pair()
	fmt.Printf("maps %#x %#x %#x cgo %v\n", testkit.Header(shared), testkit.Header(a), testkit.Header(b), cgoUsed)
	stop := make(chan struct{})
	go sharer(0, stop)
	go sharer(1, stop)
	go owner(a, 0, stop)
	go owner(b, 1, stop)
	time.Sleep(d)
	close(stop)
}
