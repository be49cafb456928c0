/* Pipes and readiness (the files issue): EOF when the writers close, EPIPE
 * with SIGPIPE when the readers close, O_NONBLOCK gives EAGAIN, PIPE_BUF
 * writes are atomic between two writers, a writer blocks on a full pipe
 * until a reader drains it, FIONREAD, and poll/select/ppoll on pipes with
 * timeouts. Output is deterministic. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/select.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t got_sigpipe;
static void on_sigpipe(int s) { (void)s; got_sigpipe = 1; }

static double now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

int main(void) {
    setvbuf(stdout, 0, _IOLBF, 0);
    int p[2];
    char buf[65536];

    /* EOF after the last writer closes. */
    pipe(p);
    write(p[1], "abc", 3);
    close(p[1]);
    ssize_t n = read(p[0], buf, sizeof buf);
    ssize_t m = read(p[0], buf, sizeof buf);
    printf("read %zd then %zd (EOF)\n", n, m);
    close(p[0]);

    /* EPIPE and SIGPIPE when no reader is left. */
    signal(SIGPIPE, on_sigpipe);
    pipe(p);
    close(p[0]);
    errno = 0;
    n = write(p[1], "x", 1);
    printf("write to readerless pipe: %zd %s sigpipe=%d\n", n, errno == EPIPE ? "EPIPE" : "?", got_sigpipe);
    close(p[1]);

    /* O_NONBLOCK: EAGAIN on empty read and on a full pipe. */
    pipe2(p, O_NONBLOCK);
    errno = 0;
    n = read(p[0], buf, 1);
    printf("nonblocking empty read: %zd %s\n", n, errno == EAGAIN ? "EAGAIN" : "?");
    memset(buf, 'z', sizeof buf);
    size_t total = 0;
    for (;;) {
        n = write(p[1], buf, 4096);
        if (n < 0) break;
        total += (size_t)n;
    }
    printf("nonblocking fill: %zu bytes then %s\n", total, errno == EAGAIN ? "EAGAIN" : "?");
    int avail = 0;
    ioctl(p[0], FIONREAD, &avail);
    printf("FIONREAD %d\n", avail);
    printf("F_GETFL has O_NONBLOCK: %d\n", (fcntl(p[0], F_GETFL) & O_NONBLOCK) != 0);
    close(p[0]);
    close(p[1]);

    /* A blocked writer goes on when a child drains the pipe. */
    pipe(p);
    pid_t c = fork();
    if (c == 0) {
        close(p[1]);
        size_t got = 0;
        while ((n = read(p[0], buf, sizeof buf)) > 0) got += (size_t)n;
        _exit(got == 200000 ? 0 : 1);
    }
    close(p[0]);
    static char big[200000];
    memset(big, 'q', sizeof big);
    n = write(p[1], big, sizeof big);
    close(p[1]);
    int st;
    waitpid(c, &st, 0);
    printf("blocking write of 200000: %zd, child read all: %d\n", n, WEXITSTATUS(st) == 0);

    /* PIPE_BUF atomicity: two writers of 4096-byte records never interleave. */
    pipe(p);
    for (int w = 0; w < 2; w++) {
        if (fork() == 0) {
            char rec[PIPE_BUF];
            memset(rec, 'A' + w, sizeof rec);
            for (int i = 0; i < 50; i++) write(p[1], rec, sizeof rec);
            _exit(0);
        }
    }
    close(p[1]);
    int bad = 0, records = 0;
    char rec[PIPE_BUF];
    for (;;) {
        size_t have = 0;
        while (have < sizeof rec && (n = read(p[0], rec + have, sizeof rec - have)) > 0) have += (size_t)n;
        if (have == 0) break;
        records++;
        for (size_t i = 1; i < have; i++) bad |= rec[i] != rec[0];
    }
    while (wait(0) > 0) {
    }
    printf("atomic records: %d, interleaved: %d\n", records, bad);
    close(p[0]);

    /* poll: nothing ready times out; data makes POLLIN; a closed writer POLLHUP. */
    pipe(p);
    struct pollfd pf = {p[0], POLLIN, 0};
    double t0 = now_ms();
    int r = poll(&pf, 1, 100);
    printf("poll empty: %d after >=90ms: %d\n", r, now_ms() - t0 >= 90);
    write(p[1], "y", 1);
    r = poll(&pf, 1, 1000);
    printf("poll with data: %d POLLIN=%d\n", r, (pf.revents & POLLIN) != 0);
    read(p[0], buf, 1);
    close(p[1]);
    r = poll(&pf, 1, 1000);
    printf("poll after writer closed: %d POLLHUP=%d\n", r, (pf.revents & POLLHUP) != 0);
    close(p[0]);

    /* select with a child writing later: wakes when data arrives. */
    pipe(p);
    c = fork();
    if (c == 0) {
        struct timespec d = {0, 50 * 1000 * 1000};
        nanosleep(&d, 0);
        write(p[1], "late", 4);
        _exit(0);
    }
    fd_set rs;
    FD_ZERO(&rs);
    FD_SET(p[0], &rs);
    struct timeval tv = {5, 0};
    r = select(p[0] + 1, &rs, 0, 0, &tv);
    printf("select: %d ready=%d\n", r, FD_ISSET(p[0], &rs) != 0);
    waitpid(c, 0, 0);
    /* ppoll with a zero timeout on a writable end. */
    struct pollfd wf = {p[1], POLLOUT, 0};
    struct timespec zero = {0, 0};
    r = ppoll(&wf, 1, &zero, 0);
    printf("ppoll writable: %d POLLOUT=%d\n", r, (wf.revents & POLLOUT) != 0);
    /* An invalid fd is POLLNVAL. */
    struct pollfd nv = {999, POLLIN, 0};
    r = poll(&nv, 1, 0);
    printf("poll bad fd: %d POLLNVAL=%d\n", r, (nv.revents & POLLNVAL) != 0);
    return 0;
}
