#pragma once

#include <memory>
#include <vector>

#include "base/mapping.h"
#include "base/result.h"
#include "base/types.h"
#include "base/unique_fd.h"
#include "pmap/frame_allocator.h"
#include "pmap/page_table.h"
#include "pmap/phys_memory.h"

struct kvm_cpuid2;
struct kvm_cpuid_entry2;

namespace vk::vmspace {

// One KVM virtual machine: the /dev/kvm fd, the VM fd, guest RAM registered as
// one memory slot, and the upper-half structures every address space shares
// (IDT, exception stubs, syscall trampoline, per-vCPU GDT/TSS/stack areas,
// kept in the kernel template page table).
//
// Owns the fds and the template; borrows the PhysMemory and FrameAllocator,
// which must outlive it. Creation and vCPU setup happen on one thread before
// guest code runs; afterwards its state is read-only except the template
// (added to by Vcpu::create, under mu_).
class Machine {
public:
    // Errors name the failing operation: "open /dev/kvm", "KVM_CREATE_VM", ...
    static Result<std::unique_ptr<Machine>, HostError> create(pmap::PhysMemory& mem,
                                                             pmap::FrameAllocator& frames);
    ~Machine();

    pmap::PhysMemory& memory() const { return mem_; }
    pmap::FrameAllocator& frames() const { return frames_; }
    const pmap::PageTable& kernel_table() const { return kernel_; }
    int kvm_fd() const { return kvm_.get(); }
    int vm_fd() const { return vm_.get(); }
    std::size_t run_size() const { return run_size_; }
    // CPUID as KVM supports it, in the C layout of struct kvm_cpuid2 (kvm_abi.h).
    const kvm_cpuid2* cpuid() const { return cpuid_; }
    const kvm_cpuid_entry2* cpuid_entries() const;
    u64 xcr0() const { return xcr0_; }

    // Which XSAVE components a guest thread's FPU state holds (the guest's
    // XCR0: the host's under PVM, whose guests run under the host's XCR0,
    // else xcr0()), and the size of the standard (non-compacted) XSAVE
    // image that holds them, from CPUID leaf 0xD. Components that would not
    // fit KVM_GET_XSAVE's 4 KiB are left out. Valid once a vCPU exists.
    struct XsaveLayout {
        u64 features = 3;  // x87 | SSE
        u32 size = 576;    // legacy area + XSAVE header
    };
    const XsaveLayout& xsave_layout() const { return xsave_; }
    void set_xsave_layout(const XsaveLayout& l) { xsave_ = l; }

    // True on PVM, the software KVM of DESIGN.md: host PTE edits need
    // PhysMemory::drop_host_mapping to reach the guest. Set by the first vCPU.
    bool is_pvm() const { return pvm_; }
    // Also puts freed page-table frames in quarantine (FrameAllocator).
    void set_pvm(bool v);

    // Asks for guest-side answers to a few syscalls (fast_syscall.h); they
    // exist only on PVM. Set before the first vCPU and the first VmSpace.
    void request_fast_syscalls(bool v) { fast_requested_ = v; }
    bool fast_syscalls() const { return fast_requested_ && pvm_; }
    // vCPU `id` uses the fast syscall page; the first call makes the page's
    // frame. Vcpu::setup calls it; ids come in order. ENOMEM.
    Result<void, HostError> add_fast_vcpu(unsigned id);
    // How many vCPUs (0..n-1) have the fast path; every VmSpace maps a code
    // page and a data page for each.
    unsigned fast_vcpus() const { return fast_vcpus_; }
    pmap::PhysAddr fast_code_frame() const { return fast_code_; }
    // Whether FPU images fit the data page's area: switches go through it.
    bool fast_fpu() const;

    // Makes KVM drop every shadow page it keeps (shadow paging, PVM): a
    // one-page memory slot is added and deleted, and deleting a slot makes
    // KVM invalidate all its shadow pages (kvm_mmu_zap_all_fast). Costly:
    // every live space's shadows are rebuilt on demand afterwards.
    void forget_shadows();

    // Maps `frame` at kernel address `va` in the shared upper half.
    Result<void> enter_kernel(u64 va, pmap::PhysAddr frame, u32 prot);

private:
    Machine(pmap::PhysMemory& mem, pmap::FrameAllocator& frames, UniqueFd kvm, UniqueFd vm,
            pmap::PageTable kernel)
        : mem_(mem), frames_(frames), kvm_(std::move(kvm)), vm_(std::move(vm)),
          kernel_(std::move(kernel)) {}
    Result<void, HostError> build_shared();

    XsaveLayout xsave_;
    Mapping shadow_probe_;  // the page of forget_shadows()'s memory slot
    pmap::PhysMemory& mem_;
    pmap::FrameAllocator& frames_;
    UniqueFd kvm_;
    UniqueFd vm_;
    pmap::PageTable kernel_;
    std::vector<pmap::PhysAddr> owned_frames_;
    std::size_t run_size_ = 0;
    kvm_cpuid2* cpuid_ = nullptr;  // owned, malloc'd (flexible array)
    u64 xcr0_ = 0;
    bool pvm_ = false;
    bool fast_requested_ = false;
    unsigned fast_vcpus_ = 0;
    pmap::PhysAddr fast_code_ = 0;
};

}  // namespace vk::vmspace
