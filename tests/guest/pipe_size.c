/* F_GETPIPE_SZ / F_SETPIPE_SZ, compared with the host: rounding to a
 * power-of-two number of pages, the capacity really changing (how much a
 * non-blocking writer gets in), EBUSY below what the pipe holds, EINVAL
 * above 2 GiB, EPERM above /proc/sys/fs/pipe-max-size for a non-root
 * caller (root may go past it), EBADF for what is not a pipe, and PIPE_BUF
 * atomicity in a one-page pipe. Run as root. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static const char *ename(long r) {
    if (r >= 0) return "ok";
    switch (errno) {
    case EBADF: return "EBADF";
    case EBUSY: return "EBUSY";
    case EINVAL: return "EINVAL";
    case EPERM: return "EPERM";
    case EAGAIN: return "EAGAIN";
    default: return strerror(errno);
    }
}

static void setsz(int fd, long size) {
    long r = fcntl(fd, F_SETPIPE_SZ, size);
    printf("F_SETPIPE_SZ %ld = %ld %s\n", size, r, ename(r));
}

/* Bytes a non-blocking writer gets in with `chunk`-byte writes. */
static long fill(int fd, size_t chunk) {
    static char buf[1 << 16];
    long total = 0;
    for (;;) {
        ssize_t n = write(fd, buf, chunk);
        if (n < 0) break;
        total += n;
    }
    return total;
}

static void drain(int fd) {
    char buf[4096];
    while (read(fd, buf, sizeof buf) > 0) {}
}

/* Whether CAP_SYS_RESOURCE is in this process's effective set. */
static int has_sys_resource(void) {
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    unsigned long long caps = 0;
    while (f && fgets(line, sizeof line, f))
        if (sscanf(line, "CapEff: %llx", &caps) == 1) break;
    if (f) fclose(f);
    return (caps >> 24) & 1;
}

int main(void) {
    setvbuf(stdout, NULL, _IONBF, 0);
    int p[2];
    if (pipe2(p, O_NONBLOCK)) return 1;
    printf("default: %d %d\n", fcntl(p[0], F_GETPIPE_SZ), fcntl(p[1], F_GETPIPE_SZ));
    printf("default fill: %ld\n", fill(p[1], 4096));
    drain(p[0]);

    setsz(p[0], 0);
    setsz(p[1], 1);
    printf("one page, 1-byte writes: %ld\n", fill(p[1], 1));
    drain(p[0]);
    printf("one page, 8192-byte write: %ld\n", (long)write(p[1], (char[8192]){0}, 8192));
    drain(p[0]);
    /* PIPE_BUF: 4096 bytes go in whole or not at all. */
    printf("1 byte in: %ld\n", (long)write(p[1], "x", 1));
    long r = write(p[1], (char[4096]){0}, 4096);
    printf("4096 more: %ld %s\n", r, ename(r));
    r = write(p[1], (char[4095]){0}, 4095);
    printf("4095 more: %ld %s\n", r, ename(r));
    drain(p[0]);

    setsz(p[1], 4097);
    setsz(p[1], 65537);
    printf("128 KiB pipe fill: %ld\n", fill(p[1], 4096));
    drain(p[0]);
    setsz(p[1], 16384);
    printf("12289 in: %ld\n", (long)write(p[1], (char[12289]){0}, 12289));
    setsz(p[1], 8192);
    setsz(p[1], 4096);
    setsz(p[1], 16384);
    setsz(p[0], 65536);
    printf("after: %d\n", fcntl(p[0], F_GETPIPE_SZ));
    drain(p[0]);

    setsz(p[1], 1 << 20);
    /* Past pipe-max-size only with CAP_SYS_RESOURCE (root in a container
     * may lack it): the answer must follow the capability. */
    r = fcntl(p[1], F_SETPIPE_SZ, (1 << 20) + 1);
    int cap = has_sys_resource();
    printf("past pipe-max-size as the capability says: %s\n",
           (cap ? r == 2 << 20 : r < 0 && errno == EPERM) ? "yes" : "no");
    setsz(p[1], 0x80000001L);
    setsz(p[1], -1);

    int max = 0;
    FILE *f = fopen("/proc/sys/fs/pipe-max-size", "r");
    if (f && fscanf(f, "%d", &max) == 1) printf("pipe-max-size: %d\n", max);
    if (f) fclose(f);

    /* Not pipes. */
    int fd = open("/dev/null", O_RDWR);
    r = fcntl(fd, F_GETPIPE_SZ);
    printf("/dev/null F_GETPIPE_SZ: %s\n", ename(r));
    r = fcntl(fd, F_SETPIPE_SZ, 4096);
    printf("/dev/null F_SETPIPE_SZ: %s\n", ename(r));
    close(fd);
    char path[] = "/tmp/pipe_size.XXXXXX";
    fd = mkstemp(path);
    r = fcntl(fd, F_GETPIPE_SZ);
    printf("file F_GETPIPE_SZ: %s\n", ename(r));
    unlink(path);
    close(fd);

    /* A non-root caller: up to pipe-max-size, and may shrink a big pipe. */
    pid_t pid = fork();
    if (pid == 0) {
        if (setresgid(65534, 65534, 65534) || setresuid(65534, 65534, 65534)) _exit(1);
        setsz(p[1], 1 << 20);  /* shrinks from 2 MiB: allowed */
        setsz(p[1], 2 << 20);  /* grows past pipe-max-size */
        setsz(p[1], 4096);
        setsz(p[1], 1 << 20);
        _exit(0);
    }
    int st;
    waitpid(pid, &st, 0);
    printf("child status %d\n", WEXITSTATUS(st));
    return 0;
}
