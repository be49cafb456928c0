// Directories and names: mkdir/rmdir, getdents64 listings (sorted), rename,
// link, unlink, symlink and readlink corner cases with their errnos, the
// *at() calls with dirfds (AT_FDCWD, O_PATH, AT_EMPTY_PATH), chdir, fchdir
// and getcwd relative to the test directory.
#define _GNU_SOURCE
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "fs_errno.h"

#define DIR_NAME "fs_test_dir_dirs"

#ifndef RENAME_NOREPLACE
#define RENAME_NOREPLACE 1
#define RENAME_EXCHANGE 2
#endif

static void check(const char* what, long r) {
    if (r < 0)
        printf("%s: %s\n", what, errname(errno));
    else
        printf("%s: ok\n", what);
}

static int cmp(const void* a, const void* b) { return strcmp(*(char* const*)a, *(char* const*)b); }

// Lists a directory through getdents64, names sorted, with d_type.
static void list(const char* what, int dfd) {
    char buf[512];
    char* names[64];
    int n = 0;
    lseek(dfd, 0, SEEK_SET);
    for (;;) {
        long got = syscall(SYS_getdents64, dfd, buf, sizeof buf);
        if (got < 0) {
            printf("%s: getdents64 %s\n", what, errname(errno));
            return;
        }
        if (got == 0) break;
        for (long off = 0; off < got;) {
            struct dirent64* d = (struct dirent64*)(buf + off);
            char* s = malloc(300);
            snprintf(s, 300, "%s:%c", d->d_name,
                     d->d_type == DT_DIR ? 'd' : d->d_type == DT_REG ? 'f' : d->d_type == DT_LNK ? 'l' : '?');
            if (n < 64) names[n++] = s;
            off += d->d_reclen;
        }
    }
    qsort(names, n, sizeof *names, cmp);
    printf("%s:", what);
    for (int i = 0; i < n; i++) {
        printf(" %s", names[i]);
        free(names[i]);
    }
    printf("\n");
}

static void show_link(const char* name) {
    char buf[64];
    ssize_t n = readlink(name, buf, sizeof buf);
    if (n < 0)
        printf("readlink %s: %s\n", name, errname(errno));
    else
        printf("readlink %s: %.*s\n", name, (int)n, buf);
}

static void nlink(const char* name) {
    struct stat st;
    if (lstat(name, &st) < 0)
        printf("nlink %s: %s\n", name, errname(errno));
    else
        printf("nlink %s: %lu\n", name, (unsigned long)st.st_nlink);
}

static void cwd_suffix(void) {
    char buf[4096];
    if (!getcwd(buf, sizeof buf)) {
        printf("getcwd: %s\n", errname(errno));
        return;
    }
    const char* p = strstr(buf, DIR_NAME);
    printf("getcwd: %s\n", p ? p : "(outside)");
}

static int touch(const char* name) {
    int fd = open(name, O_CREAT | O_WRONLY, 0644);
    if (fd >= 0) close(fd);
    return fd;
}

int main(void) {
    umask(022);
    check("mkdir", mkdir(DIR_NAME, 0755));
    check("mkdir again", mkdir(DIR_NAME, 0755));
    check("chdir", chdir(DIR_NAME));
    cwd_suffix();

    check("mkdir d", mkdir("d", 0700));
    check("mkdir d/e", mkdir("d/e", 0755));
    check("mkdir missing/x", mkdir("missing/x", 0755));
    check("touch f", touch("f"));
    check("touch d/g", touch("d/g"));
    check("mkdir f/x", mkdir("f/x", 0755));
    nlink(".");
    nlink("d");
    int dot = open(".", O_RDONLY | O_DIRECTORY);
    list("top", dot);
    int d = open("d", O_RDONLY | O_DIRECTORY);
    list("d", d);

    // rmdir and unlink errnos.
    check("rmdir d (not empty)", rmdir("d"));
    check("rmdir f", rmdir("f"));
    check("rmdir .", rmdir("."));
    check("rmdir d/e/..", rmdir("d/e/.."));
    check("unlink d", unlink("d"));
    check("unlink missing", unlink("missing"));
    check("unlinkat AT_REMOVEDIR on file", unlinkat(AT_FDCWD, "f", AT_REMOVEDIR));
    check("unlinkat bad flag", unlinkat(AT_FDCWD, "f", 1));

    // Links.
    check("link f h", link("f", "h"));
    nlink("f");
    check("link f h again", link("f", "h"));
    check("link dir", link("d", "dl"));
    check("link missing", link("missing", "x"));
    check("symlink s->f", symlink("f", "s"));
    check("symlink empty", symlink("", "s2"));
    check("symlink exists", symlink("x", "f"));
    check("linkat s (nofollow)", linkat(AT_FDCWD, "s", AT_FDCWD, "s_hard", 0));
    nlink("s");
    check("linkat s FOLLOW", linkat(AT_FDCWD, "s", AT_FDCWD, "f_hard", AT_SYMLINK_FOLLOW));
    nlink("f");
    show_link("s");
    show_link("f");
    show_link("missing");
    char small[2];
    printf("readlink short: %zd\n", readlink("s", small, 1));
    check("readlink size 0", readlink("s", small, 0));

    // Renames.
    check("rename f -> r", rename("f", "r"));
    check("rename missing", rename("missing", "x"));
    check("rename r -> h (same inode)", rename("r", "h"));
    nlink("h");
    check("rename d -> r (dir over file)", rename("d", "r"));
    check("rename r -> d (file over dir)", rename("r", "d"));
    check("mkdir empty", mkdir("empty", 0755));
    check("rename d -> empty (over empty dir)", rename("d", "empty"));
    check("mkdir d2", mkdir("d2", 0755));
    check("touch d2/z", touch("d2/z"));
    check("rename empty -> d2 (not empty)", rename("empty", "d2"));
    check("rename into itself", rename("empty", "empty/e/sub"));
    check("rename . ", rename(".", "x"));
    check("rename to missing dir", rename("r", "missing/x"));
    check("renameat2 NOREPLACE", syscall(SYS_renameat2, AT_FDCWD, "h", AT_FDCWD, "s", RENAME_NOREPLACE));
    check("renameat2 EXCHANGE", syscall(SYS_renameat2, AT_FDCWD, "h", AT_FDCWD, "s", RENAME_EXCHANGE));
    show_link("h");
    check("renameat2 bad flags", syscall(SYS_renameat2, AT_FDCWD, "h", AT_FDCWD, "s", RENAME_NOREPLACE | RENAME_EXCHANGE));
    list("top", dot);

    // dirfds: relative to an fd, O_PATH, absolute ignores dirfd, AT_EMPTY_PATH.
    int e = open("empty", O_RDONLY | O_DIRECTORY);
    check("openat dirfd", touch("empty/e/x") < 0 ? -1 : 0);
    int fd = openat(e, "e/x", O_RDONLY);
    check("openat relative", fd);
    check("openat on file dirfd", openat(fd, "y", O_RDONLY));
    check("openat bad dirfd", openat(1000, "y", O_RDONLY));
    check("openat bad dirfd absolute", openat(1000, "/", O_RDONLY) < 0 ? -1 : 0);
    check("openat empty path", openat(e, "", O_RDONLY));
    close(fd);
    int p = open("empty/e", O_PATH);
    check("open O_PATH dir", p);
    check("mkdirat O_PATH dirfd", mkdirat(p, "m", 0755));
    check("symlinkat", symlinkat("m", p, "ml"));
    char buf[64];
    ssize_t n = readlinkat(p, "ml", buf, sizeof buf);
    printf("readlinkat: %.*s\n", (int)(n < 0 ? 0 : n), buf);
    int pl = openat(p, "ml", O_PATH | O_NOFOLLOW);
    n = readlinkat(pl, "", buf, sizeof buf);
    printf("readlinkat empty on link: %.*s\n", (int)(n < 0 ? 0 : n), buf);
    check("readlinkat empty on dir", readlinkat(p, "", buf, sizeof buf));
    struct stat st;
    memset(&st, 0, sizeof st);
    check("fstatat AT_EMPTY_PATH", fstatat(p, "", &st, AT_EMPTY_PATH));
    printf("is dir: %d\n", S_ISDIR(st.st_mode));
    check("fstatat empty without flag", fstatat(p, "", &st, 0));
    memset(&st, 0, sizeof st);
    check("fstat O_PATH", fstat(pl, &st));
    printf("is link: %d\n", S_ISLNK(st.st_mode));
    check("fchmod O_PATH", syscall(SYS_fchmod, p, 0755));
    check("fchmodat AT_EMPTY_PATH", syscall(SYS_fchownat, p, "", 0, 0, AT_EMPTY_PATH));
    check("faccessat AT_EMPTY_PATH", syscall(SYS_faccessat2, p, "", R_OK, AT_EMPTY_PATH));
    check("linkat AT_EMPTY_PATH", linkat(fd = open("r", O_RDONLY), "", AT_FDCWD, "h_empty", AT_EMPTY_PATH));
    close(fd);
    nlink("h_empty");
    check("unlinkat dirfd", unlinkat(p, "ml", 0));
    check("unlinkat dirfd dir", unlinkat(p, "m", AT_REMOVEDIR));
    check("renameat", renameat(e, "e/x", p, "x2"));
    list("empty/e", open("empty/e", O_RDONLY | O_DIRECTORY));
    check("getdents64 O_PATH", syscall(SYS_getdents64, p, buf, sizeof buf));
    check("getdents64 file", syscall(SYS_getdents64, open("r", O_RDONLY), buf, sizeof buf));
    check("getdents64 small buf", syscall(SYS_getdents64, e, buf, 8));

    // chdir, fchdir, getcwd.
    check("chdir empty/e", chdir("empty/e"));
    cwd_suffix();
    check("chdir ../..", chdir("../.."));
    cwd_suffix();
    check("fchdir O_PATH", fchdir(p));
    cwd_suffix();
    check("fchdir dot", fchdir(dot));
    cwd_suffix();
    check("chdir file", chdir("r"));
    check("chdir missing", chdir("missing"));
    check("fchdir file", fchdir(open("r", O_RDONLY)));
    check("getcwd small", syscall(SYS_getcwd, buf, 2));
    check("mkdir gone", mkdir("gone", 0755));
    check("chdir gone", chdir("gone"));
    check("rmdir ../gone", rmdir("../gone"));
    check("getcwd removed", syscall(SYS_getcwd, buf, sizeof buf));
    check("fchdir back", fchdir(dot));

    // Clean up.
    const char* files[] = {"h", "s", "r", "s_hard", "f_hard", "h_empty", "d2/z", "empty/e/x2",
                           "empty/g"};
    for (unsigned i = 0; i < sizeof files / sizeof *files; i++) check(files[i], unlink(files[i]));
    const char* dirs[] = {"d2", "empty/e", "empty"};
    for (unsigned i = 0; i < sizeof dirs / sizeof *dirs; i++) check(dirs[i], rmdir(dirs[i]));
    list("top", dot);
    check("chdir ..", chdir(".."));
    check("rmdir", rmdir(DIR_NAME));
    return 0;
}
