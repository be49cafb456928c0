/* A process tree (depth 3, fan-out 3: 39 processes) whose leaves exit with
 * a code derived from their position; every parent reaps all its children
 * with wait4 and exits with a code that sums theirs, so the top sees one
 * number per subtree. Also: getppid() in a child is its parent's getpid(),
 * process group and session are inherited, setpgid(0, 0) makes a new group,
 * and an orphan is re-parented to the top process, which reaps it.
 *
 * Only the top process prints; everything else reports through its exit
 * status, so the output is independent of scheduling and pids. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define DEPTH 3
#define FANOUT 3

/* Exit codes that mean "something was wrong" (a real subtree sum is < 200). */
#define BAD_PPID 251
#define BAD_WAIT 252
#define BAD_FORK 253
#define BAD_PGRP 254

static void check(const char *what, int ok) { printf("%s: %s\n", what, ok ? "yes" : "NO"); }

static void sleep_ms(long ms) {
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* The code of the node at `pos` (its path as a base-3 number with a leading
 * 1 per level) that has no children of its own. */
static int leaf_code(int pos) { return pos % 50 + 1; }

/* Runs in a child: checks its relations to its parent, makes its own
 * children (if depth allows), reaps them and returns its exit code. */
static int node(int depth, int pos, pid_t parent, pid_t parent_pgrp, pid_t parent_sid) {
    if (getppid() != parent) return BAD_PPID;
    if (getpgrp() != parent_pgrp || getsid(0) != parent_sid) return BAD_PGRP;
    if (depth == DEPTH) return leaf_code(pos);

    pid_t me = getpid(), kids[FANOUT];
    for (int i = 0; i < FANOUT; i++) {
        kids[i] = fork();
        if (kids[i] < 0) return BAD_FORK;
        if (kids[i] == 0) _exit(node(depth + 1, pos * FANOUT + i + 1, me, getpgrp(), getsid(0)));
    }
    /* Reap in whatever order they finish (wait4(-1)); each pid must be one
     * of ours and appear once. */
    int sum = 0, seen = 0;
    for (int n = 0; n < FANOUT; n++) {
        int status;
        struct rusage ru;
        pid_t w = wait4(-1, &status, 0, &ru);
        int which = -1;
        for (int i = 0; i < FANOUT; i++)
            if (kids[i] == w) which = i;
        if (which < 0 || (seen & (1 << which)) || !WIFEXITED(status)) return BAD_WAIT;
        seen |= 1 << which;
        int code = WEXITSTATUS(status);
        if (code > 200) return code; /* pass a child's complaint up */
        sum += code;
    }
    /* No children left. */
    if (wait4(-1, NULL, WNOHANG, NULL) != -1 || errno != ECHILD) return BAD_WAIT;
    return (sum + depth) % 200;
}

/* What the top expects from a subtree, computed without forking. */
static int expected(int depth, int pos) {
    if (depth == DEPTH) return leaf_code(pos);
    int sum = 0;
    for (int i = 0; i < FANOUT; i++) sum += expected(depth + 1, pos * FANOUT + i + 1);
    return (sum + depth) % 200;
}

static void tree(void) {
    pid_t me = getpid(), kids[FANOUT];
    fflush(stdout);
    for (int i = 0; i < FANOUT; i++) {
        kids[i] = fork();
        if (kids[i] < 0) {
            perror("fork");
            exit(1);
        }
        if (kids[i] == 0) _exit(node(1, i + 1, me, getpgrp(), getsid(0)));
    }
    /* Reap in fork order, by pid. */
    int total = 0;
    for (int i = 0; i < FANOUT; i++) {
        int status = -1;
        pid_t w = wait4(kids[i], &status, 0, NULL);
        printf("subtree %d: wait4 returned its pid: %s, ", i, w == kids[i] ? "yes" : "NO");
        if (WIFEXITED(status)) {
            printf("exited %d (expected %d)\n", WEXITSTATUS(status), expected(1, i + 1));
            total += WEXITSTATUS(status);
        } else {
            printf("status 0x%x\n", status);
        }
    }
    printf("total of subtree codes: %d\n", total);
    errno = 0;
    pid_t w = wait4(-1, NULL, 0, NULL);
    check("no children left (wait4 gives ECHILD)", w == -1 && errno == ECHILD);
}

/* fork() returns 0 in the child and the child's pid in the parent; the
 * child's getppid() is the parent; a zombie keeps its pid until reaped. */
static void relations(void) {
    pid_t me = getpid();
    fflush(stdout);
    pid_t c = fork();
    if (c == 0) _exit(getppid() == me ? 0 : 1);
    int status;
    check("fork returned a new pid in the parent", c > 0 && c != me);
    waitpid(c, &status, 0);
    check("child's getppid() == parent's getpid()", WIFEXITED(status) && WEXITSTATUS(status) == 0);

    /* Exit codes are 8 bits. */
    c = fork();
    if (c == 0) _exit(256 + 7);
    waitpid(c, &status, 0);
    printf("_exit(263) gives WEXITSTATUS %d\n", WIFEXITED(status) ? WEXITSTATUS(status) : -1);

    /* A child that makes its own process group. */
    c = fork();
    if (c == 0) {
        if (setpgid(0, 0) != 0) _exit(1);
        if (getpgrp() != getpid() || getpgid(0) != getpid()) _exit(2);
        if (getsid(0) != getsid(getppid())) _exit(3);
        _exit(0);
    }
    waitpid(c, &status, 0);
    printf("setpgid(0, 0) in a child: %s\n",
           WIFEXITED(status) && WEXITSTATUS(status) == 0 ? "own group, same session" : "WRONG");

    /* WNOHANG on a child that has not exited: 0. The child waits for
     * SIGKILL (bounded: it gives up after 10 s). */
    c = fork();
    if (c == 0) {
        sleep_ms(10000);
        _exit(0);
    }
    pid_t w = waitpid(c, &status, WNOHANG);
    check("waitpid(WNOHANG) on a running child returns 0", w == 0);
    kill(c, SIGKILL);
    w = waitpid(c, &status, 0);
    check("then it is reaped after SIGKILL", w == c && WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
}

/* The middle process exits while its child lives on: the orphan gets a new
 * parent. On Linux that is the nearest child subreaper, or init; the top
 * makes itself a subreaper, and inside the vkernel the top is init (pid 1),
 * so in both cases the orphan's new parent is the top, which reaps it. */
static void orphan(void) {
    /* Under the vkernel this may fail (EINVAL): the top is init there. */
    prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
    pid_t top = getpid();
    fflush(stdout);
    pid_t middle = fork();
    if (middle == 0) {
        pid_t me = getpid();
        pid_t orphan = fork();
        if (orphan == 0) {
            /* Wait (up to 5 s) for the middle process to go away. */
            for (int i = 0; i < 5000 && getppid() == me; i++) sleep_ms(1);
            if (getppid() == me) _exit(2);
            _exit(getppid() == top ? 40 : 41);
        }
        _exit(orphan > 0 ? 30 : 31);
    }
    int status;
    waitpid(middle, &status, 0);
    printf("middle process exited %d\n", WIFEXITED(status) ? WEXITSTATUS(status) : -1);
    /* The only child left is the orphan. */
    pid_t w = wait4(-1, &status, 0, NULL);
    check("the top reaps the orphan", w > 0 && w != middle);
    printf("orphan exited %d (40: its new parent is the top)\n",
           WIFEXITED(status) ? WEXITSTATUS(status) : -1);
    errno = 0;
    w = wait4(-1, &status, 0, NULL);
    check("no children left", w == -1 && errno == ECHILD);
}

int main(void) {
    /* Line by line: a run killed after a timeout still shows how far it got. */
    setvbuf(stdout, NULL, _IOLBF, 0);
    relations();
    tree();
    orphan();
    return 0;
}
