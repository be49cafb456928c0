/* An unknown system call must fail with ENOSYS (38) and change nothing else. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <unistd.h>

int main(void) {
    errno = 0;
    long r = syscall(1000, 1, 2, 3, 4, 5, 6);
    int e = errno;
    printf("syscall(1000)=%ld errno=%d\n", r, e);
    printf("still running\n");
    return 0;
}
