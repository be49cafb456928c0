// Signals: actions, masks, sending, waiting, alternate stacks, timers that
// signal, and the return from a handler.

#include <signal.h>
#include <sys/time.h>

#include "syscalls/syscalls.h"
#include "vkernel/kernel.h"
#include "vkernel/signal_delivery.h"
#include "vkernel/signal_frame.h"
#include "vkernel/user_memory.h"

namespace vk::sys {

namespace {

constexpr u64 kSigsetSize = 8;
constexpr u64 kUnblockable = sigbit(SIGKILL) | sigbit(SIGSTOP);
constexpr u64 kMinSigStkSz = 2048;      // the kernel's MINSIGSTKSZ
constexpr i32 kSiUser = 0, kSiTkill = -6;

struct StackT {
    u64 sp;
    i32 flags;
    i32 pad;
    u64 size;
};

struct Timespec {
    i64 sec, nsec;
};

struct Timeval {
    i64 sec, usec;
};

struct Itimerval {
    Timeval interval, value;
};

KSigInfo user_info(Task& task, int sig, i32 code) {
    KSigInfo info;
    info.signo = sig;
    info.code = code;
    info.u.kill.pid = task.process->pid;
    info.u.kill.uid = task.process->uid;
    return info;
}

bool may_signal(const Process& from, const Process& to) {
    return from.euid == 0 || from.uid == to.uid || from.euid == to.uid || from.uid == to.suid ||
           from.euid == to.suid;
}

}  // namespace

Result<long> sys_rt_sigaction(Task& task, const SyscallArgs& a) {
    const int sig = static_cast<int>(a[0]);
    if (a[3] != kSigsetSize) return err(EINVAL);
    if (sig < 1 || sig > kNsig) return err(EINVAL);
    SigAction& slot = task.process->sighand->actions[sig - 1];
    SigAction next{};
    if (a[1]) {
        if (sig == SIGKILL || sig == SIGSTOP) return err(EINVAL);
        next = VK_TRY(copy_in(task.mm(), UserPtr<SigAction>(a[1])));
        next.mask &= ~kUnblockable;
    }
    if (a[2]) VK_TRY(copy_out(task.mm(), UserPtr<SigAction>(a[2]), slot));
    if (a[1]) {
        slot = next;
        // Setting SIG_IGN (or SIG_DFL for a default-ignored signal) drops it if pending.
        const bool ign = next.handler == 1 || (next.handler == 0 && (sig == SIGCHLD || sig == SIGURG || sig == SIGWINCH));
        if (ign) {
            task.process->shared_q.drop(task.process->shared_pending, sig);
            for (Task* t : task.process->threads) t->pending_q.drop(t->pending, sig);
        }
    }
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
    const u64 old = task.sigmask;
    if (a[1]) {
        switch (how) {
        case SIG_BLOCK: task.sigmask |= set; break;
        case SIG_UNBLOCK: task.sigmask &= ~set; break;
        default: task.sigmask = set; break;
        }
        task.sigmask &= ~kUnblockable;
    }
    // As Linux: a bad oset is EFAULT after the mask has changed.
    if (a[2]) VK_TRY(copy_out(task.mm(), UserPtr<u64>(a[2]), old));
    return 0;
}

Result<long> sys_rt_sigpending(Task& task, const SyscallArgs& a) {
    if (a[1] > kSigsetSize) return err(EINVAL);
    const u64 pend = (task.pending | task.process->shared_pending) & task.sigmask;
    VK_TRY(copy_out_bytes(task.mm(), a[0], &pend, a[1]));
    return 0;
}

Result<long> sys_rt_sigsuspend(Task& task, const SyscallArgs& a) {
    if (a[1] != kSigsetSize) return err(EINVAL);
    const u64 mask = VK_TRY(copy_in(task.mm(), UserPtr<u64>(a[0])));
    task.saved_sigmask = task.sigmask;
    task.sigmask = mask & ~kUnblockable;
    while (task.kernel.sleep(task, nullptr, std::nullopt) != WakeReason::kInterrupted) {
    }
    return err(kERestartNoHand);  // EINTR once the handler has run
}

Result<long> sys_pause(Task& task, const SyscallArgs&) {
    while (task.kernel.sleep(task, nullptr, std::nullopt) != WakeReason::kInterrupted) {
    }
    return err(kERestartNoHand);
}

Result<long> sys_rt_sigtimedwait(Task& task, const SyscallArgs& a) {
    if (a[3] != kSigsetSize) return err(EINVAL);
    const u64 set = VK_TRY(copy_in(task.mm(), UserPtr<u64>(a[0]))) & ~kUnblockable;
    std::optional<Clock::time_point> deadline;
    if (a[2]) {
        const auto ts = VK_TRY(copy_in(task.mm(), UserPtr<Timespec>(a[2])));
        if (ts.sec < 0 || ts.nsec < 0 || ts.nsec >= 1'000'000'000) return err(EINVAL);
        deadline = Clock::now() + std::chrono::seconds(ts.sec) + std::chrono::nanoseconds(ts.nsec);
    }
    Process& p = *task.process;
    for (;;) {
        const u64 ready = (task.pending | p.shared_pending) & set;
        if (ready) {
            const int sig = __builtin_ctzll(ready) + 1;
            KSigInfo info;
            if (task.pending & sigbit(sig))
                info = task.pending_q.take(task.pending, sig);
            else
                info = p.shared_q.take(p.shared_pending, sig);
            if (a[1]) VK_TRY(copy_out(task.mm(), UserPtr<KSigInfo>(a[1]), info));
            return sig;
        }
        // The waited-for signals are unblocked for the wait, as Linux does.
        const u64 old = task.sigmask;
        task.sigmask &= ~set;
        const WakeReason why = task.kernel.sleep(task, nullptr, deadline);
        task.sigmask = old;
        if (why == WakeReason::kTimedOut) return err(EAGAIN);
        if (why == WakeReason::kInterrupted && !((task.pending | p.shared_pending) & set))
            return err(EINTR);
    }
}

Result<long> sys_kill(Task& task, const SyscallArgs& a) {
    const int pid = static_cast<int>(a[0]);
    const int sig = static_cast<int>(a[1]);
    if (sig < 0 || sig > kNsig) return err(EINVAL);
    Kernel& k = task.kernel;
    const KSigInfo info = user_info(task, sig, kSiUser);
    if (pid > 0) {
        Process* p = k.find_process(pid);
        if (!p || p->zombie) {
            // A zombie still "exists" for kill(2).
            return p ? Result<long>(0) : err(ESRCH);
        }
        if (!may_signal(*task.process, *p)) return err(EPERM);
        k.send_signal(*p, sig, info);
        return 0;
    }
    // A group (0: ours, < -1: -pid) or everyone we may signal but init (-1).
    const int pgid = pid == 0 ? task.process->pgid : -pid;
    std::vector<Process*> targets;
    for (const auto& [id, p] : k.processes()) {
        if (p->zombie) continue;
        if (pid == -1 ? (id == 1 || p.get() == task.process) : p->pgid != pgid) continue;
        targets.push_back(p.get());
    }
    if (targets.empty()) return err(ESRCH);
    bool any = false;
    for (Process* p : targets) {
        if (!may_signal(*task.process, *p)) continue;
        any = true;
        k.send_signal(*p, sig, info);
    }
    return any ? Result<long>(0) : err(EPERM);
}

Result<long> sys_tgkill(Task& task, const SyscallArgs& a) {
    const int tgid = static_cast<int>(a[0]), tid = static_cast<int>(a[1]);
    const int sig = static_cast<int>(a[2]);
    if (tgid <= 0 || tid <= 0 || sig < 0 || sig > kNsig) return err(EINVAL);
    Task* t = task.kernel.find_task(tid);
    if (!t || t->process->pid != tgid || t->exiting) return err(ESRCH);
    if (!may_signal(*task.process, *t->process)) return err(EPERM);
    if (sig) task.kernel.send_signal_to_task(*t, sig, user_info(task, sig, kSiTkill));
    return 0;
}

Result<long> sys_tkill(Task& task, const SyscallArgs& a) {
    const int tid = static_cast<int>(a[0]);
    const int sig = static_cast<int>(a[1]);
    if (tid <= 0 || sig < 0 || sig > kNsig) return err(EINVAL);
    Task* t = task.kernel.find_task(tid);
    if (!t || t->exiting) return err(ESRCH);
    if (sig) task.kernel.send_signal_to_task(*t, sig, user_info(task, sig, kSiTkill));
    return 0;
}

Result<long> sys_sigaltstack(Task& task, const SyscallArgs& a) {
    AltStack cur;
    cur.sp = task.altstack_sp;
    cur.size = task.altstack_size;
    cur.flags = task.altstack_size ? task.altstack_flags : kSsDisable;
    const u32 status = altstack_status(cur, task.regs.rsp);
    if (a[1]) {
        const StackT old{task.altstack_sp, static_cast<i32>(status | (task.altstack_flags & kSsAutodisarm)),
                         0, task.altstack_size};
        VK_TRY(copy_out(task.mm(), UserPtr<StackT>(a[1]), old));
    }
    if (a[0]) {
        const StackT ss = VK_TRY(copy_in(task.mm(), UserPtr<StackT>(a[0])));
        if (status == kSsOnstack) return err(EPERM);
        const u32 mode = static_cast<u32>(ss.flags) & ~kSsAutodisarm;
        if (mode != 0 && mode != kSsDisable && mode != kSsOnstack) return err(EINVAL);
        if (mode == kSsDisable) {
            task.altstack_sp = task.altstack_size = 0;
            task.altstack_flags = 0;
        } else {
            if (ss.size < kMinSigStkSz) return err(ENOMEM);
            task.altstack_sp = ss.sp;
            task.altstack_size = ss.size;
            task.altstack_flags = static_cast<u32>(ss.flags) & kSsAutodisarm;
        }
    }
    return 0;
}

Result<long> sys_rt_sigreturn(Task& task, const SyscallArgs&) {
    VK_TRY(signal_return(task));
    return 0;
}

namespace {

// ITIMER_REAL: one kernel timer per process that sends SIGALRM and re-arms
// itself with the interval.
void arm_itimer(Kernel& k, Process& p, Clock::time_point when) {
    if (p.itimer_id) k.cancel_timer(p.itimer_id);
    p.itimer_id = 0;
    p.itimer_deadline = when;
    if (when == Clock::time_point{}) return;
    const int pid = p.pid;
    p.itimer_id = k.add_timer(when, [&k, pid] {
        Process* proc = k.find_process(pid);
        if (!proc || proc->zombie) return;
        proc->itimer_id = 0;
        KSigInfo info;
        info.signo = SIGALRM;
        info.code = 0x80;  // SI_KERNEL, as Linux's it_real_fn sends it
        k.send_signal(*proc, SIGALRM, info);
        if (proc->itimer_interval.count())
            arm_itimer(k, *proc, proc->itimer_deadline + proc->itimer_interval);
        else
            proc->itimer_deadline = {};
    });
}

Itimerval current_itimer(const Process& p) {
    Itimerval v{};
    auto to_tv = [](std::chrono::nanoseconds d) {
        if (d.count() < 0) d = {};
        return Timeval{static_cast<i64>(d.count() / 1'000'000'000),
                       static_cast<i64>(d.count() % 1'000'000'000 / 1000)};
    };
    v.interval = to_tv(p.itimer_interval);
    if (p.itimer_id) {
        auto left = p.itimer_deadline - Clock::now();
        if (left.count() <= 0) left = std::chrono::microseconds(1);
        v.value = to_tv(std::chrono::duration_cast<std::chrono::nanoseconds>(left));
    }
    return v;
}

}  // namespace

Result<long> sys_setitimer(Task& task, const SyscallArgs& a) {
    if (a[0] != ITIMER_REAL) return err(EINVAL);  // virtual/prof timers need CPU accounting
    Process& p = *task.process;
    Itimerval nv{};
    if (a[1]) nv = VK_TRY(copy_in(task.mm(), UserPtr<Itimerval>(a[1])));
    for (const Timeval& tv : {nv.interval, nv.value})
        if (tv.sec < 0 || tv.usec < 0 || tv.usec >= 1'000'000) return err(EINVAL);
    if (a[2]) VK_TRY(copy_out(task.mm(), UserPtr<Itimerval>(a[2]), current_itimer(p)));
    p.itimer_interval = std::chrono::seconds(nv.interval.sec) + std::chrono::microseconds(nv.interval.usec);
    const auto value = std::chrono::seconds(nv.value.sec) + std::chrono::microseconds(nv.value.usec);
    arm_itimer(task.kernel, p, value.count() ? Clock::now() + value : Clock::time_point{});
    return 0;
}

Result<long> sys_getitimer(Task& task, const SyscallArgs& a) {
    if (a[0] != ITIMER_REAL) return err(EINVAL);
    VK_TRY(copy_out(task.mm(), UserPtr<Itimerval>(a[1]), current_itimer(*task.process)));
    return 0;
}

Result<long> sys_alarm(Task& task, const SyscallArgs& a) {
    Process& p = *task.process;
    const Itimerval old = current_itimer(p);
    p.itimer_interval = {};
    const u64 secs = static_cast<u32>(a[0]);
    arm_itimer(task.kernel, p, secs ? Clock::now() + std::chrono::seconds(secs) : Clock::time_point{});
    // Whole seconds left, rounded to nearest, at least 1 if one was pending.
    long left = static_cast<long>(old.value.sec + (old.value.usec >= 500'000 ? 1 : 0));
    if (!left && (old.value.sec || old.value.usec)) left = 1;
    return left;
}

}  // namespace vk::sys
