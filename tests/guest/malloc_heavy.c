/* Many malloc/calloc/realloc/free calls of varied sizes, small ones (from the
 * heap, brk) and ones over 128 KiB (which both glibc and musl serve with
 * mmap), with every block's contents checked before it is resized or freed.
 * The output depends only on the fixed random seed, never on addresses. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SLOTS 512
#define OPS 30000

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint64_t rng(void) {  /* xorshift64* */
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 0x2545f4914f6cdd1dull;
}

static size_t random_size(void) {
    uint64_t r = rng() % 100;
    if (r < 70) return 1 + rng() % 256;                  /* small */
    if (r < 90) return 257 + rng() % 8192;               /* medium */
    if (r < 97) return 8193 + rng() % (120 * 1024);      /* large, still heap */
    return 130 * 1024 + rng() % (512 * 1024);            /* > 128 KiB: mmap */
}

struct slot {
    unsigned char *p;
    size_t size;
    uint8_t seed;
};

static struct slot slots[SLOTS];
static unsigned long errors;

static unsigned char pattern(uint8_t seed, size_t i) { return (unsigned char)(seed + i * 31 + (i >> 8)); }

static void fill(struct slot *s, size_t from) {
    for (size_t i = from; i < s->size; i++) s->p[i] = pattern(s->seed, i);
}

/* Checks the first n bytes and folds them into the running checksum. */
static uint64_t checksum;
static void verify(const struct slot *s, size_t n) {
    for (size_t i = 0; i < n; i++) {
        if (s->p[i] != pattern(s->seed, i)) {
            if (errors++ < 5) printf("corrupt byte %zu of a %zu-byte block\n", i, s->size);
            return;
        }
    }
    checksum = checksum * 1099511628211ull + n + s->seed;
}

int main(void) {
    unsigned long n_malloc = 0, n_calloc = 0, n_realloc = 0, n_free = 0, n_big = 0;
    unsigned long long bytes = 0;
    size_t peak_live = 0, live = 0;

    for (int op = 0; op < OPS; op++) {
        struct slot *s = &slots[rng() % SLOTS];
        if (!s->p) {
            s->size = random_size();
            s->seed = (uint8_t)rng();
            if (rng() % 4 == 0) {
                s->p = calloc(1, s->size);
                n_calloc++;
                if (s->p)
                    for (size_t i = 0; i < s->size; i++)
                        if (s->p[i] != 0) {
                            if (errors++ < 5) printf("calloc block not zeroed\n");
                            break;
                        }
            } else {
                s->p = malloc(s->size);
                n_malloc++;
            }
            if (!s->p) {
                printf("allocation of %zu bytes failed\n", s->size);
                return 1;
            }
            fill(s, 0);
            bytes += s->size;
            live += s->size;
            n_big += s->size > 128 * 1024;
        } else if (rng() % 3 == 0) {
            size_t new_size = random_size();
            verify(s, s->size);
            unsigned char *q = realloc(s->p, new_size);
            if (!q) {
                printf("realloc to %zu bytes failed\n", new_size);
                return 1;
            }
            s->p = q;
            size_t kept = new_size < s->size ? new_size : s->size;
            live = live - s->size + new_size;
            s->size = new_size;
            verify(s, kept); /* realloc preserves the common prefix */
            fill(s, kept);
            bytes += new_size;
            n_realloc++;
            n_big += new_size > 128 * 1024;
        } else {
            verify(s, s->size);
            free(s->p);
            live -= s->size;
            s->p = NULL;
            n_free++;
        }
        if (live > peak_live) peak_live = live;
    }
    for (int i = 0; i < SLOTS; i++) {
        if (slots[i].p) {
            verify(&slots[i], slots[i].size);
            free(slots[i].p);
            n_free++;
        }
    }
    printf("malloc=%lu calloc=%lu realloc=%lu free=%lu big=%lu\n", n_malloc, n_calloc, n_realloc,
           n_free, n_big);
    printf("bytes=%llu peak_live=%zu checksum=%016llx\n", bytes, peak_live,
           (unsigned long long)checksum);
    printf("errors=%lu\n", errors);
    return errors ? 1 : 0;
}
