/* Signal handlers and the signal mask:
 *  - SA_SIGINFO: si_signo/si_code/si_pid/si_uid for kill (SI_USER) and
 *    raise/tgkill (SI_TKILL);
 *  - the mask inside a handler (the signal itself plus sa_mask; not with
 *    SA_NODEFER), SA_RESETHAND, SA_NODEFER re-entry;
 *  - sigprocmask deferring delivery (sigpending), standard signals merged
 *    and real-time signals queued, SIG_IGN discarding a pending signal,
 *    SIGKILL/SIGSTOP not blockable;
 *  - sigsuspend, sigtimedwait/sigwaitinfo (picks a pending signal, EAGAIN
 *    on timeout);
 *  - alarm and setitimer interrupting pause, nanosleep and clock_nanosleep
 *    (EINTR with the time left), periodic itimers, getitimer;
 *  - SA_RESTART: waitpid on a sleeping child restarts with it and fails
 *    with EINTR without it; nanosleep is never restarted after a handler;
 *    a stop/continue without a handler resumes a sleep transparently;
 *  - FPU/SSE state (xmm registers, MXCSR rounding mode) preserved across a
 *    handler, which itself starts with the default FPU state.
 * Prints relations and error names only. Takes ~2 s (alarm(1) and sleeps). */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/time.h>
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

static const char *err_name(int e) {
    switch (e) {
    case 0: return "no error";
    case EINTR: return "EINTR";
    case EAGAIN: return "EAGAIN";
    case EINVAL: return "EINVAL";
    case ECHILD: return "ECHILD";
    case ESRCH: return "ESRCH";
    default: return "another error";
    }
}

/* The SSE rounding mode (MXCSR.RC), without libm (glibc's fenv is there). */
enum { ROUND_NEAREST = 0, ROUND_DOWN = 1, ROUND_UP = 2, ROUND_ZERO = 3 };
static int get_round(void) {
    unsigned m;
    __asm__ volatile("stmxcsr %0" : "=m"(m));
    return (m >> 13) & 3;
}
static void set_round(int r) {
    unsigned m;
    __asm__ volatile("stmxcsr %0" : "=m"(m));
    m = (m & ~(3u << 13)) | ((unsigned)r << 13);
    __asm__ volatile("ldmxcsr %0" : : "m"(m));
}

static pid_t gettid_(void) { return (pid_t)syscall(SYS_gettid); }

static void set_handler(int sig, void (*fn)(int, siginfo_t *, void *), int flags, const sigset_t *mask) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = fn;
    sa.sa_flags = SA_SIGINFO | flags;
    if (mask)
        sa.sa_mask = *mask;
    else
        sigemptyset(&sa.sa_mask);
    if (sigaction(sig, &sa, NULL) != 0) printf("sigaction(%d) failed: %s\n", sig, err_name(errno));
}

static void set_default(int sig) { signal(sig, SIG_DFL); }

static sigset_t just(int sig) {
    sigset_t s;
    sigemptyset(&s);
    sigaddset(&s, sig);
    return s;
}

static int blocked(int sig) {
    sigset_t s;
    sigprocmask(SIG_BLOCK, NULL, &s);
    return sigismember(&s, sig);
}

static int pending(int sig) {
    sigset_t s;
    sigpending(&s);
    return sigismember(&s, sig);
}

/* --- what a handler sees ------------------------------------------------- */

static volatile int h_count, h_signo, h_code, h_depth, h_max_depth;
static volatile pid_t h_pid;
static volatile uid_t h_uid;
static volatile int h_self_blocked, h_usr2_blocked;
static volatile int h_reraise;

static void recorder(int sig, siginfo_t *si, void *uc) {
    (void)uc;
    h_depth++;
    if (h_depth > h_max_depth) h_max_depth = h_depth;
    h_count++;
    h_signo = si->si_signo;
    h_code = si->si_code;
    h_pid = si->si_pid;
    h_uid = si->si_uid;
    h_self_blocked = blocked(sig);
    h_usr2_blocked = blocked(SIGUSR2);
    if (h_reraise) {
        h_reraise = 0;
        raise(sig);
    }
    h_depth--;
}

static void reset_recorder(void) {
    h_count = h_signo = h_code = h_depth = h_max_depth = 0;
    h_pid = 0;
    h_uid = (uid_t)-1;
    h_self_blocked = h_usr2_blocked = -1;
    h_reraise = 0;
}

static const char *code_name(int code) {
    switch (code) {
    case SI_USER: return "SI_USER";
    case SI_TKILL: return "SI_TKILL";
    case SI_QUEUE: return "SI_QUEUE";
    case SI_KERNEL: return "SI_KERNEL";
    default: return "another code";
    }
}

static void siginfo_fields(void) {
    printf("-- siginfo\n");
    set_handler(SIGUSR1, recorder, 0, NULL);
    reset_recorder();
    kill(getpid(), SIGUSR1);
    printf("kill(getpid(), SIGUSR1): handler ran %d time(s), si_signo %d, %s\n", h_count, h_signo,
           code_name(h_code));
    check("si_pid == getpid()", h_pid == getpid());
    check("si_uid == getuid()", h_uid == getuid());

    reset_recorder();
    raise(SIGUSR1);
    printf("raise(SIGUSR1): handler ran %d time(s), %s\n", h_count, code_name(h_code));
    check("si_pid == getpid()", h_pid == getpid());

    reset_recorder();
    syscall(SYS_tgkill, getpid(), gettid_(), SIGUSR1);
    printf("tgkill(getpid(), gettid(), SIGUSR1): handler ran %d time(s), %s\n", h_count,
           code_name(h_code));
    reset_recorder();
    syscall(SYS_tkill, gettid_(), SIGUSR1);
    printf("tkill(gettid(), SIGUSR1): handler ran %d time(s), %s\n", h_count, code_name(h_code));

    /* A handler without SA_SIGINFO gets the signal number. */
    set_default(SIGUSR1);
}

/* --- masks, SA_NODEFER, SA_RESETHAND ------------------------------------- */

static void masks_and_flags(void) {
    printf("-- handler masks and flags\n");
    sigset_t usr2 = just(SIGUSR2);
    set_handler(SIGUSR1, recorder, 0, &usr2);
    reset_recorder();
    raise(SIGUSR1);
    check("inside the handler: the signal is blocked", h_self_blocked == 1);
    check("inside the handler: sa_mask (SIGUSR2) is blocked", h_usr2_blocked == 1);
    check("after the handler: neither is blocked", !blocked(SIGUSR1) && !blocked(SIGUSR2));

    /* Re-raising inside the handler: deferred until it returns... */
    reset_recorder();
    h_reraise = 1;
    raise(SIGUSR1);
    printf("re-raise without SA_NODEFER: %d calls, max nesting %d\n", h_count, h_max_depth);
    /* ...or nested with SA_NODEFER. */
    set_handler(SIGUSR1, recorder, SA_NODEFER, NULL);
    reset_recorder();
    h_reraise = 1;
    raise(SIGUSR1);
    printf("re-raise with SA_NODEFER: %d calls, max nesting %d\n", h_count, h_max_depth);
    check("with SA_NODEFER the signal is not blocked inside", h_self_blocked == 0);

    /* SA_RESETHAND: one delivery, then back to SIG_DFL. */
    set_handler(SIGUSR1, recorder, SA_RESETHAND, NULL);
    reset_recorder();
    raise(SIGUSR1);
    struct sigaction now;
    sigaction(SIGUSR1, NULL, &now);
    printf("SA_RESETHAND: %d call(s), then the action is SIG_DFL: %s\n", h_count,
           now.sa_handler == SIG_DFL ? "yes" : "NO");

    /* sigaction reports back what was set. */
    sigset_t m = just(SIGTERM);
    set_handler(SIGUSR2, recorder, SA_RESTART | SA_ONSTACK, &m);
    sigaction(SIGUSR2, NULL, &now);
    check("sigaction reads back the handler", now.sa_sigaction == recorder);
    check("... SA_SIGINFO|SA_RESTART|SA_ONSTACK",
          (now.sa_flags & (SA_SIGINFO | SA_RESTART | SA_ONSTACK)) == (SA_SIGINFO | SA_RESTART | SA_ONSTACK));
    check("... and sa_mask", sigismember(&now.sa_mask, SIGTERM) && !sigismember(&now.sa_mask, SIGINT));
    set_default(SIGUSR2);

    errno = 0;
    check("sigaction(SIGSTOP) gives EINVAL", sigaction(SIGSTOP, &now, NULL) == -1 && errno == EINVAL);
    errno = 0;
    check("sigaction(0) gives EINVAL", sigaction(0, &now, NULL) == -1 && errno == EINVAL);
    errno = 0;
    check("kill(getpid(), 65) gives EINVAL", kill(getpid(), 65) == -1 && errno == EINVAL);
    check("kill(getpid(), 0) succeeds", kill(getpid(), 0) == 0);
}

/* --- blocking, pending, queueing ----------------------------------------- */

static volatile int rt_count;
static void count_rt(int sig, siginfo_t *si, void *uc) {
    (void)sig;
    (void)si;
    (void)uc;
    rt_count++;
}

static void blocking(void) {
    printf("-- blocking and pending\n");
    set_handler(SIGUSR1, recorder, 0, NULL);
    reset_recorder();
    sigset_t usr1 = just(SIGUSR1), old;
    sigprocmask(SIG_BLOCK, &usr1, &old);
    raise(SIGUSR1);
    raise(SIGUSR1);
    printf("blocked SIGUSR1 raised twice: %d call(s), pending: %s\n", h_count,
           pending(SIGUSR1) ? "yes" : "NO");
    sigprocmask(SIG_SETMASK, &old, NULL);
    printf("after unblocking: %d call(s) (standard signals do not queue), pending: %s\n", h_count,
           pending(SIGUSR1) ? "yes" : "no");

    int rt = SIGRTMIN + 2;
    set_handler(rt, count_rt, 0, NULL);
    sigset_t rts = just(rt);
    sigprocmask(SIG_BLOCK, &rts, &old);
    for (int i = 0; i < 3; i++) raise(rt);
    printf("blocked real-time signal raised 3 times: %d call(s)\n", (int)rt_count);
    sigprocmask(SIG_SETMASK, &old, NULL);
    printf("after unblocking: %d call(s) (real-time signals queue)\n", (int)rt_count);
    set_default(rt);

    /* Setting SIG_IGN discards a pending signal. */
    sigprocmask(SIG_BLOCK, &usr1, &old);
    raise(SIGUSR1);
    signal(SIGUSR1, SIG_IGN);
    printf("pending SIGUSR1 after SIG_IGN: %s\n", pending(SIGUSR1) ? "YES" : "no");
    set_handler(SIGUSR1, recorder, 0, NULL);
    reset_recorder();
    sigprocmask(SIG_SETMASK, &old, NULL);
    printf("unblocked with the handler back: %d call(s)\n", h_count);

    /* SIGKILL and SIGSTOP cannot be blocked: silently left out. */
    sigset_t all;
    sigfillset(&all);
    sigprocmask(SIG_BLOCK, &all, &old);
    check("blocking everything leaves SIGKILL and SIGSTOP unblocked", !blocked(SIGKILL) && !blocked(SIGSTOP));
    check("... and blocks SIGTERM", blocked(SIGTERM));
    sigprocmask(SIG_SETMASK, &old, NULL);
    errno = 0;
    check("sigprocmask with a bad how gives EINVAL", sigprocmask(12345, &all, NULL) == -1 && errno == EINVAL);
    set_default(SIGUSR1);
}

/* --- sigsuspend and sigtimedwait ------------------------------------------ */

static void waiting(void) {
    printf("-- sigsuspend and sigtimedwait\n");
    set_handler(SIGUSR1, recorder, 0, NULL);
    reset_recorder();
    sigset_t usr1 = just(SIGUSR1), old, empty;
    sigemptyset(&empty);
    sigprocmask(SIG_BLOCK, &usr1, &old);
    fflush(stdout);
    pid_t c = fork();
    if (c == 0) {
        kill(getppid(), SIGUSR1);
        _exit(0);
    }
    errno = 0;
    int r = sigsuspend(&empty);
    printf("sigsuspend: returned %d, %s, handler ran %d time(s), %s\n", r, err_name(errno), h_count,
           code_name(h_code));
    check("si_pid is the child", h_pid == c);
    check("SIGUSR1 blocked again after sigsuspend", blocked(SIGUSR1));
    waitpid(c, NULL, 0);
    sigprocmask(SIG_SETMASK, &old, NULL);

    /* sigtimedwait takes a blocked pending signal without running the handler. */
    sigset_t both = just(SIGUSR1);
    sigaddset(&both, SIGUSR2);
    sigprocmask(SIG_BLOCK, &both, &old);
    reset_recorder();
    raise(SIGUSR2);
    raise(SIGUSR1);
    siginfo_t si;
    struct timespec second = {1, 0};
    memset(&si, 0, sizeof si);
    int s1 = sigtimedwait(&both, &si, &second);
    int c1 = si.si_code;
    int s2 = sigwaitinfo(&both, &si);
    printf("sigtimedwait then sigwaitinfo: %d then %d (lowest first), %s, handler calls %d\n", s1, s2,
           code_name(c1), h_count);
    check("nothing pending after", !pending(SIGUSR1) && !pending(SIGUSR2));

    struct timespec fifty = {0, 50 * 1000000L}, zero = {0, 0};
    long long t0 = now_ns();
    errno = 0;
    r = sigtimedwait(&both, &si, &fifty);
    long long took = now_ns() - t0;
    printf("sigtimedwait with nothing pending, 50 ms: %d, %s\n", r, err_name(errno));
    check("  waited at least 50 ms", took >= 50 * 1000000LL);
    errno = 0;
    r = sigtimedwait(&both, &si, &zero);
    printf("sigtimedwait with a zero timeout: %d, %s\n", r, err_name(errno));
    sigprocmask(SIG_SETMASK, &old, NULL);
    set_default(SIGUSR1);
}

/* --- alarm, itimers, interrupted sleeps ---------------------------------- */

static volatile int alarms;
static void on_alarm(int sig, siginfo_t *si, void *uc) {
    (void)sig;
    (void)si;
    (void)uc;
    alarms++;
}

static void arm_ms(long first_ms, long interval_ms) {
    struct itimerval it = {{interval_ms / 1000, (interval_ms % 1000) * 1000},
                           {first_ms / 1000, (first_ms % 1000) * 1000}};
    setitimer(ITIMER_REAL, &it, NULL);
}

static void timers(void) {
    printf("-- alarm and itimers\n");
    set_handler(SIGALRM, on_alarm, 0, NULL);
    alarm(5);
    printf("alarm(0) after alarm(5) returns %u\n", alarm(0));
    printf("alarm(0) with none set returns %u\n", alarm(0));

    alarms = 0;
    alarm(1);
    long long t0 = now_ns();
    errno = 0;
    int r = pause();
    long long took = now_ns() - t0;
    printf("pause() with alarm(1): %d, %s, %d SIGALRM\n", r, err_name(errno), alarms);
    check("  after 0.9 s to 5 s", took >= 900 * 1000000LL && took < 5000 * 1000000LL);

    /* nanosleep interrupted: EINTR and the time left. */
    alarms = 0;
    arm_ms(100, 0);
    struct timespec two = {2, 0}, rem = {0, 0};
    errno = 0;
    r = nanosleep(&two, &rem);
    printf("nanosleep(2 s) with a 100 ms itimer: %d, %s, %d SIGALRM\n", r, err_name(errno), alarms);
    long long rem_ns = rem.tv_sec * 1000000000LL + rem.tv_nsec;
    check("  time left is between 0 and 2 s", rem_ns > 0 && rem_ns < 2000000000LL);

    alarms = 0;
    arm_ms(100, 0);
    rem.tv_sec = rem.tv_nsec = 0;
    r = clock_nanosleep(CLOCK_MONOTONIC, 0, &two, &rem);
    rem_ns = rem.tv_sec * 1000000000LL + rem.tv_nsec;
    printf("clock_nanosleep(2 s) with a 100 ms itimer: returns %s, %d SIGALRM\n", err_name(r), alarms);
    check("  time left is between 0 and 2 s", rem_ns > 0 && rem_ns < 2000000000LL);

    /* getitimer sees the time left; setitimer returns the old value. */
    arm_ms(1000, 0);
    struct itimerval cur, old;
    getitimer(ITIMER_REAL, &cur);
    long long left = cur.it_value.tv_sec * 1000000LL + cur.it_value.tv_usec;
    check("getitimer: between 0.5 s and 1 s left", left > 500000 && left <= 1000000);
    struct itimerval off = {{0, 0}, {0, 0}};
    setitimer(ITIMER_REAL, &off, &old);
    left = old.it_value.tv_sec * 1000000LL + old.it_value.tv_usec;
    check("setitimer returns the old value", left > 500000 && left <= 1000000);
    getitimer(ITIMER_REAL, &cur);
    check("disarmed: getitimer gives 0", cur.it_value.tv_sec == 0 && cur.it_value.tv_usec == 0);

    /* A periodic timer: 5 ticks of 20 ms, caught with sigsuspend. */
    sigset_t alrm = just(SIGALRM), prev, empty;
    sigemptyset(&empty);
    sigprocmask(SIG_BLOCK, &alrm, &prev);
    alarms = 0;
    arm_ms(20, 20);
    t0 = now_ns();
    for (int i = 0; i < 100 && alarms < 5; i++) sigsuspend(&empty);
    took = now_ns() - t0;
    setitimer(ITIMER_REAL, &off, NULL);
    sigprocmask(SIG_SETMASK, &prev, NULL);
    printf("periodic itimer: %d ticks\n", alarms);
    check("  in at least 100 ms", took >= 100 * 1000000LL);
    set_default(SIGALRM);
}

/* --- SA_RESTART ----------------------------------------------------------- */

static void restart(void) {
    printf("-- SA_RESTART\n");
    for (int with = 1; with >= 0; with--) {
        set_handler(SIGALRM, on_alarm, with ? SA_RESTART : 0, NULL);
        alarms = 0;
        fflush(stdout);
        pid_t c = fork();
        if (c == 0) {
            struct timespec t = {0, 300 * 1000000L};
            nanosleep(&t, NULL);
            _exit(7);
        }
        arm_ms(50, 0);
        int status = 0;
        errno = 0;
        pid_t w = waitpid(c, &status, 0);
        int e = errno;
        printf("waitpid on a sleeping child, SIGALRM %s SA_RESTART: ", with ? "with" : "without");
        if (w == c)
            printf("returned the child, exit %d, %d SIGALRM\n", WEXITSTATUS(status), alarms);
        else
            printf("returned %d, %s, %d SIGALRM\n", w, err_name(e), alarms);
        if (w != c) {
            w = waitpid(c, &status, 0);
            printf("  then waitpid returned the child: %s, exit %d\n", w == c ? "yes" : "NO",
                   WEXITSTATUS(status));
        }
    }

    /* nanosleep returns EINTR after a handler even with SA_RESTART. */
    set_handler(SIGALRM, on_alarm, SA_RESTART, NULL);
    alarms = 0;
    arm_ms(50, 0);
    struct timespec one = {1, 0}, rem;
    errno = 0;
    int r = nanosleep(&one, &rem);
    printf("nanosleep with an SA_RESTART handler: %d, %s, %d SIGALRM\n", r, err_name(errno), alarms);
    set_default(SIGALRM);

    /* Stopped and continued without a handler: the sleep goes on to its end
     * (the child exits 0 if nanosleep returned 0 after at least 300 ms). */
    fflush(stdout);
    pid_t c = fork();
    if (c == 0) {
        struct timespec t = {0, 300 * 1000000L};
        long long t0 = now_ns();
        int rr = nanosleep(&t, NULL);
        long long took = now_ns() - t0;
        _exit(rr != 0 ? 1 : took < 300 * 1000000LL ? 2 : 0);
    }
    struct timespec ms50 = {0, 50 * 1000000L};
    nanosleep(&ms50, NULL);
    kill(c, SIGSTOP);
    int status;
    waitpid(c, &status, WUNTRACED);
    kill(c, SIGCONT);
    waitpid(c, &status, 0);
    printf("sleeping child stopped and continued: exit %d (0: slept its full time)\n",
           WIFEXITED(status) ? WEXITSTATUS(status) : -1);
}

/* --- FPU/SSE state across handlers ---------------------------------------- */

static volatile double h_double;
static volatile int h_round;

static void clobber_fpu(int sig, siginfo_t *si, void *uc) {
    (void)sig;
    (void)si;
    (void)uc;
    h_round = get_round();
    double x = 1.0;
    for (int i = 1; i < 50; i++) x = x * 1.0001 + 1.0 / (double)i;
    h_double = x;
    __asm__ volatile("pxor %%xmm0, %%xmm0\n\tpxor %%xmm1, %%xmm1\n\tpcmpeqd %%xmm2, %%xmm2\n\t"
                     "pcmpeqd %%xmm7, %%xmm7\n\tpxor %%xmm8, %%xmm8\n\tpcmpeqd %%xmm15, %%xmm15\n\t"
                     ::: "xmm0", "xmm1", "xmm2", "xmm7", "xmm8", "xmm15");
    set_round(ROUND_ZERO);
}

static void fpu(void) {
    printf("-- FPU and SSE state\n");
    set_handler(SIGUSR1, clobber_fpu, 0, NULL);

    /* xmm0..xmm15 hold known values across a self-signal sent with a raw
     * syscall from the same asm block, so the compiler cannot spill them. */
    uint64_t in[16][2], out[16][2];
    for (int i = 0; i < 16; i++) {
        in[i][0] = 0x0101010101010101ULL * (uint64_t)(i + 1);
        in[i][1] = ~in[i][0] ^ (uint64_t)i;
    }
    long pid = getpid(), tid = gettid_();
    __asm__ volatile(
        "movdqu 0(%[in]), %%xmm0\n\t movdqu 16(%[in]), %%xmm1\n\t"
        "movdqu 32(%[in]), %%xmm2\n\t movdqu 48(%[in]), %%xmm3\n\t"
        "movdqu 64(%[in]), %%xmm4\n\t movdqu 80(%[in]), %%xmm5\n\t"
        "movdqu 96(%[in]), %%xmm6\n\t movdqu 112(%[in]), %%xmm7\n\t"
        "movdqu 128(%[in]), %%xmm8\n\t movdqu 144(%[in]), %%xmm9\n\t"
        "movdqu 160(%[in]), %%xmm10\n\t movdqu 176(%[in]), %%xmm11\n\t"
        "movdqu 192(%[in]), %%xmm12\n\t movdqu 208(%[in]), %%xmm13\n\t"
        "movdqu 224(%[in]), %%xmm14\n\t movdqu 240(%[in]), %%xmm15\n\t"
        "mov %[nr], %%eax\n\t mov %[pid], %%rdi\n\t mov %[tid], %%rsi\n\t mov %[sig], %%edx\n\t"
        "syscall\n\t"
        "movdqu %%xmm0, 0(%[out])\n\t movdqu %%xmm1, 16(%[out])\n\t"
        "movdqu %%xmm2, 32(%[out])\n\t movdqu %%xmm3, 48(%[out])\n\t"
        "movdqu %%xmm4, 64(%[out])\n\t movdqu %%xmm5, 80(%[out])\n\t"
        "movdqu %%xmm6, 96(%[out])\n\t movdqu %%xmm7, 112(%[out])\n\t"
        "movdqu %%xmm8, 128(%[out])\n\t movdqu %%xmm9, 144(%[out])\n\t"
        "movdqu %%xmm10, 160(%[out])\n\t movdqu %%xmm11, 176(%[out])\n\t"
        "movdqu %%xmm12, 192(%[out])\n\t movdqu %%xmm13, 208(%[out])\n\t"
        "movdqu %%xmm14, 224(%[out])\n\t movdqu %%xmm15, 240(%[out])\n\t"
        :
        : [in] "r"(in), [out] "r"(out), [nr] "i"(SYS_tgkill), [pid] "m"(pid), [tid] "m"(tid),
          [sig] "i"(SIGUSR1)
        : "rax", "rdi", "rsi", "rdx", "rcx", "r11", "memory", "xmm0", "xmm1", "xmm2", "xmm3", "xmm4",
          "xmm5", "xmm6", "xmm7", "xmm8", "xmm9", "xmm10", "xmm11", "xmm12", "xmm13", "xmm14", "xmm15");
    int same = 0;
    for (int i = 0; i < 16; i++) same += in[i][0] == out[i][0] && in[i][1] == out[i][1];
    printf("xmm registers unchanged across a handler that clobbers them: %d of 16\n", same);
    check("the handler ran", h_double > 1.0);

    /* MXCSR: the handler starts with round-to-nearest; ours comes back. */
    h_round = -1;
    set_round(ROUND_UP);
    raise(SIGUSR1);
    int mine = get_round();
    set_round(ROUND_NEAREST);
    check("the handler starts with the default rounding mode", h_round == ROUND_NEAREST);
    check("our rounding mode (upward) is back after the handler", mine == ROUND_UP);

    /* A computation interrupted by a 1 ms periodic timer whose handler does
     * floating point gives the same result as without interruptions. */
    double expect = 0;
    for (int i = 1; i < 2000000; i++) expect += (double)i / (i + 0.5) / (i + 0.25);
    set_handler(SIGALRM, clobber_fpu, 0, NULL);
    arm_ms(1, 1);
    double got = 0;
    for (int i = 1; i < 2000000; i++) got += (double)i / (i + 0.5) / (i + 0.25);
    struct itimerval off = {{0, 0}, {0, 0}};
    setitimer(ITIMER_REAL, &off, NULL);
    set_default(SIGALRM);
    check("a long sum interrupted by timer signals is exact", got == expect);
    set_default(SIGUSR1);
}

int main(void) {
    /* Line by line: a run killed after a timeout still shows how far it got. */
    setvbuf(stdout, NULL, _IOLBF, 0);
    siginfo_fields();
    masks_and_flags();
    blocking();
    waiting();
    timers();
    restart();
    fpu();
    return 0;
}
