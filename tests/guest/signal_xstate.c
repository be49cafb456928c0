/* The FPU state in signal frames (issue 3): the frame holds the XSAVE image
 * Linux puts there on a CPU with XSAVE, the interrupted code's AVX registers
 * survive a handler that clobbers them, and what a handler writes into the
 * frame's image is what the interrupted code gets back (rt_sigreturn
 * restores the whole image). Prints only what Linux defines, so the output
 * is the same natively and in the vkernel. */
#include <cpuid.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/syscall.h>
#include <ucontext.h>
#include <unistd.h>

#ifndef FP_XSTATE_MAGIC1
#define FP_XSTATE_MAGIC1 0x46505853u
#define FP_XSTATE_MAGIC2 0x46505845u
#endif
#define UC_FP_XSTATE 0x1
#ifndef AT_MINSIGSTKSZ
#define AT_MINSIGSTKSZ 51
#endif

struct sw_bytes {
    uint32_t magic1, extended_size;
    uint64_t xfeatures;
    uint32_t xstate_size, padding[7];
};

static uint64_t xcr0;
static unsigned ymm_offset;  /* CPUID(0xD, 2).EBX: where YMM_Hi128 lives */
static unsigned cpuid_size;  /* CPUID(0xD, 0).EBX: XSAVE size for XCR0 */

static volatile int frame_ok, xfeatures_ok, magic2_ok, uc_flag_ok, size_ok;
static volatile int patch_frame;

static void handler(int sig, siginfo_t* si, void* ctx) {
    (void)sig;
    (void)si;
    ucontext_t* uc = ctx;
    unsigned char* fp = (unsigned char*)uc->uc_mcontext.fpregs;
    struct sw_bytes sw;
    memcpy(&sw, fp + 464, sizeof sw);
    uc_flag_ok = (uc->uc_flags & UC_FP_XSTATE) != 0;
    frame_ok = sw.magic1 == FP_XSTATE_MAGIC1 && sw.extended_size == sw.xstate_size + 4;
    size_ok = sw.xstate_size == cpuid_size;
    xfeatures_ok = sw.xfeatures == xcr0;
    uint32_t m2;
    memcpy(&m2, fp + sw.xstate_size, 4);
    magic2_ok = m2 == FP_XSTATE_MAGIC2;
    /* Clobber every YMM register here; the interrupted code must not see it. */
    __asm__ volatile("vpcmpeqb %%ymm0, %%ymm0, %%ymm0\n"
                     "vmovdqa %%ymm0, %%ymm1\n vmovdqa %%ymm0, %%ymm2\n vmovdqa %%ymm0, %%ymm3\n"
                     "vmovdqa %%ymm0, %%ymm4\n vmovdqa %%ymm0, %%ymm5\n vmovdqa %%ymm0, %%ymm6\n"
                     "vmovdqa %%ymm0, %%ymm7\n vmovdqa %%ymm0, %%ymm8\n vmovdqa %%ymm0, %%ymm9\n"
                     "vmovdqa %%ymm0, %%ymm10\n vmovdqa %%ymm0, %%ymm11\n vmovdqa %%ymm0, %%ymm12\n"
                     "vmovdqa %%ymm0, %%ymm13\n vmovdqa %%ymm0, %%ymm14\n vmovdqa %%ymm0, %%ymm15\n" ::
                         : "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8",
                           "xmm9", "xmm10", "xmm11", "xmm12", "xmm13", "xmm14", "xmm15");
    /* Rewrite the upper half of the interrupted code's ymm5 in the frame:
     * rt_sigreturn must load it (XSTATE_BV must then include AVX). */
    if (patch_frame) {
        memset(fp + ymm_offset + 5 * 16, 0x77, 16);
        uint64_t bv;
        memcpy(&bv, fp + 512, 8);
        bv |= 4;
        memcpy(fp + 512, &bv, 8);
    }
}

/* Loads a pattern into ymm0-15, sends itself SIGUSR1 with a raw syscall (the
 * registers stay live across it), and stores ymm0-15 afterwards. */
static void signal_with_live_ymm(unsigned char out[16][32], const unsigned char in[32]) {
    long pid = getpid();
    long ret;
    __asm__ volatile(
        "vmovdqu (%[in]), %%ymm0\n"
        "vmovdqa %%ymm0, %%ymm1\n vmovdqa %%ymm0, %%ymm2\n vmovdqa %%ymm0, %%ymm3\n"
        "vmovdqa %%ymm0, %%ymm4\n vmovdqa %%ymm0, %%ymm5\n vmovdqa %%ymm0, %%ymm6\n"
        "vmovdqa %%ymm0, %%ymm7\n vmovdqa %%ymm0, %%ymm8\n vmovdqa %%ymm0, %%ymm9\n"
        "vmovdqa %%ymm0, %%ymm10\n vmovdqa %%ymm0, %%ymm11\n vmovdqa %%ymm0, %%ymm12\n"
        "vmovdqa %%ymm0, %%ymm13\n vmovdqa %%ymm0, %%ymm14\n vmovdqa %%ymm0, %%ymm15\n"
        "syscall\n"
        "vmovdqu %%ymm0, 0(%[out])\n vmovdqu %%ymm1, 32(%[out])\n vmovdqu %%ymm2, 64(%[out])\n"
        "vmovdqu %%ymm3, 96(%[out])\n vmovdqu %%ymm4, 128(%[out])\n vmovdqu %%ymm5, 160(%[out])\n"
        "vmovdqu %%ymm6, 192(%[out])\n vmovdqu %%ymm7, 224(%[out])\n vmovdqu %%ymm8, 256(%[out])\n"
        "vmovdqu %%ymm9, 288(%[out])\n vmovdqu %%ymm10, 320(%[out])\n vmovdqu %%ymm11, 352(%[out])\n"
        "vmovdqu %%ymm12, 384(%[out])\n vmovdqu %%ymm13, 416(%[out])\n vmovdqu %%ymm14, 448(%[out])\n"
        "vmovdqu %%ymm15, 480(%[out])\n"
        : "=a"(ret)
        : "a"((long)SYS_kill), "D"(pid), "S"((long)SIGUSR1), [in] "r"(in), [out] "r"(out)
        : "rcx", "r11", "memory", "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7",
          "xmm8", "xmm9", "xmm10", "xmm11", "xmm12", "xmm13", "xmm14", "xmm15");
    if (ret != 0) printf("kill failed: %ld\n", ret);
}

int main(void) {
    unsigned a, b, c, d;
    __cpuid(1, a, b, c, d);
    if (!(c & bit_OSXSAVE) || !(c & bit_AVX)) {
        printf("no AVX: nothing to test\n");
        return 0;
    }
    unsigned lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    xcr0 = ((uint64_t)hi << 32) | lo;
    __cpuid_count(0xd, 0, a, b, c, d);
    cpuid_size = b;
    __cpuid_count(0xd, 2, a, b, c, d);
    ymm_offset = b;

    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = handler;
    sa.sa_flags = SA_SIGINFO;
    sigaction(SIGUSR1, &sa, 0);

    unsigned char in[32], out[16][32];
    for (int i = 0; i < 32; i++) in[i] = (unsigned char)(0x10 + i);
    signal_with_live_ymm(out, in);
    printf("uc_flags has UC_FP_XSTATE: %s\n", uc_flag_ok ? "yes" : "no");
    printf("fpx_sw_bytes magic1 and extended_size: %s\n", frame_ok ? "ok" : "bad");
    printf("xstate_size is CPUID(0xD,0).EBX: %s\n", size_ok ? "yes" : "no");
    printf("xfeatures is XCR0: %s\n", xfeatures_ok ? "yes" : "no");
    printf("FP_XSTATE_MAGIC2 after the image: %s\n", magic2_ok ? "yes" : "no");
    int bad = 0;
    for (int r = 0; r < 16; r++) bad += memcmp(out[r], in, 32) != 0;
    printf("ymm registers changed by the handler: %d\n", bad);

    patch_frame = 1;
    signal_with_live_ymm(out, in);
    unsigned char want[32];
    memcpy(want, in, 16);
    memset(want + 16, 0x77, 16);
    printf("ymm5 upper half from the frame: %s\n", memcmp(out[5], want, 32) == 0 ? "yes" : "no");
    bad = 0;
    for (int r = 0; r < 16; r++) bad += r != 5 && memcmp(out[r], in, 32) != 0;
    printf("other ymm registers changed: %d\n", bad);

    unsigned long min = getauxval(AT_MINSIGSTKSZ);
    printf("AT_MINSIGSTKSZ covers the frame: %s\n", min >= 440 + cpuid_size + 4 ? "yes" : "no");
    return 0;
}
