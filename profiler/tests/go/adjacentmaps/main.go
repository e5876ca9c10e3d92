// Two maps whose headers share one cache line, each written by its own OS thread with no lock:
// false sharing between two objects. With `apart` as the second argument (after the duration),
// the fixed version: the two headers on different cache lines.
//
// Usage: adjacentmaps [DURATION] [apart]
package main

import (
	"fmt"
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
	go testkit.WriteOwn(a, 0, stop)
	go testkit.WriteOwn(b, 1, stop)
	time.Sleep(d)
	close(stop)
}
