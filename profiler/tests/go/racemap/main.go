// Two goroutines write one map with no lock: the race the Go runtime sometimes reports as
// "fatal error: concurrent map writes" (and then the program dies).
package main

import (
	"fmt"
	"os"
	"runtime"
	"syscall"
	"time"
	"unsafe"
)

var racy = make(map[int]int)

func writer(id int) {
	runtime.LockOSThread()
	pinToCPU(id)
	// Ever new keys: the map keeps growing, and growth work runs with the writer flag set,
	// which widens the window in which another writer finds it set.
	for i := id; ; i += 2 {
		racy[i] = i
	}
}

func main() {
	fmt.Printf("map %#x\n", header(racy))
	go writer(0)
	go writer(1)
	time.Sleep(duration())
}

// pinToCPU binds the calling OS thread to one CPU, so two writers surely run on two CPUs.
func pinToCPU(cpu int) {
	var mask [16]uint64
	cpu %= runtime.NumCPU()
	mask[cpu/64] |= 1 << (cpu % 64)
	syscall.RawSyscall(syscall.SYS_SCHED_SETAFFINITY, 0, uintptr(len(mask)*8), uintptr(unsafe.Pointer(&mask)))
}

func header(m interface{}) uintptr {
	type eface struct{ typ, data unsafe.Pointer }
	return uintptr((*eface)(unsafe.Pointer(&m)).data)
}

func duration() time.Duration {
	if len(os.Args) > 1 {
		if d, err := time.ParseDuration(os.Args[1]); err == nil {
			return d
		}
	}
	return 60 * time.Second
}
