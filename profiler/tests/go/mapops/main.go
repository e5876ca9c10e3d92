// One goroutine assigns, looks up, deletes, ranges over and empties one map, and counts what it
// did. Arguments: run time. On exit it prints
// `reads N deletes N iterations N clears N map 0xADDR`.
package main

import (
	"fmt"
	"time"

	"clproftest/testkit"
)

var sink int

func main() {
	d := testkit.Duration()
	m := make(map[int]int)
	var reads, deletes, iterations, clears int
	deadline := time.Now().Add(d)
	for i := 0; time.Now().Before(deadline); i++ {
		for j := 0; j < 100; j++ {
			k := i*100 + j
			m[k%512] = k
			sink += m[(k+7)%512]
			reads++
			if k%4 == 0 {
				delete(m, (k+256)%512)
				deletes++
			}
		}
		if i%10 == 0 {
			for k, v := range m {
				sink += k + v
			}
			iterations++
		}
		if i%50 == 0 {
			// Compiled as one clear of the map (runtime.mapclear), not as deletes.
			for k := range m {
				delete(m, k)
			}
			clears++
		}
	}
	fmt.Printf("reads %d deletes %d iterations %d clears %d map %#x\n", reads, deletes, iterations, clears, testkit.Header(m))
}
