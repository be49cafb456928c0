#pragma once

// The Linux x86-64 signal frame: building it on a guest stack when a handler
// is entered (setup_rt_frame), and reading it back in rt_sigreturn
// (restore_rt_frame). Pure code: guest memory is reached only through the
// GuestWriter/GuestReader callbacks, registers are a vmspace::UserRegs, the
// FPU state a plain copy of what KVM gives. Nothing here keeps state.
//
// What a handler finds, from high addresses to low (arch/x86/kernel/signal.c,
// signal_64.c and fpu/signal.c in Linux):
//
//   top   the altstack's end (SA_ONSTACK, entering it), else rsp - 128 (the
//         ABI's red zone, which the interrupted code may be using)
//   fpstate  the FPU state, 64-byte aligned, pointed to by uc_mcontext.fpstate
//   (padding)
//   info     siginfo_t              <- rsi   frame + 312
//   uc       ucontext               <- rdx   frame + 8
//   pretcode sa_restorer            <- rsp   frame; (rsp + 8) % 16 == 0, so
//                                            the handler sees a normal call
//
// The FPU state is saved as Linux saves it on a CPU with XSAVE: the
// standard-format XSAVE image of every component the guest has (x87, SSE,
// AVX, AVX-512 ...: its XCR0), whose legacy area's software bytes (464..511,
// Linux's struct _fpx_sw_bytes) carry FP_XSTATE_MAGIC1, the image's size
// and its components, followed by FP_XSTATE_MAGIC2; uc_flags has
// UC_FP_XSTATE. A reader that knows only FXSAVE sees a valid 512-byte
// image. rt_sigreturn restores the whole image when both magics and the
// sizes check out, and otherwise only the legacy part with every other
// component reset, as Linux does. The older entry points (FpuState) build
// the FXSAVE-only frame of a CPU without XSAVE.

#include <functional>
#include <span>
#include <vector>

#include "base/result.h"
#include "base/types.h"
#include "vkernel/user_memory.h"
#include "vmspace/trap.h"

namespace vk {

// --- Linux UAPI values (x86-64) -------------------------------------------

// sigaction sa_flags bits (<asm/signal.h>).
inline constexpr u64 kSaSiginfo = 0x00000004;
inline constexpr u64 kSaRestorer = 0x04000000;
inline constexpr u64 kSaOnstack = 0x08000000;

// sigaltstack ss_flags (<linux/signal.h>).
inline constexpr u32 kSsOnstack = 1;
inline constexpr u32 kSsDisable = 2;
inline constexpr u32 kSsAutodisarm = 1U << 31;

// ucontext uc_flags bits (<asm/ucontext.h>).
inline constexpr u64 kUcFpXstate = 0x1;
inline constexpr u64 kUcSigcontextSs = 0x2;
inline constexpr u64 kUcStrictRestoreSs = 0x4;

// RFLAGS bits.
inline constexpr u64 kRflagsCf = 1ULL << 0;
inline constexpr u64 kRflagsPf = 1ULL << 2;
inline constexpr u64 kRflagsAf = 1ULL << 4;
inline constexpr u64 kRflagsZf = 1ULL << 6;
inline constexpr u64 kRflagsSf = 1ULL << 7;
inline constexpr u64 kRflagsTf = 1ULL << 8;
inline constexpr u64 kRflagsIf = 1ULL << 9;
inline constexpr u64 kRflagsDf = 1ULL << 10;
inline constexpr u64 kRflagsOf = 1ULL << 11;
inline constexpr u64 kRflagsIopl = 3ULL << 12;
inline constexpr u64 kRflagsRf = 1ULL << 16;
inline constexpr u64 kRflagsAc = 1ULL << 18;
// The flags rt_sigreturn takes from the frame (Linux's FIX_EFLAGS); every
// other bit (IF, IOPL, NT, VM, ...) keeps its current value.
inline constexpr u64 kSigreturnFlags = kRflagsAc | kRflagsOf | kRflagsDf | kRflagsTf | kRflagsSf |
                                       kRflagsZf | kRflagsAf | kRflagsPf | kRflagsCf | kRflagsRf;

// --- Guest ABI structures ---------------------------------------------------

// Linux's siginfo_t for x86-64 (128 bytes), with the union members the
// kernel fills.
struct SigInfo {
    i32 signo = 0;
    i32 errno_ = 0;
    i32 code = 0;
    i32 pad = 0;
    union {
        struct {  // kill, tkill, SI_USER
            i32 pid;
            u32 uid;
        } kill;
        struct {  // SIGCHLD
            i32 pid;
            u32 uid;
            i32 status;
            i32 pad;
            i64 utime, stime;
        } chld;
        struct {  // SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGTRAP
            u64 addr;
        } fault;
        struct {  // POSIX timers
            i32 tid;
            i32 overrun;
            u64 value;
        } timer;
        struct {  // sigqueue, mq_notify
            i32 pid;
            u32 uid;
            u64 value;
        } rt;
        u8 raw[112];
    } u{};
};
static_assert(sizeof(SigInfo) == 128);

// stack_t (uc_stack, sigaltstack(2)).
struct SigStack {
    u64 sp;
    i32 flags;
    i32 pad;
    u64 size;
};
static_assert(sizeof(SigStack) == 24);

// struct sigcontext (uc_mcontext) for 64-bit code; glibc's mcontext_t.
struct SigContext {
    u64 r8, r9, r10, r11, r12, r13, r14, r15;
    u64 rdi, rsi, rbp, rbx, rdx, rax, rcx, rsp, rip, eflags;
    u16 cs, gs, fs, ss;  // Linux writes gs = fs = 0; ss was __pad0 before 4.6
    u64 err, trapno, oldmask, cr2;
    u64 fpstate;  // guest address of the FPU state, 0 for none
    u64 reserved1[8];
};
static_assert(sizeof(SigContext) == 256);

// The kernel's struct ucontext: its sigset is 8 bytes (glibc's ucontext_t
// has a 128-byte one and more after it, which the kernel never writes).
struct UContext {
    u64 flags;
    u64 link;
    SigStack stack;
    SigContext mcontext;
    u64 sigmask;
};
static_assert(sizeof(UContext) == 304);

// struct rt_sigframe (x86-64): where the handler's rsp points.
struct RtSigFrame {
    u64 pretcode;  // sa_restorer: the handler's return address
    UContext uc;
    SigInfo info;
};
static_assert(sizeof(RtSigFrame) == 440);

// The 512-byte FXSAVE image (64-bit form, as FXSAVE64 writes it): Linux's
// struct _fpstate_64 / fxregs_state, glibc's struct _libc_fpstate.
struct FxsaveArea {
    u16 fcw;
    u16 fsw;
    u8 ftw;  // abridged tag: one bit per register, 1 = valid
    u8 reserved0;
    u16 fop;
    u64 fip;
    u64 fdp;
    u32 mxcsr;
    u32 mxcsr_mask;
    u8 st[8][16];  // ST0-7 / MM0-7, 10 bytes used of each 16
    u8 xmm[16][16];
    u8 reserved1[48];
    u8 sw_reserved[48];  // for software: Linux's fpx_sw_bytes (zero here)
};
static_assert(sizeof(FxsaveArea) == 512);

// Linux's struct _fpx_sw_bytes: FxsaveArea::sw_reserved in a frame that
// holds an XSAVE image.
struct FpxSwBytes {
    u32 magic1;         // kFpXstateMagic1
    u32 extended_size;  // xstate_size + 4: the image and FP_XSTATE_MAGIC2
    u64 xfeatures;      // the components in the image (XCR0)
    u32 xstate_size;    // the image's size; FP_XSTATE_MAGIC2 follows it
    u32 padding[7];
};
static_assert(sizeof(FpxSwBytes) == 48);
inline constexpr u32 kFpXstateMagic1 = 0x46505853;  // "SXPF"
inline constexpr u32 kFpXstateMagic2 = 0x46505845;  // "EXPF"
// The XSAVE header that follows the legacy area: XSTATE_BV, XCOMP_BV.
inline constexpr u64 kXsaveHeaderOffset = 512;
inline constexpr u64 kXsaveMinSize = 576;

static_assert(GuestAbi<SigInfo> && GuestAbi<SigStack> && GuestAbi<SigContext> &&
              GuestAbi<UContext> && GuestAbi<RtSigFrame> && GuestAbi<FxsaveArea> &&
              GuestAbi<FpxSwBytes>);

// A thread's FPU state as an XSAVE image in the standard format (what
// KVM_GET_XSAVE gives): `image` holds at least its first `size` bytes;
// `features` are the components the guest has (its XCR0), x87 and SSE
// always among them.
struct XsaveImage {
    std::span<const u8> image;
    u64 features = 3;
};

// --- FPU state --------------------------------------------------------------

// A thread's x87/SSE state. Mirrors struct kvm_fpu field for field (and byte
// for byte, pads included) so the caller can memcpy KVM_GET_FPU's result in
// and KVM_SET_FPU's argument out without this file including <linux/kvm.h>.
struct FpuState {
    u8 fpr[8][16]{};  // ST0-7 in the FXSAVE slot format
    u16 fcw = 0;
    u16 fsw = 0;
    u8 ftwx = 0;  // abridged tag byte, as in FXSAVE
    u8 pad1 = 0;
    u16 last_opcode = 0;
    u64 last_ip = 0;
    u64 last_dp = 0;
    u8 xmm[16][16]{};
    u32 mxcsr = 0;
    u32 pad2 = 0;
    bool operator==(const FpuState&) const = default;
};
static_assert(sizeof(FpuState) == 416);

// The MXCSR bits this CPU implements (FXSAVE's MXCSR_MASK; 0xffbf if the
// CPU reports 0, as the SDM says): 0xffff with DAZ on Intel, 0x2ffff on AMD
// (MM, misaligned-exception mask). Guests run on this CPU, so it is theirs
// too: images we make carry it, and a restored MXCSR may set no other bit
// (FXRSTOR would fault), exactly Linux's mxcsr_feature_mask.
u32 mxcsr_feature_mask();

// The state Linux gives a new thread and a signal handler: FCW 0x37f (all
// exceptions masked, 64-bit precision), MXCSR 0x1f80, everything else zero.
FpuState fpu_init_state();

// FpuState <-> FXSAVE image. The image gets MXCSR_MASK =
// mxcsr_feature_mask() and zero reserved and software bytes; the way back
// ignores those.
FxsaveArea fxsave_from_fpu(const FpuState& fpu);
FpuState fpu_from_fxsave(const FxsaveArea& fx);

// --- Alternate signal stack -------------------------------------------------

// A thread's sigaltstack, as Linux keeps it (sas_ss_sp, sas_ss_size,
// sas_ss_flags): size 0 means disabled; flags are the raw flags
// sigaltstack(2) stored: 0 or SS_AUTODISARM while enabled, SS_DISABLE after
// disabling or a reset, and 0 in a process that never called it (the
// default here). The frame's uc_stack.ss_flags carries them as they are.
struct AltStack {
    u64 sp = 0;
    u64 size = 0;
    u32 flags = 0;
    bool operator==(const AltStack&) const = default;
};

// What Linux's sas_ss_reset() leaves: a new thread's altstack (clone with
// CLONE_VM and without CLONE_VFORK), and one disarmed by SS_AUTODISARM.
inline constexpr AltStack kAltStackReset{0, 0, kSsDisable};

// Whether `sp` is on the altstack, as Linux's on_sig_stack(): never while
// SS_AUTODISARM is set (the stack is disarmed while a handler runs on it).
bool on_altstack(const AltStack& alt, u64 sp);

// sigaltstack(2)'s view for a thread at `sp`: SS_DISABLE, SS_ONSTACK or 0
// (Linux's sas_ss_flags(); the caller ORs in SS_AUTODISARM when reporting).
u32 altstack_status(const AltStack& alt, u64 sp);

// --- Delivery ---------------------------------------------------------------

// Guest memory access for the frame code. They return EFAULT (or another
// errno) when the range cannot be written or read; they may have copied a
// part by then.
using GuestWriter = std::function<Result<void>(u64 addr, const void* data, u64 len)>;
using GuestReader = std::function<Result<void>(u64 addr, void* data, u64 len)>;

// One signal about to enter a handler.
struct SignalDelivery {
    int sig = 0;
    SigInfo info;                  // copied to the frame only with SA_SIGINFO
    u64 handler = 0;               // sa_handler / sa_sigaction
    u64 flags = 0;                 // sa_flags (SA_*)
    u64 restorer = 0;              // sa_restorer (needs SA_RESTORER)
    u64 blocked_mask_before = 0;   // the mask to restore at sigreturn (uc_sigmask)
    AltStack altstack;             // the thread's sigaltstack at delivery
    // The thread's last trap as Linux keeps it (thread.trap_nr, error_code,
    // cr2) for uc_mcontext; zero when nothing has trapped.
    u64 trapno = 0;
    u64 error_code = 0;
    u64 cr2 = 0;
};

// Where a frame goes (all guest addresses).
struct SigFrameLayout {
    u64 frame = 0;    // struct RtSigFrame; the handler's rsp
    u64 fpstate = 0;  // the FPU save area, 64-byte aligned
    u64 uc = 0;       // frame + 8, the handler's rdx
    u64 info = 0;     // frame + 312, the handler's rsi
};

// Linux's get_sigframe(): picks the stack for a thread at `rsp` (the
// altstack's top when `sa_flags` has SA_ONSTACK and the thread is not
// already on it; otherwise rsp below the red zone), carves `fpstate_size`
// bytes for the FPU state and then the frame. EFAULT when the frame would
// leave an altstack it is on or entering (Linux then kills with SIGSEGV).
// setup_rt_frame uses fpstate_size = 512; other sizes model XSAVE frames.
Result<SigFrameLayout> sigframe_layout(u64 rsp, u64 sa_flags, const AltStack& alt,
                                       u64 fpstate_size);

struct SetupResult {
    SigFrameLayout layout;
    // The thread's altstack from now on: kAltStackReset if it had
    // SS_AUTODISARM, otherwise unchanged. The frame keeps the old one, which
    // rt_sigreturn gives back.
    AltStack altstack;
};

// Builds the rt_sigframe for `d` below regs.rsp, writing it through `write`,
// then points `regs` at the handler: rip = handler, rsp = frame, rdi = sig,
// rsi = &info, rdx = &uc, rax = 0, and DF, TF and RF cleared in rflags;
// every other register keeps its value, as on Linux. `fpu` is the state
// the interrupted code had.
//
// Errors (regs untouched): EFAULT if SA_RESTORER is missing (x86-64 Linux
// has no fallback trampoline), the frame would overflow the altstack, or
// `write` fails — partly written frames are then garbage below the stack
// pointer. On any error the caller forces SIGSEGV, as Linux does.
//
// Left to the caller, as Linux does them around its setup_rt_frame: syscall
// restart (rax/rip) before the call; after it, blocking sa_mask and the
// signal (unless SA_NODEFER), SA_RESETHAND, storing SetupResult::altstack,
// and starting the handler with fpu_init_state().
Result<SetupResult> setup_rt_frame(vmspace::UserRegs& regs, const SignalDelivery& d,
                                   const FpuState& fpu, const GuestWriter& write);
// The same with the XSAVE frame Linux builds on a CPU with XSAVE: `xs`'s
// image with the software bytes and FP_XSTATE_MAGIC2 added, XSTATE_BV
// always including x87 and SSE, UC_FP_XSTATE in uc_flags.
Result<SetupResult> setup_rt_frame(vmspace::UserRegs& regs, const SignalDelivery& d,
                                   const XsaveImage& xs, const GuestWriter& write);

// AT_MINSIGSTKSZ: the most stack a signal frame with this FPU state size
// can take, by Linux's formula (init_sigframe_size): frame and state, each
// with its worst alignment padding, rounded up to 16.
u64 min_signal_stack_size(u64 xsave_size);

struct SigreturnResult {
    u64 mask = 0;        // uc_sigmask; the caller drops SIGKILL and SIGSTOP
    FpuState fpu;        // the state to load (the init state if !fpu_valid)
    bool fpu_valid = false;  // the frame had an FPU state (fpstate != 0)
    // With restore_rt_frame's `xsave` argument: the XSAVE image to load (its
    // XSTATE_BV says which components it sets; the rest go to their init
    // state), empty when the frame had no FPU state at all.
    std::vector<u8> xsave;
    // uc_stack, to apply as sigaltstack(2) would with the restored rsp,
    // ignoring any error (Linux's restore_altstack: EPERM while on the
    // current altstack, EINVAL, ENOMEM are squashed).
    AltStack altstack;
};

// rt_sigreturn: reads the frame whose pretcode the handler's `ret` popped
// (at regs.rsp - 8) and restores every general register, rip and rsp from
// it; rflags takes only the kSigreturnFlags bits from the frame; fs_base and
// gs_base are untouched, and CS/SS stay the 64-bit user selectors (a frame
// cannot switch to 32-bit code here). The restored rax is the syscall's
// result: the caller must return regs.rax and must not restart the call.
//
// Errors (regs untouched; the caller forces SIGSEGV, Linux's badframe):
// the reader's (EFAULT), or EINVAL for an FPU image FXRSTOR would refuse
// (not 16-byte aligned, reserved MXCSR bits set).
Result<SigreturnResult> restore_rt_frame(vmspace::UserRegs& regs, const GuestReader& read);
// The same for a guest with XSAVE (`xsave` says which components it has
// and their image's size; its bytes are not used): fills `xsave` in the
// result. An XSAVE frame whose magics or sizes do not check out is read as
// FXSAVE-only (x87/SSE from the legacy area, the rest in init state), as
// Linux does; one that XRSTOR would refuse (misaligned, XCOMP_BV or header
// reserved bits set, components the guest lacks, bad MXCSR) is EINVAL.
Result<SigreturnResult> restore_rt_frame(vmspace::UserRegs& regs, const GuestReader& read,
                                         const XsaveImage& xsave);

}  // namespace vk
