/* AF_UNIX sockets: socketpair of each type, bind/listen/accept/connect over
 * a path and the abstract namespace between forked processes, shutdown,
 * EOF, EPIPE and SIGPIPE, datagram boundaries and truncation, SCM_RIGHTS,
 * SO_PEERCRED and the other options, poll readiness, names. Prints results
 * and errno names only, so the output is the same on Linux and in the
 * vkernel. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

static volatile int sigpipes;
/* Paths in /tmp, unique per run (natively several runs may overlap). */
static char sock_path[64], dgram_path[64], rights_path[64];
static void on_sigpipe(int s) { (void)s; sigpipes++; }

static const char *en(int e) {
    switch (e) {
    case 0: return "OK";
    case EAGAIN: return "EAGAIN";
    case EPIPE: return "EPIPE";
    case EINVAL: return "EINVAL";
    case ENOTCONN: return "ENOTCONN";
    case EISCONN: return "EISCONN";
    case ECONNREFUSED: return "ECONNREFUSED";
    case ECONNRESET: return "ECONNRESET";
    case ENOENT: return "ENOENT";
    case EADDRINUSE: return "EADDRINUSE";
    case EPROTOTYPE: return "EPROTOTYPE";
    case EOPNOTSUPP: return "EOPNOTSUPP";
    case ENOTSOCK: return "ENOTSOCK";
    case EBADF: return "EBADF";
    case EFAULT: return "EFAULT";
    case EMSGSIZE: return "EMSGSIZE";
    case ENOPROTOOPT: return "ENOPROTOOPT";
    case ESOCKTNOSUPPORT: return "ESOCKTNOSUPPORT";
    case EPROTONOSUPPORT: return "EPROTONOSUPPORT";
    case ENXIO: return "ENXIO";
    case EINTR: return "EINTR";
    case EPERM: return "EPERM";
    default: return "other";
    }
}

#define T(expr) do { errno = 0; long r_ = (long)(expr); \
    printf("%-58s -> %ld %s\n", #expr, r_, r_ < 0 ? en(errno) : ""); } while (0)

static int pollmask(int fd) {
    struct pollfd p = {fd, POLLIN | POLLOUT | POLLRDHUP, 0};
    poll(&p, 1, 0);
    return p.revents;
}

static void show_poll(const char *what, int fd) {
    int m = pollmask(fd);
    printf("poll %-30s:%s%s%s%s%s\n", what, m & POLLIN ? " IN" : "", m & POLLOUT ? " OUT" : "",
           m & POLLHUP ? " HUP" : "", m & POLLERR ? " ERR" : "", m & POLLRDHUP ? " RDHUP" : "");
}

/* Abstract names end in the pid, in a fixed width: the host's abstract
 * namespace is shared by every test running natively at the same time (two
 * runs binding "vk-blocking-accept" at once made one fail), and the printed
 * lengths stay the same in every run. */
static char name_suffix[16];
#define NAME_SUFFIX_LEN 8

static socklen_t abstract_addr(struct sockaddr_un *a, const char *name) {
    memset(a, 0, sizeof *a);
    a->sun_family = AF_UNIX;
    memcpy(a->sun_path + 1, name, strlen(name));
    memcpy(a->sun_path + 1 + strlen(name), name_suffix, NAME_SUFFIX_LEN);
    return (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + strlen(name) + NAME_SUFFIX_LEN);
}

static socklen_t path_addr(struct sockaddr_un *a, const char *path) {
    memset(a, 0, sizeof *a);
    a->sun_family = AF_UNIX;
    strcpy(a->sun_path, path);
    return sizeof *a;
}

static void pairs(void) {
    printf("--- socketpair\n");
    int sv[2];
    char b[64];
    T(socketpair(AF_UNIX, SOCK_STREAM, 0, sv));
    T(write(sv[0], "hello", 5));
    T(write(sv[0], " world", 6));
    int n = -1;
    T(ioctl(sv[1], FIONREAD, &n));
    printf("FIONREAD %d\n", n);
    memset(b, 0, sizeof b);
    T(recv(sv[1], b, sizeof b, MSG_PEEK));
    T(read(sv[1], b, sizeof b));
    printf("stream read '%s'\n", b);
    show_poll("stream empty", sv[1]);
    T(shutdown(sv[0], SHUT_WR));
    show_poll("after peer SHUT_WR", sv[1]);
    T(read(sv[1], b, sizeof b));
    T(write(sv[0], "x", 1));
    printf("sigpipes %d\n", sigpipes);
    T(send(sv[0], "x", 1, MSG_NOSIGNAL));
    printf("sigpipes %d\n", sigpipes);
    T(write(sv[1], "back", 4));
    T(read(sv[0], b, sizeof b));
    T(close(sv[1]));
    show_poll("peer closed", sv[0]);
    T(read(sv[0], b, sizeof b));
    close(sv[0]);

    T(socketpair(AF_UNIX, SOCK_DGRAM, 0, sv));
    T(send(sv[0], "one", 3, 0));
    T(send(sv[0], "two!", 4, 0));
    T(send(sv[0], "", 0, 0));
    T(ioctl(sv[1], FIONREAD, &n));
    printf("FIONREAD %d\n", n);
    T(recv(sv[1], b, 2, 0));
    T(recv(sv[1], b, sizeof b, 0));
    T(recv(sv[1], b, sizeof b, 0));
    T(recv(sv[1], b, sizeof b, MSG_DONTWAIT));
    T(send(sv[0], "12345", 5, 0));
    T(recv(sv[1], b, 2, MSG_TRUNC));
    struct msghdr m = {0};
    struct iovec io = {b, 2};
    m.msg_iov = &io;
    m.msg_iovlen = 1;
    T(send(sv[0], "12345", 5, 0));
    T(recvmsg(sv[1], &m, 0));
    printf("msg_flags MSG_TRUNC=%d\n", !!(m.msg_flags & MSG_TRUNC));
    T(close(sv[1]));
    T(send(sv[0], "x", 1, 0));
    T(send(sv[0], "x", 1, 0));
    close(sv[0]);

    T(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv));
    printf("cloexec %d nonblock %d\n", !!(fcntl(sv[0], F_GETFD) & FD_CLOEXEC),
           !!(fcntl(sv[0], F_GETFL) & O_NONBLOCK));
    T(recv(sv[1], b, sizeof b, 0));
    T(send(sv[0], "abcdefgh", 8, 0));
    T(send(sv[0], "ij", 2, 0));
    m.msg_flags = 0;
    io.iov_len = 3;
    T(recvmsg(sv[1], &m, 0));
    printf("seqpacket truncated '%.3s' MSG_TRUNC=%d\n", b, !!(m.msg_flags & MSG_TRUNC));
    T(recv(sv[1], b, sizeof b, 0));
    T(shutdown(sv[0], SHUT_WR));
    T(send(sv[0], "x", 1, 0));
    T(recv(sv[1], b, sizeof b, 0));
    T(close(sv[0]));
    T(send(sv[1], "x", 1, 0));
    show_poll("seqpacket peer closed", sv[1]);
    close(sv[1]);

    /* iovecs in and out. */
    T(socketpair(AF_UNIX, SOCK_STREAM, 0, sv));
    struct iovec out[3] = {{"ab", 2}, {"", 0}, {"cdef", 4}};
    T(writev(sv[0], out, 3));
    char x1[3] = {0}, x2[8] = {0};
    struct iovec in[2] = {{x1, 2}, {x2, 7}};
    T(readv(sv[1], in, 2));
    printf("readv '%s' '%s'\n", x1, x2);
    T(send(sv[0], "z", 1, 0));
    T(recv(sv[1], (void *)8, 1, 0));
    T(send(sv[0], (void *)8, 1, 0));
    close(sv[0]);
    close(sv[1]);

    /* A full non-blocking stream: EAGAIN, then POLLOUT again after a read. */
    T(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv));
    static char big[65536];
    long total = 0, w;
    while ((w = write(sv[0], big, sizeof big)) > 0) total += w;
    printf("filled: %s, more than 64K: %d\n", en(errno), total > 65536);
    show_poll("full writer", sv[0]);
    long got = 0, r;
    while ((r = read(sv[1], big, sizeof big)) > 0) got += r;
    printf("drained all: %d\n", got == total);
    show_poll("drained writer", sv[0]);
    close(sv[0]);
    close(sv[1]);
}

static void errors(void) {
    printf("--- errors\n");
    char b[8];
    T(socket(AF_UNIX, SOCK_STREAM, 2));
    T(socket(AF_UNIX, 7, 0));
    T(socket(AF_UNIX, SOCK_STREAM | 0x100, 0));
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    show_poll("fresh stream", fd);
    T(read(fd, b, 1));
    T(write(fd, b, 1));
    T(listen(fd, 1));
    T(accept(fd, NULL, NULL));
    T(getpeername(fd, (struct sockaddr *)b, &(socklen_t){8}));
    struct sockaddr_un a;
    path_addr(&a, "/nonexistent/sock");
    T(connect(fd, (struct sockaddr *)&a, sizeof a));
    path_addr(&a, "/proc/self/status");
    T(connect(fd, (struct sockaddr *)&a, sizeof a));
    T(connect(fd, (struct sockaddr *)&a, 1));
    a.sun_family = AF_INET;
    T(bind(fd, (struct sockaddr *)&a, sizeof a));
    abstract_addr(&a, "nobody-listens");
    T(connect(fd, (struct sockaddr *)&a, abstract_addr(&a, "nobody-listens")));
    T(bind(0 + 100, (struct sockaddr *)&a, sizeof a));
    T(bind(1, (struct sockaddr *)&a, sizeof a));
    T(connect(fd, (struct sockaddr *)8, sizeof a));
    int v;
    socklen_t l = sizeof v;
    T(getsockopt(fd, SOL_SOCKET, 9999, &v, &l));
    T(setsockopt(fd, SOL_SOCKET, 9999, &v, sizeof v));
    T(getsockopt(fd, 6, 1, &v, &l));
    T(shutdown(fd, 7));
    close(fd);
    int d = socket(AF_UNIX, SOCK_DGRAM, 0);
    T(listen(d, 1));
    T(send(d, "x", 1, 0));
    static char huge[300000];
    int sv[2];
    socketpair(AF_UNIX, SOCK_DGRAM, 0, sv);
    T(send(sv[0], huge, sizeof huge, 0));
    close(sv[0]);
    close(sv[1]);
    close(d);
}

static void options(void) {
    printf("--- options\n");
    int sv[2], v;
    socklen_t l = sizeof v;
    socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv);
    T(getsockopt(sv[0], SOL_SOCKET, SO_TYPE, &v, &l));
    printf("SO_TYPE seqpacket %d\n", v == SOCK_SEQPACKET);
    T(getsockopt(sv[0], SOL_SOCKET, SO_ERROR, &v, &l));
    printf("SO_ERROR %d\n", v);
    T(getsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &v, &l));
    printf("SO_SNDBUF positive %d\n", v > 0);
    v = 65536;
    T(setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &v, sizeof v));
    T(getsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &v, &l));
    printf("SO_SNDBUF after 65536: %d\n", v);
    v = 1;
    T(setsockopt(sv[0], SOL_SOCKET, SO_RCVBUF, &v, sizeof v));
    T(getsockopt(sv[0], SOL_SOCKET, SO_RCVBUF, &v, &l));
    printf("SO_RCVBUF after 1: %d\n", v);
    T(getsockopt(sv[0], SOL_SOCKET, SO_PASSCRED, &v, &l));
    printf("SO_PASSCRED %d\n", v);
    struct ucred c;
    l = sizeof c;
    T(getsockopt(sv[0], SOL_SOCKET, SO_PEERCRED, &c, &l));
    printf("SO_PEERCRED len %d pid ok %d uid ok %d gid ok %d\n", (int)l, c.pid == getpid(),
           c.uid == getuid(), c.gid == getgid());
    l = 2;
    T(getsockopt(sv[0], SOL_SOCKET, SO_TYPE, &v, &l));
    printf("short optlen -> %d\n", (int)l);
    close(sv[0]);
    close(sv[1]);
}

/* Server on `addr`: accepts `clients` connections from forked children,
 * echoes what each sends in upper case, checks SO_PEERCRED. */
static void client_server(const char *what, struct sockaddr_un *addr, socklen_t len) {
    printf("--- client/server over %s\n", what);
    int s = socket(AF_UNIX, SOCK_STREAM, 0);
    T(bind(s, (struct sockaddr *)addr, len));
    T(bind(s, (struct sockaddr *)addr, len));
    int s2 = socket(AF_UNIX, SOCK_STREAM, 0);
    T(bind(s2, (struct sockaddr *)addr, len));
    close(s2);
    int dg = socket(AF_UNIX, SOCK_DGRAM, 0);
    T(connect(dg, (struct sockaddr *)addr, len));
    close(dg);
    int early = socket(AF_UNIX, SOCK_STREAM, 0);
    T(connect(early, (struct sockaddr *)addr, len));
    close(early);
    T(listen(s, 4));
    show_poll("listener idle", s);
    struct sockaddr_un got;
    socklen_t gl = sizeof got;
    T(getsockname(s, (struct sockaddr *)&got, &gl));
    printf("getsockname len matches %d, same name %d\n", gl == len || gl == strlen(addr->sun_path) + 3,
           memcmp(got.sun_path, addr->sun_path, gl - 2) == 0);
    const int clients = 3;
    for (int i = 0; i < clients; i++) {
        if (fork() == 0) {
            int c = socket(AF_UNIX, SOCK_STREAM, 0);
            if (connect(c, (struct sockaddr *)addr, len) < 0) _exit(10);
            char msg[16];
            snprintf(msg, sizeof msg, "client%d", i);
            if (write(c, msg, strlen(msg)) != (ssize_t)strlen(msg)) _exit(11);
            shutdown(c, SHUT_WR);
            char back[16] = {0};
            ssize_t n = read(c, back, sizeof back - 1);
            if (n != (ssize_t)strlen(msg)) _exit(12);
            for (size_t k = 0; k < strlen(msg); k++)
                if (back[k] != msg[k] - 32 && !(msg[k] >= '0' && msg[k] <= '9')) _exit(13);
            if (read(c, back, 1) != 0) _exit(14);
            _exit(0);
        }
    }
    int seen = 0;
    for (int i = 0; i < clients; i++) {
        struct sockaddr_un peer;
        socklen_t pl = sizeof peer;
        int c = accept4(s, (struct sockaddr *)&peer, &pl, SOCK_CLOEXEC);
        if (c < 0) {
            printf("accept failed: %s\n", en(errno));
            continue;
        }
        struct ucred cr;
        socklen_t cl = sizeof cr;
        getsockopt(c, SOL_SOCKET, SO_PEERCRED, &cr, &cl);
        if (cr.pid != getpid() && cr.uid == getuid()) seen++;
        char buf[16] = {0};
        ssize_t n, all = 0;
        while ((n = read(c, buf + all, sizeof buf - 1 - all)) > 0) all += n;
        for (ssize_t k = 0; k < all; k++)
            if (buf[k] >= 'a' && buf[k] <= 'z') buf[k] -= 32;
        write(c, buf, all);
        if (i == 0) {
            printf("peer addr len %d\n", (int)pl);
            gl = sizeof got;
            getsockname(c, (struct sockaddr *)&got, &gl);
            printf("accepted socket has the listener's name %d\n", memcmp(got.sun_path, addr->sun_path, gl - 2) == 0);
        }
        close(c);
    }
    printf("peer creds of children ok: %d\n", seen);
    int bad = 0;
    for (int i = 0; i < clients; i++) {
        int st;
        wait(&st);
        if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) bad++;
    }
    printf("clients failed: %d\n", bad);
    close(s);
    int late = socket(AF_UNIX, SOCK_STREAM, 0);
    T(connect(late, (struct sockaddr *)addr, len));
    close(late);
}

static void backlog(void) {
    printf("--- backlog and listener close\n");
    struct sockaddr_un a;
    socklen_t len = abstract_addr(&a, "vk-backlog-test");
    int s = socket(AF_UNIX, SOCK_STREAM, 0);
    T(bind(s, (struct sockaddr *)&a, len));
    T(listen(s, 1));
    int c[3];
    for (int i = 0; i < 3; i++) {
        c[i] = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0);
        T(connect(c[i], (struct sockaddr *)&a, len));
    }
    show_poll("listener with pending", s);
    show_poll("pending client", c[0]);
    T(connect(c[0], (struct sockaddr *)&a, len));
    T(write(c[0], "lost", 4));
    T(close(s));
    show_poll("client after listener close", c[0]);
    char b[8];
    T(read(c[0], b, sizeof b));
    T(read(c[0], b, sizeof b));
    T(read(c[1], b, sizeof b));
    T(write(c[1], "x", 1));
    printf("sigpipes %d\n", sigpipes);
    for (int i = 0; i < 3; i++) close(c[i]);
    /* Autobind: just the family. */
    s = socket(AF_UNIX, SOCK_DGRAM, 0);
    T(bind(s, (struct sockaddr *)&a, sizeof(sa_family_t)));
    socklen_t gl = sizeof a;
    T(getsockname(s, (struct sockaddr *)&a, &gl));
    printf("autobind len %d abstract %d\n", (int)gl, a.sun_path[0] == 0);
    close(s);
}

static void datagrams(void) {
    printf("--- datagrams by name\n");
    struct sockaddr_un a, b, from;
    socklen_t la = path_addr(&a, dgram_path);
    socklen_t lb = abstract_addr(&b, "vk-dgram-b");
    unlink(a.sun_path);
    int x = socket(AF_UNIX, SOCK_DGRAM, 0), y = socket(AF_UNIX, SOCK_DGRAM, 0), z = socket(AF_UNIX, SOCK_DGRAM, 0);
    T(bind(x, (struct sockaddr *)&a, la));
    T(bind(y, (struct sockaddr *)&b, lb));
    struct stat st;
    T(stat(a.sun_path, &st));
    printf("is a socket %d\n", S_ISSOCK(st.st_mode));
    T(open(a.sun_path, O_RDONLY));
    T(sendto(y, "to-x", 4, 0, (struct sockaddr *)&a, la));
    T(sendto(z, "anon", 4, 0, (struct sockaddr *)&a, la));
    char buf[16] = {0};
    socklen_t fl = sizeof from;
    T(recvfrom(x, buf, sizeof buf, 0, (struct sockaddr *)&from, &fl));
    printf("from len %d abstract %d '%.*s'\n", (int)fl, from.sun_path[0] == 0, (int)fl - 3 - NAME_SUFFIX_LEN,
           from.sun_path + 1);
    fl = sizeof from;
    T(recvfrom(x, buf, sizeof buf, 0, (struct sockaddr *)&from, &fl));
    printf("from unnamed len %d\n", (int)fl);
    T(connect(x, (struct sockaddr *)&b, lb));
    T(send(x, "hi-y", 4, 0));
    T(recv(y, buf, sizeof buf, 0));
    T(connect(y, (struct sockaddr *)&a, la));
    T(sendto(z, "z", 1, 0, (struct sockaddr *)&a, la));
    T(close(y));
    T(send(x, "gone", 4, 0));
    T(send(x, "gone", 4, 0));
    close(x);
    close(z);
    T(unlink(a.sun_path));
}

static void rights(void) {
    printf("--- SCM_RIGHTS\n");
    int sv[2], p[2];
    socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
    pipe(p);
    int file = open(rights_path, O_CREAT | O_RDWR | O_TRUNC, 0600);
    write(file, "file-data", 9);
    unlink(rights_path);
    char cbuf[CMSG_SPACE(2 * sizeof(int))];
    struct msghdr m = {0};
    struct iovec io = {"R", 1};
    m.msg_iov = &io;
    m.msg_iovlen = 1;
    m.msg_control = cbuf;
    m.msg_controllen = sizeof cbuf;
    struct cmsghdr *c = CMSG_FIRSTHDR(&m);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(2 * sizeof(int));
    memcpy(CMSG_DATA(c), (int[]){p[0], file}, 2 * sizeof(int));
    T(sendmsg(sv[0], &m, 0));
    T(write(sv[0], "after", 5));
    close(p[0]);
    close(file);
    pid_t pid = fork();
    if (pid == 0) {
        char data[8];
        char rb[CMSG_SPACE(2 * sizeof(int))];
        struct iovec ri = {data, sizeof data};
        struct msghdr rm = {0};
        rm.msg_iov = &ri;
        rm.msg_iovlen = 1;
        rm.msg_control = rb;
        rm.msg_controllen = sizeof rb;
        ssize_t n = recvmsg(sv[1], &rm, MSG_CMSG_CLOEXEC);
        if (n != 1) _exit(20);  /* stops after the message with the files */
        struct cmsghdr *rc = CMSG_FIRSTHDR(&rm);
        if (!rc || rc->cmsg_type != SCM_RIGHTS || rc->cmsg_len != CMSG_LEN(2 * sizeof(int))) _exit(21);
        int fds[2];
        memcpy(fds, CMSG_DATA(rc), sizeof fds);
        if (!(fcntl(fds[0], F_GETFD) & FD_CLOEXEC)) _exit(22);
        char got[16] = {0};
        if (read(fds[0], got, sizeof got) != 4 || strcmp(got, "pipe")) _exit(23);
        if (pread(fds[1], got, 9, 0) != 9 || memcmp(got, "file-data", 9)) _exit(24);
        if (read(sv[1], got, 5) != 5) _exit(25);
        _exit(0);
    }
    T(write(p[1], "pipe", 4));
    int st;
    waitpid(pid, &st, 0);
    printf("child received pipe and file: status %d\n", WEXITSTATUS(st));

    /* A short control buffer: MSG_CTRUNC, the fds that do not fit are closed. */
    pipe(p);
    m.msg_control = cbuf;
    m.msg_controllen = sizeof cbuf;
    c = CMSG_FIRSTHDR(&m);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(2 * sizeof(int));
    memcpy(CMSG_DATA(c), (int[]){p[0], p[0]}, 2 * sizeof(int));
    T(sendmsg(sv[0], &m, 0));
    close(p[0]);
    char small[CMSG_SPACE(sizeof(int))];
    char data[4];
    struct iovec ri = {data, sizeof data};
    struct msghdr rm = {0};
    rm.msg_iov = &ri;
    rm.msg_iovlen = 1;
    rm.msg_control = small;
    rm.msg_controllen = CMSG_LEN(sizeof(int));  /* room for one fd of two */
    T(recvmsg(sv[1], &rm, 0));
    printf("MSG_CTRUNC %d controllen %d\n", !!(rm.msg_flags & MSG_CTRUNC), (int)rm.msg_controllen);
    struct cmsghdr *rc = CMSG_FIRSTHDR(&rm);
    int got_fd = -1;
    if (rc) memcpy(&got_fd, CMSG_DATA(rc), sizeof got_fd);
    T(close(got_fd));
    T(write(p[1], "x", 1));
    printf("sigpipes %d (the read end is closed everywhere)\n", sigpipes);
    close(p[1]);

    /* No control buffer at all. */
    m.msg_control = cbuf;
    m.msg_controllen = CMSG_SPACE(sizeof(int));
    c = CMSG_FIRSTHDR(&m);
    c->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(c), &sv[0], sizeof(int));
    T(sendmsg(sv[0], &m, 0));
    rm.msg_control = NULL;
    rm.msg_controllen = 0;
    T(recvmsg(sv[1], &rm, 0));
    printf("no control: MSG_CTRUNC %d\n", !!(rm.msg_flags & MSG_CTRUNC));
    c->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(c), (int[]){999}, sizeof(int));
    T(sendmsg(sv[0], &m, 0));
    close(sv[0]);
    close(sv[1]);

    /* SO_PASSCRED: SCM_CREDENTIALS with the sender's ids. */
    socketpair(AF_UNIX, SOCK_DGRAM, 0, sv);
    int one = 1;
    T(setsockopt(sv[1], SOL_SOCKET, SO_PASSCRED, &one, sizeof one));
    T(send(sv[0], "c", 1, 0));
    char cb[CMSG_SPACE(sizeof(struct ucred))];
    rm.msg_control = cb;
    rm.msg_controllen = sizeof cb;
    T(recvmsg(sv[1], &rm, 0));
    rc = CMSG_FIRSTHDR(&rm);
    if (rc && rc->cmsg_type == SCM_CREDENTIALS) {
        struct ucred u;
        memcpy(&u, CMSG_DATA(rc), sizeof u);
        printf("SCM_CREDENTIALS pid ok %d uid ok %d\n", u.pid == getpid(), u.uid == getuid());
    } else {
        printf("no SCM_CREDENTIALS\n");
    }
    close(sv[0]);
    close(sv[1]);
}

static int alarm_note = -1;  /* the handler writes a byte here when set */
static void handler(int s) {
    (void)s;
    if (alarm_note >= 0) write(alarm_note, "!", 1);
}

static void blocking(void) {
    printf("--- blocking\n");
    int sv[2];
    socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
    /* A read that blocks until a child writes. */
    pid_t pid = fork();
    if (pid == 0) {
        usleep(50000);
        write(sv[1], "late", 4);
        _exit(0);
    }
    char b[8] = {0};
    T(read(sv[0], b, sizeof b));
    waitpid(pid, NULL, 0);
    /* poll wakes when data comes. */
    pid = fork();
    if (pid == 0) {
        usleep(50000);
        write(sv[1], "p", 1);
        _exit(0);
    }
    struct pollfd p = {sv[0], POLLIN, 0};
    T(poll(&p, 1, 5000));
    printf("revents IN %d\n", !!(p.revents & POLLIN));
    T(read(sv[0], b, 1));
    waitpid(pid, NULL, 0);
    /* A blocked read and a signal: EINTR without SA_RESTART. */
    struct sigaction sa = {0};
    sa.sa_handler = handler;
    sigaction(SIGALRM, &sa, NULL);
    alarm(1);
    T(read(sv[0], b, 1));
    /* With SA_RESTART the read goes on until data comes. The child writes
     * only after the alarm has gone off (the handler tells it), so a slow
     * machine cannot reorder the two. */
    sa.sa_flags = SA_RESTART;
    sigaction(SIGALRM, &sa, NULL);
    int note[2];
    T(pipe(note));
    pid = fork();
    if (pid == 0) {
        char n;
        read(note[0], &n, 1);
        write(sv[1], "r", 1);
        _exit(0);
    }
    alarm_note = note[1];
    alarm(1);
    T(recv(sv[0], b, 1, 0));
    alarm_note = -1;
    waitpid(pid, NULL, 0);
    close(note[0]);
    close(note[1]);
    /* A blocking accept served by a child that connects later. */
    struct sockaddr_un a;
    socklen_t len = abstract_addr(&a, "vk-blocking-accept");
    int s = socket(AF_UNIX, SOCK_STREAM, 0);
    bind(s, (struct sockaddr *)&a, len);
    listen(s, 0);
    pid = fork();
    if (pid == 0) {
        usleep(50000);
        int c = socket(AF_UNIX, SOCK_STREAM, 0);
        connect(c, (struct sockaddr *)&a, len);
        write(c, "A", 1);
        _exit(0);
    }
    int c = accept(s, NULL, NULL);
    T(c >= 0);
    T(read(c, b, 1));
    waitpid(pid, NULL, 0);
    close(c);
    close(s);
    close(sv[0]);
    close(sv[1]);
}

int main(void) {
    setvbuf(stdout, NULL, _IONBF, 0);
    snprintf(name_suffix, sizeof name_suffix, "-%07d", (int)getpid() % 10000000);
    signal(SIGPIPE, on_sigpipe);
    pairs();
    errors();
    options();
    struct sockaddr_un a;
    snprintf(sock_path, sizeof sock_path, "/tmp/vk_us_%d_sock", (int)getpid());
    snprintf(dgram_path, sizeof dgram_path, "/tmp/vk_us_%d_dgram", (int)getpid());
    snprintf(rights_path, sizeof rights_path, "/tmp/vk_us_%d_file", (int)getpid());
    socklen_t len = path_addr(&a, sock_path);
    client_server("a path", &a, len);
    struct stat st;
    T(stat(sock_path, &st));
    T(unlink(sock_path));
    len = abstract_addr(&a, "vk-test-abstract");
    client_server("an abstract name", &a, len);
    backlog();
    datagrams();
    rights();
    blocking();
    return 0;
}
