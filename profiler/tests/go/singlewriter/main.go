// One goroutine, locked to one OS thread, writes a map; other goroutines only compute.
package main

import (
	"fmt"
	"os"
	"runtime"
	"time"
	"unsafe"
)

var private = make(map[int]int)

func header(m map[int]int) uintptr { return *(*uintptr)(unsafe.Pointer(&m)) }

func main() {
	d := 60 * time.Second
	if len(os.Args) > 1 {
		if v, err := time.ParseDuration(os.Args[1]); err == nil {
			d = v
		}
	}
	fmt.Printf("map %#x\n", header(private))
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
