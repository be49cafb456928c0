/* vfork: the child shares the parent's memory and the parent is suspended
 * until the child calls _exit or execve.
 *   vfork_exec              the tests below
 *   vfork_exec exit N       exits with N (the exec'd child)
 *   vfork_exec wait         waits (up to 10 s) for a signal (the exec'd
 *                           child that outlives the parent's resumption)
 * The order of events is logged in memory the vfork child shares with the
 * parent, and printed by the parent. */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static void check(const char *what, int ok) { printf("%s: %s\n", what, ok ? "yes" : "NO"); }

static long long now_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1000000000LL + t.tv_nsec;
}

static const char *events[16];
static volatile int nevents;
static void event(const char *e) { events[nevents++] = e; }

static void print_events(const char *what) {
    printf("%s:", what);
    for (int i = 0; i < nevents; i++) printf(" %s%s", events[i], i + 1 < nevents ? "," : "");
    printf("\n");
    nevents = 0;
}

static volatile pid_t child_pid_seen;
static volatile int child_value;
static volatile int child_errno;

static const char *self;

static void vfork_exit(void) {
    child_value = 0;
    fflush(stdout);
    long long t0 = now_ns();
    pid_t c = vfork();
    if (c == 0) {
        event("child runs");
        child_value = 42;
        child_pid_seen = (pid_t)syscall(SYS_getpid);
        /* The parent stays suspended while we sleep. */
        struct timespec t = {0, 100 * 1000000L};
        syscall(SYS_nanosleep, &t, NULL);
        event("child exits");
        _exit(3);
    }
    long long took = now_ns() - t0;
    event("parent resumes");
    print_events("vfork + _exit");
    check("the child's write to shared memory is seen", child_value == 42);
    check("vfork returned the child's pid", c > 0 && child_pid_seen == c && c != getpid());
    check("the parent was suspended while the child slept (>= 100 ms)", took >= 100 * 1000000LL);
    int status;
    pid_t w = waitpid(c, &status, 0);
    printf("waitpid: %s, exit %d\n", w == c ? "the child" : "NOT the child",
           WIFEXITED(status) ? WEXITSTATUS(status) : -1);
}

static void vfork_exec_exit(void) {
    char a1[] = "exit", a2[] = "9";
    char *argv[] = {(char *)self, a1, a2, NULL};
    char *envp[] = {NULL};
    fflush(stdout);
    pid_t c = vfork();
    if (c == 0) {
        event("child execs");
        execve(self, argv, envp);
        child_errno = errno;
        _exit(127);
    }
    event("parent resumes");
    print_events("vfork + execve");
    int status;
    pid_t w = waitpid(c, &status, 0);
    printf("waitpid: %s, exit %d\n", w == c ? "the child" : "NOT the child",
           WIFEXITED(status) ? WEXITSTATUS(status) : -1);
}

static void vfork_exec_runs_on(void) {
    char a1[] = "wait";
    char *argv[] = {(char *)self, a1, NULL};
    char *envp[] = {NULL};
    fflush(stdout);
    pid_t c = vfork();
    if (c == 0) {
        execve(self, argv, envp);
        _exit(127);
    }
    /* Resumed at execve, not at the exec'd program's exit. */
    int status;
    pid_t w = waitpid(c, &status, WNOHANG);
    check("after execve the parent runs while the child still runs", w == 0);
    kill(c, SIGTERM);
    w = waitpid(c, &status, 0);
    printf("then SIGTERM: %s\n",
           w == c && WIFSIGNALED(status) && WTERMSIG(status) == SIGTERM ? "killed by SIGTERM" : "WRONG");
}

static void vfork_exec_fails(void) {
    char *argv[] = {(char *)"nothing", NULL};
    child_errno = 0;
    fflush(stdout);
    pid_t c = vfork();
    if (c == 0) {
        execve("/nonexistent/program", argv, argv + 1);
        child_errno = errno;
        event("child's execve failed");
        _exit(127);
    }
    event("parent resumes");
    print_events("vfork + failing execve");
    printf("the child's errno, through shared memory: %s\n", child_errno == ENOENT ? "ENOENT" : "other");
    int status;
    waitpid(c, &status, 0);
    printf("exit %d\n", WIFEXITED(status) ? WEXITSTATUS(status) : -1);
}

/* Several vforks in a row, each child exits with its index. */
static void many(void) {
    volatile int sum = 0;
    for (volatile int i = 0; i < 50; i++) {
        pid_t c = vfork();
        if (c == 0) _exit(i);
        int status;
        waitpid(c, &status, 0);
        sum += WEXITSTATUS(status);
    }
    printf("50 vfork + _exit: exit codes sum to %d\n", sum);
}

int main(int argc, char **argv) {
    /* Line by line: a run killed after a timeout still shows how far it got. */
    setvbuf(stdout, NULL, _IOLBF, 0);
    self = argv[0];
    if (argc == 3 && strcmp(argv[1], "exit") == 0) return atoi(argv[2]);
    if (argc == 2 && strcmp(argv[1], "wait") == 0) {
        for (int i = 0; i < 100; i++) {
            struct timespec t = {0, 100 * 1000000L};
            nanosleep(&t, NULL);
        }
        return 100;
    }
    vfork_exit();
    vfork_exec_exit();
    vfork_exec_runs_on();
    vfork_exec_fails();
    many();
    return 0;
}
