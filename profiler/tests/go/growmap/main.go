// Two mutex-guarded writers keep adding new keys to a map, which grows again and again; every
// 2^15 keys the map is replaced by a fresh one.
package main

import (
	"fmt"
	"runtime"
	"sync"
	"time"

	"clproftest/testkit"
)

var (
	mu   sync.Mutex
	grow = make(map[int]int)
	next int
)

func worker(id int, stop <-chan struct{}) {
	runtime.LockOSThread()
	testkit.PinToCPU(id)
	for {
		select {
		case <-stop:
			return
		default:
		}
		mu.Lock()
		if next%(1<<15) == 0 {
			grow = make(map[int]int)
		}
		grow[next] = id
		next++
		mu.Unlock()
	}
}

func main() {
	fmt.Printf("map %#x\n", testkit.Header(grow))
	stop := make(chan struct{})
	go worker(0, stop)
	go worker(1, stop)
	time.Sleep(testkit.Duration())
	close(stop)
}
