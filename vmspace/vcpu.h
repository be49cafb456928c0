#pragma once

#include <linux/kvm.h>
#include <pthread.h>

#include <atomic>
#include <memory>

#include "base/mapping.h"
#include "base/result.h"
#include "base/types.h"
#include "base/unique_fd.h"
#include "vmspace/machine.h"
#include "vmspace/trap.h"
#include "vmspace/vmspace.h"

namespace vk::vmspace {

// One KVM vCPU: its fd, its kvm_run area, and its slot of the upper half
// (GDT, TSS, ring-0 exception stack). Runs any thread's UserRegs in any
// VmSpace of its machine until the guest traps.
//
// Threading: run() is called from one host thread only (the first caller
// becomes the owner); kick() may be called from any thread.
class Vcpu {
public:
    static Result<std::unique_ptr<Vcpu>, HostError> create(Machine& machine, unsigned id);
    ~Vcpu();

    // Runs `regs` in `space` until the guest traps, and leaves the thread's
    // state at the trap in `regs`. Registers travel through the kvm_run
    // sync area; special registers are written only when they must change
    // (another address space, FS/GS base, a TLB flush).
    Result<Trap, HostError> run(VmSpace& space, UserRegs& regs);

    // Makes a run() in progress on another thread return kInterrupted
    // promptly, or the next one return at once. Async-signal safe.
    void kick();

    // A thread's FPU/SSE/AVX state as KVM_GET_XSAVE gives it. Threads that
    // share a vCPU swap it with save_fpu/load_fpu, each a vCPU ioctl; on PVM
    // with fast syscalls, save_fpu copies from `space`'s XSAVE area instead
    // when the last exit was a syscall (the stub saved the state there;
    // `space`: that of the thread whose state it is; fast_syscall.h), and
    // load_fpu copies `in` into `space`'s area for the guest to restore as
    // the next run() in that space enters (`in` must stay valid until then).
    struct FpuState {
        alignas(64) u32 region[1024];
    };
    Result<void, HostError> save_fpu(FpuState& out, const VmSpace* space) const;
    Result<void, HostError> load_fpu(const FpuState& in, const VmSpace* space = nullptr);
    // `state` is going away (its thread is released): drop it if load_fpu
    // staged it and no run has taken it yet.
    void forget_fpu(const FpuState& state) {
        if (fpu_staged_ == &state) {
            fpu_staged_ = nullptr;
            fpu_staged_space_ = 0;
        }
    }
    // The state of a fresh thread (FCW 0x37f, MXCSR 0x1f80), as Linux starts one.
    static void init_fpu(FpuState& out);
    // The vCPU's model-specific register `index` (KVM_GET_MSRS), e.g. its
    // TSC (0x10) for the vDSO's calibration. Any thread; it waits for a
    // run() in progress on another thread to return, so call it while the
    // vCPU is not running guest code.
    Result<u64, HostError> read_msr(u32 index) const;

    unsigned id() const { return id_; }
    // How many times run() wrote the special registers (CR3, segments, FS/GS
    // base) back to KVM: each is a costly part of the next entry. Owner thread only.
    u64 full_loads() const { return full_loads_; }
    // True once a syscall exit has shown the guest's `syscall` reaching the
    // trampoline in ring 3 (PVM) rather than ring 0 (VMX/SVM).
    bool syscall_in_user_mode() const { return syscall_user_; }

    // The host signal kick() uses; blocked in vCPU threads outside KVM_RUN.
    static int kick_signal();

private:
    // Where the vCPU stopped, which decides how the next run() resumes.
    enum class Stop {
        kFresh,          // nothing loaded: write everything
        kSyscallUser,    // PVM: ring 3, just past `out` in the trampoline page
        kSyscallKernel,  // VMX/SVM: ring 0, at `sysretq`
        kException,      // ring 0 in an exception stub, iret frame on our stack
        kUser,           // interrupted in user mode
    };

    Vcpu(Machine& m, unsigned id, UniqueFd fd, Mapping run)
        : machine_(m), id_(id), fd_(std::move(fd)), run_map_(std::move(run)) {}
    Result<void, HostError> setup();
    Result<void, HostError> prepare_thread();
    Result<void, HostError> complete_pending_io();
    void eat_kicks();
    // Whether KVM holds an exception not yet delivered to the guest.
    bool exception_pending() const;
    void load_full(VmSpace& space, const UserRegs& regs);
    void load_gprs(const UserRegs& regs);
    void save_gprs(UserRegs& regs) const;
    // Where in the fast syscall page a stop at `rip` falls.
    enum class FastStop { kOutside, kEntry, kRedo, kDone };
    FastStop fast_stop(u64 rip) const;
    // Whether `rip` is in the fast page's FPU restore entry.
    bool in_restore(u64 rip) const;
    // kEntry: rewrites `regs` as the thread on its `syscall` instruction,
    // which it makes again.
    void back_to_syscall(const FastSlot& slot, UserRegs& regs) const;
    // Rewrites `regs`, stopped inside the fast syscall page, as the thread
    // at its `syscall` (kRedo) or just after it, the call done (kDone).
    void leave_fast_page(FastStop where, const FastSlot& slot, UserRegs& regs) const;
    kvm_run* run_area() const { return static_cast<kvm_run*>(run_map_.get()); }
    u64 area_va() const;

    Machine& machine_;
    unsigned id_;
    UniqueFd fd_;      // declared before run_map_: destroyed last
    Mapping run_map_;  // the kvm_run area of fd_
    pmap::PhysAddr stack_frame_ = 0;  // top page of the ring-0 stack
    std::atomic<bool> thread_set_{false};
    pthread_t thread_{};
    Stop stop_ = Stop::kFresh;
    u64 loaded_space_ = 0;  // VmSpace::id() of the space whose CR3 is loaded
    u64 loaded_gen_ = 0;
    u64 loaded_fs_ = 0, loaded_gs_ = 0;
    bool syscall_user_ = false;
    u64 full_loads_ = 0;
    u64 fast_va_ = 0;  // this vCPU's fast syscall page, 0 without (fast_syscall.h)
    // FPU state load_fpu left in a space's area for the guest's restore
    // entry: the space's id (0: none) and the state itself (the fallback).
    u64 fpu_staged_space_ = 0;
    const FpuState* fpu_staged_ = nullptr;
};

}  // namespace vk::vmspace
