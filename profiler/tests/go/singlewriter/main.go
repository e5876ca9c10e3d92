// One goroutine, locked to one OS thread, writes a map; other goroutines only compute.
package main

import (
	"fmt"
	"runtime"
	"time"

	"clproftest/testkit"
)

var private = make(map[int]int)

func main() {
	d := testkit.Duration()
	fmt.Printf("map %#x\n", testkit.Header(private))
	go func() {
		x := 0
		for {
			x++
			if x%1000000 == 0 {
				runtime.Gosched()
			}
		}
	}()
	done := time.After(d)
	runtime.LockOSThread()
	for i := 0; ; i++ {
		select {
		case <-done:
			return
		default:
		}
		private[i%4096] = i
	}
}
