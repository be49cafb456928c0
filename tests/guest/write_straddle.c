/* write() from a buffer that runs from a mapped page into an unmapped one.
 *
 * Linux's answer depends on what fd 1 is. Run it with stdout a pipe (the
 * e2e test does): pipe_write() copies the data in page-sized chunks counted
 * from the start of the write and drops the chunk in which the copy
 * faulted, so this 10-byte write writes nothing and returns EFAULT. To a
 * regular file the same write would write the 3 mapped bytes and return 3.
 * A vkernel that writes "what it could copy" matches the file case only. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

int main(void) {
    char *page = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (page == MAP_FAILED || munmap(page + 4096, 4096) != 0) {
        printf("mmap set-up failed\n");
        return 1;
    }
    char *edge = page + 4096 - 3;
    memcpy(edge, "ab\n", 3);
    printf("stdout is %s\n", isatty(1) ? "a terminal" : "not a terminal");
    fflush(stdout);
    errno = 0;
    long r = write(1, edge, 10);
    int e = errno;
    printf("write(1, 3 mapped + 7 unmapped bytes, 10) = %ld errno=%d\n", r, r < 0 ? e : 0);
    return 0;
}
