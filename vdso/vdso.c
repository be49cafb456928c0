/* The vkernel's vDSO: the time calls of Linux's x86-64 vDSO, answered in
 * guest user mode from the TSC and the [vvar] page (vdso/vvar.h), so that
 * they cost no VM exit.
 *
 * Built at build time with the system compiler into a small ELF shared
 * object (vdso.lds: one read-only executable PT_LOAD, no relocations) that
 * the vkernel maps into every process, right after its [vvar] page.
 *
 * Freestanding: no libc, no stack protector, no data of its own, nothing a
 * loader would have to relocate. Clocks the page does not cover (the CPU
 * clocks, bad ids) and every call while the page says the TSC is not to be
 * trusted make the real syscall, so errors are the kernel's own.
 */
#include "vvar.h"

/* The kernel ABI's types (x86-64). */
struct vk_timespec {
    int64_t tv_sec;
    int64_t tv_nsec;
};
struct vk_timeval {
    int64_t tv_sec;
    int64_t tv_usec;
};
struct vk_timezone {
    int32_t tz_minuteswest;
    int32_t tz_dsttime;
};

enum {
    kClockRealtime = 0,
    kClockMonotonic = 1,
    kClockMonotonicRaw = 4,
    kClockRealtimeCoarse = 5,
    kClockMonotonicCoarse = 6,
    kClockBoottime = 7,
    kClockTai = 11,
};

enum {
    kSysGettimeofday = 96,
    kSysTime = 201,
    kSysClockGettime = 228,
    kSysClockGetres = 229,
};

#define NSEC_PER_SEC 1000000000ULL

/* The [vvar] page, one page below this image (vdso.lds defines the symbol;
 * hidden, so the code reaches it RIP-relative, without a relocation). */
extern const struct vk_vvar vk_vvar_page __attribute__((visibility("hidden")));

static inline const volatile struct vk_vvar* vvar(void) { return &vk_vvar_page; }

static inline long vk_syscall2(long nr, long a0, long a1) {
    long ret;
    __asm__ volatile("syscall" : "=a"(ret) : "a"(nr), "D"(a0), "S"(a1) : "rcx", "r11", "memory");
    return ret;
}

/* The TSC, read after every earlier load has completed (lfence), so it is
 * not taken before the sequence counter was. */
static inline uint64_t rdtsc_ordered(void) {
    uint32_t lo, hi;
    __asm__ volatile("lfence\n\trdtsc" : "=a"(lo), "=d"(hi) : : "memory");
    return ((uint64_t)hi << 32) | lo;
}

static inline int is_coarse(int clk) {
    return clk == kClockRealtimeCoarse || clk == kClockMonotonicCoarse;
}

/* The clocks the [vvar] page answers. */
static inline int is_vdso_clock(int clk) {
    switch (clk) {
    case kClockRealtime:
    case kClockMonotonic:
    case kClockMonotonicRaw:
    case kClockRealtimeCoarse:
    case kClockMonotonicCoarse:
    case kClockBoottime:
    case kClockTai:
        return 1;
    default:
        return 0;
    }
}

/* Clock `clk` (one of is_vdso_clock) in ns into *out; -1 if the page says
 * to make the syscall instead. */
static int clock_ns(int clk, uint64_t* out) {
    const volatile struct vk_vvar* v = vvar();
    uint64_t ns;
    uint32_t seq;
    do {
        while ((seq = v->seq) & 1) __asm__ volatile("pause" ::: "memory");
        /* x86 keeps loads in order: only the compiler must be held back. */
        __asm__ volatile("" ::: "memory");
        if (v->mode != VK_VVAR_MODE_TSC) return -1;
        const int line = clk == kClockMonotonicRaw ? VK_VVAR_LINE_RAW : VK_VVAR_LINE_MONO;
        uint64_t offset = 0;
        if (clk == kClockRealtime || clk == kClockRealtimeCoarse) offset = v->realtime_offset_ns;
        else if (clk == kClockBoottime) offset = v->boottime_offset_ns;
        else if (clk == kClockTai) offset = v->tai_offset_ns;
        ns = vk_vvar_line_ns(v->line[line].base_ns, v->line[line].mult, v->shift,
                             v->cycle_last, rdtsc_ordered());
        if (is_coarse(clk))
            ns = vk_vvar_coarse(ns, v->coarse_res_ns, v->coarse_phase_ns, v->coarse_lag_ns);
        ns += offset;
        __asm__ volatile("" ::: "memory");
    } while (v->seq != seq);
    *out = ns;
    return 0;
}

int __vdso_clock_gettime(int clk, struct vk_timespec* ts) {
    uint64_t ns;
    if (is_vdso_clock(clk) && clock_ns(clk, &ns) == 0) {
        ts->tv_sec = (int64_t)(ns / NSEC_PER_SEC);
        ts->tv_nsec = (int64_t)(ns % NSEC_PER_SEC);
        return 0;
    }
    return (int)vk_syscall2(kSysClockGettime, clk, (long)ts);
}

int __vdso_gettimeofday(struct vk_timeval* tv, struct vk_timezone* tz) {
    if (tv) {
        uint64_t ns;
        if (clock_ns(kClockRealtime, &ns) != 0)
            return (int)vk_syscall2(kSysGettimeofday, (long)tv, (long)tz);
        tv->tv_sec = (int64_t)(ns / NSEC_PER_SEC);
        tv->tv_usec = (int64_t)(ns % NSEC_PER_SEC / 1000);
    }
    if (tz) {
        /* UTC without DST, as the vkernel's gettimeofday(2) says. */
        tz->tz_minuteswest = 0;
        tz->tz_dsttime = 0;
    }
    return 0;
}

int64_t __vdso_time(int64_t* t) {
    uint64_t ns;
    if (clock_ns(kClockRealtime, &ns) != 0) return vk_syscall2(kSysTime, (long)t, 0);
    const int64_t sec = (int64_t)(ns / NSEC_PER_SEC);
    if (t) *t = sec;
    return sec;
}

int __vdso_clock_getres(int clk, struct vk_timespec* res) {
    const volatile struct vk_vvar* v = vvar();
    if (v->mode == VK_VVAR_MODE_TSC && is_vdso_clock(clk)) {
        const uint64_t r = is_coarse(clk) ? v->coarse_res_ns : v->hres_res_ns;
        if (res) {
            res->tv_sec = (int64_t)(r / NSEC_PER_SEC);
            res->tv_nsec = (int64_t)(r % NSEC_PER_SEC);
        }
        return 0;
    }
    return (int)vk_syscall2(kSysClockGetres, clk, (long)res);
}

/* The unprefixed names Linux's vDSO also exports, as weak aliases. */
int clock_gettime(int, struct vk_timespec*) __attribute__((weak, alias("__vdso_clock_gettime")));
int gettimeofday(struct vk_timeval*, struct vk_timezone*)
    __attribute__((weak, alias("__vdso_gettimeofday")));
int64_t time(int64_t*) __attribute__((weak, alias("__vdso_time")));
int clock_getres(int, struct vk_timespec*) __attribute__((weak, alias("__vdso_clock_getres")));
