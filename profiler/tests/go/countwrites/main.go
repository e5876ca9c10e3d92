// Counts its own map assigns, the ground truth for clprof's estimates. Arguments: run time,
// work iterations between two assigns, writer goroutines, `steady` or `bursts` (write for 100 ms,
// rest 200 ms), and `shared` (one map under a mutex) or `own` (a map per writer). On exit it
// prints `assigns N cpu_ns C maps 0xADDR...` (C: its CPU time, user and system).
package main

import (
	"fmt"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"clproftest/testkit"
)

var sink uint64

// work is `n` rounds of arithmetic the compiler cannot drop.
func work(n int, x uint64) uint64 {
	for i := 0; i < n; i++ {
		x = x*6364136223846793005 + 1442695040888963407
	}
	return x
}

func main() {
	run := testkit.Duration()
	iters, _ := strconv.Atoi(os.Args[2])
	writers, _ := strconv.Atoi(os.Args[3])
	bursts := len(os.Args) > 4 && os.Args[4] == "bursts"
	shared := len(os.Args) > 5 && os.Args[5] == "shared"
	var mu sync.Mutex
	maps := make([]map[int64]int64, writers)
	for w := range maps {
		if w == 0 || !shared {
			maps[w] = make(map[int64]int64)
		} else {
			maps[w] = maps[0]
		}
	}
	var total int64
	start := time.Now()
	var wg sync.WaitGroup
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			x := uint64(w)
			m := maps[w]
			var n int64
			for i := int64(0); time.Since(start) < run; i++ {
				if phase := time.Since(start) % (300 * time.Millisecond); bursts && phase >= 100*time.Millisecond {
					time.Sleep(300*time.Millisecond - phase)
					continue
				}
				x = work(iters, x)
				if shared {
					mu.Lock()
				}
				m[i%1024] = int64(x)
				if shared {
					mu.Unlock()
				}
				n++
			}
			atomic.AddInt64(&total, n)
		}(w)
	}
	wg.Wait()
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	cpu := ru.Utime.Nano() + ru.Stime.Nano()
	fmt.Printf("assigns %d cpu_ns %d maps", total, cpu)
	for w, m := range maps {
		atomic.AddUint64(&sink, uint64(len(m)))
		if w == 0 || !shared {
			fmt.Printf(" %#x", testkit.Header(m))
		}
	}
	fmt.Println()
}
