// A map-heavy service in miniature: four workers each write a mutex-guarded shared cache (true
// sharing) and a private map of their own (no sharing), with a little work in between. The
// shared cache's header line is the one clprof must rank first, whatever the overhead budget.
package main

import (
	"fmt"
	"sync"
	"time"

	"clproftest/testkit"
)

const workers = 4

var (
	mu     sync.Mutex
	shared = make(map[uint64]uint64)
)

func worker(id int, stop <-chan struct{}, wg *sync.WaitGroup) {
	defer wg.Done()
	private := make(map[uint64]uint64)
	x := uint64(id + 1)
	for i := uint64(0); ; i++ {
		if i%256 == 0 {
			select {
			case <-stop:
				return
			default:
			}
		}
		for j := 0; j < 32; j++ {
			x = x*6364136223846793005 + 1442695040888963407
		}
		private[x%512] = i
		mu.Lock()
		shared[x%4096] = i
		mu.Unlock()
	}
}

func main() {
	d := testkit.Duration()
	fmt.Printf("map %#x\n", testkit.Header(shared))
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for id := 0; id < workers; id++ {
		wg.Add(1)
		go worker(id, stop, &wg)
	}
	time.Sleep(d)
	close(stop)
	wg.Wait()
}
