// A mostly idle process with a map: one write every 100 ms, until the duration given as its
// first argument (e.g. 60s) has passed. Many of them at once cost the machine little. An
// optional second argument is the exit code to end with.
package main

import (
	"fmt"
	"os"
	"strconv"
	"time"

	"clproftest/testkit"
)

var m = make(map[int]int)

func main() {
	d, err := time.ParseDuration(os.Args[1])
	if err != nil {
		panic(err)
	}
	fmt.Printf("map %#x\n", testkit.Header(m))
	end := time.Now().Add(d)
	for i := 0; time.Now().Before(end); i++ {
		m[i%64] = i
		time.Sleep(100 * time.Millisecond)
	}
	if len(os.Args) > 2 {
		code, err := strconv.Atoi(os.Args[2])
		if err != nil {
			panic(err)
		}
		os.Exit(code)
	}
}
