/* Restartable sequences (rseq(2)), run natively and in the vkernel with
 * identical output. CPU numbers differ between the runs, so only facts
 * about them are printed ("cpu_id matches getcpu: yes").
 *  - the auxv's AT_RSEQ_FEATURE_SIZE / AT_RSEQ_ALIGN;
 *  - each thread's area: glibc registers one per thread itself (found with
 *    __rseq_offset); with musl the program registers its own;
 *  - cpu_id_start / cpu_id equal getcpu's answer, node_id is 0, mm_cid is
 *    below the number of CPUs;
 *  - registration errors: EINVAL (length, alignment, flags, another area),
 *    EBUSY, EPERM, EFAULT, and what unregistering leaves in the area;
 *  - a per-CPU counter incremented through a critical section by 4 threads
 *    that keep being preempted: the abort handler retries, the total is
 *    exact;
 *  - a signal raised by a `syscall` inside a section aborts it: the handler
 *    sees abort_ip as the interrupted RIP, rseq_cs is cleared;
 *  - bad descriptors (version, signature, abort_ip inside, addresses out of
 *    user space) kill with SIGSEGV;
 *  - fork keeps the registration (the child's ids are brought up to date),
 *    threads and exec start unregistered. */
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
#include <sys/auxv.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <ucontext.h>
#include <unistd.h>
#ifdef __GLIBC__
#include <sys/rseq.h>
#endif

#define SIG 0x53053053u /* RSEQ_SIG on x86 */
#define UNREGISTER 1
#define NR_RSEQ 334
#define NTHREADS 4
#define MAXCPU 256
#define MIN_INCREMENTS 2000000L

/* Linux's struct rseq (include/uapi/linux/rseq.h), with node_id and mm_cid,
 * which glibc 2.36's header lacks. */
struct area {
    uint32_t cpu_id_start;
    uint32_t cpu_id;
    uint64_t rseq_cs;
    uint32_t flags;
    uint32_t node_id;
    uint32_t mm_cid;
    char end[4];
} __attribute__((aligned(32)));

struct cs {
    uint32_t version;
    uint32_t flags;
    uint64_t start_ip;
    uint64_t post_commit_offset;
    uint64_t abort_ip;
} __attribute__((aligned(32)));

static void check(const char *what, int ok) {
    printf("%s: %s\n", what, ok ? "yes" : "NO");
    fflush(stdout);
}

static int rseq_call(void *a, uint32_t len, int flags, uint32_t sig) {
    return (int)syscall(NR_RSEQ, a, len, flags, sig);
}

/* "ok" or the errno's name. */
static const char *res(int r) {
    if (r == 0) return "ok";
    switch (errno) {
    case EINVAL: return "EINVAL";
    case EBUSY: return "EBUSY";
    case EPERM: return "EPERM";
    case EFAULT: return "EFAULT";
    case ENOSYS: return "ENOSYS";
    default: return "other";
    }
}

static pid_t gettid_(void) { return (pid_t)syscall(SYS_gettid); }

static unsigned getcpu_(void) {
    unsigned cpu = ~0u, node = ~0u;
    syscall(SYS_getcpu, &cpu, &node, NULL);
    return cpu;
}

static unsigned ncpus(void) {
    cpu_set_t set;
    CPU_ZERO(&set);
    if (sched_getaffinity(0, sizeof set, &set) != 0) return 1;
    return (unsigned)CPU_COUNT(&set);
}

#ifndef __GLIBC__
/* Areas the musl build registers: one per thread index (0: main). */
static struct area areas[NTHREADS + 2];
#endif

/* The calling thread's registered area: glibc's own, or areas[idx]
 * registered now. Null if there is none. */
static struct area *thread_area(int idx) {
#ifdef __GLIBC__
    (void)idx;
    if (__rseq_size == 0) return NULL;
    struct area *a = (struct area *)((char *)__builtin_thread_pointer() + __rseq_offset);
    return (int32_t)a->cpu_id >= 0 ? a : NULL;
#else
    struct area *a = &areas[idx];
    return rseq_call(a, sizeof *a, 0, SIG) == 0 ? a : NULL;
#endif
}

/* cpu_id against getcpu, read on both sides of the call so a migration in
 * between is seen; a few tries, since the host may move us at any time. */
static int ids_match(volatile struct area *a) {
    for (int i = 0; i < 1000; i++) {
        const uint32_t before = a->cpu_id, start = a->cpu_id_start;
        const unsigned cpu = getcpu_();
        const uint32_t after = a->cpu_id;
        if (before == cpu && after == cpu && start == cpu && a->node_id == 0 &&
            a->mm_cid < ncpus())
            return 1;
    }
    return 0;
}

/* --- a per-CPU counter through a critical section ----------------------- */

struct slot {
    volatile long count;
    char pad[56];
};
static struct slot counters[MAXCPU] __attribute__((aligned(64)));
static atomic_int any_abort;

/* counters[cpu_id].count++ as one restartable sequence: the section reads
 * cpu_id, loads the count, spins a little (so that preemption often lands
 * inside) and commits with a single store. Returns how often it aborted. */
static __attribute__((noinline)) long percpu_inc(struct area *a) {
    long aborts = 0, spin;
    __asm__ __volatile__(
        ".pushsection __rseq_cs_vk, \"aw\"\n\t"
        ".balign 32\n\t"
        "33:\n\t"
        ".long 0, 0\n\t"
        ".quad 1f, 2f - 1f, 4f\n\t"
        ".popsection\n\t"
        "0:\n\t"
        "leaq 33b(%%rip), %%rax\n\t"
        "movq %%rax, 8(%[a])\n\t"  /* rseq_cs = &descriptor */
        "1:\n\t"                   /* start_ip */
        "movl 4(%[a]), %%eax\n\t"  /* cpu_id */
        "shlq $6, %%rax\n\t"
        "movq (%[base], %%rax), %%rdx\n\t"
        "movl $20, %k[spin]\n\t"
        "3:\n\t"
        "decl %k[spin]\n\t"
        "jnz 3b\n\t"
        "addq $1, %%rdx\n\t"
        "movq %%rdx, (%[base], %%rax)\n\t" /* commit */
        "2:\n\t"                            /* post_commit_ip */
        "jmp 5f\n\t"
        ".byte 0x0f, 0xb9, 0x3d\n\t" /* ud1: the signature is an instruction */
        ".long 0x53053053\n\t"
        "4:\n\t" /* abort_ip */
        "addq $1, %[aborts]\n\t"
        "jmp 0b\n\t"
        "5:\n\t"
        : [aborts] "+r"(aborts), [spin] "=&r"(spin)
        : [a] "r"(a), [base] "r"(counters)
        : "rax", "rdx", "memory", "cc");
    return aborts;
}

struct worker {
    pthread_t th;
    int idx;
    int registered;
    long done, aborts;
};

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void *counter_worker(void *arg) {
    struct worker *w = arg;
    /* Two threads per CPU on CPUs 0 and 1 (where they exist), so sections
     * are preempted however many CPUs the host or the vkernel (-n) has. */
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(w->idx % 2, &set);
    if (sched_setaffinity(0, sizeof set, &set) != 0) {
        CPU_ZERO(&set);
        CPU_SET(0, &set);
        (void)sched_setaffinity(0, sizeof set, &set);
    }
    struct area *a = thread_area(w->idx);
    w->registered = a != NULL;
    if (!a) return NULL;
    const double start = now();
    /* Until every thread has done its share and someone was aborted (or 5
     * seconds passed: then "aborts seen" says NO). */
    for (;;) {
        const long ab = percpu_inc(a);
        w->aborts += ab;
        w->done++;
        if (ab) atomic_store(&any_abort, 1);
        if (w->done >= MIN_INCREMENTS && (w->done & 1023) == 0 &&
            (atomic_load(&any_abort) || now() - start > 5))
            break;
    }
    return NULL;
}

static void test_counter(void) {
    struct worker w[NTHREADS];
    for (int i = 0; i < NTHREADS; i++) {
        memset(&w[i], 0, sizeof w[i]);
        w[i].idx = i + 1;
        pthread_create(&w[i].th, NULL, counter_worker, &w[i]);
    }
    long expect = 0;
    int all_registered = 1;
    for (int i = 0; i < NTHREADS; i++) {
        pthread_join(w[i].th, NULL);
        expect += w[i].done;
        all_registered &= w[i].registered;
    }
    long total = 0;
    for (int i = 0; i < MAXCPU; i++) total += counters[i].count;
    check("counter threads registered (threads start unregistered)", all_registered);
    check("per-CPU counter exact", total == expect && expect >= NTHREADS * MIN_INCREMENTS);
    check("preempted sections were aborted and retried", atomic_load(&any_abort));
}

/* --- a section interrupted by a signal ---------------------------------- */

static volatile uint64_t handler_rip;
static volatile int handler_ran;

static void usr1(int sig, siginfo_t *si, void *ctx) {
    (void)sig;
    (void)si;
    ucontext_t *uc = ctx;
    handler_rip = (uint64_t)uc->uc_mcontext.gregs[REG_RIP];
    handler_ran = 1;
}

/* A section that makes system call `nr` (args pid, tid, sig) in its middle.
 * Returns 1 if it was aborted; *abort_ip is the handler's address. */
static __attribute__((noinline)) int cs_with_syscall(struct area *a, long nr, long pid, long tid,
                                                     long sig, uint64_t *abort_ip) {
    int aborted;
    uint64_t ab;
    __asm__ __volatile__(
        ".pushsection __rseq_cs_vk, \"aw\"\n\t"
        ".balign 32\n\t"
        "33:\n\t"
        ".long 0, 0\n\t"
        ".quad 1f, 2f - 1f, 4f\n\t"
        ".popsection\n\t"
        "leaq 4f(%%rip), %[ab]\n\t"
        "leaq 33b(%%rip), %%rax\n\t"
        "movq %%rax, 8(%[a])\n\t"
        "1:\n\t"
        "movq %[nr], %%rax\n\t"
        "syscall\n\t"
        "movl $0, %[aborted]\n\t"
        "2:\n\t"
        "jmp 5f\n\t"
        ".byte 0x0f, 0xb9, 0x3d\n\t"
        ".long 0x53053053\n\t"
        "4:\n\t"
        "movl $1, %[aborted]\n\t"
        "5:\n\t"
        : [aborted] "=&r"(aborted), [ab] "=&r"(ab)
        : [a] "r"(a), [nr] "r"(nr), "D"(pid), "S"(tid), "d"(sig)
        : "rax", "rcx", "r11", "memory", "cc");
    *abort_ip = ab;
    return aborted;
}

static void test_signal(struct area *a) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = usr1;
    sa.sa_flags = SA_SIGINFO;
    sigaction(SIGUSR1, &sa, NULL);
    uint64_t abort_ip = 0;
    handler_ran = 0;
    const int aborted = cs_with_syscall(a, SYS_tgkill, getpid(), gettid_(), SIGUSR1, &abort_ip);
    check("signal from inside a section: handler ran", handler_ran);
    check("signal from inside a section: section aborted", aborted);
    check("signal frame holds abort_ip", handler_rip == abort_ip);
    check("rseq_cs cleared after the abort", a->rseq_cs == 0);
    /* Without a signal or a switch the same section commits; a busy host may
     * preempt one try, not all of them. */
    int committed = 0;
    for (int i = 0; i < 20 && !committed; i++)
        committed = !cs_with_syscall(a, SYS_getppid, 0, 0, 0, &abort_ip);
    const uint64_t left = a->rseq_cs; /* before printing, which may block */
    check("a section with a plain syscall commits", committed);
    check("rseq_cs left set after a commit (cleared lazily)", left != 0);
    check("cpu_id matches getcpu after the signal", ids_match(a));
}

/* --- bad descriptors: SIGSEGV ------------------------------------------- */

static const uint32_t good_sig_word[2] = {SIG, 0};
static const uint32_t bad_sig_word[2] = {0xdeadbeef, 0};

/* Forks a child that points its area at `d` and then gets a signal
 * (`how` 0) or sleeps (1); prints how it ended. */
static void bad_descriptor(struct area *a, const char *name, uint64_t d, int how) {
    fflush(stdout);
    const pid_t pid = fork();
    if (pid == 0) {
        a->rseq_cs = d;
        if (how == 0)
            syscall(SYS_tgkill, getpid(), gettid_(), SIGUSR1);
        else
            usleep(2000);
        _exit(a->rseq_cs == 0 ? 0 : 1);
    }
    int st = 0;
    waitpid(pid, &st, 0);
    if (WIFSIGNALED(st))
        printf("descriptor %s (%s): killed by %s\n", name, how ? "sleep" : "signal",
               WTERMSIG(st) == SIGSEGV ? "SIGSEGV" : "another signal");
    else
        printf("descriptor %s (%s): exit %d\n", name, how ? "sleep" : "signal", WEXITSTATUS(st));
    fflush(stdout);
}

static void test_bad_descriptors(struct area *a) {
    static struct cs d[6];
    const uint64_t good_abort = (uint64_t)&good_sig_word[1];
    /* 0: valid, not covering the RIP: cleared, the child lives. */
    d[0] = (struct cs){0, 0, 0x10000, 0x10, good_abort};
    d[1] = (struct cs){1, 0, 0x10000, 0x10, good_abort};                  /* version */
    d[2] = (struct cs){0, 0, 0x10000, 0x10, (uint64_t)&bad_sig_word[1]};  /* signature */
    d[3] = (struct cs){0, 0, good_abort - 8, 0x10, good_abort};           /* abort_ip inside */
    d[4] = (struct cs){0, 0, 0x10000, ~0ull - 0x100, good_abort};        /* wraps around */
    d[5] = (struct cs){0, 0, 0x800000000000ull, 0x10, good_abort};        /* kernel half */
    const char *names[] = {"valid", "version 1", "wrong signature", "abort_ip inside",
                           "section wraps", "start above user space"};
    for (int i = 0; i < 6; i++) bad_descriptor(a, names[i], (uint64_t)&d[i], 0);
    bad_descriptor(a, "pointer above user space", 0xffff800000000000ull, 0);
    bad_descriptor(a, "valid", (uint64_t)&d[0], 1);
    bad_descriptor(a, "version 1", (uint64_t)&d[1], 1);
}

/* --- registration rules, on a thread of our own -------------------------- */

static struct area spare[3];
static char misaligned_buf[128] __attribute__((aligned(32)));

static void *errors_thread(void *arg) {
    (void)arg;
#ifdef __GLIBC__
    /* glibc has registered this thread's area: give it up for the test. */
    struct area *libc_area = thread_area(0);
    printf("unregister libc's area: %s\n",
           libc_area ? res(rseq_call(libc_area, 32, UNREGISTER, SIG)) : "none");
#endif
    struct area *x = &spare[0];
    printf("unregister, none registered: %s\n", res(rseq_call(x, 32, UNREGISTER, SIG)));
    printf("length 31: %s\n", res(rseq_call(x, 31, 0, SIG)));
    printf("length 0: %s\n", res(rseq_call(x, 0, 0, SIG)));
    printf("misaligned (16): %s\n", res(rseq_call(misaligned_buf + 16, 32, 0, SIG)));
    printf("misaligned (8), length 64: %s\n", res(rseq_call(misaligned_buf + 8, 64, 0, SIG)));
    printf("unknown flag 2: %s\n", res(rseq_call(x, 32, 2, SIG)));
    printf("unregister with flag 2: %s\n", res(rseq_call(x, 32, UNREGISTER | 2, SIG)));
    printf("kernel address: %s\n", res(rseq_call((void *)0xffff800000000000ull, 32, 0, SIG)));
    printf("area ending past user space: %s\n", res(rseq_call((void *)0x7ffffffff000ull - 32, 64, 0, SIG)));
    void *gone = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    munmap(gone, 4096);
    printf("unmapped area: %s\n", res(rseq_call(gone, 32, 0, SIG)));

    /* A stale rseq_cs is cleared by the registration. */
    x->rseq_cs = 0x1234;
    x->cpu_id = 0x7777;
    printf("register: %s\n", res(rseq_call(x, 32, 0, SIG)));
    check("stale rseq_cs cleared at registration", x->rseq_cs == 0);
    check("cpu_id matches getcpu after registration", ids_match(x));
    printf("again, same signature: %s\n", res(rseq_call(x, 32, 0, SIG)));
    printf("again, other signature: %s\n", res(rseq_call(x, 32, 0, SIG + 1)));
    printf("again, other length: %s\n", res(rseq_call(x, 64, 0, SIG)));
    printf("another area: %s\n", res(rseq_call(&spare[1], 32, 0, SIG)));
    printf("another area, other signature: %s\n", res(rseq_call(&spare[1], 32, 0, SIG + 1)));
    printf("unregister, other signature: %s\n", res(rseq_call(x, 32, UNREGISTER, SIG + 1)));
    printf("unregister, other length: %s\n", res(rseq_call(x, 64, UNREGISTER, SIG)));
    printf("unregister, other area: %s\n", res(rseq_call(&spare[1], 32, UNREGISTER, SIG)));
    printf("unregister: %s\n", res(rseq_call(x, 32, UNREGISTER, SIG)));
    printf("after unregister: cpu_id_start %u cpu_id %d node_id %u mm_cid %u\n", x->cpu_id_start,
           (int32_t)x->cpu_id, x->node_id, x->mm_cid);
    /* A longer area (AT_RSEQ_FEATURE_SIZE and up), 32-byte aligned. */
    static struct area big[2];
    printf("register 64 bytes: %s\n", res(rseq_call(&big[0], 64, 0, SIG)));
    check("cpu_id matches getcpu (64-byte area)", ids_match(&big[0]));
    printf("unregister 64 bytes with 32: %s\n", res(rseq_call(&big[0], 32, UNREGISTER, SIG)));
    printf("unregister 64 bytes: %s\n", res(rseq_call(&big[0], 64, UNREGISTER, SIG)));
#ifdef __GLIBC__
    if (libc_area)
        printf("register libc's area again: %s\n", res(rseq_call(libc_area, 32, 0, SIG)));
#endif
    fflush(stdout);
    return NULL;
}

/* --- fork and exec ------------------------------------------------------- */

static void test_fork(struct area *a, const char *self) {
    fflush(stdout);
    a->cpu_id = 0x7777; /* junk the kernel must overwrite in the child */
    const pid_t pid = fork();
    if (pid == 0) {
        check("fork child: cpu_id matches getcpu", ids_match(a));
        printf("fork child: register the same area again: %s\n", res(rseq_call(a, 32, 0, SIG)));
        fflush(stdout);
        _exit(0);
    }
    /* The parent keeps the junk until it next leaves its CPU: a sleep. */
    usleep(1000);
    const int parent_ok = ids_match(a); /* printed after the child's lines */
    int st = 0;
    waitpid(pid, &st, 0);
    check("fork child exited 0", WIFEXITED(st) && WEXITSTATUS(st) == 0);
    check("parent: cpu_id matches getcpu after a sleep", parent_ok);

    fflush(stdout);
    const pid_t pid2 = fork();
    if (pid2 == 0) {
        execl(self, self, "exec-child", (char *)NULL);
        _exit(127);
    }
    waitpid(pid2, &st, 0);
    check("exec child exited 0", WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

static int exec_child(void) {
    /* musl: the area registers afresh (a kept registration would say EBUSY
     * or EINVAL); glibc: its own registration at start succeeded. */
    struct area *a = thread_area(0);
    check("exec child: registered afresh", a != NULL);
    if (a) check("exec child: cpu_id matches getcpu", ids_match(a));
    return 0;
}

int main(int argc, char **argv) {
    if (argc > 1 && strcmp(argv[1], "exec-child") == 0) return exec_child();
    printf("AT_RSEQ_FEATURE_SIZE %lu AT_RSEQ_ALIGN %lu\n", getauxval(27), getauxval(28));
    struct area *a = thread_area(0);
    check("main thread registered", a != NULL);
    if (!a) return 1;
    check("cpu_id matches getcpu", ids_match(a));

    pthread_t th;
    pthread_create(&th, NULL, errors_thread, NULL);
    pthread_join(th, NULL);

    test_signal(a);
    test_bad_descriptors(a);
    test_counter();
    check("main: cpu_id matches getcpu after the threads", ids_match(a));
    test_fork(a, argv[0]);
    return 0;
}
