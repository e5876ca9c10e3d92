// Package testkit holds what clprof's test programs share.
package testkit

import (
	"os"
	"runtime"
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
