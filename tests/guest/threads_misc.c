/* Threads (clone with CLONE_THREAD and friends, through pthreads and one
 * raw clone):
 *  - pthread_join returns each thread's value (return and pthread_exit);
 *  - __thread variables: each thread starts with the initial image and its
 *    own copy; the main thread's copy is untouched;
 *  - gettid() differs per thread, getpid() is the same, the main thread's
 *    tid is the pid;
 *  - a signal sent to one thread (pthread_kill/tgkill) runs the handler in
 *    that thread; a new thread inherits its creator's signal mask;
 *  - a raw clone(CLONE_VM|...|CLONE_PARENT_SETTID|CLONE_CHILD_CLEARTID):
 *    the parent tid is stored, the child tid word is cleared and woken at
 *    exit (futex);
 *  - last: exit_group (_exit) from a non-main thread, while the main thread
 *    sleeps in pthread_join and another thread spins, ends the whole
 *    process with that status (42). */
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
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define FUTEX_WAIT 0

static void check(const char *what, int ok) { printf("%s: %s\n", what, ok ? "yes" : "NO"); }

static pid_t gettid_(void) { return (pid_t)syscall(SYS_gettid); }

static __thread int tls_value = 7;
static __thread char tls_buf[64] = "initial";

#define THREADS 4

struct info {
    int index;
    pid_t tid, pid;
    int tls_initial_ok, tls_kept;
};

static pthread_barrier_t barrier;

static void *worker(void *arg) {
    struct info *in = arg;
    in->tid = gettid_();
    in->pid = getpid();
    in->tls_initial_ok = tls_value == 7 && strcmp(tls_buf, "initial") == 0;
    tls_value = 1000 + in->index;
    snprintf(tls_buf, sizeof tls_buf, "thread %d", in->index);
    /* Everyone has written their copy before anyone checks. */
    pthread_barrier_wait(&barrier);
    char expect[64];
    snprintf(expect, sizeof expect, "thread %d", in->index);
    in->tls_kept = tls_value == 1000 + in->index && strcmp(tls_buf, expect) == 0;
    if (in->index % 2) pthread_exit((void *)(intptr_t)(in->index * 10 + 1));
    return (void *)(intptr_t)(in->index * 10 + 1);
}

static void basics(void) {
    pthread_t t[THREADS];
    struct info in[THREADS];
    pthread_barrier_init(&barrier, NULL, THREADS + 1);
    tls_value = 99;
    for (int i = 0; i < THREADS; i++) {
        memset(&in[i], 0, sizeof in[i]);
        in[i].index = i;
        pthread_create(&t[i], NULL, worker, &in[i]);
    }
    pthread_barrier_wait(&barrier);
    long sum = 0;
    for (int i = 0; i < THREADS; i++) {
        void *ret = NULL;
        int e = pthread_join(t[i], &ret);
        if (e) printf("pthread_join: %s\n", strerror(e));
        sum += (long)(intptr_t)ret;
    }
    printf("join return values sum to %ld (expected %d)\n", sum, 10 * (0 + 1 + 2 + 3) + THREADS);
    int tids_differ = 1, pid_same = 1, initial = 1, kept = 1;
    for (int i = 0; i < THREADS; i++) {
        pid_same &= in[i].pid == getpid();
        tids_differ &= in[i].tid != getpid() && in[i].tid > 0;
        for (int j = 0; j < i; j++) tids_differ &= in[i].tid != in[j].tid;
        initial &= in[i].tls_initial_ok;
        kept &= in[i].tls_kept;
    }
    check("main thread: gettid() == getpid()", gettid_() == getpid());
    check("threads: getpid() is the process's", pid_same);
    check("threads: gettid() distinct and not the pid", tids_differ);
    check("__thread: each thread starts with the initial values", initial);
    check("__thread: each thread keeps its own copy", kept);
    check("__thread: the main thread's copy is its own", tls_value == 99 && strcmp(tls_buf, "initial") == 0);
    pthread_barrier_destroy(&barrier);

    /* Joining a finished thread twice is an error the library catches; a
     * detached thread ends on its own. */
    pthread_t d;
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    static struct info din;
    din.index = 9;
    pthread_barrier_init(&barrier, NULL, 2);
    pthread_create(&d, &attr, worker, &din);
    pthread_barrier_wait(&barrier);
    pthread_attr_destroy(&attr);
    check("a detached thread ran", din.tid > 0 && din.tid != getpid());
    pthread_barrier_destroy(&barrier);
}

/* --- signals to threads -------------------------------------------------- */

static volatile pid_t handler_tid;
static void on_usr1(int sig) {
    (void)sig;
    handler_tid = gettid_();
}

static atomic_int target_ready, target_done;
static atomic_int target_tid;
static int target_blocked_usr2;

static void *target(void *arg) {
    (void)arg;
    sigset_t cur;
    pthread_sigmask(SIG_BLOCK, NULL, &cur);
    target_blocked_usr2 = sigismember(&cur, SIGUSR2);
    atomic_store(&target_tid, gettid_());
    atomic_store(&target_ready, 1);
    /* Wait (bounded) until the handler has run here. */
    for (int i = 0; i < 5000 && handler_tid == 0; i++) {
        struct timespec t = {0, 1000000L};
        nanosleep(&t, NULL);
    }
    atomic_store(&target_done, 1);
    return NULL;
}

static void thread_signals(void) {
    signal(SIGUSR1, on_usr1);
    sigset_t usr2, old;
    sigemptyset(&usr2);
    sigaddset(&usr2, SIGUSR2);
    pthread_sigmask(SIG_BLOCK, &usr2, &old);
    pthread_t t;
    pthread_create(&t, NULL, target, NULL);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    while (!atomic_load(&target_ready)) sched_yield();
    pthread_kill(t, SIGUSR1);
    pthread_join(t, NULL);
    check("pthread_kill: the handler ran in the target thread", handler_tid == atomic_load(&target_tid));
    check("the new thread inherited the creator's mask", target_blocked_usr2 == 1);
    handler_tid = 0;
    syscall(SYS_tgkill, getpid(), gettid_(), SIGUSR1);
    check("tgkill to the main thread: the handler ran in it", handler_tid == gettid_());
    errno = 0;
    check("tgkill with a wrong tgid gives ESRCH",
          syscall(SYS_tgkill, getpid() + 100000, gettid_(), SIGUSR1) == -1 && errno == ESRCH);
    signal(SIGUSR1, SIG_DFL);
}

/* --- a raw clone thread -------------------------------------------------- */

static volatile int raw_ran;
static volatile pid_t raw_tid_seen;
static atomic_int raw_ctid;
static pid_t raw_ptid;

static int raw_thread(void *arg) {
    (void)arg;
    /* No libc beyond this: it shares the parent's TLS (no CLONE_SETTLS). */
    raw_tid_seen = (pid_t)syscall(SYS_gettid);
    raw_ran = 1;
    return 0; /* the clone wrapper calls exit (SYS_exit) with this */
}

static void raw_clone(void) {
    size_t size = 64 * 1024;
    char *stack = malloc(size);
    int flags = CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_SIGHAND | CLONE_THREAD | CLONE_SYSVSEM |
                CLONE_PARENT_SETTID | CLONE_CHILD_CLEARTID;
    atomic_store(&raw_ctid, -1);
    int tid = clone(raw_thread, stack + size, flags, NULL, &raw_ptid, NULL, &raw_ctid);
    check("raw clone returned a tid", tid > 0 && tid != getpid());
    /* CLONE_CHILD_CLEARTID: the word becomes 0 and is woken at exit. The
     * kernel does not set it (no CLONE_CHILD_SETTID), so it may still be -1
     * or already 0. Bounded wait, 10 s. */
    for (int i = 0; i < 1000; i++) {
        int v = atomic_load(&raw_ctid);
        if (v == 0) break;
        struct timespec t = {0, 10 * 1000000L};
        syscall(SYS_futex, &raw_ctid, FUTEX_WAIT, v, &t, NULL, 0);
    }
    check("CLONE_PARENT_SETTID stored the tid", raw_ptid == tid);
    check("the thread ran with that tid", raw_ran && raw_tid_seen == tid);
    check("CLONE_CHILD_CLEARTID cleared the word at exit", atomic_load(&raw_ctid) == 0);
    free(stack);
}

/* --- exit_group from a non-main thread ----------------------------------- */

static void *spinner(void *arg) {
    (void)arg;
    volatile unsigned long n = 0;
    for (;;) n++;
    return NULL;
}

static void *exiter(void *arg) {
    (void)arg;
    struct timespec t = {0, 50 * 1000000L};
    nanosleep(&t, NULL);
    _exit(42); /* exit_group: ends every thread */
}

int main(void) {
    /* Line by line: a run killed after a timeout still shows how far it got. */
    setvbuf(stdout, NULL, _IOLBF, 0);
    basics();
    thread_signals();
    raw_clone();

    printf("exit_group from a thread next: the process must end with status 42\n");
    fflush(stdout);
    pthread_t s, e;
    pthread_create(&s, NULL, spinner, NULL);
    pthread_create(&e, NULL, exiter, NULL);
    pthread_join(e, NULL);
    printf("NOT REACHED: pthread_join returned\n");
    return 1;
}
