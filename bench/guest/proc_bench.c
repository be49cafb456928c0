/* Guest side of the process benchmarks; each figure is the median of 7
 * rounds, per operation, in ns:
 *   fork_wait_ns        fork + child _exit + waitpid
 *   fork_exec_wait_ns   fork + execve(self, "exit") + waitpid
 *   thread_ns           pthread_create + pthread_join
 *   futex_pingpong_ns   one round trip between two threads through futexes
 *   cow_fault_ns        first write to a page shared with a forked child */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bench_util.h"

#define FUTEX_WAIT_PRIVATE 128
#define FUTEX_WAKE_PRIVATE 129

#define ROUNDS 7
static double median(double* r) { return median_of(r, ROUNDS); }

static void* nothing(void* arg) { return arg; }

static atomic_int word;
static int rounds_pp;

static void fwait(int expect) {
    while (atomic_load(&word) == expect) syscall(SYS_futex, &word, FUTEX_WAIT_PRIVATE, expect, 0, 0, 0);
}
static void fset(int v) {
    atomic_store(&word, v);
    syscall(SYS_futex, &word, FUTEX_WAKE_PRIVATE, 1, 0, 0, 0);
}

static void* ponger(void* arg) {
    (void)arg;
    for (int i = 0; i < rounds_pp; i++) {
        fwait(0);
        fset(0);
    }
    return 0;
}

int main(int argc, char** argv) {
    if (argc > 1 && strcmp(argv[1], "exit") == 0) return 0;
    double r[ROUNDS];

    const int nfork = 200;
    for (int k = 0; k < ROUNDS; k++) {
        double t0 = now_ns();
        for (int i = 0; i < nfork; i++) {
            pid_t p = fork();
            if (p == 0) _exit(0);
            waitpid(p, 0, 0);
        }
        r[k] = (now_ns() - t0) / nfork;
    }
    printf("fork_wait_ns %.0f\n", median(r));

    const int nexec = 50;
    for (int k = 0; k < ROUNDS; k++) {
        double t0 = now_ns();
        for (int i = 0; i < nexec; i++) {
            pid_t p = fork();
            if (p == 0) {
                execl(argv[0], argv[0], "exit", (char*)0);
                _exit(127);
            }
            waitpid(p, 0, 0);
        }
        r[k] = (now_ns() - t0) / nexec;
    }
    printf("fork_exec_wait_ns %.0f\n", median(r));

    const int nthr = 200;
    for (int k = 0; k < ROUNDS; k++) {
        double t0 = now_ns();
        for (int i = 0; i < nthr; i++) {
            pthread_t t;
            pthread_create(&t, 0, nothing, 0);
            pthread_join(t, 0);
        }
        r[k] = (now_ns() - t0) / nthr;
    }
    printf("thread_ns %.0f\n", median(r));

    rounds_pp = 500;
    for (int k = 0; k < ROUNDS; k++) {
        pthread_t t;
        atomic_store(&word, 0);
        pthread_create(&t, 0, ponger, 0);
        double t0 = now_ns();
        for (int i = 0; i < rounds_pp; i++) {
            fset(1);
            fwait(1);
        }
        r[k] = (now_ns() - t0) / rounds_pp;
        pthread_join(t, 0);
    }
    printf("futex_pingpong_ns %.0f\n", median(r));

    const size_t pages = 1024;
    char* buf = mmap(0, pages * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    for (int k = 0; k < ROUNDS; k++) {
        memset(buf, 1, pages * 4096);
        pid_t p = fork();
        if (p == 0) {
            struct timespec ts = {0, 200 * 1000 * 1000};
            nanosleep(&ts, 0);
            _exit(0);
        }
        double t0 = now_ns();
        for (size_t i = 0; i < pages; i++) buf[i * 4096] = 2;
        r[k] = (now_ns() - t0) / pages;
        kill(p, 9);
        waitpid(p, 0, 0);
    }
    printf("cow_fault_ns %.0f\n", median(r));
    return 0;
}
