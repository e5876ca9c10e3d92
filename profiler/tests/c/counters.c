/* Two threads, each incrementing its own counter; the counters sit side by side in one struct,
 * so they share a cache line (false sharing). counter_add is what a custom probe watches. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

struct counters {
    long a;
    long b;
};

static struct counters shared;
static volatile int stop;

/* Each counter has one writer, so a plain add suffices (and a LOCK-prefixed first instruction
 * could not carry a uprobe). */
__attribute__((noinline)) void counter_add(long *counter, long n) {
    *(volatile long *)counter += n;
}

static void *worker(void *arg) {
    long *counter = arg;
    while (!stop) {
        counter_add(counter, 1);
    }
    return NULL;
}

int main(int argc, char **argv) {
    int seconds = argc > 1 ? atoi(argv[1]) : 60;
    pthread_t t1, t2;
    printf("counters %p %p\n", (void *)&shared.a, (void *)&shared.b);
    fflush(stdout);
    pthread_create(&t1, NULL, worker, &shared.a);
    pthread_create(&t2, NULL, worker, &shared.b);
    sleep(seconds);
    stop = 1;
    pthread_join(t1, NULL);
    pthread_join(t2, NULL);
    return 0;
}
