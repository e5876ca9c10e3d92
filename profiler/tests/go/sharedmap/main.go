// Two goroutines, each locked to its own OS thread, write one mutex-protected map: the map
// header's line is written from two threads and bounces between CPUs.
package main

import (
	"fmt"
	"runtime"
	"sync"

	"clproftest/testkit"
)

var (
	mu     sync.Mutex
	shared = make(map[int]int)
)

func worker(id int, stop <-chan struct{}) {
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
	fmt.Printf("map %#x\n", testkit.Header(shared))
	testkit.RunWorkers(2, d, worker)
}
