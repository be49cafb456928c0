/* Guest side of the time-call benchmark: clock_gettime, gettimeofday and
 * time through libc (the vDSO: no VM exit), timed from inside; prints
 * "<name>_ns <median of 7 rounds per call>" for each. Run it natively too
 * to compare with the host's own vDSO. */
#include <stdio.h>
#include <stdlib.h>
#include <sys/time.h>
#include <time.h>

#include "bench_util.h"

static volatile long sink;

int main(int argc, char** argv) {
    const int n = argc > 1 ? atoi(argv[1]) : 1000000;
    double r[7];
    struct timespec ts;
    struct timeval tv;

    for (int k = 0; k < 7; k++) {
        double t0 = now_ns();
        for (int i = 0; i < n; i++) {
            clock_gettime(CLOCK_MONOTONIC, &ts);
            sink += ts.tv_nsec;
        }
        r[k] = (now_ns() - t0) / n;
    }
    printf("clock_gettime_ns %.1f\n", median_of(r, 7));

    for (int k = 0; k < 7; k++) {
        double t0 = now_ns();
        for (int i = 0; i < n; i++) {
            clock_gettime(CLOCK_REALTIME_COARSE, &ts);
            sink += ts.tv_nsec;
        }
        r[k] = (now_ns() - t0) / n;
    }
    printf("clock_gettime_coarse_ns %.1f\n", median_of(r, 7));

    for (int k = 0; k < 7; k++) {
        double t0 = now_ns();
        for (int i = 0; i < n; i++) {
            gettimeofday(&tv, NULL);
            sink += tv.tv_usec;
        }
        r[k] = (now_ns() - t0) / n;
    }
    printf("gettimeofday_ns %.1f\n", median_of(r, 7));

    for (int k = 0; k < 7; k++) {
        double t0 = now_ns();
        for (int i = 0; i < n; i++) sink += time(NULL);
        r[k] = (now_ns() - t0) / n;
    }
    printf("time_ns %.1f\n", median_of(r, 7));
    return 0;
}
