#include "vkernel/signal_frame.h"

#include <cstddef>
#include <cstring>

#include "vmspace/layout.h"

namespace vk {

namespace {

// The x86-64 ABI lets leaf code use 128 bytes below rsp without moving it.
constexpr u64 kRedZone = 128;
constexpr u64 kFpstateAlign = 64;  // XSAVE's alignment; Linux uses it for FXSAVE frames too
constexpr u64 kFrameAlign = 16;
constexpr u16 kInitFcw = 0x037f;
constexpr u32 kInitMxcsr = 0x1f80;
// Cleared on handler entry: DF per the ABI, RF and TF so a debug trap
// pending in the interrupted code does not fire in the handler.
constexpr u64 kHandlerClearedFlags = kRflagsDf | kRflagsRf | kRflagsTf;

static_assert(offsetof(RtSigFrame, uc) == 8);
static_assert(offsetof(RtSigFrame, info) == 312);
static_assert(offsetof(FxsaveArea, mxcsr) == 24);
static_assert(offsetof(FxsaveArea, st) == 32);
static_assert(offsetof(FxsaveArea, xmm) == 160);
static_assert(offsetof(FxsaveArea, sw_reserved) == 464);

constexpr u64 round_down(u64 v, u64 align) { return v & ~(align - 1); }

// Linux's __on_sig_stack(): the range check alone, SS_AUTODISARM aside.
bool within_altstack(const AltStack& alt, u64 sp) {
    return sp > alt.sp && sp - alt.sp <= alt.size;
}

SigContext make_sigcontext(const vmspace::UserRegs& r, const SignalDelivery& d, u64 fpstate) {
    SigContext sc{};
    sc.r8 = r.r8;
    sc.r9 = r.r9;
    sc.r10 = r.r10;
    sc.r11 = r.r11;
    sc.r12 = r.r12;
    sc.r13 = r.r13;
    sc.r14 = r.r14;
    sc.r15 = r.r15;
    sc.rdi = r.rdi;
    sc.rsi = r.rsi;
    sc.rbp = r.rbp;
    sc.rbx = r.rbx;
    sc.rdx = r.rdx;
    sc.rax = r.rax;
    sc.rcx = r.rcx;
    sc.rsp = r.rsp;
    sc.rip = r.rip;
    sc.eflags = r.rflags;
    // The guest runs only 64-bit user code, so these are the selectors it
    // was in; Linux writes 0 for gs and fs on x86-64.
    sc.cs = vmspace::kUserCs;
    sc.gs = 0;
    sc.fs = 0;
    sc.ss = vmspace::kUserDs;
    sc.err = d.error_code;
    sc.trapno = d.trapno;
    sc.oldmask = d.blocked_mask_before;
    sc.cr2 = d.cr2;
    sc.fpstate = fpstate;
    return sc;
}

void load_sigcontext(vmspace::UserRegs& r, const SigContext& sc) {
    r.r8 = sc.r8;
    r.r9 = sc.r9;
    r.r10 = sc.r10;
    r.r11 = sc.r11;
    r.r12 = sc.r12;
    r.r13 = sc.r13;
    r.r14 = sc.r14;
    r.r15 = sc.r15;
    r.rdi = sc.rdi;
    r.rsi = sc.rsi;
    r.rbp = sc.rbp;
    r.rbx = sc.rbx;
    r.rdx = sc.rdx;
    r.rax = sc.rax;
    r.rcx = sc.rcx;
    r.rsp = sc.rsp;
    r.rip = sc.rip;
    r.rflags = (r.rflags & ~kSigreturnFlags) | (sc.eflags & kSigreturnFlags);
}

}  // namespace

u32 mxcsr_feature_mask() {
    static const u32 mask = [] {
        alignas(16) FxsaveArea fx{};
        // SAFETY: FXSAVE64 stores 512 bytes to a 16-byte aligned buffer of
        // that size and changes no register.
        asm volatile("fxsave64 %0" : "=m"(fx));
        return fx.mxcsr_mask != 0 ? fx.mxcsr_mask : 0xffbfU;
    }();
    return mask;
}

FpuState fpu_init_state() {
    FpuState f;
    f.fcw = kInitFcw;
    f.mxcsr = kInitMxcsr;
    return f;
}

FxsaveArea fxsave_from_fpu(const FpuState& fpu) {
    FxsaveArea fx{};
    fx.fcw = fpu.fcw;
    fx.fsw = fpu.fsw;
    fx.ftw = fpu.ftwx;
    fx.fop = fpu.last_opcode;
    fx.fip = fpu.last_ip;
    fx.fdp = fpu.last_dp;
    fx.mxcsr = fpu.mxcsr;
    fx.mxcsr_mask = mxcsr_feature_mask();
    std::memcpy(fx.st, fpu.fpr, sizeof fx.st);
    std::memcpy(fx.xmm, fpu.xmm, sizeof fx.xmm);
    return fx;
}

FpuState fpu_from_fxsave(const FxsaveArea& fx) {
    FpuState f;
    f.fcw = fx.fcw;
    f.fsw = fx.fsw;
    f.ftwx = fx.ftw;
    f.last_opcode = fx.fop;
    f.last_ip = fx.fip;
    f.last_dp = fx.fdp;
    f.mxcsr = fx.mxcsr;
    std::memcpy(f.fpr, fx.st, sizeof f.fpr);
    std::memcpy(f.xmm, fx.xmm, sizeof f.xmm);
    return f;
}

bool on_altstack(const AltStack& alt, u64 sp) {
    // A stack armed with SS_AUTODISARM is disabled while a handler runs on
    // it, so a thread can only be "on" it if it switched there itself;
    // Linux then lets the next signal start again at the top.
    if (alt.flags & kSsAutodisarm) return false;
    return within_altstack(alt, sp);
}

u32 altstack_status(const AltStack& alt, u64 sp) {
    if (alt.size == 0) return kSsDisable;
    return on_altstack(alt, sp) ? kSsOnstack : 0;
}

Result<SigFrameLayout> sigframe_layout(u64 rsp, u64 sa_flags, const AltStack& alt,
                                       u64 fpstate_size) {
    // All arithmetic is modulo 2^64 like the kernel's: a wild rsp yields a
    // wild address, which the writer then refuses with EFAULT.
    const bool nested = on_altstack(alt, rsp);
    bool entering = false;
    u64 sp = rsp - kRedZone;
    // Linux asks about sp below the red zone here, and about rsp itself for
    // `nested`; the two differ only for an rsp within 128 bytes above the
    // altstack, and we follow it.
    if ((sa_flags & kSaOnstack) && altstack_status(alt, sp) == 0) {
        sp = alt.sp + alt.size;
        entering = true;
    }
    SigFrameLayout l;
    l.fpstate = round_down(sp - fpstate_size, kFpstateAlign);
    // Aligned to 16 and then 8 below: the handler is entered as if called,
    // with its return address (pretcode) at rsp and (rsp + 8) % 16 == 0.
    l.frame = round_down(l.fpstate - sizeof(RtSigFrame), kFrameAlign) - 8;
    l.uc = l.frame + offsetof(RtSigFrame, uc);
    l.info = l.frame + offsetof(RtSigFrame, info);
    if ((nested || entering) && !within_altstack(alt, l.frame)) return err(EFAULT);
    return l;
}

Result<SetupResult> setup_rt_frame(vmspace::UserRegs& regs, const SignalDelivery& d,
                                   const FpuState& fpu, const GuestWriter& write) {
    // x86-64 has no kernel-provided return trampoline: libc always passes
    // SA_RESTORER, and Linux fails the delivery (SIGSEGV) without it.
    if (!(d.flags & kSaRestorer)) return err(EFAULT);
    const SigFrameLayout l =
        VK_TRY(sigframe_layout(regs.rsp, d.flags, d.altstack, sizeof(FxsaveArea)));

    // Both pieces are built whole on the host and written once each, so
    // bytes Linux leaves unwritten (reserved fields, the siginfo without
    // SA_SIGINFO, the FXSAVE software area) are zero, never stale.
    const FxsaveArea fx = fxsave_from_fpu(fpu);
    RtSigFrame f{};
    f.pretcode = d.restorer;
    f.uc.flags = kUcSigcontextSs | kUcStrictRestoreSs;  // no UC_FP_XSTATE: FXSAVE layout
    f.uc.link = 0;
    f.uc.stack.sp = d.altstack.sp;
    // The stored flags as they are, not sigaltstack(2)'s view of them: a
    // process that never set an altstack has 0 here on Linux, not SS_DISABLE.
    f.uc.stack.flags = static_cast<i32>(d.altstack.flags);
    f.uc.stack.size = d.altstack.size;
    f.uc.mcontext = make_sigcontext(regs, d, l.fpstate);
    f.uc.sigmask = d.blocked_mask_before;
    if (d.flags & kSaSiginfo) f.info = d.info;

    VK_TRY(write(l.fpstate, &fx, sizeof fx));
    VK_TRY(write(l.frame, &f, sizeof f));

    regs.rdi = static_cast<u64>(d.sig);
    regs.rax = 0;  // for handlers declared without a prototype (varargs)
    // rsi and rdx are set even without SA_SIGINFO, as Linux does.
    regs.rsi = l.info;
    regs.rdx = l.uc;
    regs.rip = d.handler;
    regs.rsp = l.frame;
    regs.rflags &= ~kHandlerClearedFlags;

    SetupResult out;
    out.layout = l;
    out.altstack = d.altstack;
    if (d.altstack.flags & kSsAutodisarm) out.altstack = kAltStackReset;
    return out;
}

Result<SigreturnResult> restore_rt_frame(vmspace::UserRegs& regs, const GuestReader& read) {
    // The handler's `ret` popped pretcode, so the frame starts 8 below rsp.
    // Copy the ucontext in once and use only the copy: the guest can change
    // its memory meanwhile (another thread). Like Linux, nothing else of the
    // frame (pretcode, siginfo) is read.
    const u64 frame = regs.rsp - 8;
    UContext uc;
    VK_TRY(read(frame + offsetof(RtSigFrame, uc), &uc, sizeof uc));

    SigreturnResult out;
    out.mask = uc.sigmask;
    out.altstack.sp = uc.stack.sp;
    out.altstack.size = uc.stack.size;
    out.altstack.flags = static_cast<u32>(uc.stack.flags);

    const u64 fpstate = uc.mcontext.fpstate;
    if (fpstate == 0) {
        // No saved state: Linux resets the FPU to its initial state.
        out.fpu = fpu_init_state();
        out.fpu_valid = false;
    } else {
        // Linux restores with FXRSTOR straight from this address, which
        // faults on a misaligned image or reserved MXCSR bits; refuse what
        // the CPU would refuse instead of handing it to KVM.
        if (fpstate % 16 != 0) return err(EINVAL);
        FxsaveArea fx;
        VK_TRY(read(fpstate, &fx, sizeof fx));
        if (fx.mxcsr & ~mxcsr_feature_mask()) return err(EINVAL);
        out.fpu = fpu_from_fxsave(fx);
        out.fpu_valid = true;
    }

    load_sigcontext(regs, uc.mcontext);
    return out;
}

}  // namespace vk
