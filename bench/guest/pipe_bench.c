/* Guest side of the pipe benchmarks (medians of 7 rounds):
 *   pipe_rtt_ns        1-byte round trip between two processes over two pipes
 *   pipe_mbps          throughput of 64 KiB writes from a child to its parent
 *   create_unlink_ns   create + close + unlink of a small file in the cwd */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bench_util.h"

#define ROUNDS 7

int main(void) {
    double r[ROUNDS];
    const int trips = 300;
    for (int k = 0; k < ROUNDS; k++) {
        int a[2], b[2];
        pipe(a);
        pipe(b);
        pid_t c = fork();
        char x = 'x';
        if (c == 0) {
            for (int i = 0; i < trips; i++) {
                read(a[0], &x, 1);
                write(b[1], &x, 1);
            }
            _exit(0);
        }
        double t0 = now_ns();
        for (int i = 0; i < trips; i++) {
            write(a[1], &x, 1);
            read(b[0], &x, 1);
        }
        r[k] = (now_ns() - t0) / trips;
        waitpid(c, 0, 0);
        close(a[0]); close(a[1]); close(b[0]); close(b[1]);
    }
    printf("pipe_rtt_ns %.0f\n", median_of(r, ROUNDS));

    static char buf[65536];
    const long total = 64L << 20;
    for (int k = 0; k < ROUNDS; k++) {
        int p[2];
        pipe(p);
        pid_t c = fork();
        if (c == 0) {
            close(p[0]);
            for (long done = 0; done < total; done += sizeof buf) write(p[1], buf, sizeof buf);
            _exit(0);
        }
        close(p[1]);
        double t0 = now_ns();
        long got = 0;
        ssize_t n;
        while ((n = read(p[0], buf, sizeof buf)) > 0) got += n;
        r[k] = got / ((now_ns() - t0) / 1e9) / 1e6;
        waitpid(c, 0, 0);
        close(p[0]);
    }
    printf("pipe_mbps %.0f\n", median_of(r, ROUNDS));

    const int files = 200;
    for (int k = 0; k < ROUNDS; k++) {
        double t0 = now_ns();
        for (int i = 0; i < files; i++) {
            char name[32];
            snprintf(name, sizeof name, "bench_tmp_%d", i);
            int fd = open(name, O_CREAT | O_WRONLY | O_TRUNC, 0600);
            write(fd, "hello", 5);
            close(fd);
            unlink(name);
        }
        r[k] = (now_ns() - t0) / files;
    }
    printf("create_unlink_ns %.0f\n", median_of(r, ROUNDS));
    return 0;
}
