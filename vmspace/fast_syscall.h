#pragma once

// Syscalls answered in the guest, without a VM exit, and FPU state saved
// without a vCPU ioctl (PVM only).
//
// On PVM every exit costs ~28 us, and a few syscalls need nothing the guest
// cannot see: rt_sigprocmask, gettid, getpid, brk(0) (and, for an address
// space's only user, brk moving up within its last page), prlimit64 reading
// this process's limits, getrandom of up to 64 bytes (from a pool the host
// fills), arch_prctl's FS base (wrfsbase and rdfsbase, when the host CPU
// lets user mode use them; the host reads the base back after each run),
// and the registrations set_robust_list, set_tid_address and rseq (checked
// and recorded here, picked up by the host after the run). Each vCPU's LSTAR points at
// the fast syscall page (fast_syscall.S), which answers those from the
// running thread's slot and sends every other call out as the plain
// trampoline does, saving the FPU state (XSAVE) into the vCPU's area on the
// way, so that switching threads after a syscall takes the outgoing state
// from there instead of KVM_GET_XSAVE (~5-15 us). The other direction goes
// the same way: the host copies the incoming state into the area and enters
// the guest at the page's restore entry (XRSTOR, then the thread's rip)
// instead of KVM_SET_XSAVE. (A first try of that, session 3, saw the next
// user page fault reported at the entry's address: that was a fault left
// pending in KVM by a preemption and delivered to the next thread loaded,
// fixed since in Vcpu::run.)
//
// Layout, in the upper-half PML4 slot each user page table owns
// (pmap::kPrivateUpperSlot): for vCPU i, at kFastBaseVa + i * kFastBlock,
// one code page (the same frame in every space, read-only and executable by
// the guest's user mode, where the PVM stub runs) and one data page of this
// space (read-write for the same reason): the slot, then the XSAVE area.
// They hold only this process's threads' state.
//
// The kernel writes the slot before each run of a thread (its signal mask,
// its pending signals, its ids) and reads the mask back after. After any
// exit, Vcpu::run looks at where the stub was stopped (the layout below) and
// reports the call as not yet made (a kSyscall trap: the host does it) or as
// done (kInterrupted, result in rax), never as a stop inside the stub.

#include <cstddef>

#include "base/types.h"

namespace vk::vmspace {

inline constexpr u64 kFastBaseVa = 0xffff'ff00'0000'0000ULL;
inline constexpr u64 kFastBlock = 0x2000;  // code page, data page
inline constexpr unsigned kFastSlots = 32;  // vCPUs with a fast path

// The start of one vCPU's data page (fast_syscall.S's SLOT_* offsets).
// The guest can write all of it (its user mode runs the stub): the kernel
// checks whatever it takes back (fast_leave).
struct FastSlot {
    u64 mask;     // the running thread's blocked signals (bit n-1: signal n)
    u64 pending;  // its pending signals, thread and process
    u64 tid;
    u64 pid;
    u64 rcx;      // the stub's stash: return address (the restore entry's rip)
    u64 r11;      // user flags
    u64 r8;
    u64 r9;
    u64 rax;      // the stash around XSAVE on the way out
    u64 rdx;
    u64 robust_head;  // set_robust_list's head, when robust_set
    u64 fpu_saved;   // 1: the area holds the state at the last syscall exit
    u64 xfeatures;   // the XSAVE components saved
    u64 robust_set;  // 1: the thread called set_robust_list (the host clears it)
    u64 ctid;        // set_tid_address's pointer, when ctid_set
    u64 ctid_set;    // 1: the thread called set_tid_address (the host clears it)
    u64 rseq_area;   // the thread's rseq area (0: none); the new one when rseq_set
    u64 rseq_sig;    // the signature of a registration made here
    u64 rseq_set;    // 1: the thread registered rseq_area here (the host clears it)
    u64 cpu;         // this vCPU's number (rseq's cpu_id and mm_cid)
    u64 brk;         // the process's program break, for brk(0)
    u64 limits_valid;  // 1: the page's limits table holds the process's rlimits
    u64 random_left;   // unused bytes at the end of `random` (getrandom)
    u32 fsgsbase;      // 1: the guest may use wrfsbase/rdfsbase (arch_prctl)
    // 1: the thread is its address space's only user, so brk may move the
    // break within its last page here (the host takes it back after the run).
    u32 brk_alone;
    u8 random[64];     // random bytes for getrandom, each handed out once
};
static_assert(sizeof(FastSlot) == 256);
inline constexpr u64 kFastAreaOffset = 256;  // the XSAVE area in the data page (64-aligned)
inline constexpr u64 kFastRandomBytes = sizeof(FastSlot::random);
// prlimit64's answers: the process's 16 rlimits, {cur, max} each, at the
// end of the data page (the XSAVE area must end before it).
inline constexpr u64 kFastLimitsOffset = 0xf00;
inline constexpr unsigned kFastLimits = 16;

// fast_syscall.S's code and the offsets the host needs in it.
struct FastSyscallLayout {
    u64 size;          // bytes of code
    u64 syscall_end;   // the syscall entry's code ends here (the restore entry follows)
    u64 slow;          // the exit path of the other calls
    u64 slow_stashed;  // from here to `fast`, rax and rdx are in the slot
    u64 fast;          // the prologue of the calls answered here
    u64 prologue_end;  // before: nothing done yet, rcx and r11 as `syscall` left them
    u64 done;          // before: the call is not made; from here on it is
    u64 result;        // up to here the result is in r8, then in rax
    u64 restore;       // the FPU restore entry, to the end: XRSTOR, then the thread's rip
};

extern "C" const unsigned char vk_fast_syscall_code[];
extern "C" const FastSyscallLayout vk_fast_syscall_layout;

// I/O port of the stub's exit after a fast call when a signal is pending.
inline constexpr u16 kFastDonePort = 0xe2;

}  // namespace vk::vmspace
