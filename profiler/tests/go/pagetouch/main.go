// Two goroutines map fresh memory and store one word into each of its pages, over and over:
// every store is a page fault, and the kernel hands the fault's address to a perf sample the way
// PEBS and IBS hand a load's. The banner gives the offset of the stored word in its page; the
// store carries a marker comment the tests look for.
package main

import (
	"fmt"
	"syscall"
	"unsafe"

	"clproftest/testkit"
)

const (
	pages    = 64
	pageSize = 4096
	// Word 1 of the page's second line.
	offset = 0x48
)

//go:noinline
func touch(mem []byte) int {
	n := 0
	for p := 0; p+offset+8 <= len(mem); p += pageSize {
		*(*int64)(unsafe.Pointer(&mem[p+offset])) = int64(p) // TOUCH
		n++
	}
	return n
}

func main() {
	d := testkit.Duration()
	fmt.Printf("offset %#x\n", offset)
	var touched [2]int
	testkit.RunWorkers(2, d, func(id int, stop <-chan struct{}) {
		for n := 0; ; n++ {
			if testkit.Stopped(n, stop) {
				return
			}
			mem, err := syscall.Mmap(-1, 0, pages*pageSize,
				syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_ANON|syscall.MAP_PRIVATE)
			if err != nil {
				panic(err)
			}
			touched[id] += touch(mem)
			if err := syscall.Munmap(mem); err != nil {
				panic(err)
			}
		}
	})
	fmt.Println("pages touched", touched[0]+touched[1])
}
