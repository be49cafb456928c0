/* mprotect(2) on pages already mapped, run natively and in the vkernel with
 * identical output (the vkernel changes such pages' protection in place,
 * vkernel/mm.cpp Mm::protect):
 *  - read-only after writing: reads see the data, a write is SIGSEGV
 *    (SEGV_ACCERR), writable again: the write lands;
 *  - copy-on-write pages shared with a fork child, made read-only and then
 *    writable again on either side: a write stays on its own side;
 *  - PROT_NONE: a read is SIGSEGV; back to readable, the data is there;
 *  - PROT_EXEC: code copied into a page runs; without it, a call is SIGSEGV;
 *  - part of a region, one page of three. */
#define _GNU_SOURCE
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

static sigjmp_buf env;
static volatile int last_code;

static void on_segv(int sig, siginfo_t *si, void *uc) {
    (void)sig;
    (void)uc;
    last_code = si->si_code;
    siglongjmp(env, 1);
}

/* Runs f(p) and says whether it faulted (and how). */
static const char *attempt(void (*f)(volatile char *), volatile char *p) {
    last_code = 0;
    if (sigsetjmp(env, 1) == 0) {
        f(p);
        return "ok";
    }
    return last_code == SEGV_ACCERR ? "SIGSEGV (ACCERR)" : last_code == SEGV_MAPERR ? "SIGSEGV (MAPERR)" : "SIGSEGV (?)";
}

static void do_write(volatile char *p) { p[10] = 'W'; }
static void do_read(volatile char *p) { (void)p[10]; }
static void do_call(volatile char *p) { ((int (*)(void))(uintptr_t)p)(); }

int main(void) {
    setvbuf(stdout, 0, _IONBF, 0);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_segv;
    sa.sa_flags = SA_SIGINFO;
    sigaction(SIGSEGV, &sa, 0);
    const long pg = 4096;

    char *a = mmap(0, 3 * pg, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    memset(a, 'a', 3 * pg);
    /* Each step into a variable first: argument order is unspecified. */
    int r = mprotect(a, 3 * pg, PROT_READ);
    printf("read-only: %d\n", r);
    const char *w = attempt(do_write, a);
    printf("read: %c; write: %s\n", a[100], w);
    r = mprotect(a, 3 * pg, PROT_READ | PROT_WRITE);
    w = attempt(do_write, a);
    printf("writable: %d; write: %s; data %c\n", r, w, a[10]);
    printf("middle page none: %d\n", mprotect(a + pg, pg, PROT_NONE));
    const char *w1 = attempt(do_write, a), *r2 = attempt(do_read, a + pg);
    const char *w3 = attempt(do_write, a + 2 * pg);
    printf("first page write: %s; middle read: %s; last page write: %s\n", w1, r2, w3);
    r = mprotect(a + pg, pg, PROT_READ);
    w = attempt(do_write, a + pg);
    printf("middle readable: %d; data %c; write: %s\n", r, a[pg + 5], w);

    /* Copy-on-write across mprotect. */
    char *c = mmap(0, 2 * pg, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    memset(c, 'p', 2 * pg);
    int ready[2], done[2];
    if (pipe(ready) || pipe(done)) return 1;
    pid_t pid = fork();
    if (pid == 0) {
        mprotect(c, 2 * pg, PROT_READ);
        mprotect(c, 2 * pg, PROT_READ | PROT_WRITE);
        c[0] = 'c';
        c[pg] = 'c';
        if (write(ready[1], "x", 1) != 1) _exit(1);
        char x;
        if (read(done[0], &x, 1) != 1) _exit(1);
        /* The parent wrote its copy meanwhile: ours is unchanged. */
        printf("child sees its own bytes: %c %c, and %c beyond\n", c[0], c[pg], c[1]);
        _exit(0);
    }
    char x;
    if (read(ready[0], &x, 1) != 1) return 1;
    printf("parent after the child's writes: %c %c\n", c[0], c[pg]);
    mprotect(c, 2 * pg, PROT_READ);
    w = attempt(do_write, c);
    printf("parent read-only, read %c, write: %s\n", c[0], w);
    mprotect(c, 2 * pg, PROT_READ | PROT_WRITE);
    c[0] = 'q';
    c[pg + 1] = 'q';
    if (write(done[1], "x", 1) != 1) return 1;
    int status = 0;
    waitpid(pid, &status, 0);
    printf("child exit %d; parent has %c %c %c\n", WEXITSTATUS(status), c[0], c[pg], c[pg + 1]);

    /* Code: a page with `mov $42, %eax; ret`. */
    unsigned char *code = mmap(0, pg, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    const unsigned char ret42[] = {0xb8, 42, 0, 0, 0, 0xc3};
    memcpy(code, ret42, sizeof ret42);
    printf("call without exec: %s\n", attempt(do_call, (volatile char *)code));
    mprotect(code, pg, PROT_READ | PROT_EXEC);
    printf("exec: %d\n", ((int (*)(void))(uintptr_t)code)());
    mprotect(code, pg, PROT_READ);
    w = attempt(do_call, (volatile char *)code);
    printf("call after exec removed: %s; read %#x\n", w, code[0]);
    return 0;
}
