// Process and thread identity, exit, and per-thread setup calls.

#include <asm/prctl.h>
#include <sys/resource.h>

#include <algorithm>
#include <cstring>

#include "syscalls/syscalls.h"
#include "vkernel/user_memory.h"

namespace vk::sys {

Result<long> sys_exit(Task& task, const SyscallArgs& a) {
    // With one thread per process, exit ends the process as exit_group does.
    return sys_exit_group(task, a);
}

Result<long> sys_exit_group(Task& task, const SyscallArgs& a) {
    task.process.exited = true;
    task.process.exit_status = static_cast<int>((a[0] & 0xff) << 8);
    return 0;
}

Result<long> sys_getpid(Task& task, const SyscallArgs&) { return task.process.pid; }
Result<long> sys_gettid(Task& task, const SyscallArgs&) { return task.tid; }
Result<long> sys_getppid(Task& task, const SyscallArgs&) { return task.process.ppid; }
Result<long> sys_getuid(Task& task, const SyscallArgs&) { return task.process.uid; }
Result<long> sys_geteuid(Task& task, const SyscallArgs&) { return task.process.euid; }
Result<long> sys_getgid(Task& task, const SyscallArgs&) { return task.process.gid; }
Result<long> sys_getegid(Task& task, const SyscallArgs&) { return task.process.egid; }
Result<long> sys_getpgrp(Task& task, const SyscallArgs&) { return task.process.pgid; }

Result<long> sys_getpgid(Task& task, const SyscallArgs& a) {
    const int pid = static_cast<int>(a[0]);
    if (pid != 0 && pid != task.process.pid) return err(ESRCH);
    return task.process.pgid;
}

Result<long> sys_getsid(Task& task, const SyscallArgs& a) {
    const int pid = static_cast<int>(a[0]);
    if (pid != 0 && pid != task.process.pid) return err(ESRCH);
    return task.process.sid;
}

Result<long> sys_getresuid(Task& task, const SyscallArgs& a) {
    const Process& p = task.process;
    VK_TRY(copy_out(task.mm(), UserPtr<u32>(a[0]), p.uid));
    VK_TRY(copy_out(task.mm(), UserPtr<u32>(a[1]), p.euid));
    VK_TRY(copy_out(task.mm(), UserPtr<u32>(a[2]), p.suid));
    return 0;
}

Result<long> sys_getresgid(Task& task, const SyscallArgs& a) {
    const Process& p = task.process;
    VK_TRY(copy_out(task.mm(), UserPtr<u32>(a[0]), p.gid));
    VK_TRY(copy_out(task.mm(), UserPtr<u32>(a[1]), p.egid));
    VK_TRY(copy_out(task.mm(), UserPtr<u32>(a[2]), p.sgid));
    return 0;
}

Result<long> sys_umask(Task& task, const SyscallArgs& a) {
    const u32 old = task.process.umask;
    task.process.umask = static_cast<u32>(a[0]) & 0777;
    return old;
}

Result<long> sys_arch_prctl(Task& task, const SyscallArgs& a) {
    constexpr u64 kUserLimit = 0x0000'8000'0000'0000ULL;
    switch (a[0]) {
    case ARCH_SET_FS:
        if (a[1] >= kUserLimit) return err(EPERM);
        task.regs.fs_base = a[1];
        return 0;
    case ARCH_SET_GS:
        if (a[1] >= kUserLimit) return err(EPERM);
        task.regs.gs_base = a[1];
        return 0;
    case ARCH_GET_FS:
        VK_TRY(copy_out(task.mm(), UserPtr<u64>(a[1]), task.regs.fs_base));
        return 0;
    case ARCH_GET_GS:
        VK_TRY(copy_out(task.mm(), UserPtr<u64>(a[1]), task.regs.gs_base));
        return 0;
    default:
        return err(EINVAL);  // includes the CET queries glibc makes
    }
}

Result<long> sys_set_tid_address(Task& task, const SyscallArgs& a) {
    task.clear_child_tid = a[0];
    return task.tid;
}

Result<long> sys_set_robust_list(Task& task, const SyscallArgs& a) {
    if (a[1] != 24) return err(EINVAL);  // sizeof(struct robust_list_head)
    task.robust_list = a[0];
    task.robust_len = a[1];
    return 0;
}

Result<long> sys_rseq(Task& task, const SyscallArgs& a) {
    constexpr u64 kRseqLen = 32;
    constexpr u64 kUnregister = 1;
    const u64 addr = a[0], len = a[1], flags = a[2];
    if (flags & kUnregister) {
        if (task.rseq != addr) return err(EINVAL);
        task.rseq = 0;
        return 0;
    }
    if (flags) return err(EINVAL);
    if (task.rseq) return err(task.rseq == addr ? EBUSY : EINVAL);
    if (len < kRseqLen || (addr & (kRseqLen - 1))) return err(EINVAL);
    // cpu_id_start and cpu_id: every thread runs on vCPU 0 for now.
    const u32 cpu[2] = {0, 0};
    VK_TRY(copy_out_bytes(task.mm(), addr, cpu, sizeof cpu));
    task.rseq = addr;
    return 0;
}

Result<long> sys_prctl(Task& task, const SyscallArgs& a) {
    constexpr u64 kSetName = 15, kGetName = 16;
    char name[16] = {};
    switch (a[0]) {
    case kSetName: {
        const u64 n = copy_in_partial(task.mm(), a[1], name, sizeof name - 1);
        if (n == 0) return err(EFAULT);
        task.comm.assign(name, strnlen(name, n));
        return 0;
    }
    case kGetName:
        std::memcpy(name, task.comm.data(), std::min<std::size_t>(task.comm.size(), 15));
        VK_TRY(copy_out_bytes(task.mm(), a[1], name, sizeof name));
        return 0;
    default:
        return err(EINVAL);
    }
}

Result<long> sys_sched_yield(Task&, const SyscallArgs&) { return 0; }

Result<long> sys_sched_getaffinity(Task& task, const SyscallArgs& a) {
    const int pid = static_cast<int>(a[0]);
    if (pid != 0 && pid != task.process.pid) return err(ESRCH);
    const u64 len = a[1];
    if (len < sizeof(u64) || (len % sizeof(u64))) return err(EINVAL);
    const u64 mask = 1;  // one vCPU
    VK_TRY(copy_out(task.mm(), UserPtr<u64>(a[2]), mask));
    return sizeof(u64);
}

namespace {

struct Rlimit {
    u64 cur, max;
};

void init_limits(Process& p) {
    if (p.rlimits[RLIMIT_STACK][1] != 0) return;
    for (auto& l : p.rlimits) l = {RLIM_INFINITY, RLIM_INFINITY};
    p.rlimits[RLIMIT_STACK] = {8ULL << 20, RLIM_INFINITY};
    p.rlimits[RLIMIT_NOFILE] = {1024, 4096};
    p.rlimits[RLIMIT_CORE] = {0, RLIM_INFINITY};
    p.rlimits[RLIMIT_NPROC] = {4096, 4096};
    p.rlimits[RLIMIT_SIGPENDING] = {4096, 4096};
    p.rlimits[RLIMIT_MSGQUEUE] = {819200, 819200};
    p.rlimits[RLIMIT_MEMLOCK] = {8ULL << 20, 8ULL << 20};
    p.rlimits[RLIMIT_NICE] = {0, 0};
    p.rlimits[RLIMIT_RTPRIO] = {0, 0};
}

Result<long> do_prlimit(Task& task, u64 resource, u64 new_addr, u64 old_addr) {
    Process& p = task.process;
    if (resource >= p.rlimits.size()) return err(EINVAL);
    init_limits(p);
    Rlimit nl{};
    if (new_addr) {
        nl = VK_TRY(copy_in(task.mm(), UserPtr<Rlimit>(new_addr)));
        if (nl.cur > nl.max) return err(EINVAL);
        if (nl.max > p.rlimits[resource][1] && p.euid != 0) return err(EPERM);
    }
    if (old_addr) {
        const Rlimit ol{p.rlimits[resource][0], p.rlimits[resource][1]};
        VK_TRY(copy_out(task.mm(), UserPtr<Rlimit>(old_addr), ol));
    }
    if (new_addr) p.rlimits[resource] = {nl.cur, nl.max};
    return 0;
}

}  // namespace

Result<long> sys_prlimit64(Task& task, const SyscallArgs& a) {
    const int pid = static_cast<int>(a[0]);
    if (pid != 0 && pid != task.process.pid) return err(ESRCH);
    return do_prlimit(task, a[1], a[2], a[3]);
}

Result<long> sys_getrlimit(Task& task, const SyscallArgs& a) { return do_prlimit(task, a[0], 0, a[1]); }
Result<long> sys_setrlimit(Task& task, const SyscallArgs& a) { return do_prlimit(task, a[0], a[1], 0); }

}  // namespace vk::sys
