// Signal generation and delivery: pending sets per thread and per process,
// default actions (terminate, core, stop, continue, ignore), and handlers.

#include <signal.h>
#include <sys/wait.h>

#include "base/log.h"
#include "vkernel/kernel.h"
#include "vkernel/signal_delivery.h"

namespace vk {

namespace {

enum class Default { kTerm, kCore, kStop, kCont, kIgnore };

Default default_action(int sig) {
    switch (sig) {
    case SIGCHLD:
    case SIGURG:
    case SIGWINCH: return Default::kIgnore;
    case SIGCONT: return Default::kCont;
    case SIGSTOP:
    case SIGTSTP:
    case SIGTTIN:
    case SIGTTOU: return Default::kStop;
    case SIGQUIT:
    case SIGILL:
    case SIGTRAP:
    case SIGABRT:
    case SIGBUS:
    case SIGFPE:
    case SIGSEGV:
    case SIGXCPU:
    case SIGXFSZ:
    case SIGSYS: return Default::kCore;
    default: return Default::kTerm;
    }
}

constexpr u64 kStopMask = sigbit(SIGSTOP) | sigbit(SIGTSTP) | sigbit(SIGTTIN) | sigbit(SIGTTOU);
constexpr u64 kSigIgn = 1, kSigDfl = 0;

bool ignored(const Process& p, int sig) {
    const SigAction& a = p.sighand->actions[sig - 1];
    if (a.handler == kSigIgn) return true;
    return a.handler == kSigDfl && default_action(sig) == Default::kIgnore;
}

}  // namespace

bool Kernel::signal_pending(const Task& t) const {
    const u64 pend = t.pending | t.process->shared_pending;
    return (pend & ~t.sigmask) || (pend & sigbit(SIGKILL));
}

bool Kernel::needs_kernel(const Task& t) const {
    if (t.exiting || t.process->exiting) return true;
    if (t.cpu && !t.may_run_on(t.cpu->id)) return true;  // must move (sched_setaffinity)
    const u64 pend = t.pending | t.process->shared_pending;
    return (pend & ~live_sigmask(t)) || (pend & sigbit(SIGKILL));
}

void Kernel::notify_signal(Task& t) {
    if (t.state == TaskState::kBlocked)
        wake(t, WakeReason::kInterrupted);
    else if (t.state == TaskState::kRunning && t.cpu && t.cpu->current == &t)
        t.cpu->vcpu->kick();
}

namespace {

// The slot of a thread running guest code with fast syscalls, else null.
// in_guest changes only under the kernel lock, which we hold.
vmspace::FastSlot* live_slot(const Task& t) {
    if (t.state != TaskState::kRunning || !t.cpu || t.cpu->current != &t ||
        !t.cpu->in_guest.load(std::memory_order_acquire))
        return nullptr;
    return t.process->mm->space().fast_slot(t.cpu->id);
}

}  // namespace

u64 Kernel::live_sigmask(const Task& t) const {
    if (const vmspace::FastSlot* s = live_slot(t)) return __atomic_load_n(&s->mask, __ATOMIC_ACQUIRE);
    return t.sigmask;
}

void Kernel::refresh_fast_pending(Process& p) {
    for (Task* t : p.threads)
        if (vmspace::FastSlot* s = live_slot(*t))
            __atomic_store_n(&s->pending, t->pending | p.shared_pending, __ATOMIC_SEQ_CST);
}

// SIGCHLD (unless SA_NOCLDSTOP) and a wakeup for a parent in wait: its child
// stopped or continued.
void Kernel::notify_parent_of_stop(Process& p, int code, int status) {
    if (!p.parent || p.parent->zombie) return;
    KSigInfo ci;
    ci.signo = SIGCHLD;
    ci.code = code;
    ci.u.chld.pid = p.pid;
    ci.u.chld.uid = p.uid;
    ci.u.chld.status = status;
    const SigAction& pa = p.parent->sighand->actions[SIGCHLD - 1];
    if (!(pa.flags & SA_NOCLDSTOP)) send_signal(*p.parent, SIGCHLD, ci);
    wake_all(p.parent->child_wait);
}

void Kernel::send_signal(Process& p, int sig, const KSigInfo& info) {
    if (sig <= 0 || sig > kNsig || p.zombie) return;
    if (sig == SIGKILL || sig == SIGCONT) {
        // Both resume a stopped process; stop signals still pending are dropped.
        for (int s2 : {SIGSTOP, SIGTSTP, SIGTTIN, SIGTTOU}) {
            p.shared_q.drop(p.shared_pending, s2);
            for (Task* t : p.threads) t->pending_q.drop(t->pending, s2);
        }
        if (p.stopped) {
            p.stopped = false;
            // A stop not yet reported to wait() is over: Linux reports only
            // a child that is still stopped (wait_task_stopped).
            p.report_stop = false;
            if (sig == SIGCONT) {
                p.report_continue = true;
                notify_parent_of_stop(p, CLD_CONTINUED, SIGCONT);
            }
            for (Task* t : p.threads) wake(*t);
        }
    }
    if (kStopMask & sigbit(sig)) p.shared_q.drop(p.shared_pending, SIGCONT);
    if (ignored(p, sig) && sig != SIGKILL) return;
    if (!p.shared_q.add(p.shared_pending, sig, info)) return;  // merged
    refresh_fast_pending(p);  // before any kick: the guest side must see it
    // Wake one thread that does not block it (all, for SIGKILL).
    for (Task* t : p.threads) {
        if (sig == SIGKILL || !(live_sigmask(*t) & sigbit(sig))) {
            notify_signal(*t);
            if (sig != SIGKILL) break;
        }
    }
}

void Kernel::send_signal_to_task(Task& t, int sig, const KSigInfo& info) {
    Process& p = *t.process;
    if (sig <= 0 || sig > kNsig || p.zombie) return;
    if (sig == SIGKILL || sig == SIGCONT) {
        send_signal(p, sig, info);  // these act on the whole process
        return;
    }
    if (ignored(p, sig)) return;
    if (!t.pending_q.add(t.pending, sig, info)) return;
    refresh_fast_pending(p);
    if (!(live_sigmask(t) & sigbit(sig))) notify_signal(t);
}

void Kernel::force_signal(Task& t, int sig, const KSigInfo& info) {
    SigAction& a = t.process->sighand->actions[sig - 1];
    // A fault signal that is blocked or ignored would loop on the fault: Linux
    // resets it to the default action, which kills.
    if ((t.sigmask & sigbit(sig)) || a.handler == kSigIgn) {
        a.handler = kSigDfl;
        t.sigmask &= ~sigbit(sig);
    }
    t.pending_q.add(t.pending, sig, info);
    t.pending_fault = sig;
}

void Kernel::kill_by_signal(Task& task, int sig, const std::string& detail) {
    Process& p = *task.process;
    if (p.exiting) return;
    if (!detail.empty()) log_error("{} (pid {}): killed by {}{}", p.exe, p.pid, signal_name(sig), detail);
    exit_group(task, sig | (default_action(sig) == Default::kCore ? 0x80 : 0));
}

void Kernel::deliver_signals(Task& t) {
    Process& p = *t.process;
    for (;;) {
        if (t.exiting || p.exiting) {
            t.exiting = true;
            return;
        }
        const u64 deliverable = (t.pending | p.shared_pending) & (~t.sigmask | sigbit(SIGKILL));
        if (!deliverable) {
            fix_restart(t, nullptr);  // nothing to run: an interrupted call restarts
            if (t.saved_sigmask) {  // sigsuspend's mask ends without a handler too
                t.sigmask = *t.saved_sigmask;
                t.saved_sigmask.reset();
            }
            break;
        }
        // Synchronous (thread) signals first, then the lowest number.
        const u64 own = t.pending & (~t.sigmask | sigbit(SIGKILL));
        const u64 pick = own ? own : deliverable;
        const int sig = __builtin_ctzll(pick) + 1;
        KSigInfo info;
        if (t.pending & sigbit(sig))
            info = t.pending_q.take(t.pending, sig);
        else
            info = p.shared_q.take(p.shared_pending, sig);
        const SigAction act = p.sighand->actions[sig - 1];
        if (sig != SIGKILL && act.handler == kSigIgn) continue;
        if (sig != SIGKILL && act.handler != kSigDfl) fix_restart(t, &act);
        if (sig == SIGKILL || act.handler == kSigDfl) {
            switch (default_action(sig)) {
            case Default::kIgnore:
            case Default::kCont:
                continue;
            case Default::kStop: {
                p.stopped = true;
                p.report_stop = true;
                p.stop_sig = sig;
                notify_parent_of_stop(p, CLD_STOPPED, sig);
                // Sleep until SIGCONT or SIGKILL.
                while (p.stopped && !(p.shared_pending & sigbit(SIGKILL)) && !t.exiting)
                    sleep(t, nullptr, std::nullopt, false);
                continue;
            }
            case Default::kTerm:
            case Default::kCore:
                kill_by_signal(t, sig, t.pending_fault == sig ? t.fault_detail : std::string());
                t.exiting = true;
                return;
            }
        }
        // A handler: build its frame on the user stack.
        if (!setup_signal_frame(t, sig, info, act)) {
            // The stack is unusable: Linux forces SIGSEGV, which kills.
            kill_by_signal(t, SIGSEGV, " (cannot build the signal frame)");
            t.exiting = true;
            return;
        }
        if (act.flags & SA_RESETHAND) p.sighand->actions[sig - 1].handler = kSigDfl;
        // One handler frame per return to user mode, as Linux delivers.
        break;
    }
}

}  // namespace vk
