/* A memory hog for the vkernel's -m limit (not compared with the host, which
 * has far more memory): maps and touches 1 MiB blocks until mmap fails. It
 * must fail with ENOMEM (not be killed), and afterwards the process must
 * still work: freeing memory makes room again, and fork succeeds.
 * Exit 0 when all of that holds. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#define MAX_BLOCKS 4096

int main(void) {
    static void* blocks[MAX_BLOCKS];
    int n = 0;
    for (; n < MAX_BLOCKS; n++) {
        void* p = mmap(0, 1 << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (p == MAP_FAILED) {
            if (errno != ENOMEM) {
                printf("mmap failed with errno %d, not ENOMEM\n", errno);
                return 1;
            }
            break;
        }
        memset(p, 0x5a, 1 << 20);
        blocks[n] = p;
    }
    if (n == MAX_BLOCKS) {
        printf("never ran out of memory\n");
        return 1;
    }
    printf("mmap: ENOMEM after %d MiB\n", n);
    if (malloc(64 << 20) != NULL) {
        printf("malloc of 64 MiB succeeded while memory is exhausted\n");
        return 1;
    }
    for (int i = 0; i < n / 2; i++) munmap(blocks[i], 1 << 20);
    char* p = malloc(1 << 20);
    if (!p) {
        printf("malloc failed after freeing half\n");
        return 1;
    }
    memset(p, 1, 1 << 20);
    pid_t c = fork();
    if (c < 0) {
        /* A fork needs as much again as the parent's private memory: with
         * half of it still mapped that may not fit; free the rest. */
        for (int i = n / 2; i < n; i++) munmap(blocks[i], 1 << 20);
        c = fork();
    }
    if (c < 0) {
        printf("fork failed: %s\n", strerror(errno));
        return 1;
    }
    if (c == 0) _exit(blocks[n - 1] ? 7 : 8);
    int st;
    waitpid(c, &st, 0);
    printf("after freeing: malloc ok, fork ok, child status %d\n", WEXITSTATUS(st));
    return WEXITSTATUS(st) == 7 ? 0 : 1;
}
