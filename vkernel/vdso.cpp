#include "vkernel/vdso.h"

#include <time.h>
#include <x86intrin.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <mutex>
#include <optional>
#include <sstream>
#include <utility>

#include "base/assert.h"
#include "base/log.h"
#include "vkernel/kernel.h"

// The image's bytes, generated at build time from vdso/vdso.so
// (vdso/CMakeLists.txt, after vdso/check_vdso.cmake has checked it).
extern "C" const unsigned char vk_vdso_image_bytes[];
extern "C" const unsigned long vk_vdso_image_size;

namespace vk {

std::span<const std::byte> vdso_image() {
    // SAFETY: the generated array holds vk_vdso_image_size bytes.
    return {reinterpret_cast<const std::byte*>(vk_vdso_image_bytes), vk_vdso_image_size};
}

// ---- the clock arithmetic ---------------------------------------------------

namespace vdso_clock {

u64 mult_for(double ns_per_cycle, u32 shift) {
    return static_cast<u64>(std::llround(std::ldexp(ns_per_cycle, static_cast<int>(shift))));
}

double rate_between(const Sample& older, const Sample& newer) {
    if (newer.tsc <= older.tsc || newer.ns < older.ns + 100'000) return 0;
    return static_cast<double>(newer.ns - older.ns) / static_cast<double>(newer.tsc - older.tsc);
}

vk_vvar_line steer(const vk_vvar_line& cur, u64 cycle_last, u32 shift, u64 now_tsc,
                   const Sample& host, double ns_per_cycle, u64 period) {
    // The host clock at now_tsc, extrapolated from the sample over the few
    // microseconds between them (integer base: ns since boot exceed a
    // double's exact range after a few months).
    const i64 since = static_cast<i64>(now_tsc - host.tsc);
    const u64 host_now = host.ns + static_cast<u64>(std::llround(static_cast<double>(since) * ns_per_cycle));
    const u64 mult = mult_for(ns_per_cycle, shift);
    if (cur.mult == 0) return {host_now, mult};
    const u64 line_now = line_ns(cur, cycle_last, shift, now_tsc);
    const i64 behind = static_cast<i64>(host_now - line_now);
    if (static_cast<double>(behind) > kStepNs) return {host_now, mult};
    const double want = ns_per_cycle + static_cast<double>(behind) / static_cast<double>(std::max<u64>(period, 1));
    const double rate = std::clamp(want, ns_per_cycle * (1 - kMaxSlew), ns_per_cycle * (1 + kMaxSlew));
    return {line_now, mult_for(rate, shift)};
}

}  // namespace vdso_clock

// ---- host clocks and TSC ------------------------------------------------------

namespace {

constexpr u32 kMsrTsc = 0x10;
// How many recent samples the rate is measured across (the oldest is the
// baseline: a second or more back once running).
constexpr std::size_t kHistory = 5;
// How many updates' distances between the fine and coarse clocks give the
// coarse clock's lag (their minimum).
constexpr std::size_t kCoarseLags = 16;
// Host ticks come a little late now and then (by 0.1 ms and more on a VM):
// the coarse clocks wait this much longer, so that they are seldom ahead of
// the host's.
constexpr u64 kCoarseLagMarginNs = 100'000;
// A host clock offset (REALTIME - MONOTONIC, ...) that seems to have moved
// by less than this is the same offset read with jitter: the published one
// stays, so the guest's CLOCK_REALTIME does not wobble at every update.
// (Linux changes these offsets only when the clock is set.)
constexpr i64 kOffsetJitterNs = 20'000;

u64 host_ns(clockid_t c) {
    timespec ts{};
    ::clock_gettime(c, &ts);
    return static_cast<u64>(ts.tv_sec) * 1'000'000'000ULL + static_cast<u64>(ts.tv_nsec);
}

u64 host_res_ns(clockid_t c) {
    timespec ts{};
    if (::clock_getres(c, &ts) != 0) return 1;
    return static_cast<u64>(ts.tv_sec) * 1'000'000'000ULL + static_cast<u64>(ts.tv_nsec);
}

// The host TSC, read after earlier loads (as the vDSO reads the guest's).
u64 host_tsc() {
    _mm_lfence();
    return __rdtsc();
}

// Whether the host says its TSC runs at a constant rate and does not stop
// in idle states (/proc/cpuinfo flags constant_tsc and nonstop_tsc): only
// then is it a clock.
bool host_tsc_is_clock(std::string& why) {
    std::ifstream in("/proc/cpuinfo");
    std::string line;
    while (std::getline(in, line)) {
        if (line.rfind("flags", 0) != 0) continue;
        std::istringstream words(line.substr(line.find(':') + 1));
        bool constant = false, nonstop = false;
        for (std::string w; words >> w;) {
            constant |= w == "constant_tsc";
            nonstop |= w == "nonstop_tsc";
        }
        if (constant && nonstop) return true;
        why = "the host's TSC is not constant and nonstop (cpuinfo flags)";
        return false;
    }
    why = "no CPU flags in /proc/cpuinfo";
    return false;
}

// One vCPU's TSC minus the host's, from a KVM_GET_MSRS between two host TSC
// reads (the tightest of a few); `width` is the uncertainty in cycles.
std::optional<i64> vcpu_tsc_offset(const vmspace::Vcpu& vcpu, u64& width) {
    std::optional<i64> best;
    width = ~0ULL;
    for (int i = 0; i < 3; i++) {
        const u64 before = host_tsc();
        auto guest = vcpu.read_msr(kMsrTsc);
        const u64 after = host_tsc();
        if (!guest) return std::nullopt;
        if (after - before < width) {
            width = after - before;
            best = static_cast<i64>(guest.value() - (before + width / 2));
        }
    }
    // An offset within the measurement's own uncertainty is none: KVM
    // reads the MSR somewhere inside the ioctl, and a guest whose rdtsc is
    // the host's (PVM) would otherwise be a few microseconds off for good.
    if (best && static_cast<u64>(std::llabs(*best)) <= width) best = 0;
    return best;
}

// Where clock `c` minus clock `from` lies: `c` read between two reads of
// `from` bounds it to [lo, hi]; the tightest of a few tries.
struct OffsetRange {
    i64 lo = 0, hi = 0;
};
OffsetRange offset_range(clockid_t c, clockid_t from) {
    OffsetRange best{0, INT64_MAX};
    for (int i = 0; i < 3; i++) {
        const u64 f1 = host_ns(from);
        const u64 x = host_ns(c);
        const u64 f2 = host_ns(from);
        const OffsetRange r{static_cast<i64>(x - f2), static_cast<i64>(x - f1)};
        if (r.hi - r.lo < best.hi - best.lo) best = r;
    }
    return best;
}

// The offset to publish for a measured range: the published one while it
// is consistent with the range (`published` null: none yet), else 0 when the
// range allows it (BOOTTIME on a host that never slept), else its middle.
i64 pick_offset(std::optional<i64> published, OffsetRange r) {
    if (published && *published >= r.lo - kOffsetJitterNs && *published <= r.hi + kOffsetJitterNs)
        return *published;
    if (r.lo <= 0 && r.hi >= 0) return 0;
    return r.lo + (r.hi - r.lo) / 2;
}

// The machines with a vDSO (the loader is handed a machine, not a kernel).
std::mutex g_registry_mu;
std::vector<std::pair<const vmspace::Machine*, Vdso*>> g_registry;  // guarded by g_registry_mu

}  // namespace

// ---- Vdso ---------------------------------------------------------------------

std::unique_ptr<Vdso> Vdso::create(vmspace::Machine& machine,
                                   std::span<vmspace::Vcpu* const> vcpus) {
    const u64 t0 = host_ns(CLOCK_MONOTONIC);
    pmap::FrameAllocator& frames = machine.frames();
    const std::span<const std::byte> bytes = vdso_image();
    auto data = std::make_shared<std::vector<std::byte>>(bytes.begin(), bytes.end());
    const u64 pages = page_round_up(bytes.size()) / kPageSize;
    // The image's pages are made once; every process maps copy-on-write
    // copies of this object (MADV_DONTNEED brings the bytes back, as on Linux).
    auto image = std::make_shared<VmObject>(frames, data, 0, data->size());
    for (u64 i = 0; i < pages; i++)
        if (!image->page(i)) return nullptr;
    auto vvar = std::make_shared<VmObject>(frames);
    auto frame = vvar->page(0);  // zeroed: mode VK_VVAR_MODE_SYSCALL
    if (!frame) return nullptr;
    std::unique_ptr<Vdso> v(new Vdso(machine, std::move(image), std::move(vvar), frame->pa, pages));

    vk_vvar* p = v->page();
    p->shift = vdso_clock::kShift;
    p->hres_res_ns = host_res_ns(CLOCK_MONOTONIC);
    p->coarse_res_ns = host_res_ns(CLOCK_MONOTONIC_COARSE);

    // The guest TSC is usable if the host's is a clock and every vCPU sees
    // the same one (KVM synchronizes vCPUs created together; a vCPU whose
    // offset differs would make time jump between CPUs).
    if (const char* off = std::getenv("VKERNEL_VDSO_NO_TSC"); off && *off && std::strcmp(off, "0") != 0) {
        v->why_not_ = "VKERNEL_VDSO_NO_TSC is set";
        log_debug("vDSO: {}: clocks use the syscall", v->why_not_);
    } else if (!host_tsc_is_clock(v->why_not_)) {
        log_debug("vDSO: {}: clocks use the syscall", v->why_not_);
    } else {
        bool ok = !vcpus.empty();
        u64 first_width = 0;
        for (std::size_t i = 0; ok && i < vcpus.size(); i++) {
            u64 width = 0;
            auto off = vcpu_tsc_offset(*vcpus[i], width);
            if (!off) {
                v->why_not_ = "KVM_GET_MSRS cannot read the guest TSC";
                ok = false;
            } else if (i == 0) {
                v->tsc_offset_ = *off;
                first_width = width;
            } else if (std::llabs(*off - v->tsc_offset_) > static_cast<i64>(width + first_width + 100'000)) {
                v->why_not_ = fmt::format("vCPU {}'s TSC is {} cycles off vCPU 0's", i, *off - v->tsc_offset_);
                ok = false;
            }
        }
        if (ok) {
            v->usable_ = true;
            v->first_ = v->sample();
            (void)v->note_coarse_lag();
            v->history_.push_back(v->first_);
            log_debug("vDSO: guest TSC = host TSC {:+} (measured within {} cycles); set up in {} us",
                      v->tsc_offset_, first_width, (host_ns(CLOCK_MONOTONIC) - t0) / 1000);
        } else {
            log_debug("vDSO: {}: clocks use the syscall", v->why_not_);
        }
    }

    std::lock_guard g(g_registry_mu);
    g_registry.emplace_back(&machine, v.get());
    return v;
}

Vdso::~Vdso() {
    std::lock_guard g(g_registry_mu);
    std::erase_if(g_registry, [this](const auto& e) { return e.second == this; });
}

Vdso* Vdso::of(const vmspace::Machine& machine) {
    std::lock_guard g(g_registry_mu);
    for (const auto& [m, v] : g_registry)
        if (m == &machine) return v;
    return nullptr;
}

vk_vvar* Vdso::page() const {
    // SAFETY: vvar_frame_ is a whole frame vvar_ holds a reference to, and
    // vk_vvar (a few dozen bytes of integers) fits at its start.
    return machine_.memory().host_as<vk_vvar>(vvar_frame_);
}

vk_vvar Vdso::published() const {
    vk_vvar copy;
    std::memcpy(&copy, page(), sizeof copy);
    return copy;
}

u64 Vdso::note_coarse_lag() {
    const u64 coarse = host_ns(CLOCK_MONOTONIC_COARSE);
    const u64 fine = host_ns(CLOCK_MONOTONIC);
    coarse_lags_.push_back(fine - coarse);
    while (coarse_lags_.size() > kCoarseLags) coarse_lags_.pop_front();
    return coarse;
}

u64 Vdso::guest_tsc() const { return host_tsc() + static_cast<u64>(tsc_offset_); }

Vdso::HostSample Vdso::sample() const {
    // Both host clocks between two TSC reads; the tightest of a few tries
    // (a preempted try is wide).
    HostSample best;
    u64 best_width = ~0ULL;
    for (int i = 0; i < 4; i++) {
        const u64 before = host_tsc();
        const u64 mono = host_ns(CLOCK_MONOTONIC);
        const u64 raw = host_ns(CLOCK_MONOTONIC_RAW);
        const u64 after = host_tsc();
        if (after - before < best_width) {
            best_width = after - before;
            best = HostSample{before + best_width / 2 + static_cast<u64>(tsc_offset_), mono, raw};
        }
    }
    return best;
}

Result<u64> Vdso::map_into(Mm& mm) {
    const u64 len = (1 + image_pages_) * kPageSize;
    const u64 at = VK_TRY(mm.find_free(len));
    // [vvar]: the one frame we write, read-only for good (no mprotect can
    // make it writable or executable, as Linux's VM_MAYREAD-only mapping).
    // Shared, so fork and MADV_DONTNEED keep the frame itself.
    Region vvar;
    vvar.start = at;
    vvar.end = at + kPageSize;
    vvar.prot = kProtRead;
    vvar.max_prot = kProtRead;
    vvar.object = vvar_;
    vvar.shared = true;
    vvar.uncharged_ok = true;
    vvar.name = "[vvar]";
    VK_TRY(mm.map(std::move(vvar)));
    // [vdso]: private, copy-on-write (a debugger may write breakpoints).
    Region text;
    text.start = at + kPageSize;
    text.end = at + len;
    text.prot = kProtRead | kProtExec;
    text.object = image_->cow_copy();
    text.name = "[vdso]";
    if (auto m = mm.map(std::move(text)); !m) {
        mm.unmap(at, at + kPageSize);
        return Unexpected{m.error()};
    }
    // libc reads the image at start and the page at its first clock call:
    // entering both now saves two page-fault exits per process.
    (void)mm.fault(at, Access::kRead);
    (void)mm.fault(at + kPageSize, Access::kExec);
    return at + kPageSize;
}

std::chrono::milliseconds Vdso::next_interval() const {
    // The start-up rate comes from a short baseline: re-measure soon, then
    // settle to about once a second. No interval is a multiple of 4 ms
    // (the usual tick), so each update sees the host's tick at another
    // phase, which measuring the coarse clocks' lag needs (see update).
    static constexpr std::chrono::milliseconds kSchedule[] = {
        std::chrono::milliseconds(23), std::chrono::milliseconds(101), std::chrono::milliseconds(409)};
    if (updates_ >= 1 && updates_ - 1 < std::size(kSchedule)) return kSchedule[updates_ - 1];
    return std::chrono::milliseconds(997);
}

void Vdso::start(Kernel& kernel) {
    if (!usable_) return;
    // The first rate needs some distance from create()'s sample; boot has
    // usually taken longer than this already.
    const u64 t0 = host_ns(CLOCK_MONOTONIC);
    while (host_ns(CLOCK_MONOTONIC) < first_.mono + 200'000) _mm_pause();
    update();
    log_debug("vDSO: {:.3f} GHz guest TSC, first parameters published in {} us",
              1 / rate_mono_, (host_ns(CLOCK_MONOTONIC) - t0) / 1000);
    arm_timer(kernel);
}

void Vdso::arm_timer(Kernel& kernel) {
    kernel.add_timer(Clock::now() + next_interval(), [this, &kernel] {
        update();
        arm_timer(kernel);
    });
}

void Vdso::update() {
    if (!usable_) return;
    const HostSample s = sample();
    const HostSample& base = history_.front();
    const double mono_rate = vdso_clock::rate_between({base.tsc, base.mono}, {s.tsc, s.mono});
    const double raw_rate = vdso_clock::rate_between({base.tsc, base.raw}, {s.tsc, s.raw});
    if (mono_rate > 0) rate_mono_ = mono_rate;
    if (raw_rate > 0) rate_raw_ = raw_rate;
    history_.push_back(s);
    while (history_.size() > kHistory) history_.pop_front();
    // 0.1 to 10 GHz: anything else is a broken measurement, not a TSC.
    if (!(rate_mono_ > 0.1 && rate_mono_ < 10 && rate_raw_ > 0.1 && rate_raw_ < 10)) return;

    vk_vvar* v = page();
    auto was = [&](u64 offset) { return updates_ ? std::optional<i64>(static_cast<i64>(offset)) : std::nullopt; };
    const i64 real = pick_offset(was(v->realtime_offset_ns), offset_range(CLOCK_REALTIME, CLOCK_MONOTONIC));
    const i64 boot = pick_offset(was(v->boottime_offset_ns), offset_range(CLOCK_BOOTTIME, CLOCK_MONOTONIC));
    // TAI is REALTIME plus whole seconds (Linux keeps tai_offset in seconds).
    const OffsetRange tai_real = offset_range(CLOCK_TAI, CLOCK_REALTIME);
    const i64 tai_sec = (tai_real.lo + (tai_real.hi - tai_real.lo) / 2 + 500'000'000) / 1'000'000'000;
    const i64 tai = real + tai_sec * 1'000'000'000;
    // The host's tick grid (its coarse clock's values) and how long after
    // a grid point the tick that publishes it comes: at least the smallest
    // distance seen between the fine and the coarse clock.
    const u64 coarse_phase = v->coarse_res_ns > 1 ? note_coarse_lag() % v->coarse_res_ns : 0;
    const u64 coarse_lag =
        *std::min_element(coarse_lags_.begin(), coarse_lags_.end()) + kCoarseLagMarginNs;
    updates_++;
    const double period_ns = static_cast<double>(next_interval().count()) * 1e6;

    // The write: seq odd first, visible before anything else changes and
    // before the TSC that becomes cycle_last is read (a reader that saw the
    // old even seq and the new fields retries).
    std::atomic_ref<u32> seq(v->seq);
    const u32 start = seq.load(std::memory_order_relaxed);
    seq.store(start + 1, std::memory_order_relaxed);
    std::atomic_thread_fence(std::memory_order_seq_cst);
    const u64 now = guest_tsc();
    const vk_vvar_line mono = vdso_clock::steer(v->line[VK_VVAR_LINE_MONO], v->cycle_last, v->shift, now,
                                                {s.tsc, s.mono}, rate_mono_,
                                                static_cast<u64>(period_ns / rate_mono_));
    const vk_vvar_line raw = vdso_clock::steer(v->line[VK_VVAR_LINE_RAW], v->cycle_last, v->shift, now,
                                               {s.tsc, s.raw}, rate_raw_,
                                               static_cast<u64>(period_ns / rate_raw_));
    v->cycle_last = now;
    v->line[VK_VVAR_LINE_MONO] = mono;
    v->line[VK_VVAR_LINE_RAW] = raw;
    v->realtime_offset_ns = static_cast<u64>(real);
    v->boottime_offset_ns = static_cast<u64>(boot);
    v->tai_offset_ns = static_cast<u64>(tai);
    v->coarse_phase_ns = coarse_phase;
    v->coarse_lag_ns = coarse_lag;
    v->mode = VK_VVAR_MODE_TSC;
    seq.store(start + 2, std::memory_order_release);
}

}  // namespace vk
