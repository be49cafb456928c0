// Tests for the x86-64 signal frame (vkernel/signal_frame.h).
//
// Three kinds of evidence that the frame is Linux's:
//  - its structures have the offsets glibc's <signal.h> / <sys/ucontext.h>
//    use to read a real frame (and FpuState those of <linux/kvm.h>'s kvm_fpu);
//  - setup_rt_frame / restore_rt_frame behave as Linux's code does, on a fake
//    guest memory (stack choice, alignment, red zone, altstack, errors);
//  - on this host: a signal delivered by the host kernel is compared with
//    what we would build for the same inputs, byte for byte where the FPU
//    format allows; our restore reads the host's frame; and the host
//    kernel's rt_sigreturn accepts a frame we built and resumes from it.

#include "vkernel/signal_frame.h"

#include <gtest/gtest.h>
#include <linux/kvm.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/ucontext.h>
#include <unistd.h>

#include <asm/ucontext.h>

#include <cstddef>
#include <cstring>
#include <fstream>
#include <memory>
#include <random>
#include <string>
#include <utility>
#include <vector>

namespace vk {
namespace {

using vmspace::UserRegs;

// --- helpers ----------------------------------------------------------------

// A piece of guest memory at [base, base + size); everything else is
// unmapped (EFAULT). Records the writes and can fail the n-th one.
class FakeGuest {
public:
    FakeGuest(u64 base, u64 size, u8 fill = 0xa5) : base_(base), mem_(size, fill) {}

    u64 base() const { return base_; }
    u64 top() const { return base_ + mem_.size(); }
    bool contains(u64 a, u64 n) const {
        return a >= base_ && n <= mem_.size() && a - base_ <= mem_.size() - n;
    }

    Result<void> write(u64 a, const void* p, u64 n) {
        if (fail_write_ == writes_.size() || !contains(a, n)) return err(EFAULT);
        std::memcpy(&mem_[a - base_], p, n);
        writes_.emplace_back(a, n);
        return {};
    }
    Result<void> read(u64 a, void* p, u64 n) const {
        if (!contains(a, n)) return err(EFAULT);
        std::memcpy(p, &mem_[a - base_], n);
        return {};
    }
    GuestWriter writer() {
        return [this](u64 a, const void* p, u64 n) { return write(a, p, n); };
    }
    GuestReader reader() const {
        return [this](u64 a, void* p, u64 n) { return read(a, p, n); };
    }

    template <typename T>
    T load(u64 a) const {
        T v;
        if (!contains(a, sizeof v)) std::abort();
        std::memcpy(&v, &mem_[a - base_], sizeof v);
        return v;
    }
    template <typename T>
    void store(u64 a, const T& v) {
        if (!contains(a, sizeof v)) std::abort();
        std::memcpy(&mem_[a - base_], &v, sizeof v);
    }

    // Fails the write with this index (0 = the first), as an unmapped page would.
    void fail_write(size_t index) { fail_write_ = index; }
    const std::vector<std::pair<u64, u64>>& writes() const { return writes_; }

private:
    u64 base_;
    std::vector<u8> mem_;
    std::vector<std::pair<u64, u64>> writes_;
    size_t fail_write_ = static_cast<size_t>(-1);
};

#define EXPECT_REGS_EQ(a, b)                 \
    do {                                     \
        EXPECT_EQ((a).rax, (b).rax);         \
        EXPECT_EQ((a).rbx, (b).rbx);         \
        EXPECT_EQ((a).rcx, (b).rcx);         \
        EXPECT_EQ((a).rdx, (b).rdx);         \
        EXPECT_EQ((a).rsi, (b).rsi);         \
        EXPECT_EQ((a).rdi, (b).rdi);         \
        EXPECT_EQ((a).rsp, (b).rsp);         \
        EXPECT_EQ((a).rbp, (b).rbp);         \
        EXPECT_EQ((a).r8, (b).r8);           \
        EXPECT_EQ((a).r9, (b).r9);           \
        EXPECT_EQ((a).r10, (b).r10);         \
        EXPECT_EQ((a).r11, (b).r11);         \
        EXPECT_EQ((a).r12, (b).r12);         \
        EXPECT_EQ((a).r13, (b).r13);         \
        EXPECT_EQ((a).r14, (b).r14);         \
        EXPECT_EQ((a).r15, (b).r15);         \
        EXPECT_EQ((a).rip, (b).rip);         \
        EXPECT_EQ((a).rflags, (b).rflags);   \
        EXPECT_EQ((a).fs_base, (b).fs_base); \
        EXPECT_EQ((a).gs_base, (b).gs_base); \
    } while (0)

UserRegs random_regs(std::mt19937_64& rng, u64 rsp) {
    UserRegs r;
    r.rax = rng(), r.rbx = rng(), r.rcx = rng(), r.rdx = rng();
    r.rsi = rng(), r.rdi = rng(), r.rbp = rng();
    r.r8 = rng(), r.r9 = rng(), r.r10 = rng(), r.r11 = rng();
    r.r12 = rng(), r.r13 = rng(), r.r14 = rng(), r.r15 = rng();
    r.rip = rng();
    r.rsp = rsp;
    r.rflags = 0x202 | (rng() & kSigreturnFlags);  // bit 1 and IF, plus any flags a frame carries
    r.fs_base = rng(), r.gs_base = rng();
    return r;
}

FpuState random_fpu(std::mt19937_64& rng) {
    FpuState f;
    for (auto& reg : f.fpr)
        for (u8& b : reg) b = static_cast<u8>(rng());
    for (auto& reg : f.xmm)
        for (u8& b : reg) b = static_cast<u8>(rng());
    f.fcw = static_cast<u16>(rng());
    f.fsw = static_cast<u16>(rng());
    f.ftwx = static_cast<u8>(rng());
    f.last_opcode = static_cast<u16>(rng() & 0x7ff);
    f.last_ip = rng();
    f.last_dp = rng();
    f.mxcsr = static_cast<u32>(rng()) & mxcsr_feature_mask();
    return f;
}

SignalDelivery basic_delivery(int sig = SIGUSR1) {
    SignalDelivery d;
    d.sig = sig;
    d.info.signo = sig;
    d.info.code = -6;  // SI_TKILL
    d.info.u.kill.pid = 1234;
    d.info.u.kill.uid = 1000;
    d.handler = 0x401000;
    d.flags = kSaSiginfo | kSaRestorer;
    d.restorer = 0x402000;
    d.blocked_mask_before = 0x8000'0000'0000'0201ULL;
    return d;
}

constexpr u64 bit_of(int sig) { return 1ULL << (sig - 1); }
constexpr u64 round_down(u64 v, u64 a) { return v & ~(a - 1); }

// offsetof through an object, for glibc fields that are macros (si_pid).
template <typename S, typename M>
size_t field_offset(const S& s, const M& m) {
    // SAFETY: both point into the same object; only their distance is taken.
    return static_cast<size_t>(reinterpret_cast<const char*>(&m) -
                               reinterpret_cast<const char*>(&s));
}

// The offset of the first byte where a and b differ, or n.
size_t first_difference(const void* a, const void* b, size_t n) {
    const u8* x = static_cast<const u8*>(a);
    const u8* y = static_cast<const u8*>(b);
    size_t i = 0;
    while (i < n && x[i] == y[i]) ++i;
    return i;
}

// --- layout against glibc and KVM --------------------------------------------

TEST(SignalFrameAbi, SigInfoMatchesGlibc) {
    siginfo_t si{};
    EXPECT_EQ(sizeof(SigInfo), sizeof(siginfo_t));
    EXPECT_EQ(offsetof(SigInfo, signo), field_offset(si, si.si_signo));
    EXPECT_EQ(offsetof(SigInfo, errno_), field_offset(si, si.si_errno));
    EXPECT_EQ(offsetof(SigInfo, code), field_offset(si, si.si_code));
    EXPECT_EQ(offsetof(SigInfo, u.kill.pid), field_offset(si, si.si_pid));
    EXPECT_EQ(offsetof(SigInfo, u.kill.uid), field_offset(si, si.si_uid));
    EXPECT_EQ(offsetof(SigInfo, u.chld.pid), field_offset(si, si.si_pid));
    EXPECT_EQ(offsetof(SigInfo, u.chld.status), field_offset(si, si.si_status));
    EXPECT_EQ(offsetof(SigInfo, u.chld.utime), field_offset(si, si.si_utime));
    EXPECT_EQ(offsetof(SigInfo, u.chld.stime), field_offset(si, si.si_stime));
    EXPECT_EQ(offsetof(SigInfo, u.fault.addr), field_offset(si, si.si_addr));
    EXPECT_EQ(offsetof(SigInfo, u.timer.tid), field_offset(si, si.si_timerid));
    EXPECT_EQ(offsetof(SigInfo, u.timer.overrun), field_offset(si, si.si_overrun));
    EXPECT_EQ(offsetof(SigInfo, u.timer.value), field_offset(si, si.si_value));
    EXPECT_EQ(offsetof(SigInfo, u.rt.value), field_offset(si, si.si_value));
}

TEST(SignalFrameAbi, SigStackMatchesGlibc) {
    EXPECT_EQ(sizeof(SigStack), sizeof(stack_t));
    EXPECT_EQ(offsetof(SigStack, sp), offsetof(stack_t, ss_sp));
    EXPECT_EQ(offsetof(SigStack, flags), offsetof(stack_t, ss_flags));
    EXPECT_EQ(offsetof(SigStack, size), offsetof(stack_t, ss_size));
}

TEST(SignalFrameAbi, SigContextMatchesGlibcMcontext) {
    // mcontext_t, as code reads uc->uc_mcontext.gregs[REG_RIP].
    const size_t g = offsetof(mcontext_t, gregs);
    EXPECT_EQ(sizeof(SigContext), sizeof(mcontext_t));
    EXPECT_EQ(offsetof(SigContext, r8), g + REG_R8 * 8);
    EXPECT_EQ(offsetof(SigContext, r9), g + REG_R9 * 8);
    EXPECT_EQ(offsetof(SigContext, r10), g + REG_R10 * 8);
    EXPECT_EQ(offsetof(SigContext, r11), g + REG_R11 * 8);
    EXPECT_EQ(offsetof(SigContext, r12), g + REG_R12 * 8);
    EXPECT_EQ(offsetof(SigContext, r13), g + REG_R13 * 8);
    EXPECT_EQ(offsetof(SigContext, r14), g + REG_R14 * 8);
    EXPECT_EQ(offsetof(SigContext, r15), g + REG_R15 * 8);
    EXPECT_EQ(offsetof(SigContext, rdi), g + REG_RDI * 8);
    EXPECT_EQ(offsetof(SigContext, rsi), g + REG_RSI * 8);
    EXPECT_EQ(offsetof(SigContext, rbp), g + REG_RBP * 8);
    EXPECT_EQ(offsetof(SigContext, rbx), g + REG_RBX * 8);
    EXPECT_EQ(offsetof(SigContext, rdx), g + REG_RDX * 8);
    EXPECT_EQ(offsetof(SigContext, rax), g + REG_RAX * 8);
    EXPECT_EQ(offsetof(SigContext, rcx), g + REG_RCX * 8);
    EXPECT_EQ(offsetof(SigContext, rsp), g + REG_RSP * 8);
    EXPECT_EQ(offsetof(SigContext, rip), g + REG_RIP * 8);
    EXPECT_EQ(offsetof(SigContext, eflags), g + REG_EFL * 8);
    EXPECT_EQ(offsetof(SigContext, cs), g + REG_CSGSFS * 8);  // short cs, gs, fs, __pad0
    EXPECT_EQ(offsetof(SigContext, gs), g + REG_CSGSFS * 8 + 2);
    EXPECT_EQ(offsetof(SigContext, fs), g + REG_CSGSFS * 8 + 4);
    EXPECT_EQ(offsetof(SigContext, ss), g + REG_CSGSFS * 8 + 6);
    EXPECT_EQ(offsetof(SigContext, err), g + REG_ERR * 8);
    EXPECT_EQ(offsetof(SigContext, trapno), g + REG_TRAPNO * 8);
    EXPECT_EQ(offsetof(SigContext, oldmask), g + REG_OLDMASK * 8);
    EXPECT_EQ(offsetof(SigContext, cr2), g + REG_CR2 * 8);
    EXPECT_EQ(offsetof(SigContext, fpstate), offsetof(mcontext_t, fpregs));

    // And glibc's struct sigcontext, which names the same fields.
    using GlibcSc = struct sigcontext;
    EXPECT_EQ(sizeof(SigContext), sizeof(GlibcSc));
    EXPECT_EQ(offsetof(SigContext, r8), offsetof(GlibcSc, r8));
    EXPECT_EQ(offsetof(SigContext, rdi), offsetof(GlibcSc, rdi));
    EXPECT_EQ(offsetof(SigContext, rax), offsetof(GlibcSc, rax));
    EXPECT_EQ(offsetof(SigContext, rsp), offsetof(GlibcSc, rsp));
    EXPECT_EQ(offsetof(SigContext, rip), offsetof(GlibcSc, rip));
    EXPECT_EQ(offsetof(SigContext, eflags), offsetof(GlibcSc, eflags));
    EXPECT_EQ(offsetof(SigContext, cs), offsetof(GlibcSc, cs));
    EXPECT_EQ(offsetof(SigContext, gs), offsetof(GlibcSc, gs));
    EXPECT_EQ(offsetof(SigContext, fs), offsetof(GlibcSc, fs));
    EXPECT_EQ(offsetof(SigContext, ss), offsetof(GlibcSc, __pad0));
    EXPECT_EQ(offsetof(SigContext, err), offsetof(GlibcSc, err));
    EXPECT_EQ(offsetof(SigContext, trapno), offsetof(GlibcSc, trapno));
    EXPECT_EQ(offsetof(SigContext, oldmask), offsetof(GlibcSc, oldmask));
    EXPECT_EQ(offsetof(SigContext, cr2), offsetof(GlibcSc, cr2));
    EXPECT_EQ(offsetof(SigContext, fpstate), offsetof(GlibcSc, fpstate));
    EXPECT_EQ(offsetof(SigContext, reserved1), offsetof(GlibcSc, __reserved1));
}

TEST(SignalFrameAbi, UContextMatchesGlibcUpToTheSigmask) {
    EXPECT_EQ(offsetof(UContext, flags), offsetof(ucontext_t, uc_flags));
    EXPECT_EQ(offsetof(UContext, link), offsetof(ucontext_t, uc_link));
    EXPECT_EQ(offsetof(UContext, stack), offsetof(ucontext_t, uc_stack));
    EXPECT_EQ(offsetof(UContext, mcontext), offsetof(ucontext_t, uc_mcontext));
    EXPECT_EQ(offsetof(UContext, sigmask), offsetof(ucontext_t, uc_sigmask));
    // The kernel's ucontext ends after an 8-byte sigset; glibc's goes on
    // (a 128-byte sigset, __fpregs_mem, __ssp) and the siginfo follows.
    EXPECT_EQ(sizeof(UContext), offsetof(ucontext_t, uc_sigmask) + 8);
    EXPECT_EQ(offsetof(RtSigFrame, uc), 8u);
    EXPECT_EQ(offsetof(RtSigFrame, info), 8u + sizeof(UContext));
    EXPECT_EQ(sizeof(RtSigFrame), 440u);
}

TEST(SignalFrameAbi, FxsaveAreaMatchesGlibcFpstate) {
    EXPECT_EQ(sizeof(FxsaveArea), sizeof(_libc_fpstate));
    EXPECT_EQ(offsetof(FxsaveArea, fcw), offsetof(_libc_fpstate, cwd));
    EXPECT_EQ(offsetof(FxsaveArea, fsw), offsetof(_libc_fpstate, swd));
    EXPECT_EQ(offsetof(FxsaveArea, ftw), offsetof(_libc_fpstate, ftw));
    EXPECT_EQ(offsetof(FxsaveArea, fop), offsetof(_libc_fpstate, fop));
    EXPECT_EQ(offsetof(FxsaveArea, fip), offsetof(_libc_fpstate, rip));
    EXPECT_EQ(offsetof(FxsaveArea, fdp), offsetof(_libc_fpstate, rdp));
    EXPECT_EQ(offsetof(FxsaveArea, mxcsr), offsetof(_libc_fpstate, mxcsr));
    EXPECT_EQ(offsetof(FxsaveArea, mxcsr_mask), offsetof(_libc_fpstate, mxcr_mask));
    EXPECT_EQ(offsetof(FxsaveArea, st), offsetof(_libc_fpstate, _st));
    EXPECT_EQ(offsetof(FxsaveArea, xmm), offsetof(_libc_fpstate, _xmm));
    EXPECT_EQ(offsetof(FxsaveArea, reserved1), offsetof(_libc_fpstate, __glibc_reserved1));
    // Linux's _fpstate_64: reserved2[12] then sw_reserved (struct _fpx_sw_bytes).
    EXPECT_EQ(offsetof(FxsaveArea, sw_reserved), 464u);
}

TEST(SignalFrameAbi, FpuStateMirrorsKvmFpu) {
    EXPECT_EQ(sizeof(FpuState), sizeof(kvm_fpu));
    EXPECT_EQ(offsetof(FpuState, fpr), offsetof(kvm_fpu, fpr));
    EXPECT_EQ(offsetof(FpuState, fcw), offsetof(kvm_fpu, fcw));
    EXPECT_EQ(offsetof(FpuState, fsw), offsetof(kvm_fpu, fsw));
    EXPECT_EQ(offsetof(FpuState, ftwx), offsetof(kvm_fpu, ftwx));
    EXPECT_EQ(offsetof(FpuState, last_opcode), offsetof(kvm_fpu, last_opcode));
    EXPECT_EQ(offsetof(FpuState, last_ip), offsetof(kvm_fpu, last_ip));
    EXPECT_EQ(offsetof(FpuState, last_dp), offsetof(kvm_fpu, last_dp));
    EXPECT_EQ(offsetof(FpuState, xmm), offsetof(kvm_fpu, xmm));
    EXPECT_EQ(offsetof(FpuState, mxcsr), offsetof(kvm_fpu, mxcsr));
}

TEST(SignalFrameAbi, ConstantsMatchHeaders) {
    EXPECT_EQ(kSaSiginfo, static_cast<u64>(SA_SIGINFO));
    EXPECT_EQ(kSaOnstack, static_cast<u64>(SA_ONSTACK));
    EXPECT_EQ(kSaRestorer, 0x04000000u);      // <asm/signal.h>, not exported by glibc
    EXPECT_EQ(kSsOnstack, static_cast<u32>(SS_ONSTACK));
    EXPECT_EQ(kSsDisable, static_cast<u32>(SS_DISABLE));
    EXPECT_EQ(kSsAutodisarm, 1U << 31);       // <linux/signal.h> clashes with glibc's
    EXPECT_EQ(kUcFpXstate, static_cast<u64>(UC_FP_XSTATE));
    EXPECT_EQ(kUcSigcontextSs, static_cast<u64>(UC_SIGCONTEXT_SS));
    EXPECT_EQ(kUcStrictRestoreSs, static_cast<u64>(UC_STRICT_RESTORE_SS));
    // FIX_EFLAGS in arch/x86/include/asm/sighandling.h.
    EXPECT_EQ(kSigreturnFlags, 0x50dd5u);
}

// --- FXSAVE conversion ---------------------------------------------------------

TEST(Fxsave, ConversionRoundTripAndOffsets) {
    std::mt19937_64 rng(1);
    for (int i = 0; i < 100; ++i) {
        const FpuState f = random_fpu(rng);
        const FxsaveArea fx = fxsave_from_fpu(f);
        EXPECT_EQ(fpu_from_fxsave(fx), f);

        u8 b[512];
        std::memcpy(b, &fx, sizeof b);
        u16 w;
        std::memcpy(&w, b + 0, 2);
        EXPECT_EQ(w, f.fcw);
        std::memcpy(&w, b + 2, 2);
        EXPECT_EQ(w, f.fsw);
        EXPECT_EQ(b[4], f.ftwx);
        std::memcpy(&w, b + 6, 2);
        EXPECT_EQ(w, f.last_opcode);
        u64 q;
        std::memcpy(&q, b + 8, 8);
        EXPECT_EQ(q, f.last_ip);
        std::memcpy(&q, b + 16, 8);
        EXPECT_EQ(q, f.last_dp);
        u32 d;
        std::memcpy(&d, b + 24, 4);
        EXPECT_EQ(d, f.mxcsr);
        std::memcpy(&d, b + 28, 4);
        EXPECT_EQ(d, mxcsr_feature_mask());
        for (int r = 0; r < 8; ++r) EXPECT_EQ(std::memcmp(b + 32 + 16 * r, f.fpr[r], 16), 0);
        for (int r = 0; r < 16; ++r) EXPECT_EQ(std::memcmp(b + 160 + 16 * r, f.xmm[r], 16), 0);
        for (int k = 416; k < 512; ++k) EXPECT_EQ(b[k], 0) << "byte " << k;
    }
}

TEST(Fxsave, InitStateIsLinuxs) {
    const FpuState f = fpu_init_state();
    EXPECT_EQ(f.fcw, 0x37f);
    EXPECT_EQ(f.mxcsr, 0x1f80u);
    EXPECT_EQ(f.fsw, 0);
    EXPECT_EQ(f.ftwx, 0);
    FpuState z;
    z.fcw = 0x37f;
    z.mxcsr = 0x1f80;
    EXPECT_EQ(f, z);
}

TEST(Fxsave, ReadsWhatTheCpuWrites) {
    alignas(16) u8 pattern[16];
    for (int i = 0; i < 16; ++i) pattern[i] = static_cast<u8>(0xc0 + i);
    alignas(16) FxsaveArea hw;
    u32 mxcsr = 0;
    u16 fcw = 0;
    // SAFETY: fxsave64 writes 512 bytes to a 16-byte aligned buffer of that size.
    asm volatile("movdqu %[pat], %%xmm7\n\t"
                 "fxsave64 %[area]\n\t"
                 "stmxcsr %[mxcsr]\n\t"
                 "fnstcw %[fcw]"
                 : [area] "=m"(hw), [mxcsr] "=m"(mxcsr), [fcw] "=m"(fcw)
                 : [pat] "m"(pattern)
                 : "xmm7");
    const FpuState f = fpu_from_fxsave(hw);
    EXPECT_EQ(std::memcmp(f.xmm[7], pattern, 16), 0);
    EXPECT_EQ(f.mxcsr, mxcsr);
    EXPECT_EQ(f.fcw, fcw);
    EXPECT_EQ(hw.mxcsr_mask, mxcsr_feature_mask());
    EXPECT_EQ(mxcsr_feature_mask() & 0xffbf, 0xffbfu) << "every SSE2 CPU has these";
}

TEST(Fxsave, CpuAcceptsWhatWeWrite) {
    alignas(16) FxsaveArea live;
    // SAFETY: as above.
    asm volatile("fxsave64 %0" : "=m"(live));
    FpuState want = fpu_from_fxsave(live);
    for (int r = 0; r < 16; ++r)
        for (int b = 0; b < 16; ++b) want.xmm[r][b] = static_cast<u8>(r * 16 + b);
    alignas(16) FxsaveArea in = fxsave_from_fpu(want);
    alignas(16) FxsaveArea out;
    // SAFETY: fxrstor64 loads a 512-byte image we made from the live state
    // with other XMM contents; every register it changes is a clobber.
    asm volatile("fxrstor64 %1\n\t"
                 "fxsave64 %0"
                 : "=m"(out)
                 : "m"(in)
                 : "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8",
                   "xmm9", "xmm10", "xmm11", "xmm12", "xmm13", "xmm14", "xmm15", "st",
                   "st(1)", "st(2)", "st(3)", "st(4)", "st(5)", "st(6)", "st(7)", "mm0", "mm1",
                   "mm2", "mm3", "mm4", "mm5", "mm6", "mm7");
    EXPECT_EQ(fpu_from_fxsave(out), want);
}

// --- setup_rt_frame --------------------------------------------------------------

constexpr u64 kStackBase = 0x7fff'0000'0000ULL;
constexpr u64 kStackSize = 0x10000;
constexpr u64 kStackTop = kStackBase + kStackSize;

TEST(SetupRtFrame, FillsTheFrameLikeLinux) {
    std::mt19937_64 rng(2);
    FakeGuest g(kStackBase, kStackSize);
    const UserRegs before = random_regs(rng, kStackTop - 0x1000 + 0x38);
    UserRegs regs = before;
    SignalDelivery d = basic_delivery(SIGSEGV);
    d.info.u.fault.addr = 0xdead'beef;
    d.trapno = 14;
    d.error_code = 6;
    d.cr2 = 0xdead'beef;
    d.altstack = AltStack{0x5000'0000, 0x8000, 0};
    const FpuState fpu = random_fpu(rng);

    auto r = setup_rt_frame(regs, d, fpu, g.writer());
    ASSERT_TRUE(r.has_value()) << errno_name(r.error().code);
    const SigFrameLayout& l = r->layout;
    const RtSigFrame f = g.load<RtSigFrame>(l.frame);

    EXPECT_EQ(f.pretcode, d.restorer);
    EXPECT_EQ(f.uc.flags, kUcSigcontextSs | kUcStrictRestoreSs);
    EXPECT_EQ(f.uc.link, 0u);
    EXPECT_EQ(f.uc.stack.sp, 0x5000'0000u);
    EXPECT_EQ(f.uc.stack.flags, 0);
    EXPECT_EQ(f.uc.stack.size, 0x8000u);
    const SigContext& sc = f.uc.mcontext;
    EXPECT_EQ(sc.r8, before.r8);
    EXPECT_EQ(sc.r9, before.r9);
    EXPECT_EQ(sc.r10, before.r10);
    EXPECT_EQ(sc.r11, before.r11);
    EXPECT_EQ(sc.r12, before.r12);
    EXPECT_EQ(sc.r13, before.r13);
    EXPECT_EQ(sc.r14, before.r14);
    EXPECT_EQ(sc.r15, before.r15);
    EXPECT_EQ(sc.rdi, before.rdi);
    EXPECT_EQ(sc.rsi, before.rsi);
    EXPECT_EQ(sc.rbp, before.rbp);
    EXPECT_EQ(sc.rbx, before.rbx);
    EXPECT_EQ(sc.rdx, before.rdx);
    EXPECT_EQ(sc.rax, before.rax);
    EXPECT_EQ(sc.rcx, before.rcx);
    EXPECT_EQ(sc.rsp, before.rsp);
    EXPECT_EQ(sc.rip, before.rip);
    EXPECT_EQ(sc.eflags, before.rflags);
    EXPECT_EQ(sc.cs, 0x33);
    EXPECT_EQ(sc.gs, 0);
    EXPECT_EQ(sc.fs, 0);
    EXPECT_EQ(sc.ss, 0x2b);
    EXPECT_EQ(sc.err, 6u);
    EXPECT_EQ(sc.trapno, 14u);
    EXPECT_EQ(sc.oldmask, d.blocked_mask_before);
    EXPECT_EQ(sc.cr2, 0xdead'beefu);
    EXPECT_EQ(sc.fpstate, l.fpstate);
    for (u64 w : sc.reserved1) EXPECT_EQ(w, 0u);
    EXPECT_EQ(f.uc.sigmask, d.blocked_mask_before);
    EXPECT_EQ(std::memcmp(&f.info, &d.info, sizeof f.info), 0);

    const FxsaveArea fx = g.load<FxsaveArea>(l.fpstate);
    EXPECT_EQ(fpu_from_fxsave(fx), fpu);
    for (u8 b : fx.sw_reserved) EXPECT_EQ(b, 0) << "no FP_XSTATE_MAGIC1: an FXSAVE-only frame";

    // The layout: fpstate below the red zone, 64-aligned; frame right under it.
    EXPECT_EQ(l.fpstate, round_down(before.rsp - 128 - 512, 64));
    EXPECT_EQ(l.uc, l.frame + 8);
    EXPECT_EQ(l.info, l.frame + 312);
    EXPECT_LE(l.frame + sizeof(RtSigFrame), l.fpstate);
    EXPECT_EQ(r->altstack, d.altstack);
}

TEST(SetupRtFrame, PointsRegistersAtTheHandler) {
    std::mt19937_64 rng(3);
    FakeGuest g(kStackBase, kStackSize);
    UserRegs regs = random_regs(rng, kStackTop - 64);
    regs.rflags = 0x202 | kRflagsDf | kRflagsTf | kRflagsRf | kRflagsCf | kRflagsZf;
    const UserRegs before = regs;
    const SignalDelivery d = basic_delivery();
    auto r = setup_rt_frame(regs, d, fpu_init_state(), g.writer());
    ASSERT_TRUE(r.has_value());

    EXPECT_EQ(regs.rip, d.handler);
    EXPECT_EQ(regs.rsp, r->layout.frame);
    EXPECT_EQ(regs.rdi, static_cast<u64>(SIGUSR1));
    EXPECT_EQ(regs.rsi, r->layout.info);
    EXPECT_EQ(regs.rdx, r->layout.uc);
    EXPECT_EQ(regs.rax, 0u);
    EXPECT_EQ(regs.rflags, 0x202 | kRflagsCf | kRflagsZf) << "DF, TF and RF cleared, the rest kept";
    // What Linux leaves alone stays.
    EXPECT_EQ(regs.rbx, before.rbx);
    EXPECT_EQ(regs.rcx, before.rcx);
    EXPECT_EQ(regs.rbp, before.rbp);
    EXPECT_EQ(regs.r8, before.r8);
    EXPECT_EQ(regs.r11, before.r11);
    EXPECT_EQ(regs.r15, before.r15);
    EXPECT_EQ(regs.fs_base, before.fs_base);
    EXPECT_EQ(regs.gs_base, before.gs_base);
    // The handler's return address is the restorer.
    EXPECT_EQ(g.load<u64>(regs.rsp), d.restorer);
}

TEST(SetupRtFrame, WithoutSaSiginfoTheInfoIsZero) {
    FakeGuest g(kStackBase, kStackSize);
    UserRegs regs;
    regs.rsp = kStackTop - 256;
    SignalDelivery d = basic_delivery();
    d.flags = kSaRestorer;
    auto r = setup_rt_frame(regs, d, fpu_init_state(), g.writer());
    ASSERT_TRUE(r.has_value());
    const SigInfo info = g.load<SigInfo>(r->layout.info);
    const SigInfo zero{};
    EXPECT_EQ(std::memcmp(&info, &zero, sizeof info), 0);
    EXPECT_EQ(regs.rsi, r->layout.info) << "rsi points at it anyway, as on Linux";
}

TEST(SetupRtFrame, HandlerEntryIsAlignedForAnyStackPointer) {
    std::mt19937_64 rng(4);
    std::vector<u64> starts;
    for (u64 off = 0; off < 256; ++off) starts.push_back(kStackTop - 0x100 - off);
    for (int i = 0; i < 500; ++i) starts.push_back(kStackBase + 0x2000 + rng() % (kStackSize - 0x2000));
    for (const u64 rsp : starts) {
        FakeGuest g(kStackBase, kStackSize);
        UserRegs regs;
        regs.rsp = rsp;
        auto r = setup_rt_frame(regs, basic_delivery(), fpu_init_state(), g.writer());
        ASSERT_TRUE(r.has_value()) << std::hex << rsp;
        EXPECT_EQ((regs.rsp + 8) % 16, 0u) << std::hex << rsp;
        EXPECT_EQ(r->layout.fpstate % 64, 0u) << std::hex << rsp;
        EXPECT_LE(r->layout.frame + sizeof(RtSigFrame), r->layout.fpstate);
        EXPECT_LE(r->layout.fpstate + sizeof(FxsaveArea), rsp - 128);
        // As tight as Linux packs it: no more than alignment slack in between.
        EXPECT_GT(r->layout.fpstate + sizeof(FxsaveArea) + 64, rsp - 128);
        EXPECT_EQ(r->layout.fpstate - r->layout.frame, 456u);
    }
}

TEST(SetupRtFrame, LeavesTheRedZoneAlone) {
    FakeGuest g(kStackBase, kStackSize);
    UserRegs regs;
    regs.rsp = kStackTop - 0x800;
    const u64 rsp = regs.rsp;
    ASSERT_TRUE(setup_rt_frame(regs, basic_delivery(), fpu_init_state(), g.writer()).has_value());
    ASSERT_EQ(g.writes().size(), 2u);
    for (const auto& [addr, len] : g.writes()) EXPECT_LE(addr + len, rsp - 128);
    for (u64 a = rsp - 128; a < rsp; ++a) EXPECT_EQ(g.load<u8>(a), 0xa5);
}

TEST(SetupRtFrame, NeedsSaRestorer) {
    FakeGuest g(kStackBase, kStackSize);
    UserRegs regs;
    regs.rsp = kStackTop - 256;
    const UserRegs before = regs;
    SignalDelivery d = basic_delivery();
    d.flags = kSaSiginfo;  // a restorer address without SA_RESTORER is not used either
    auto r = setup_rt_frame(regs, d, fpu_init_state(), g.writer());
    ASSERT_FALSE(r.has_value());
    EXPECT_EQ(r.error().code, EFAULT);
    EXPECT_TRUE(g.writes().empty());
    EXPECT_REGS_EQ(regs, before);
}

TEST(SetupRtFrame, WriterFailureIsEfaultAndLeavesRegisters) {
    for (size_t fail : {0, 1}) {
        std::mt19937_64 rng(5);
        FakeGuest g(kStackBase, kStackSize);
        g.fail_write(fail);
        UserRegs regs = random_regs(rng, kStackTop - 512);
        const UserRegs before = regs;
        auto r = setup_rt_frame(regs, basic_delivery(), fpu_init_state(), g.writer());
        ASSERT_FALSE(r.has_value()) << "failing write " << fail;
        EXPECT_EQ(r.error().code, EFAULT);
        EXPECT_REGS_EQ(regs, before);
    }
    // A stack pointer into nothing: the first write fails.
    FakeGuest g(kStackBase, kStackSize);
    UserRegs regs;
    regs.rsp = 0x1000;
    auto r = setup_rt_frame(regs, basic_delivery(), fpu_init_state(), g.writer());
    ASSERT_FALSE(r.has_value());
    EXPECT_EQ(r.error().code, EFAULT);
    EXPECT_EQ(regs.rsp, 0x1000u);
}

// --- the alternate signal stack ---------------------------------------------------

constexpr u64 kAltBase = 0x6000'0000ULL;
constexpr u64 kAltSize = 0x4000;
constexpr u64 kAltTop = kAltBase + kAltSize;

// Guest memory covering both the thread stack and the altstack.
struct TwoStacks {
    FakeGuest stack{kStackBase, kStackSize};
    FakeGuest alt{kAltBase, kAltSize};
    GuestWriter writer() {
        return [this](u64 a, const void* p, u64 n) -> Result<void> {
            if (alt.contains(a, n)) return alt.write(a, p, n);
            return stack.write(a, p, n);
        };
    }
    GuestReader reader() const {
        return [this](u64 a, void* p, u64 n) -> Result<void> {
            if (alt.contains(a, n)) return alt.read(a, p, n);
            return stack.read(a, p, n);
        };
    }
};

TEST(SigAltStack, SaOnstackStartsAtTheAltstackTop) {
    TwoStacks m;
    UserRegs regs;
    regs.rsp = kStackTop - 0x100;
    SignalDelivery d = basic_delivery();
    d.flags |= kSaOnstack;
    d.altstack = AltStack{kAltBase, kAltSize, 0};
    auto r = setup_rt_frame(regs, d, fpu_init_state(), m.writer());
    ASSERT_TRUE(r.has_value());
    EXPECT_EQ(r->layout.fpstate, round_down(kAltTop - 512, 64)) << "no red zone on a fresh stack";
    EXPECT_EQ(regs.rsp, r->layout.fpstate - 456);
    EXPECT_TRUE(m.stack.writes().empty());
    EXPECT_EQ(m.alt.writes().size(), 2u);
    EXPECT_EQ(r->altstack, d.altstack) << "without SS_AUTODISARM the altstack stays armed";
    const RtSigFrame f = m.alt.load<RtSigFrame>(r->layout.frame);
    EXPECT_EQ(f.uc.stack.sp, kAltBase);
    EXPECT_EQ(f.uc.stack.size, kAltSize);
    EXPECT_EQ(f.uc.stack.flags, 0);
    EXPECT_EQ(f.uc.mcontext.rsp, kStackTop - 0x100) << "the interrupted rsp, on the thread stack";
}

TEST(SigAltStack, WithoutSaOnstackTheThreadStackIsUsed) {
    TwoStacks m;
    UserRegs regs;
    regs.rsp = kStackTop - 0x100;
    SignalDelivery d = basic_delivery();
    d.altstack = AltStack{kAltBase, kAltSize, 0};
    auto r = setup_rt_frame(regs, d, fpu_init_state(), m.writer());
    ASSERT_TRUE(r.has_value());
    EXPECT_TRUE(m.alt.writes().empty());
    EXPECT_EQ(r->layout.fpstate, round_down(kStackTop - 0x100 - 128 - 512, 64));
}

TEST(SigAltStack, ADisabledAltstackIsIgnored) {
    // Never set (flags 0, as in a fresh process) and explicitly disabled
    // (SS_DISABLE): the thread stack either way, and uc_stack says which.
    for (const AltStack alt : {AltStack{}, kAltStackReset}) {
        TwoStacks m;
        UserRegs regs;
        regs.rsp = kStackTop - 0x100;
        SignalDelivery d = basic_delivery();
        d.flags |= kSaOnstack;
        d.altstack = alt;
        auto r = setup_rt_frame(regs, d, fpu_init_state(), m.writer());
        ASSERT_TRUE(r.has_value());
        EXPECT_TRUE(m.alt.writes().empty());
        EXPECT_EQ(r->layout.fpstate, round_down(kStackTop - 0x100 - 128 - 512, 64));
        const RtSigFrame f = m.stack.load<RtSigFrame>(r->layout.frame);
        EXPECT_EQ(f.uc.stack.flags, static_cast<i32>(alt.flags));
        EXPECT_EQ(f.uc.stack.sp, 0u);
        EXPECT_EQ(f.uc.stack.size, 0u);
        EXPECT_EQ(r->altstack, alt);
    }
}

TEST(SigAltStack, ANestedSignalStaysBelowTheCurrentFrame) {
    TwoStacks m;
    UserRegs regs;
    regs.rsp = kAltTop - 0x900;  // a handler running on the altstack
    SignalDelivery d = basic_delivery();
    d.flags |= kSaOnstack;
    d.altstack = AltStack{kAltBase, kAltSize, 0};
    auto r = setup_rt_frame(regs, d, fpu_init_state(), m.writer());
    ASSERT_TRUE(r.has_value());
    EXPECT_EQ(r->layout.fpstate, round_down(kAltTop - 0x900 - 128 - 512, 64));
    EXPECT_EQ(altstack_status(d.altstack, kAltTop - 0x900), kSsOnstack);
}

TEST(SigAltStack, AutodisarmStartsAtTheTopAndDisarms) {
    TwoStacks m;
    UserRegs regs;
    regs.rsp = kAltTop - 0x900;  // on the altstack, but SS_AUTODISARM says it is not
    SignalDelivery d = basic_delivery();
    d.flags |= kSaOnstack;
    d.altstack = AltStack{kAltBase, kAltSize, kSsAutodisarm};
    auto r = setup_rt_frame(regs, d, fpu_init_state(), m.writer());
    ASSERT_TRUE(r.has_value());
    EXPECT_EQ(r->layout.fpstate, round_down(kAltTop - 512, 64));
    EXPECT_EQ(r->altstack, kAltStackReset) << "disarmed while the handler runs";
    const RtSigFrame f = m.alt.load<RtSigFrame>(r->layout.frame);
    EXPECT_EQ(static_cast<u32>(f.uc.stack.flags), kSsAutodisarm) << "the frame keeps the armed one";
    EXPECT_EQ(f.uc.stack.sp, kAltBase);
    EXPECT_EQ(f.uc.stack.size, kAltSize);

    // rt_sigreturn gives it back.
    regs.rsp += 8;
    auto back = restore_rt_frame(regs, m.reader());
    ASSERT_TRUE(back.has_value());
    EXPECT_EQ(back->altstack, d.altstack);
}

TEST(SigAltStack, OverflowIsEfault) {
    SignalDelivery d = basic_delivery();
    d.flags |= kSaOnstack;
    d.altstack = AltStack{kAltBase, kAltSize, 0};
    {
        // Nested, near the bottom: the frame would leave the altstack.
        TwoStacks m;
        UserRegs regs;
        regs.rsp = kAltBase + 0x300;
        const UserRegs before = regs;
        auto r = setup_rt_frame(regs, d, fpu_init_state(), m.writer());
        ASSERT_FALSE(r.has_value());
        EXPECT_EQ(r.error().code, EFAULT);
        EXPECT_TRUE(m.alt.writes().empty());
        EXPECT_TRUE(m.stack.writes().empty());
        EXPECT_REGS_EQ(regs, before);
    }
    {
        // Entering an altstack too small for one frame.
        TwoStacks m;
        UserRegs regs;
        regs.rsp = kStackTop - 0x100;
        SignalDelivery small = d;
        small.altstack.size = 0x200;
        auto r = setup_rt_frame(regs, small, fpu_init_state(), m.writer());
        ASSERT_FALSE(r.has_value());
        EXPECT_EQ(r.error().code, EFAULT);
        // The smallest that fits (the base is 64-aligned): the FPU state at
        // base + 512, the frame 456 below it, still above the base.
        small.altstack.size = 1023;
        EXPECT_FALSE(setup_rt_frame(regs, small, fpu_init_state(), m.writer()).has_value());
        small.altstack.size = 1024;
        ASSERT_TRUE(setup_rt_frame(regs, small, fpu_init_state(), m.writer()).has_value());
    }
}

TEST(SigAltStack, StatusFollowsLinux) {
    const AltStack alt{kAltBase, kAltSize, 0};
    EXPECT_FALSE(on_altstack(alt, kAltBase)) << "the lowest byte is not 'on' (sp > ss_sp)";
    EXPECT_TRUE(on_altstack(alt, kAltBase + 1));
    EXPECT_TRUE(on_altstack(alt, kAltTop)) << "an empty stack: sp == top is on it";
    EXPECT_FALSE(on_altstack(alt, kAltTop + 1));
    EXPECT_EQ(altstack_status(alt, kAltTop - 8), kSsOnstack);
    EXPECT_EQ(altstack_status(alt, kStackTop), 0u);
    EXPECT_EQ(altstack_status(AltStack{}, kAltTop - 8), kSsDisable);
    EXPECT_EQ(altstack_status(kAltStackReset, kAltTop - 8), kSsDisable);
    const AltStack autodisarm{kAltBase, kAltSize, kSsAutodisarm};
    EXPECT_FALSE(on_altstack(autodisarm, kAltTop - 8));
    EXPECT_EQ(altstack_status(autodisarm, kAltTop - 8), 0u);
}

// --- restore_rt_frame ------------------------------------------------------------

TEST(RestoreRtFrame, RoundTrip) {
    std::mt19937_64 rng(6);
    for (int i = 0; i < 200; ++i) {
        TwoStacks m;
        const u64 rsp = kStackBase + 0x2000 + rng() % (kStackSize - 0x2000);
        const UserRegs before = random_regs(rng, rsp);
        UserRegs regs = before;
        SignalDelivery d = basic_delivery(1 + static_cast<int>(rng() % 64));
        d.blocked_mask_before = rng();
        const bool onstack = rng() & 1;
        if (onstack) d.flags |= kSaOnstack;
        d.altstack = AltStack{kAltBase, kAltSize, (rng() & 1) ? kSsAutodisarm : 0};
        const FpuState fpu = random_fpu(rng);

        auto r = setup_rt_frame(regs, d, fpu, m.writer());
        ASSERT_TRUE(r.has_value());

        // The handler runs: it may clobber any register, then `ret` pops pretcode.
        UserRegs handler = random_regs(rng, regs.rsp + 8);
        handler.rflags = 0x202;
        handler.fs_base = before.fs_base;
        handler.gs_base = before.gs_base;

        auto back = restore_rt_frame(handler, m.reader());
        ASSERT_TRUE(back.has_value()) << errno_name(back.error().code);
        EXPECT_REGS_EQ(handler, before);
        EXPECT_EQ(back->mask, d.blocked_mask_before);
        EXPECT_TRUE(back->fpu_valid);
        EXPECT_EQ(back->fpu, fpu);
        EXPECT_EQ(back->altstack, d.altstack);
    }
}

TEST(RestoreRtFrame, ReadsTheFrameAtRspMinus8AndHonoursHandlerEdits) {
    FakeGuest g(kStackBase, kStackSize);
    UserRegs regs;
    regs.rsp = kStackTop - 0x400;
    regs.rip = 0x1000;
    auto r = setup_rt_frame(regs, basic_delivery(), fpu_init_state(), g.writer());
    ASSERT_TRUE(r.has_value());
    // A SIGSEGV handler skipping an instruction and changing the mask, as
    // code does through uc->uc_mcontext.gregs[REG_RIP] and uc_sigmask.
    RtSigFrame f = g.load<RtSigFrame>(r->layout.frame);
    f.uc.mcontext.rip = 0x1004;
    f.uc.mcontext.rax = 42;
    f.uc.sigmask = bit_of(SIGUSR2);
    g.store(r->layout.frame, f);

    UserRegs after;
    after.rsp = r->layout.frame + 8;
    auto back = restore_rt_frame(after, g.reader());
    ASSERT_TRUE(back.has_value());
    EXPECT_EQ(after.rip, 0x1004u);
    EXPECT_EQ(after.rax, 42u);
    EXPECT_EQ(after.rsp, kStackTop - 0x400);
    EXPECT_EQ(back->mask, bit_of(SIGUSR2));

    // Off by 8 (the handler did not `ret`): a different, wrong frame.
    UserRegs wrong;
    wrong.rsp = r->layout.frame;
    auto off = restore_rt_frame(wrong, g.reader());
    if (off.has_value()) {
        EXPECT_NE(wrong.rip, 0x1004u);
    }
}

TEST(RestoreRtFrame, SanitizesRflags) {
    FakeGuest g(kStackBase, kStackSize);
    UserRegs regs;
    regs.rsp = kStackTop - 0x400;
    auto r = setup_rt_frame(regs, basic_delivery(), fpu_init_state(), g.writer());
    ASSERT_TRUE(r.has_value());
    RtSigFrame f = g.load<RtSigFrame>(r->layout.frame);

    struct Case {
        u64 current;
        u64 in_frame;
        u64 want;
    };
    const Case cases[] = {
        // Everything set in the frame: only FIX_EFLAGS gets through; IOPL,
        // NT, VM, VIF, ID and the reserved bits do not.
        {0x202, ~0ULL, 0x202 | kSigreturnFlags},
        // A frame cannot clear IF or bit 1, nor raise IOPL.
        {0x202, 0, 0x202},
        {0x202, kRflagsIopl | 0x202, 0x202},
        // TF, AC and RF are the user's to set (Linux allows them).
        {0x202, kRflagsTf, 0x202 | kRflagsTf},
        {0x202, kRflagsAc | kRflagsRf, 0x202 | kRflagsAc | kRflagsRf},
        // Arithmetic flags come from the frame, whatever the handler left.
        {0x202 | kRflagsCf | kRflagsDf, kRflagsZf | kRflagsSf, 0x202 | kRflagsZf | kRflagsSf},
    };
    for (const Case& c : cases) {
        f.uc.mcontext.eflags = c.in_frame;
        g.store(r->layout.frame, f);
        UserRegs after;
        after.rsp = r->layout.frame + 8;
        after.rflags = c.current;
        ASSERT_TRUE(restore_rt_frame(after, g.reader()).has_value());
        EXPECT_EQ(after.rflags, c.want) << std::hex << "frame " << c.in_frame;
    }
}

TEST(RestoreRtFrame, KeepsFsAndGsBase) {
    FakeGuest g(kStackBase, kStackSize);
    UserRegs regs;
    regs.rsp = kStackTop - 0x400;
    regs.fs_base = 0x1111;
    regs.gs_base = 0x2222;
    auto r = setup_rt_frame(regs, basic_delivery(), fpu_init_state(), g.writer());
    ASSERT_TRUE(r.has_value());
    regs.fs_base = 0x3333;  // the handler changed it (arch_prctl): Linux keeps that
    regs.rsp += 8;
    ASSERT_TRUE(restore_rt_frame(regs, g.reader()).has_value());
    EXPECT_EQ(regs.fs_base, 0x3333u);
    EXPECT_EQ(regs.gs_base, 0x2222u);
}

// A frame whose FPU fields a test may spoil.
struct SpoilableFrame {
    FakeGuest g{kStackBase, kStackSize};
    SigFrameLayout l;
    SpoilableFrame() {
        UserRegs regs;
        regs.rsp = kStackTop - 0x400;
        auto r = setup_rt_frame(regs, basic_delivery(), fpu_init_state(), g.writer());
        if (!r.has_value()) std::abort();
        l = r->layout;
    }
    void set_fpstate(u64 p) {
        RtSigFrame f = g.load<RtSigFrame>(l.frame);
        f.uc.mcontext.fpstate = p;
        g.store(l.frame, f);
    }
    Result<SigreturnResult> restore(UserRegs& regs) {
        regs.rsp = l.frame + 8;
        return restore_rt_frame(regs, g.reader());
    }
};

TEST(RestoreRtFrame, NoFpstateMeansTheInitState) {
    SpoilableFrame s;
    s.set_fpstate(0);
    UserRegs regs;
    auto back = s.restore(regs);
    ASSERT_TRUE(back.has_value());
    EXPECT_FALSE(back->fpu_valid);
    EXPECT_EQ(back->fpu, fpu_init_state());
}

TEST(RestoreRtFrame, RefusesWhatFxrstorWould) {
    {
        SpoilableFrame s;
        s.set_fpstate(s.l.fpstate + 8);
        UserRegs regs;
        const UserRegs before = regs;
        auto back = s.restore(regs);
        ASSERT_FALSE(back.has_value());
        EXPECT_EQ(back.error().code, EINVAL);
        EXPECT_EQ(regs.rip, before.rip) << "registers untouched on a bad frame";
    }
    {
        SpoilableFrame s;
        FxsaveArea fx = s.g.load<FxsaveArea>(s.l.fpstate);
        fx.mxcsr |= 1U << 20;  // reserved
        s.g.store(s.l.fpstate, fx);
        UserRegs regs;
        auto back = s.restore(regs);
        ASSERT_FALSE(back.has_value());
        EXPECT_EQ(back.error().code, EINVAL);
    }
    {
        // 16-byte alignment is enough for an FXSAVE image (a user-built frame).
        SpoilableFrame s;
        const FxsaveArea fx = s.g.load<FxsaveArea>(s.l.fpstate);
        s.g.store(s.l.fpstate + 16, fx);
        s.set_fpstate(s.l.fpstate + 16);
        UserRegs regs;
        EXPECT_TRUE(s.restore(regs).has_value());
    }
}

TEST(RestoreRtFrame, ReaderFailureIsEfaultAndLeavesRegisters) {
    std::mt19937_64 rng(7);
    {
        FakeGuest g(kStackBase, kStackSize);
        UserRegs regs = random_regs(rng, 0x1000);  // nothing mapped there
        const UserRegs before = regs;
        auto back = restore_rt_frame(regs, g.reader());
        ASSERT_FALSE(back.has_value());
        EXPECT_EQ(back.error().code, EFAULT);
        EXPECT_REGS_EQ(regs, before);
    }
    {
        SpoilableFrame s;
        s.set_fpstate(0x10000);  // aligned, unmapped
        UserRegs regs = random_regs(rng, 0);
        regs.rsp = s.l.frame + 8;
        const UserRegs before = regs;
        auto back = restore_rt_frame(regs, s.g.reader());
        ASSERT_FALSE(back.has_value());
        EXPECT_EQ(back.error().code, EFAULT);
        EXPECT_REGS_EQ(regs, before);
    }
    {
        // The frame straddles the end of the stack mapping: only the
        // ucontext is needed, and it is not all there.
        FakeGuest g(kStackBase, kStackSize);
        UserRegs regs;
        regs.rsp = kStackTop - 100;
        auto back = restore_rt_frame(regs, g.reader());
        ASSERT_FALSE(back.has_value());
        EXPECT_EQ(back.error().code, EFAULT);
    }
}

// --- against the host kernel ----------------------------------------------------------

// User shadow stacks make the kernel check a token that a forged sigreturn
// does not have.
bool host_has_shadow_stack() {
    std::ifstream status("/proc/self/status");
    std::string line;
    while (std::getline(status, line))
        if (line.rfind("x86_Thread_features:", 0) == 0) return line.find("shstk") != std::string::npos;
    return false;
}

constexpr u32 kFpXstateMagic1 = 0x46505853;  // "FPXS", fpx_sw_bytes.magic1
constexpr u32 kFpXstateMagic2 = 0x46505845;  // "FPXE", after the XSAVE area

}  // namespace
}  // namespace vk

// What the signal handler below records. Written in the handler only; read
// after raise() returns.
struct HostCapture {
    bool ran;
    int sig;
    vk::u64 info, uc;
    vk::u8 frame[sizeof(vk::RtSigFrame)];
    vk::u8 fx[512];
    vk::u32 magic2;  // the word after the XSAVE area, if magic1 said there is one
    stack_t altstack_in_handler;
};

extern "C" {
// Set by the assembly entry stub: the registers exactly at handler entry.
__attribute__((visibility("hidden"))) volatile vk::u64 vk_sft_entry_rsp = 0;
__attribute__((visibility("hidden"))) volatile vk::u64 vk_sft_entry_rax = 0;
__attribute__((visibility("hidden"))) volatile vk::u64 vk_sft_entry_rflags = 0;
__attribute__((visibility("hidden"))) HostCapture vk_sft_capture;

void vk_sft_handler_entry(int, siginfo_t*, void*);  // assembly, below
void vk_sft_handler(int sig, siginfo_t* info, void* uc);

// For the forged sigreturn: where vk_sft_sigreturn_target stores what the
// host kernel restored.
__attribute__((visibility("hidden"))) vk::u64 vk_sft_saved_rsp = 0;
__attribute__((visibility("hidden"))) vk::u32 vk_sft_saved_mxcsr = 0;
__attribute__((visibility("hidden"))) vk::u16 vk_sft_saved_fcw = 0;
__attribute__((visibility("hidden"))) vk::u64 vk_sft_got_gpr[17] = {};  // rax..r15, rflags
__attribute__((visibility("hidden"))) vk::u8 vk_sft_got_xmm[16][16] = {};
__attribute__((visibility("hidden"))) vk::u32 vk_sft_got_mxcsr = 0;
__attribute__((visibility("hidden"))) vk::u16 vk_sft_got_fcw = 0;
void vk_sft_sigreturn_into(vk::u64 rsp);  // assembly, below
void vk_sft_sigreturn_target();           // assembly, below
}

// The handler's first instructions record rsp, rax and rflags as the kernel
// left them (C code would move rsp first), then jump to the C part with the
// stack untouched, so it sees the pretcode as its return address.
asm(R"(
    .text
    .globl vk_sft_handler_entry
    .hidden vk_sft_handler_entry
    .type vk_sft_handler_entry, @function
vk_sft_handler_entry:
    endbr64
    movq %rsp, vk_sft_entry_rsp(%rip)
    movq %rax, vk_sft_entry_rax(%rip)
    pushfq
    popq %rax
    movq %rax, vk_sft_entry_rflags(%rip)
    jmp vk_sft_handler
    .size vk_sft_handler_entry, .-vk_sft_handler_entry

    # vk_sft_sigreturn_into(rsp): calls rt_sigreturn with that rsp. The
    # kernel resumes wherever the frame says: vk_sft_sigreturn_target.
    .globl vk_sft_sigreturn_into
    .hidden vk_sft_sigreturn_into
    .type vk_sft_sigreturn_into, @function
vk_sft_sigreturn_into:
    endbr64
    pushq %rbx
    pushq %rbp
    pushq %r12
    pushq %r13
    pushq %r14
    pushq %r15
    movq %rsp, vk_sft_saved_rsp(%rip)
    stmxcsr vk_sft_saved_mxcsr(%rip)
    fnstcw vk_sft_saved_fcw(%rip)
    movq %rdi, %rsp
    movl $15, %eax            # __NR_rt_sigreturn
    syscall
    ud2
    .size vk_sft_sigreturn_into, .-vk_sft_sigreturn_into

    .globl vk_sft_sigreturn_target
    .hidden vk_sft_sigreturn_target
    .type vk_sft_sigreturn_target, @function
vk_sft_sigreturn_target:
    movq %rax, vk_sft_got_gpr+0(%rip)
    movq %rbx, vk_sft_got_gpr+8(%rip)
    movq %rcx, vk_sft_got_gpr+16(%rip)
    movq %rdx, vk_sft_got_gpr+24(%rip)
    movq %rsi, vk_sft_got_gpr+32(%rip)
    movq %rdi, vk_sft_got_gpr+40(%rip)
    movq %rbp, vk_sft_got_gpr+48(%rip)
    movq %rsp, vk_sft_got_gpr+56(%rip)
    movq %r8, vk_sft_got_gpr+64(%rip)
    movq %r9, vk_sft_got_gpr+72(%rip)
    movq %r10, vk_sft_got_gpr+80(%rip)
    movq %r11, vk_sft_got_gpr+88(%rip)
    movq %r12, vk_sft_got_gpr+96(%rip)
    movq %r13, vk_sft_got_gpr+104(%rip)
    movq %r14, vk_sft_got_gpr+112(%rip)
    movq %r15, vk_sft_got_gpr+120(%rip)
    pushfq
    popq %rax
    movq %rax, vk_sft_got_gpr+128(%rip)
    movdqu %xmm0, vk_sft_got_xmm+0(%rip)
    movdqu %xmm1, vk_sft_got_xmm+16(%rip)
    movdqu %xmm2, vk_sft_got_xmm+32(%rip)
    movdqu %xmm3, vk_sft_got_xmm+48(%rip)
    movdqu %xmm4, vk_sft_got_xmm+64(%rip)
    movdqu %xmm5, vk_sft_got_xmm+80(%rip)
    movdqu %xmm6, vk_sft_got_xmm+96(%rip)
    movdqu %xmm7, vk_sft_got_xmm+112(%rip)
    movdqu %xmm8, vk_sft_got_xmm+128(%rip)
    movdqu %xmm9, vk_sft_got_xmm+144(%rip)
    movdqu %xmm10, vk_sft_got_xmm+160(%rip)
    movdqu %xmm11, vk_sft_got_xmm+176(%rip)
    movdqu %xmm12, vk_sft_got_xmm+192(%rip)
    movdqu %xmm13, vk_sft_got_xmm+208(%rip)
    movdqu %xmm14, vk_sft_got_xmm+224(%rip)
    movdqu %xmm15, vk_sft_got_xmm+240(%rip)
    stmxcsr vk_sft_got_mxcsr(%rip)
    fnstcw vk_sft_got_fcw(%rip)
    cld
    ldmxcsr vk_sft_saved_mxcsr(%rip)
    fldcw vk_sft_saved_fcw(%rip)
    movq vk_sft_saved_rsp(%rip), %rsp
    popq %r15
    popq %r14
    popq %r13
    popq %r12
    popq %rbp
    popq %rbx
    ret
    .size vk_sft_sigreturn_target, .-vk_sft_sigreturn_target
)");

namespace {
// Byte copy that no sanitizer looks at: the source is kernel-written stack
// memory (possibly below live frames ASan tracks).
__attribute__((no_sanitize_address)) void raw_copy(vk::u8* dst, vk::u64 src, std::size_t n) {
    // SAFETY: src is an address the host kernel just wrote the signal frame
    // (or its FPU state) at; it stays mapped while the handler runs.
    const volatile vk::u8* s = reinterpret_cast<const volatile vk::u8*>(src);
    for (std::size_t i = 0; i < n; ++i) dst[i] = s[i];
}
}  // namespace

extern "C" __attribute__((no_sanitize_address)) void vk_sft_handler(int sig, siginfo_t* info,
                                                                      void* uc) {
    HostCapture& c = vk_sft_capture;
    c.ran = true;
    c.sig = sig;
    c.info = reinterpret_cast<vk::u64>(info);
    c.uc = reinterpret_cast<vk::u64>(uc);
    raw_copy(c.frame, vk_sft_entry_rsp, sizeof c.frame);
    vk::RtSigFrame f;
    std::memcpy(&f, c.frame, sizeof f);
    if (f.uc.mcontext.fpstate != 0) {
        raw_copy(c.fx, f.uc.mcontext.fpstate, sizeof c.fx);
        vk::u32 magic1, xstate_size;
        std::memcpy(&magic1, c.fx + 464, 4);
        std::memcpy(&xstate_size, c.fx + 480, 4);
        if (magic1 == vk::kFpXstateMagic1)
            raw_copy(reinterpret_cast<vk::u8*>(&c.magic2), f.uc.mcontext.fpstate + xstate_size, 4);
    }
    sigaltstack(nullptr, &c.altstack_in_handler);
}

namespace vk {
namespace {

// Raises SIGUSR1 at ourselves with the entry stub as a SA_SIGINFO handler,
// `extra_flags` added, and returns the restorer glibc registered.
u64 raise_on_host(int extra_flags) {
    struct sigaction sa {};
    sa.sa_sigaction = vk_sft_handler_entry;
    sa.sa_flags = SA_SIGINFO | extra_flags;
    sigemptyset(&sa.sa_mask);
    struct sigaction old {};
    if (sigaction(SIGUSR1, &sa, &old) != 0) std::abort();
    struct sigaction cur {};
    sigaction(SIGUSR1, nullptr, &cur);
    std::memset(&vk_sft_capture, 0, sizeof vk_sft_capture);
    raise(SIGUSR1);
    sigaction(SIGUSR1, &old, nullptr);
    return reinterpret_cast<u64>(cur.sa_restorer);
}

struct HostCase {
    const char* name;
    u32 alt_flags;  // set with sigaltstack(2) before raising: SS_DISABLE, 0, SS_AUTODISARM
    bool onstack;   // SA_ONSTACK
};

class SignalFrameHost : public ::testing::TestWithParam<HostCase> {};

// The host kernel builds a frame; we build one for the same inputs; they
// must agree on everything except what depends on the FPU area's size
// (XSAVE there, FXSAVE here), and that part must follow the same formula.
TEST_P(SignalFrameHost, OurFrameMatchesTheHostKernels) {
    const HostCase hc = GetParam();
    constexpr u64 kHostAltSize = 256 * 1024;
    auto alt_mem = std::make_unique<u8[]>(kHostAltSize);  // zeroed
    const u64 alt_base = reinterpret_cast<u64>(alt_mem.get());

    // Set the altstack explicitly: its raw flags go into the frame, and
    // sigaltstack(2) cannot read them back (it reports SS_DISABLE for a
    // process that never set one, whose raw flags are 0).
    stack_t old_ss{};
    sigaltstack(nullptr, &old_ss);
    const bool armed = hc.alt_flags != kSsDisable;
    const bool on_alt = armed && hc.onstack;
    stack_t ss{};
    ss.ss_sp = alt_mem.get();
    ss.ss_size = kHostAltSize;
    ss.ss_flags = static_cast<int>(hc.alt_flags);
    ASSERT_EQ(sigaltstack(&ss, nullptr), 0) << strerror(errno);
    const AltStack alt = armed ? AltStack{alt_base, kHostAltSize, hc.alt_flags} : kAltStackReset;
    stack_t cur_ss{};
    sigaltstack(nullptr, &cur_ss);
    const u64 restorer = raise_on_host(hc.onstack ? SA_ONSTACK : 0);
    stack_t after_ss{};
    sigaltstack(nullptr, &after_ss);
    sigaltstack(&old_ss, nullptr);

    const HostCapture c = vk_sft_capture;
    ASSERT_TRUE(c.ran);
    RtSigFrame host;
    std::memcpy(&host, c.frame, sizeof host);
    const u64 entry_rsp = vk_sft_entry_rsp;
    const SigContext& hsc = host.uc.mcontext;

    // What the handler saw on entry.
    EXPECT_EQ(c.sig, SIGUSR1);
    EXPECT_EQ((entry_rsp + 8) % 16, 0u);
    EXPECT_EQ(c.uc, entry_rsp + 8);
    EXPECT_EQ(c.info, entry_rsp + 312);
    EXPECT_EQ(vk_sft_entry_rax, 0u);
    EXPECT_EQ(vk_sft_entry_rflags & (kRflagsDf | kRflagsTf | kRflagsRf), 0u);
    EXPECT_EQ(host.pretcode, restorer) << "pretcode at rsp is glibc's sa_restorer";
    EXPECT_EQ(hsc.cs, 0x33);
    EXPECT_EQ(hsc.ss, 0x2b);

    // The host's FPU area: XSAVE (with magic words) on this CPU, or FXSAVE.
    u32 magic1, ext_size;
    std::memcpy(&magic1, c.fx + 464, 4);
    std::memcpy(&ext_size, c.fx + 468, 4);
    const bool xsave = magic1 == kFpXstateMagic1;
    if (xsave) {
        EXPECT_EQ(c.magic2, kFpXstateMagic2);
        EXPECT_EQ(host.uc.flags, kUcFpXstate | kUcSigcontextSs | kUcStrictRestoreSs);
    } else {
        ext_size = 512;
        EXPECT_EQ(host.uc.flags, kUcSigcontextSs | kUcStrictRestoreSs);
    }

    // Our stack choice and carving, given the host's FPU size, land exactly
    // where the host kernel put its frame.
    const u64 sa_flags = kSaSiginfo | kSaRestorer | (hc.onstack ? kSaOnstack : 0);
    auto hl = sigframe_layout(hsc.rsp, sa_flags, alt, ext_size);
    ASSERT_TRUE(hl.has_value());
    EXPECT_EQ(hl->frame, entry_rsp);
    EXPECT_EQ(hl->fpstate, hsc.fpstate);
    EXPECT_EQ(hl->info, c.info);
    EXPECT_EQ(hl->uc, c.uc);

    // Now our frame, for the same interrupted state, in a copy of that stack.
    const u64 top = on_alt ? alt_base + kHostAltSize : hsc.rsp;
    FakeGuest g(top - 0x10000, 0x10000, 0);
    UserRegs regs;
    regs.r8 = hsc.r8, regs.r9 = hsc.r9, regs.r10 = hsc.r10, regs.r11 = hsc.r11;
    regs.r12 = hsc.r12, regs.r13 = hsc.r13, regs.r14 = hsc.r14, regs.r15 = hsc.r15;
    regs.rdi = hsc.rdi, regs.rsi = hsc.rsi, regs.rbp = hsc.rbp, regs.rbx = hsc.rbx;
    regs.rdx = hsc.rdx, regs.rax = hsc.rax, regs.rcx = hsc.rcx, regs.rsp = hsc.rsp;
    regs.rip = hsc.rip, regs.rflags = hsc.eflags;
    SignalDelivery d;
    d.sig = SIGUSR1;
    d.info = host.info;
    d.handler = reinterpret_cast<u64>(&vk_sft_handler_entry);
    d.flags = sa_flags;
    d.restorer = restorer;
    d.blocked_mask_before = host.uc.sigmask;
    d.altstack = alt;
    d.trapno = hsc.trapno;
    d.error_code = hsc.err;
    d.cr2 = hsc.cr2;
    FxsaveArea hfx;
    std::memcpy(&hfx, c.fx, sizeof hfx);
    auto r = setup_rt_frame(regs, d, fpu_from_fxsave(hfx), g.writer());
    ASSERT_TRUE(r.has_value());
    const SigFrameLayout& l = r->layout;

    // Same rules, smaller FPU area: relative positions agree.
    const u64 start = on_alt ? top : hsc.rsp - 128;
    EXPECT_EQ(hsc.fpstate, round_down(start - ext_size, 64));
    EXPECT_EQ(l.fpstate, round_down(start - 512, 64));
    EXPECT_EQ(l.fpstate - l.frame, hsc.fpstate - entry_rsp);
    EXPECT_EQ(l.info - l.frame, c.info - entry_rsp);
    EXPECT_EQ(l.uc - l.frame, c.uc - entry_rsp);
    EXPECT_EQ(regs.rsp, l.frame);
    EXPECT_EQ(regs.rdi, static_cast<u64>(SIGUSR1));
    EXPECT_EQ(regs.rsi, l.info);
    EXPECT_EQ(regs.rdx, l.uc);
    EXPECT_EQ(regs.rax, 0u);
    EXPECT_EQ(regs.rflags, vk_sft_entry_rflags) << "the handler's flags as the host set them";

    // Byte for byte, once the FPU pointer and UC_FP_XSTATE are set aside.
    RtSigFrame ours = g.load<RtSigFrame>(l.frame);
    ours.uc.mcontext.fpstate = hsc.fpstate;
    if (xsave) ours.uc.flags |= kUcFpXstate;
    if (!on_alt) {
        // Linux never writes reserved1 nor uc_stack's padding: on a used
        // stack they hold old bytes (ours are zero).
        std::memcpy(ours.uc.mcontext.reserved1, hsc.reserved1, sizeof hsc.reserved1);
        ours.uc.stack.pad = host.uc.stack.pad;
    }
    EXPECT_EQ(ours.pretcode, host.pretcode);
    EXPECT_EQ(ours.uc.flags, host.uc.flags);
    EXPECT_EQ(ours.uc.stack.sp, host.uc.stack.sp);
    EXPECT_EQ(ours.uc.stack.flags, host.uc.stack.flags);
    EXPECT_EQ(ours.uc.stack.size, host.uc.stack.size);
    EXPECT_EQ(std::memcmp(&ours.uc.mcontext, &hsc, sizeof hsc), 0);
    EXPECT_EQ(ours.uc.sigmask, host.uc.sigmask);
    EXPECT_EQ(std::memcmp(&ours.info, &host.info, sizeof host.info), 0);
    EXPECT_EQ(first_difference(&ours, &host, sizeof host), sizeof host);

    // The FXSAVE part of the FPU area agrees too, up to the reserved bytes
    // (then the host has its XSAVE software area; ours is zero).
    const FxsaveArea ofx = g.load<FxsaveArea>(l.fpstate);
    EXPECT_EQ(first_difference(&ofx, &hfx, offsetof(FxsaveArea, reserved1)),
              offsetof(FxsaveArea, reserved1));

    // The altstack while the handler ran, and after.
    const AltStack host_during{reinterpret_cast<u64>(c.altstack_in_handler.ss_sp),
                               (c.altstack_in_handler.ss_flags & SS_DISABLE)
                                   ? 0
                                   : c.altstack_in_handler.ss_size,
                               static_cast<u32>(c.altstack_in_handler.ss_flags) & ~kSsOnstack};
    EXPECT_EQ(r->altstack, host_during);
    if (hc.alt_flags & kSsAutodisarm) {
        EXPECT_EQ(c.altstack_in_handler.ss_flags, SS_DISABLE);
        EXPECT_EQ(static_cast<u32>(host.uc.stack.flags), kSsAutodisarm);
    }
    EXPECT_EQ(after_ss.ss_sp, cur_ss.ss_sp) << "rt_sigreturn put the altstack back";
    EXPECT_EQ(after_ss.ss_size, cur_ss.ss_size);
    EXPECT_EQ(after_ss.ss_flags, cur_ss.ss_flags);

    // And our rt_sigreturn reads the host's frame as the host kernel would.
    FakeGuest hg(entry_rsp & ~0xfffULL, 0x1000 + 2 * sizeof host, 0);
    hg.store(entry_rsp, host);
    FakeGuest hfxg(hsc.fpstate, sizeof hfx, 0);
    hfxg.store(hsc.fpstate, hfx);
    UserRegs back;
    back.rsp = entry_rsp + 8;
    back.rflags = 0x202;
    auto rr = restore_rt_frame(back, [&](u64 a, void* p, u64 n) -> Result<void> {
        if (hfxg.contains(a, n)) return hfxg.read(a, p, n);
        return hg.read(a, p, n);
    });
    ASSERT_TRUE(rr.has_value()) << errno_name(rr.error().code);
    UserRegs want = regs;  // the interrupted registers, as fed to setup above
    want.r8 = hsc.r8, want.r9 = hsc.r9, want.r10 = hsc.r10, want.r11 = hsc.r11;
    want.r12 = hsc.r12, want.r13 = hsc.r13, want.r14 = hsc.r14, want.r15 = hsc.r15;
    want.rdi = hsc.rdi, want.rsi = hsc.rsi, want.rbp = hsc.rbp, want.rbx = hsc.rbx;
    want.rdx = hsc.rdx, want.rax = hsc.rax, want.rcx = hsc.rcx, want.rsp = hsc.rsp;
    want.rip = hsc.rip;
    want.rflags = (0x202 & ~kSigreturnFlags) | (hsc.eflags & kSigreturnFlags);
    want.fs_base = back.fs_base;
    want.gs_base = back.gs_base;
    EXPECT_REGS_EQ(back, want);
    EXPECT_EQ(rr->mask, host.uc.sigmask);
    EXPECT_TRUE(rr->fpu_valid);
    EXPECT_EQ(rr->fpu, fpu_from_fxsave(hfx));
    EXPECT_EQ(rr->altstack.sp, host.uc.stack.sp);
    EXPECT_EQ(rr->altstack.size, host.uc.stack.size);
    EXPECT_EQ(rr->altstack.flags, static_cast<u32>(host.uc.stack.flags));
}

INSTANTIATE_TEST_SUITE_P(
    Stacks, SignalFrameHost,
    ::testing::Values(HostCase{"ThreadStack", kSsDisable, false},
                      HostCase{"ThreadStackAltstackArmed", 0, false},
                      HostCase{"OnstackAltstackDisabled", kSsDisable, true},
                      HostCase{"Altstack", 0, true},
                      HostCase{"AltstackAutodisarm", kSsAutodisarm, true}),
    [](const ::testing::TestParamInfo<HostCase>& i) { return std::string(i.param.name); });

// The host kernel's rt_sigreturn takes a frame we built and resumes exactly
// the context it describes: registers, flags, XMM, MXCSR, FCW, the signal
// mask and the altstack.
TEST(SignalFrameHost, HostSigreturnAcceptsOurFrame) {
    if (host_has_shadow_stack()) GTEST_SKIP() << "user shadow stack on: a forged sigreturn would fault";
    constexpr u64 kSize = 0x10000;
    auto stack_mem = std::make_unique<u8[]>(kSize);
    auto alt_mem = std::make_unique<u8[]>(kSize);
    const u64 stack_base = reinterpret_cast<u64>(stack_mem.get());

    sigset_t old_mask;
    sigprocmask(SIG_SETMASK, nullptr, &old_mask);
    stack_t old_ss{};
    sigaltstack(nullptr, &old_ss);
    u64 mask_now;
    std::memcpy(&mask_now, &old_mask, sizeof mask_now);

    // The context to resume: vk_sft_sigreturn_target on our scratch stack.
    UserRegs target;
    target.rax = 0x1111'0000'0000'0001ULL;
    target.rbx = 0x2222'0000'0000'0002ULL;
    target.rcx = 0x3333'0000'0000'0003ULL;
    target.rdx = 0x4444'0000'0000'0004ULL;
    target.rsi = 0x5555'0000'0000'0005ULL;
    target.rdi = 0x6666'0000'0000'0006ULL;
    target.rbp = 0x7777'0000'0000'0007ULL;
    target.rsp = round_down(stack_base + kSize / 2, 16) - 8;
    target.r8 = 0x8888'0000'0000'0008ULL;
    target.r9 = 0x9999'0000'0000'0009ULL;
    target.r10 = 0xaaaa'0000'0000'000aULL;
    target.r11 = 0xbbbb'0000'0000'000bULL;
    target.r12 = 0xcccc'0000'0000'000cULL;
    target.r13 = 0xdddd'0000'0000'000dULL;
    target.r14 = 0xeeee'0000'0000'000eULL;
    target.r15 = 0xffff'0000'0000'000fULL;
    target.rip = reinterpret_cast<u64>(&vk_sft_sigreturn_target);
    target.rflags = 0x202 | kRflagsCf | kRflagsPf | kRflagsAf | kRflagsZf | kRflagsSf | kRflagsOf;

    FpuState fpu = fpu_init_state();
    fpu.fcw = 0x0f7f;    // round toward zero
    fpu.mxcsr = 0x7f80;  // likewise
    for (int r = 0; r < 16; ++r)
        for (int b = 0; b < 16; ++b) fpu.xmm[r][b] = static_cast<u8>(0x10 * r + b);

    SignalDelivery d = basic_delivery();
    d.blocked_mask_before = mask_now | bit_of(SIGUSR2);
    d.altstack = AltStack{reinterpret_cast<u64>(alt_mem.get()), kSize, 0};

    UserRegs regs = target;
    auto r = setup_rt_frame(regs, d, fpu, [&](u64 a, const void* p, u64 n) -> Result<void> {
        if (a < stack_base || a + n > stack_base + kSize) return err(EFAULT);
        // SAFETY: [a, a + n) lies inside stack_mem, checked above.
        std::memcpy(reinterpret_cast<void*>(a), p, n);
        return {};
    });
    ASSERT_TRUE(r.has_value());

    // The handler's `ret` would pop pretcode; rt_sigreturn then finds the
    // frame at rsp - 8.
    vk_sft_sigreturn_into(regs.rsp + 8);

    sigset_t mask_after;
    sigprocmask(SIG_SETMASK, &old_mask, &mask_after);
    stack_t ss_after{};
    sigaltstack(nullptr, &ss_after);
    sigaltstack(&old_ss, nullptr);

    const u64* got = vk_sft_got_gpr;
    EXPECT_EQ(got[0], target.rax);
    EXPECT_EQ(got[1], target.rbx);
    EXPECT_EQ(got[2], target.rcx);
    EXPECT_EQ(got[3], target.rdx);
    EXPECT_EQ(got[4], target.rsi);
    EXPECT_EQ(got[5], target.rdi);
    EXPECT_EQ(got[6], target.rbp);
    EXPECT_EQ(got[7], target.rsp);
    EXPECT_EQ(got[8], target.r8);
    EXPECT_EQ(got[9], target.r9);
    EXPECT_EQ(got[10], target.r10);
    EXPECT_EQ(got[11], target.r11);
    EXPECT_EQ(got[12], target.r12);
    EXPECT_EQ(got[13], target.r13);
    EXPECT_EQ(got[14], target.r14);
    EXPECT_EQ(got[15], target.r15);
    EXPECT_EQ(got[16] & kSigreturnFlags, target.rflags & kSigreturnFlags) << std::hex << got[16];
    EXPECT_TRUE(got[16] & kRflagsIf);
    for (int i = 0; i < 16; ++i) EXPECT_EQ(std::memcmp(vk_sft_got_xmm[i], fpu.xmm[i], 16), 0) << "xmm" << i;
    EXPECT_EQ(vk_sft_got_mxcsr, 0x7f80u);
    EXPECT_EQ(vk_sft_got_fcw, 0x0f7f);
    EXPECT_TRUE(sigismember(&mask_after, SIGUSR2)) << "uc_sigmask was applied";
    EXPECT_EQ(ss_after.ss_sp, alt_mem.get()) << "uc_stack was applied";
    EXPECT_EQ(ss_after.ss_size, kSize);
    EXPECT_EQ(ss_after.ss_flags, 0);
}


// --- XSAVE frames -----------------------------------------------------------------

namespace {

constexpr u64 kXsaveFeatures = 0xe7;  // x87 SSE AVX opmask ZMM_Hi256 Hi16_ZMM
constexpr u64 kXsaveSize = 2432;

// An XSAVE image with random register contents, a valid MXCSR and a
// standard-format header whose XSTATE_BV is `bv`.
std::vector<u8> random_xsave(std::mt19937_64& rng, u64 bv) {
    std::vector<u8> img(kXsaveSize);
    for (auto& b : img) b = static_cast<u8>(rng());
    FxsaveArea fx = fxsave_from_fpu(random_fpu(rng));
    std::memcpy(img.data(), &fx, sizeof fx);
    std::memset(img.data() + 512, 0, 64);
    std::memcpy(img.data() + 512, &bv, sizeof bv);
    return img;
}

struct XsaveFrame {
    FakeGuest g{kStackBase, kStackSize};
    UserRegs regs;
    SetupResult setup;
};

void deliver_xsave(XsaveFrame& f, const std::vector<u8>& img, u64 seed) {
    std::mt19937_64 rng(seed);
    f.regs = random_regs(rng, kStackTop - 0x800);
    auto r = setup_rt_frame(f.regs, basic_delivery(SIGUSR1), XsaveImage{img, kXsaveFeatures},
                            f.g.writer());
    ASSERT_TRUE(r.has_value()) << errno_name(r.error().code);
    f.setup = *r;
    f.regs.rsp += 8;  // the handler's `ret` popped pretcode
}

}  // namespace

TEST(XsaveFrame, CarriesTheImageWithLinuxsMarkers) {
    std::mt19937_64 rng(7);
    const auto img = random_xsave(rng, 0x7);
    XsaveFrame f;
    deliver_xsave(f, img, 1);
    const SigFrameLayout& l = f.setup.layout;
    const RtSigFrame frame = f.g.load<RtSigFrame>(l.frame);
    EXPECT_EQ(frame.uc.flags & kUcFpXstate, kUcFpXstate);
    EXPECT_EQ(l.fpstate % 64, 0u);
    const FpxSwBytes sw = f.g.load<FpxSwBytes>(l.fpstate + 464);
    EXPECT_EQ(sw.magic1, kFpXstateMagic1);
    EXPECT_EQ(sw.xstate_size, kXsaveSize);
    EXPECT_EQ(sw.extended_size, kXsaveSize + 4);
    EXPECT_EQ(sw.xfeatures, kXsaveFeatures);
    EXPECT_EQ(f.g.load<u32>(l.fpstate + kXsaveSize), kFpXstateMagic2);
    // The image itself, but for the software bytes.
    for (u64 i = 0; i < kXsaveSize; ++i) {
        if (i >= 464 && i < 512) continue;
        ASSERT_EQ(f.g.load<u8>(l.fpstate + i), img[i]) << "byte " << i;
    }
    // The frame sits below the whole image and its magic.
    EXPECT_LE(l.fpstate + kXsaveSize + 4, kStackTop - 0x800 - 128);
    EXPECT_GE(min_signal_stack_size(kXsaveSize), sizeof(RtSigFrame) + kXsaveSize + 4);
}

TEST(XsaveFrame, SigreturnGivesBackTheImageAndHandlerEdits) {
    std::mt19937_64 rng(8);
    auto img = random_xsave(rng, 0x7);
    XsaveFrame f;
    deliver_xsave(f, img, 2);
    const u64 fp = f.setup.layout.fpstate;
    // The handler edits an AVX upper half in the frame.
    f.g.store<u64>(fp + 576, 0x1122'3344'5566'7788ULL);
    auto back = restore_rt_frame(f.regs, f.g.reader(), XsaveImage{img, kXsaveFeatures});
    ASSERT_TRUE(back.has_value()) << errno_name(back.error().code);
    ASSERT_EQ(back->xsave.size(), kXsaveSize);
    std::memcpy(img.data() + 576, "\x88\x77\x66\x55\x44\x33\x22\x11", 8);
    std::memset(img.data() + 464, 0, 48);  // software bytes are not FPU state
    EXPECT_EQ(back->xsave, img);
}

TEST(XsaveFrame, WithoutTheMagicsOnlyTheLegacyAreaComesBack) {
    std::mt19937_64 rng(9);
    const auto img = random_xsave(rng, 0x7);
    for (int spoil = 0; spoil < 3; ++spoil) {
        XsaveFrame f;
        deliver_xsave(f, img, 3);
        const u64 fp = f.setup.layout.fpstate;
        if (spoil == 0) f.g.store<u32>(fp + 464, 0);                   // magic1
        if (spoil == 1) f.g.store<u32>(fp + kXsaveSize, 0);            // magic2
        if (spoil == 2) f.g.store<u32>(fp + 468, kXsaveSize);          // extended_size
        auto back = restore_rt_frame(f.regs, f.g.reader(), XsaveImage{img, kXsaveFeatures});
        ASSERT_TRUE(back.has_value()) << spoil;
        EXPECT_EQ(std::memcmp(back->xsave.data(), img.data(), 464), 0) << spoil;
        u64 bv;
        std::memcpy(&bv, back->xsave.data() + 512, 8);
        EXPECT_EQ(bv, 3u) << "x87 and SSE only, the rest in init state; case " << spoil;
    }
}

TEST(XsaveFrame, WhatXrstorRefusesIsEinval) {
    std::mt19937_64 rng(10);
    const auto img = random_xsave(rng, 0x7);
    for (int spoil = 0; spoil < 3; ++spoil) {
        XsaveFrame f;
        deliver_xsave(f, img, 4);
        const u64 fp = f.setup.layout.fpstate;
        if (spoil == 0) f.g.store<u64>(fp + 520, 1ULL << 63);  // XCOMP_BV: compacted
        if (spoil == 1) f.g.store<u64>(fp + 512, 1ULL << 9);   // PKRU: not in XCR0
        if (spoil == 2) f.g.store<u32>(fp + 24, 0xffff'ffff);  // MXCSR reserved bits
        const UserRegs before = f.regs;
        auto back = restore_rt_frame(f.regs, f.g.reader(), XsaveImage{img, kXsaveFeatures});
        ASSERT_FALSE(back.has_value()) << spoil;
        EXPECT_EQ(back.error().code, EINVAL) << spoil;
        EXPECT_REGS_EQ(f.regs, before);
    }
}

}  // namespace
}  // namespace vk
