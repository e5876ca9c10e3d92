// Two goroutines, each locked to its own OS thread, write one mutex-protected map: the map
// header's line is written from two threads and bounces between CPUs.
package main

import (
	"fmt"
	"os"
	"runtime"
	"sync"
	"syscall"
	"time"
	"unsafe"
)

var (
	mu     sync.Mutex
	shared = make(map[int]int)
)

func header(m map[int]int) uintptr { return *(*uintptr)(unsafe.Pointer(&m)) }

func worker(id int, stop <-chan struct{}, wg *sync.WaitGroup) {
	defer wg.Done()
	runtime.LockOSThread()
	pinToCPU(id)
	for i := 0; ; i++ {
		select {
		case <-stop:
			return
		default:
		}
		mu.Lock()
		shared[(i*2+id)%4096] = i
		mu.Unlock()
	}
}

func main() {
	d := 60 * time.Second
	if len(os.Args) > 1 {
		if v, err := time.ParseDuration(os.Args[1]); err == nil {
			d = v
		}
	}
	fmt.Printf("map %#x\n", header(shared))
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for id := 0; id < 2; id++ {
		wg.Add(1)
		go worker(id, stop, &wg)
	}
	time.Sleep(d)
	close(stop)
	wg.Wait()
}

// pinToCPU binds the calling OS thread to one CPU, so two writers surely run on two CPUs and
// their writes move the line between caches (the scenario under test), whatever else runs.
func pinToCPU(cpu int) {
	var mask [16]uint64
	cpu %= runtime.NumCPU()
	mask[cpu/64] |= 1 << (cpu % 64)
	syscall.RawSyscall(syscall.SYS_SCHED_SETAFFINITY, 0, uintptr(len(mask)*8), uintptr(unsafe.Pointer(&mask)))
}
