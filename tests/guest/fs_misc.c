// The rest of the path syscalls: memfd_create, sendfile (to a pipe and to
// stdout), copy_file_range, statx, statfs, openat2, mknod (FIFO and
// regular), large directories read in small getdents64 pieces, sync,
// chroot in a child.
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fs_errno.h"

#define DIR_NAME "fs_test_dir_misc"

#ifndef SYS_openat2
#define SYS_openat2 437
#endif
#ifndef SYS_memfd_create
#define SYS_memfd_create 319
#endif
#ifndef MFD_CLOEXEC
#define MFD_CLOEXEC 1
#endif

// struct statx's leading fields (musl's headers may lack it), padded to 256.
struct vk_statx {
    unsigned int stx_mask, stx_blksize;
    unsigned long long stx_attributes;
    unsigned int stx_nlink, stx_uid, stx_gid;
    unsigned short stx_mode, pad0;
    unsigned long long stx_ino, stx_size, stx_blocks, stx_attributes_mask;
    unsigned char rest[256 - 64];
};
#define VK_STATX_BASIC_STATS 0x7ffu
#define statx(dfd, path, flags, mask, buf) syscall(SYS_statx, dfd, path, flags, mask, buf)

// <linux/openat2.h>, which musl's headers lack.
struct vk_open_how {
    unsigned long long flags, mode, resolve;
};

static void check(const char* what, long r) {
    if (r < 0)
        printf("%s: %s\n", what, errname(errno));
    else
        printf("%s: ok\n", what);
}

static void checkv(const char* what, long r) {
    if (r < 0)
        printf("%s: %s\n", what, errname(errno));
    else
        printf("%s: %ld\n", what, r);
}

int main(void) {
    umask(022);
    check("mkdir", mkdir(DIR_NAME, 0755));
    check("chdir", chdir(DIR_NAME));
    char buf[8192];

    // memfd_create.
    int m = syscall(SYS_memfd_create, "test", MFD_CLOEXEC);
    check("memfd_create", m);
    printf("memfd cloexec: %d\n", fcntl(m, F_GETFD) == FD_CLOEXEC);
    checkv("memfd write", write(m, "memfd data\n", 11));
    struct stat st;
    fstat(m, &st);
    printf("memfd: reg=%d size=%lld\n", S_ISREG(st.st_mode), (long long)st.st_size);
    checkv("memfd pread", pread(m, buf, sizeof buf, 0));
    check("memfd ftruncate", ftruncate(m, 4096));
    checkv("memfd lseek end", lseek(m, 0, SEEK_END));
    check("memfd bad flags", syscall(SYS_memfd_create, "x", 0x1000));
    char longname[300];
    memset(longname, 'n', 260);
    longname[260] = 0;
    check("memfd long name", syscall(SYS_memfd_create, longname, 0));

    // sendfile: file -> pipe, with and without an offset.
    int f = open("src", O_CREAT | O_RDWR | O_TRUNC, 0644);
    for (int i = 0; i < 1000; i++) dprintf(f, "line %04d\n", i);
    int pfd[2];
    check("pipe", pipe(pfd));
    lseek(f, 100, SEEK_SET);
    checkv("sendfile to pipe", sendfile(pfd[1], f, NULL, 50));
    checkv("offset after", lseek(f, 0, SEEK_CUR));
    ssize_t n = read(pfd[0], buf, sizeof buf);
    printf("pipe got %zd: %.*s", n, (int)n, buf);
    printf("\n");
    off_t off = 20;
    checkv("sendfile with offset", sendfile(pfd[1], f, &off, 10));
    printf("off now %ld, file offset %ld\n", (long)off, (long)lseek(f, 0, SEEK_CUR));
    n = read(pfd[0], buf, sizeof buf);
    printf("pipe got %zd: %.*s", n, (int)n, buf);
    off = 9990;
    checkv("sendfile at eof", sendfile(pfd[1], f, &off, 100));
    off = 10000;
    checkv("sendfile past eof", sendfile(pfd[1], f, &off, 100));
    checkv("sendfile from write end", sendfile(pfd[1], pfd[1], NULL, 1));
    int ro = open("src", O_RDONLY);
    checkv("sendfile to read-only", sendfile(ro, f, NULL, 1));
    checkv("sendfile bad fd", sendfile(pfd[1], 999, NULL, 1));
    fflush(stdout);
    off = 0;
    checkv("sendfile to stdout", sendfile(1, f, &off, 30));
    fflush(stdout);
    // A large sendfile into a pipe that a child drains.
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        close(pfd[1]);
        long total = 0;
        while ((n = read(pfd[0], buf, sizeof buf)) > 0) total += n;
        printf("child read %ld\n", total);
        fflush(stdout);
        _exit(0);
    }
    close(pfd[0]);
    off = 0;
    long sent = 0;
    for (int i = 0; i < 20; i++) {
        off = 0;
        while (off < 10000) {
            long r = sendfile(pfd[1], f, &off, 10000 - off);
            if (r <= 0) break;
            sent += r;
        }
    }
    printf("sent %ld\n", sent);
    fflush(stdout);
    close(pfd[1]);
    waitpid(pid, NULL, 0);

    // copy_file_range.
    int d = open("dst", O_CREAT | O_RDWR | O_TRUNC, 0644);
    off_t in_off = 10, out_off = 0;
    checkv("copy_file_range", syscall(SYS_copy_file_range, f, &in_off, d, &out_off, 25, 0));
    printf("offsets %ld %ld\n", (long)in_off, (long)out_off);
    lseek(f, 0, SEEK_SET);
    checkv("copy_file_range file offsets", syscall(SYS_copy_file_range, f, NULL, d, NULL, 5, 0));
    printf("file offsets %ld %ld\n", (long)lseek(f, 0, SEEK_CUR), (long)lseek(d, 0, SEEK_CUR));
    n = pread(d, buf, sizeof buf, 0);
    printf("dst %zd: %.*s|\n", n, (int)n, buf);
    in_off = 9995;
    checkv("copy_file_range near eof", syscall(SYS_copy_file_range, f, &in_off, d, NULL, 100, 0));
    checkv("copy_file_range flags", syscall(SYS_copy_file_range, f, NULL, d, NULL, 5, 1));
    checkv("copy_file_range pipe", syscall(SYS_copy_file_range, f, NULL, 1, NULL, 5, 0) < 0 &&
                                           errno == EINVAL ? -1 : 0);
    in_off = 0;
    out_off = 10;
    checkv("copy_file_range overlap", syscall(SYS_copy_file_range, d, &in_off, d, &out_off, 20, 0));
    checkv("copy_file_range read-only out", syscall(SYS_copy_file_range, f, NULL, ro, NULL, 5, 0));
    int dir = open(".", O_RDONLY | O_DIRECTORY);
    checkv("copy_file_range dir", syscall(SYS_copy_file_range, dir, NULL, d, NULL, 5, 0));

    // statx.
    struct vk_statx sx;
    check("statx", statx(AT_FDCWD, "src", 0, VK_STATX_BASIC_STATS, &sx));
    printf("statx: basic=%d mode=%o size=%llu nlink=%u\n",
           (sx.stx_mask & VK_STATX_BASIC_STATS) == VK_STATX_BASIC_STATS, sx.stx_mode,
           (unsigned long long)sx.stx_size, sx.stx_nlink);
    check("statx AT_EMPTY_PATH", statx(d, "", AT_EMPTY_PATH, VK_STATX_BASIC_STATS, &sx));
    printf("statx fd size=%llu\n", (unsigned long long)sx.stx_size);
    check("statx reserved mask", statx(AT_FDCWD, "src", 0, 0x80000000u, &sx));
    check("statx bad flags", statx(AT_FDCWD, "src", 0x10000, VK_STATX_BASIC_STATS, &sx));
    check("statx missing", statx(AT_FDCWD, "missing", 0, VK_STATX_BASIC_STATS, &sx));

    // statfs.
    struct statfs sf;
    check("statfs", statfs(".", &sf));
    printf("statfs namelen=%ld\n", (long)sf.f_namelen);
    check("fstatfs", fstatfs(f, &sf));
    check("statfs missing", statfs("missing", &sf));

    // openat2.
    struct vk_open_how how = {.flags = O_RDONLY};
    int o = syscall(SYS_openat2, AT_FDCWD, "src", &how, sizeof how);
    check("openat2", o);
    close(o);
    how.mode = 0644;
    check("openat2 mode without O_CREAT", syscall(SYS_openat2, AT_FDCWD, "src", &how, sizeof how));
    how.mode = 0;
    how.flags = 1ull << 40;
    check("openat2 bad flags", syscall(SYS_openat2, AT_FDCWD, "src", &how, sizeof how));
    how.flags = O_RDONLY;
    check("openat2 small size", syscall(SYS_openat2, AT_FDCWD, "src", &how, 8));
    struct {
        struct vk_open_how h;
        unsigned long long extra;
    } big = {{.flags = O_RDONLY}, 1};
    check("openat2 nonzero tail", syscall(SYS_openat2, AT_FDCWD, "src", &big, sizeof big));
    big.extra = 0;
    o = syscall(SYS_openat2, AT_FDCWD, "src", &big, sizeof big);
    check("openat2 zero tail", o);
    close(o);
    how.flags = O_CREAT | O_WRONLY;
    how.mode = 0640;
    o = syscall(SYS_openat2, AT_FDCWD, "created2", &how, sizeof how);
    check("openat2 O_CREAT", o);
    close(o);
    stat("created2", &st);
    printf("created2 mode %o\n", st.st_mode);

    // mknod.
    check("mknod fifo", mknod("fifo", S_IFIFO | 0600, 0));
    check("mkfifo exists", mkfifo("fifo", 0600));
    check("mknod reg", mknod("reg", S_IFREG | 0600, 0));
    check("mknod zero type", mknod("reg0", 0600, 0));
    check("mknod dir", mknod("dirnode", S_IFDIR | 0600, 0));
    check("mknodat bad type", mknodat(AT_FDCWD, "bad", 0170000 | 0600, 0));
    stat("fifo", &st);
    printf("fifo: %d %o\n", S_ISFIFO(st.st_mode), st.st_mode & 07777);
    stat("reg0", &st);
    printf("reg0: %d %o\n", S_ISREG(st.st_mode), st.st_mode & 07777);

    // A directory with many entries, read 256 bytes at a time.
    check("mkdir big", mkdir("big", 0755));
    for (int i = 0; i < 300; i++) {
        snprintf(buf, sizeof buf, "big/entry_with_a_long_name_%03d", i);
        close(open(buf, O_CREAT | O_WRONLY, 0600));
    }
    int bd = open("big", O_RDONLY | O_DIRECTORY);
    int count = 0, sum = 0;
    for (;;) {
        long got = syscall(SYS_getdents64, bd, buf, 256);
        if (got <= 0) break;
        for (long off2 = 0; off2 < got;) {
            struct dirent64 {
                unsigned long long ino;
                long long off;
                unsigned short reclen;
                unsigned char type;
                char name[];
            }* de = (void*)(buf + off2);
            if (de->name[0] != '.') {
                count++;
                sum += atoi(de->name + 23);
            }
            off2 += de->reclen;
        }
    }
    printf("big: %d entries, sum %d\n", count, sum);
    for (int i = 0; i < 300; i++) {
        snprintf(buf, sizeof buf, "big/entry_with_a_long_name_%03d", i);
        unlink(buf);
    }
    check("rmdir big", rmdir("big"));

    // sync family.
    sync();
    check("syncfs", syncfs(f));
    check("syncfs bad fd", syncfs(999));

    // chroot in a child: the cwd is left outside the new root.
    check("mkdir jail", mkdir("jail", 0755));
    fflush(stdout);
    pid = fork();
    if (pid == 0) {
        if (chroot("jail") < 0) {
            printf("chroot: %s\n", errname(errno));
            fflush(stdout);
            _exit(1);
        }
        long r = syscall(SYS_getcwd, buf, sizeof buf);
        printf("getcwd after chroot: %ld %s\n", r > 0 ? 1L : r,
               strncmp(buf, "(unreachable)", 13) == 0 ? "unreachable" : "reachable");
        check("chdir /", chdir("/"));
        r = syscall(SYS_getcwd, buf, sizeof buf);
        printf("getcwd in jail: %s\n", buf);
        check("access /src", access("/src", F_OK));
        check("chroot missing", chroot("/missing"));
        check("setuid", setuid(1000));
        check("chroot as user", chroot("/"));
        fflush(stdout);
        _exit(0);
    }
    int status = 0;
    waitpid(pid, &status, 0);
    printf("child status %d\n", status);

    const char* names[] = {"src", "dst", "created2", "fifo", "reg", "reg0"};
    for (unsigned i = 0; i < sizeof names / sizeof *names; i++) check(names[i], unlink(names[i]));
    check("rmdir jail", rmdir("jail"));
    check("chdir ..", chdir(".."));
    check("rmdir", rmdir(DIR_NAME));
    return 0;
}
