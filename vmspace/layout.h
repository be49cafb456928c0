#pragma once

// Where the vmspace puts its own structures in every guest address space.
// Everything lives in the top 512 GiB (PML4 slot 511), supervisor-only,
// except the syscall trampoline page, which must be user-executable on PVM
// (DESIGN.md, "This machine's KVM").

#include "base/types.h"

namespace vk::vmspace {

inline constexpr u64 kKernelBase = 0xffff'ff80'0000'0000ULL;
inline constexpr u64 kIdtVa = kKernelBase + 0x0000;
inline constexpr u64 kStubsVa = kKernelBase + 0x1000;        // 256 stubs x 16 bytes
inline constexpr u64 kSyscallPageVa = kKernelBase + 0x2000;  // user-executable, read-only
inline constexpr u64 kVcpuAreaVa = kKernelBase + 0x10'0000;  // one area per vCPU
inline constexpr u64 kVcpuAreaSize = 0x1'0000;
// Inside a vCPU area: GDT page, TSS (3 pages: 104 bytes + 8 KiB I/O bitmap),
// then the ring-0 stack used for exceptions (TSS.RSP0).
inline constexpr u64 kAreaGdt = 0x0000;
inline constexpr u64 kAreaTss = 0x1000;
inline constexpr u64 kTssPages = 3;
inline constexpr u64 kAreaStack = 0x8000;
inline constexpr u64 kStackPages = 2;
inline constexpr unsigned kMaxVcpus = 64;

// Lowest address user mappings may not reach: the upper half belongs to us.
inline constexpr u64 kUserTop = 0x0000'8000'0000'0000ULL;

// GDT selectors, laid out for syscall/sysret as Linux does.
inline constexpr u16 kKernelCs = 0x10;
inline constexpr u16 kKernelDs = 0x18;
inline constexpr u16 kUserCs32 = 0x23;
inline constexpr u16 kUserDs = 0x2b;
inline constexpr u16 kUserCs = 0x33;
inline constexpr u16 kTssSel = 0x40;

// I/O ports the trampolines use to leave the guest.
inline constexpr u16 kSyscallPort = 0xe0;
inline constexpr u16 kExceptionPort = 0xe1;
// kFastDonePort (fast_syscall.h) is 0xe2.

// Offsets of instructions inside the stubs (see trampoline.cpp).
inline constexpr u64 kStubSize = 16;
inline constexpr u64 kStubResumeOffset = 9;  // the `add rsp, 16` after `out`

}  // namespace vk::vmspace
