// Two goroutines call into C, which adds with locked adds to neighbouring fields of one C global
// struct (false sharing in cgo code): the samples land in C functions Go's function table does
// not cover, decoded from the symbol table's bounds. The banner gives the struct's address; the
// add carries a marker comment the tests look for.
package main

/*
struct counters {
	long a;
	long b;
};

struct counters hot;

// add_many adds n to *p one locked add at a time, with a little work between adds.
void add_many(long *p, long n) {
	unsigned long h = (unsigned long)n;
	for (long i = 0; i < n; i++) {
		h = h * 6364136223846793005UL + 1;
		__atomic_fetch_add(p, 1 + (long)(h >> 63), __ATOMIC_RELAXED); // C ADD
	}
}
*/
import "C"

import (
	"fmt"
	"unsafe"

	"clproftest/testkit"
)

func worker(id int, stop <-chan struct{}) {
	p := &C.hot.a
	if id == 1 {
		p = &C.hot.b
	}
	for {
		// Each call adds for about a millisecond: look at stop after every one.
		if testkit.Stopped(0, stop) {
			return
		}
		C.add_many(p, 10000)
	}
}

func main() {
	d := testkit.Duration()
	fmt.Printf("hot %#x\n", uintptr(unsafe.Pointer(&C.hot)))
	testkit.RunWorkers(2, d, worker)
	fmt.Println(int64(C.hot.a), int64(C.hot.b))
}
