// One goroutine burns CPU in main.spin (no memory traffic to speak of); another writes a map now
// and then: CPU samples belong to main.spin.
package main

import (
	"fmt"
	"time"

	"clproftest/testkit"
)

var (
	sink  uint64
	small = make(map[int]int)
)

//go:noinline
func spin(n int) uint64 {
	x := uint64(n)
	for i := 0; i < 1_000_000; i++ {
		x = x*6364136223846793005 + 1442695040888963407
	}
	return x
}

func main() {
	fmt.Printf("map %#x\n", testkit.Header(small))
	go func() {
		for i := 0; ; i++ {
			sink += spin(i)
		}
	}()
	deadline := time.Now().Add(testkit.Duration())
	for i := 0; time.Now().Before(deadline); i++ {
		small[i%16] = i
		time.Sleep(time.Millisecond)
	}
}
