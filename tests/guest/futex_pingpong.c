/* Raw futex(2): two threads ping-pong 10000 times through FUTEX_WAIT and
 * FUTEX_WAKE on one int; FUTEX_WAIT with a stale value gives EAGAIN; a
 * 50 ms relative timeout gives ETIMEDOUT; FUTEX_WAIT_BITSET with an absolute
 * CLOCK_MONOTONIC (and CLOCK_REALTIME) deadline; FUTEX_WAKE_BITSET honours
 * the bit mask; FUTEX_CMP_REQUEUE moves waiters to a second futex; private
 * and shared (non-private) operations. Prints counts and error names only. */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define ROUNDS 10000

/* From <linux/futex.h>, which musl-gcc does not see. */
#define FUTEX_WAIT 0
#define FUTEX_WAKE 1
#define FUTEX_REQUEUE 3
#define FUTEX_CMP_REQUEUE 4
#define FUTEX_WAIT_BITSET 9
#define FUTEX_WAKE_BITSET 10
#define FUTEX_PRIVATE_FLAG 128
#define FUTEX_CLOCK_REALTIME 256
#define FUTEX_WAIT_PRIVATE (FUTEX_WAIT | FUTEX_PRIVATE_FLAG)
#define FUTEX_WAKE_PRIVATE (FUTEX_WAKE | FUTEX_PRIVATE_FLAG)
#define FUTEX_REQUEUE_PRIVATE (FUTEX_REQUEUE | FUTEX_PRIVATE_FLAG)
#define FUTEX_CMP_REQUEUE_PRIVATE (FUTEX_CMP_REQUEUE | FUTEX_PRIVATE_FLAG)
#define FUTEX_WAIT_BITSET_PRIVATE (FUTEX_WAIT_BITSET | FUTEX_PRIVATE_FLAG)
#define FUTEX_WAKE_BITSET_PRIVATE (FUTEX_WAKE_BITSET | FUTEX_PRIVATE_FLAG)
#define FUTEX_BITSET_MATCH_ANY 0xffffffff

static void check(const char *what, int ok) { printf("%s: %s\n", what, ok ? "yes" : "NO"); }

static long futex(atomic_int *uaddr, int op, int val, const struct timespec *ts, atomic_int *uaddr2,
                  int val3) {
    return syscall(SYS_futex, uaddr, op, val, ts, uaddr2, val3);
}

static const char *err_name(long r) {
    if (r >= 0) return "success";
    switch (errno) {
    case EAGAIN: return "EAGAIN";
    case ETIMEDOUT: return "ETIMEDOUT";
    case EINTR: return "EINTR";
    case EINVAL: return "EINVAL";
    case ENOSYS: return "ENOSYS";
    case EFAULT: return "EFAULT";
    default: return "another error";
    }
}

static long long now_ns(clockid_t clock) {
    struct timespec t;
    clock_gettime(clock, &t);
    return t.tv_sec * 1000000000LL + t.tv_nsec;
}

/* --- ping-pong ----------------------------------------------------------- */

static atomic_int turn; /* 0: main's turn, 1: the other thread's */
static long pings, pongs;

static void wait_turn(int mine, int op_flags) {
    int v;
    while ((v = atomic_load(&turn)) != mine) futex(&turn, FUTEX_WAIT | op_flags, v, NULL, NULL, 0);
}

static void pass_turn(int to, int op_flags) {
    atomic_store(&turn, to);
    futex(&turn, FUTEX_WAKE | op_flags, 1, NULL, NULL, 0);
}

static int pingpong_flags;

static void *ponger(void *arg) {
    (void)arg;
    for (int i = 0; i < ROUNDS; i++) {
        wait_turn(1, pingpong_flags);
        pongs++;
        pass_turn(0, pingpong_flags);
    }
    return NULL;
}

static void pingpong(int flags, const char *name) {
    atomic_store(&turn, 0);
    pings = pongs = 0;
    pingpong_flags = flags;
    pthread_t t;
    pthread_create(&t, NULL, ponger, NULL);
    for (int i = 0; i < ROUNDS; i++) {
        wait_turn(0, flags);
        pings++;
        pass_turn(1, flags);
    }
    wait_turn(0, flags);
    pthread_join(t, NULL);
    printf("%s ping-pong: %ld pings, %ld pongs\n", name, pings, pongs);
}

/* --- errors and timeouts ------------------------------------------------- */

static void timeouts(void) {
    atomic_int word = 5;
    long r = futex(&word, FUTEX_WAIT_PRIVATE, 6, NULL, NULL, 0);
    printf("FUTEX_WAIT with a stale value: %s\n", err_name(r));
    r = futex(&word, FUTEX_WAIT, 6, NULL, NULL, 0);
    printf("shared FUTEX_WAIT with a stale value: %s\n", err_name(r));
    r = futex(&word, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
    printf("FUTEX_WAKE with no waiters: %ld\n", r);

    struct timespec rel = {0, 50 * 1000000L};
    long long t0 = now_ns(CLOCK_MONOTONIC);
    r = futex(&word, FUTEX_WAIT_PRIVATE, 5, &rel, NULL, 0);
    long long took = now_ns(CLOCK_MONOTONIC) - t0;
    printf("FUTEX_WAIT with a 50 ms relative timeout: %s\n", err_name(r));
    check("  waited at least 50 ms", took >= 50 * 1000000LL);
    check("  and less than 5 s", took < 5000 * 1000000LL);

    /* Absolute deadline 50 ms from now, on CLOCK_MONOTONIC. */
    long long deadline = now_ns(CLOCK_MONOTONIC) + 50 * 1000000LL;
    struct timespec abs = {deadline / 1000000000LL, deadline % 1000000000LL};
    r = futex(&word, FUTEX_WAIT_BITSET_PRIVATE, 5, &abs, NULL, FUTEX_BITSET_MATCH_ANY);
    long long after = now_ns(CLOCK_MONOTONIC);
    printf("FUTEX_WAIT_BITSET with an absolute CLOCK_MONOTONIC deadline: %s\n", err_name(r));
    check("  returned at or after the deadline", after >= deadline);
    check("  and less than 5 s after", after - deadline < 5000 * 1000000LL);

    deadline = now_ns(CLOCK_REALTIME) + 50 * 1000000LL;
    abs.tv_sec = deadline / 1000000000LL;
    abs.tv_nsec = deadline % 1000000000LL;
    r = futex(&word, FUTEX_WAIT_BITSET_PRIVATE | FUTEX_CLOCK_REALTIME, 5, &abs, NULL,
              FUTEX_BITSET_MATCH_ANY);
    after = now_ns(CLOCK_REALTIME);
    printf("FUTEX_WAIT_BITSET with an absolute CLOCK_REALTIME deadline: %s\n", err_name(r));
    check("  returned at or after the deadline", after >= deadline);

    /* A deadline in the past times out at once. */
    abs.tv_sec = 0;
    abs.tv_nsec = 0;
    r = futex(&word, FUTEX_WAIT_BITSET_PRIVATE, 5, &abs, NULL, FUTEX_BITSET_MATCH_ANY);
    printf("FUTEX_WAIT_BITSET with a deadline in the past: %s\n", err_name(r));

    /* Bad arguments. */
    r = futex(&word, FUTEX_WAIT_BITSET_PRIVATE, 5, &abs, NULL, 0);
    printf("FUTEX_WAIT_BITSET with bitset 0: %s\n", err_name(r));
    struct timespec bad = {0, 1000000000L};
    r = futex(&word, FUTEX_WAIT_PRIVATE, 5, &bad, NULL, 0);
    printf("FUTEX_WAIT with tv_nsec = 1e9: %s\n", err_name(r));
    r = futex((atomic_int *)((char *)&word + 1), FUTEX_WAIT_PRIVATE, 5, &rel, NULL, 0);
    printf("FUTEX_WAIT on a misaligned address: %s\n", err_name(r));
    r = futex((atomic_int *)8, FUTEX_WAIT_PRIVATE, 5, &rel, NULL, 0);
    printf("FUTEX_WAIT on an unmapped address: %s\n", err_name(r));
}

/* --- bitsets ------------------------------------------------------------- */

static atomic_int bits_word;
static atomic_int bits_woken;

static void *bits_waiter(void *arg) {
    (void)arg;
    /* Waits (with bitset 1) until told the test is over. */
    while (atomic_load(&bits_word) == 0) futex(&bits_word, FUTEX_WAIT_BITSET_PRIVATE, 0, NULL, NULL, 1);
    atomic_store(&bits_woken, 1);
    return NULL;
}

static void bitsets(void) {
    pthread_t t;
    pthread_create(&t, NULL, bits_waiter, NULL);
    /* A wake with a disjoint mask wakes nobody, whether or not the waiter
     * is asleep yet. */
    long r = futex(&bits_word, FUTEX_WAKE_BITSET_PRIVATE, INT_MAX, NULL, NULL, 2);
    printf("FUTEX_WAKE_BITSET with a disjoint mask woke %ld\n", r);
    /* Wake it with a matching mask, retrying until it was asleep (bounded). */
    atomic_store(&bits_word, 1);
    long woken = 0;
    for (int i = 0; i < 5000 && !atomic_load(&bits_woken); i++) {
        woken += futex(&bits_word, FUTEX_WAKE_BITSET_PRIVATE, INT_MAX, NULL, NULL, 3);
        struct timespec ms = {0, 1000000L};
        if (!atomic_load(&bits_woken)) nanosleep(&ms, NULL);
    }
    pthread_join(t, NULL);
    check("the waiter ended after a matching FUTEX_WAKE_BITSET", atomic_load(&bits_woken) == 1);
    check("FUTEX_WAKE_BITSET woke at most 1", woken <= 1);
}

/* --- requeue ------------------------------------------------------------- */

#define REQUEUE_WAITERS 3
static atomic_int rq_a, rq_b;
static atomic_int rq_done;

static void *rq_waiter(void *arg) {
    (void)arg;
    while (atomic_load(&rq_a) == 0) futex(&rq_a, FUTEX_WAIT_PRIVATE, 0, NULL, NULL, 0);
    atomic_fetch_add(&rq_done, 1);
    return NULL;
}

static void requeue(void) {
    pthread_t t[REQUEUE_WAITERS];
    for (int i = 0; i < REQUEUE_WAITERS; i++) pthread_create(&t[i], NULL, rq_waiter, NULL);

    long r = futex(&rq_a, FUTEX_CMP_REQUEUE_PRIVATE, 0, (const struct timespec *)(long)INT_MAX,
                   &rq_b, 1);
    printf("FUTEX_CMP_REQUEUE with a stale value: %s\n", err_name(r));

    /* Move every waiter from a to b (wake none), as each falls asleep. The
     * return value counts woken + requeued. Bounded to ~5 s. */
    long moved = 0;
    for (int i = 0; i < 5000 && moved < REQUEUE_WAITERS; i++) {
        r = futex(&rq_a, FUTEX_CMP_REQUEUE_PRIVATE, 0, (const struct timespec *)(long)INT_MAX,
                  &rq_b, 0);
        if (r > 0) moved += r;
        if (moved < REQUEUE_WAITERS) {
            struct timespec ms = {0, 1000000L};
            nanosleep(&ms, NULL);
        }
    }
    printf("requeued %ld waiters from a to b\n", moved);
    check("none of them woke up", atomic_load(&rq_done) == 0);
    /* They now sleep on b: a wake on a finds nobody. */
    r = futex(&rq_a, FUTEX_WAKE_PRIVATE, INT_MAX, NULL, NULL, 0);
    printf("FUTEX_WAKE on a woke %ld\n", r);
    atomic_store(&rq_a, 1);
    r = futex(&rq_b, FUTEX_WAKE_PRIVATE, INT_MAX, NULL, NULL, 0);
    printf("FUTEX_WAKE on b woke %ld\n", r);
    for (int i = 0; i < REQUEUE_WAITERS; i++) pthread_join(t[i], NULL);
    printf("%d waiters finished\n", atomic_load(&rq_done));

    /* FUTEX_REQUEUE (no compare): wake 0, move up to INT_MAX. No waiters. */
    r = futex(&rq_a, FUTEX_REQUEUE_PRIVATE, 0, (const struct timespec *)(long)INT_MAX, &rq_b, 0);
    printf("FUTEX_REQUEUE with no waiters: %ld\n", r);
}

int main(void) {
    /* Line by line: a run killed after a timeout still shows how far it got. */
    setvbuf(stdout, NULL, _IOLBF, 0);
    pingpong(FUTEX_PRIVATE_FLAG, "private");
    pingpong(0, "shared");
    timeouts();
    bitsets();
    requeue();
    return 0;
}
