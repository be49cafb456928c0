#pragma once

// Syscalls answered in the guest, without a VM exit (PVM only).
//
// On PVM every exit costs ~28 us, and a few syscalls need nothing the guest
// cannot see: rt_sigprocmask, gettid, getpid. Each vCPU's LSTAR then points
// at its own copy of the fast syscall page (fast_syscall.S), which answers
// those from the running thread's slot in its address space's kernel page
// and sends every other call out as the plain trampoline does.
//
// The kernel page is one page per VmSpace at kKernelPageVa, in the upper
// half slot each user page table owns (pmap::kPrivateUpperSlot), readable and
// writable by the guest's user mode as the PVM stub runs there (like the
// syscall trampoline page): it holds only the process's own threads' masks,
// ids and the stub's stash, never another process's. Slot i belongs to
// vCPU i: the kernel writes it before each run of a thread (its signal mask,
// its pending signals, its ids) and reads the mask back after.
//
// After any exit, Vcpu::run looks at where the stub was stopped (the layout
// below) and reports the call as not yet made (a kSyscall trap: the host
// does it) or as done (kInterrupted, result in rax), never as a stop inside
// the stub.

#include <cstddef>

#include "base/types.h"

namespace vk::vmspace {

inline constexpr u64 kKernelPageVa = 0xffff'ff00'0000'0000ULL;

// One vCPU's slot in the kernel page (fast_syscall.S's SLOT_* offsets).
struct FastSlot {
    u64 mask;     // the running thread's blocked signals (bit n-1: signal n)
    u64 pending;  // its pending signals, thread and process
    u64 tid;
    u64 pid;
    u64 rcx;      // the stub's stash: return address
    u64 r11;      // user flags
    u64 r8;
    u64 r9;
};
static_assert(sizeof(FastSlot) == 64);
inline constexpr unsigned kFastSlots = 4096 / sizeof(FastSlot);

// fast_syscall.S's code and the offsets the host needs in it.
struct FastSyscallLayout {
    u64 size;         // bytes of code
    u64 patch_stash;  // imm64 fields to which the slot's address is added
    u64 patch_base;
    u64 fast;          // before: rcx and r11 as `syscall` left them
    u64 prologue_end;  // before: nothing done yet
    u64 done;          // before: the call is not made; from here on it is
    u64 result;        // up to here the result is in r8, then in rax
};

extern "C" const unsigned char vk_fast_syscall_code[];
extern "C" const FastSyscallLayout vk_fast_syscall_layout;

// I/O port of the stub's exit after a fast call when a signal is pending.
inline constexpr u16 kFastDonePort = 0xe2;

}  // namespace vk::vmspace
