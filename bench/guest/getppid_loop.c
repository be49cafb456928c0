/* Guest side of the syscall benchmark: N getppid round trips, timed from
 * inside; prints "getppid_ns <median of 7 rounds per call>". */
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "bench_util.h"

int main(int argc, char** argv) {
    int n = argc > 1 ? atoi(argv[1]) : 20000;
    double r[7];
    for (int k = 0; k < 7; k++) {
        double t0 = now_ns();
        for (int i = 0; i < n; i++) syscall(SYS_getppid);
        r[k] = (now_ns() - t0) / n;
    }
    printf("getppid_ns %.0f\n", median_of(r, 7));
    return 0;
}
