// Credentials and execveat: supplementary groups, setfsuid/setfsgid and the
// file checks they steer, setreuid's saved-id rule, set-user-ID and
// set-group-ID executables (AT_SECURE, the parent-death signal), and
// execveat relative to a directory descriptor, on a descriptor
// (AT_EMPTY_PATH, including O_PATH and a #! script), with
// AT_SYMLINK_NOFOLLOW, and its errors. Runs as root, in its own directory
// under the cwd (removed at the end). Each check runs in a child, so a
// dropped identity does not leak into the next one.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/fsuid.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fs_errno.h"

#define DIR_NAME "creds_test_dir"

extern char** environ;

static void say(const char* fmt, ...) __attribute__((format(printf, 1, 2)));
static void say(const char* fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    fflush(stdout);
}

static void check(const char* what, long r) {
    if (r < 0)
        say("%s: %s\n", what, errname(errno));
    else
        say("%s: %ld\n", what, r);
}

static void show_ids(const char* tag) {
    uid_t r, e, s;
    gid_t gr, ge, gs;
    getresuid(&r, &e, &s);
    getresgid(&gr, &ge, &gs);
    const int fsuid = setfsuid(-1);
    const int fsgid = setfsgid(-1);
    say("%s: uid %u %u %u fsuid %d gid %u %u %u fsgid %d\n", tag, r, e, s, fsuid, gr, ge, gs,
        fsgid);
}

static void show_groups(const char* tag) {
    gid_t g[8];
    const int n = getgroups(8, g);
    say("%s: %d groups:", tag, n);
    for (int i = 0; i < n; i++) say(" %u", g[i]);
    say("\n");
}

// What an exec'd copy of this program reports about itself.
static int report(int argc, char** argv) {
    char comm[16] = {0};
    prctl(PR_GET_NAME, comm);
    const char* execfn = (const char*)getauxval(AT_EXECFN);
    int pdeath = -1;
    prctl(PR_GET_PDEATHSIG, &pdeath);
    // An absolute name depends on where the test runs: not shown.
    if (execfn && execfn[0] == '/' && strncmp(execfn, "/dev/fd/", 8)) execfn = "(absolute)";
    say("  argc %d:", argc);
    for (int i = 1; i < argc; i++) say(" [%s]", argv[i]);
    say("\n  comm %s execfn %s secure %lu pdeath %d\n", comm, execfn ? execfn : "(none)",
        getauxval(AT_SECURE), pdeath);
    show_ids("  ids");
    return 0;
}

static void wait_child(pid_t pid) {
    int st;
    if (waitpid(pid, &st, 0) != pid) {
        say("waitpid: %s\n", errname(errno));
        return;
    }
    if (WIFEXITED(st) && WEXITSTATUS(st) != 0) say("  child exit %d\n", WEXITSTATUS(st));
    if (WIFSIGNALED(st)) say("  child signal %d\n", WTERMSIG(st));
}

static void copy_file(const char* from, const char* to, mode_t mode) {
    int in = open(from, O_RDONLY);
    int out = open(to, O_WRONLY | O_CREAT | O_TRUNC, 0700);
    if (in < 0 || out < 0) {
        say("copy %s: %s\n", to, errname(errno));
        exit(1);
    }
    char buf[65536];
    ssize_t n;
    while ((n = read(in, buf, sizeof buf)) > 0)
        if (write(out, buf, n) != n) exit(1);
    close(in);
    close(out);
    chmod(to, mode);
}

// Runs `fn` in a child and waits for it.
static void in_child(const char* name, void (*fn)(void)) {
    say("== %s\n", name);
    pid_t pid = fork();
    if (pid == 0) {
        fn();
        exit(0);
    }
    wait_child(pid);
}

static void groups_test(void) {
    gid_t set[3] = {30, 10, 20};
    check("setgroups 3", setgroups(3, set));
    check("getgroups 0", getgroups(0, NULL));
    show_groups("after setgroups");
    gid_t small[2];
    check("getgroups too small", getgroups(2, small));
    check("getgroups -1", syscall(SYS_getgroups, -1, small));
    check("setgroups -1", syscall(SYS_setgroups, -1, set));
    check("setgroups 65537", syscall(SYS_setgroups, 65537, set));
    check("setgroups bad pointer", syscall(SYS_setgroups, 2, (void*)8));
    check("getgroups bad pointer", syscall(SYS_getgroups, 3, (void*)8));
    char line[256];
    FILE* f = fopen("/proc/self/status", "r");
    while (f && fgets(line, sizeof line, f))
        if (!strncmp(line, "Groups:", 7)) say("status %s", line);
    if (f) fclose(f);
}

static void fsuid_test(void) {
    check("setfsuid 1000", setfsuid(1000));
    check("setfsuid -1", setfsuid(-1));
    check("open d700/f as fsuid 1000", open(DIR_NAME "/d700/f", O_RDONLY));
    struct stat st;
    check("stat d700/f as fsuid 1000", stat(DIR_NAME "/d700/f", &st));
    check("access d700/f (real ids)", access(DIR_NAME "/d700/f", R_OK));
    check("creat owned as fsuid 1000",
          open(DIR_NAME "/open/mine", O_CREAT | O_WRONLY, 0644) >= 0 ? 0 : -1);
    if (stat(DIR_NAME "/open/mine", &st) == 0) say("  owner %u:%u\n", st.st_uid, st.st_gid);
    char line[256];
    FILE* f = fopen("/proc/self/status", "r");
    while (f && fgets(line, sizeof line, f))
        if (!strncmp(line, "Uid:", 4)) say("status %s", line);
    if (f) fclose(f);
    check("setfsuid 0", setfsuid(0));
    check("open d700/f as fsuid 0", open(DIR_NAME "/d700/f", O_RDONLY) >= 0 ? 0 : -1);
    check("setfsgid 77", setfsgid(77));
    check("setfsgid -1", setfsgid(-1));
    check("creat as fsgid 77", open(DIR_NAME "/open/grp", O_CREAT | O_WRONLY, 0644) >= 0 ? 0 : -1);
    if (stat(DIR_NAME "/open/grp", &st) == 0) say("  owner %u:%u\n", st.st_uid, st.st_gid);
}

static void drop_test(void) {
    gid_t g = 1234;
    check("setgroups 1234", setgroups(1, &g));
    check("setresgid 100", setresgid(100, 100, 100));
    check("setresuid 1000", setresuid(1000, 1000, 1000));
    show_ids("dropped");
    show_groups("dropped");
    check("access group dir", access(DIR_NAME "/g", W_OK | X_OK));
    check("creat in group dir", open(DIR_NAME "/g/by_group", O_CREAT | O_WRONLY, 0644) >= 0 ? 0 : -1);
    struct stat st;
    if (stat(DIR_NAME "/g/by_group", &st) == 0) say("  owner %u:%u\n", st.st_uid, st.st_gid);
    check("creat in d700", open(DIR_NAME "/d700/x", O_CREAT | O_WRONLY, 0644));
    check("setgroups unprivileged", setgroups(0, NULL));
    check("setuid 0", setuid(0));
    check("setresuid -1 0 -1", setresuid(-1, 0, -1));
    check("setgid 0", setgid(0));
    check("setfsuid 0", setfsuid(0));
    check("setfsgid 0", setfsgid(0));
    show_ids("still");
    check("setuid -1", setuid(-1));
}

static void setreuid_test(void) {
    check("setreuid 1000 2000", setreuid(1000, 2000));
    show_ids("a");
    check("setreuid -1 1000", setreuid(-1, 1000));
    show_ids("b");
    check("setreuid 2000 -1", setreuid(2000, -1));
    check("setreuid -1 2000", setreuid(-1, 2000));
    show_ids("c");
    check("setuid 1000", setuid(1000));
    show_ids("d");
    check("setregid 5 6", setregid(5, 6));
    show_ids("e");
}

static char* const report_argv[] = {"prog", "report", NULL};

static void exec_as(const char* prog, int drop) {
    if (drop) {
        setgroups(0, NULL);
        setresgid(100, 100, 100);
        setresuid(2000, 2000, 2000);
    }
    execve(prog, report_argv, environ);
    say("  execve %s: %s\n", prog, errname(errno));
}

static void suid_exec(void) { exec_as(DIR_NAME "/suid", 1); }
static void sgid_nox_exec(void) { exec_as(DIR_NAME "/sgid_nox", 1); }
static void plain_dropped_exec(void) { exec_as(DIR_NAME "/plain", 1); }
static void plain_root_exec(void) { exec_as(DIR_NAME "/plain", 0); }
static void suid_from_root_ruid(void) {
    // Real uid 0, effective 3000: a set-user-ID-1000 file changes the euid.
    setresuid(0, 3000, 0);
    exec_as(DIR_NAME "/suid", 0);
}
static void pdeath_kept(void) {
    prctl(PR_SET_PDEATHSIG, SIGUSR1);
    exec_as(DIR_NAME "/plain", 0);
}
static void pdeath_cleared(void) {
    prctl(PR_SET_PDEATHSIG, SIGUSR1);
    exec_as(DIR_NAME "/suid", 0);
}

static void try_execveat(int dirfd, const char* path, int flags) {
    syscall(SYS_execveat, dirfd, path, report_argv, environ, flags);
    say("  execveat %d \"%s\" %#x: %s\n", dirfd, path, flags, errname(errno));
}

static void at_dir(void) {
    int d = open(DIR_NAME, O_RDONLY | O_DIRECTORY);
    dup2(d, 10);
    try_execveat(10, "plain", 0);
}
static void at_empty(void) {
    dup2(open(DIR_NAME "/plain", O_RDONLY), 11);
    try_execveat(11, "", AT_EMPTY_PATH);
}
static void at_empty_opath(void) {
    dup2(open(DIR_NAME "/plain", O_PATH), 12);
    try_execveat(12, "", AT_EMPTY_PATH);
}
static void at_errors(void) {
    dup2(open(DIR_NAME "/plain", O_RDONLY), 11);
    try_execveat(11, "", 0);                              // ENOENT
    try_execveat(11, "plain", 0);                         // ENOTDIR
    try_execveat(99, "plain", 0);                         // EBADF
    try_execveat(AT_FDCWD, DIR_NAME "/link", AT_SYMLINK_NOFOLLOW);  // ELOOP
    try_execveat(AT_FDCWD, DIR_NAME "/plain", 0x1);       // EINVAL
    try_execveat(AT_FDCWD, "", AT_EMPTY_PATH);            // the cwd: EACCES
    try_execveat(AT_FDCWD, DIR_NAME "/d700", 0);          // a directory: EACCES
    syscall(SYS_execveat, AT_FDCWD, (const char*)8, report_argv, environ, 0);
    say("  execveat bad path: %s\n", errname(errno));
    syscall(SYS_execveat, AT_FDCWD, DIR_NAME "/plain", (char**)8, environ, 0);
    say("  execveat bad argv: %s\n", errname(errno));
    char* bad_env[] = {(char*)8, NULL};
    syscall(SYS_execveat, AT_FDCWD, DIR_NAME "/plain", report_argv, bad_env, 0);
    say("  execveat bad envp string: %s\n", errname(errno));
    int d = open(DIR_NAME, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    dup2(d, 13);
    fcntl(13, F_SETFD, FD_CLOEXEC);
    try_execveat(13, "script", 0);                        // script via O_CLOEXEC fd: ENOENT
    dup2(open(DIR_NAME "/script", O_RDONLY), 14);
    fcntl(14, F_SETFD, FD_CLOEXEC);
    try_execveat(14, "", AT_EMPTY_PATH);                  // ENOENT
}
static void at_link_follow(void) { try_execveat(AT_FDCWD, DIR_NAME "/link", 0); }
static void at_abs_ignores_fd(void) {
    char path[4096];
    if (!getcwd(path, sizeof path - 64)) exit(1);
    strcat(path, "/" DIR_NAME "/plain");
    syscall(SYS_execveat, 99, path, report_argv, environ, 0);
    say("  execveat absolute: %s\n", errname(errno));
}
static void at_script(void) {
    dup2(open(DIR_NAME "/script", O_RDONLY), 15);
    try_execveat(15, "", AT_EMPTY_PATH);
}
static void at_dir_script(void) {
    dup2(open(DIR_NAME, O_RDONLY | O_DIRECTORY), 16);
    try_execveat(16, "script", 0);
}
static void script_by_path(void) { exec_as(DIR_NAME "/script", 0); }
static void empty_argv(void) {
    char* none[] = {NULL};
    execve(DIR_NAME "/plain", none, environ);
    say("  execve empty argv: %s\n", errname(errno));
}

static void rm_rf(const char* path) {
    char cmd[512];
    // Names are fixed here; unlink each known entry instead of a shell.
    const char* names[] = {"d700/f", "d700/x", "open/mine", "open/grp", "g/by_group", "suid",
                           "sgid_nox", "plain", "link", "script"};
    for (unsigned i = 0; i < sizeof names / sizeof *names; i++) {
        snprintf(cmd, sizeof cmd, "%s/%s", path, names[i]);
        unlink(cmd);
    }
    const char* dirs[] = {"d700", "open", "g"};
    for (unsigned i = 0; i < sizeof dirs / sizeof *dirs; i++) {
        snprintf(cmd, sizeof cmd, "%s/%s", path, dirs[i]);
        rmdir(cmd);
    }
    rmdir(path);
}

int main(int argc, char** argv) {
    if (argc == 1 && argv[0][0] == 0) {
        say("  empty argv: argc %d argv[0] \"%s\"\n", argc, argv[0]);
        return 0;
    }
    if (argc >= 2 && (!strcmp(argv[1], "report") || !strcmp(argv[1], "sarg")))
        return report(argc, argv);
    setvbuf(stdout, NULL, _IOFBF, 1 << 16);
    if (getuid() != 0) {
        say("run me as root\n");
        return 1;
    }
    setgroups(0, NULL);  // the host's login groups are not the vkernel's
    // The dropped identities below must reach the test directory (the
    // harness's native cwd is a private 0700 directory).
    chmod(".", 0755);
    rm_rf(DIR_NAME);
    umask(022);
    if (mkdir(DIR_NAME, 0755) < 0 || mkdir(DIR_NAME "/d700", 0700) < 0 ||
        mkdir(DIR_NAME "/open", 0777) < 0 || mkdir(DIR_NAME "/g", 0770) < 0) {
        say("mkdir: %s\n", errname(errno));
        return 1;
    }
    chmod(DIR_NAME "/open", 0777);
    chown(DIR_NAME "/g", 0, 1234);
    chmod(DIR_NAME "/g", 0770);
    close(open(DIR_NAME "/d700/f", O_CREAT | O_WRONLY, 0644));
    copy_file(argv[0], DIR_NAME "/plain", 0755);
    copy_file(argv[0], DIR_NAME "/suid", 0755);
    copy_file(argv[0], DIR_NAME "/sgid_nox", 0755);
    chown(DIR_NAME "/suid", 1000, 1000);
    chmod(DIR_NAME "/suid", 06755);  // after chown, which clears the bits
    chown(DIR_NAME "/sgid_nox", 1000, 1000);
    chmod(DIR_NAME "/sgid_nox", 02745);
    symlink("plain", DIR_NAME "/link");
    FILE* s = fopen(DIR_NAME "/script", "w");
    fprintf(s, "#!" DIR_NAME "/plain sarg\n");
    fclose(s);
    chmod(DIR_NAME "/script", 0755);
    struct stat st;
    stat(DIR_NAME "/suid", &st);
    say("suid file mode %o owner %u:%u\n", st.st_mode & 07777, st.st_uid, st.st_gid);

    show_ids("start");
    in_child("groups", groups_test);
    in_child("fsuid", fsuid_test);
    in_child("drop", drop_test);
    in_child("setreuid", setreuid_test);
    in_child("set-user-ID exec", suid_exec);
    in_child("set-group-ID without group x", sgid_nox_exec);
    in_child("plain exec, dropped", plain_dropped_exec);
    in_child("plain exec, root", plain_root_exec);
    in_child("set-user-ID exec, real uid 0", suid_from_root_ruid);
    in_child("pdeath kept", pdeath_kept);
    in_child("pdeath cleared", pdeath_cleared);
    in_child("execveat dirfd", at_dir);
    in_child("execveat AT_EMPTY_PATH", at_empty);
    in_child("execveat AT_EMPTY_PATH O_PATH", at_empty_opath);
    in_child("execveat errors", at_errors);
    in_child("execveat symlink followed", at_link_follow);
    in_child("execveat absolute path", at_abs_ignores_fd);
    in_child("execveat script fd", at_script);
    in_child("execveat dirfd script", at_dir_script);
    in_child("script by path", script_by_path);
    in_child("empty argv", empty_argv);
    rm_rf(DIR_NAME);
    say("done\n");
    return 0;
}
