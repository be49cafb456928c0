/* A CPU spinner must not starve other processes: the parent forks children
 * that spin forever in a tight loop without system calls, then sleeps,
 * makes 1000 cheap system calls, and kills and reaps the spinners. With one
 * vCPU this finishes only if the kernel preempts the spinners (time-slice
 * preemption of guest code that never traps). */
#define _GNU_SOURCE
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define SPINNERS 2

static void spin(void) {
    volatile unsigned long n = 0;
    for (;;) n++;
}

int main(void) {
    /* Line by line: a run killed after a timeout still shows how far it got. */
    setvbuf(stdout, NULL, _IOLBF, 0);
    pid_t kids[SPINNERS];
    fflush(stdout);
    for (int i = 0; i < SPINNERS; i++) {
        kids[i] = fork();
        if (kids[i] < 0) {
            perror("fork");
            return 1;
        }
        if (kids[i] == 0) spin();
    }

    struct timespec t = {0, 100 * 1000000L};
    int r = nanosleep(&t, NULL);
    printf("nanosleep(100 ms) returned %d\n", r);
    long same = 0;
    pid_t ppid = getppid();
    for (int i = 0; i < 1000; i++) same += syscall(SYS_getppid) == ppid;
    printf("parent ran: %ld of 1000 getppid calls agree\n", same);

    /* The spinners are still spinning (WNOHANG finds nothing). */
    int status;
    printf("waitpid(WNOHANG) on the spinners: %d\n", (int)waitpid(-1, &status, WNOHANG));
    for (int i = 0; i < SPINNERS; i++) kill(kids[i], SIGKILL);
    for (int i = 0; i < SPINNERS; i++) {
        pid_t w = waitpid(kids[i], &status, 0);
        printf("spinner %d: %s, WTERMSIG %d\n", i, w == kids[i] ? "reaped" : "NOT reaped",
               WIFSIGNALED(status) ? WTERMSIG(status) : -1);
    }
    return 0;
}
