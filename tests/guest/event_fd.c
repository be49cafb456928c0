/* eventfd (the files issue): counter and EFD_SEMAPHORE semantics, short
 * reads and writes, the 0xffffffffffffffff write, EAGAIN at zero and at
 * the overflow limit with EFD_NONBLOCK, a blocked reader woken by a child,
 * a blocked writer woken by a reader, poll readiness, flags. Output is
 * deterministic. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/wait.h>
#include <unistd.h>

static const char* en(int e) {
    switch (e) {
    case 0: return "0";
    case EAGAIN: return "EAGAIN";
    case EINVAL: return "EINVAL";
    case EBADF: return "EBADF";
    default: return strerror(e);
    }
}

static void rd(int fd, const char* what) {
    uint64_t v = 0;
    errno = 0;
    ssize_t n = read(fd, &v, sizeof v);
    printf("%s: read %zd value %llu errno %s\n", what, n, (unsigned long long)v, en(n < 0 ? errno : 0));
}

static void wr(int fd, uint64_t v, const char* what) {
    errno = 0;
    ssize_t n = write(fd, &v, sizeof v);
    printf("%s: write %zd errno %s\n", what, n, en(n < 0 ? errno : 0));
}

static int revents(int fd) {
    struct pollfd p = {fd, POLLIN | POLLOUT, 0};
    poll(&p, 1, 0);
    return p.revents;
}

int main(void) {
    setvbuf(stdout, 0, _IOLBF, 0);

    /* The counter: writes add, a read takes all. */
    int fd = eventfd(5, EFD_NONBLOCK);
    printf("flags nonblock=%d cloexec=%d\n", !!(fcntl(fd, F_GETFL) & O_NONBLOCK),
           !!(fcntl(fd, F_GETFD) & FD_CLOEXEC));
    printf("poll %#x\n", revents(fd));
    wr(fd, 3, "add 3");
    rd(fd, "counter");
    rd(fd, "empty");
    printf("poll empty %#x\n", revents(fd));

    /* Short reads and writes, the reserved value. */
    char small[4] = {0};
    ssize_t n = read(fd, small, 4);
    printf("short read %zd %s\n", n, en(errno));
    n = write(fd, small, 4);
    printf("short write %zd %s\n", n, en(errno));
    wr(fd, UINT64_MAX, "all ones");
    wr(fd, 0, "zero");
    rd(fd, "after zero");

    /* The overflow limit. */
    wr(fd, UINT64_MAX - 1, "max");
    printf("poll full %#x\n", revents(fd));
    wr(fd, 1, "overflow");
    rd(fd, "max back");
    close(fd);

    /* EFD_SEMAPHORE: each read takes 1. */
    fd = eventfd(3, EFD_SEMAPHORE | EFD_NONBLOCK | EFD_CLOEXEC);
    printf("cloexec=%d\n", !!(fcntl(fd, F_GETFD) & FD_CLOEXEC));
    rd(fd, "sem 1");
    rd(fd, "sem 2");
    rd(fd, "sem 3");
    rd(fd, "sem 4");
    close(fd);

    int bad = eventfd(0, 0x1000);
    printf("bad flags %d %s\n", bad, en(errno));

    /* A blocking read is woken by a child's write. */
    fd = eventfd(0, 0);
    pid_t pid = fork();
    if (pid == 0) {
        usleep(50000);
        uint64_t v = 7;
        write(fd, &v, sizeof v);
        _exit(0);
    }
    rd(fd, "woken reader");
    waitpid(pid, 0, 0);

    /* A blocking write at the limit is woken by a child's read. */
    uint64_t big = UINT64_MAX - 1;
    write(fd, &big, sizeof big);
    pid = fork();
    if (pid == 0) {
        usleep(50000);
        uint64_t v;
        read(fd, &v, sizeof v);
        _exit(0);
    }
    wr(fd, 2, "woken writer");
    waitpid(pid, 0, 0);
    rd(fd, "after writer");
    close(fd);

    /* Between processes through a semaphore: three posts, three waits. */
    fd = eventfd(0, EFD_SEMAPHORE);
    pid = fork();
    if (pid == 0) {
        for (int i = 0; i < 3; i++) {
            uint64_t v = 1;
            usleep(10000);
            write(fd, &v, sizeof v);
        }
        _exit(0);
    }
    for (int i = 0; i < 3; i++) rd(fd, "sem wait");
    waitpid(pid, 0, 0);
    close(fd);
    return 0;
}
