#pragma once

// Processes and threads, as far as the first slice needs them: one process
// with one thread, its memory, its credentials and its recorded signal state.

#include <array>
#include <memory>
#include <string>
#include <vector>

#include "base/types.h"
#include "vkernel/mm.h"
#include "vmspace/trap.h"

namespace vk {

class Kernel;

// struct k_sigaction as rt_sigaction(2) passes it on x86-64.
struct SigAction {
    u64 handler = 0;  // SIG_DFL
    u64 flags = 0;
    u64 restorer = 0;
    u64 mask = 0;
};

inline constexpr int kNsig = 64;

// A guest process. Owns its memory map. Guarded by the kernel lock.
class Process {
public:
    int pid = 1, ppid = 0, pgid = 1, sid = 1;
    u32 uid = 0, euid = 0, suid = 0, gid = 0, egid = 0, sgid = 0;
    std::unique_ptr<Mm> mm;
    std::array<SigAction, kNsig> actions{};
    std::string exe;  // path it was started from
    u32 umask = 022;
    // Guest fds 0-2 are the host's stdio until the VFS arrives (-1: closed).
    std::array<int, 3> host_fds{0, 1, 2};
    // getrlimit/setrlimit values: {soft, hard} per RLIMIT_*.
    std::array<std::array<u64, 2>, 16> rlimits{};
    bool exited = false;
    int exit_status = 0;  // wait status: (code << 8) or the signal number
};

// A guest thread: its saved user registers and per-thread kernel state.
class Task {
public:
    Task(Kernel& k, Process& p) : kernel(k), process(p) {}
    Mm& mm() { return *process.mm; }

    Kernel& kernel;
    Process& process;
    int tid = 1;
    vmspace::UserRegs regs;
    u64 sigmask = 0;
    u64 clear_child_tid = 0;
    u64 robust_list = 0, robust_len = 0;
    u64 rseq = 0;
    u64 altstack_sp = 0, altstack_size = 0;
    std::string comm;  // prctl(PR_SET_NAME)
};

}  // namespace vk
