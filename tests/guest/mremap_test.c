/* mremap(2): shrink, grow in place, move with contents, MREMAP_FIXED, and
 * the errors Linux gives. Prints what happened, not addresses. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>

static const char* err_name(int e) {
    return e == EINVAL ? "EINVAL" : e == EFAULT ? "EFAULT" : e == ENOMEM ? "ENOMEM" : "other";
}

static unsigned sum(const unsigned char* p, size_t n) {
    unsigned s = 0;
    for (size_t i = 0; i < n; i++) s = s * 31 + p[i];
    return s;
}

int main(void) {
    const size_t pg = 4096;
    unsigned char* a = mmap(0, 8 * pg, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    for (size_t i = 0; i < 8 * pg; i++) a[i] = (unsigned char)(i * 7);
    const unsigned before = sum(a, 4 * pg);

    /* Shrink keeps the address and the data; the tail is gone. */
    unsigned char* b = mremap(a, 8 * pg, 4 * pg, 0);
    printf("shrink: same address %d, data kept %d\n", b == a, sum(b, 4 * pg) == before);

    /* Grow into what was just freed: in place. */
    unsigned char* c = mremap(b, 4 * pg, 6 * pg, 0);
    printf("grow in place: same address %d, new pages zero %d\n", c == a, c[5 * pg] == 0);

    /* Block growth with a neighbour, then grow with MAYMOVE. */
    void* wall = mmap(c + 6 * pg, pg, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
    errno = 0;
    void* d = mremap(c, 6 * pg, 64 * pg, 0);
    printf("grow blocked without MAYMOVE: %s\n", d == MAP_FAILED ? err_name(errno) : "grew");
    unsigned char* e = mremap(c, 6 * pg, 64 * pg, MREMAP_MAYMOVE);
    printf("grow with MAYMOVE: moved %d, data kept %d, tail zero %d\n", e != c,
           sum(e, 4 * pg) == before, e[63 * pg] == 0);
    e[63 * pg] = 1;

    /* MREMAP_FIXED to a chosen place. */
    unsigned char* target = mmap(0, 64 * pg, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    unsigned char* f = mremap(e, 64 * pg, 64 * pg, MREMAP_MAYMOVE | MREMAP_FIXED, target);
    printf("fixed: at target %d, data kept %d, last byte %d\n", f == target, sum(f, 4 * pg) == before,
           f[63 * pg]);

    errno = 0;
    printf("unaligned old: %s\n", mremap(f + 1, pg, 2 * pg, MREMAP_MAYMOVE) == MAP_FAILED ? err_name(errno) : "ok");
    errno = 0;
    printf("zero new size: %s\n", mremap(f, pg, 0, MREMAP_MAYMOVE) == MAP_FAILED ? err_name(errno) : "ok");
    errno = 0;
    printf("FIXED without MAYMOVE: %s\n", mremap(f, pg, pg, MREMAP_FIXED, target) == MAP_FAILED ? err_name(errno) : "ok");
    munmap(f, 64 * pg);
    errno = 0;
    printf("unmapped old: %s\n", mremap(f, pg, 2 * pg, MREMAP_MAYMOVE) == MAP_FAILED ? err_name(errno) : "ok");
    (void)wall;
    return 0;
}
