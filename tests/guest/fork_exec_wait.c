/* fork + execve + wait chains.
 *
 *   fork_exec_wait              the chain: the top forks and execs itself
 *                               (argv[0]) as "stage 1", which does the same
 *                               for stage 2, then stage 3; each stage checks
 *                               what execve kept (pid, parent, environment,
 *                               argv), prints one line after its child is
 *                               reaped and exits with its own code.
 *   fork_exec_wait FILE...      also forks and execs each FILE (scripts made
 *                               by tests/e2e/CMakeLists.txt: "#!" chains,
 *                               bad interpreters, files that are not
 *                               programs) with the argument "A" and prints
 *                               how it went.
 *
 * Every stage flushes stdout before it forks, and a parent prints only after
 * its child has been reaped, so the output order is fixed. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#define STAGES 3

static const char *errno_name(int e) {
    switch (e) {
    case ENOENT: return "ENOENT";
    case EACCES: return "EACCES";
    case ENOEXEC: return "ENOEXEC";
    case ELOOP: return "ELOOP";
    case E2BIG: return "E2BIG";
    case EFAULT: return "EFAULT";
    case ENOTDIR: return "ENOTDIR";
    default: return "another error";
    }
}

static const char *base(const char *path) {
    const char *s = strrchr(path, '/');
    return s ? s + 1 : path;
}

static void describe(int status) {
    if (WIFEXITED(status))
        printf("exited %d", WEXITSTATUS(status));
    else if (WIFSIGNALED(status))
        printf("killed by signal %d", WTERMSIG(status));
    else
        printf("status 0x%x", status);
}

/* The code stage n exits with when all went well. */
static int stage_code(int n) { return 10 * n + n; }

/* Forks and execs argv[0] as stage n; returns the stage's wait status. */
static int run_stage(const char *self, int n) {
    char num[16], pid_s[16], ppid_s[16];
    snprintf(num, sizeof num, "%d", n);
    snprintf(ppid_s, sizeof ppid_s, "%d", (int)getpid());
    char env0[] = "VK_CHAIN=passed through execve";
    char env1[] = "VK_SECOND=2";
    char *envp[] = {env0, env1, NULL};
    fflush(stdout);
    pid_t c = fork();
    if (c < 0) {
        perror("fork");
        exit(1);
    }
    if (c == 0) {
        /* The exec'd image must keep this pid and parent. */
        snprintf(pid_s, sizeof pid_s, "%d", (int)getpid());
        char stage[] = "stage";
        char empty[] = "";
        char *argv[] = {(char *)self, stage, num, pid_s, ppid_s, empty, NULL};
        execve(self, argv, envp);
        printf("stage %d: execve failed: %s\n", n, errno_name(errno));
        fflush(stdout);
        _exit(127);
    }
    int status = -1;
    pid_t w = waitpid(c, &status, 0);
    if (w != c) printf("waitpid returned another pid or failed\n");
    return status;
}

static int stage(int argc, char **argv) {
    int n = atoi(argv[2]);
    int ok = argc == 6 && n >= 1 && n <= STAGES;
    ok = ok && atoi(argv[3]) == (int)getpid();          /* pid kept */
    ok = ok && atoi(argv[4]) == (int)getppid();         /* parent kept */
    ok = ok && argv[5][0] == 0;                         /* empty argument kept */
    const char *chain = getenv("VK_CHAIN");
    ok = ok && chain && strcmp(chain, "passed through execve") == 0;
    ok = ok && getenv("VK_SECOND") && !getenv("PATH");  /* only envp */
    if (!ok) {
        printf("stage %s: argv/env/pid not as expected\n", argv[2]);
        return 99;
    }
    if (n < STAGES) {
        int status = run_stage(argv[0], n + 1);
        printf("stage %d: stage %d ", n, n + 1);
        describe(status);
        printf("\n");
        if (!WIFEXITED(status) || WEXITSTATUS(status) != stage_code(n + 1)) return 98;
    } else {
        printf("stage %d: last stage, pid/ppid/argv/envp kept across execve\n", n);
    }
    return stage_code(n);
}

/* Runs FILE A in a child; prints its fate. */
static void exec_file(const char *path) {
    printf("exec %s:\n", base(path));
    fflush(stdout);
    pid_t c = fork();
    if (c == 0) {
        char a[] = "A";
        char *argv[] = {(char *)path, a, NULL};
        char *envp[] = {NULL};
        execve(path, argv, envp);
        printf("  execve failed: %s\n", errno_name(errno));
        fflush(stdout);
        _exit(127);
    }
    int status = -1;
    waitpid(c, &status, 0);
    printf("  ");
    describe(status);
    printf("\n");
}

int main(int argc, char **argv) {
    /* Line by line: a run killed after a timeout still shows how far it got. */
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (argc >= 3 && strcmp(argv[1], "stage") == 0) return stage(argc, argv);

    if (argc == 1) {
        int status = run_stage(argv[0], 1);
        printf("top: stage 1 ");
        describe(status);
        printf("\n");

        /* execve errors that do not depend on any file of ours. */
        char *args[] = {(char *)"x", NULL};
        errno = 0;
        execve("/nonexistent/program", args, args + 1);
        printf("execve of a missing file: %s\n", errno_name(errno));
        errno = 0;
        execve("/", args, args + 1);
        printf("execve of a directory: %s\n", errno_name(errno));
        errno = 0;
        syscall(SYS_execve, argv[0], (char **)1, args + 1);
        printf("execve with a bad argv pointer: %s\n", errno_name(errno));
        /* A failed execve leaves the caller as it was. */
        printf("still here after failed execve calls\n");
        return 0;
    }
    for (int i = 1; i < argc; i++) exec_file(argv[i]);
    return 0;
}
