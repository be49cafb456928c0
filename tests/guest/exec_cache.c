/* Executing a program file again after it changed: what runs is always the
 * file as it is now (the vkernel keeps recently executed programs in an
 * image cache, vkernel/image_cache.h, which must never run stale bytes).
 *
 *   exec_cache OTHER     copies itself to a new file in a new directory in
 *                        /tmp and runs it (twice); overwrites that file in
 *                        place with OTHER (another static program: hello)
 *                        through open(O_TRUNC) + write and runs it (twice);
 *                        renames a new copy of itself over it and runs it;
 *                        runs it 50 times in a row with different
 *                        arguments; changes a string in a copy through
 *                        pwrite (same size) and through a MAP_SHARED
 *                        mapping, running it after each.
 *   exec_cache echo N    prints "echo N argc=3" and exits with N.
 *   exec_cache mark      prints the marker string (what the above changes).
 *   exec_cache host DIR  for tests/e2e/exec_cache_host.py: runs DIR/prog
 *                        mark (twice), then twice says "ready", waits for a
 *                        line on stdin (the host rewrites DIR/prog
 *                        meanwhile) and runs DIR/prog mark x.
 *
 * A child's output is read through a pipe and printed after it is reaped,
 * so the output order is fixed. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

/* In .data, not folded into the code: its bytes appear once in the file,
 * where the tests below find and change them. */
char mark[] = "EXEC_CACHE_MARK_0";

static void die(const char *what) {
    printf("%s failed: errno %d\n", what, errno);
    exit(1);
}

static char *read_file(const char *path, size_t *len) {
    int fd = open(path, O_RDONLY);
    if (fd < 0) die("open for reading");
    struct stat st;
    if (fstat(fd, &st) != 0) die("fstat");
    char *buf = malloc(st.st_size + 1);
    size_t got = 0;
    while (got < (size_t)st.st_size) {
        ssize_t n = read(fd, buf + got, st.st_size - got);
        if (n <= 0) die("read");
        got += n;
    }
    close(fd);
    *len = got;
    return buf;
}

static void write_all(int fd, const char *buf, size_t len) {
    while (len > 0) {
        ssize_t n = write(fd, buf, len);
        if (n <= 0) die("write");
        buf += n;
        len -= n;
    }
}

/* Writes `path` afresh (created or truncated in place), mode 0755. */
static void write_file(const char *path, const char *buf, size_t len) {
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0755);
    if (fd < 0) die("open for writing");
    write_all(fd, buf, len);
    close(fd);
}

/* Runs `path` with `argv` (argv[0] fixed, not the path: the directory's
 * name differs between runs); returns the wait status, the child's stdout in
 * `out`. */
static int run(const char *path, char *const argv[], char *out, size_t outsz) {
    int p[2];
    if (pipe(p) != 0) die("pipe");
    fflush(stdout);
    pid_t c = fork();
    if (c < 0) die("fork");
    if (c == 0) {
        dup2(p[1], 1);
        close(p[0]);
        close(p[1]);
        execv(path, argv);
        printf("execv failed: errno %d\n", errno);
        fflush(stdout);
        _exit(127);
    }
    close(p[1]);
    size_t got = 0;
    for (;;) {
        ssize_t n = read(p[0], out + got, outsz - 1 - got);
        if (n <= 0) break;
        got += n;
    }
    out[got] = 0;
    close(p[0]);
    int status = -1;
    if (waitpid(c, &status, 0) != c) die("waitpid");
    return status;
}

static void describe(int status) {
    if (WIFEXITED(status))
        printf("exited %d", WEXITSTATUS(status));
    else if (WIFSIGNALED(status))
        printf("killed by signal %d", WTERMSIG(status));
    else
        printf("status 0x%x", status);
}

/* Runs and prints what happened. */
static void show(const char *label, const char *path, char *const argv[]) {
    static char out[4096];
    int status = run(path, argv, out, sizeof out);
    printf("%s: ", label);
    describe(status);
    printf("\n%s", out);
}

/* The offset of the marker in `buf`, which must hold it exactly once. */
static size_t find_mark(const char *buf, size_t len) {
    /* Copied at run time: a literal would be a second copy in the file. */
    char needle[sizeof mark];
    memcpy(needle, mark, sizeof mark - 1);
    const size_t n = sizeof mark - 2; /* all but the digit */
    const char *at = memmem(buf, len, needle, n);
    if (!at) {
        printf("marker not found\n");
        exit(1);
    }
    if (memmem(at + 1, len - (at + 1 - buf), needle, n)) {
        printf("marker found twice\n");
        exit(1);
    }
    return at - buf;
}

static int host_side(const char *dir) {
    char prog[4096], line[64];
    snprintf(prog, sizeof prog, "%s/prog", dir);
    char *mark_argv[] = {"prog", "mark", NULL};
    show("host file", prog, mark_argv);
    show("host file again", prog, mark_argv);
    printf("ready\n");
    fflush(stdout);
    if (!fgets(line, sizeof line, stdin)) die("reading stdin");
    show("host file rewritten in place", prog, mark_argv);
    printf("ready\n");
    fflush(stdout);
    if (!fgets(line, sizeof line, stdin)) die("reading stdin");
    char *x_argv[] = {"prog", "x", NULL};
    show("host file replaced by rename", prog, x_argv);
    return 0;
}

int main(int argc, char **argv) {
    if (argc == 3 && strcmp(argv[1], "echo") == 0) {
        printf("echo %s argc=%d\n", argv[2], argc);
        return atoi(argv[2]);
    }
    if (argc == 2 && strcmp(argv[1], "mark") == 0) {
        printf("mark=%s\n", mark);
        return 0;
    }
    if (argc == 3 && strcmp(argv[1], "host") == 0) return host_side(argv[2]);
    if (argc != 2) {
        printf("usage: exec_cache OTHER-PROGRAM\n");
        return 2;
    }

    size_t self_len, other_len;
    char *self = read_file(argv[0], &self_len);
    char *other = read_file(argv[1], &other_len);
    char dir[] = "/tmp/exec_cache.XXXXXX";
    if (!mkdtemp(dir)) die("mkdtemp");
    char prog[64], next[64], marked[64];
    snprintf(prog, sizeof prog, "%s/prog", dir);
    snprintf(next, sizeof next, "%s/prog.new", dir);
    snprintf(marked, sizeof marked, "%s/marked", dir);

    /* (1) A copy of this program, run twice (the second run may come from
     * the cache). */
    write_file(prog, self, self_len);
    char *echo1[] = {"prog", "echo", "1", NULL};
    show("copy", prog, echo1);
    show("copy again", prog, echo1);

    /* (2) The same file (same inode) overwritten with another program. */
    write_file(prog, other, other_len);
    char *x_argv[] = {"prog", "x", NULL};
    show("overwritten in place", prog, x_argv);
    show("overwritten in place, again", prog, x_argv);

    /* (3) A new file renamed over it. */
    write_file(next, self, self_len);
    if (rename(next, prog) != 0) die("rename");
    char *echo3[] = {"prog", "echo", "3", NULL};
    show("replaced by rename", prog, echo3);

    /* (4) The same file 50 times in a row, each run checked. */
    int good = 0;
    for (int i = 0; i < 50; i++) {
        char num[16], want[64], out[256];
        snprintf(num, sizeof num, "%d", i);
        snprintf(want, sizeof want, "echo %d argc=3\n", i);
        char *a[] = {"prog", "echo", num, NULL};
        int status = run(prog, a, out, sizeof out);
        if (WIFEXITED(status) && WEXITSTATUS(status) == i && strcmp(out, want) == 0)
            good++;
        else
            printf("run %d: status 0x%x, output \"%s\"\n", i, status, out);
    }
    printf("50 runs: %d as expected\n", good);

    /* (5) Same size, only the bytes differ: through pwrite, then through a
     * shared mapping (which changes no time stamp on its own). */
    write_file(marked, self, self_len);
    const size_t at = find_mark(self, self_len);
    char *mark_argv[] = {"marked", "mark", NULL};
    show("marked copy", marked, mark_argv);
    show("marked copy again", marked, mark_argv);
    int fd = open(marked, O_WRONLY);
    if (fd < 0) die("open marked");
    if (pwrite(fd, "1", 1, at + sizeof mark - 2) != 1) die("pwrite");
    close(fd);
    show("after pwrite", marked, mark_argv);
    show("after pwrite, again", marked, mark_argv);
    fd = open(marked, O_RDWR);
    if (fd < 0) die("open marked read-write");
    char *map = mmap(NULL, self_len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (map == MAP_FAILED) die("mmap");
    close(fd);
    map[at + sizeof mark - 2] = '2';
    if (munmap(map, self_len) != 0) die("munmap");
    show("after a write through a shared mapping", marked, mark_argv);

    unlink(prog);
    unlink(marked);
    rmdir(dir);
    free(self);
    free(other);
    return 0;
}
