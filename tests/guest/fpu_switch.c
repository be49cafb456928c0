/* Each thread and process keeps its own FPU/SSE/AVX state across context
 * switches: workers load their own pattern into xmm0-15 (ymm0-15 with AVX),
 * their own MXCSR rounding mode and x87 control word, then switch away many
 * times (sched_yield, a pipe round trip with another worker, a blocking
 * futex wait) and check every register after each switch. Threads of one
 * process and forked processes run at the same time. Prints only whether
 * each worker's state stayed intact, as Linux guarantees. */
#define _GNU_SOURCE
#define FUTEX_WAIT_PRIVATE 128
#include <pthread.h>
#include <stdint.h>
#include <time.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#define ROUNDS 400

static int have_avx;

/* Loads 16 registers of 32 bytes (16 with SSE only) from `in`, makes a
 * syscall that may switch, stores them to `out`. */
static void load_switch_store(const uint8_t *in, uint8_t *out, long nr, long a0, long a1, long a2,
                              long a3) {
    register long r10 __asm__("r10") = a3;
    long ret;
    if (have_avx) {
        __asm__ volatile(
            "vmovdqu 0(%[in]), %%ymm0\n\t vmovdqu 32(%[in]), %%ymm1\n\t"
            "vmovdqu 64(%[in]), %%ymm2\n\t vmovdqu 96(%[in]), %%ymm3\n\t"
            "vmovdqu 128(%[in]), %%ymm4\n\t vmovdqu 160(%[in]), %%ymm5\n\t"
            "vmovdqu 192(%[in]), %%ymm6\n\t vmovdqu 224(%[in]), %%ymm7\n\t"
            "vmovdqu 256(%[in]), %%ymm8\n\t vmovdqu 288(%[in]), %%ymm9\n\t"
            "vmovdqu 320(%[in]), %%ymm10\n\t vmovdqu 352(%[in]), %%ymm11\n\t"
            "vmovdqu 384(%[in]), %%ymm12\n\t vmovdqu 416(%[in]), %%ymm13\n\t"
            "vmovdqu 448(%[in]), %%ymm14\n\t vmovdqu 480(%[in]), %%ymm15\n\t"
            "syscall\n\t"
            "vmovdqu %%ymm0, 0(%[out])\n\t vmovdqu %%ymm1, 32(%[out])\n\t"
            "vmovdqu %%ymm2, 64(%[out])\n\t vmovdqu %%ymm3, 96(%[out])\n\t"
            "vmovdqu %%ymm4, 128(%[out])\n\t vmovdqu %%ymm5, 160(%[out])\n\t"
            "vmovdqu %%ymm6, 192(%[out])\n\t vmovdqu %%ymm7, 224(%[out])\n\t"
            "vmovdqu %%ymm8, 256(%[out])\n\t vmovdqu %%ymm9, 288(%[out])\n\t"
            "vmovdqu %%ymm10, 320(%[out])\n\t vmovdqu %%ymm11, 352(%[out])\n\t"
            "vmovdqu %%ymm12, 384(%[out])\n\t vmovdqu %%ymm13, 416(%[out])\n\t"
            "vmovdqu %%ymm14, 448(%[out])\n\t vmovdqu %%ymm15, 480(%[out])\n\t"
            "vzeroupper\n\t"
            : "=a"(ret)
            : [in] "r"(in), [out] "r"(out), "a"(nr), "D"(a0), "S"(a1), "d"(a2), "r"(r10)
            : "rcx", "r11", "memory", "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6",
              "xmm7", "xmm8", "xmm9", "xmm10", "xmm11", "xmm12", "xmm13", "xmm14", "xmm15");
    } else {
        __asm__ volatile(
            "movdqu 0(%[in]), %%xmm0\n\t movdqu 32(%[in]), %%xmm1\n\t"
            "movdqu 64(%[in]), %%xmm2\n\t movdqu 96(%[in]), %%xmm3\n\t"
            "movdqu 128(%[in]), %%xmm4\n\t movdqu 160(%[in]), %%xmm5\n\t"
            "movdqu 192(%[in]), %%xmm6\n\t movdqu 224(%[in]), %%xmm7\n\t"
            "movdqu 256(%[in]), %%xmm8\n\t movdqu 288(%[in]), %%xmm9\n\t"
            "movdqu 320(%[in]), %%xmm10\n\t movdqu 352(%[in]), %%xmm11\n\t"
            "movdqu 384(%[in]), %%xmm12\n\t movdqu 416(%[in]), %%xmm13\n\t"
            "movdqu 448(%[in]), %%xmm14\n\t movdqu 480(%[in]), %%xmm15\n\t"
            "syscall\n\t"
            "movdqu %%xmm0, 0(%[out])\n\t movdqu %%xmm1, 32(%[out])\n\t"
            "movdqu %%xmm2, 64(%[out])\n\t movdqu %%xmm3, 96(%[out])\n\t"
            "movdqu %%xmm4, 128(%[out])\n\t movdqu %%xmm5, 160(%[out])\n\t"
            "movdqu %%xmm6, 192(%[out])\n\t movdqu %%xmm7, 224(%[out])\n\t"
            "movdqu %%xmm8, 256(%[out])\n\t movdqu %%xmm9, 288(%[out])\n\t"
            "movdqu %%xmm10, 320(%[out])\n\t movdqu %%xmm11, 352(%[out])\n\t"
            "movdqu %%xmm12, 384(%[out])\n\t movdqu %%xmm13, 416(%[out])\n\t"
            "movdqu %%xmm14, 448(%[out])\n\t movdqu %%xmm15, 480(%[out])\n\t"
            : "=a"(ret)
            : [in] "r"(in), [out] "r"(out), "a"(nr), "D"(a0), "S"(a1), "d"(a2), "r"(r10)
            : "rcx", "r11", "memory", "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6",
              "xmm7", "xmm8", "xmm9", "xmm10", "xmm11", "xmm12", "xmm13", "xmm14", "xmm15");
    }
    (void)ret;
}

static unsigned get_mxcsr(void) {
    unsigned v;
    __asm__ volatile("stmxcsr %0" : "=m"(v));
    return v;
}
static void set_mxcsr(unsigned v) { __asm__ volatile("ldmxcsr %0" : : "m"(v)); }
static unsigned short get_fcw(void) {
    unsigned short v;
    __asm__ volatile("fnstcw %0" : "=m"(v));
    return v;
}
static void set_fcw(unsigned short v) { __asm__ volatile("fldcw %0" : : "m"(v)); }

struct pair {
    int to[2], from[2]; /* pipes to and from a partner */
};

static int futex_word;

/* One worker: `id` makes its patterns; `how` picks the switching call. */
static int worker(int id, int how, struct pair *p, int side) {
    uint8_t in[512], out[512];
    for (int i = 0; i < 512; i++) in[i] = (uint8_t)(id * 37 + i * 11 + 1);
    const unsigned mxcsr = 0x1f80 | ((unsigned)(id & 3) << 13); /* rounding mode */
    const unsigned short fcw = (unsigned short)(0x37f & ~0xc00) | (unsigned short)((id & 3) << 10);
    set_mxcsr(mxcsr);
    set_fcw(fcw);
    int bad = 0;
    char c = 0;
    /* All rounds even after a failure: a pipe partner waits for each. */
    for (int r = 0; r < ROUNDS; r++) {
        in[r % 512] ^= 0x5a; /* a new pattern each round */
        memset(out, 0, sizeof out);
        if (how == 0) {
            load_switch_store(in, out, SYS_sched_yield, 0, 0, 0, 0);
        } else if (how == 1) {
            /* Pipe ping-pong: side 0 writes then reads, side 1 the reverse;
             * the registers are live across the blocking read. */
            if (side == 0) {
                if (write(p->to[1], &c, 1) != 1) return 1;
                load_switch_store(in, out, SYS_read, p->from[0], (long)&c, 1, 0);
            } else {
                load_switch_store(in, out, SYS_read, p->to[0], (long)&c, 1, 0);
                if (write(p->from[1], &c, 1) != 1) return 1;
            }
        } else {
            /* A futex wait that times out after 100 us: a real sleep. */
            struct timespec ts = {0, 100000};
            load_switch_store(in, out, SYS_futex, (long)&futex_word, FUTEX_WAIT_PRIVATE, 0, (long)&ts);
        }
        const int width = have_avx ? 32 : 16;
        for (int reg = 0; reg < 16; reg++)
            if (memcmp(in + reg * 32, out + reg * 32, (size_t)width) != 0 && !bad) bad = 1;
        if ((get_mxcsr() != mxcsr || get_fcw() != fcw) && !bad) bad = 2;
    }
    return bad;
}

struct targ {
    int id, how, side;
    struct pair *p;
    int result;
};

static void *thread_main(void *a) {
    struct targ *t = a;
    t->result = worker(t->id, t->how, t->p, t->side);
    return NULL;
}

static const char *verdict(int r) { return r == 0 ? "intact" : r == 1 ? "VECTOR REGISTERS CHANGED" : "CONTROL WORDS CHANGED"; }

int main(void) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    __builtin_cpu_init();
    have_avx = __builtin_cpu_supports("avx");

    /* Threads of one process: two yielders, a pipe pair, a futex sleeper. */
    struct pair tp;
    if (pipe(tp.to) || pipe(tp.from)) return 1;
    struct targ ta[5] = {{1, 0, 0, NULL, 0}, {2, 0, 0, NULL, 0}, {3, 1, 0, &tp, 0}, {4, 1, 1, &tp, 0},
                         {5, 2, 0, NULL, 0}};
    pthread_t th[5];
    for (int i = 0; i < 5; i++) pthread_create(&th[i], NULL, thread_main, &ta[i]);

    /* Processes at the same time: a forked pipe pair and a yielder. */
    struct pair pp;
    if (pipe(pp.to) || pipe(pp.from)) return 1;
    int status[3];
    pid_t kids[3];
    for (int k = 0; k < 3; k++) {
        kids[k] = fork();
        if (kids[k] == 0) _exit(k < 2 ? worker(10 + k, 1, &pp, k) : worker(12, 0, NULL, 0));
    }
    /* The main thread works too. */
    int mine = worker(20, 0, NULL, 0);
    for (int i = 0; i < 5; i++) pthread_join(th[i], NULL);
    for (int k = 0; k < 3; k++) waitpid(kids[k], &status[k], 0);

    for (int i = 0; i < 5; i++) printf("thread %d (%s): %s\n", i + 1, ta[i].how == 0 ? "sched_yield" : ta[i].how == 1 ? "pipe" : "futex sleep", verdict(ta[i].result));
    for (int k = 0; k < 3; k++)
        printf("process %d (%s): %s\n", k + 1, k < 2 ? "pipe" : "sched_yield",
               WIFEXITED(status[k]) ? verdict(WEXITSTATUS(status[k])) : "killed");
    printf("main thread: %s\n", verdict(mine));
    return 0;
}
