/* Guest side of the syscall benchmark: N getppid round trips, timed from
 * inside; prints "getppid_ns <median of 7 rounds per call>". With a second
 * argument "getpid", getpid instead ("getpid_ns"): on PVM the vkernel
 * answers that one inside the guest (vmspace/fast_syscall.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "bench_util.h"

int main(int argc, char** argv) {
    int n = argc > 1 ? atoi(argv[1]) : 20000;
    const int getpid_instead = argc > 2 && strcmp(argv[2], "getpid") == 0;
    const long nr = getpid_instead ? SYS_getpid : SYS_getppid;
    double r[7];
    for (int k = 0; k < 7; k++) {
        double t0 = now_ns();
        for (int i = 0; i < n; i++) syscall(nr);
        r[k] = (now_ns() - t0) / n;
    }
    printf("%s_ns %.0f\n", getpid_instead ? "getpid" : "getppid", median_of(r, 7));
    return 0;
}
