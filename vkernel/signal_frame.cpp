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
constexpr u64 round_up(u64 v, u64 align) { return round_down(v + align - 1, align); }

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

namespace {

// Builds and writes the frame with `fp` as its FPU save area (complete,
// written as it is), then points `regs` at the handler.
Result<SetupResult> write_frame(vmspace::UserRegs& regs, const SignalDelivery& d,
                                std::span<const u8> fp, u64 uc_flags, const GuestWriter& write) {
    // x86-64 has no kernel-provided return trampoline: libc always passes
    // SA_RESTORER, and Linux fails the delivery (SIGSEGV) without it.
    if (!(d.flags & kSaRestorer)) return err(EFAULT);
    const SigFrameLayout l = VK_TRY(sigframe_layout(regs.rsp, d.flags, d.altstack, fp.size()));

    // Both pieces are built whole on the host and written once each, so
    // bytes Linux leaves unwritten (reserved fields, the siginfo without
    // SA_SIGINFO) are zero, never stale.
    RtSigFrame f{};
    f.pretcode = d.restorer;
    f.uc.flags = uc_flags | kUcSigcontextSs | kUcStrictRestoreSs;
    f.uc.link = 0;
    f.uc.stack.sp = d.altstack.sp;
    // The stored flags as they are, not sigaltstack(2)'s view of them: a
    // process that never set an altstack has 0 here on Linux, not SS_DISABLE.
    f.uc.stack.flags = static_cast<i32>(d.altstack.flags);
    f.uc.stack.size = d.altstack.size;
    f.uc.mcontext = make_sigcontext(regs, d, l.fpstate);
    f.uc.sigmask = d.blocked_mask_before;
    if (d.flags & kSaSiginfo) f.info = d.info;

    VK_TRY(write(l.fpstate, fp.data(), fp.size()));
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

// The frame's ucontext, copied in once: the handler's `ret` popped
// pretcode, so the frame starts 8 below rsp. Only the copy is used (another
// thread can change guest memory meanwhile); like Linux, nothing else of
// the frame (pretcode, siginfo) is read. Fills the mask and altstack of `out`.
Result<UContext> read_ucontext(const vmspace::UserRegs& regs, const GuestReader& read,
                               SigreturnResult& out) {
    const u64 frame = regs.rsp - 8;
    UContext uc;
    VK_TRY(read(frame + offsetof(RtSigFrame, uc), &uc, sizeof uc));
    out.mask = uc.sigmask;
    out.altstack.sp = uc.stack.sp;
    out.altstack.size = uc.stack.size;
    out.altstack.flags = static_cast<u32>(uc.stack.flags);
    return uc;
}

// The FXSAVE image at `fpstate` as FXRSTOR would take it: Linux restores
// straight from guest memory, which faults on a misaligned image or
// reserved MXCSR bits; refuse what the CPU would refuse instead of handing
// it to KVM.
Result<FxsaveArea> read_fxsave(u64 fpstate, const GuestReader& read) {
    if (fpstate % 16 != 0) return err(EINVAL);
    FxsaveArea fx;
    VK_TRY(read(fpstate, &fx, sizeof fx));
    if (fx.mxcsr & ~mxcsr_feature_mask()) return err(EINVAL);
    return fx;
}

u64 load_u64(const u8* p) {
    u64 v;
    std::memcpy(&v, p, sizeof v);
    return v;
}
void store_u64(u8* p, u64 v) { std::memcpy(p, &v, sizeof v); }

}  // namespace

Result<SetupResult> setup_rt_frame(vmspace::UserRegs& regs, const SignalDelivery& d,
                                   const FpuState& fpu, const GuestWriter& write) {
    // The FXSAVE-only frame: the software bytes stay zero (no magic), no UC_FP_XSTATE.
    const FxsaveArea fx = fxsave_from_fpu(fpu);
    // SAFETY: FxsaveArea is a plain 512-byte image (GuestAbi).
    const std::span<const u8> bytes(reinterpret_cast<const u8*>(&fx), sizeof fx);
    return write_frame(regs, d, bytes, 0, write);
}

Result<SetupResult> setup_rt_frame(vmspace::UserRegs& regs, const SignalDelivery& d,
                                   const XsaveImage& xs, const GuestWriter& write) {
    const u64 size = xs.image.size();
    if (size < kXsaveMinSize) return err(EINVAL);
    std::vector<u8> fp(size + sizeof kFpXstateMagic2);
    std::memcpy(fp.data(), xs.image.data(), size);
    FpxSwBytes sw{};
    sw.magic1 = kFpXstateMagic1;
    sw.extended_size = static_cast<u32>(size + sizeof kFpXstateMagic2);
    sw.xfeatures = xs.features;
    sw.xstate_size = static_cast<u32>(size);
    std::memcpy(fp.data() + offsetof(FxsaveArea, sw_reserved), &sw, sizeof sw);
    // Linux marks x87 and SSE present whatever their state, for readers
    // that look only at the legacy area (save_xstate_epilog).
    u8* header = fp.data() + kXsaveHeaderOffset;
    store_u64(header, load_u64(header) | 3);
    std::memcpy(fp.data() + size, &kFpXstateMagic2, sizeof kFpXstateMagic2);
    return write_frame(regs, d, fp, kUcFpXstate, write);
}

u64 min_signal_stack_size(u64 xsave_size) {
    constexpr u64 kPadding = kFrameAlign - 1;
    const u64 fpstate = xsave_size + sizeof kFpXstateMagic2;
    return round_up(sizeof(RtSigFrame) + kPadding + fpstate + kPadding, kFrameAlign);
}

Result<SigreturnResult> restore_rt_frame(vmspace::UserRegs& regs, const GuestReader& read) {
    SigreturnResult out;
    const UContext uc = VK_TRY(read_ucontext(regs, read, out));
    if (uc.mcontext.fpstate == 0) {
        // No saved state: Linux resets the FPU to its initial state.
        out.fpu = fpu_init_state();
        out.fpu_valid = false;
    } else {
        out.fpu = fpu_from_fxsave(VK_TRY(read_fxsave(uc.mcontext.fpstate, read)));
        out.fpu_valid = true;
    }
    load_sigcontext(regs, uc.mcontext);
    return out;
}

Result<SigreturnResult> restore_rt_frame(vmspace::UserRegs& regs, const GuestReader& read,
                                         const XsaveImage& xsave) {
    SigreturnResult out;
    const UContext uc = VK_TRY(read_ucontext(regs, read, out));
    const u64 fpstate = uc.mcontext.fpstate;
    if (fpstate == 0) {
        out.fpu = fpu_init_state();
        load_sigcontext(regs, uc.mcontext);
        return out;
    }
    const FxsaveArea fx = VK_TRY(read_fxsave(fpstate, read));
    out.fpu = fpu_from_fxsave(fx);
    out.fpu_valid = true;
    const u64 max_size = xsave.image.size();
    FpxSwBytes sw;
    std::memcpy(&sw, fx.sw_reserved, sizeof sw);
    // Linux's check_xstate_in_sigframe: anything odd means FXSAVE only.
    bool full = sw.magic1 == kFpXstateMagic1 && sw.xstate_size >= kXsaveMinSize &&
                sw.xstate_size <= max_size &&
                sw.extended_size == sw.xstate_size + sizeof kFpXstateMagic2;
    if (full) {
        u32 magic2 = 0;
        VK_TRY(read(fpstate + sw.xstate_size, &magic2, sizeof magic2));
        full = magic2 == kFpXstateMagic2;
    }
    out.xsave.assign(max_size, 0);
    u8* header = out.xsave.data() + kXsaveHeaderOffset;
    if (full) {
        // XRSTOR needs 64-byte alignment, a standard-format header with its
        // reserved bytes clear, and only components XCR0 enables.
        if (fpstate % 64 != 0) return err(EINVAL);
        VK_TRY(read(fpstate, out.xsave.data(), sw.xstate_size));
        const u64 xstate_bv = load_u64(header);
        if (load_u64(header + 8) != 0 || load_u64(header + 16) != 0) return err(EINVAL);
        if (xstate_bv & ~xsave.features) return err(EINVAL);
        // Components outside the frame's xfeatures go to their init state.
        store_u64(header, xstate_bv & sw.xfeatures & xsave.features);
    } else {
        std::memcpy(out.xsave.data(), &fx, sizeof fx);
        store_u64(header, 3);  // x87 and SSE from the legacy area, the rest init
    }
    // The software bytes are the kernel's, not FPU state.
    std::memset(out.xsave.data() + offsetof(FxsaveArea, sw_reserved), 0, sizeof fx.sw_reserved);
    load_sigcontext(regs, uc.mcontext);
    return out;
}

}  // namespace vk
