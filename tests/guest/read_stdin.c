/* Reads stdin to EOF with read() in odd-sized chunks and prints the byte
 * count and a checksum (FNV-1a, 32 bits). */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <unistd.h>

static unsigned char buf[70000];

int main(void) {
    static const size_t chunks[] = {1, 7, 13, 511, 4093, 4097, 65537, 3};
    const size_t nchunks = sizeof chunks / sizeof chunks[0];
    uint32_t h = 2166136261u;
    unsigned long long total = 0;
    unsigned long lines = 0;
    for (size_t i = 0;; i++) {
        ssize_t n = read(0, buf, chunks[i % nchunks]);
        if (n < 0) {
            if (errno == EINTR) continue;
            printf("read failed: errno=%d after %llu bytes\n", errno, total);
            return 1;
        }
        if (n == 0) break;
        for (ssize_t j = 0; j < n; j++) {
            h = (h ^ buf[j]) * 16777619u;
            lines += buf[j] == '\n';
        }
        total += (unsigned long long)n;
    }
    printf("bytes=%llu lines=%lu fnv1a=%08x\n", total, lines, (unsigned)h);
    return 0;
}
