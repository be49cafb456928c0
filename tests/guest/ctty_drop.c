// TIOCNOTTY by a process that is not its session's leader: that process
// (and what it forks later) loses the controlling terminal, the rest of the
// session keeps it. Run from an interactive shell on a terminal (the
// vkernel's console in tests/e2e/tty_interactive.py); prints each result
// and then "ctty_drop: ok" or "ctty_drop: FAILED".
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <unistd.h>

static int failures;

static void expect(const char* what, int got_errno, int want_errno) {
    printf("%s: %s\n", what, got_errno ? strerror(got_errno) : "ok");
    if (got_errno != want_errno) failures++;
}

// open("/dev/tty"): 0 or the errno.
static int open_tty(void) {
    int fd = open("/dev/tty", O_RDWR | O_NOCTTY);
    if (fd < 0) return errno;
    close(fd);
    return 0;
}

// TIOCGPGRP on stdin (the terminal): 0 or the errno.
static int foreground(void) {
    pid_t pg;
    return ioctl(0, TIOCGPGRP, &pg) < 0 ? errno : 0;
}

int main(void) {
    setvbuf(stdout, NULL, _IONBF, 0);
    if (getpid() == getsid(0)) {
        printf("ctty_drop: run me from a shell, not as a session leader\n");
        return 1;
    }
    expect("before: open /dev/tty", open_tty(), 0);
    pid_t pid = fork();
    if (pid == 0) {
        failures = 0;
        expect("child: TIOCNOTTY", ioctl(0, TIOCNOTTY) < 0 ? errno : 0, 0);
        expect("child: open /dev/tty", open_tty(), ENXIO);
        expect("child: TIOCGPGRP", foreground(), ENOTTY);
        expect("child: TIOCNOTTY again", ioctl(0, TIOCNOTTY) < 0 ? errno : 0, ENOTTY);
        pid_t g = fork();
        if (g == 0) {
            failures = 0;
            expect("grandchild: open /dev/tty", open_tty(), ENXIO);
            _exit(failures ? 1 : 0);
        }
        int st;
        waitpid(g, &st, 0);
        if (!WIFEXITED(st) || WEXITSTATUS(st)) failures++;
        _exit(failures ? 1 : 0);
    }
    int st;
    waitpid(pid, &st, 0);
    if (!WIFEXITED(st) || WEXITSTATUS(st)) failures++;
    expect("parent: open /dev/tty", open_tty(), 0);
    expect("parent: TIOCGPGRP", foreground(), 0);
    printf("ctty_drop: %s\n", failures ? "FAILED" : "ok");
    return failures ? 1 : 0;
}
