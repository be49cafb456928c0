/* File locks, run natively and in the vkernel with identical output:
 * flock (exclusion between open file descriptions, sharing through dup
 * and fork, release on the last close, blocking, EINTR), fcntl record
 * locks (conflicts, ranges split and merged, F_GETLK's report, release
 * when the process closes any descriptor of the file, not inherited by
 * fork, EDEADLK for a two-process cycle, EINTR) and OFD locks. Pids
 * differ between the runs, so they are printed as "parent"/"child". */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

static char path[64];
static pid_t parent_pid;

static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void say(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    fflush(stdout);
}

static const char *ename(int r) {
    if (r == 0) return "ok";
    switch (errno) {
    case EAGAIN: return "EAGAIN";
    case EACCES: return "EACCES";
    case EBADF: return "EBADF";
    case EINVAL: return "EINVAL";
    case EINTR: return "EINTR";
    case EDEADLK: return "EDEADLK";
    case EOVERFLOW: return "EOVERFLOW";
    default: return strerror(errno);
    }
}

static int open_file(int flags) {
    int fd = open(path, flags);
    if (fd < 0) {
        perror("open");
        exit(1);
    }
    return fd;
}

static int setlk(int fd, int cmd, short type, short whence, off_t start, off_t len) {
    struct flock l = {0};
    l.l_type = type;
    l.l_whence = whence;
    l.l_start = start;
    l.l_len = len;
    return fcntl(fd, cmd, &l);
}

/* F_GETLK / F_OFD_GETLK of a write lock on [start, start+len) as one line. */
static void getlk(const char *what, int fd, int cmd, short type, off_t start, off_t len) {
    struct flock l = {0};
    l.l_type = type;
    l.l_whence = SEEK_SET;
    l.l_start = start;
    l.l_len = len;
    l.l_pid = 0;
    int r = fcntl(fd, cmd, &l);
    if (r != 0) {
        say("%s: %s\n", what, ename(r));
        return;
    }
    const char *who = l.l_pid == parent_pid ? "parent" : l.l_pid == -1 ? "-1" : l.l_pid == 0 ? "0" : "other";
    if (l.l_type == F_UNLCK)
        say("%s: unlocked (start %ld len %ld unchanged)\n", what, (long)l.l_start, (long)l.l_len);
    else
        say("%s: %s whence %d start %ld len %ld pid %s\n", what, l.l_type == F_WRLCK ? "F_WRLCK" : "F_RDLCK",
            l.l_whence, (long)l.l_start, (long)l.l_len, who);
}

static int child_status(pid_t pid) {
    int st = 0;
    if (waitpid(pid, &st, 0) != pid) return -1;
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static void on_alarm(int sig) { (void)sig; }

static void arm_alarm(void) {
    struct sigaction sa = {0};
    sa.sa_handler = on_alarm;  /* no SA_RESTART: the wait fails with EINTR */
    sigaction(SIGALRM, &sa, NULL);
    struct itimerval it = {{0, 0}, {0, 200000}};
    setitimer(ITIMER_REAL, &it, NULL);
}

static void test_flock(void) {
    say("-- flock\n");
    int a = open_file(O_RDWR);
    int b = open_file(O_RDONLY);
    say("flock(a, EX|NB) = %s\n", ename(flock(a, LOCK_EX | LOCK_NB)));
    say("flock(b, SH|NB) = %s\n", ename(flock(b, LOCK_SH | LOCK_NB)));
    say("flock(a, EX|NB) again = %s\n", ename(flock(a, LOCK_EX | LOCK_NB)));
    int a2 = dup(a);
    say("flock(dup of a, EX|NB) = %s\n", ename(flock(a2, LOCK_EX | LOCK_NB)));
    pid_t pid = fork();
    if (pid == 0) {
        /* The inherited descriptor shares the lock; a new open does not. */
        say("child: flock(a, EX|NB) = %s\n", ename(flock(a, LOCK_EX | LOCK_NB)));
        int c = open_file(O_RDONLY);
        say("child: flock(new, SH|NB) = %s\n", ename(flock(c, LOCK_SH | LOCK_NB)));
        _exit(0);
    }
    child_status(pid);
    close(a);
    say("after close(a), dup still holds: flock(b, SH|NB) = %s\n", ename(flock(b, LOCK_SH | LOCK_NB)));
    close(a2);
    say("after the last close: flock(b, SH|NB) = %s\n", ename(flock(b, LOCK_SH | LOCK_NB)));
    int c = open_file(O_RDONLY);
    say("second reader flock(c, SH|NB) = %s\n", ename(flock(c, LOCK_SH | LOCK_NB)));
    say("upgrade flock(c, EX|NB) = %s\n", ename(flock(c, LOCK_EX | LOCK_NB)));
    /* The failed conversion dropped c's shared lock (Linux): b can now convert. */
    say("flock(b, EX|NB) = %s\n", ename(flock(b, LOCK_EX | LOCK_NB)));
    say("flock(b, UN) = %s\n", ename(flock(b, LOCK_UN)));
    say("flock(b, 0) = %s\n", ename(flock(b, 0)));
    say("flock(b, 7) = %s\n", ename(flock(b, 7)));
    say("flock(b, LOCK_MAND|LOCK_READ) = %s\n", ename(flock(b, 32 | 64)));
    say("flock(-1, EX) = %s\n", ename(flock(-1, LOCK_EX)));
    close(b);
    close(c);

    /* Blocking: the child holds the lock, the parent waits until it lets go. */
    int p[2];
    if (pipe(p)) exit(1);
    pid = fork();
    if (pid == 0) {
        int d = open_file(O_RDONLY);
        flock(d, LOCK_EX);
        if (write(p[1], "x", 1) != 1) _exit(1);
        usleep(100000);
        flock(d, LOCK_UN);
        _exit(0);
    }
    char ch;
    if (read(p[0], &ch, 1) != 1) exit(1);
    int e = open_file(O_RDONLY);
    say("blocking flock(e, EX) = %s\n", ename(flock(e, LOCK_EX)));
    child_status(pid);
    close(e);

    /* EINTR: a signal without SA_RESTART ends the wait. The child is
     * told to go through a second pipe (it must not read its own byte). */
    int q[2];
    if (pipe(q)) exit(1);
    pid = fork();
    if (pid == 0) {
        int d = open_file(O_RDONLY);
        flock(d, LOCK_EX);
        if (write(p[1], "x", 1) != 1) _exit(1);
        if (read(q[0], &ch, 1) != 1) _exit(1);
        _exit(0);
    }
    if (read(p[0], &ch, 1) != 1) exit(1);
    e = open_file(O_RDONLY);
    arm_alarm();
    say("flock(e, EX) under alarm = %s\n", ename(flock(e, LOCK_EX)));
    if (write(q[1], "x", 1) != 1) exit(1);
    child_status(pid);
    close(e);
    close(p[0]);
    close(p[1]);
    close(q[0]);
    close(q[1]);
}

static void test_posix(void) {
    say("-- fcntl record locks\n");
    int fd = open_file(O_RDWR);
    say("W[0,10) = %s\n", ename(setlk(fd, F_SETLK, F_WRLCK, SEEK_SET, 0, 10)));
    say("R[20,30) = %s\n", ename(setlk(fd, F_SETLK, F_RDLCK, SEEK_SET, 20, 10)));
    say("W[50,eof) = %s\n", ename(setlk(fd, F_SETLK, F_WRLCK, SEEK_SET, 50, 0)));
    /* Own locks never conflict. */
    getlk("own getlk W[0,100)", fd, F_GETLK, F_WRLCK, 0, 100);
    pid_t pid = fork();
    if (pid == 0) {
        /* Record locks are not inherited: the child is another owner. */
        int c = open_file(O_RDWR);
        say("child W[5,6) = %s\n", ename(setlk(c, F_SETLK, F_WRLCK, SEEK_SET, 5, 1)));
        say("child R[9,11) = %s\n", ename(setlk(c, F_SETLK, F_RDLCK, SEEK_SET, 9, 2)));
        say("child R[20,25) = %s\n", ename(setlk(c, F_SETLK, F_RDLCK, SEEK_SET, 20, 5)));
        say("child W[25,26) = %s\n", ename(setlk(c, F_SETLK, F_WRLCK, SEEK_SET, 25, 1)));
        say("child W[10,20) = %s\n", ename(setlk(c, F_SETLK, F_WRLCK, SEEK_SET, 10, 10)));
        say("child R[1000,1001) = %s\n", ename(setlk(c, F_SETLK, F_RDLCK, SEEK_SET, 1000, 1)));
        getlk("child getlk W[0,1)", c, F_GETLK, F_WRLCK, 0, 1);
        getlk("child getlk R[3,4)", c, F_GETLK, F_RDLCK, 3, 1);
        getlk("child getlk W[27,28)", c, F_GETLK, F_WRLCK, 27, 1);
        getlk("child getlk R[27,28)", c, F_GETLK, F_RDLCK, 27, 1);
        getlk("child getlk W[40,45)", c, F_GETLK, F_WRLCK, 40, 5);
        getlk("child getlk W[60,61)", c, F_GETLK, F_WRLCK, 60, 1);
        _exit(0);
    }
    child_status(pid);

    /* Split: unlock the middle of the write lock; merge: read locks that touch. */
    say("U[3,5) = %s\n", ename(setlk(fd, F_SETLK, F_UNLCK, SEEK_SET, 3, 2)));
    say("W[30,40) = %s\n", ename(setlk(fd, F_SETLK, F_WRLCK, SEEK_SET, 30, 10)));
    pid = fork();
    if (pid == 0) {
        int c = open_file(O_RDWR);
        say("child W[3,5) = %s\n", ename(setlk(c, F_SETLK, F_WRLCK, SEEK_SET, 3, 2)));
        say("child W[2,3) = %s\n", ename(setlk(c, F_SETLK, F_WRLCK, SEEK_SET, 2, 1)));
        say("child W[5,6) = %s\n", ename(setlk(c, F_SETLK, F_WRLCK, SEEK_SET, 5, 1)));
        getlk("child getlk W[6,7)", c, F_GETLK, F_WRLCK, 6, 1);
        getlk("child getlk W[35,36)", c, F_GETLK, F_WRLCK, 35, 1);
        _exit(0);
    }
    child_status(pid);
    say("R[30,40) = %s\n", ename(setlk(fd, F_SETLK, F_RDLCK, SEEK_SET, 30, 10)));
    /* SEEK_CUR and a negative length: [offset-10, offset). */
    lseek(fd, 100, SEEK_SET);
    say("R cur-10 len -5 = %s\n", ename(setlk(fd, F_SETLK, F_RDLCK, SEEK_CUR, -10, -5)));
    pid = fork();
    if (pid == 0) {
        int c = open_file(O_RDWR);
        getlk("child getlk W[35,36)", c, F_GETLK, F_WRLCK, 35, 1);
        getlk("child getlk W[86,87)", c, F_GETLK, F_WRLCK, 86, 1);
        _exit(0);
    }
    child_status(pid);

    /* Argument errors. */
    int ro = open_file(O_RDONLY), wo = open_file(O_WRONLY);
    say("W on O_RDONLY = %s\n", ename(setlk(ro, F_SETLK, F_WRLCK, SEEK_SET, 0, 1)));
    say("R on O_WRONLY = %s\n", ename(setlk(wo, F_SETLK, F_RDLCK, SEEK_SET, 0, 1)));
    say("bad whence = %s\n", ename(setlk(fd, F_SETLK, F_RDLCK, 7, 0, 1)));
    say("bad type = %s\n", ename(setlk(fd, F_SETLK, 9, SEEK_SET, 0, 1)));
    say("negative start = %s\n", ename(setlk(fd, F_SETLK, F_RDLCK, SEEK_SET, -1, 1)));
    say("len before 0 = %s\n", ename(setlk(fd, F_SETLK, F_RDLCK, SEEK_SET, 2, -3)));
    getlk("getlk F_UNLCK", fd, F_GETLK, F_UNLCK, 0, 1);
    say("bad pointer = %s\n", ename(fcntl(fd, F_SETLK, (struct flock *)8)));

    /* Closing ANY descriptor of the file drops the process's locks on it. */
    close(ro);
    pid = fork();
    if (pid == 0) {
        int c = open_file(O_RDWR);
        getlk("after close(other fd): child getlk W[0,eof)", c, F_GETLK, F_WRLCK, 0, 0);
        _exit(0);
    }
    child_status(pid);
    say("W[0,10) again = %s\n", ename(setlk(fd, F_SETLK, F_WRLCK, SEEK_SET, 0, 10)));
    int d = dup(fd);
    close(d);
    pid = fork();
    if (pid == 0) {
        int c = open_file(O_RDWR);
        getlk("after close(dup): child getlk W[0,eof)", c, F_GETLK, F_WRLCK, 0, 0);
        _exit(0);
    }
    child_status(pid);
    close(wo);

    /* A waiter gets the lock when the holder exits. */
    int p[2];
    if (pipe(p)) exit(1);
    pid = fork();
    if (pid == 0) {
        int c = open_file(O_RDWR);
        setlk(c, F_SETLK, F_WRLCK, SEEK_SET, 0, 1);
        if (write(p[1], "x", 1) != 1) _exit(1);
        usleep(100000);
        _exit(0);
    }
    char ch;
    if (read(p[0], &ch, 1) != 1) exit(1);
    say("F_SETLKW until the holder exits = %s\n", ename(setlk(fd, F_SETLKW, F_WRLCK, SEEK_SET, 0, 1)));
    child_status(pid);
    setlk(fd, F_SETLK, F_UNLCK, SEEK_SET, 0, 0);

    /* EINTR; the child waits on its own pipe to be told to go. */
    int q[2];
    if (pipe(q)) exit(1);
    pid = fork();
    if (pid == 0) {
        int c = open_file(O_RDWR);
        setlk(c, F_SETLK, F_WRLCK, SEEK_SET, 0, 1);
        if (write(p[1], "x", 1) != 1) _exit(1);
        if (read(q[0], &ch, 1) != 1) _exit(1);
        _exit(0);
    }
    if (read(p[0], &ch, 1) != 1) exit(1);
    arm_alarm();
    say("F_SETLKW under alarm = %s\n", ename(setlk(fd, F_SETLKW, F_WRLCK, SEEK_SET, 0, 1)));
    if (write(q[1], "x", 1) != 1) exit(1);
    child_status(pid);
    close(q[0]);
    close(q[1]);

    /* EDEADLK: parent holds byte 0, child byte 1, each waits for the
     * other's: exactly one of the two waits is refused, whichever comes
     * second; the refused one lets go and the other then gets its lock. */
    say("W[0,1) = %s\n", ename(setlk(fd, F_SETLK, F_WRLCK, SEEK_SET, 0, 1)));
    pid = fork();
    if (pid == 0) {
        int c = open_file(O_RDWR);
        setlk(c, F_SETLK, F_WRLCK, SEEK_SET, 1, 1);
        if (write(p[1], "x", 1) != 1) _exit(1);
        int r = setlk(c, F_SETLKW, F_WRLCK, SEEK_SET, 0, 1);
        _exit(r == 0 ? 0 : errno == EDEADLK ? 1 : 2);
    }
    if (read(p[0], &ch, 1) != 1) exit(1);
    usleep(100000);
    int r = setlk(fd, F_SETLKW, F_WRLCK, SEEK_SET, 1, 1);
    int parent_deadlk = r != 0 && errno == EDEADLK;
    if (parent_deadlk) setlk(fd, F_SETLK, F_UNLCK, SEEK_SET, 0, 0);
    int cs = child_status(pid);
    say("deadlock: refusals %d, other side ok %d\n", parent_deadlk + (cs == 1),
        parent_deadlk ? cs == 0 : r == 0);
    close(p[0]);
    close(p[1]);
    close(fd);
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* The /proc/locks lines of the file behind `fd` (matched by device and
 * inode), without their numbers, pids as "parent"/"-1", sorted. */
static void show_proc_locks(int fd) {
    struct stat st;
    fstat(fd, &st);
    char want[64];
    snprintf(want, sizeof want, "%02x:%02x:%lu", major(st.st_dev), minor(st.st_dev), (unsigned long)st.st_ino);
    FILE *f = fopen("/proc/locks", "r");
    char line[256], *out[16];
    int n = 0;
    while (f && n < 16 && fgets(line, sizeof line, f)) {
        char cls[16], adv[16], type[16], where[64], start[32], end[32];
        int pid;
        if (sscanf(line, "%*d: %15s %15s %15s %d %63s %31s %31s", cls, adv, type, &pid, where, start, end) != 7)
            continue;
        if (strcmp(where, want) != 0) continue;
        char buf[160];
        snprintf(buf, sizeof buf, "  %s %s %s %s %s %s", cls, adv, type,
                 pid == parent_pid ? "parent" : pid == -1 ? "-1" : "other", start, end);
        out[n++] = strdup(buf);
    }
    if (f) fclose(f);
    qsort(out, n, sizeof out[0], cmp_str);
    for (int i = 0; i < n; i++) say("%s\n", out[i]);
}

static void test_ofd(void) {
    say("-- OFD locks\n");
    int a = open_file(O_RDWR), b = open_file(O_RDWR);
    say("ofd W[0,10) on a = %s\n", ename(setlk(a, F_OFD_SETLK, F_WRLCK, SEEK_SET, 0, 10)));
    say("ofd W[5,6) on b (same process) = %s\n", ename(setlk(b, F_OFD_SETLK, F_WRLCK, SEEK_SET, 5, 1)));
    say("posix W[5,6) on b = %s\n", ename(setlk(b, F_SETLK, F_WRLCK, SEEK_SET, 5, 1)));
    getlk("ofd getlk on b", b, F_OFD_GETLK, F_RDLCK, 0, 1);
    getlk("posix getlk on b", b, F_GETLK, F_RDLCK, 0, 1);
    say("posix R[20,30) on b = %s\n", ename(setlk(b, F_SETLK, F_RDLCK, SEEK_SET, 20, 10)));
    int fl = open_file(O_RDONLY);
    say("flock(SH) = %s\n", ename(flock(fl, LOCK_SH)));
    say("/proc/locks:\n");
    show_proc_locks(a);
    getlk("ofd getlk W[25,26) on a", a, F_OFD_GETLK, F_WRLCK, 25, 1);
    close(fl);  /* closes another fd of the file: the POSIX lock goes */
    getlk("after close(fl): ofd getlk W[25,26) on a", a, F_OFD_GETLK, F_WRLCK, 25, 1);
    struct flock l = {.l_type = F_RDLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 1, .l_pid = 1};
    say("ofd with l_pid != 0 = %s\n", ename(fcntl(a, F_OFD_SETLK, &l)));
    /* Closing b drops the process's POSIX locks, not a's OFD lock. */
    close(b);
    int c = open_file(O_RDWR);
    getlk("after close(b): ofd getlk on c", c, F_OFD_GETLK, F_WRLCK, 0, 0);
    pid_t pid = fork();
    if (pid == 0) {
        /* The child shares a's description, so it owns the lock too. */
        say("child: ofd W[0,10) on inherited a = %s\n", ename(setlk(a, F_OFD_SETLK, F_WRLCK, SEEK_SET, 0, 10)));
        say("child: ofd W[0,1) on new fd = %s\n",
            ename(setlk(open_file(O_RDWR), F_OFD_SETLK, F_WRLCK, SEEK_SET, 0, 1)));
        _exit(0);
    }
    child_status(pid);
    close(a);
    getlk("after the last close of a: ofd getlk on c", c, F_OFD_GETLK, F_WRLCK, 0, 0);
    close(c);
}

int main(void) {
    parent_pid = getpid();
    strcpy(path, "/tmp/file_locks.XXXXXX");
    int fd = mkstemp(path);
    if (fd < 0) {
        perror("mkstemp");
        return 1;
    }
    if (write(fd, "0123456789", 10) != 10) return 1;
    close(fd);
    test_flock();
    test_posix();
    test_ofd();
    unlink(path);
    say("done\n");
    return 0;
}
