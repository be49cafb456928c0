#include "vkernel/signal_delivery.h"

#include <signal.h>

#include <cstring>

#include "vkernel/kernel.h"
#include "vkernel/rseq.h"
#include "vkernel/signal_frame.h"
#include "vkernel/user_memory.h"

namespace vk {

namespace {

constexpr u64 kSaRestart = 0x10000000;
constexpr u64 kSaNodefer = 0x40000000;
constexpr u64 kUnblockable = sigbit(9) | sigbit(19);  // SIGKILL, SIGSTOP

AltStack altstack_of(const Task& t) {
    AltStack a;
    a.sp = t.altstack_sp;
    a.size = t.altstack_size;
    a.flags = t.altstack_size ? t.altstack_flags : kSsDisable;
    return a;
}

void set_altstack(Task& t, const AltStack& a) {
    const bool disabled = a.size == 0 || (a.flags & kSsDisable);
    t.altstack_sp = disabled ? 0 : a.sp;
    t.altstack_size = disabled ? 0 : a.size;
    t.altstack_flags = disabled ? 0 : (a.flags & kSsAutodisarm);
}

// The thread's FPU state in memory: if its vCPU holds it, fetch it first and
// make the vCPU reload from memory before the thread next runs.
vmspace::Vcpu::FpuState& fpu_in_memory(Task& t) {
    if (t.cpu && t.cpu->fpu_owner == &t) {
        (void)t.cpu->vcpu->save_fpu(t.fpu, &t.process->mm->space());
        t.cpu->fpu_owner = nullptr;
    }
    return t.fpu;
}

// The thread's XSAVE image as the frame code takes it.
XsaveImage xsave_image(const Task& t, const vmspace::Vcpu::FpuState& x) {
    const auto& l = t.kernel.xsave_layout();
    // SAFETY: the region is plain bytes; l.size never exceeds it.
    return {std::span<const u8>(reinterpret_cast<const u8*>(x.region), l.size), l.features};
}

}  // namespace

void fix_restart(Task& t, const SigAction* handler) {
    const long ret = static_cast<long>(t.regs.rax);
    if (ret > -kERestartSys || ret < -kERestartRestartBlock) return;
    bool restart;
    switch (-ret) {
    case kERestartNoHand:
    case kERestartRestartBlock: restart = handler == nullptr; break;
    case kERestartSys: restart = handler == nullptr || (handler->flags & kSaRestart); break;
    default: restart = true; break;  // ERESTARTNOINTR
    }
    if (restart) {
        // Back to the `syscall` instruction, with the number in rax again;
        // an interrupted sleep goes on through restart_syscall(2).
        constexpr u64 kNrRestartSyscall = 219;
        t.regs.rax = -ret == kERestartRestartBlock ? kNrRestartSyscall : t.orig_rax;
        t.regs.rip -= 2;
    } else {
        t.regs.rax = static_cast<u64>(-static_cast<long>(EINTR));
    }
}

bool setup_signal_frame(Task& t, int sig, const KSigInfo& info, const SigAction& act) {
    if (!rseq_signal_deliver(t, sig)) return false;  // the frame must hold abort_ip
    SignalDelivery d;
    d.sig = sig;
    d.info = info;
    d.handler = act.handler;
    d.flags = act.flags;
    d.restorer = act.restorer;
    d.blocked_mask_before = t.saved_sigmask.value_or(t.sigmask);
    d.altstack = altstack_of(t);
    if (t.pending_fault == sig) {
        d.trapno = t.fault_trapno;
        d.error_code = t.fault_error;
        d.cr2 = t.fault_cr2;
        t.pending_fault = 0;
    }
    auto& xs = fpu_in_memory(t);
    Mm& mm = t.mm();
    auto writer = [&mm](u64 addr, const void* data, u64 len) -> Result<void> {
        return copy_out_bytes(mm, addr, data, len);
    };
    auto r = setup_rt_frame(t.regs, d, xsave_image(t, xs), writer);
    if (!r) return false;
    set_altstack(t, r->altstack);
    t.saved_sigmask.reset();
    t.sigmask |= act.mask;
    if (!(act.flags & kSaNodefer)) t.sigmask |= sigbit(sig);
    t.sigmask &= ~kUnblockable;
    // The handler starts with a clean FPU, as on Linux.
    vmspace::Vcpu::init_fpu(xs);
    return true;
}

Result<void> signal_return(Task& t) {
    Mm& mm = t.mm();
    auto reader = [&mm](u64 addr, void* data, u64 len) -> Result<void> {
        return copy_in_bytes(mm, addr, data, len);
    };
    auto& xs = fpu_in_memory(t);
    auto r = restore_rt_frame(t.regs, reader, xsave_image(t, xs));
    if (!r) {
        KSigInfo info;
        info.signo = SIGSEGV;
        info.code = 0x80;  // SI_KERNEL
        t.fault_detail = " (bad signal frame at rt_sigreturn)";
        t.kernel.force_signal(t, SIGSEGV, info);
        return err(EFAULT);
    }
    t.sigmask = r->mask & ~kUnblockable;
    if (r->xsave.empty()) {
        vmspace::Vcpu::init_fpu(xs);
    } else {
        // Bytes past the image belong to no enabled component.
        std::memcpy(xs.region, r->xsave.data(), r->xsave.size());
    }
    // uc_stack, applied as sigaltstack(2) would; errors are ignored (Linux).
    if (!on_altstack(altstack_of(t), t.regs.rsp)) set_altstack(t, r->altstack);
    t.regs_replaced = true;
    return {};
}

}  // namespace vk
