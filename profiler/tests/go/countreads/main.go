// Counts its own map lookups and assigns, the ground truth for clprof's read estimates.
// Arguments: run time, work iterations between two lookups, lookups per assign. On exit it
// prints `reads N writes N map 0xADDR`.
package main

import (
	"fmt"
	"os"
	"strconv"
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
	per, _ := strconv.Atoi(os.Args[3])
	m := make(map[int64]int64)
	var reads, writes int64
	x := uint64(1)
	deadline := time.Now().Add(run)
	for i := int64(0); ; i++ {
		if i%1024 == 0 && time.Now().After(deadline) {
			break
		}
		x = work(iters, x)
		sink += uint64(m[i%512])
		reads++
		if i%int64(per) == 0 {
			m[i%512] = int64(x)
			writes++
		}
	}
	fmt.Printf("reads %d writes %d map %#x\n", reads, writes, testkit.Header(m))
}
