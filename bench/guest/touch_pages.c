/* Guest side of the page-fault benchmark: map 64 MiB of anonymous memory and
 * write one byte per 4 KiB page; prints "fault_ns_per_page <median of 5>". */
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <time.h>

#include "bench_util.h"

int main(void) {
    const size_t len = 64u << 20;
    double r[5];
    for (int k = 0; k < 5; k++) {
        volatile char* p = mmap(0, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (p == MAP_FAILED) return 1;
        double t0 = now_ns();
        for (size_t off = 0; off < len; off += 4096) p[off] = 1;
        r[k] = (now_ns() - t0) / (len / 4096);
        munmap((void*)p, len);
    }
    printf("fault_ns_per_page %.0f\n", median_of(r, 5));
    return 0;
}
