// Package testkit holds what clprof's test programs share.
package testkit

import (
	"os"
	"runtime"
	"sync"
	"syscall"
	"time"
	"unsafe"
)

// PinToCPU binds the calling OS thread (lock it first) to one CPU, so two writers surely run on
// two CPUs and their writes move cache lines between caches, whatever else runs.
func PinToCPU(cpu int) {
	var mask [16]uint64
	cpu %= runtime.NumCPU()
	mask[cpu/64] |= 1 << (cpu % 64)
	syscall.RawSyscall(syscall.SYS_SCHED_SETAFFINITY, 0, uintptr(len(mask)*8), uintptr(unsafe.Pointer(&mask)))
}

// Header is the address of a map's header (a map value is a pointer to it).
func Header(m interface{}) uintptr {
	type eface struct{ typ, data unsafe.Pointer }
	return uintptr((*eface)(unsafe.Pointer(&m)).data)
}

// Duration is the run time given as the first argument (default one minute).
func Duration() time.Duration {
	if len(os.Args) > 1 {
		if d, err := time.ParseDuration(os.Args[1]); err == nil {
			return d
		}
	}
	return 60 * time.Second
}

// keep holds the headers AdjacentMaps allocated, so that none is freed and reused.
var keep []map[int32]int

// AdjacentMaps allocates map headers until two consecutive ones start in the same 64-byte line
// (Go's allocator hands out 48-byte headers back to back) and returns those two.
func AdjacentMaps() (map[int32]int, map[int32]int) {
	prev := make(map[int32]int)
	keep = append(keep, prev)
	for i := 0; i < 100000; i++ {
		next := make(map[int32]int)
		keep = append(keep, next)
		if Header(prev)/64 == Header(next)/64 {
			return prev, next
		}
		prev = next
	}
	panic("no two map headers in one line")
}

// ApartMaps allocates two map headers as AdjacentMaps does, but with fillers between them until
// the second starts at least 128 bytes past the first one's line: the two headers are on
// different cache lines, and not on neighbouring ones (which adjacent-line prefetchers pair).
// It is the fixed version of AdjacentMaps' false sharing.
func ApartMaps() (map[int32]int, map[int32]int) {
	a := make(map[int32]int)
	keep = append(keep, a)
	for i := 0; i < 100000; i++ {
		b := make(map[int32]int)
		keep = append(keep, b)
		if Header(b)/64 >= Header(a)/64+3 || Header(b)/64+3 <= Header(a)/64 {
			return a, b
		}
	}
	panic("no two map headers 128 bytes apart")
}

// Arg is the program's n-th argument (1 is the first after the name), or "" when absent.
func Arg(n int) string {
	if len(os.Args) > n {
		return os.Args[n]
	}
	return ""
}

// WriteOwn writes m from the calling goroutine, locked to its OS thread and pinned to cpu,
// until stop is closed; returns the writes it made.
func WriteOwn(m map[int32]int, cpu int, stop <-chan struct{}) int {
	runtime.LockOSThread()
	PinToCPU(cpu)
	for i := int32(0); ; i++ {
		select {
		case <-stop:
			return int(i)
		default:
		}
		m[i%1024] = int(i)
	}
}

// RunWorkers runs worker(id, stop) for ids 0 to n-1, each on a goroutine of its own, for d;
// then closes stop and waits until every worker has returned.
func RunWorkers(n int, d time.Duration, worker func(id int, stop <-chan struct{})) {
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for id := 0; id < n; id++ {
		wg.Add(1)
		go func(id int) {
			defer wg.Done()
			worker(id, stop)
		}(id)
	}
	time.Sleep(d)
	close(stop)
	wg.Wait()
}

// Stopped tells a busy loop in its round n whether stop is closed, looking only every 1,024
// rounds so that the check costs the loop next to nothing.
func Stopped(n int, stop <-chan struct{}) bool {
	if n%1024 != 0 {
		return false
	}
	select {
	case <-stop:
		return true
	default:
		return false
	}
}

// Work is rounds of arithmetic on h the compiler cannot drop: the work a loop does between the
// accesses it is about.
func Work(h uint64, rounds int) uint64 {
	for i := 0; i < rounds; i++ {
		h = h*6364136223846793005 + 1
	}
	return h
}

// CPUTime is the CPU time the process has used so far (user and system), for a program that
// reports what each of its operations cost.
func CPUTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
