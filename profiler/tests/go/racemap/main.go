// Two goroutines write one map with no lock: the race the Go runtime sometimes reports as
// "fatal error: concurrent map writes" (and then the program dies). Arguments: run time, and
// how long to wait before the writers start (none by default).
package main

import (
	"fmt"
	"os"
	"runtime"
	"time"

	"clproftest/testkit"
)

var racy = make(map[int]int)

func writer(id int) {
	runtime.LockOSThread()
	testkit.PinToCPU(id)
	// Ever new keys: the map keeps growing, and growth work runs with the writer flag set,
	// which widens the window in which another writer finds it set.
	for i := id; ; i += 2 {
		racy[i] = i
	}
}

func main() {
	fmt.Printf("map %#x\n", testkit.Header(racy))
	if len(os.Args) > 2 {
		if d, err := time.ParseDuration(os.Args[2]); err == nil {
			time.Sleep(d)
		}
	}
	go writer(0)
	go writer(1)
	time.Sleep(testkit.Duration())
}
