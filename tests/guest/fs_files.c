// Regular files through the path syscalls: create, read, write, lseek,
// truncate, append, the open flags' errnos, stat fields that do not depend
// on the filesystem, access and chmod as root. Works in its own directory
// under the cwd and removes it.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <unistd.h>

#define DIR_NAME "fs_test_dir_files"

#include "fs_errno.h"

static void check(const char* what, long r) {
    if (r < 0)
        printf("%s: %s\n", what, errname(errno));
    else
        printf("%s: ok\n", what);
}

static void show_stat(const char* name, int follow) {
    struct stat st;
    int r = follow ? stat(name, &st) : lstat(name, &st);
    if (r < 0) {
        printf("stat %s: %s\n", name, errname(errno));
        return;
    }
    const char* type = S_ISREG(st.st_mode) ? "reg" : S_ISDIR(st.st_mode) ? "dir"
                       : S_ISLNK(st.st_mode) ? "lnk" : S_ISFIFO(st.st_mode) ? "fifo" : "other";
    printf("stat %s: %s mode=%04o nlink=%lu", name, type, st.st_mode & 07777,
           (unsigned long)st.st_nlink);
    if (!S_ISDIR(st.st_mode)) printf(" size=%lld", (long long)st.st_size);
    printf("\n");
}

static void show_file(const char* name) {
    char buf[256];
    int fd = open(name, O_RDONLY);
    if (fd < 0) {
        printf("read %s: %s\n", name, errname(errno));
        return;
    }
    ssize_t n = read(fd, buf, sizeof buf);
    close(fd);
    printf("read %s: %zd [", name, n);
    for (ssize_t i = 0; i < n; i++) putchar(buf[i] ? buf[i] : '0');
    printf("]\n");
}

int main(void) {
    umask(022);
    rmdir(DIR_NAME);
    check("mkdir", mkdir(DIR_NAME, 0755));
    check("chdir", chdir(DIR_NAME));

    // Create, write, read back, seek.
    int fd = open("a", O_CREAT | O_RDWR | O_EXCL, 0666);
    check("open O_CREAT|O_EXCL", fd);
    check("write", write(fd, "hello world", 11));
    printf("lseek cur: %ld\n", (long)lseek(fd, 0, SEEK_CUR));
    printf("lseek set 6: %ld\n", (long)lseek(fd, 6, SEEK_SET));
    char buf[64] = {0};
    printf("read: %zd %s\n", read(fd, buf, sizeof buf - 1), buf);
    printf("lseek end: %ld\n", (long)lseek(fd, 0, SEEK_END));
    printf("pread: %zd\n", pread(fd, buf, 5, 0));
    check("fsync", fsync(fd));
    check("fdatasync", fdatasync(fd));
    close(fd);
    show_stat("a", 1);

    // O_EXCL on an existing file, O_TRUNC, O_APPEND.
    check("open O_EXCL again", open("a", O_CREAT | O_EXCL | O_WRONLY, 0600));
    fd = open("a", O_WRONLY | O_APPEND);
    check("open O_APPEND", fd);
    lseek(fd, 0, SEEK_SET);
    check("append", write(fd, "!", 1));
    printf("offset after append: %ld\n", (long)lseek(fd, 0, SEEK_CUR));
    printf("getfl append: %d\n", (fcntl(fd, F_GETFL) & O_APPEND) != 0);
    close(fd);
    show_file("a");
    fd = open("a", O_WRONLY | O_TRUNC);
    check("open O_TRUNC", fd);
    close(fd);
    show_stat("a", 1);

    // creat, truncate, ftruncate (sparse), fallocate.
    fd = creat("b", 0640);
    check("creat", fd);
    check("write b", write(fd, "abcdef", 6));
    check("ftruncate 3", ftruncate(fd, 3));
    check("ftruncate 10", ftruncate(fd, 10));
    check("ftruncate -1", ftruncate(fd, -1));
    check("fallocate", fallocate(fd, 0, 0, 4096));
    show_stat("b", 1);
    check("read on O_WRONLY", read(fd, buf, 1));
    close(fd);
    show_file("b");
    check("truncate 2", truncate("b", 2));
    show_file("b");
    check("truncate dir", truncate(".", 0));
    check("truncate missing", truncate("nope", 0));
    fd = open("b", O_RDONLY);
    check("ftruncate O_RDONLY", ftruncate(fd, 0));
    check("write on O_RDONLY", write(fd, "x", 1));
    close(fd);

    // Open flag errnos.
    check("open missing", open("missing", O_RDONLY));
    check("open O_DIRECTORY on file", open("a", O_RDONLY | O_DIRECTORY));
    check("open dir O_WRONLY", open(".", O_WRONLY));
    check("open O_CREAT|O_DIRECTORY", open("newdir", O_CREAT | O_DIRECTORY | O_RDONLY, 0600));
    check("open file/", open("a/", O_RDONLY));
    check("open a/x", open("a/x", O_RDONLY));
    check("symlink l->a", symlink("a", "l"));
    check("open O_NOFOLLOW on link", open("l", O_RDONLY | O_NOFOLLOW));
    fd = open("l", O_RDONLY | O_NOFOLLOW | O_PATH);
    check("open O_NOFOLLOW|O_PATH on link", fd);
    if (fd >= 0) {
        struct stat st;
        fstat(fd, &st);
        printf("O_PATH link is link: %d\n", S_ISLNK(st.st_mode));
        check("read O_PATH", read(fd, buf, 1));
        close(fd);
    }
    check("open O_CREAT|O_EXCL on link", open("l", O_CREAT | O_EXCL | O_WRONLY, 0600));
    check("symlink dangling", symlink("nowhere", "dl"));
    fd = open("dl", O_CREAT | O_WRONLY, 0600);
    check("open O_CREAT through dangling link", fd);
    close(fd);
    show_stat("nowhere", 1);
    show_stat("dl", 0);

    // ELOOP and ENAMETOOLONG.
    check("symlink loop1", symlink("loop2", "loop1"));
    check("symlink loop2", symlink("loop1", "loop2"));
    check("open loop", open("loop1", O_RDONLY));
    check("stat loop", stat("loop1", &(struct stat){0}));
    char longname[300];
    memset(longname, 'x', 256);
    longname[256] = 0;
    check("open long name", open(longname, O_CREAT | O_WRONLY, 0600));
    static char longpath[5000];
    memset(longpath, 'a', sizeof longpath - 1);
    for (int i = 100; i < (int)sizeof longpath - 1; i += 100) longpath[i] = '/';
    check("open long path", open(longpath, O_RDONLY));
    check("mkdir long name", mkdir(longname, 0755));

    // chmod, access as root.
    check("chmod 0", chmod("a", 0));
    show_stat("a", 1);
    check("access R_OK as root", access("a", R_OK | W_OK));
    check("access X_OK no x bits", access("a", X_OK));
    check("chmod 0700", chmod("a", 0700));
    check("access X_OK", access("a", X_OK));
    check("access F_OK missing", access("missing", F_OK));
    check("access bad mode", access("a", 8));
    check("faccessat AT_EACCESS", faccessat(AT_FDCWD, "a", R_OK, AT_EACCESS));
    fd = open("a", O_RDONLY);
    check("fchmod", fchmod(fd, 04755));
    show_stat("a", 1);
    check("fchown", fchown(fd, 0, 0));
    show_stat("a", 1);
    close(fd);
    check("chown", chown("a", 0, 0));
    check("lchown", lchown("l", 0, 0));
    check("fchownat nofollow", fchownat(AT_FDCWD, "l", 0, 0, AT_SYMLINK_NOFOLLOW));
    check("fchmodat", fchmodat(AT_FDCWD, "a", 0644, 0));
    show_stat("a", 1);

    // Times: set explicit ones and read them back.
    struct timespec ts[2] = {{1000000000, 5}, {1100000000, 7}};
    check("utimensat", utimensat(AT_FDCWD, "a", ts, 0));
    struct stat st;
    stat("a", &st);
    printf("times: %ld.%ld %ld.%ld\n", (long)st.st_atim.tv_sec, st.st_atim.tv_nsec,
           (long)st.st_mtim.tv_sec, st.st_mtim.tv_nsec);
    ts[0].tv_nsec = 1000000000;
    check("utimensat bad nsec", utimensat(AT_FDCWD, "a", ts, 0));
    ts[0].tv_nsec = UTIME_OMIT;
    ts[1].tv_nsec = UTIME_OMIT;
    check("utimensat omit missing", utimensat(AT_FDCWD, "missing", ts, 0));
    check("utimensat now", utimensat(AT_FDCWD, "a", NULL, 0));
    struct timeval tv[2] = {{1200000000, 1}, {1300000000, 2}};
    check("utimes", utimes("a", tv));
    stat("a", &st);
    printf("times: %ld.%ld %ld.%ld\n", (long)st.st_atim.tv_sec, st.st_atim.tv_nsec,
           (long)st.st_mtim.tv_sec, st.st_mtim.tv_nsec);

    // Clean up.
    const char* names[] = {"a", "b", "l", "dl", "nowhere", "loop1", "loop2"};
    for (unsigned i = 0; i < sizeof names / sizeof *names; i++) check(names[i], unlink(names[i]));
    check("chdir ..", chdir(".."));
    check("rmdir", rmdir(DIR_NAME));
    return 0;
}
