/* rt_sigprocmask, gettid, getpid and set_robust_list as Linux defines them, including what
 * the vkernel answers inside the guest on PVM (vmspace/fast_syscall.h):
 *  - SIG_BLOCK / SIG_UNBLOCK / SIG_SETMASK, the old set, SIGKILL and SIGSTOP
 *    never blocked; a bad `how` (ignored without a set), a bad sigsetsize;
 *  - bad pointers: set (EFAULT, nothing changes), oset (EFAULT after the
 *    change, as Linux), addresses in the kernel half and just below 2^47;
 *  - a pending signal unblocked is delivered before the call returns;
 *  - registers across a raw `syscall`: rcx holds the return address, r11
 *    the flags, the others (and the arithmetic flags and DF) are kept;
 *  - real-time signals sent by another thread while this one toggles its
 *    mask in a loop all arrive, once each;
 *  - gettid and getpid in threads and after fork; set_robust_list as
 *    get_robust_list sees it.
 * Prints only what Linux decides. */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static long raw_sigprocmask(long how, const void *set, void *oset, long size) {
    long r = syscall(SYS_rt_sigprocmask, how, set, oset, size);
    return r < 0 ? -errno : r;
}

static uint64_t current_mask(void) {
    uint64_t m = 0;
    raw_sigprocmask(SIG_BLOCK, NULL, &m, 8);
    return m;
}

static uint64_t bit(int sig) { return 1ULL << (sig - 1); }

static volatile sig_atomic_t usr1_seen;
static void on_usr1(int sig) { (void)sig; usr1_seen++; }

static void basics(void) {
    uint64_t set = bit(SIGUSR1) | bit(SIGUSR2), old = 0xdead;
    printf("block: %ld, old mask %#llx\n", raw_sigprocmask(SIG_BLOCK, &set, &old, 8), (unsigned long long)old);
    printf("mask now %#llx\n", (unsigned long long)current_mask());
    set = bit(SIGUSR1);
    printf("unblock: %ld, old %#llx, now %#llx\n", raw_sigprocmask(SIG_UNBLOCK, &set, &old, 8),
           (unsigned long long)old, (unsigned long long)current_mask());
    set = ~0ULL;
    printf("setmask all: %ld, now %#llx\n", raw_sigprocmask(SIG_SETMASK, &set, NULL, 8),
           (unsigned long long)current_mask());
    set = 0;
    printf("setmask none: %ld, now %#llx\n", raw_sigprocmask(SIG_SETMASK, &set, NULL, 8),
           (unsigned long long)current_mask());
    set = bit(SIGUSR1);
    printf("bad how 3: %ld; -1: %ld; without a set: %ld\n", raw_sigprocmask(3, &set, NULL, 8),
           raw_sigprocmask(-1, &set, NULL, 8), raw_sigprocmask(3, NULL, &old, 8));
    printf("sigsetsize 4: %ld; 16: %ld; mask %#llx\n", raw_sigprocmask(SIG_BLOCK, &set, NULL, 4),
           raw_sigprocmask(SIG_BLOCK, &set, NULL, 16), (unsigned long long)current_mask());
    printf("neither set nor oset: %ld\n", raw_sigprocmask(SIG_BLOCK, NULL, NULL, 8));
    /* A set that is not 8-byte aligned. */
    unsigned char buf[16] = {0};
    uint64_t v = bit(SIGUSR2);
    memcpy(buf + 3, &v, 8);
    printf("unaligned set: %ld, now %#llx\n", raw_sigprocmask(SIG_SETMASK, buf + 3, NULL, 8),
           (unsigned long long)current_mask());
    set = 0;
    raw_sigprocmask(SIG_SETMASK, &set, NULL, 8);
}

static void bad_pointers(void) {
    uint64_t set = bit(SIGUSR1), none = 0;
    void *bad[] = {(void *)1, (void *)0x7ffffffff000ULL, (void *)0x7ffffffffffcULL,
                   (void *)0xffffff0000000000ULL, (void *)0xffffff8000002000ULL};
    for (unsigned i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        raw_sigprocmask(SIG_SETMASK, &none, NULL, 8);
        long r1 = raw_sigprocmask(SIG_BLOCK, bad[i], NULL, 8);
        uint64_t after_set = current_mask();
        long r2 = raw_sigprocmask(SIG_BLOCK, &set, bad[i], 8);
        printf("bad pointer %#llx: as set %ld (mask %#llx), as oset %ld (mask %#llx)\n",
               (unsigned long long)(uintptr_t)bad[i], r1, (unsigned long long)after_set, r2,
               (unsigned long long)current_mask());
    }
    raw_sigprocmask(SIG_SETMASK, &none, NULL, 8);
}

static void unblock_delivers(void) {
    signal(SIGUSR1, on_usr1);
    uint64_t set = bit(SIGUSR1);
    raw_sigprocmask(SIG_BLOCK, &set, NULL, 8);
    raise(SIGUSR1);
    printf("blocked and raised: handler ran %d times\n", (int)usr1_seen);
    raw_sigprocmask(SIG_UNBLOCK, &set, NULL, 8);
    int seen = usr1_seen; /* read right after the call returned */
    printf("unblocked: handler ran %d times before the call returned\n", seen);
    /* The same through SIG_SETMASK, with the old set asked for. */
    raw_sigprocmask(SIG_BLOCK, &set, NULL, 8);
    raise(SIGUSR1);
    uint64_t none = 0, old = 0;
    raw_sigprocmask(SIG_SETMASK, &none, &old, 8);
    seen = usr1_seen;
    printf("setmask: handler ran %d times, old %#llx\n", seen, (unsigned long long)old);
}

/* A raw rt_sigprocmask(SIG_BLOCK, NULL, &old, 8) with known values in the
 * other registers and the flags (CF, PF, ZF, SF, OF set; DF set). */
static void registers(void) {
    uint64_t old = 0, out_rcx, out_r11, out_r8, out_r9, out_rbx, out_flags, ret_addr;
    long rax;
    __asm__ volatile(
        "lea 1f(%%rip), %%rax\n\t"
        "mov %%rax, %[ret]\n\t"
        "mov $0x1111, %%r8\n\t"
        "mov $0x2222, %%r9\n\t"
        "mov $0x3333, %%rbx\n\t"
        "mov $14, %%eax\n\t"
        "xor %%edi, %%edi\n\t"
        "xor %%esi, %%esi\n\t"
        "mov $8, %%r10d\n\t"
        "pushfq\n\t"
        "orq $0x8c5, (%%rsp)\n\t" /* CF PF ZF SF OF */
        "popfq\n\t"
        "std\n\t"
        "syscall\n"
        "1:\n\t"
        "pushfq\n\t"
        "popq %[flags]\n\t"
        "cld\n\t"
        "mov %%rcx, %[rcx]\n\t"
        "mov %%r11, %[r11]\n\t"
        "mov %%r8, %[r8]\n\t"
        "mov %%r9, %[r9]\n\t"
        "mov %%rbx, %[rbx]\n\t"
        : "=a"(rax), [ret] "=m"(ret_addr), [flags] "=m"(out_flags), [rcx] "=m"(out_rcx),
          [r11] "=m"(out_r11), [r8] "=m"(out_r8), [r9] "=m"(out_r9), [rbx] "=m"(out_rbx)
        : "d"(&old)
        : "rcx", "r11", "r8", "r9", "r10", "rbx", "rdi", "rsi", "memory", "cc");
    const uint64_t arith = 0x8d5; /* CF PF AF ZF SF OF */
    printf("raw syscall: result %ld, rcx is the return address: %s, r11 holds the flags: %s\n", rax,
           out_rcx == ret_addr ? "yes" : "no",
           (out_r11 & (arith | 0x400)) == (out_flags & (arith | 0x400)) ? "yes" : "no");
    printf("flags kept: CF %d PF %d ZF %d SF %d OF %d DF %d\n", (int)(out_flags & 1), (int)(out_flags >> 2 & 1),
           (int)(out_flags >> 6 & 1), (int)(out_flags >> 7 & 1), (int)(out_flags >> 11 & 1),
           (int)(out_flags >> 10 & 1));
    printf("r8 %#llx r9 %#llx rbx %#llx\n", (unsigned long long)out_r8, (unsigned long long)out_r9,
           (unsigned long long)out_rbx);
}

/* Real-time signals queue: every one sent arrives once. */
#define RT_SENDS 3000
static atomic_int rt_seen;
static atomic_int toggler_ready, sender_done;
static pid_t toggler_tid;
static void on_rt(int sig) { (void)sig; atomic_fetch_add(&rt_seen, 1); }

static void *toggler(void *arg) {
    (void)arg;
    toggler_tid = (pid_t)syscall(SYS_gettid);
    uint64_t set = bit(SIGRTMIN);
    atomic_store(&toggler_ready, 1);
    while (!atomic_load(&sender_done) || atomic_load(&rt_seen) < RT_SENDS) {
        raw_sigprocmask(SIG_BLOCK, &set, NULL, 8);
        raw_sigprocmask(SIG_UNBLOCK, &set, NULL, 8);
    }
    return NULL;
}

static void rt_queue(void) {
    signal(SIGRTMIN, on_rt);
    /* Only the toggler takes them. */
    sigset_t s;
    sigemptyset(&s);
    sigaddset(&s, SIGRTMIN);
    pthread_sigmask(SIG_BLOCK, &s, NULL);
    pthread_t t;
    pthread_create(&t, NULL, toggler, NULL);
    while (!atomic_load(&toggler_ready)) sched_yield();
    int sent = 0;
    for (int i = 0; i < RT_SENDS; i++) {
        while (syscall(SYS_tgkill, getpid(), toggler_tid, SIGRTMIN) != 0) sched_yield(); /* EAGAIN: queue full */
        sent++;
        if (i % 64 == 0) sched_yield();
    }
    atomic_store(&sender_done, 1);
    pthread_join(t, NULL);
    printf("real-time signals sent %d, handled %d\n", sent, atomic_load(&rt_seen));
    pthread_sigmask(SIG_UNBLOCK, &s, NULL);
}

/* set_robust_list (answered in the guest on PVM, then seen by the host). */
static void robust(void) {
    void *libc_head = NULL;
    size_t len = 0;
    syscall(SYS_get_robust_list, 0, &libc_head, &len);
    static uint64_t head[3];
    long bad = syscall(SYS_set_robust_list, head, 23);
    int bad_errno = errno;
    long good = syscall(SYS_set_robust_list, head, 24);
    void *got = NULL;
    syscall(SYS_get_robust_list, 0, &got, &len);
    printf("set_robust_list: len 23 %ld (%s), len 24 %ld; get_robust_list sees it: %s, len %zu\n", bad,
           bad == -1 && bad_errno == EINVAL ? "EINVAL" : "?", good, got == (void *)head ? "yes" : "no", len);
    syscall(SYS_set_robust_list, libc_head, 24);
}

static void *tid_thread(void *arg) {
    *(long *)arg = syscall(SYS_gettid);
    return NULL;
}

static void ids(void) {
    long main_tid = syscall(SYS_gettid), pid = syscall(SYS_getpid);
    printf("main thread: gettid == getpid: %s\n", main_tid == pid ? "yes" : "no");
    long t_tid = 0;
    pthread_t t;
    pthread_create(&t, NULL, tid_thread, &t_tid);
    pthread_join(t, NULL);
    printf("thread: its own tid: %s\n", t_tid != pid && t_tid > 0 ? "yes" : "no");
    fflush(stdout);
    int fds[2];
    if (pipe(fds) != 0) return;
    pid_t c = fork();
    if (c == 0) {
        long v[2] = {syscall(SYS_getpid), syscall(SYS_gettid)};
        if (write(fds[1], v, sizeof v) != sizeof v) _exit(1);
        _exit(0);
    }
    long v[2] = {0, 0};
    if (read(fds[0], v, sizeof v) != sizeof v) v[0] = -1;
    waitpid(c, NULL, 0);
    printf("fork child: getpid is fork's value: %s, gettid too: %s; parent's unchanged: %s\n",
           v[0] == c ? "yes" : "no", v[1] == c ? "yes" : "no", syscall(SYS_getpid) == pid ? "yes" : "no");
}

int main(void) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    basics();
    bad_pointers();
    unblock_delivers();
    registers();
    robust();
    rt_queue();
    ids();
    return 0;
}
