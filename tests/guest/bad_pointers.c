/* Passes bad user pointers to system calls and prints each return value and
 * errno. Linux answers EFAULT and the process lives on; the vkernel must
 * answer the same and never crash.
 *
 * Run it with stdin a regular file of at least 16 bytes (the e2e test
 * does): Linux's answer to a read into a buffer that runs into an unmapped
 * page depends on the kind of file (a regular file fills the part that is
 * mapped and returns its length; a pipe returns EFAULT and keeps the data).
 * A write from such a buffer is in write_straddle.c. */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

/* Hides the constant from the compiler, which would otherwise warn that we
 * pass a bad pointer (we mean to). */
static void *bad(unsigned long addr) {
    void *volatile p = (void *)addr;
    return p;
}

static void report(const char *what, long r, int e) {
    printf("%s = %ld errno=%d%s\n", what, r, r < 0 ? e : 0, r < 0 && e == EFAULT ? " (EFAULT)" : "");
    fflush(stdout);  /* keep our lines in order with the raw writes to fd 1 */
}

#define CALL(what, expr)          \
    do {                          \
        fflush(stdout);           \
        errno = 0;                \
        long r_ = (long)(expr);   \
        report(what, r_, errno);  \
    } while (0)

int main(void) {
    /* Two pages, the second unmapped: a buffer at the end of the first runs
     * into the hole. */
    char *page = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (page == MAP_FAILED || munmap(page + 4096, 4096) != 0) {
        printf("mmap set-up failed\n");
        return 1;
    }
    char *edge = page + 4096 - 3;
    memcpy(edge, "ab\n", 3);

    CALL("write(1, 8, 5)", write(1, bad(8), 5));
    CALL("write(1, NULL, 5)", write(1, bad(0), 5));
    CALL("write(1, -4096, 5)", write(1, bad((unsigned long)-4096), 5));
    CALL("write(1, 0x800000000000, 5)", write(1, bad(0x800000000000ul), 5));
    CALL("write(1, 8, 0)", write(1, bad(8), 0));
    CALL("write(1, last 3 mapped bytes, 3)", write(1, edge, 3));

    struct iovec iov_bad_base = {bad(8), 5};
    CALL("writev(1, iov with bad base, 1)", writev(1, &iov_bad_base, 1));
    CALL("writev(1, 8, 1)", writev(1, bad(8), 1));

    char small[8] = {0};
    CALL("read(0, 8, 4)", read(0, bad(8), 4));
    CALL("read(0, buf, 4) after the fault", read(0, small, 4));
    printf("  got \"%s\"\n", small);
    CALL("read(0, 8, 0)", read(0, bad(8), 0));
    CALL("read(0, straddling, 10)", read(0, edge, 10));
    printf("  got \"%.3s\"\n", edge);
    memset(small, 0, sizeof small);
    CALL("read(0, buf, 4) after the short read", read(0, small, 4));
    printf("  got \"%s\"\n", small);

    CALL("uname(8)", uname(bad(8)));
    CALL("uname(-4096)", uname(bad((unsigned long)-4096)));
    /* Raw system calls: libc would answer these from the vDSO on Linux, and
     * the vDSO faults instead of returning EFAULT. */
    CALL("clock_gettime(MONOTONIC, 8)", syscall(SYS_clock_gettime, CLOCK_MONOTONIC, bad(8)));
    CALL("clock_gettime(MONOTONIC, straddling)",
         syscall(SYS_clock_gettime, CLOCK_MONOTONIC, page + 4096 - 8));
    CALL("gettimeofday(8, NULL)", syscall(SYS_gettimeofday, bad(8), NULL));
    CALL("getrandom(8, 16, 0)", syscall(SYS_getrandom, bad(8), 16, 0));
    CALL("rt_sigprocmask(SIG_BLOCK, 8, NULL, 8)", syscall(SYS_rt_sigprocmask, SIG_BLOCK, bad(8), NULL, 8));
    CALL("rt_sigaction(SIGUSR1, 8, NULL, 8)", syscall(SYS_rt_sigaction, SIGUSR1, bad(8), NULL, 8));
    CALL("sched_getaffinity(0, 128, 8)", syscall(SYS_sched_getaffinity, 0, 128, bad(8)));
    CALL("prlimit64(0, RLIMIT_STACK, NULL, 8)", syscall(SYS_prlimit64, 0, 3, NULL, bad(8)));

    printf("still alive\n");
    return 0;
}
