/* epoll (the files issue): pipe and eventfd readiness, level-triggered vs
 * EPOLLET counts, EPOLLONESHOT re-armed by MOD, a child's eventfd write
 * waking the parent in epoll_wait, timeouts, nested epoll, epoll_pwait's
 * mask, and the error codes of epoll_create1/epoll_ctl/epoll_wait. Output
 * is deterministic. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static const char* en(int e) {
    switch (e) {
    case 0: return "0";
    case EAGAIN: return "EAGAIN";
    case EINVAL: return "EINVAL";
    case EBADF: return "EBADF";
    case EEXIST: return "EEXIST";
    case ENOENT: return "ENOENT";
    case ELOOP: return "ELOOP";
    case EPERM: return "EPERM";
    case EINTR: return "EINTR";
    case EFAULT: return "EFAULT";
    default: return strerror(e);
    }
}

static double now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static int ctl(int ep, int op, int fd, uint32_t events, uint64_t data) {
    struct epoll_event ev = {.events = events, .data.u64 = data};
    return epoll_ctl(ep, op, fd, &ev) < 0 ? errno : 0;
}

/* One epoll_wait: the count and the events, in data order. */
static void wait_show(int ep, int timeout, const char* what) {
    struct epoll_event evs[8];
    int n = epoll_wait(ep, evs, 8, timeout);
    int e = n < 0 ? errno : 0;
    printf("%s: %d %s", what, n, en(e));
    for (int i = 0; i < n; i++)
        for (int j = i + 1; j < n; j++)
            if (evs[j].data.u64 < evs[i].data.u64) {
                struct epoll_event t = evs[i];
                evs[i] = evs[j];
                evs[j] = t;
            }
    for (int i = 0; i < n; i++) printf(" [%llu %#x]", (unsigned long long)evs[i].data.u64, evs[i].events);
    printf("\n");
}

static void on_usr1(int s) { (void)s; }

int main(void) {
    setvbuf(stdout, 0, _IOLBF, 0);
    int p[2];
    char buf[256];

    /* Pipe readiness, level-triggered. */
    int ep = epoll_create1(0);
    pipe(p);
    printf("add read end %s\n", en(ctl(ep, EPOLL_CTL_ADD, p[0], EPOLLIN, 1)));
    printf("add write end %s\n", en(ctl(ep, EPOLL_CTL_ADD, p[1], EPOLLOUT, 2)));
    wait_show(ep, 0, "empty pipe");
    write(p[1], "hello", 5);
    wait_show(ep, 0, "data");
    wait_show(ep, 0, "data again (level)");
    read(p[0], buf, sizeof buf);
    printf("mod write end %s\n", en(ctl(ep, EPOLL_CTL_MOD, p[1], 0, 2)));
    wait_show(ep, 0, "drained");
    close(p[1]);
    wait_show(ep, 0, "writer closed (HUP)");
    close(p[0]);
    wait_show(ep, 0, "all closed");
    close(ep);

    /* EPOLLET: once per new event. */
    ep = epoll_create1(EPOLL_CLOEXEC);
    printf("cloexec %d\n", !!(fcntl(ep, F_GETFD) & FD_CLOEXEC));
    pipe(p);
    ctl(ep, EPOLL_CTL_ADD, p[0], EPOLLIN | EPOLLET, 10);
    write(p[1], "a", 1);
    wait_show(ep, 0, "et first");
    wait_show(ep, 0, "et second");
    write(p[1], "b", 1);
    wait_show(ep, 0, "et after more data");
    wait_show(ep, 0, "et again");
    read(p[0], buf, 1);
    wait_show(ep, 0, "et after partial read");
    read(p[0], buf, sizeof buf);
    close(p[0]);
    close(p[1]);

    /* EPOLLET on an eventfd: every write is an edge. */
    int efd = eventfd(0, EFD_NONBLOCK);
    ctl(ep, EPOLL_CTL_ADD, efd, EPOLLIN | EPOLLET, 11);
    uint64_t one = 1;
    write(efd, &one, 8);
    wait_show(ep, 0, "eventfd et first");
    wait_show(ep, 0, "eventfd et second");
    write(efd, &one, 8);
    wait_show(ep, 0, "eventfd et new write");
    close(efd);
    wait_show(ep, 0, "eventfd closed");
    close(ep);

    /* EPOLLONESHOT: MOD re-arms. */
    ep = epoll_create(1);
    pipe(p);
    write(p[1], "x", 1);
    ctl(ep, EPOLL_CTL_ADD, p[0], EPOLLIN | EPOLLONESHOT, 20);
    wait_show(ep, 0, "oneshot first");
    wait_show(ep, 0, "oneshot disarmed");
    printf("oneshot add again %s\n", en(ctl(ep, EPOLL_CTL_ADD, p[0], EPOLLIN, 20)));
    printf("oneshot mod %s\n", en(ctl(ep, EPOLL_CTL_MOD, p[0], EPOLLIN | EPOLLONESHOT, 21)));
    wait_show(ep, 0, "oneshot re-armed");
    wait_show(ep, 0, "oneshot disarmed again");

    /* Errors. */
    int fd = open("/proc/self/exe", O_RDONLY);
    printf("regular file %s\n", en(ctl(ep, EPOLL_CTL_ADD, fd, EPOLLIN, 0)));
    close(fd);
    printf("self %s\n", en(ctl(ep, EPOLL_CTL_ADD, ep, EPOLLIN, 0)));
    printf("not an epoll %s\n", en(ctl(p[0], EPOLL_CTL_ADD, p[1], EPOLLIN, 0)));
    printf("bad epfd %s\n", en(ctl(999, EPOLL_CTL_ADD, p[1], EPOLLIN, 0)));
    printf("bad fd %s\n", en(ctl(ep, EPOLL_CTL_ADD, 999, EPOLLIN, 0)));
    printf("del missing %s\n", en(ctl(ep, EPOLL_CTL_DEL, p[1], 0, 0)));
    printf("mod missing %s\n", en(ctl(ep, EPOLL_CTL_MOD, p[1], EPOLLIN, 0)));
    printf("bad op %s\n", en(ctl(ep, 99, p[1], EPOLLIN, 0)));
    printf("del %s\n", en(ctl(ep, EPOLL_CTL_DEL, p[0], 0, 0)));
    printf("exclusive mod %s\n", en(ctl(ep, EPOLL_CTL_ADD, p[0], EPOLLIN | EPOLLEXCLUSIVE, 0)) );
    printf("exclusive mod2 %s\n", en(ctl(ep, EPOLL_CTL_MOD, p[0], EPOLLIN, 0)));
    int r = epoll_create1(0x1234);
    printf("create1 bad flags %d %s\n", r, en(errno));
    r = epoll_create(0);
    printf("create 0 %d %s\n", r, en(errno));
    struct epoll_event evs[4];
    r = epoll_wait(ep, evs, 0, 0);
    printf("maxevents 0 %d %s\n", r, en(errno));
    r = epoll_wait(p[0], evs, 4, 0);
    printf("wait on pipe %d %s\n", r, en(errno));
    r = epoll_wait(999, evs, 4, 0);
    printf("wait bad fd %d %s\n", r, en(errno));

    /* Nested epoll and loops. */
    int outer = epoll_create1(0);
    printf("nest %s\n", en(ctl(outer, EPOLL_CTL_ADD, ep, EPOLLIN, 30)));
    printf("loop %s\n", en(ctl(ep, EPOLL_CTL_ADD, outer, EPOLLIN, 31)));
    wait_show(outer, 0, "outer (inner ready)");
    read(p[0], buf, sizeof buf);
    wait_show(outer, 0, "outer (inner drained)");
    close(p[0]);
    close(p[1]);

    /* A child's eventfd write wakes the parent in epoll_wait, through the nest. */
    efd = eventfd(0, 0);
    ctl(ep, EPOLL_CTL_ADD, efd, EPOLLIN, 40);
    pid_t pid = fork();
    if (pid == 0) {
        usleep(50000);
        uint64_t v = 3;
        write(efd, &v, 8);
        _exit(0);
    }
    double t0 = now_ms();
    wait_show(ep, -1, "woken by child");
    printf("waited %s\n", now_ms() - t0 >= 30 ? "yes" : "no");
    waitpid(pid, 0, 0);
    uint64_t v;
    read(efd, &v, 8);
    pid = fork();
    if (pid == 0) {
        usleep(50000);
        uint64_t w = 1;
        write(efd, &w, 8);
        _exit(0);
    }
    wait_show(outer, 5000, "outer woken by child");
    waitpid(pid, 0, 0);
    read(efd, &v, 8);

    /* Timeouts. */
    t0 = now_ms();
    wait_show(ep, 100, "timeout 100ms");
    double dt = now_ms() - t0;
    printf("timeout elapsed ok %d\n", dt >= 90 && dt < 2000);
    t0 = now_ms();
    wait_show(ep, 0, "timeout 0");
    printf("timeout 0 fast %d\n", now_ms() - t0 < 50);

    /* epoll_pwait: a blocked signal stays pending; an unblocked one ends the wait with EINTR. */
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_usr1;
    sigaction(SIGUSR1, &sa, 0);
    sigset_t block, empty;
    sigemptyset(&block);
    sigaddset(&block, SIGUSR1);
    sigemptyset(&empty);
    sigprocmask(SIG_BLOCK, &block, 0);
    raise(SIGUSR1);
    r = epoll_pwait(ep, evs, 4, 20, &block);
    printf("pwait masked %d\n", r);
    r = epoll_pwait(ep, evs, 4, 1000, &empty);
    printf("pwait unmasked %d %s\n", r, en(errno));
    sigset_t cur;
    sigprocmask(SIG_SETMASK, 0, &cur);
    printf("mask restored %d\n", sigismember(&cur, SIGUSR1));

    /* epoll over the console: stdout is writable. */
    int cep = epoll_create1(0);
    printf("console add %s\n", en(ctl(cep, EPOLL_CTL_ADD, 1, EPOLLOUT, 50)));
    return 0;
}
