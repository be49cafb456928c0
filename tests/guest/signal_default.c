/* Default signal actions, seen by the parent through wait status: children
 * killed by signals sent with kill() and by CPU faults (SIGSEGV, SIGFPE,
 * SIGILL, SIGTRAP, SIGABRT), stopped and continued (WUNTRACED/WCONTINUED
 * and waitid), signals whose default is to ignore, SIG_IGN, a process group
 * killed as a whole, and SIGCHLD set to SIG_IGN or SA_NOCLDWAIT reaping
 * children automatically.
 *
 * WCOREDUMP is not printed: natively it depends on RLIMIT_CORE and the core
 * pattern (compare.py sets RLIMIT_CORE to 0), inside the vkernel on its
 * policy. Only the parent prints. */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static void check(const char *what, int ok) { printf("%s: %s\n", what, ok ? "yes" : "NO"); }

static void sleep_ms(long ms) {
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* Children wait for their fate for at most 10 s, so nothing hangs. */
static void wait_forever(void) {
    for (int i = 0; i < 100; i++) sleep_ms(100);
    _exit(100);
}

static void describe(const char *what, int status) {
    printf("%s: ", what);
    if (WIFEXITED(status))
        printf("exited %d\n", WEXITSTATUS(status));
    else if (WIFSIGNALED(status))
        printf("killed by signal %d\n", WTERMSIG(status));
    else if (WIFSTOPPED(status))
        printf("stopped by signal %d\n", WSTOPSIG(status));
    else
        printf("status 0x%x\n", status);
}

static pid_t spawn(void (*fn)(void)) {
    fflush(stdout);
    pid_t c = fork();
    if (c < 0) {
        perror("fork");
        exit(1);
    }
    if (c == 0) {
        fn();
        _exit(0);
    }
    return c;
}

static int reap(pid_t c) {
    int status = -1;
    if (waitpid(c, &status, 0) != c) printf("waitpid failed: %s\n", strerror(errno));
    return status;
}

/* --- killed by kill() --------------------------------------------------- */

static void killed_by(int sig) {
    pid_t c = spawn(wait_forever);
    kill(c, sig);
    char what[64];
    snprintf(what, sizeof what, "kill(child, %d)", sig);
    describe(what, reap(c));
}

/* --- killed by its own fault -------------------------------------------- */

static void do_null_write(void) { *(volatile int *)0 = 1; }
static void do_abort(void) { abort(); }
static void do_div0(void) {
    /* A real idiv: in C, division by zero is undefined and may be dropped. */
    __asm__ volatile("xor %%ecx, %%ecx\n\tmov $1, %%eax\n\tcltd\n\tidivl %%ecx" ::: "eax", "ecx", "edx");
}
static void do_ud2(void) { __asm__ volatile("ud2"); }
static void do_int3(void) { __asm__ volatile("int3"); }
static void do_raise_segv(void) { raise(SIGSEGV); }
static void do_exit_code(void) { exit(42); }

static void fault(const char *what, void (*fn)(void)) { describe(what, reap(spawn(fn))); }

/* --- stop and continue -------------------------------------------------- */

static void stop_continue(void) {
    pid_t c = spawn(wait_forever);
    int status;
    kill(c, SIGSTOP);
    pid_t w = waitpid(c, &status, WUNTRACED);
    check("waitpid(WUNTRACED) returns the child", w == c);
    check("WIFSTOPPED", WIFSTOPPED(status));
    printf("WSTOPSIG = %d\n", WIFSTOPPED(status) ? WSTOPSIG(status) : -1);
    /* Reported once only. */
    check("a second waitpid(WUNTRACED|WNOHANG) gives 0", waitpid(c, &status, WUNTRACED | WNOHANG) == 0);

    kill(c, SIGCONT);
    w = waitpid(c, &status, WCONTINUED);
    check("waitpid(WCONTINUED) returns the child", w == c);
    check("WIFCONTINUED", WIFCONTINUED(status));
    check("a second waitpid(WCONTINUED|WNOHANG) gives 0", waitpid(c, &status, WCONTINUED | WNOHANG) == 0);

    kill(c, SIGKILL);
    describe("then SIGKILL", reap(c));

    /* The same through waitid and its siginfo. */
    c = spawn(wait_forever);
    siginfo_t si;
    kill(c, SIGSTOP);
    memset(&si, 0, sizeof si);
    int r = waitid(P_PID, c, &si, WSTOPPED);
    check("waitid(WSTOPPED) returns 0", r == 0);
    check("si_pid is the child", si.si_pid == c);
    check("si_code == CLD_STOPPED", si.si_code == CLD_STOPPED);
    printf("si_signo = %d, si_status = %d\n", si.si_signo, si.si_status);
    kill(c, SIGCONT);
    memset(&si, 0, sizeof si);
    r = waitid(P_PID, c, &si, WCONTINUED);
    check("waitid(WCONTINUED) returns 0", r == 0);
    check("si_code == CLD_CONTINUED", si.si_code == CLD_CONTINUED);
    printf("si_status = %d\n", si.si_status);
    /* A stopped process that gets SIGKILL dies (no SIGCONT needed). */
    kill(c, SIGSTOP);
    waitid(P_PID, c, &si, WSTOPPED);
    kill(c, SIGKILL);
    /* WNOWAIT leaves it a zombie: it can still be signalled (kill(pid, 0)). */
    memset(&si, 0, sizeof si);
    r = waitid(P_PID, c, &si, WEXITED | WNOWAIT);
    check("waitid(WEXITED|WNOWAIT) returns 0", r == 0);
    check("si_code == CLD_KILLED", si.si_code == CLD_KILLED);
    printf("si_status = %d\n", si.si_status);
    check("kill(zombie, 0) succeeds", kill(c, 0) == 0);
    memset(&si, 0, sizeof si);
    r = waitid(P_PID, c, &si, WEXITED);
    check("waitid(WEXITED) reaps it", r == 0 && si.si_pid == c && si.si_status == SIGKILL);
    errno = 0;
    check("then waitid gives ECHILD", waitid(P_PID, c, &si, WEXITED) == -1 && errno == ECHILD);
}

/* --- signals whose default action is to ignore, and SIG_IGN -------------- */

static void on_usr1_exit(int sig) {
    (void)sig;
    _exit(7);
}

/* The child has SIGUSR1 -> _exit(7) (inherited, so there is no race) and
 * gets the ignored signals first, then SIGUSR1: exit 7 means it survived. */
static void ignored_by_default(void) {
    struct sigaction sa, old;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_usr1_exit;
    sigaction(SIGUSR1, &sa, &old);
    pid_t c = spawn(wait_forever);
    sigaction(SIGUSR1, &old, NULL);
    kill(c, SIGCHLD);
    kill(c, SIGURG);
    kill(c, SIGWINCH);
    kill(c, SIGCONT);
    kill(c, SIGUSR1);
    describe("SIGCHLD, SIGURG, SIGWINCH, SIGCONT then SIGUSR1 (handler exits 7)", reap(c));

    /* SIG_IGN for SIGTERM (inherited across fork): SIGTERM does nothing. */
    signal(SIGTERM, SIG_IGN);
    sigaction(SIGUSR1, &sa, &old);
    c = spawn(wait_forever);
    signal(SIGTERM, SIG_DFL);
    sigaction(SIGUSR1, &old, NULL);
    kill(c, SIGTERM);
    kill(c, SIGTERM);
    kill(c, SIGUSR1);
    describe("SIG_IGN'd SIGTERM twice then SIGUSR1 (handler exits 7)", reap(c));

    /* SIGKILL cannot be ignored or caught. */
    errno = 0;
    int r = sigaction(SIGKILL, &sa, NULL);
    check("sigaction(SIGKILL) fails with EINVAL", r == -1 && errno == EINVAL);
    errno = 0;
    r = (signal(SIGSTOP, SIG_IGN) == SIG_ERR);
    check("SIG_IGN for SIGSTOP fails with EINVAL", r && errno == EINVAL);
}

/* --- a process group killed as a whole ------------------------------------ */

static volatile sig_atomic_t got_usr2;
static void on_usr2(int sig) { got_usr2 = sig; }

/* The child makes its own group, forks two grandchildren (in that group),
 * ignores SIGTERM itself, tells the parent, and exits with the sum of the
 * grandchildren's WTERMSIGs. */
static void group_leader(void) {
    setpgid(0, 0);
    pid_t g1 = fork();
    if (g1 == 0) wait_forever();
    pid_t g2 = fork();
    if (g2 == 0) wait_forever();
    signal(SIGTERM, SIG_IGN);
    kill(getppid(), SIGUSR2);
    int s1, s2;
    waitpid(g1, &s1, 0);
    waitpid(g2, &s2, 0);
    int sum = (WIFSIGNALED(s1) ? WTERMSIG(s1) : 100) + (WIFSIGNALED(s2) ? WTERMSIG(s2) : 100);
    _exit(sum);
}

static void process_group(void) {
    sigset_t usr2, old;
    sigemptyset(&usr2);
    sigaddset(&usr2, SIGUSR2);
    sigprocmask(SIG_BLOCK, &usr2, &old);
    signal(SIGUSR2, on_usr2);
    pid_t c = spawn(group_leader);
    struct timespec limit = {10, 0};
    int sig = sigtimedwait(&usr2, NULL, &limit);
    check("the group leader is ready (SIGUSR2 arrived)", sig == SIGUSR2);
    check("getpgid(child) == child", getpgid(c) == c);
    int r = kill(-c, SIGTERM);
    check("kill(-pgid, SIGTERM) succeeds", r == 0);
    describe("group leader (exit code = sum of its children's WTERMSIGs)", reap(c));
    signal(SIGUSR2, SIG_DFL);
    sigprocmask(SIG_SETMASK, &old, NULL);
    errno = 0;
    check("kill(-pgid) of a gone group gives ESRCH", kill(-c, SIGTERM) == -1 && errno == ESRCH);
}

/* --- SIGCHLD: SIG_IGN and SA_NOCLDWAIT reap automatically ------------------ */

static void exit5(void) { _exit(5); }
static void exit_later(void) {
    sleep_ms(50);
    _exit(6);
}

static volatile sig_atomic_t chld_count;
static void on_chld(int sig) {
    (void)sig;
    chld_count++;
}

static void autoreap(void) {
    signal(SIGCHLD, SIG_IGN);
    pid_t a = spawn(exit5), b = spawn(exit_later);
    (void)a;
    (void)b;
    /* wait blocks until both are gone, then there is nothing to reap. */
    int status;
    errno = 0;
    pid_t w = wait(&status);
    check("SIGCHLD SIG_IGN: wait() gives ECHILD", w == -1 && errno == ECHILD);
    signal(SIGCHLD, SIG_DFL);

    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_chld;
    sa.sa_flags = SA_NOCLDWAIT | SA_RESTART;
    sigaction(SIGCHLD, &sa, NULL);
    chld_count = 0;
    a = spawn(exit_later);
    errno = 0;
    w = wait(&status);
    int e = errno;
    check("SA_NOCLDWAIT: wait() gives ECHILD", w == -1 && e == ECHILD);
    /* On Linux the handler still runs. */
    printf("SA_NOCLDWAIT: SIGCHLD handler ran %d time(s)\n", (int)chld_count);
    signal(SIGCHLD, SIG_DFL);

    /* Default SIGCHLD: the zombie waits for us. */
    a = spawn(exit5);
    describe("default SIGCHLD: child", reap(a));
}

int main(void) {
    /* Line by line: a run killed after a timeout still shows how far it got. */
    setvbuf(stdout, NULL, _IOLBF, 0);
    killed_by(SIGHUP);
    killed_by(SIGINT);
    killed_by(SIGQUIT);
    killed_by(SIGUSR1);
    killed_by(SIGUSR2);
    killed_by(SIGPIPE);
    killed_by(SIGALRM);
    killed_by(SIGTERM);
    killed_by(SIGKILL);
    killed_by(SIGSYS);
    killed_by(SIGXCPU);
    killed_by(40); /* real-time signals terminate too */
    killed_by(64);

    fault("NULL write", do_null_write);
    fault("abort()", do_abort);
    fault("integer division by zero", do_div0);
    fault("ud2", do_ud2);
    fault("int3", do_int3);
    fault("raise(SIGSEGV)", do_raise_segv);
    fault("exit(42)", do_exit_code);

    stop_continue();
    ignored_by_default();
    process_group();
    autoreap();
    return 0;
}
