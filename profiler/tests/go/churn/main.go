// 256 goroutines, each locked to its own OS thread, make short-lived maps for the duration
// given as the first argument (e.g. 5s): each map gets one key and lives on the heap until 64
// more maps of its goroutine were made. Prints the maps made and `done` at the end, and exits 0.
package main

import (
	"fmt"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

const threads = 256

const kept = 64

var (
	made atomic.Int64
	// Each goroutine's last maps: they escape to the heap, at addresses the collector reuses.
	live [threads][kept]map[int]int
)

func main() {
	d, err := time.ParseDuration(os.Args[1])
	if err != nil {
		panic(err)
	}
	fmt.Printf("threads %d\n", threads)
	end := time.Now().Add(d)
	var wg sync.WaitGroup
	var ready sync.WaitGroup
	ready.Add(threads)
	for t := 0; t < threads; t++ {
		wg.Add(1)
		go func(id int) {
			defer wg.Done()
			runtime.LockOSThread()
			ready.Done()
			ready.Wait()
			for i := 0; time.Now().Before(end); i++ {
				m := make(map[int]int)
				m[id*1_000_003+i] = i
				live[id][i%kept] = m
				made.Add(1)
				if len(m) != 1 {
					panic("lost a key")
				}
			}
		}(t)
	}
	wg.Wait()
	fmt.Printf("made %d maps\ndone\n", made.Load())
}
