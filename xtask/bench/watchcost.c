/* Ground truth for the watchpoint hit cost: one thread writes one word in a loop and reports, per
 * batch, what an iteration cost it in CPU time. Run alone and under `clprof record --watch
 * shared_word:8`, the difference is what the target pays per watched write.
 *
 * Usage: watchcost SECONDS. One line per batch of BATCH iterations: `T NS`, T the batch's end
 * (CLOCK_MONOTONIC, s), NS the thread's CPU time per iteration (ns). */
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#define BATCH 5000

_Alignas(64) _Atomic uint64_t shared_word;

static double seconds(clockid_t clock) {
    struct timespec ts;
    clock_gettime(clock, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static uint64_t nanos(clockid_t clock) {
    struct timespec ts;
    clock_gettime(clock, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

int main(int argc, char **argv) {
    double run = argc > 1 ? atof(argv[1]) : 10.0;
    setvbuf(stdout, NULL, _IOLBF, 0);
    double end = seconds(CLOCK_MONOTONIC) + run;
    for (;;) {
        uint64_t cpu0 = nanos(CLOCK_THREAD_CPUTIME_ID);
        for (int i = 0; i < BATCH; i++) {
            atomic_fetch_add_explicit(&shared_word, 1, memory_order_relaxed);
            for (volatile int j = 0; j < 50; j++) {
            }
        }
        uint64_t cpu = nanos(CLOCK_THREAD_CPUTIME_ID) - cpu0;
        double now = seconds(CLOCK_MONOTONIC);
        printf("%.3f %.1f\n", now, (double)cpu / BATCH);
        if (now >= end) {
            return 0;
        }
    }
}
