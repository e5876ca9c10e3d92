// Two maps whose headers share one cache line, each written by its own OS thread with no lock:
// false sharing between two objects.
package main

import (
	"fmt"
	"os"
	"runtime"
	"syscall"
	"time"
	"unsafe"
)

var keep []map[int32]int

func header(m map[int32]int) uintptr { return *(*uintptr)(unsafe.Pointer(&m)) }

// pair allocates map headers until two consecutive ones start in the same 64-byte line (Go's
// allocator hands out 48-byte headers back to back).
func pair() (map[int32]int, map[int32]int) {
	prev := make(map[int32]int)
	keep = append(keep, prev)
	for i := 0; i < 100000; i++ {
		next := make(map[int32]int)
		keep = append(keep, next)
		if header(prev)/64 == header(next)/64 {
			return prev, next
		}
		prev = next
	}
	panic("no two map headers in one line")
}

func writer(m map[int32]int, cpu int, stop <-chan struct{}) {
	runtime.LockOSThread()
	pinToCPU(cpu)
	for i := int32(0); ; i++ {
		select {
		case <-stop:
			return
		default:
		}
		m[i%1024] = int(i)
	}
}

func main() {
	d := 60 * time.Second
	if len(os.Args) > 1 {
		if v, err := time.ParseDuration(os.Args[1]); err == nil {
			d = v
		}
	}
	a, b := pair()
	fmt.Printf("maps %#x %#x\n", header(a), header(b))
	stop := make(chan struct{})
	go writer(a, 0, stop)
	go writer(b, 1, stop)
	time.Sleep(d)
	close(stop)
}

// pinToCPU binds the calling OS thread to one CPU, so two writers surely run on two CPUs and
// their writes move the line between caches (the scenario under test), whatever else runs.
func pinToCPU(cpu int) {
	var mask [16]uint64
	cpu %= runtime.NumCPU()
	mask[cpu/64] |= 1 << (cpu % 64)
	syscall.RawSyscall(syscall.SYS_SCHED_SETAFFINITY, 0, uintptr(len(mask)*8), uintptr(unsafe.Pointer(&mask)))
}
