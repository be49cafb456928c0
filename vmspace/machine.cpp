#include "vmspace/machine.h"

#include <fcntl.h>
#include <linux/kvm.h>
#include <sys/ioctl.h>
#include <sys/mman.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>

#include "base/assert.h"
#include "base/log.h"
#include "vmspace/fast_syscall.h"
#include "vmspace/kvm_abi.h"
#include "vmspace/layout.h"
#include "vmspace/trampoline.h"

namespace vk::vmspace {

namespace {

using pmap::kProtExec;
using pmap::kProtRead;
using pmap::kProtUser;
using pmap::kProtWrite;

Result<void, HostError> ioctl_ok(int fd, unsigned long req, const char* name, unsigned long arg) {
    // SAFETY: callers pass a request and an argument of the type it expects.
    if (::ioctl(fd, req, arg) < 0) return host_err(name);
    return {};
}

}  // namespace

Result<std::unique_ptr<Machine>, HostError> Machine::create(pmap::PhysMemory& mem,
                                                           pmap::FrameAllocator& frames) {
    UniqueFd kvm(::open("/dev/kvm", O_RDWR | O_CLOEXEC));
    if (!kvm.valid()) return host_err("open /dev/kvm");

    // SAFETY: KVM_GET_API_VERSION takes no argument.
    int version = ::ioctl(kvm.get(), KVM_GET_API_VERSION, 0);
    if (version != KVM_API_VERSION) return host_err("KVM_GET_API_VERSION", EPROTO);

    // SAFETY: KVM_CHECK_EXTENSION takes the capability number by value.
    int sync = ::ioctl(kvm.get(), KVM_CHECK_EXTENSION, KVM_CAP_SYNC_REGS);
    if (sync < 0 || (sync & (KVM_SYNC_X86_REGS | KVM_SYNC_X86_SREGS)) !=
                        (KVM_SYNC_X86_REGS | KVM_SYNC_X86_SREGS))
        return host_err("KVM_CAP_SYNC_REGS (this KVM is too old)", ENOTSUP);

    // SAFETY: KVM_CREATE_VM takes the machine type (0: default) by value.
    UniqueFd vm(::ioctl(kvm.get(), KVM_CREATE_VM, 0));
    if (!vm.valid()) return host_err("KVM_CREATE_VM");

    // SAFETY: KVM_GET_VCPU_MMAP_SIZE takes no argument.
    int run_size = ::ioctl(kvm.get(), KVM_GET_VCPU_MMAP_SIZE, 0);
    if (run_size <= 0) return host_err("KVM_GET_VCPU_MMAP_SIZE");

    // The TSS region only matters for real mode on Intel; keep it off our RAM.
    if (mem.size() <= 0xfffb'c000ULL)
        VK_TRY(ioctl_ok(vm.get(), KVM_SET_TSS_ADDR, "KVM_SET_TSS_ADDR", 0xfffb'd000UL));

    kvm_userspace_memory_region region{};
    region.slot = 0;
    region.guest_phys_addr = 0;
    region.memory_size = mem.size();
    // SAFETY: the direct map lives as long as `mem`, which outlives the machine.
    region.userspace_addr = reinterpret_cast<u64>(mem.base());
    VK_TRY(ioctl_ok(vm.get(), KVM_SET_USER_MEMORY_REGION, "KVM_SET_USER_MEMORY_REGION",
                    reinterpret_cast<unsigned long>(&region)));

    auto kernel = pmap::PageTable::create(frames);
    if (!kernel) return host_err("allocating the kernel page table", ENOMEM);

    std::unique_ptr<Machine> m(
        new Machine(mem, frames, std::move(kvm), std::move(vm), std::move(kernel.value())));
    m->run_size_ = static_cast<std::size_t>(run_size);

    // Ask with a growing buffer: KVM answers E2BIG while it is too small.
    kvm_cpuid2* cpuid = nullptr;
    for (u32 n = 64;; n *= 2) {
        // SAFETY: kvm_cpuid2 ends in a flexible array; we allocate room for n entries.
        cpuid = static_cast<kvm_cpuid2*>(
            std::calloc(1, sizeof(abi::CpuidHeader) + n * sizeof(kvm_cpuid_entry2)));
        cpuid->nent = n;
        // SAFETY: KVM_GET_SUPPORTED_CPUID fills at most nent entries after the header.
        if (::ioctl(m->kvm_.get(), abi::kGetSupportedCpuid, cpuid) == 0) break;
        const int e = errno;
        std::free(cpuid);
        if (e != E2BIG || n >= 4096) return host_err("KVM_GET_SUPPORTED_CPUID", e);
    }
    m->cpuid_ = cpuid;
    bool xsave = false;
    const auto* entries = m->cpuid_entries();
    for (u32 i = 0; i < cpuid->nent; i++) {
        const auto& e = entries[i];
        if (e.function == 1) xsave = e.ecx & (1u << 26);
        if (e.function == 0xd && e.index == 0)
            m->xcr0_ = (e.eax | (u64{e.edx} << 32)) & 0xe7;  // x87, SSE, AVX, AVX-512 state
    }
    if (!xsave) m->xcr0_ = 0;

    VK_TRY(m->build_shared());
    return m;
}

const kvm_cpuid_entry2* Machine::cpuid_entries() const {
    // SAFETY: the entries follow the 8-byte C header (kvm_abi.h).
    return reinterpret_cast<const kvm_cpuid_entry2*>(reinterpret_cast<const std::byte*>(cpuid_) +
                                                     sizeof(abi::CpuidHeader));
}

Machine::~Machine() {
    std::free(cpuid_);
    for (auto pa : owned_frames_) frames_.unref(pa);
}

Result<void> Machine::enter_kernel(u64 va, pmap::PhysAddr frame, u32 prot) {
    return kernel_.enter(va, frame, prot);
}

Result<void, HostError> Machine::build_shared() {
    auto alloc = [&]() -> Result<pmap::PhysAddr, HostError> {
        auto f = frames_.alloc();
        if (!f) return host_err("allocating vkernel structures", ENOMEM);
        owned_frames_.push_back(f.value());
        return f.value();
    };
    auto map = [&](u64 va, pmap::PhysAddr pa, u32 prot) -> Result<void, HostError> {
        if (!kernel_.enter(va, pa, prot)) return host_err("mapping vkernel structures", ENOMEM);
        return {};
    };

    const pmap::PhysAddr idt = VK_TRY(alloc());
    const pmap::PhysAddr stubs = VK_TRY(alloc());
    const pmap::PhysAddr sys = VK_TRY(alloc());
    write_idt(mem_.host(idt));
    write_exception_stubs(mem_.host(stubs));
    write_syscall_page(mem_.host(sys));
    VK_TRY(map(kIdtVa, idt, kProtRead));
    VK_TRY(map(kStubsVa, stubs, kProtRead | kProtExec));
    VK_TRY(map(kSyscallPageVa, sys, kProtRead | kProtExec | kProtUser));
    return {};
}

Result<void, HostError> Machine::add_fast_vcpu(unsigned id) {
    VK_ASSERT(id == fast_vcpus_ && id < kFastSlots);
    if (fast_vcpus_ == 0) {
        const FastSyscallLayout& l = vk_fast_syscall_layout;
        VK_ASSERT(l.size <= kPageSize);
        auto f = frames_.alloc();
        if (!f) return host_err("allocating the fast syscall page", ENOMEM);
        owned_frames_.push_back(f.value());
        std::byte* page = mem_.host(f.value());
        std::memset(page, 0xcc, kPageSize);  // int3 beyond the code
        std::memcpy(page, vk_fast_syscall_code, l.size);
        fast_code_ = f.value();
    }
    ++fast_vcpus_;
    return {};
}

bool Machine::fast_fpu() const {
    return fast_syscalls() && xsave_.size <= kFastLimitsOffset - kFastAreaOffset;
}

void Machine::set_pvm(bool v) {
    pvm_ = v;
    // A flush is a memslot change: ~1.5 ms here (KVM waits for its SRCU
    // readers), plus the rebuild of every live shadow page. So it waits for
    // 1/16 of guest memory in freed page tables (4096 frames at the default
    // 256 MiB: ~170 fork+exec+exit of a static glibc program; at least
    // 256). Parked frames are not lost: an allocation that finds no free
    // frame flushes at once (FrameAllocator::alloc_uninit).
    if (v)
        frames_.quarantine_tables([this] { forget_shadows(); },
                                  std::max<std::size_t>(256, frames_.total_frames() / 16));
}

void Machine::forget_shadows() {
    if (!shadow_probe_.get()) {
        auto m = Mapping::map(kPageSize, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0,
                                "the shadow-flush page");
        if (!m) {
            log_error("cannot map the shadow-flush page: {}", m.error().message());
            return;
        }
        shadow_probe_ = std::move(m.value());
    }
    // Above guest RAM (and the TSS area), below any MAXPHYADDR.
    constexpr u64 kGib = 1ULL << 30;
    kvm_userspace_memory_region r{};
    r.slot = 1;
    r.guest_phys_addr = (mem_.size() + 2 * kGib) & ~(kGib - 1);
    r.memory_size = kPageSize;
    r.userspace_addr = reinterpret_cast<u64>(shadow_probe_.get());
    // SAFETY: KVM_SET_USER_MEMORY_REGION reads the struct; the page outlives the slot.
    if (::ioctl(vm_.get(), KVM_SET_USER_MEMORY_REGION, &r) < 0) {
        log_error("KVM_SET_USER_MEMORY_REGION (adding the shadow-flush slot): {}", std::strerror(errno));
        return;
    }
    r.memory_size = 0;
    // SAFETY: as above; size 0 deletes the slot.
    if (::ioctl(vm_.get(), KVM_SET_USER_MEMORY_REGION, &r) < 0)
        log_error("KVM_SET_USER_MEMORY_REGION (deleting the shadow-flush slot): {}", std::strerror(errno));
}

}  // namespace vk::vmspace
