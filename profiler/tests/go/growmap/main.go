// Two mutex-guarded writers keep adding new keys to a map, which grows again and again; every
// 2^15 keys the map is replaced by a fresh one.
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
	mu   sync.Mutex
	grow = make(map[int]int)
	next int
)

func worker(id int, stop <-chan struct{}) {
	runtime.LockOSThread()
	pinToCPU(id)
	for {
		select {
		case <-stop:
			return
		default:
		}
		mu.Lock()
		if next%(1<<15) == 0 {
			grow = make(map[int]int)
		}
		grow[next] = id
		next++
		mu.Unlock()
	}
}

func main() {
	fmt.Printf("map %#x\n", header(grow))
	stop := make(chan struct{})
	go worker(0, stop)
	go worker(1, stop)
	time.Sleep(duration())
	close(stop)
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
