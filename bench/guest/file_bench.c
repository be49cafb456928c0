/* Guest side of the file-read benchmarks (medians of 5 rounds): sequential
 * reading of a 128 MiB file on tmpfs
 *   file_read_mbps   read(2) into a 1 MiB buffer
 *   file_mmap_mbps   a fresh MAP_SHARED mapping per round, every 8-byte word
 *                    summed (the page faults are part of the cost)
 * The file goes in DIR (argument; default /dev/shm when it has room, else
 * /tmp: on the host /tmp may be a disk, in the vkernel it is tmpfs). Needs about 300 MiB of guest memory
 * (-m 512M). */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include "bench_util.h"

#define ROUNDS 5
#define FILE_SIZE (128L << 20)
#define CHUNK (1L << 20)

int main(int argc, char** argv) {
    const char* dir = argc > 1 ? argv[1] : NULL;
    struct statfs sf;
    if (!dir)
        dir = statfs("/dev/shm", &sf) == 0 && (double)sf.f_bavail * sf.f_bsize > 2.0 * FILE_SIZE
                  ? "/dev/shm"
                  : "/tmp";
    char path[256];
    snprintf(path, sizeof path, "%s/file_bench.%d", dir, (int)getpid());
    int fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) {
        perror(path);
        return 1;
    }
    unlink(path);
    char* buf = malloc(CHUNK);
    for (long i = 0; i < CHUNK; i++) buf[i] = (char)(i * 7);
    for (long done = 0; done < FILE_SIZE; done += CHUNK) {
        if (write(fd, buf, CHUNK) != CHUNK) {
            perror("write");
            return 1;
        }
    }

    double r[ROUNDS];
    uint64_t check = 0;
    for (int k = 0; k < ROUNDS; k++) {
        double t0 = now_ns();
        long got = 0;
        ssize_t n;
        while ((n = pread(fd, buf, CHUNK, got)) > 0) got += n;
        r[k] = got / ((now_ns() - t0) / 1e9) / 1e6;
        check += (unsigned char)buf[CHUNK - 1];
    }
    printf("file_read_mbps %.0f\n", median_of(r, ROUNDS));

    for (int k = 0; k < ROUNDS; k++) {
        double t0 = now_ns();
        const uint64_t* p = mmap(NULL, FILE_SIZE, PROT_READ, MAP_SHARED, fd, 0);
        if (p == MAP_FAILED) {
            perror("mmap");
            return 1;
        }
        uint64_t sum = 0;
        for (long i = 0; i < FILE_SIZE / 8; i++) sum += p[i];
        munmap((void*)p, FILE_SIZE);
        r[k] = FILE_SIZE / ((now_ns() - t0) / 1e9) / 1e6;
        check += sum;
    }
    printf("file_mmap_mbps %.0f\n", median_of(r, ROUNDS));
    fprintf(stderr, "(checksum %llu)\n", (unsigned long long)check);
    close(fd);
    return 0;
}
