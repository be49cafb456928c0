/* CPU faults delivered as signals with the right siginfo, and recovery:
 * a SIGSEGV handler (SA_SIGINFO) checks si_addr (the exact faulting
 * address) and si_code (SEGV_MAPERR for an unmapped page, SEGV_ACCERR for a
 * write to a read-only page, a read of a PROT_NONE page, a jump into a
 * non-executable page), then siglongjmps back, again and again; a
 * non-canonical address gives SI_KERNEL and si_addr 0; SIGILL, SIGFPE and
 * SIGTRAP carry the faulting instruction's address; a handler that edits
 * the saved registers (skips ud2, fixes the page with mprotect and returns)
 * changes where and how the program continues; and a stack overflow is
 * caught on an alternate stack (sigaltstack + SA_ONSTACK). */
#define _GNU_SOURCE
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <ucontext.h>
#include <unistd.h>

static void check(const char *what, int ok) { printf("%s: %s\n", what, ok ? "yes" : "NO"); }

static sigjmp_buf env;
static volatile int got_signo, got_code;
static void *volatile got_addr;
static volatile int handler_calls;

static void on_fault(int sig, siginfo_t *si, void *uc) {
    (void)uc;
    handler_calls++;
    got_signo = si->si_signo;
    got_code = si->si_code;
    got_addr = si->si_addr;
    (void)sig;
    siglongjmp(env, 1);
}

static void install(int sig, void (*fn)(int, siginfo_t *, void *), int flags) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = fn;
    sa.sa_flags = SA_SIGINFO | flags;
    sigemptyset(&sa.sa_mask);
    if (sigaction(sig, &sa, NULL) != 0) perror("sigaction");
}

static const char *segv_code(int code) {
    switch (code) {
    case SEGV_MAPERR: return "SEGV_MAPERR";
    case SEGV_ACCERR: return "SEGV_ACCERR";
    case SI_KERNEL: return "SI_KERNEL";
    default: return "another code";
    }
}

/* Runs access(addr) under the handler; reports what the handler saw. */
enum access { READ, WRITE, EXEC };
static void try_access(const char *what, void *addr, enum access how) {
    got_signo = got_code = 0;
    got_addr = NULL;
    if (sigsetjmp(env, 1) == 0) {
        if (how == READ)
            (void)*(volatile char *)addr;
        else if (how == WRITE)
            *(volatile char *)addr = 1;
        else
            ((void (*)(void))addr)();
        printf("%s: no fault\n", what);
        return;
    }
    printf("%s: signal %d, %s, si_addr is the address: %s\n", what, got_signo, segv_code(got_code),
           got_addr == addr ? "yes" : "NO");
}

static void segv(void) {
    install(SIGSEGV, on_fault, 0);
    long page = sysconf(_SC_PAGESIZE);
    char *p = mmap(NULL, 4 * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) {
        perror("mmap");
        exit(1);
    }
    memset(p, 0x5a, 4 * page);
    /* Page 0: unmapped; page 1: read-only; page 2: PROT_NONE; page 3: RW
     * with a "ret" in it but not executable. */
    munmap(p, page);
    mprotect(p + page, page, PROT_READ);
    mprotect(p + 2 * page, page, PROT_NONE);
    p[3 * page] = (char)0xc3;

    try_access("write to an unmapped page", p + 123, WRITE);
    try_access("read of an unmapped page", p + 7, READ);
    try_access("write to a PROT_READ page", p + page + 5, WRITE);
    check("the read-only page still reads", p[page + 5] == 0x5a);
    try_access("read of a PROT_NONE page", p + 2 * page + 99, READ);
    try_access("write to a PROT_NONE page", p + 2 * page, WRITE);
    try_access("call into a non-executable page", p + 3 * page, EXEC);
    try_access("write to NULL + 16", (void *)16, WRITE);
    try_access("read of the last byte below 2^47", (void *)0x7fffffffffffULL, READ);

    /* A non-canonical address is a #GP, not a page fault: SI_KERNEL, 0. */
    got_signo = got_code = 0;
    if (sigsetjmp(env, 1) == 0) {
        (void)*(volatile char *)0x8000000000000000ULL;
        printf("non-canonical read: no fault\n");
    } else {
        printf("non-canonical read: signal %d, %s, si_addr is 0: %s\n", got_signo,
               segv_code(got_code), got_addr == NULL ? "yes" : "NO");
    }

    /* siglongjmp restored the mask: SIGSEGV is not blocked any more. */
    sigset_t now;
    sigprocmask(SIG_BLOCK, NULL, &now);
    check("SIGSEGV unblocked after siglongjmp", !sigismember(&now, SIGSEGV));
    printf("SIGSEGV handler calls: %d\n", handler_calls);

    /* Many faults in a row, all recovered. */
    volatile int recovered = 0;
    for (volatile int i = 0; i < 1000; i++) {
        if (sigsetjmp(env, 1) == 0)
            *(volatile char *)(p + page + i) = 1;
        else if (got_addr == p + page + i && got_code == SEGV_ACCERR)
            recovered++;
    }
    printf("recovered from %d of 1000 faults\n", recovered);
    munmap(p, 4 * page);
    signal(SIGSEGV, SIG_DFL);
}

/* --- handlers that fix things and return ------------------------------- */

static char *fix_page;
static long fix_len;
static volatile int fixes;

static void on_segv_fix(int sig, siginfo_t *si, void *uc) {
    (void)sig;
    (void)uc;
    fixes++;
    /* Make the page writable: the faulting write is retried and succeeds. */
    if ((char *)si->si_addr >= fix_page && (char *)si->si_addr < fix_page + fix_len)
        mprotect(fix_page, fix_len, PROT_READ | PROT_WRITE);
    else
        _exit(90);
}

static void *volatile ud2_addr, *volatile div_addr, *volatile int3_after;
static volatile int ill_code, fpe_code, trap_code;
static void *volatile ill_addr, *volatile fpe_addr, *volatile trap_rip;

static void on_ill(int sig, siginfo_t *si, void *ucv) {
    (void)sig;
    ucontext_t *uc = ucv;
    ill_code = si->si_code;
    ill_addr = si->si_addr;
    uc->uc_mcontext.gregs[REG_RIP] += 2; /* skip the ud2 */
    uc->uc_mcontext.gregs[REG_RAX] = 1234;
}

static void on_fpe(int sig, siginfo_t *si, void *ucv) {
    (void)sig;
    ucontext_t *uc = ucv;
    fpe_code = si->si_code;
    fpe_addr = si->si_addr;
    uc->uc_mcontext.gregs[REG_RCX] = 7; /* the divisor: the idiv is retried */
}

static void on_trap(int sig, siginfo_t *si, void *ucv) {
    (void)sig;
    ucontext_t *uc = ucv;
    trap_code = si->si_code;
    trap_rip = (void *)uc->uc_mcontext.gregs[REG_RIP]; /* after the int3 */
}

static void return_from_handlers(void) {
    long page = sysconf(_SC_PAGESIZE);
    fix_len = page;
    fix_page = mmap(NULL, page, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    install(SIGSEGV, on_segv_fix, 0);
    *(volatile char *)(fix_page + 10) = 42;
    int value = *(volatile char *)(fix_page + 10);
    printf("write to a read-only page fixed by the handler: value %d, %d handler call(s)\n", value,
           fixes);
    signal(SIGSEGV, SIG_DFL);

    install(SIGILL, on_ill, 0);
    long rax;
    __asm__ volatile("lea 1f(%%rip), %%rax\n\t"
                     "mov %%rax, %1\n\t"
                     "xor %%eax, %%eax\n"
                     "1: ud2\n\t"
                     : "=a"(rax), "=m"(ud2_addr)
                     :
                     : "memory");
    printf("ud2: %s, si_addr is the ud2: %s, skipped with rax = %ld\n",
           ill_code == ILL_ILLOPN ? "ILL_ILLOPN" : "another code", ill_addr == ud2_addr ? "yes" : "NO",
           rax);

    install(SIGFPE, on_fpe, 0);
    long quotient;
    __asm__ volatile("lea 1f(%%rip), %%rax\n\t"
                     "mov %%rax, %1\n\t"
                     "mov $700, %%eax\n\t"
                     "xor %%edx, %%edx\n\t"
                     "xor %%ecx, %%ecx\n"
                     "1: div %%rcx\n\t"
                     : "=a"(quotient), "=m"(div_addr)
                     :
                     : "rcx", "rdx", "memory");
    printf("div by 0: %s, si_addr is the div: %s, retried with rcx = 7: quotient %ld\n",
           fpe_code == FPE_INTDIV ? "FPE_INTDIV" : "another code", fpe_addr == div_addr ? "yes" : "NO",
           quotient);

    install(SIGTRAP, on_trap, 0);
    __asm__ volatile("int3\n"
                     "1: lea 1b(%%rip), %%rax\n\t"
                     "mov %%rax, %0\n\t"
                     : "=m"(int3_after)
                     :
                     : "rax", "memory");
    printf("int3: %s, saved rip is just after the int3: %s\n",
           trap_code == SI_KERNEL ? "SI_KERNEL" : "another code", trap_rip == int3_after ? "yes" : "NO");
    signal(SIGILL, SIG_DFL);
    signal(SIGFPE, SIG_DFL);
    signal(SIGTRAP, SIG_DFL);
}

/* --- stack overflow caught on an alternate stack ------------------------ */

static char *alt_base;
static size_t alt_size;
static volatile int on_alt;

static void on_overflow(int sig, siginfo_t *si, void *uc) {
    (void)sig;
    (void)si;
    (void)uc;
    char here;
    on_alt = &here >= alt_base && &here < alt_base + alt_size;
    siglongjmp(env, 1);
}

static int recurse(int n) {
    volatile char buf[512];
    buf[0] = (char)n;
    buf[511] = (char)n;
    if (n == 1 << 30) return 0; /* never: the stack runs out long before */
    return recurse(n + 1) + buf[0] + buf[511];
}

static void stack_overflow(void) {
    fflush(stdout);
    pid_t c = fork();
    if (c == 0) {
        /* A small, definite limit, whatever the caller's RLIMIT_STACK. */
        struct rlimit rl = {1 << 20, 1 << 20};
        setrlimit(RLIMIT_STACK, &rl);
        alt_size = 64 * 1024;
        alt_base = malloc(alt_size);
        stack_t ss = {.ss_sp = alt_base, .ss_size = alt_size, .ss_flags = 0};
        if (sigaltstack(&ss, NULL) != 0) _exit(2);
        install(SIGSEGV, on_overflow, SA_ONSTACK);
        if (sigsetjmp(env, 1) == 0) {
            recurse(0);
            _exit(3);
        }
        _exit(on_alt ? 0 : 4);
    }
    int status;
    waitpid(c, &status, 0);
    if (WIFEXITED(status))
        printf("stack overflow: child exited %d (0: caught on the alternate stack)\n", WEXITSTATUS(status));
    else
        printf("stack overflow: child killed by signal %d\n", WIFSIGNALED(status) ? WTERMSIG(status) : -1);
}

/* A plain signal with SA_ONSTACK: the handler runs on the alternate stack
 * and sigaltstack() reports SS_ONSTACK inside it. */
static volatile int usr1_on_alt, usr1_ss_onstack;
static void on_usr1(int sig, siginfo_t *si, void *uc) {
    (void)sig;
    (void)si;
    (void)uc;
    char here;
    usr1_on_alt = &here >= alt_base && &here < alt_base + alt_size;
    stack_t cur;
    sigaltstack(NULL, &cur);
    usr1_ss_onstack = (cur.ss_flags & SS_ONSTACK) != 0;
}

static void altstack(void) {
    alt_size = 64 * 1024;
    alt_base = malloc(alt_size);
    stack_t ss = {.ss_sp = alt_base, .ss_size = alt_size, .ss_flags = 0}, old;
    check("sigaltstack", sigaltstack(&ss, &old) == 0);
    check("no alternate stack before", (old.ss_flags & SS_DISABLE) != 0);
    errno = 0;
    stack_t tiny = {.ss_sp = alt_base, .ss_size = 512, .ss_flags = 0};
    check("a too small alternate stack gives ENOMEM", sigaltstack(&tiny, NULL) == -1 && errno == ENOMEM);
    install(SIGUSR1, on_usr1, SA_ONSTACK);
    raise(SIGUSR1);
    check("SA_ONSTACK handler ran on the alternate stack", usr1_on_alt);
    check("sigaltstack() inside says SS_ONSTACK", usr1_ss_onstack);
    stack_t cur;
    sigaltstack(NULL, &cur);
    check("not SS_ONSTACK after the handler", (cur.ss_flags & SS_ONSTACK) == 0);
    check("same stack reported back", cur.ss_sp == alt_base && cur.ss_size == alt_size);
    ss.ss_flags = SS_DISABLE;
    sigaltstack(&ss, NULL);
    signal(SIGUSR1, SIG_DFL);
}

int main(void) {
    /* Line by line: a run killed after a timeout still shows how far it got. */
    setvbuf(stdout, NULL, _IOLBF, 0);
    segv();
    return_from_handlers();
    altstack();
    stack_overflow();
    return 0;
}
