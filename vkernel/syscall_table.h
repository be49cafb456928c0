#pragma once

// The type of the syscall table. The kernel defines it and dispatches through
// it; syscalls/ fills it in (the Linux x86-64 personality); main connects the
// two, so the kernel never includes the personality.

#include <array>

#include "base/result.h"
#include "base/types.h"

namespace vk {

class Task;

struct SyscallArgs {
    u64 a[6] = {};
    u64 operator[](int i) const { return a[i]; }
};

// How --strace shows an argument.
enum class ArgKind : u8 {
    kNone,   // not an argument of this syscall
    kInt,    // signed decimal
    kUns,    // unsigned decimal
    kHex,    // flags, addresses
    kFd,
    kStr,    // NUL-terminated guest string
    kBuf,    // guest buffer, shown by address
};

using SyscallFn = Result<long> (*)(Task& task, const SyscallArgs& args);

struct SyscallDesc {
    const char* name = nullptr;  // Linux's name; set for every known number
    SyscallFn fn = nullptr;      // null: not implemented (ENOSYS, reported once)
    std::array<ArgKind, 6> args{};
};

inline constexpr unsigned kSyscallCount = 512;
using SyscallTable = std::array<SyscallDesc, kSyscallCount>;

}  // namespace vk
