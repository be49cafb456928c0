/* mount(2) and umount2(2) as root, natively (in a private mount namespace
 * when the host allows one) and in the vkernel with identical output:
 * tmpfs with size= and mode=, proc, devtmpfs, bind mounts, remount
 * read-only and back, busy mounts, lazy unmounts, and the errors (ENOENT,
 * ENOTDIR, ENODEV, EINVAL, EBUSY, EPERM for a non-root caller). What
 * differs between hosts (mount ids, devices, mount-point names, extra
 * options) is not printed; /proc/self/mounts and mountinfo lines of our
 * mounts are checked field by field. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#define TMPFS_MAGIC 0x01021994
#define PROC_SUPER_MAGIC 0x9fa0

static char base[64];
static char mnt[96], sub[128], bind_dir[96], file_path[96];

static const char *ename(int r) {
    if (r == 0) return "ok";
    switch (errno) {
    case ENOENT: return "ENOENT";
    case ENOTDIR: return "ENOTDIR";
    case ENODEV: return "ENODEV";
    case EINVAL: return "EINVAL";
    case EBUSY: return "EBUSY";
    case EPERM: return "EPERM";
    case EROFS: return "EROFS";
    case EFAULT: return "EFAULT";
    default: return strerror(errno);
    }
}

/* Whether `opts` (comma-separated) contains `want`. */
static int has_opt(const char *opts, const char *want) {
    size_t n = strlen(want);
    for (const char *p = opts; p && *p;) {
        if (strncmp(p, want, n) == 0 && (p[n] == ',' || p[n] == 0)) return 1;
        p = strchr(p, ',');
        if (p) p++;
    }
    return 0;
}

/* The /proc/self/mounts line of `where`: source, type and some options. */
static void show_mounts_line(const char *where) {
    FILE *f = fopen("/proc/self/mounts", "r");
    char src[256], dir[256], type[64], opts[512];
    int found = 0;
    while (f && fscanf(f, "%255s %255s %63s %511s %*d %*d", src, dir, type, opts) == 4) {
        if (strcmp(dir, where) != 0) continue;
        found++;
        printf("  mounts: %s %s %s ro=%d rw=%d nosuid=%d size1m=%d mode700=%d\n", src, "MNT", type,
               has_opt(opts, "ro"), has_opt(opts, "rw"), has_opt(opts, "nosuid"),
               has_opt(opts, "size=1024k"), has_opt(opts, "mode=700"));
    }
    if (f) fclose(f);
    printf("  mounts lines: %d\n", found);
}

/* The mountinfo line of `where`: its parent is the mount of `base`, the
 * root is "/" (or `root` for a bind mount), the fields around "-". */
static void show_mountinfo_line(const char *where, const char *root) {
    FILE *f = fopen("/proc/self/mountinfo", "r");
    char line[1024];
    int found = 0;
    while (f && fgets(line, sizeof line, f)) {
        unsigned id, parent, maj, min;
        char r[256], dir[256], opts[256];
        int n = 0;
        if (sscanf(line, "%u %u %u:%u %255s %255s %255s %n", &id, &parent, &maj, &min, r, dir, opts, &n) < 7)
            continue;
        if (strcmp(dir, where) != 0) continue;
        found++;
        /* Optional fields (shared:N ...) until "-". */
        char *rest = line + n;
        char *dash = strstr(rest, "- ");
        char type[64] = "", src[256] = "", sopts[512] = "";
        if (dash) sscanf(dash + 2, "%63s %255s %511s", type, src, sopts);
        struct stat st;
        stat(where, &st);
        printf("  mountinfo: root=%s ok_dev=%d opts_rw=%d relatime=%d - %s %s super_rw=%d size1m=%d\n",
               strcmp(r, root) == 0 ? "expected" : r,
               makedev(maj, min) == st.st_dev, has_opt(opts, "rw"), has_opt(opts, "relatime"), type, src,
               has_opt(sopts, "rw"), has_opt(sopts, "size=1024k"));
    }
    if (f) fclose(f);
    printf("  mountinfo lines: %d\n", found);
}

static void as_nobody(void) {
    pid_t pid = fork();
    if (pid == 0) {
        if (setresgid(65534, 65534, 65534) || setresuid(65534, 65534, 65534)) _exit(1);
        printf("nobody: mount tmpfs = %s\n", ename(mount("none", mnt, "tmpfs", 0, NULL)));
        printf("nobody: umount = %s\n", ename(umount2(mnt, 0)));
        printf("nobody: umount missing = %s\n", ename(umount2("/nonexistent/dir", 0)));
        fflush(stdout);
        _exit(0);
    }
    int st;
    waitpid(pid, &st, 0);
}

int main(void) {
    /* On the host, keep our mounts away from everyone else's. */
    if (unshare(CLONE_NEWNS) == 0) mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL);
    setvbuf(stdout, NULL, _IONBF, 0);

    strcpy(base, "/tmp/mount_test.XXXXXX");
    if (!mkdtemp(base)) {
        perror("mkdtemp");
        return 1;
    }
    chmod(base, 0755);
    snprintf(mnt, sizeof mnt, "%s/mnt", base);
    snprintf(bind_dir, sizeof bind_dir, "%s/bind", base);
    snprintf(file_path, sizeof file_path, "%s/file", base);
    mkdir(mnt, 0755);
    mkdir(bind_dir, 0755);
    close(open(file_path, O_CREAT | O_WRONLY, 0644));
    int under = open(mnt, O_RDONLY | O_DIRECTORY);
    close(openat(under, "under", O_CREAT | O_WRONLY, 0644));

    printf("-- errors\n");
    printf("missing target = %s\n", ename(mount("none", "/nonexistent/dir", "tmpfs", 0, NULL)));
    printf("unknown type = %s\n", ename(mount("none", mnt, "nosuchfs", 0, NULL)));
    printf("no type = %s\n", ename(mount("none", mnt, NULL, 0, NULL)));
    printf("bad tmpfs option = %s\n", ename(mount("none", mnt, "tmpfs", 0, "bogus=1")));
    printf("bad size = %s\n", ename(mount("none", mnt, "tmpfs", 0, "size=12x")));
    printf("tmpfs on a file = %s\n", ename(mount("none", file_path, "tmpfs", 0, NULL)));
    printf("bad type pointer = %s\n", ename(mount("none", mnt, (const char *)8, 0, NULL)));
    printf("umount missing = %s\n", ename(umount2("/nonexistent/dir", 0)));
    printf("umount not a mount = %s\n", ename(umount2(mnt, 0)));
    printf("umount bad flags = %s\n", ename(umount2(mnt, 0x100)));
    printf("remount not a mount = %s\n", ename(mount(NULL, mnt, NULL, MS_REMOUNT, NULL)));
    as_nobody();

    printf("-- tmpfs\n");
    printf("mount tmpfs = %s\n", ename(mount("none", mnt, "tmpfs", 0, "size=1m,mode=0700")));
    struct stat st;
    struct statfs sf;
    stat(mnt, &st);
    statfs(mnt, &sf);
    printf("mode %o, tmpfs %d, bytes %ld\n", st.st_mode & 07777, sf.f_type == TMPFS_MAGIC,
           (long)(sf.f_blocks * sf.f_bsize));
    snprintf(sub, sizeof sub, "%s/under", mnt);
    printf("old file visible = %d\n", access(sub, F_OK) == 0);
    show_mounts_line(mnt);
    show_mountinfo_line(mnt, "/");
    snprintf(sub, sizeof sub, "%s/data", mnt);
    int fd = open(sub, O_CREAT | O_RDWR, 0600);
    printf("write in tmpfs = %ld\n", (long)write(fd, "hello", 5));
    printf("umount busy (open file) = %s\n", ename(umount2(mnt, 0)));
    close(fd);
    if (chdir(mnt) == 0) {
        printf("umount busy (cwd) = %s\n", ename(umount2(mnt, 0)));
        if (chdir("/")) return 1;
    }

    printf("-- remount\n");
    printf("remount ro = %s\n", ename(mount(NULL, mnt, NULL, MS_REMOUNT | MS_RDONLY, NULL)));
    snprintf(sub, sizeof sub, "%s/new", mnt);
    printf("create on ro = %s\n", ename(open(sub, O_CREAT | O_WRONLY, 0600) < 0 ? -1 : 0));
    show_mounts_line(mnt);
    printf("remount rw = %s\n", ename(mount(NULL, mnt, NULL, MS_REMOUNT, NULL)));
    fd = open(sub, O_CREAT | O_WRONLY, 0600);
    printf("create on rw = %s\n", ename(fd < 0 ? -1 : 0));
    close(fd);

    printf("-- bind\n");
    snprintf(sub, sizeof sub, "%s/dir", mnt);
    mkdir(sub, 0755);
    snprintf(sub, sizeof sub, "%s/dir/inner", mnt);
    close(open(sub, O_CREAT | O_WRONLY, 0600));
    snprintf(sub, sizeof sub, "%s/dir", mnt);
    printf("bind = %s\n", ename(mount(sub, bind_dir, NULL, MS_BIND, NULL)));
    snprintf(sub, sizeof sub, "%s/inner", bind_dir);
    printf("inner through bind = %d\n", access(sub, F_OK) == 0);
    show_mountinfo_line(bind_dir, "/dir");
    printf("bind no source = %s\n", ename(mount(NULL, bind_dir, NULL, MS_BIND, NULL)));
    printf("umount bind = %s\n", ename(umount2(bind_dir, 0)));
    printf("inner after umount = %d\n", access(sub, F_OK) == 0);

    printf("-- umount\n");
    printf("MNT_FORCE umount = %s\n", ename(umount2(mnt, MNT_FORCE)));
    snprintf(sub, sizeof sub, "%s/under", mnt);
    printf("old file back = %d\n", access(sub, F_OK) == 0);
    show_mounts_line(mnt);
    /* MNT_DETACH with a file open inside: gone from the tree, still readable. */
    mount("none", mnt, "tmpfs", 0, NULL);
    snprintf(sub, sizeof sub, "%s/kept", mnt);
    fd = open(sub, O_CREAT | O_RDWR, 0600);
    if (write(fd, "kept", 4) != 4) return 1;
    printf("MNT_DETACH = %s\n", ename(umount2(mnt, MNT_DETACH)));
    char buf[8] = {0};
    printf("read after detach = %ld %s\n", (long)pread(fd, buf, 4, 0), buf);
    printf("name after detach = %d\n", access(sub, F_OK) == 0);
    close(fd);
    /* Stacked mounts come off one at a time. */
    mount("one", mnt, "tmpfs", 0, NULL);
    mount("two", mnt, "tmpfs", 0, NULL);
    show_mounts_line(mnt);
    printf("umount top = %s\n", ename(umount2(mnt, 0)));
    printf("umount next = %s\n", ename(umount2(mnt, 0)));
    printf("umount again = %s\n", ename(umount2(mnt, 0)));

    printf("-- proc and devtmpfs\n");
    printf("mount proc = %s\n", ename(mount("proc", mnt, "proc", 0, NULL)));
    statfs(mnt, &sf);
    snprintf(sub, sizeof sub, "%s/self/status", mnt);
    printf("proc magic %d, self/status %d\n", sf.f_type == PROC_SUPER_MAGIC, access(sub, R_OK) == 0);
    printf("umount proc = %s\n", ename(umount2(mnt, 0)));
    printf("mount devtmpfs = %s\n", ename(mount("devtmpfs", mnt, "devtmpfs", 0, NULL)));
    snprintf(sub, sizeof sub, "%s/null", mnt);
    int r = stat(sub, &st);
    printf("null: %s chr %d %u:%u\n", ename(r), S_ISCHR(st.st_mode), major(st.st_rdev), minor(st.st_rdev));
    printf("umount devtmpfs = %s\n", ename(umount2(mnt, 0)));

    snprintf(sub, sizeof sub, "%s/under", mnt);
    unlink(sub);
    close(under);
    rmdir(mnt);
    rmdir(bind_dir);
    unlink(file_path);
    printf("cleanup = %s\n", ename(rmdir(base)));
    return 0;
}
