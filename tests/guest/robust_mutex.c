/* Robust mutexes: when the owner of a PTHREAD_MUTEX_ROBUST mutex dies, the
 * next locker gets EOWNERDEAD (the kernel walks the dead thread's robust
 * list, set_robust_list, and marks the lock FUTEX_OWNER_DIED):
 *  - a thread that exits holding the lock; the main thread locks after it;
 *  - a waiter already blocked in pthread_mutex_lock when the owner exits;
 *  - a process-shared robust mutex in MAP_SHARED memory whose owner is a
 *    forked child that exits (and one that is killed by SIGKILL);
 *  - pthread_mutex_consistent makes it usable again; without it the
 *    mutex becomes ENOTRECOVERABLE after unlock;
 *  - get_robust_list(0) returns what libc registered.
 * Prints only what Linux decides. */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static const char *name(int e) {
    switch (e) {
    case 0: return "0";
    case EOWNERDEAD: return "EOWNERDEAD";
    case ENOTRECOVERABLE: return "ENOTRECOVERABLE";
    case EBUSY: return "EBUSY";
    case EPERM: return "EPERM";
    default: return strerror(e);
    }
}

static void init_robust(pthread_mutex_t *m, int shared) {
    pthread_mutexattr_t a;
    pthread_mutexattr_init(&a);
    pthread_mutexattr_setrobust(&a, PTHREAD_MUTEX_ROBUST);
    if (shared) pthread_mutexattr_setpshared(&a, PTHREAD_PROCESS_SHARED);
    pthread_mutex_init(m, &a);
    pthread_mutexattr_destroy(&a);
}

static pthread_mutex_t m1, m2;
static volatile int waiter_result = -1;

static void *lock_and_exit(void *arg) {
    pthread_mutex_lock(arg);
    return NULL; /* exits holding it */
}

static void *waiter(void *arg) {
    waiter_result = pthread_mutex_lock(arg);
    if (waiter_result == EOWNERDEAD) pthread_mutex_consistent(arg);
    pthread_mutex_unlock(arg);
    return NULL;
}

static void *hold_then_exit(void *arg) {
    pthread_mutex_lock(arg);
    struct timespec ts = {0, 100 * 1000 * 1000}; /* the waiter blocks meanwhile */
    nanosleep(&ts, NULL);
    return NULL;
}

int main(void) {
    setvbuf(stdout, NULL, _IOLBF, 0);

    /* get_robust_list: libc registered a list for this thread. */
    void *head = NULL;
    size_t len = 0;
    long r = syscall(SYS_get_robust_list, 0, &head, &len);
    printf("get_robust_list: %ld, a head: %s, len %zu\n", r, head ? "yes" : "no", len);
    printf("get_robust_list of a missing pid: %s\n",
           syscall(SYS_get_robust_list, 999999, &head, &len) == -1 ? name(errno) : "0");

    /* A thread exits holding the lock. */
    init_robust(&m1, 0);
    pthread_t t;
    pthread_create(&t, NULL, lock_and_exit, &m1);
    pthread_join(t, NULL);
    int e = pthread_mutex_lock(&m1);
    printf("lock after the owner thread exited: %s\n", name(e));
    /* Not made consistent: unlocking makes it unrecoverable. */
    pthread_mutex_unlock(&m1);
    printf("lock again without pthread_mutex_consistent: %s\n", name(pthread_mutex_lock(&m1)));

    /* The same, made consistent. */
    init_robust(&m2, 0);
    pthread_create(&t, NULL, lock_and_exit, &m2);
    pthread_join(t, NULL);
    e = pthread_mutex_lock(&m2);
    printf("lock after the owner exited: %s, consistent: %s\n", name(e),
           name(e == EOWNERDEAD ? pthread_mutex_consistent(&m2) : -1));
    pthread_mutex_unlock(&m2);
    printf("lock again: %s\n", name(pthread_mutex_lock(&m2)));
    pthread_mutex_unlock(&m2);

    /* A waiter blocked in lock when the owner exits. */
    pthread_t h, w;
    pthread_create(&h, NULL, hold_then_exit, &m2);
    struct timespec ts = {0, 20 * 1000 * 1000};
    nanosleep(&ts, NULL);
    pthread_create(&w, NULL, waiter, &m2);
    pthread_join(h, NULL);
    pthread_join(w, NULL);
    printf("a blocked waiter when the owner exited: %s\n", name(waiter_result));

    /* Process-shared, in shared memory: the owner is a child process. */
    pthread_mutex_t *pm = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    init_robust(pm, 1);
    fflush(stdout);
    pid_t c = fork();
    if (c == 0) {
        pthread_mutex_lock(pm);
        _exit(0);
    }
    waitpid(c, NULL, 0);
    e = pthread_mutex_lock(pm);
    printf("process-shared, owner child exited: %s\n", name(e));
    if (e == EOWNERDEAD) pthread_mutex_consistent(pm);
    pthread_mutex_unlock(pm);

    /* The owner child killed by SIGKILL while holding it. */
    int pfd[2];
    if (pipe(pfd) != 0) return 1;
    c = fork();
    if (c == 0) {
        pthread_mutex_lock(pm);
        if (write(pfd[1], "x", 1) != 1) _exit(1);
        for (;;) pause();
    }
    char x;
    if (read(pfd[0], &x, 1) != 1) return 1;
    printf("trylock while the child holds it: %s\n", name(pthread_mutex_trylock(pm)));
    kill(c, SIGKILL);
    waitpid(c, NULL, 0);
    e = pthread_mutex_lock(pm);
    printf("process-shared, owner child killed: %s\n", name(e));
    if (e == EOWNERDEAD) pthread_mutex_consistent(pm);
    pthread_mutex_unlock(pm);
    printf("and usable again: %s\n", name(pthread_mutex_lock(pm)));
    return 0;
}
