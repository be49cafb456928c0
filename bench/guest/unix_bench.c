/* Guest side of the AF_UNIX benchmark (median of 7 rounds):
 *   unix_rtt_ns   1-byte round trip between two processes over a
 *                 SOCK_STREAM socketpair (compare pipe_rtt_ns). */
#include <stdio.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench_util.h"

#define ROUNDS 7

int main(void) {
    double r[ROUNDS];
    const int trips = 300;
    for (int k = 0; k < ROUNDS; k++) {
        int sv[2];
        if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0) {
            perror("socketpair");
            return 1;
        }
        pid_t c = fork();
        char x = 'x';
        if (c == 0) {
            close(sv[0]);
            for (int i = 0; i < trips; i++) {
                read(sv[1], &x, 1);
                write(sv[1], &x, 1);
            }
            _exit(0);
        }
        close(sv[1]);
        double t0 = now_ns();
        for (int i = 0; i < trips; i++) {
            write(sv[0], &x, 1);
            read(sv[0], &x, 1);
        }
        r[k] = (now_ns() - t0) / trips;
        waitpid(c, 0, 0);
        close(sv[0]);
    }
    printf("unix_rtt_ns %.0f\n", median_of(r, ROUNDS));
    return 0;
}
