// Built only with CGO_ENABLED=1: makes the program a cgo program, linked by the system linker.

package main

// static int one(void) { return 1; }
import "C"

func init() {
	cgoUsed = C.one() == 1
}
