/* Guest side of the syscall benchmark: N getppid round trips, timed from
 * inside; prints "getppid_ns <median of 7 rounds per call>". */
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static double now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static int cmp(const void* a, const void* b) {
    double x = *(const double*)a, y = *(const double*)b;
    return (x > y) - (x < y);
}

int main(int argc, char** argv) {
    int n = argc > 1 ? atoi(argv[1]) : 20000;
    double r[7];
    for (int k = 0; k < 7; k++) {
        double t0 = now_ns();
        for (int i = 0; i < n; i++) syscall(SYS_getppid);
        r[k] = (now_ns() - t0) / n;
    }
    qsort(r, 7, sizeof r[0], cmp);
    printf("getppid_ns %.0f\n", r[3]);
    return 0;
}
