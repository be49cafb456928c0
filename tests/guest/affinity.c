// sched_setaffinity/sched_getaffinity and getcpu on two CPUs (the vkernel
// runs with -n 2; the host needs two CPUs too): a thread set to one CPU
// runs there and stays there; children and threads inherit the mask; a
// thread's mask set by another thread moves it; /proc/self/status shows it;
// the errors. Prints nothing that depends on how many CPUs the host has
// beyond the first two.
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fs_errno.h"

static int cpu_now(void) {
    unsigned cpu = 99, node;
    if (syscall(SYS_getcpu, &cpu, &node, NULL) < 0) return -1;
    return (int)cpu;
}

static int pin(pid_t tid, int cpu) {
    cpu_set_t s;
    CPU_ZERO(&s);
    CPU_SET(cpu, &s);
    return sched_setaffinity(tid, sizeof s, &s);
}

static void show_mask(const char* tag, pid_t tid) {
    cpu_set_t s;
    CPU_ZERO(&s);
    if (sched_getaffinity(tid, sizeof s, &s) < 0) {
        printf("%s: getaffinity %s\n", tag, errname(errno));
        return;
    }
    printf("%s: cpu0 %d cpu1 %d\n", tag, CPU_ISSET(0, &s) != 0, CPU_ISSET(1, &s) != 0);
}

// Spins and yields for a while; reports whether every look at getcpu and
// sched_getcpu said `cpu`.
static int stays_on(int cpu) {
    int ok = 1;
    for (int i = 0; i < 2000; i++) {
        for (volatile int j = 0; j < 2000; j++) {
        }
        if (i % 10 == 0) sched_yield();
        if (cpu_now() != cpu || sched_getcpu() != cpu) ok = 0;
    }
    return ok;
}

static void* pinned_thread(void* arg) {
    const int cpu = (int)(long)arg;
    pin(0, cpu);
    return (void*)(long)stays_on(cpu);
}

static int pipe_fds[2], back_fds[2];

static void* moved_thread(void* arg) {
    (void)arg;
    char c;
    const pid_t me = (pid_t)syscall(SYS_gettid);
    if (write(back_fds[1], &me, sizeof me) != sizeof me) return (void*)0L;
    // Wait until the main thread has set our mask.
    if (read(pipe_fds[0], &c, 1) != 1) return (void*)0L;
    return (void*)(long)stays_on(1);
}

int main(void) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    cpu_set_t all;
    CPU_ZERO(&all);
    sched_getaffinity(0, sizeof all, &all);
    printf("at least two CPUs: %s\n", CPU_ISSET(0, &all) && CPU_ISSET(1, &all) ? "yes" : "no");

    printf("pin to 1: %d\n", pin(0, 1));
    show_mask("after pin 1", 0);
    printf("on 1: getcpu %d sched_getcpu %d\n", cpu_now(), sched_getcpu());
    printf("stays on 1: %d\n", stays_on(1));
    char line[256];
    FILE* f = fopen("/proc/self/status", "r");
    while (f && fgets(line, sizeof line, f))
        if (!strncmp(line, "Cpus_allowed_list:", 18)) printf("status %s", line);
    if (f) fclose(f);

    printf("pin to 0: %d\n", pin(0, 0));
    printf("on 0: getcpu %d stays %d\n", cpu_now(), stays_on(0));

    // A fork inherits the mask.
    pid_t pid = fork();
    if (pid == 0) {
        show_mask("child", 0);
        printf("child on 0: %d\n", stays_on(0));
        fflush(stdout);
        _exit(0);
    }
    waitpid(pid, NULL, 0);

    // Threads inherit it and may set their own; both run at once.
    pthread_t a, b;
    void *ra, *rb;
    pthread_create(&a, NULL, pinned_thread, (void*)1L);
    pthread_create(&b, NULL, pinned_thread, (void*)0L);
    pthread_join(a, &ra);
    pthread_join(b, &rb);
    printf("threads stayed: on 1 %ld, on 0 %ld\n", (long)ra, (long)rb);

    // Another thread's mask, set from here, moves it.
    if (pipe(pipe_fds) < 0 || pipe(back_fds) < 0) return 1;
    pthread_t m;
    pthread_create(&m, NULL, moved_thread, NULL);
    pid_t tid = 0;
    if (read(back_fds[0], &tid, sizeof tid) != sizeof tid) return 1;
    show_mask("other thread before", tid);
    printf("set other thread to 1: %d\n", pin(tid, 1));
    show_mask("other thread after", tid);
    if (write(pipe_fds[1], "x", 1) != 1) return 1;
    void* rm;
    pthread_join(m, &rm);
    printf("moved thread stayed on 1: %ld\n", (long)rm);

    // Errors.
    cpu_set_t none;
    CPU_ZERO(&none);
    printf("empty mask: %s\n", sched_setaffinity(0, sizeof none, &none) < 0 ? errname(errno) : "ok");
    unsigned long high = 1UL << 63;
    printf("no CPU of ours: %s\n",
           syscall(SYS_sched_setaffinity, 0, sizeof high, &high) < 0 ? errname(errno) : "ok");
    unsigned char one_byte = 2;  // a short mask is zero-extended: CPU 1
    printf("one-byte mask: %ld\n", syscall(SYS_sched_setaffinity, 0, 1, &one_byte));
    show_mask("after one-byte mask", 0);
    printf("zero length: %s\n",
           syscall(SYS_sched_setaffinity, 0, 0, &one_byte) < 0 ? errname(errno) : "ok");
    unsigned long got = 0;
    printf("get len 4: %s\n", syscall(SYS_sched_getaffinity, 0, 4, &got) < 0 ? errname(errno) : "ok");
    printf("get len 12: %s\n", syscall(SYS_sched_getaffinity, 0, 12, &got) < 0 ? errname(errno) : "ok");
    printf("get bad pointer: %s\n",
           syscall(SYS_sched_getaffinity, 0, 8, (void*)8) < 0 ? errname(errno) : "ok");
    printf("set bad pointer: %s\n",
           syscall(SYS_sched_setaffinity, 0, 8, (void*)8) < 0 ? errname(errno) : "ok");
    printf("no such thread: %s\n", pin(999999, 0) < 0 ? errname(errno) : "ok");
    return 0;
}
