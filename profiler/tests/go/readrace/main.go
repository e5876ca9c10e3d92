// One goroutine writes a map with no lock while another reads it (`read`) or ranges over it
// (`iterate`): the races the Go runtime sometimes reports as "fatal error: concurrent map read
// and map write" or "concurrent map iteration and map write" (and then the program dies).
// Arguments: run time, mode.
package main

import (
	"fmt"
	"os"
	"runtime"
	"time"

	"clproftest/testkit"
)

var (
	racy = make(map[int]int)
	sink int
)

func writer() {
	runtime.LockOSThread()
	testkit.PinToCPU(0)
	// Ever new keys: the map keeps growing, and growth work runs with the writer flag set,
	// which widens the window in which a reader finds it set.
	for i := 0; ; i++ {
		racy[i] = i
	}
}

func reader() {
	runtime.LockOSThread()
	testkit.PinToCPU(1)
	for i := 0; ; i++ {
		sink += racy[i]
	}
}

func ranger() {
	runtime.LockOSThread()
	testkit.PinToCPU(1)
	for {
		for k, v := range racy {
			sink += k + v
		}
	}
}

func main() {
	fmt.Printf("map %#x\n", testkit.Header(racy))
	go writer()
	if len(os.Args) > 2 && os.Args[2] == "iterate" {
		go ranger()
	} else {
		go reader()
	}
	time.Sleep(testkit.Duration())
}
