/* FIFOs: mkfifo/mknod on tmpfs, the open rules (O_RDONLY waits for a
 * writer and O_WRONLY for a reader, O_NONBLOCK, ENXIO, O_RDWR), pipe
 * semantics between a parent and a child, EOF, EPIPE, poll, and the
 * buffer going away with the last opener. Prints results and errno names. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static const char *en(int e) {
    switch (e) {
    case 0: return "OK";
    case EAGAIN: return "EAGAIN";
    case EPIPE: return "EPIPE";
    case ENXIO: return "ENXIO";
    case EEXIST: return "EEXIST";
    case EINTR: return "EINTR";
    case ESPIPE: return "ESPIPE";
    case ENOENT: return "ENOENT";
    default: return "other";
    }
}

#define T(expr) do { errno = 0; long r_ = (long)(expr); \
    printf("%-52s -> %ld %s\n", #expr, r_, r_ < 0 ? en(errno) : ""); } while (0)

static void on_signal(int s) { (void)s; }

int main(void) {
    setvbuf(stdout, NULL, _IONBF, 0);
    signal(SIGPIPE, SIG_IGN);
    char path[64], path2[64];
    snprintf(path, sizeof path, "/tmp/vk_fifo_%d", (int)getpid());
    snprintf(path2, sizeof path2, "/tmp/vk_fifo2_%d", (int)getpid());
    T(mkfifo(path, 0600));
    T(mkfifo(path, 0600));
    T(mknod(path2, S_IFIFO | 0644, 0));
    struct stat st;
    T(stat(path, &st));
    printf("S_ISFIFO %d mode %o\n", S_ISFIFO(st.st_mode), st.st_mode & 0777);

    /* Non-blocking opens. */
    T(open(path, O_WRONLY | O_NONBLOCK));
    int r = open(path, O_RDONLY | O_NONBLOCK);
    T(r >= 0);
    char b[64];
    T(read(r, b, sizeof b));  /* no writer: EOF */
    int w = open(path, O_WRONLY | O_NONBLOCK);
    T(w >= 0);
    T(read(r, b, sizeof b));  /* a writer, no data: EAGAIN */
    T(write(w, "abc", 3));
    T(lseek(w, 0, SEEK_SET));
    int n = 0;
    T(ioctl(r, FIONREAD, &n));
    printf("FIONREAD %d\n", n);
    struct pollfd p[2] = {{r, POLLIN, 0}, {w, POLLOUT, 0}};
    T(poll(p, 2, 0));
    printf("reader IN %d writer OUT %d\n", !!(p[0].revents & POLLIN), !!(p[1].revents & POLLOUT));
    T(read(r, b, sizeof b));
    T(close(w));
    T(read(r, b, sizeof b));  /* writer gone: EOF */
    p[0].revents = 0;
    T(poll(p, 1, 0));
    printf("reader HUP %d\n", !!(p[0].revents & POLLHUP));
    w = open(path, O_WRONLY | O_NONBLOCK);
    T(close(r));
    T(write(w, "x", 1));  /* no reader: EPIPE */
    T(close(w));

    /* Data does not outlive the last opener. */
    int rw = open(path, O_RDWR);
    T(rw >= 0);
    T(write(rw, "stale", 5));
    T(close(rw));
    rw = open(path, O_RDWR | O_NONBLOCK);
    T(read(rw, b, sizeof b));
    T(close(rw));

    /* Blocking opens meet between a parent and a child. */
    pid_t pid = fork();
    if (pid == 0) {
        usleep(50000);
        int cw = open(path, O_WRONLY);  /* the parent's reader is waiting */
        if (cw < 0) _exit(1);
        for (int i = 0; i < 3; i++) {
            char m[16];
            snprintf(m, sizeof m, "line %d\n", i);
            write(cw, m, strlen(m));
            usleep(10000);
        }
        close(cw);
        int cr = open(path2, O_RDONLY);  /* waits for the parent to open for writing */
        if (cr < 0) _exit(2);
        ssize_t k = read(cr, b, sizeof b);
        _exit(k == 4 && memcmp(b, "pong", 4) == 0 ? 0 : 3);
    }
    r = open(path, O_RDONLY);
    T(r >= 0);
    ssize_t k, all = 0;
    char text[128] = {0};
    while ((k = read(r, text + all, sizeof text - 1 - all)) > 0) all += k;
    printf("read from child: %s", text);
    T(close(r));
    usleep(50000);
    w = open(path2, O_WRONLY);
    T(w >= 0);
    T(write(w, "pong", 4));
    int status;
    waitpid(pid, &status, 0);
    printf("child status %d\n", WEXITSTATUS(status));
    T(close(w));

    /* A blocked open is interrupted by a signal (no SA_RESTART): EINTR. */
    struct sigaction sa = {0};
    sa.sa_handler = on_signal;
    sigaction(SIGALRM, &sa, NULL);
    alarm(1);
    T(open(path, O_WRONLY));
    /* With SA_RESTART it restarts and completes once a reader comes. */
    sa.sa_flags = SA_RESTART;
    sigaction(SIGALRM, &sa, NULL);
    pid = fork();
    if (pid == 0) {
        usleep(1500000);
        int cr = open(path, O_RDONLY);
        read(cr, b, 1);
        _exit(0);
    }
    alarm(1);
    w = open(path, O_WRONLY);
    T(w >= 0);
    T(write(w, "!", 1));
    waitpid(pid, NULL, 0);
    close(w);
    T(unlink(path));
    T(unlink(path2));
    return 0;
}
