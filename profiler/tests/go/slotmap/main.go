// Two mutex-guarded writers update the values of one map: with "same" they write the same keys
// (each value slot is written from both threads), with "disjoint" each writes its own keys.
// Values are 96 bytes, so no two slots start in the same cache line.
package main

import (
	"fmt"
	"os"
	"runtime"
	"sync"
	"time"

	"clproftest/testkit"
)

const keys = 512

var (
	mu    sync.Mutex
	slots = make(map[int][96]byte)
)

func worker(id int, same bool, stop <-chan struct{}) {
	runtime.LockOSThread()
	testkit.PinToCPU(id)
	var v [96]byte
	for i := 0; ; i++ {
		select {
		case <-stop:
			return
		default:
		}
		k := i % keys
		if !same {
			k += id * keys
		}
		v[0] = byte(i)
		mu.Lock()
		slots[k] = v
		mu.Unlock()
	}
}

func main() {
	same := len(os.Args) > 2 && os.Args[2] == "same"
	// Fill first: the map stops growing, so slots stay where they are while recording.
	for k := 0; k < 2*keys; k++ {
		slots[k] = [96]byte{}
	}
	fmt.Printf("map %#x\n", testkit.Header(slots))
	stop := make(chan struct{})
	go worker(0, same, stop)
	go worker(1, same, stop)
	time.Sleep(testkit.Duration())
	close(stop)
}
