// Signal state: actions and masks are recorded; delivery comes with the
// process issue.

#include <signal.h>

#include "syscalls/syscalls.h"
#include "vkernel/user_memory.h"

namespace vk::sys {

namespace {

constexpr u64 kSigsetSize = 8;
constexpr i32 kSsAutodisarm = 1 << 31;  // SS_AUTODISARM, from <linux/signal.h>
constexpr u64 kMinSigStkSz = 2048;      // the kernel's MINSIGSTKSZ
constexpr u64 kUnblockable = (1ULL << (SIGKILL - 1)) | (1ULL << (SIGSTOP - 1));

struct StackT {
    u64 sp;
    i32 flags;
    i32 pad;
    u64 size;
};

}  // namespace

Result<long> sys_rt_sigaction(Task& task, const SyscallArgs& a) {
    const int sig = static_cast<int>(a[0]);
    if (a[3] != kSigsetSize) return err(EINVAL);
    if (sig < 1 || sig > kNsig) return err(EINVAL);
    SigAction& slot = task.process.actions[sig - 1];
    SigAction next{};
    if (a[1]) {
        if (sig == SIGKILL || sig == SIGSTOP) return err(EINVAL);
        next = VK_TRY(copy_in(task.mm(), UserPtr<SigAction>(a[1])));
        next.mask &= ~kUnblockable;
    }
    if (a[2]) VK_TRY(copy_out(task.mm(), UserPtr<SigAction>(a[2]), slot));
    if (a[1]) slot = next;
    return 0;
}

Result<long> sys_rt_sigprocmask(Task& task, const SyscallArgs& a) {
    const int how = static_cast<int>(a[0]);
    if (a[3] != kSigsetSize) return err(EINVAL);
    u64 set = 0;
    if (a[1]) {
        set = VK_TRY(copy_in(task.mm(), UserPtr<u64>(a[1])));
        if (how != SIG_BLOCK && how != SIG_UNBLOCK && how != SIG_SETMASK) return err(EINVAL);
    }
    if (a[2]) VK_TRY(copy_out(task.mm(), UserPtr<u64>(a[2]), task.sigmask));
    if (a[1]) {
        switch (how) {
        case SIG_BLOCK: task.sigmask |= set; break;
        case SIG_UNBLOCK: task.sigmask &= ~set; break;
        default: task.sigmask = set; break;
        }
        task.sigmask &= ~kUnblockable;
    }
    return 0;
}

Result<long> sys_sigaltstack(Task& task, const SyscallArgs& a) {
    if (a[1]) {
        const StackT old{task.altstack_sp, task.altstack_sp ? 0 : SS_DISABLE, 0, task.altstack_size};
        VK_TRY(copy_out(task.mm(), UserPtr<StackT>(a[1]), old));
    }
    if (a[0]) {
        const StackT ss = VK_TRY(copy_in(task.mm(), UserPtr<StackT>(a[0])));
        if (ss.flags & ~(SS_DISABLE | kSsAutodisarm)) return err(EINVAL);
        if (ss.flags & SS_DISABLE) {
            task.altstack_sp = task.altstack_size = 0;
        } else {
            if (ss.size < kMinSigStkSz) return err(ENOMEM);
            task.altstack_sp = ss.sp;
            task.altstack_size = ss.size;
        }
    }
    return 0;
}

}  // namespace vk::sys
