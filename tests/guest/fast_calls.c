/* set_tid_address, brk(0), prlimit64 and getrandom as Linux defines them,
 * including what the vkernel answers inside the guest on PVM
 * (vmspace/fast_syscall.h), run natively and in the vkernel with identical
 * output. Limits and random bytes differ between the runs, so only facts
 * about them are printed ("same as getrlimit: yes").
 *  - set_tid_address returns the tid; the word it names is cleared (and
 *    woken) when the thread exits;
 *  - brk(0) is the break, after the break grows and shrinks, in this
 *    thread and in another one that learns of the change only through
 *    memory (with 2 vCPUs it runs on the other one meanwhile);
 *  - prlimit64 reading every limit agrees with getrlimit; a new limit is
 *    seen at once, here and in another running thread; EINVAL for a bad
 *    resource, EFAULT for bad pointers;
 *  - arch_prctl: ARCH_GET_FS is the thread pointer, ARCH_SET_FS errors,
 *    two threads with FS bases of their own keep them across switches;
 *  - getrandom: sizes from 1 to 256 bytes, no repeats over many calls, a
 *    fork's child and parent get different bytes, a buffer that ends in an
 *    unmapped page gets the bytes up to it, EINVAL for bad flags, EFAULT. */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define FUTEX_WAIT 0
#define GRND_NONBLOCK_ 1
#define GRND_RANDOM_ 2
#define GRND_INSECURE_ 4

static long raw(long nr, long a, long b, long c, long d) {
    long r = syscall(nr, a, b, c, d);
    return r < 0 ? -errno : r;
}

static const char *yesno(int v) { return v ? "yes" : "no"; }

/* --- set_tid_address ----------------------------------------------------- */

static _Atomic int ctid_word = 1;
static atomic_long thread_tid;

static int ctid_thread(void *arg) {
    (void)arg;
    long tid = syscall(SYS_gettid);
    long r = syscall(SYS_set_tid_address, &ctid_word);
    atomic_store(&thread_tid, r == tid ? 1 : -1);
    return 0; /* the clone wrapper makes the exit syscall */
}

static void set_tid_address_calls(void) {
    static int word;
    long tid = syscall(SYS_gettid);
    printf("set_tid_address returns the tid: %s\n", yesno(raw(SYS_set_tid_address, (long)&word, 0, 0, 0) == tid));
    /* A thread of our own (raw clone, no libc thread state) names a word:
     * its exit clears it and wakes us. */
    size_t size = 64 * 1024;
    char *stack = mmap(0, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    int flags = CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_SIGHAND | CLONE_THREAD | CLONE_SYSVSEM;
    if (clone(ctid_thread, stack + size, flags, 0) < 0) {
        perror("clone");
        exit(1);
    }
    struct timespec ts = {5, 0};
    while (atomic_load(&ctid_word) != 0) {
        long r = syscall(SYS_futex, &ctid_word, FUTEX_WAIT, 1, &ts, 0, 0);
        if (r < 0 && errno == ETIMEDOUT) break;
    }
    printf("thread's set_tid_address returned its tid: %s; its word cleared at exit: %s\n",
           yesno(atomic_load(&thread_tid) == 1), yesno(atomic_load(&ctid_word) == 0));
    /* Its stack stays mapped: the thread may still be on its way out. */
}

/* --- brk(0) and prlimit64 from another running thread ---------------------- */

static atomic_int step;      /* main -> watcher: what to check */
static atomic_int answered;  /* watcher -> main */
static atomic_long seen;

static void *watcher(void *arg) {
    (void)arg;
    for (int last = 0;;) {
        int s;
        while ((s = atomic_load(&step)) == last) { /* spin: no syscall, no exit */ }
        last = s;
        if (s == 100) return 0;
        if (s % 2) {
            seen = raw(SYS_brk, 0, 0, 0, 0);
        } else {
            struct rlimit rl;
            seen = raw(SYS_prlimit64, 0, RLIMIT_NOFILE, 0, (long)&rl) == 0 ? (long)rl.rlim_cur : -1;
        }
        atomic_store(&answered, s);
    }
}

static long ask_watcher(int s) {
    atomic_store(&step, s);
    while (atomic_load(&answered) != s) { }
    return seen;
}

static void brk_calls(pthread_t w) {
    long base = raw(SYS_brk, 0, 0, 0, 0);
    printf("brk(0) is sbrk(0): %s\n", yesno(base == (long)sbrk(0)));
    printf("brk(0) again, same: %s\n", yesno(raw(SYS_brk, 0, 0, 0, 0) == base));
    long grown = raw(SYS_brk, base + 3 * 4096 + 100, 0, 0, 0);
    printf("grow by 3 pages + 100: %s; brk(0) now: %s; other thread sees it: %s\n",
           yesno(grown == base + 3 * 4096 + 100), yesno(raw(SYS_brk, 0, 0, 0, 0) == grown),
           yesno(ask_watcher(1) == grown));
    memset((char *)base, 7, 3 * 4096 + 100);
    printf("below the break is memory: %s\n", yesno(((char *)base)[3 * 4096 + 99] == 7));
    printf("brk below the start keeps it: %s\n", yesno(raw(SYS_brk, 4096, 0, 0, 0) == grown));
    long back = raw(SYS_brk, base, 0, 0, 0);
    printf("shrink back: %s; brk(0): %s; other thread: %s\n", yesno(back == base),
           yesno(raw(SYS_brk, 0, 0, 0, 0) == base), yesno(ask_watcher(3) == base));
    (void)w;
}

/* In a single-threaded process (a fork's child) the break moves within its
 * last page without a VM exit on PVM; it must behave as Linux's: memory up
 * to the break, brk(0) and a later thread agreeing. */
static void *read_brk(void *arg) {
    (void)arg;
    return (void *)raw(SYS_brk, 0, 0, 0, 0);
}

static void brk_alone_calls(void) {
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        const long b = raw(SYS_brk, 0, 0, 0, 0);
        const long g = raw(SYS_brk, b + 4096 + 16, 0, 0, 0);
        const long end = (g + 4095) & ~4095L;
        printf("alone: grow into a new page: %s\n", yesno(g == b + 4096 + 16));
        const long m = raw(SYS_brk, g + 100, 0, 0, 0);
        printf("alone: move within the page: %s; brk(0): %s\n", yesno(m == g + 100),
               yesno(raw(SYS_brk, 0, 0, 0, 0) == g + 100));
        memset((char *)g, 1, 100);
        printf("alone: below the break is memory: %s\n", yesno(((char *)g)[99] == 1));
        printf("alone: to the page's end: %s\n", yesno(raw(SYS_brk, end, 0, 0, 0) == end));
        printf("alone: past it: %s\n", yesno(raw(SYS_brk, end + 8, 0, 0, 0) == end + 8));
        ((char *)end)[7] = 3;
        printf("alone: the new page is memory: %s\n", yesno(((char *)end)[7] == 3));
        printf("alone: back within the page: %s\n", yesno(raw(SYS_brk, end - 8, 0, 0, 0) == end - 8));
        printf("alone: up again: %s\n", yesno(raw(SYS_brk, end - 4, 0, 0, 0) == end - 4));
        pthread_t t;
        void *seen = 0;
        pthread_create(&t, 0, read_brk, 0);
        pthread_join(t, &seen);
        printf("alone: a new thread's brk(0): %s\n", yesno((long)seen == end - 4));
        printf("alone: with two threads, move: %s\n",
               yesno(raw(SYS_brk, end - 2, 0, 0, 0) == end - 2 && raw(SYS_brk, 0, 0, 0, 0) == end - 2));
        fflush(stdout);
        _exit(0);
    }
    waitpid(pid, 0, 0);
}

static void prlimit_calls(void) {
    int same = 1;
    for (int r = 0; r < 16; r++) {
        struct rlimit a = {1, 1}, b = {2, 2};
        long ra = raw(SYS_prlimit64, 0, r, 0, (long)&a);
        long rb = raw(SYS_getrlimit, r, (long)&b, 0, 0);
        if (ra != 0 || rb != 0 || a.rlim_cur != b.rlim_cur || a.rlim_max != b.rlim_max) {
            printf("resource %d: prlimit64 %ld getrlimit %ld\n", r, ra, rb);
            same = 0;
        }
    }
    printf("prlimit64 reads every limit as getrlimit: %s\n", yesno(same));
    struct rlimit rl;
    printf("resource 16: %ld; 1000: %ld; -1: %ld\n", raw(SYS_prlimit64, 0, 16, 0, (long)&rl),
           raw(SYS_prlimit64, 0, 1000, 0, (long)&rl), raw(SYS_prlimit64, 0, -1, 0, (long)&rl));
    printf("old at 1: %ld; in the kernel half: %ld; across the top of user space: %ld\n",
           raw(SYS_prlimit64, 0, RLIMIT_STACK, 0, 1),
           raw(SYS_prlimit64, 0, RLIMIT_STACK, 0, (long)0xffff800000000000UL),
           raw(SYS_prlimit64, 0, RLIMIT_STACK, 0, (long)(0x7ffffffff000UL - 8)));
    printf("neither new nor old: %ld\n", raw(SYS_prlimit64, 0, RLIMIT_STACK, 0, 0));
    struct rlimit by_pid = {0, 0}, by_zero = {1, 1};
    raw(SYS_prlimit64, getpid(), RLIMIT_STACK, 0, (long)&by_pid);
    raw(SYS_prlimit64, 0, RLIMIT_STACK, 0, (long)&by_zero);
    printf("by pid and by 0 agree: %s\n",
           yesno(by_pid.rlim_cur == by_zero.rlim_cur && by_pid.rlim_max == by_zero.rlim_max));

    struct rlimit nofile;
    getrlimit(RLIMIT_NOFILE, &nofile);
    struct rlimit lower = {nofile.rlim_cur > 200 ? 200 : nofile.rlim_cur - 1, nofile.rlim_max};
    printf("setrlimit NOFILE: %d\n", setrlimit(RLIMIT_NOFILE, &lower));
    struct rlimit now = {0, 0};
    raw(SYS_prlimit64, 0, RLIMIT_NOFILE, 0, (long)&now);
    printf("read back at once: %s; other thread: %s\n", yesno(now.rlim_cur == lower.rlim_cur),
           yesno(ask_watcher(2) == (long)lower.rlim_cur));
    struct rlimit newer = {lower.rlim_cur - 1, nofile.rlim_max}, old = {0, 0};
    long set_get = raw(SYS_prlimit64, 0, RLIMIT_NOFILE, (long)&newer, (long)&old);
    printf("prlimit64 set and get: %ld, old is the previous: %s\n", set_get,
           yesno(old.rlim_cur == lower.rlim_cur));
    raw(SYS_prlimit64, 0, RLIMIT_NOFILE, 0, (long)&now);
    printf("then read: %s; other thread: %s\n", yesno(now.rlim_cur == newer.rlim_cur),
           yesno(ask_watcher(4) == (long)newer.rlim_cur));
    setrlimit(RLIMIT_NOFILE, &nofile);
}

/* --- arch_prctl: the FS base ----------------------------------------------------- */

#define ARCH_SET_FS_ 0x1002
#define ARCH_GET_FS_ 0x1003

static long raw_syscall2(long nr, long a, long b) {
    long r;
    __asm__ volatile("syscall" : "=a"(r) : "a"(nr), "D"(a), "S"(b) : "rcx", "r11", "memory");
    return r;
}

static long fs_word(void) {
    long v;
    __asm__ volatile("movq %%fs:0, %0" : "=r"(v));
    return v;
}

struct fs_block {
    long self;  /* %fs:0 */
    long marker;
};

/* With FS on a block of its own (no libc call meanwhile: its TLS is gone),
 * yields to the other threads a few times and reads %fs:0 after each. */
static int fs_survives_switches(long *got) {
    static struct fs_block block[2];
    long old = 0;
    raw_syscall2(SYS_arch_prctl, ARCH_GET_FS_, (long)&old);
    struct fs_block *b = &block[syscall(SYS_gettid) % 2];
    b->self = (long)b;
    if (raw_syscall2(SYS_arch_prctl, ARCH_SET_FS_, (long)b) != 0) return 0;
    int ok = 1;
    for (int i = 0; i < 20; i++) {
        raw_syscall2(SYS_sched_yield, 0, 0);
        ok &= fs_word() == (long)b;
    }
    long now = 0;
    raw_syscall2(SYS_arch_prctl, ARCH_GET_FS_, (long)&now);
    *got = now == (long)b;
    raw_syscall2(SYS_arch_prctl, ARCH_SET_FS_, old);
    return ok;
}

static void *fs_thread(void *arg) {
    long got = 0;
    int ok = fs_survives_switches(&got);
    *(int *)arg = ok && got;
    return 0;
}

static void arch_prctl_calls(void) {
    long fs = 0;
    long r = raw(SYS_arch_prctl, ARCH_GET_FS_, (long)&fs, 0, 0);
    printf("ARCH_GET_FS: %ld, the thread pointer: %s, %%fs:0 is it: %s\n", r,
           yesno(fs == (long)pthread_self()), yesno(fs_word() == fs));
    printf("ARCH_SET_FS to itself: %ld\n", raw(SYS_arch_prctl, ARCH_SET_FS_, fs, 0, 0));
    printf("ARCH_SET_FS in the kernel half: %ld; at 2^47: %ld\n",
           raw(SYS_arch_prctl, ARCH_SET_FS_, (long)0xffff800000000000UL, 0, 0),
           raw(SYS_arch_prctl, ARCH_SET_FS_, (long)0x800000000000UL, 0, 0));
    printf("ARCH_GET_FS to 1: %ld; to the kernel half: %ld\n", raw(SYS_arch_prctl, ARCH_GET_FS_, 1, 0, 0),
           raw(SYS_arch_prctl, ARCH_GET_FS_, (long)0xffff800000000000UL, 0, 0));
    printf("bad code 0x1234: %ld\n", raw(SYS_arch_prctl, 0x1234, 0, 0, 0));
    /* Two threads with FS bases of their own, switching back and forth. */
    int other_ok = 0;
    pthread_t t;
    pthread_create(&t, 0, fs_thread, &other_ok);
    long got = 0;
    int ok = fs_survives_switches(&got);
    pthread_join(t, 0);
    printf("own FS base kept across switches: %s, read back: %s; other thread: %s\n", yesno(ok),
           yesno(got), yesno(other_ok));
    printf("restored: %s\n", yesno(fs_word() == fs));
}

/* --- getrandom -------------------------------------------------------------- */

static int cmp_u64(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static void getrandom_calls(void) {
    enum { N = 400 };
    static uint64_t v[N];
    int ok = 1;
    for (int i = 0; i < N; i++) ok &= raw(SYS_getrandom, (long)&v[i], 8, i % 2 ? GRND_NONBLOCK_ : 0, 0) == 8;
    qsort(v, N, sizeof v[0], cmp_u64);
    int repeats = 0;
    for (int i = 1; i < N; i++) repeats += v[i] == v[i - 1];
    printf("400 calls of 8 bytes: all 8: %s; repeats: %d\n", yesno(ok), repeats);

    unsigned char buf[300];
    const int sizes[] = {1, 7, 16, 63, 64, 65, 128, 256};
    for (unsigned i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        memset(buf, 0, sizeof buf);
        long r = raw(SYS_getrandom, (long)buf, sizes[i], 0, 0);
        int zeros_after = 1;
        for (int k = sizes[i]; k < (int)sizeof buf; k++) zeros_after &= buf[k] == 0;
        printf("len %d: %ld, nothing written beyond: %s\n", sizes[i], r, yesno(zeros_after));
    }
    printf("len 0: %ld\n", raw(SYS_getrandom, (long)buf, 0, 0, 0));
    printf("flags 0x10: %ld; RANDOM|INSECURE: %ld; RANDOM: %ld; INSECURE: %ld\n",
           raw(SYS_getrandom, (long)buf, 8, 0x10, 0),
           raw(SYS_getrandom, (long)buf, 8, GRND_RANDOM_ | GRND_INSECURE_, 0),
           raw(SYS_getrandom, (long)buf, 8, GRND_RANDOM_, 0),
           raw(SYS_getrandom, (long)buf, 8, GRND_INSECURE_, 0));
    printf("buf at 1: %ld; in the kernel half: %ld; across the top of user space: %ld\n",
           raw(SYS_getrandom, 1, 8, 0, 0), raw(SYS_getrandom, (long)0xffff800000000000UL, 8, 0, 0),
           raw(SYS_getrandom, (long)(0x7ffffffff000UL - 4), 8, 0, 0));
    /* A buffer whose last bytes lie in an unmapped page: the bytes before it. */
    char *two = mmap(0, 8192, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    munmap(two + 4096, 4096);
    printf("8 bytes, 4 before an unmapped page: %ld\n", raw(SYS_getrandom, (long)(two + 4092), 8, 0, 0));
    printf("8 bytes into a read-only page: %ld\n",
           (mprotect(two, 4096, PROT_READ), raw(SYS_getrandom, (long)two, 8, 0, 0)));
    munmap(two, 4096);

    /* Parent and child after fork: different bytes. */
    int fd[2];
    if (pipe(fd) != 0) exit(1);
    pid_t pid = fork();
    if (pid == 0) {
        uint64_t mine[2];
        raw(SYS_getrandom, (long)mine, sizeof mine, 0, 0);
        if (write(fd[1], mine, sizeof mine) != sizeof mine) _exit(1);
        _exit(0);
    }
    uint64_t ours[2], theirs[2] = {0, 0};
    raw(SYS_getrandom, (long)ours, sizeof ours, 0, 0);
    int got = read(fd[0], theirs, sizeof theirs) == sizeof theirs;
    waitpid(pid, 0, 0);
    printf("fork: child's bytes arrived: %s; differ from the parent's: %s\n", yesno(got),
           yesno(memcmp(ours, theirs, sizeof ours) != 0));
    close(fd[0]);
    close(fd[1]);
}

/* `fast_calls loop N`: N rounds of brk(0), a move of the break within its
 * page, prlimit64 reading RLIMIT_STACK, getrandom of 8 bytes and
 * set_tid_address, for fast_stats.py to count the VM exits of. */
static int loop(long n) {
    static int word;
    unsigned long sum = 0;
    const long b = raw(SYS_brk, 0, 0, 0, 0);
    /* The break at the start of a fresh page, with room to move up in it. */
    const long start = raw(SYS_brk, ((b + 4095) & ~4095L) + 8, 0, 0, 0);
    for (long i = 0; i < n; i++) {
        struct rlimit rl;
        uint64_t r;
        sum += (unsigned long)raw(SYS_brk, 0, 0, 0, 0);
        sum += (unsigned long)raw(SYS_brk, start + (i % 512), 0, 0, 0);  /* down every 512 */
        sum += (unsigned long)raw(SYS_prlimit64, 0, RLIMIT_STACK, 0, (long)&rl);
        sum += (unsigned long)raw(SYS_getrandom, (long)&r, sizeof r, 0, 0);
        sum += (unsigned long)raw(SYS_set_tid_address, (long)&word, 0, 0, 0);
    }
    printf("%lu\n", sum & 1);
    return 0;
}

int main(int argc, char **argv) {
    if (argc == 3 && strcmp(argv[1], "loop") == 0) return loop(atol(argv[2]));
    setvbuf(stdout, 0, _IONBF, 0);
    set_tid_address_calls();
    pthread_t w;
    pthread_create(&w, 0, watcher, 0);
    brk_calls(w);
    brk_alone_calls();
    prlimit_calls();
    atomic_store(&step, 100);
    pthread_join(w, 0);
    getrandom_calls();
    arch_prctl_calls();
    return 0;
}
