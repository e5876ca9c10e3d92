// Command workload is clprof's demo target: a small service-like Go program whose map writes
// show the three kinds of cache-line traffic clprof reports.
//
//   - A shared request cache, map[uint64]uint64 behind one sync.Mutex, written by every worker:
//     true sharing, hot and contended.
//   - A per-worker route counter, map[string]int, written only by its owner: uncontended.
//   - Two small global stats maps, map[int32]int, allocated back to back so their headers land in
//     the same cache line; worker 0 writes only the first and worker 1 only the second: false
//     sharing.
//
// With -fixed it runs the same requests with that contention fixed, for `clprof diff`: the
// cache is sharded per worker (each shard with its own lock, on cache lines of its own, and the
// requests routed by key to the worker that owns its shard), and
// every map a worker writes (its stats map, its route counter) has its header at least two
// cache lines away from any other's.
//
// Usage: workload [-fixed] [duration] (default 30s). Prints "ops <total> cpu_ms <CPU time used>"
// on stdout and exits; on stderr it first names the shared cache's header address
// ("cache 0x..."; the first shard's with -fixed), for benchmarks that check where clprof ranks
// it.
package main

import (
	"fmt"
	"os"
	"reflect"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

const (
	workers  = 4
	cacheKey = 4096 // shared cache keys, bounded so memory stays flat
	routes   = 64   // distinct routes per worker
	statKeys = 16   // status buckets per stats map
	batch    = 256  // requests between looks at the stop flag
)

// Two stats maps allocated back to back: their (48-byte) headers come from the same span, and
// each is written by one worker only. Whether two neighbours share a cache line depends on where
// in the span they land, so newStatsPair keeps the first adjacent pair that does: the demo then
// shows the false sharing on every run instead of one run in four. statsGuard, never written,
// takes the slot right after the pair so that later headers (the shared cache's) do not land on
// the pair's lines and mix true sharing into the false-sharing line.
var statsA, statsB, statsGuard = newStatsPair()

func newStatsPair() (a, b, guard map[int32]int) {
	line := func(m map[int32]int) uintptr { return reflect.ValueOf(m).Pointer() / 64 }
	a = make(map[int32]int)
	for i := 0; i < 16; i++ {
		b = make(map[int32]int)
		if line(a) == line(b) {
			return a, b, make(map[int32]int)
		}
		a = b
	}
	// Unusual allocator: settle for two fresh neighbours.
	a, b = make(map[int32]int), make(map[int32]int)
	return a, b, make(map[int32]int)
}

// cache is the shared, mutex-guarded request cache.
var (
	cacheMu sync.Mutex
	cache   = make(map[uint64]uint64, cacheKey)
)

// shard is one worker's part of the cache with -fixed, padded so that no two shards' lock and
// map pointer share a cache line.
type shard struct {
	mu sync.Mutex
	m  map[uint64]uint64
	_  [112]byte
}

// fillers keeps the maps newApart skipped, so that none is freed and reused; placed holds the
// cache lines of the headers it returned.
var (
	fillers []interface{}
	placed  []int64
)

// newApart makes n maps with mk whose headers are each at least two cache lines away from those
// of every map it made before (Go's allocator hands out headers back to back: it skips the ones
// too close).
func newApart[M any](n int, mk func() M) []M {
	var out []M
	for tries := 0; len(out) < n; tries++ {
		m := mk()
		line := int64(reflect.ValueOf(m).Pointer() / 64)
		apart := tries > 10000 // unusual allocator: settle
		if !apart {
			apart = true
			for _, o := range placed {
				if d := line - o; d < 3 && d > -3 {
					apart = false
				}
			}
		}
		if apart {
			out = append(out, m)
			placed = append(placed, line)
		} else {
			fillers = append(fillers, m)
		}
	}
	return out
}

var stop int32

// xorshift64 stands in for request parsing: a cheap, deterministic stream of request ids.
func xorshift64(x uint64) uint64 {
	x ^= x << 13
	x ^= x >> 7
	x ^= x << 17
	return x
}

// fix holds what -fixed changes: every worker's own cache shard, stats map and route counter.
type fix struct {
	shards   []shard
	stats    []map[int32]int
	perRoute []map[string]int
}

func newFix() *fix {
	f := &fix{shards: make([]shard, workers)}
	for i, m := range newApart(workers, func() map[uint64]uint64 {
		return make(map[uint64]uint64, cacheKey/workers)
	}) {
		f.shards[i].m = m
	}
	f.stats = newApart(2, func() map[int32]int { return make(map[int32]int) })
	f.perRoute = newApart(workers, func() map[string]int { return make(map[string]int, routes) })
	return f
}

func worker(id int, names []string, fixed *fix, ops *uint64, wg *sync.WaitGroup) {
	defer wg.Done()
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()

	// As it is: one cache for all, and two stats maps whose headers share a line.
	mu, shared := &cacheMu, cache
	var stats map[int32]int
	switch id {
	case 0:
		stats = statsA
	case 1:
		stats = statsB
	}
	var perRoute map[string]int
	keys := uint64(cacheKey)
	if fixed != nil {
		// Fixed: this worker's own shard, stats map and route counter, on lines of their own;
		// requests are routed by key, so each worker serves its shard's quarter of the keys.
		mu, shared, perRoute = &fixed.shards[id].mu, fixed.shards[id].m, fixed.perRoute[id]
		keys = cacheKey / workers
		if stats != nil {
			stats = fixed.stats[id]
		}
	} else {
		perRoute = make(map[string]int, routes) // private: only this goroutine touches it
	}
	seed := uint64(id+1) * 0x9e3779b97f4a7c15
	var n uint64
	for atomic.LoadInt32(&stop) == 0 {
		for i := 0; i < batch; i++ {
			seed = xorshift64(seed)
			key := seed % keys

			// (a) shared cache: hot, contended.
			mu.Lock()
			shared[key] += seed & 0xff
			mu.Unlock()

			// (b) private per-route counter: uncontended.
			perRoute[names[seed>>32%routes]]++

			// (c) per-worker stats that happen to share a cache line.
			if stats != nil {
				stats[int32(seed>>16)%statKeys]++
			}
			n++
		}
	}
	*ops = n
}

func main() {
	duration := 30 * time.Second
	var fixed *fix
	for _, arg := range os.Args[1:] {
		if arg == "-fixed" {
			fixed = newFix()
			continue
		}
		d, err := time.ParseDuration(arg)
		if err != nil || d <= 0 {
			fmt.Fprintf(os.Stderr, "usage: %s [-fixed] [duration, e.g. 30s]\n", os.Args[0])
			os.Exit(2)
		}
		duration = d
	}

	if fixed != nil {
		fmt.Fprintf(os.Stderr, "cache %#x\n", reflect.ValueOf(fixed.shards[0].m).Pointer())
	} else {
		fmt.Fprintf(os.Stderr, "cache %#x\n", reflect.ValueOf(cache).Pointer())
	}

	var wg sync.WaitGroup
	var ops [workers]uint64
	for id := 0; id < workers; id++ {
		names := make([]string, routes)
		for r := range names {
			names[r] = fmt.Sprintf("GET /api/v1/items/%d", r)
		}
		wg.Add(1)
		go worker(id, names, fixed, &ops[id], &wg)
	}

	time.Sleep(duration)
	atomic.StoreInt32(&stop, 1)
	wg.Wait()

	var total uint64
	for _, n := range ops {
		total += n
	}
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	cpuMs := (ru.Utime.Nano() + ru.Stime.Nano()) / 1e6
	fmt.Printf("ops %d cpu_ms %d\n", total, cpuMs)
}
