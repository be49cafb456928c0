#pragma once

#include "base/types.h"

namespace vk::vmspace {

// The user-mode register state of one guest thread, as the vmspace runs it
// and as a trap leaves it. The syscall ABI reads it directly: number in rax,
// arguments in rdi, rsi, rdx, r10, r8, r9, result back in rax.
struct UserRegs {
    u64 rax = 0, rbx = 0, rcx = 0, rdx = 0, rsi = 0, rdi = 0, rsp = 0, rbp = 0;
    u64 r8 = 0, r9 = 0, r10 = 0, r11 = 0, r12 = 0, r13 = 0, r14 = 0, r15 = 0;
    u64 rip = 0;
    u64 rflags = 0x202;  // IF set, as Linux starts user code
    u64 fs_base = 0;
    u64 gs_base = 0;
};

// Why run() came back.
enum class TrapKind {
    kSyscall,      // the guest executed `syscall`; rip is already past it
    kPageFault,    // #PF at `address`; rip is the faulting instruction
    kException,    // any other CPU exception (`vector`, `error_code`)
    kInterrupted,  // another thread kicked the vCPU, or a host signal arrived
};

// x86 exception vectors the kernel turns into signals.
enum Vector : u8 {
    kVecDivide = 0,
    kVecDebug = 1,
    kVecBreakpoint = 3,
    kVecOverflow = 4,
    kVecBound = 5,
    kVecInvalidOpcode = 6,
    kVecDeviceNotAvailable = 7,
    kVecDoubleFault = 8,
    kVecInvalidTss = 10,
    kVecSegmentNotPresent = 11,
    kVecStackFault = 12,
    kVecGeneralProtection = 13,
    kVecPageFault = 14,
    kVecX87 = 16,
    kVecAlignment = 17,
    kVecMachineCheck = 18,
    kVecSimd = 19,
};

// The outcome of one run() as a value.
struct Trap {
    TrapKind kind = TrapKind::kInterrupted;
    u8 vector = 0;       // kPageFault: 14; kException: the vector
    u64 error_code = 0;  // as pushed by the CPU (0 for vectors without one)
    u64 address = 0;     // kPageFault: the faulting address (CR2)

    // Page-fault error code decoded.
    bool present() const { return error_code & 1; }
    bool write() const { return error_code & 2; }
    bool user() const { return error_code & 4; }
    bool exec() const { return error_code & 16; }
};

}  // namespace vk::vmspace
