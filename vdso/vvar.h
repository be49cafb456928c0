/* The [vvar] page: what the vkernel publishes for the vDSO's clocks.
 *
 * vkernel/vdso.cpp writes it (kernel lock held, one writer); vdso/vdso.c
 * reads it from guest user mode, without any lock, under the sequence
 * counter `seq`: odd while the vkernel is writing, bumped again when it is
 * done, so a reader that saw the same even value before and after its reads
 * used one consistent set of parameters.
 *
 * Plain C, included by the vDSO (C, no libc) and by the vkernel (C++): keep
 * it to fixed-width integers and inline functions without library calls.
 */
#pragma once

#include <stdint.h>

/* How the vDSO reads the clocks (vk_vvar.mode). */
#define VK_VVAR_MODE_SYSCALL 0u /* no usable TSC: every call makes the syscall */
#define VK_VVAR_MODE_TSC 1u     /* the TSC lines below are valid */

/* The two timelines the TSC drives: CLOCK_MONOTONIC (REALTIME, BOOTTIME and
 * TAI are fixed offsets from it) and CLOCK_MONOTONIC_RAW. */
#define VK_VVAR_LINE_MONO 0
#define VK_VVAR_LINE_RAW 1

/* One timeline: at TSC value `tsc` it reads
 *     base_ns + (((tsc - cycle_last) * mult) >> shift)
 * (vk_vvar_line_ns), with a 128-bit product so that no delta overflows. */
struct vk_vvar_line {
    uint64_t base_ns;
    uint64_t mult;
};

struct vk_vvar {
    uint32_t seq;
    uint32_t mode;
    uint64_t cycle_last; /* the guest TSC at which both lines read base_ns */
    uint32_t shift;
    uint32_t pad0;
    struct vk_vvar_line line[2];
    /* CLOCK_REALTIME, CLOCK_BOOTTIME, CLOCK_TAI minus CLOCK_MONOTONIC, in
     * ns (two's complement: added modulo 2^64). */
    uint64_t realtime_offset_ns;
    uint64_t boottime_offset_ns;
    uint64_t tai_offset_ns;
    /* What clock_getres says for the high-resolution clocks and for the
     * _COARSE ones (the host's tick). The _COARSE clocks read as the host's
     * do: the time of the last tick, which is CLOCK_MONOTONIC
     * coarse_lag_ns ago rounded down onto the host's grid (multiples of
     * coarse_res_ns from coarse_phase_ns), plus the offset for REALTIME.
     * (Linux's ticks come some time after the grid points its coarse time
     * advances by.) */
    uint64_t hres_res_ns;
    uint64_t coarse_res_ns;
    uint64_t coarse_phase_ns;
    uint64_t coarse_lag_ns;
};

/* The value of a timeline at `tsc`. A TSC read before cycle_last (another
 * CPU's slightly earlier view) counts as cycle_last, so time never goes
 * back. */
static inline uint64_t vk_vvar_line_ns(uint64_t base_ns, uint64_t mult, uint32_t shift,
                                       uint64_t cycle_last, uint64_t tsc) {
    const uint64_t delta = tsc > cycle_last ? tsc - cycle_last : 0;
    return base_ns + (uint64_t)(((unsigned __int128)delta * mult) >> shift);
}

/* The _COARSE clocks: `ns` less `lag`, rounded down onto the grid of
 * multiples of `res` from `phase`. */
static inline uint64_t vk_vvar_coarse(uint64_t ns, uint64_t res, uint64_t phase, uint64_t lag) {
    if (res <= 1) return ns;
    const uint64_t t = ns > lag ? ns - lag : 0;
    return t - (t + res - phase % res) % res;
}
