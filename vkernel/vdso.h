#pragma once

// The vDSO: the time calls (clock_gettime, gettimeofday, time, clock_getres)
// answered in guest user mode, without a VM exit, from the guest's TSC and
// parameters the vkernel keeps in a [vvar] page.
//
// The image is our own C (vdso/vdso.c, vdso/vdso.lds), built at build time
// and embedded in the vkernel. Every process started by exec maps, below its
// mmap base, a read-only [vvar] page (one frame, shared by every process)
// and right above it the [vdso] image (copy-on-write, like a file's
// private mapping); AT_SYSINFO_EHDR points at the image.
//
// The clock: the vkernel samples the guest TSC (KVM_GET_MSRS of the TSC on
// each vCPU gives the guest's offset from the host TSC, which runs at the
// same rate: we never set KVM_SET_TSC_KHZ) against the host's
// CLOCK_MONOTONIC and CLOCK_MONOTONIC_RAW, publishes a linear conversion per
// timeline, and re-samples from a kernel timer (soon after start, then every
// second), steering each timeline onto the host's (vdso_clock::steer) so
// it stays within well under a millisecond of it and never goes back.
// Without a constant, nonstop host TSC, or if the vCPUs' TSCs disagree, the
// page says so and the vDSO makes the syscall for everything; the
// environment variable VKERNEL_VDSO_NO_TSC=1 asks for that (to test it, or
// to rule the vDSO's clocks out when chasing a time bug).

#include <chrono>
#include <cstddef>
#include <deque>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "base/result.h"
#include "base/types.h"
#include "vdso/vvar.h"
#include "vkernel/mm.h"
#include "vmspace/machine.h"
#include "vmspace/vcpu.h"

namespace vk {

class Kernel;

// The vDSO image as built (an ELF shared object linked at address 0).
std::span<const std::byte> vdso_image();

// The arithmetic of the vDSO's clocks and of steering them: pure, so the
// unit tests can drive it with simulated clocks.
namespace vdso_clock {

// Fixed-point shift of every line's multiplier (mult = ns per cycle << 32).
inline constexpr u32 kShift = 32;
// The largest change of rate steering may make, relative to the measured
// rate: corrects up to 10 ms of error per second.
inline constexpr double kMaxSlew = 0.01;
// A line that is behind the host by more than this jumps forward at once
// (time may skip ahead, never back).
inline constexpr double kStepNs = 1e6;

// A host clock reading and the guest TSC value at the same moment.
struct Sample {
    u64 tsc = 0;
    u64 ns = 0;
};

// What the vDSO computes: the line's value at `tsc`.
inline u64 line_ns(const vk_vvar_line& l, u64 cycle_last, u32 shift, u64 tsc) {
    return vk_vvar_line_ns(l.base_ns, l.mult, shift, cycle_last, tsc);
}

// The fixed-point multiplier of `ns_per_cycle`.
u64 mult_for(double ns_per_cycle, u32 shift = kShift);

// The host clock's rate, in ns per cycle, between two samples; 0 if they
// are too close together (less than 100 µs) to say.
double rate_between(const Sample& older, const Sample& newer);

// The line to publish with cycle_last = `now_tsc`. It reads at `now_tsc`
// exactly what `cur` (published with `cycle_last`) reads there, so no
// reader sees time go back; its rate brings it onto the host clock — the
// sample `host` extended at `ns_per_cycle` — after `period` more cycles,
// within kMaxSlew of that rate. A line more than kStepNs behind (or not yet
// published: mult 0) jumps onto the host clock instead.
vk_vvar_line steer(const vk_vvar_line& cur, u64 cycle_last, u32 shift, u64 now_tsc,
                   const Sample& host, double ns_per_cycle, u64 period);

}  // namespace vdso_clock

// Owns one machine's vDSO: the image's pages (each exec maps a
// copy-on-write copy), the [vvar] frame and the calibration state behind
// it. Guarded by the kernel lock; the [vvar] page itself is read by guests
// with no lock, ordered by its sequence counter (one writer: us).
class Vdso {
public:
    // Reads the host's TSC flags and each vCPU's TSC (before any of them
    // runs guest code: the MSR read would wait out a KVM_RUN) and takes the first
    // calibration sample; allocates the image and [vvar] frames. Null if
    // guest memory has no frame for them (then no process gets a vDSO).
    static std::unique_ptr<Vdso> create(vmspace::Machine& machine,
                                        std::span<vmspace::Vcpu* const> vcpus);
    ~Vdso();
    Vdso(const Vdso&) = delete;
    Vdso& operator=(const Vdso&) = delete;

    // The vDSO of `machine`, or null. The loader finds it this way: it is
    // handed the machine, not the kernel.
    static Vdso* of(const vmspace::Machine& machine);

    // Maps [vvar] and [vdso] into `mm` below its mmap base and enters their
    // pages in its page table (every process reads both: that saves two
    // faults). Returns the image's address, for AT_SYSINFO_EHDR.
    Result<u64> map_into(Mm& mm);

    // Ends the start-up calibration (waiting out at most a fraction of a
    // millisecond since create), publishes the first parameters and starts
    // re-sampling from a timer of `kernel`. Kernel lock held.
    void start(Kernel& kernel);

    // Re-samples the host clocks against the TSC, steers both lines and
    // publishes them (the timer's work; tests call it directly). Kernel
    // lock held, or no kernel yet.
    void update();

    // Whether the TSC is used (else every vDSO call makes the syscall), and
    // why not, for diagnostics.
    bool uses_tsc() const { return usable_; }
    const std::string& why_not() const { return why_not_; }
    // The parameters as published (a copy of the [vvar] page).
    vk_vvar published() const;

private:
    // A sample of both host timelines with the guest TSC.
    struct HostSample {
        u64 tsc = 0;  // guest TSC
        u64 mono = 0, raw = 0;
    };

    Vdso(vmspace::Machine& machine, std::shared_ptr<VmObject> image, std::shared_ptr<VmObject> vvar,
         pmap::PhysAddr vvar_frame, u64 image_pages)
        : machine_(machine), image_(std::move(image)), vvar_(std::move(vvar)),
          vvar_frame_(vvar_frame), image_pages_(image_pages) {}
    // The guest TSC now (the host's plus the vCPUs' offset).
    u64 guest_tsc() const;
    HostSample sample() const;
    // Notes how far the host's coarse clock is behind its fine one now;
    // returns the coarse clock.
    u64 note_coarse_lag();
    // The next re-sampling: soon after start while the rate is rough, then
    // every second.
    std::chrono::milliseconds next_interval() const;
    void arm_timer(Kernel& kernel);
    vk_vvar* page() const;

    vmspace::Machine& machine_;
    std::shared_ptr<VmObject> image_;  // the image's pages; each mm maps a cow_copy()
    std::shared_ptr<VmObject> vvar_;   // the [vvar] frame; every mm maps this object, shared
    pmap::PhysAddr vvar_frame_;
    u64 image_pages_;
    bool usable_ = false;
    std::string why_not_;
    i64 tsc_offset_ = 0;  // guest TSC minus host TSC
    HostSample first_;    // taken by create()
    std::deque<HostSample> history_;  // recent samples, oldest first: the rate's baseline
    std::deque<u64> coarse_lags_;     // recent CLOCK_MONOTONIC minus CLOCK_MONOTONIC_COARSE
    double rate_mono_ = 0, rate_raw_ = 0;  // ns per guest cycle
    unsigned updates_ = 0;
};

}  // namespace vk
