// Two maps whose headers share one cache line, each written by its own OS thread with no lock:
// false sharing between two objects. With `apart` as the second argument (after the duration),
// the fixed version: the two headers on different cache lines. Prints `ops N cpu_ms M` (the
// writes, the CPU time used) when it ends.
//
// Usage: adjacentmaps [DURATION] [apart]
package main

import (
	"fmt"
	"sync"
	"time"

	"clproftest/testkit"
)

func main() {
	d := testkit.Duration()
	a, b := testkit.AdjacentMaps()
	if testkit.Arg(2) == "apart" {
		a, b = testkit.ApartMaps()
	}
	fmt.Printf("maps %#x %#x\n", testkit.Header(a), testkit.Header(b))
	stop := make(chan struct{})
	var writes [2]int
	var wg sync.WaitGroup
	for i, m := range []map[int32]int{a, b} {
		wg.Add(1)
		go func(i int, m map[int32]int) {
			defer wg.Done()
			writes[i] = testkit.WriteOwn(m, i, stop)
		}(i, m)
	}
	time.Sleep(d)
	close(stop)
	wg.Wait()
	fmt.Printf("ops %d cpu_ms %d\n", writes[0]+writes[1], testkit.CPUTime().Milliseconds())
}
