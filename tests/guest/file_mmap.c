/* File mmap coherent with read/write (tmpfs in the vkernel; /tmp may be
 * another filesystem on the host, where the same rules hold):
 *  - MAP_SHARED shows the file's pages: writes through the mapping are seen
 *    by read(2), write(2) is seen through the mapping, in every process
 *    mapping it, across fork, and a shared futex in the file wakes another
 *    process that mapped it on its own;
 *  - MAP_PRIVATE follows the file until a page is written, then not;
 *  - bytes past the end of file in the last page read zero; a page wholly
 *    past the end is SIGBUS (BUS_ADRERR); ftruncate shrinking makes the
 *    tail SIGBUS in every process, private copies included;
 *  - errors: EACCES (access mode), EINVAL (offset), EBADF, ENODEV, and
 *    mprotect(PROT_WRITE) of a shared read-only-fd mapping;
 *  - msync, mremap, munmap, mprotect, MAP_FIXED, MAP_POPULATE, offsets;
 *  - /proc/self/maps names the file with its device and inode;
 *  - memfd_create with MAP_SHARED across fork; /dev/zero; the program's own
 *    file (a read-only host bind mount in the vkernel).
 * With the argument "leak" (vkernel only: the host's free memory moves on
 * its own) it maps, forks, writes, unmaps and truncates in loops and checks
 * that free memory and the commit charge come back exactly. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysinfo.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "fs_errno.h"

#define PG 4096L
#define FUTEX_WAIT 0
#define FUTEX_WAKE 1

static char path[64];

static void check(const char *what, int ok) { printf("%s: %s\n", what, ok ? "yes" : "NO"); }

static void show_err(const char *what, long r) {
    printf("%s = %s\n", what, r == -1 ? errname(errno) : "ok");
}

/* ---- faults ---- */

static sigjmp_buf jb;
static volatile int got_sig, got_code;
static void *volatile got_addr;

static void on_fault(int sig, siginfo_t *si, void *uc) {
    (void)uc;
    got_sig = sig;
    got_code = si->si_code;
    got_addr = si->si_addr;
    siglongjmp(jb, 1);
}

/* Reads (or writes) one byte at p; returns the signal it raised, or 0. */
static int touch(volatile char *p, int write, char *out) {
    got_sig = 0;
    if (sigsetjmp(jb, 1) == 0) {
        if (write)
            *p = 'w';
        else if (out)
            *out = *p;
        else
            (void)*p;
    }
    return got_sig;
}

static void expect_fault(const char *what, volatile char *p, int write) {
    int sig = touch(p, write, NULL);
    const char *name = sig == SIGBUS ? "SIGBUS" : sig == SIGSEGV ? "SIGSEGV" : sig ? "other" : "none";
    const char *code = "";
    if (sig == SIGBUS) code = got_code == BUS_ADRERR ? " BUS_ADRERR" : " other-code";
    if (sig == SIGSEGV) code = got_code == SEGV_ACCERR ? " SEGV_ACCERR" : got_code == SEGV_MAPERR ? " SEGV_MAPERR" : " other-code";
    printf("%s: %s%s%s\n", what, name, code, sig && got_addr != (void *)p ? " (wrong address)" : "");
}

/* ---- helpers ---- */

static void fill(char *p, long n, int seed) {
    for (long i = 0; i < n; i++) p[i] = (char)(i * 13 + seed);
}

static int same_as(const char *p, long n, int seed) {
    for (long i = 0; i < n; i++)
        if (p[i] != (char)(i * 13 + seed)) return 0;
    return 1;
}

static int all_zero(const char *p, long n) {
    for (long i = 0; i < n; i++)
        if (p[i]) return 0;
    return 1;
}

static int make_file(long size, int seed) {
    unlink(path);
    int fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0) {
        perror("open");
        exit(1);
    }
    char *buf = malloc(size);
    fill(buf, size, seed);
    if (write(fd, buf, size) != size) {
        perror("write");
        exit(1);
    }
    free(buf);
    return fd;
}

static char file_byte(int fd, long off) {
    char c = 0;
    if (pread(fd, &c, 1, off) != 1) return '?';
    return c;
}

/* ---- the tests ---- */

static void shared_coherence(void) {
    printf("-- shared\n");
    const long size = 3 * PG + 100;
    int fd = make_file(size, 1);
    char *p = mmap(NULL, 5 * PG, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    check("mmap shared", p != MAP_FAILED);
    check("mapping shows the file", same_as(p, size, 1));
    check("tail of last page is zero", all_zero(p + size, 4 * PG - size));
    p[10] = 'X';
    p[2 * PG + 5] = 'Y';
    check("read(2) sees mapping writes", file_byte(fd, 10) == 'X' && file_byte(fd, 2 * PG + 5) == 'Y');
    pwrite(fd, "Q", 1, PG + 7);
    check("mapping sees write(2)", p[PG + 7] == 'Q');
    /* Writing past EOF inside the last page does not grow the file. */
    p[size + 10] = 'Z';
    struct stat st;
    fstat(fd, &st);
    printf("size after write past EOF in the last page: %ld\n", (long)st.st_size);
    expect_fault("read of the page after EOF", p + 4 * PG, 0);
    expect_fault("write of the page after EOF", p + 4 * PG + 8, 1);

    /* Fork: the child writes through its copy of the mapping, the parent
     * through write(2); each sees the other at once. */
    int to_child[2], to_parent[2];
    pipe(to_child);
    pipe(to_parent);
    fflush(stdout);
    pid_t c = fork();
    if (c == 0) {
        char b;
        p[100] = 'C';
        write(to_parent[1], "1", 1);
        read(to_child[0], &b, 1);
        int ok = p[200] == 'P';
        /* A mapping of its own, made after fork, sees the same pages. */
        char *q = mmap(NULL, PG, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
        ok = ok && q != MAP_FAILED && q[200] == 'P' && q[100] == 'C';
        q[300] = 'D';
        ok = ok && p[300] == 'D';
        _exit(ok ? 0 : 1);
    }
    char b;
    read(to_parent[0], &b, 1);
    check("parent sees child's mapping write", p[100] == 'C' && file_byte(fd, 100) == 'C');
    pwrite(fd, "P", 1, 200);
    write(to_child[1], "1", 1);
    int status;
    waitpid(c, &status, 0);
    check("child saw parent's write(2), own mapping coherent", WIFEXITED(status) && WEXITSTATUS(status) == 0);
    check("parent sees write through child's own mapping", p[300] == 'D');
    close(to_child[0]);
    close(to_child[1]);
    close(to_parent[0]);
    close(to_parent[1]);

    /* msync */
    show_err("msync MS_SYNC", msync(p, 4 * PG, MS_SYNC));
    show_err("msync MS_ASYNC", msync(p, 4 * PG, MS_ASYNC));
    show_err("msync MS_INVALIDATE", msync(p, PG, MS_INVALIDATE));
    show_err("msync MS_SYNC|MS_ASYNC", msync(p, PG, MS_SYNC | MS_ASYNC));
    show_err("msync unaligned", msync(p + 1, PG, MS_SYNC));
    show_err("msync bad flag", msync(p, PG, 0x100));
    munmap(p, 5 * PG);
    close(fd);
}

static void private_cow(void) {
    printf("-- private\n");
    int fd = make_file(4 * PG, 2);
    char *p = mmap(NULL, 4 * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
    check("mmap private", p != MAP_FAILED);
    check("private shows the file", same_as(p, 4 * PG, 2));
    pwrite(fd, "A", 1, 50);
    check("unwritten private page follows write(2)", p[50] == 'A');
    p[PG + 1] = 'B';
    check("private write not in the file", file_byte(fd, PG + 1) != 'B');
    pwrite(fd, "C", 1, PG + 2);
    check("written private page no longer follows the file", p[PG + 2] != 'C' && p[PG + 1] == 'B');
    /* Fork: the child's private writes stay its own. */
    fflush(stdout);
    pid_t c = fork();
    if (c == 0) {
        p[2 * PG] = 'K';
        p[PG + 1] = 'L';
        _exit(p[2 * PG] == 'K' && file_byte(fd, 2 * PG) != 'K' ? 0 : 1);
    }
    int status;
    waitpid(c, &status, 0);
    check("child's private writes stay private", WIFEXITED(status) && WEXITSTATUS(status) == 0 &&
                                                     p[2 * PG] != 'K' && p[PG + 1] == 'B');
    /* MADV_DONTNEED drops the private copy: the file shows again. */
    madvise(p + PG, PG, MADV_DONTNEED);
    check("after MADV_DONTNEED the file shows again", p[PG + 1] == file_byte(fd, PG + 1) && p[PG + 2] == 'C');
    munmap(p, 4 * PG);

    /* Read-only fd: private writable is fine. */
    int ro = open(path, O_RDONLY | O_CLOEXEC);
    p = mmap(NULL, PG, PROT_READ | PROT_WRITE, MAP_PRIVATE, ro, 0);
    check("private writable mapping of a read-only fd", p != MAP_FAILED);
    if (p != MAP_FAILED) {
        p[0] = 'x';
        check("its write stays private", file_byte(fd, 0) != 'x');
        munmap(p, PG);
    }
    close(ro);
    close(fd);
}

static void errors(void) {
    printf("-- errors\n");
    int fd = make_file(2 * PG, 3);
    int ro = open(path, O_RDONLY | O_CLOEXEC);
    int wo = open(path, O_WRONLY | O_CLOEXEC);
    int pathfd = open(path, O_PATH | O_CLOEXEC);
    show_err("O_WRONLY shared read", (long)mmap(NULL, PG, PROT_READ, MAP_SHARED, wo, 0) == -1 ? -1 : 0);
    show_err("O_WRONLY private read", (long)mmap(NULL, PG, PROT_READ, MAP_PRIVATE, wo, 0) == -1 ? -1 : 0);
    show_err("O_RDONLY shared write", (long)mmap(NULL, PG, PROT_READ | PROT_WRITE, MAP_SHARED, ro, 0) == -1 ? -1 : 0);
    show_err("unaligned offset", (long)mmap(NULL, PG, PROT_READ, MAP_SHARED, fd, 100) == -1 ? -1 : 0);
    show_err("bad fd", (long)mmap(NULL, PG, PROT_READ, MAP_SHARED, 999, 0) == -1 ? -1 : 0);
    show_err("fd -1 without MAP_ANONYMOUS", (long)mmap(NULL, PG, PROT_READ, MAP_PRIVATE, -1, 0) == -1 ? -1 : 0);
    show_err("O_PATH fd", (long)mmap(NULL, PG, PROT_READ, MAP_PRIVATE, pathfd, 0) == -1 ? -1 : 0);
    int dir = open("/tmp", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    show_err("directory", (long)mmap(NULL, PG, PROT_READ, MAP_PRIVATE, dir, 0) == -1 ? -1 : 0);
    int pp[2];
    pipe(pp);
    show_err("pipe read end", (long)mmap(NULL, PG, PROT_READ, MAP_PRIVATE, pp[0], 0) == -1 ? -1 : 0);
    show_err("pipe write end", (long)mmap(NULL, PG, PROT_READ, MAP_PRIVATE, pp[1], 0) == -1 ? -1 : 0);
    int null = open("/dev/null", O_RDWR | O_CLOEXEC);
    show_err("/dev/null", (long)mmap(NULL, PG, PROT_READ, MAP_PRIVATE, null, 0) == -1 ? -1 : 0);
    /* mprotect may not add PROT_WRITE to a shared mapping of a read-only fd. */
    char *p = mmap(NULL, PG, PROT_READ, MAP_SHARED, ro, 0);
    check("O_RDONLY shared read-only", p != MAP_FAILED);
    show_err("mprotect PROT_WRITE of it", mprotect(p, PG, PROT_READ | PROT_WRITE));
    show_err("mprotect PROT_READ of it", mprotect(p, PG, PROT_READ));
    expect_fault("write to it", p, 1);
    munmap(p, PG);
    /* A private one may. */
    p = mmap(NULL, PG, PROT_READ, MAP_PRIVATE, ro, 0);
    show_err("mprotect PROT_WRITE of a private one", mprotect(p, PG, PROT_READ | PROT_WRITE));
    munmap(p, PG);
    close(pp[0]);
    close(pp[1]);
    close(null);
    close(dir);
    close(pathfd);
    close(wo);
    close(ro);
    close(fd);
}

static void truncation(void) {
    printf("-- truncate\n");
    int fd = make_file(4 * PG, 4);
    char *s = mmap(NULL, 4 * PG, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    char *pv = mmap(NULL, 4 * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
    pv[3 * PG] = 'P'; /* a private copy of page 3 */
    check("private copy made", pv[3 * PG] == 'P' && s[3 * PG] != 'P');
    (void)pv[2 * PG];
    (void)s[2 * PG];
    int to_parent[2], to_child[2];
    pipe(to_parent);
    pipe(to_child);
    fflush(stdout);
    pid_t c = fork();
    if (c == 0) {
        char b;
        (void)s[3 * PG]; /* mapped in the child too */
        write(to_parent[1], "1", 1);
        read(to_child[0], &b, 1);
        int r = 0;
        if (touch(s + 2 * PG, 0, NULL) == SIGBUS && got_code == BUS_ADRERR) r |= 1;
        if (touch(s + 3 * PG, 1, NULL) == SIGBUS) r |= 2;
        if (touch(s + PG + 2000, 0, NULL) == 0 && s[PG + 2000] == 0 && s[PG + 1000] == (char)((PG + 1000) * 13 + 4)) r |= 4;
        _exit(r);
    }
    char b;
    read(to_parent[0], &b, 1);
    show_err("ftruncate to 1.5 pages", ftruncate(fd, PG + 1500));
    write(to_child[1], "1", 1);
    int status;
    waitpid(c, &status, 0);
    printf("child after truncate: %d (7 = SIGBUS, SIGBUS, zero tail)\n", WIFEXITED(status) ? WEXITSTATUS(status) : -1);
    check("tail of the last page now zero", s[PG + 1500] == 0 && s[2 * PG - 1] == 0 && pv[PG + 1600] == 0);
    check("data before EOF kept", same_as(s, PG + 1500, 4));
    expect_fault("shared page past the new EOF", s + 2 * PG, 0);
    expect_fault("private page past the new EOF", pv + 2 * PG, 0);
    expect_fault("private copy past the new EOF", pv + 3 * PG, 0);
    show_err("ftruncate back to 4 pages", ftruncate(fd, 4 * PG));
    check("regrown pages read zero (shared)", all_zero(s + 2 * PG, 2 * PG) && all_zero(s + PG + 1500, PG - 1500));
    check("private copy was dropped (follows the file)", pv[3 * PG] == 0);
    s[3 * PG + 1] = 'n';
    check("new page coherent", file_byte(fd, 3 * PG + 1) == 'n' && pv[3 * PG + 1] == 'n');
    /* Hole punch keeps private copies (Linux: not even_cows). */
    pv[PG] = 'q';
#ifdef FALLOC_FL_PUNCH_HOLE
    show_err("punch hole page 1", fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, PG, PG));
    check("punched page reads zero, private copy kept", s[PG + 3] == 0 && pv[PG] == 'q');
#endif
    munmap(s, 4 * PG);
    munmap(pv, 4 * PG);
    close(to_parent[0]);
    close(to_parent[1]);
    close(to_child[0]);
    close(to_child[1]);
    close(fd);
}

static void regions(void) {
    printf("-- regions\n");
    int fd = make_file(8 * PG, 5);
    /* An offset. */
    char *p = mmap(NULL, 2 * PG, PROT_READ, MAP_SHARED, fd, 2 * PG);
    check("offset 2 pages shows page 2",
          p != MAP_FAILED && p[0] == (char)(2 * PG * 13 + 5) && p[PG + 9] == (char)((3 * PG + 9) * 13 + 5));
    munmap(p, 2 * PG);
    /* MAP_FIXED over anonymous memory, MAP_POPULATE. */
    char *a = mmap(NULL, 4 * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    a[PG] = 1;
    p = mmap(a + PG, 2 * PG, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED | MAP_POPULATE, fd, 0);
    check("MAP_FIXED at the address", p == a + PG);
    check("MAP_FIXED shows the file", same_as(p, 2 * PG, 5));
    check("anonymous around it kept", a[0] == 0 && a[3 * PG] == 0);
    /* mprotect: read-only, then writable again. */
    show_err("mprotect read-only", mprotect(p, 2 * PG, PROT_READ));
    expect_fault("write to read-only file mapping", p + 8, 1);
    show_err("mprotect read-write", mprotect(p, PG, PROT_READ | PROT_WRITE));
    p[8] = 'M';
    check("write after mprotect reaches the file", file_byte(fd, 8) == 'M');
    /* Partial munmap. */
    show_err("munmap second page", munmap(p + PG, PG));
    expect_fault("unmapped page", p + PG, 0);
    munmap(a, 4 * PG);
    /* mremap: grow and move, still the file. */
    p = mmap(NULL, 2 * PG, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    char *blocker = mmap(p + 2 * PG, PG, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
    char *q = mremap(p, 2 * PG, 6 * PG, MREMAP_MAYMOVE);
    check("mremap moved", q != MAP_FAILED && q != p);
    check("moved mapping shows the file", q != MAP_FAILED && same_as(q + 9, 6 * PG - 9, 5 + 9 * 13));
    check("grown part shows the file", q[5 * PG + 3] == (char)((5 * PG + 3) * 13 + 5) && q[8] == 'M');
    pwrite(fd, "R", 1, 4 * PG);
    check("moved mapping coherent with write(2)", q[4 * PG] == 'R');
    q[4 * PG + 1] = 'S';
    check("and the other way", file_byte(fd, 4 * PG + 1) == 'S');
    munmap(q, 6 * PG);
    if (blocker != MAP_FAILED) munmap(blocker, PG);
    close(fd);
}

/* The line of /proc/self/maps for address p. */
static int maps_line(void *p, char *out, size_t n) {
    FILE *f = fopen("/proc/self/maps", "r");
    if (!f) return 0;
    char line[512];
    int found = 0;
    while (fgets(line, sizeof line, f)) {
        unsigned long lo, hi;
        if (sscanf(line, "%lx-%lx", &lo, &hi) == 2 && lo == (unsigned long)p) {
            snprintf(out, n, "%s", line);
            found = 1;
            break;
        }
    }
    fclose(f);
    return found;
}

static void proc_maps(void) {
    printf("-- /proc/self/maps\n");
    int fd = make_file(4 * PG, 6);
    char *p = mmap(NULL, 2 * PG, PROT_READ, MAP_SHARED, fd, PG);
    char *pv = mmap(NULL, PG, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
    struct stat st;
    fstat(fd, &st);
    char line[512];
    unsigned long lo, hi, off, ino;
    unsigned maj, mnr;
    char perms[8], name[256];
    int ok = maps_line(p, line, sizeof line) &&
             sscanf(line, "%lx-%lx %7s %lx %x:%x %lu %255s", &lo, &hi, perms, &off, &maj, &mnr, &ino, name) == 8;
    check("shared line parsed", ok);
    if (ok) {
        printf("shared: %s offset %lx length %lx\n", perms, off, hi - lo);
        check("device and inode match fstat", maj == major(st.st_dev) && mnr == minor(st.st_dev) && ino == st.st_ino);
        check("path", strcmp(name, path) == 0);
    }
    ok = maps_line(pv, line, sizeof line) &&
         sscanf(line, "%lx-%lx %7s %lx %x:%x %lu %255s", &lo, &hi, perms, &off, &maj, &mnr, &ino, name) == 8;
    check("private line parsed", ok);
    if (ok) {
        printf("private: %s offset %lx\n", perms, off);
        check("private path and inode", strcmp(name, path) == 0 && ino == st.st_ino);
    }
    munmap(p, 2 * PG);
    munmap(pv, PG);
    close(fd);
}

static void memfd_and_futex(void) {
    printf("-- memfd\n");
    int fd = memfd_create("file_mmap", MFD_CLOEXEC);
    show_err("ftruncate memfd", ftruncate(fd, 2 * PG));
    int *p = mmap(NULL, 2 * PG, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    check("memfd MAP_SHARED", p != MAP_FAILED);
    check("memfd starts zero", all_zero((char *)p, 2 * PG));
    int ready[2];
    pipe(ready);
    fflush(stdout);
    pid_t c = fork();
    if (c == 0) {
        /* The child maps the memfd on its own and wakes the parent through a
         * shared futex in it: the key is the file page, not the mapping. */
        int *q = mmap(NULL, PG, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
        q[1] = 1234;
        write(ready[1], "1", 1);
        long woken = 0;
        for (int i = 0; i < 1000 && woken != 1; i++) {
            struct timespec t = {0, 2000000};
            nanosleep(&t, NULL);
            woken = syscall(SYS_futex, &q[0], FUTEX_WAKE, 1, NULL, NULL, 0);
        }
        __atomic_store_n(&q[0], 1, __ATOMIC_SEQ_CST); /* the parent must not hang either way */
        syscall(SYS_futex, &q[0], FUTEX_WAKE, 1, NULL, NULL, 0);
        _exit(woken == 1 ? 0 : 1);
    }
    char b;
    read(ready[0], &b, 1);
    while (__atomic_load_n(&p[0], __ATOMIC_SEQ_CST) == 0) {
        struct timespec t = {5, 0};
        if (syscall(SYS_futex, &p[0], FUTEX_WAIT, 0, &t, NULL, 0) == 0) break;
    }
    int status;
    waitpid(c, &status, 0);
    check("futex wake through another mapping of the file", WIFEXITED(status) && WEXITSTATUS(status) == 0);
    check("child's write seen", p[1] == 1234);
    int v = 0;
    pread(fd, &v, sizeof v, 4);
    check("memfd read(2) sees it", v == 1234);
    close(ready[0]);
    close(ready[1]);
    /* The mapping can hold the last reference to the file: a child exits
     * with its memfd mapped and closed; an unlinked, closed file goes with
     * its munmap. */
    fflush(stdout);
    c = fork();
    if (c == 0) {
        int m = memfd_create("last", 0);
        ftruncate(m, PG);
        char *q = mmap(NULL, PG, PROT_READ | PROT_WRITE, MAP_SHARED, m, 0);
        close(m);
        q[1] = 1;
        _exit(q[1] == 1 ? 0 : 1);
    }
    waitpid(c, &status, 0);
    check("exit with a closed memfd mapped", WIFEXITED(status) && WEXITSTATUS(status) == 0);
    int u = make_file(2 * PG, 8);
    char *q = mmap(NULL, 2 * PG, PROT_READ | PROT_WRITE, MAP_SHARED, u, 0);
    unlink(path);
    close(u);
    q[PG] = 'u';
    check("unlinked closed file still mapped", q[PG] == 'u' && q[0] == (char)8);
    show_err("munmap of its last reference", munmap(q, 2 * PG));
    munmap(p, 2 * PG);
    close(fd);
}

static void devzero_and_self(const char *self) {
    printf("-- /dev/zero and a host file\n");
    int z = open("/dev/zero", O_RDWR | O_CLOEXEC);
    char *p = mmap(NULL, 2 * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE, z, 0);
    check("/dev/zero private", p != MAP_FAILED && all_zero(p, 2 * PG));
    p[5] = 1;
    check("/dev/zero private writable", p[5] == 1);
    munmap(p, 2 * PG);
    p = mmap(NULL, PG, PROT_READ | PROT_WRITE, MAP_SHARED, z, 0);
    check("/dev/zero shared", p != MAP_FAILED && all_zero(p, PG));
    fflush(stdout);
    pid_t c = fork();
    if (c == 0) {
        p[7] = 7;
        _exit(0);
    }
    int status;
    waitpid(c, &status, 0);
    check("/dev/zero shared across fork", p[7] == 7);
    munmap(p, PG);
    close(z);

    /* The program itself: on the host a file of the build tree, in the
     * vkernel the same path on a read-only bind mount. */
    int fd = open(self, O_RDONLY | O_CLOEXEC);
    struct stat st;
    fstat(fd, &st);
    p = mmap(NULL, st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    check("own file private", p != MAP_FAILED && memcmp(p, "\177ELF", 4) == 0);
    char buf[256];
    pread(fd, buf, sizeof buf, st.st_size - sizeof buf);
    check("its last bytes", memcmp(p + st.st_size - sizeof buf, buf, sizeof buf) == 0);
    long past = (st.st_size + PG - 1) / PG * PG;
    check("its tail is zero", all_zero(p + st.st_size, past - st.st_size));
    munmap(p, st.st_size);
    p = mmap(NULL, PG, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
    p[0] = 'x';
    check("own file private write stays private", file_byte(fd, 0) == 0x7f);
    munmap(p, PG);
    show_err("own file shared write (read-only fd)", (long)mmap(NULL, PG, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0) == -1 ? -1 : 0);
    p = mmap(NULL, PG, PROT_READ, MAP_SHARED, fd, 0);
    check("own file shared read-only", p != MAP_FAILED && memcmp(p, "\177ELF", 4) == 0);
    munmap(p, PG);
    close(fd);
}

/* ---- leak mode ---- */

static unsigned long free_ram(void) {
    struct sysinfo si;
    sysinfo(&si);
    return si.freeram * si.mem_unit;
}

/* The largest private writable mapping that mmap grants now (the commit
 * charge left), to 64 KiB. */
static unsigned long commit_left(void) {
    unsigned long lo = 0, hi = 1UL << 36;
    while (hi - lo > 65536) {
        unsigned long mid = (lo + hi) / 2 & ~65535UL;
        void *p = mmap(NULL, mid, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (p == MAP_FAILED) {
            hi = mid;
        } else {
            munmap(p, mid);
            lo = mid;
        }
    }
    return lo;
}

static void churn(int fd) {
    ftruncate(fd, 16 * PG);
    char *s = mmap(NULL, 16 * PG, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    char *pv = mmap(NULL, 16 * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
    memset(s, 1, 16 * PG);
    memset(pv, 2, 8 * PG);
    pid_t c = fork();
    if (c == 0) {
        memset(pv + 4 * PG, 3, 8 * PG);
        s[0] = 4;
        ftruncate(fd, 4 * PG);
        _exit(0);
    }
    waitpid(c, NULL, 0);
    char *r = mremap(pv, 16 * PG, 20 * PG, MREMAP_MAYMOVE);
    if (r != MAP_FAILED) pv = r;
    ftruncate(fd, 2 * PG);
    munmap(s, 16 * PG);
    munmap(pv, r != MAP_FAILED ? 20 * PG : 16 * PG);
}

static int leak_mode(void) {
    int fd = make_file(PG, 7);
    int mfd = memfd_create("leak", MFD_CLOEXEC);
    churn(fd);
    churn(mfd);
    const unsigned long free0 = free_ram(), commit0 = commit_left();
    for (int i = 0; i < 60; i++) {
        churn(fd);
        churn(mfd);
    }
    ftruncate(fd, 0);
    ftruncate(mfd, 0);
    churn(fd);
    churn(mfd);
    const unsigned long free1 = free_ram(), commit1 = commit_left();
    long pages = ((long)free0 - (long)free1) / PG;
    printf("frames lost: %s\n", pages <= 4 ? "none" : "some");
    printf("commit charge lost: %s\n", commit0 == commit1 ? "none" : "some");
    if (pages > 4 || commit0 != commit1)
        fprintf(stderr, "free %lu -> %lu (%ld pages), commit %lu -> %lu\n", free0, free1, pages, commit0, commit1);
    close(fd);
    close(mfd);
    unlink(path);
    return 0;
}

int main(int argc, char **argv) {
    snprintf(path, sizeof path, "/tmp/file_mmap.%d", (int)getpid());
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_fault;
    sa.sa_flags = SA_SIGINFO | SA_NODEFER;
    sigaction(SIGBUS, &sa, NULL);
    sigaction(SIGSEGV, &sa, NULL);
    setvbuf(stdout, NULL, _IOFBF, 1 << 16);
    if (argc > 1 && strcmp(argv[1], "leak") == 0) return leak_mode();
    shared_coherence();
    private_cow();
    errors();
    truncation();
    regions();
    proc_maps();
    memfd_and_futex();
    devzero_and_self(argv[0]);
    unlink(path);
    return 0;
}
