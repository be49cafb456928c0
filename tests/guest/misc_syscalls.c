/* Exercises the small system calls a static libc program uses and prints
 * only facts that are the same on every Linux machine and every run
 * (relations, not values). Run with stdout a pipe (the e2e test does):
 * the terminal checks expect stdout not to be a terminal. */
#define _GNU_SOURCE
#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/utsname.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

static void check(const char *what, int ok) { printf("%s: %s\n", what, ok ? "yes" : "NO"); }

static long long ns(const struct timespec *t) { return t->tv_sec * 1000000000ll + t->tv_nsec; }

static volatile sig_atomic_t got_signal;
static void on_usr1(int sig) { got_signal = sig; }

static void ids(void) {
    pid_t pid = getpid(), tid = (pid_t)syscall(SYS_gettid), ppid = getppid();
    check("getpid() > 0", pid > 0);
    check("gettid() == getpid()", tid == pid);
    check("getppid() != getpid()", ppid != pid);
    check("getppid() >= 0", ppid >= 0);
    check("getpid() is stable", getpid() == pid);
    check("getuid() == geteuid()", getuid() == geteuid());
    check("getgid() == getegid()", getgid() == getegid());
}

static void names(void) {
    struct utsname u;
    memset(&u, 0, sizeof u);
    int r = uname(&u);
    printf("uname() = %d sysname=%s machine=%s\n", r, u.sysname, u.machine);
    check("uname release is not empty", u.release[0] != 0);
}

static void clocks(void) {
    struct timespec a, b, real;
    int r1 = clock_gettime(CLOCK_MONOTONIC, &a);
    int r2 = clock_gettime(CLOCK_MONOTONIC, &b);
    int r3 = clock_gettime(CLOCK_REALTIME, &real);
    printf("clock_gettime() = %d %d %d\n", r1, r2, r3);
    check("monotonic clock does not go back", ns(&b) >= ns(&a));
    check("tv_nsec < 1e9", a.tv_nsec >= 0 && a.tv_nsec < 1000000000 && real.tv_nsec < 1000000000);
    check("realtime is after 2020", real.tv_sec > 1577836800);

    /* Busy-wait ~2 ms of monotonic time; it must advance. */
    struct timespec c;
    do clock_gettime(CLOCK_MONOTONIC, &c);
    while (ns(&c) - ns(&a) < 2000000);
    check("monotonic clock advances", ns(&c) > ns(&a));

    struct timeval tv;
    int r4 = gettimeofday(&tv, NULL);
    printf("gettimeofday() = %d\n", r4);
    check("gettimeofday usec < 1e6", tv.tv_usec >= 0 && tv.tv_usec < 1000000);
    long long diff = (long long)tv.tv_sec - real.tv_sec;
    check("gettimeofday agrees with CLOCK_REALTIME", diff >= 0 && diff < 10);
}

static void randomness(void) {
    unsigned char a[64], b[64];
    memset(a, 0, sizeof a);
    memset(b, 0, sizeof b);
    long r1 = syscall(SYS_getrandom, a, sizeof a, 0);
    long r2 = syscall(SYS_getrandom, b, sizeof b, 1 /* GRND_NONBLOCK */);
    printf("getrandom(64) = %ld, getrandom(64, GRND_NONBLOCK) = %ld\n", r1, r2);
    check("two getrandom results differ", memcmp(a, b, sizeof a) != 0);
}

static void limits(void) {
    struct rlimit rl;
    memset(&rl, 0, sizeof rl);
    long r = syscall(SYS_prlimit64, 0, RLIMIT_STACK, NULL, &rl);
    printf("prlimit64(RLIMIT_STACK) = %ld\n", r);
    check("stack limit cur > 0 and cur <= max", rl.rlim_cur > 0 && rl.rlim_cur <= rl.rlim_max);

    cpu_set_t set;
    CPU_ZERO(&set);
    int a = sched_getaffinity(0, sizeof set, &set);
    printf("sched_getaffinity() = %d\n", a);
    check("at least one CPU in the affinity mask", CPU_COUNT(&set) >= 1);
    long raw = syscall(SYS_sched_getaffinity, 0, sizeof set, &set);
    check("raw sched_getaffinity returns a size in bytes", raw > 0 && raw % 8 == 0 && raw <= (long)sizeof set);
}

static void terminal(void) {
    errno = 0;
    int t = isatty(1);
    printf("isatty(1) = %d errno=%d\n", t, t ? 0 : errno);
    struct winsize ws;
    errno = 0;
    int r = ioctl(1, TIOCGWINSZ, &ws);
    printf("ioctl(1, TIOCGWINSZ) = %d errno=%d\n", r, r ? errno : 0);
    struct termios tio;
    errno = 0;
    r = ioctl(1, TCGETS, &tio);
    printf("ioctl(1, TCGETS) = %d errno=%d\n", r, r ? errno : 0);
}

static void memory(void) {
    const size_t len = 3 * 4096;
    unsigned char *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    check("mmap anonymous", p != MAP_FAILED);
    if (p == MAP_FAILED) return;
    int zero = 1;
    for (size_t i = 0; i < len; i++) zero &= p[i] == 0;
    check("fresh anonymous memory is zero", zero);
    for (size_t i = 0; i < len; i++) p[i] = (unsigned char)(i * 7);
    printf("mprotect(middle, PROT_READ) = %d\n", mprotect(p + 4096, 4096, PROT_READ));
    int same = 1;
    for (size_t i = 0; i < len; i++) same &= p[i] == (unsigned char)(i * 7);
    check("contents survive mprotect", same);
    printf("mprotect(middle, RW) = %d\n", mprotect(p + 4096, 4096, PROT_READ | PROT_WRITE));
    p[4096] = 1;
    printf("madvise(first, DONTNEED) = %d\n", madvise(p, 4096, MADV_DONTNEED));
    zero = 1;
    for (size_t i = 0; i < 4096; i++) zero &= p[i] == 0;
    check("DONTNEED page reads back as zero", zero);
    check("the page after it is untouched", p[4097] == (unsigned char)(4097 * 7));
    printf("munmap(middle) = %d\n", munmap(p + 4096, 4096));
    printf("munmap(all) = %d\n", munmap(p, len));
    errno = 0;
    void *bad = mmap(NULL, 0, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    printf("mmap(len 0) failed=%d errno=%d\n", bad == MAP_FAILED, errno);
    errno = 0;
    int r = munmap((void *)(p + 1), 4096);
    printf("munmap(unaligned) = %d errno=%d\n", r, errno);
}

/* Raw brk: musl's brk()/sbrk() refuse to move the break. Nothing between the
 * grow and the shrink may call malloc (printf could), so results are printed
 * afterwards. */
static void program_break(void) {
    uintptr_t cur = (uintptr_t)syscall(SYS_brk, 0);
    uintptr_t grown = (uintptr_t)syscall(SYS_brk, cur + 65536);
    int writable = 0;
    if (grown == cur + 65536) {
        volatile unsigned char *q = (volatile unsigned char *)cur;
        q[0] = 1;
        q[65535] = 2;
        writable = q[0] == 1 && q[65535] == 2;
    }
    uintptr_t shrunk = (uintptr_t)syscall(SYS_brk, cur);
    uintptr_t again = (uintptr_t)syscall(SYS_brk, 0);
    check("brk(0) is not zero", cur != 0);
    check("brk grows by 64 KiB", grown == cur + 65536);
    check("grown break memory is writable", writable);
    check("brk shrinks back", shrunk == cur && again == cur);
}

static void signals(void) {
    struct sigaction sa, old;
    memset(&sa, 0, sizeof sa);
    memset(&old, 0, sizeof old);
    sa.sa_handler = on_usr1;
    sigemptyset(&sa.sa_mask);
    printf("sigaction(SIGUSR1, handler) = %d\n", sigaction(SIGUSR1, &sa, &old));
    check("old SIGUSR1 action was SIG_DFL", old.sa_handler == SIG_DFL);
    memset(&old, 0, sizeof old);
    printf("sigaction(SIGUSR1, NULL, &old) = %d\n", sigaction(SIGUSR1, NULL, &old));
    check("the handler reads back", old.sa_handler == on_usr1);
    errno = 0;
    int r = sigaction(SIGKILL, &sa, NULL);
    printf("sigaction(SIGKILL) = %d errno=%d\n", r, errno);

    sigset_t block, cur;
    sigemptyset(&block);
    sigaddset(&block, SIGUSR1);
    printf("sigprocmask(SIG_BLOCK, {USR1}) = %d\n", sigprocmask(SIG_BLOCK, &block, NULL));
    sigemptyset(&cur);
    printf("sigprocmask(query) = %d\n", sigprocmask(SIG_BLOCK, NULL, &cur));
    check("SIGUSR1 is blocked", sigismember(&cur, SIGUSR1) == 1);
    check("SIGUSR2 is not blocked", sigismember(&cur, SIGUSR2) == 0);
    printf("sigprocmask(SIG_UNBLOCK, {USR1}) = %d\n", sigprocmask(SIG_UNBLOCK, &block, NULL));
    sigprocmask(SIG_BLOCK, NULL, &cur);
    check("SIGUSR1 is unblocked", sigismember(&cur, SIGUSR1) == 0);
    sa.sa_handler = SIG_DFL;
    printf("sigaction(SIGUSR1, SIG_DFL) = %d\n", sigaction(SIGUSR1, &sa, NULL));
    check("no signal arrived", got_signal == 0);
}

int main(void) {
    ids();
    names();
    clocks();
    randomness();
    limits();
    terminal();
    memory();
    program_break();
    signals();
    printf("done\n");
    return 0;
}
