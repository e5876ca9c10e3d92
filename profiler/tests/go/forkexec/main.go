// Writes a map from two threads; on SIGUSR1 starts a child process (fork and exec), and a
// second later execs `sleep SECONDS` in its own place (the pid stays, the Go program is gone).
// With `forkexec SECONDS PROGRAM ARGS...` it execs PROGRAM ARGS instead, its output going to
// /dev/null.
package main

import (
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"clproftest/testkit"
)

var (
	mu     sync.Mutex
	shared = make(map[int]int)
)

func main() {
	fmt.Printf("map %#x\n", testkit.Header(shared))
	for w := 0; w < 2; w++ {
		go func(id int) {
			for i := 0; ; i++ {
				mu.Lock()
				shared[(i*2+id)%1024] = i
				mu.Unlock()
			}
		}(w)
	}
	go_on := make(chan os.Signal, 1)
	signal.Notify(go_on, syscall.SIGUSR1)
	<-go_on
	if err := exec.Command("/bin/true").Run(); err != nil {
		panic(err)
	}
	time.Sleep(time.Second)
	argv := []string{"sleep", os.Args[1]}
	if len(os.Args) > 2 {
		argv = os.Args[2:]
		null, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
		if err != nil {
			panic(err)
		}
		if err := syscall.Dup3(int(null.Fd()), 1, 0); err != nil {
			panic(err)
		}
	}
	path, err := exec.LookPath(argv[0])
	if err != nil {
		panic(err)
	}
	if err := syscall.Exec(path, argv, os.Environ()); err != nil {
		panic(err)
	}
}
