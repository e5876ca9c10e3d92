// Two maps whose headers share one cache line, each written by its own OS thread with no lock:
// false sharing between two objects.
package main

import (
	"fmt"
	"runtime"
	"time"

	"clproftest/testkit"
)

var keep []map[int32]int

// pair allocates map headers until two consecutive ones start in the same 64-byte line (Go's
// allocator hands out 48-byte headers back to back).
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

func writer(m map[int32]int, cpu int, stop <-chan struct{}) {
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
	fmt.Printf("maps %#x %#x\n", testkit.Header(a), testkit.Header(b))
	stop := make(chan struct{})
	go writer(a, 0, stop)
	go writer(b, 1, stop)
	time.Sleep(d)
	close(stop)
}
