/* pthreads under contention: 4 threads each add 1 to a shared counter
 * 100000 times under one mutex (the final value must be exactly 400000),
 * then pass a token round-robin through a condition variable (each thread
 * waits for its turn), then meet at a barrier. Run with 1 and with 2 vCPUs:
 * with 2, the mutex is really contended and the futex paths race. */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define THREADS 4
#define INCREMENTS 100000
#define ROUNDS 1000

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static long counter;
/* Unlocked increments, to show the mutex is what keeps the count: each
 * thread's own count, written only by it. */
static long per_thread[THREADS];

static pthread_mutex_t turn_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t turn_cond = PTHREAD_COND_INITIALIZER;
static int turn;            /* whose turn it is */
static long handoffs;       /* token passes */
static long order_checksum; /* order in which threads took the token */

static pthread_barrier_t barrier;
static int after_barrier[THREADS];

static void *worker(void *arg) {
    int id = (int)(long)arg;
    for (int i = 0; i < INCREMENTS; i++) {
        pthread_mutex_lock(&lock);
        counter++;
        pthread_mutex_unlock(&lock);
        per_thread[id]++;
    }

    for (int r = 0; r < ROUNDS; r++) {
        pthread_mutex_lock(&turn_lock);
        while (turn != id) pthread_cond_wait(&turn_cond, &turn_lock);
        handoffs++;
        order_checksum = (order_checksum * 31 + id) % 1000000007;
        turn = (id + 1) % THREADS;
        pthread_cond_broadcast(&turn_cond);
        pthread_mutex_unlock(&turn_lock);
    }

    int r = pthread_barrier_wait(&barrier);
    after_barrier[id] = (r == PTHREAD_BARRIER_SERIAL_THREAD) ? 2 : (r == 0 ? 1 : -1);
    return (void *)(long)(id + 100);
}

int main(void) {
    /* Line by line: a run killed after a timeout still shows how far it got. */
    setvbuf(stdout, NULL, _IOLBF, 0);
    pthread_t t[THREADS];
    pthread_barrier_init(&barrier, NULL, THREADS);
    for (long i = 0; i < THREADS; i++) {
        int e = pthread_create(&t[i], NULL, worker, (void *)i);
        if (e) {
            printf("pthread_create: %s\n", strerror(e));
            return 1;
        }
    }
    long ret_sum = 0;
    for (int i = 0; i < THREADS; i++) {
        void *ret;
        pthread_join(t[i], &ret);
        ret_sum += (long)ret;
    }
    printf("counter = %ld (expected %d)\n", counter, THREADS * INCREMENTS);
    long sum = 0;
    for (int i = 0; i < THREADS; i++) sum += per_thread[i];
    printf("per-thread counts sum to %ld\n", sum);

    /* The token went 0, 1, 2, 3, 0, ... exactly ROUNDS times each. */
    long expect = 0;
    for (int i = 0; i < THREADS * ROUNDS; i++) expect = (expect * 31 + i % THREADS) % 1000000007;
    printf("handoffs = %ld, in round-robin order: %s\n", handoffs,
           order_checksum == expect ? "yes" : "NO");

    int serial = 0, plain = 0;
    for (int i = 0; i < THREADS; i++) {
        if (after_barrier[i] == 2) serial++;
        if (after_barrier[i] == 1) plain++;
    }
    printf("barrier: %d serial thread, %d others\n", serial, plain);
    printf("join return values sum to %ld\n", ret_sum);
    pthread_barrier_destroy(&barrier);
    return 0;
}
