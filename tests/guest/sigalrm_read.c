/* SIGALRM interrupting a blocking read (issue 3's proof): a read from an
 * empty pipe fails with EINTR when a handler without SA_RESTART runs, and
 * is restarted (returning the data a child writes later) with SA_RESTART.
 * Also a write end closed by the child gives EOF, and pipe fds survive
 * fork. Needs pipe(2). */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static volatile int alarms;
static void on_alarm(int sig) {
    (void)sig;
    alarms++;
}

static void arm_ms(long ms) {
    struct itimerval it = {{0, 0}, {ms / 1000, (ms % 1000) * 1000}};
    setitimer(ITIMER_REAL, &it, NULL);
}

static const char *err_name(int e) {
    return e == EINTR ? "EINTR" : e == EAGAIN ? "EAGAIN" : e == 0 ? "no error" : "another error";
}

int main(void) {
    /* Line by line: a run killed after a timeout still shows how far it got. */
    setvbuf(stdout, NULL, _IOLBF, 0);
    for (int with = 0; with <= 1; with++) {
        int fds[2];
        if (pipe(fds) != 0) {
            printf("pipe failed: %s\n", strerror(errno));
            return 1;
        }
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = on_alarm;
        sa.sa_flags = with ? SA_RESTART : 0;
        sigaction(SIGALRM, &sa, NULL);
        alarms = 0;
        fflush(stdout);
        /* The child writes after 300 ms, then closes its end. */
        pid_t c = fork();
        if (c == 0) {
            close(fds[0]);
            struct timespec t = {0, 300 * 1000000L};
            nanosleep(&t, NULL);
            (void)!write(fds[1], "hello", 5);
            _exit(0);
        }
        close(fds[1]);
        arm_ms(50);
        char buf[16] = {0};
        errno = 0;
        ssize_t n = read(fds[0], buf, sizeof buf);
        int e = errno;
        printf("read from an empty pipe, SIGALRM after 50 ms %s SA_RESTART: ", with ? "with" : "without");
        if (n >= 0)
            printf("%zd bytes \"%.*s\", %d SIGALRM\n", n, (int)n, buf, alarms);
        else
            printf("%zd, %s, %d SIGALRM\n", n, err_name(e), alarms);
        if (n < 0) {
            n = read(fds[0], buf, sizeof buf);
            printf("  read again: %zd bytes \"%.*s\"\n", n, n > 0 ? (int)n : 0, buf);
        }
        n = read(fds[0], buf, sizeof buf);
        printf("  then (the child exited): %zd (EOF)\n", n);
        close(fds[0]);
        int st;
        waitpid(c, &st, 0);
    }
    return 0;
}
