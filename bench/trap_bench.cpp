// Trap-path figures from one run, straight on the vmspace API:
//   bare trampoline round trip: a guest `syscall` loop answered by a host
//     handler that does nothing but resume;
//   raw KVM exit round trip: a guest `out` loop (no syscall, no trampoline);
//   the host's own syscall round trip (getppid) for the ratio.
// Prints one "name value unit" line per figure (medians of 7 rounds).

#include <fmt/core.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <vector>

#include "guest_code.h"
#include "pmap/frame_allocator.h"
#include "pmap/phys_memory.h"
#include "vmspace/machine.h"
#include "vmspace/vcpu.h"
#include "vmspace/vmspace.h"

using namespace vk;
using namespace vk::vmspace;
using Clock = std::chrono::steady_clock;

namespace {

constexpr u64 kCode = 0x40'0000;
constexpr int kRounds = 7;

double median(std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v[v.size() / 2];
}

template <typename F>
double per_op_ns(int n, F&& body) {
    std::vector<double> rounds;
    for (int r = 0; r < kRounds; r++) {
        const auto t0 = Clock::now();
        body(n);
        const auto t1 = Clock::now();
        rounds.push_back(std::chrono::duration<double, std::nano>(t1 - t0).count() / n);
    }
    return median(rounds);
}

}  // namespace

int main() {
    auto mem = pmap::PhysMemory::create(64 << 20);
    if (!mem) {
        fmt::print(stderr, "{}\n", mem.error().message());
        return 1;
    }
    pmap::FrameAllocator frames(mem.value());
    auto machine = Machine::create(mem.value(), frames);
    if (!machine) {
        fmt::print(stderr, "trap_bench: {}\n", machine.error().message());
        return 1;
    }
    auto vcpu = Vcpu::create(*machine.value(), 0).value();
    auto space = VmSpace::create(*machine.value()).value();

    auto load = [&](GuestCode code) {
        const auto f = frames.alloc().value();
        std::memcpy(mem->host(f), code.start, code.size);
        space->remove(kCode, kCode + kPageSize);
        (void)space->enter(kCode, f, pmap::kProtRead | pmap::kProtExec);
    };

    UserRegs regs;
    load(VK_CODE(g_syscall_loop));
    regs.rip = kCode;
    (void)vcpu->run(*space, regs);  // warm up
    const double trampoline = per_op_ns(20000, [&](int n) {
        for (int i = 0; i < n; i++) (void)vcpu->run(*space, regs);
    });

    load(VK_CODE(g_out));
    regs = {};
    regs.rip = kCode;
    (void)vcpu->run(*space, regs);
    const double raw = per_op_ns(20000, [&](int n) {
        for (int i = 0; i < n; i++) (void)vcpu->run(*space, regs);
    });

    const double host = per_op_ns(200000, [](int n) {
        for (int i = 0; i < n; i++) syscall(SYS_getppid);
    });

    fmt::print("kvm {}\n", machine.value()->is_pvm() ? "pvm" : "vmx-svm");
    fmt::print("syscall_path {}\n", vcpu->syscall_in_user_mode() ? "ring3-trampoline" : "ring0-trampoline");
    fmt::print("bare_trampoline_ns {:.0f}\n", trampoline);
    fmt::print("raw_exit_ns {:.0f}\n", raw);
    fmt::print("host_getppid_ns {:.0f}\n", host);
    return 0;
}
