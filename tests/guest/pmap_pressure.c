/* Page tables are a cache (issue 3): processes that sleep keep their
 * memory, but the kernel may drop their page tables when it runs out of
 * frames. Each child maps one page of a shared file at 2 MiB strides (one
 * page table per mapping: 2048 tables, 8 MiB, per child) and goes to sleep;
 * with -m 64M ten children need more page tables than there is memory, so
 * later children only get theirs if the earlier ones' are dropped. Then
 * every child checks its pages again (refilled by faults) and exits. */
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#define CHILDREN 10
#define MAPPINGS 2048
#define STRIDE (2UL << 20)

static int child(int fd, int ready, int go) {
    char* base = mmap(0, MAPPINGS * STRIDE, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (base == MAP_FAILED) return 10;
    long sum = 0;
    for (int i = 0; i < MAPPINGS; i++) {
        char* p = mmap(base + i * STRIDE, 4096, PROT_READ, MAP_SHARED | MAP_FIXED, fd, 0);
        if (p == MAP_FAILED) return 11;
        sum += p[0];
    }
    if (sum != (long)MAPPINGS * 'x') return 12;
    char c = 1;
    if (write(ready, &c, 1) != 1) return 13;
    if (read(go, &c, 1) != 1) return 14;
    sum = 0;
    for (int i = 0; i < MAPPINGS; i++) sum += base[i * STRIDE];
    return sum == (long)MAPPINGS * 'x' ? 0 : 15;
}

int main(void) {
    alarm(60);  /* a child killed for memory would leave the parent waiting */
    char path[] = "/tmp/pmap_pressure.XXXXXX";
    int fd = mkstemp(path);
    if (fd < 0) return 1;
    unlink(path);
    char page[4096];
    memset(page, 'x', sizeof page);
    if (write(fd, page, sizeof page) != (ssize_t)sizeof page) return 1;

    int ready[2], go[2];
    if (pipe(ready) || pipe(go)) return 1;
    pid_t kids[CHILDREN];
    int started = 0;
    for (int k = 0; k < CHILDREN; k++) {
        kids[k] = fork();
        if (kids[k] == 0) _exit(child(fd, ready[1], go[0]));
        char c;
        if (read(ready[0], &c, 1) == 1) started++;
    }
    printf("children that mapped and read all %d pages: %d of %d\n", MAPPINGS, started, CHILDREN);
    char go_bytes[CHILDREN];
    memset(go_bytes, 1, sizeof go_bytes);
    if (write(go[1], go_bytes, sizeof go_bytes) != (ssize_t)sizeof go_bytes) return 1;
    int ok = 0;
    for (int k = 0; k < CHILDREN; k++) {
        int st;
        waitpid(kids[k], &st, 0);
        if (WIFEXITED(st) && WEXITSTATUS(st) == 0) ok++;
        else if (WIFEXITED(st)) printf("child %d: exit %d\n", k, WEXITSTATUS(st));
        else printf("child %d: signal %d\n", k, WTERMSIG(st));
    }
    printf("children that found their pages again: %d of %d\n", ok, CHILDREN);
    return 0;
}
