/* CPU-bound work in parallel: how much two vCPUs give two busy processes.
 * Each round forks `workers` children that each run the same fixed loop
 * (no system calls, no faults after the first touch) and waits for them;
 * figures are medians of 5 rounds, wall time in ns:
 *   one_worker_ns     one child
 *   two_workers_ns    two children at once
 *   speedup           2 * one_worker_ns / two_workers_ns (2.0 is perfect)
 * Usage: cpu_bench [iterations per worker, default 100000000] */
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench_util.h"

#define ROUNDS 5

static unsigned long iterations = 100000000UL;

static void work(void) {
    volatile unsigned long x = 0;
    for (unsigned long i = 0; i < iterations; i++) x += i ^ (x >> 3);
}

static double run_workers(int n) {
    const double t0 = now_ns();
    for (int i = 0; i < n; i++) {
        pid_t pid = fork();
        if (pid < 0) {
            perror("fork");
            exit(1);
        }
        if (pid == 0) {
            work();
            _exit(0);
        }
    }
    for (int i = 0; i < n; i++) wait(NULL);
    return now_ns() - t0;
}

int main(int argc, char** argv) {
    if (argc > 1) iterations = strtoul(argv[1], NULL, 0);
    double one[ROUNDS], two[ROUNDS];
    for (int r = 0; r < ROUNDS; r++) {
        one[r] = run_workers(1);
        two[r] = run_workers(2);
    }
    const double o = median_of(one, ROUNDS), t = median_of(two, ROUNDS);
    printf("one_worker_ns %.0f\ntwo_workers_ns %.0f\nspeedup %.2f\n", o, t, 2 * o / t);
    return 0;
}
