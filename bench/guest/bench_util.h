/* Timing helpers shared by the guest benchmarks: a monotonic clock in ns
 * and the median of a few rounds. */
#pragma once

#include <stdlib.h>
#include <time.h>

static inline double now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static inline int cmp_double(const void* a, const void* b) {
    double x = *(const double*)a, y = *(const double*)b;
    return (x > y) - (x < y);
}

/* Sorts r[0..n) and returns its median. */
static inline double median_of(double* r, int n) {
    qsort(r, (size_t)n, sizeof r[0], cmp_double);
    return r[n / 2];
}
