/* Memory across fork:
 *  - MAP_SHARED|MAP_ANONYMOUS stays shared: parent, child and grandchild
 *    add to one counter concurrently with atomic increments (exact total),
 *    and a shared (non-private) futex on that page wakes the other process;
 *  - copy-on-write isolation: a global, a malloc'ed buffer, a MAP_PRIVATE
 *    buffer of many pages and a stack array written by the child after fork
 *    are unchanged in the parent, and the parent's writes after fork are
 *    invisible to the child, which sees the parent's pre-fork data;
 *  - madvise(MADV_DONTNEED) zeroes private anonymous memory but not shared.
 * Prints sums and checksums of fixed patterns only. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define FUTEX_WAIT 0
#define FUTEX_WAKE 1

#define INCREMENTS 100000
#define PAGES 64

static void check(const char *what, int ok) { printf("%s: %s\n", what, ok ? "yes" : "NO"); }

static long page_size;

/* The shared page: counters and flags for the processes. */
struct shared {
    atomic_long counter;
    atomic_int flag;     /* futex word */
    atomic_int child_ok; /* what the child found, 1 = all as expected */
    long child_sum;
};

static uint64_t checksum(const unsigned char *p, size_t n) {
    uint64_t h = 1469598103934665603ULL; /* FNV-1a */
    for (size_t i = 0; i < n; i++) h = (h ^ p[i]) * 1099511628211ULL;
    return h;
}

static void fill(unsigned char *p, size_t n, unsigned seed) {
    for (size_t i = 0; i < n; i++) p[i] = (unsigned char)(i * 7 + seed);
}

static void futex_wait_for(atomic_int *word, int want) {
    /* Bounded: about 10 s at most. */
    for (int i = 0; i < 1000; i++) {
        int v = atomic_load(word);
        if (v == want) return;
        struct timespec t = {0, 10 * 1000000L};
        syscall(SYS_futex, word, FUTEX_WAIT, v, &t, NULL, 0);
    }
}

static void futex_set(atomic_int *word, int v) {
    atomic_store(word, v);
    syscall(SYS_futex, word, FUTEX_WAKE, 1, NULL, NULL, 0);
}

static void add_many(struct shared *s) {
    for (int i = 0; i < INCREMENTS; i++) atomic_fetch_add(&s->counter, 1);
}

static void shared_counter(struct shared *s) {
    atomic_store(&s->counter, 0);
    fflush(stdout);
    pid_t c = fork();
    if (c == 0) {
        pid_t g = fork();
        add_many(s);
        if (g == 0) _exit(0);
        int st;
        waitpid(g, &st, 0);
        _exit(WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : 1);
    }
    add_many(s);
    int st;
    waitpid(c, &st, 0);
    printf("shared counter after parent, child and grandchild: %ld (expected %d)\n",
           atomic_load(&s->counter), 3 * INCREMENTS);

    /* Plain (non-atomic) writes by a child show in the parent. */
    c = fork();
    if (c == 0) {
        s->child_sum = 123456789;
        _exit(0);
    }
    waitpid(c, &st, 0);
    printf("plain write by the child seen by the parent: %ld\n", s->child_sum);

    /* A shared futex: the child sleeps on the flag until the parent sets it,
     * then answers through the same page. */
    atomic_store(&s->flag, 0);
    c = fork();
    if (c == 0) {
        futex_wait_for(&s->flag, 1);
        futex_set(&s->flag, 2);
        _exit(0);
    }
    struct timespec t = {0, 20 * 1000000L};
    nanosleep(&t, NULL);
    futex_set(&s->flag, 1);
    futex_wait_for(&s->flag, 2);
    waitpid(c, &st, 0);
    printf("shared futex handshake: flag %d, child exit %d\n", atomic_load(&s->flag),
           WIFEXITED(st) ? WEXITSTATUS(st) : -1);
}

/* --- copy-on-write ------------------------------------------------------- */

static unsigned char global_buf[3 * 4096 + 100];

static void cow(struct shared *s) {
    size_t heap_n = 100000, priv_n = PAGES * (size_t)page_size;
    unsigned char *heap = malloc(heap_n);
    unsigned char *priv = mmap(NULL, priv_n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    unsigned char stack_buf[5000];
    fill(global_buf, sizeof global_buf, 1);
    fill(heap, heap_n, 2);
    fill(priv, priv_n, 3);
    fill(stack_buf, sizeof stack_buf, 4);
    uint64_t before = checksum(global_buf, sizeof global_buf) ^ checksum(heap, heap_n) ^
                      checksum(priv, priv_n) ^ checksum(stack_buf, sizeof stack_buf);
    printf("checksum of the parent's data before fork: %016llx\n", (unsigned long long)before);

    atomic_store(&s->flag, 0);
    atomic_store(&s->child_ok, 0);
    fflush(stdout);
    pid_t c = fork();
    if (c == 0) {
        /* The parent's pre-fork data. */
        uint64_t seen = checksum(global_buf, sizeof global_buf) ^ checksum(heap, heap_n) ^
                        checksum(priv, priv_n) ^ checksum(stack_buf, sizeof stack_buf);
        int ok = seen == before;
        /* Write everything (every other page of the private mapping). */
        fill(global_buf, sizeof global_buf, 11);
        fill(heap, heap_n, 12);
        for (size_t p = 0; p < PAGES; p += 2) fill(priv + p * page_size, page_size, 13);
        fill(stack_buf, sizeof stack_buf, 14);
        /* Let the parent check, and write its own copy meanwhile. */
        futex_set(&s->flag, 1);
        futex_wait_for(&s->flag, 2);
        /* The parent has overwritten its copies: ours are still what we wrote. */
        unsigned char expect_priv_page[4096 * 4];
        size_t ps = (size_t)page_size <= sizeof expect_priv_page ? (size_t)page_size : 0;
        fill(expect_priv_page, ps, 13);
        ok = ok && global_buf[5] == (unsigned char)(5 * 7 + 11) && heap[99] == (unsigned char)(99 * 7 + 12);
        ok = ok && ps && memcmp(priv, expect_priv_page, ps) == 0;
        ok = ok && priv[page_size + 1] == (unsigned char)(1 * 7 + 3); /* odd page: untouched */
        ok = ok && stack_buf[4999] == (unsigned char)(4999 * 7 + 14);
        atomic_store(&s->child_ok, ok);
        _exit(0);
    }
    futex_wait_for(&s->flag, 1);
    uint64_t after = checksum(global_buf, sizeof global_buf) ^ checksum(heap, heap_n) ^
                     checksum(priv, priv_n) ^ checksum(stack_buf, sizeof stack_buf);
    printf("checksum of the parent's data after the child wrote its copy: %016llx\n",
           (unsigned long long)after);
    check("unchanged", after == before);
    /* The parent writes too; the child must not see it. */
    fill(global_buf, sizeof global_buf, 21);
    fill(heap, heap_n, 22);
    fill(priv, priv_n, 23);
    futex_set(&s->flag, 2);
    int st;
    waitpid(c, &st, 0);
    check("the child saw the pre-fork data and only its own writes", atomic_load(&s->child_ok) == 1);
    printf("checksum of the parent's rewritten data: %016llx\n",
           (unsigned long long)(checksum(global_buf, sizeof global_buf) ^ checksum(heap, heap_n) ^
                                checksum(priv, priv_n)));

    /* After the child is gone the parent's pages are its own again. */
    fill(priv, priv_n, 31);
    printf("checksum after writing again: %016llx\n", (unsigned long long)checksum(priv, priv_n));

    /* A child that only reads, many times over (no COW break needed). */
    c = fork();
    if (c == 0) _exit(checksum(priv, priv_n) == checksum(priv, priv_n) && priv[0] == 31 ? 0 : 1);
    waitpid(c, &st, 0);
    printf("reading child exit %d\n", WIFEXITED(st) ? WEXITSTATUS(st) : -1);
    munmap(priv, priv_n);
    free(heap);
}

/* --- madvise(MADV_DONTNEED) ---------------------------------------------- */

static void dontneed(void) {
    size_t n = 4 * (size_t)page_size;
    unsigned char *priv = mmap(NULL, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    unsigned char *shr = mmap(NULL, n, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    memset(priv, 0xab, n);
    memset(shr, 0xcd, n);
    int r1 = madvise(priv, n, MADV_DONTNEED);
    int r2 = madvise(shr, n, MADV_DONTNEED);
    printf("madvise(MADV_DONTNEED): %d %d\n", r1, r2);
    printf("private anonymous memory afterwards: 0x%02x 0x%02x\n", priv[0], priv[n - 1]);
    printf("shared anonymous memory afterwards: 0x%02x 0x%02x\n", shr[0], shr[n - 1]);

    /* After fork, DONTNEED in the child drops only the child's copy. */
    memset(priv, 0x11, n);
    fflush(stdout);
    pid_t c = fork();
    if (c == 0) {
        madvise(priv, n, MADV_DONTNEED);
        _exit(priv[0] == 0 ? 0 : 1);
    }
    int st;
    waitpid(c, &st, 0);
    printf("child zeroed its copy: %s; parent's copy: 0x%02x\n",
           WIFEXITED(st) && WEXITSTATUS(st) == 0 ? "yes" : "NO", priv[0]);
    munmap(priv, n);
    munmap(shr, n);
}

int main(void) {
    /* Line by line: a run killed after a timeout still shows how far it got. */
    setvbuf(stdout, NULL, _IOLBF, 0);
    page_size = sysconf(_SC_PAGESIZE);
    struct shared *s = mmap(NULL, (size_t)page_size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (s == MAP_FAILED) {
        perror("mmap");
        return 1;
    }
    shared_counter(s);
    cow(s);
    dontneed();
    return 0;
}
