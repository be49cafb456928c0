// Processes: clone (fork, vfork, threads), execve, exit, wait.

#include <signal.h>
#include <sys/wait.h>

#include "base/log.h"
#include "vkernel/futex.h"
#include "vkernel/kernel.h"
#include "vkernel/tty.h"
#include "vkernel/user_memory.h"

namespace vk {

namespace {

constexpr u64 kCloneVm = 0x100, kCloneFs = 0x200, kCloneFiles = 0x400, kCloneSighand = 0x800,
              kClonePidfd = 0x1000, kClonePtrace = 0x2000, kCloneVfork = 0x4000,
              kCloneParent = 0x8000, kCloneThread = 0x10000, kCloneSysvsem = 0x40000,
              kCloneSettls = 0x80000, kCloneParentSettid = 0x100000,
              kCloneChildCleartid = 0x200000, kCloneDetached = 0x400000,
              kCloneChildSettid = 0x1000000, kCloneIo = 0x80000000ULL;
constexpr u64 kNamespaceFlags = 0x7e02'0000ULL | 0x2'0000'0000ULL;  // CLONE_NEW*
constexpr u64 kKnownFlags = 0xff | kCloneVm | kCloneFs | kCloneFiles | kCloneSighand |
                            kClonePidfd | kClonePtrace | kCloneVfork | kCloneParent |
                            kCloneThread | kCloneSysvsem | kCloneSettls | kCloneParentSettid |
                            kCloneChildCleartid | kCloneDetached | kCloneChildSettid | kCloneIo;

// CAP_FS_MASK: CAP_CHOWN, CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH, CAP_FOWNER,
// CAP_FSETID, CAP_LINUX_IMMUTABLE, CAP_MKNOD, CAP_MAC_OVERRIDE.
constexpr u64 kFsCaps = 0x1f | (u64{1} << 9) | (u64{1} << 27) | (u64{1} << 32);

}  // namespace

u64 permitted_caps(const Process& p) {
    return p.uid == 0 || p.euid == 0 || p.suid == 0 ? kAllCaps : 0;
}

u64 effective_caps(const Process& p) {
    const u64 permitted = permitted_caps(p);
    u64 caps = p.euid == 0 ? permitted : 0;
    if (p.fsuid != 0) caps &= ~kFsCaps;
    else caps |= permitted & kFsCaps;
    return caps;
}

fs::Credentials credentials(const Process& p) {
    fs::Credentials c = fs::Credentials::user(p.fsuid, p.fsgid, p.groups);
    c.caps = effective_caps(p);
    return c;
}

Process* Kernel::find_process(int pid) {
    auto it = processes_.find(pid);
    return it == processes_.end() ? nullptr : it->second.get();
}

Task* Kernel::find_task(int tid) {
    auto it = tasks_.find(tid);
    return it == tasks_.end() ? nullptr : it->second.get();
}

Result<int> Kernel::clone_task(Task& parent, const CloneArgs& a) {
    const u64 f = a.flags;
    if (f & kNamespaceFlags) return err(EPERM);  // namespaces: not in this kernel yet
    if (f & ~(kKnownFlags | kNamespaceFlags)) return err(EINVAL);
    if ((f & kCloneThread) && !(f & kCloneSighand)) return err(EINVAL);
    if ((f & kCloneSighand) && !(f & kCloneVm)) return err(EINVAL);
    if ((f & kClonePidfd) && (f & kCloneParentSettid)) return err(EINVAL);
    if (f & kClonePidfd) return err(EINVAL);  // pidfds need the VFS
    if (!(f & kCloneThread) && processes_.size() >= 4096) return err(EAGAIN);

    Process* pp = parent.process;
    const int tid = alloc_pid();
    auto task = std::make_unique<Task>(*this, pp);
    Task* t = task.get();
    t->tid = tid;
    std::unique_ptr<Process> proc;
    if (f & kCloneThread) {
        pp->threads.push_back(t);
    } else {
        proc = std::make_unique<Process>();
        Process* np = proc.get();
        np->pid = tid;
        np->pgid = pp->pgid;
        np->sid = pp->sid;
        np->no_ctty = pp->no_ctty;
        np->parent = (f & kCloneParent) && pp->parent ? pp->parent : pp;
        np->uid = pp->uid; np->euid = pp->euid; np->suid = pp->suid;
        np->gid = pp->gid; np->egid = pp->egid; np->sgid = pp->sgid;
        np->fsuid = pp->fsuid; np->fsgid = pp->fsgid;
        np->groups = pp->groups;
        np->exe = pp->exe;
        np->cmdline = pp->cmdline;
        np->environ = pp->environ;
        np->fds = (f & kCloneFiles) ? pp->fds : std::shared_ptr<fs::FdTable>(pp->fds->clone());
        np->fsctx = (f & kCloneFs) ? pp->fsctx : std::make_shared<fs::FsContext>(*pp->fsctx);
        np->rlimits = pp->rlimits;
        np->exit_signal = a.exit_signal;
        if (f & kCloneVm) {
            np->mm = pp->mm;
        } else {
            auto mm = pp->mm->fork(*machine_, pp->threads.size() == 1);
            if (!mm) return Unexpected{mm.release_error()};
            np->mm = std::move(mm.value());
            // Both sides write the stack under the fork at once: copy that
            // page now rather than after two faults (a copy costs far less
            // than a VM exit). Best effort: a failure leaves the faults.
            const u64 sp = page_round_down(parent.regs.rsp);
            if (np->mm->space().extract(sp)) {
                (void)np->mm->fault(sp, Access::kWrite);
                (void)pp->mm->fault(sp, Access::kWrite);
            }
        }
        np->sighand = (f & kCloneSighand) ? pp->sighand : std::make_shared<SigHand>(*pp->sighand);
        np->threads.push_back(t);
        t->process = np;
    }

    // Registers: the child returns 0 from the call, on its own stack and TLS if given.
    t->regs = parent.regs;
    t->regs.rax = 0;
    if (a.stack) t->regs.rsp = a.stack;
    if (f & kCloneSettls) {
        if (a.tls >= 0x0000'8000'0000'0000ULL) return err(EPERM);
        t->regs.fs_base = a.tls;
    }
    if (parent.cpu && parent.cpu->fpu_owner == &parent) (void)parent.cpu->vcpu->save_fpu(parent.fpu, &parent.process->mm->space());
    t->fpu = parent.fpu;
    t->sigmask = parent.sigmask;
    t->affinity = parent.affinity;
    t->comm = parent.comm;
    t->rseq = rseq_fork(parent.rseq, (f & kCloneVm) != 0);
    if (!((f & kCloneVm) && !(f & kCloneVfork))) {
        t->altstack_sp = parent.altstack_sp;
        t->altstack_size = parent.altstack_size;
        t->altstack_flags = parent.altstack_flags;
    }
    if (f & kCloneChildCleartid) t->clear_child_tid = a.child_tid;

    Mm& child_mm = *t->process->mm;
    if (f & kCloneParentSettid) {
        const i32 v = tid;
        if (!copy_out(parent.mm(), UserPtr<i32>(a.parent_tid), v)) return err(EFAULT);
    }
    if (f & kCloneChildSettid) {
        const i32 v = tid;
        if (!copy_out(child_mm, UserPtr<i32>(a.child_tid), v)) return err(EFAULT);
    }

    if (proc) {
        proc->parent->children.push_back(proc.get());
        if (f & kCloneVfork) proc->vfork_done = false;
        processes_.emplace(tid, std::move(proc));
    }
    tasks_.emplace(tid, std::move(task));
    start_task(*t);

    if (f & kCloneVfork) {
        // The parent waits until the child execs or exits (killable only).
        Process* child = t->process;
        while (find_process(tid) == child && !child->vfork_done && !parent.exiting)
            sleep(parent, &child->vfork_wait, std::nullopt, false);
    } else {
        // A new thread often finishes before its creator looks (then
        // pthread_join finds it gone, with no futex sleep and wake), a
        // fork's child execs or exits: run it first, as Linux's
        // sched_child_runs_first would. Nothing may rely on either order.
        run_child_first(parent, *t);
    }
    return tid;
}

Result<void> Kernel::exec(Task& t, const ExecTarget& target, std::vector<std::string> argv,
                          const std::vector<std::string>& envp) {
    Process& p = *t.process;
    std::string cmdline, environ;
    for (const auto& s : argv) cmdline.append(s).push_back('\0');
    for (const auto& s : envp) environ.append(s).push_back('\0');
    // The file is read through the VFS (kernel lock held); the new address
    // space is private until it replaces the old one. Its commit charge is
    // taken here.
    auto img = load_image(*machine_, *vfs_, target, std::move(argv), envp, p, &commit_, &image_cache_);
    if (!img) return err(img.error().err);
    if (t.exiting) return err(EINTR);  // killed while the file was read

    // The point of no return: other threads die, the image is replaced.
    for (Task* other : p.threads) {
        if (other == &t) continue;
        other->exiting = true;
        wake(*other, WakeReason::kInterrupted);
        if (other->state == TaskState::kRunning && other->cpu) other->cpu->vcpu->kick();
    }
    // Robust futexes are released in the old memory, the others' too
    // (they finish dying after it is gone).
    for (Task* th : p.threads) exit_robust_list(*this, *th);
    p.mm = std::move(img->mm);
    t.regs = img->regs;
    t.regs_replaced = true;
    if (t.cpu && t.cpu->fpu_owner == &t) t.cpu->fpu_owner = nullptr;
    vmspace::Vcpu::init_fpu(t.fpu);
    // Handlers do not survive exec; ignored signals stay ignored.
    auto sh = std::make_shared<SigHand>();
    for (int i = 0; i < kNsig; i++)
        if (p.sighand->actions[i].handler == reinterpret_cast<u64>(SIG_IGN))
            sh->actions[i].handler = reinterpret_cast<u64>(SIG_IGN);
    p.sighand = std::move(sh);
    t.altstack_sp = t.altstack_size = 0;
    t.altstack_flags = 0;
    t.rseq = RseqState{};  // exec starts unregistered
    t.clear_child_tid = 0;
    // Close-on-exec descriptors go; a shared table is unshared first, as Linux does.
    if (p.fds.use_count() > 1) p.fds = std::shared_ptr<fs::FdTable>(p.fds->clone());
    p.fds->close_on_exec();
    // /proc/PID/exe names the file itself, not the path used.
    p.exe = vfs_->path_name(img->file, p.fsctx->root);
    p.cmdline = std::move(cmdline);
    p.environ = std::move(environ);
    t.comm = target.comm(img->file);
    // The ids the image runs with (set-user-ID, set-group-ID); the saved and
    // fs ids follow the effective ones on every exec. A parent-death signal
    // does not survive a change of identity (commit_creds).
    if (img->euid != p.euid || img->egid != p.egid || p.fsuid != img->euid || p.fsgid != img->egid)
        p.pdeath_signal = 0;
    p.euid = p.suid = p.fsuid = img->euid;
    p.egid = p.sgid = p.fsgid = img->egid;
    if (!p.vfork_done) {
        p.vfork_done = true;
        wake_all(p.vfork_wait);
    }
    return {};
}

void Kernel::exit_thread(Task& t, int code) {
    Process& p = *t.process;
    t.exiting = true;
    exit_robust_list(*this, t);  // before the joiner hears of it, as Linux's mm_release
    if (t.clear_child_tid && p.mm) {
        // Tell a joiner: zero the tid and wake one futex waiter (CLONE_CHILD_CLEARTID).
        const i32 zero = 0;
        if (copy_out(*p.mm, UserPtr<i32>(t.clear_child_tid), zero))
            futex_wake(*this, *p.mm, t.clear_child_tid, 1, ~0u);
        t.clear_child_tid = 0;
    }
    std::erase(p.threads, &t);
    if (!p.threads.empty()) return;
    if (!p.exiting) p.exit_status = (code & 0xff) << 8;
    finish_process(p);
}

void Kernel::exit_group(Task& t, int status) {
    Process& p = *t.process;
    if (!p.exiting) {
        p.exiting = true;
        p.exit_status = status;
    }
    for (Task* other : p.threads) {
        other->exiting = true;
        if (other == &t) continue;
        wake(*other, WakeReason::kInterrupted);
        if (other->state == TaskState::kRunning && other->cpu) other->cpu->vcpu->kick();
    }
}

void Kernel::finish_process(Process& p) {
    p.zombie = true;
    p.mm.reset();
    p.fds.reset();  // closes its files: pipe ends wake their peers
    p.fsctx.reset();
    if (!p.vfork_done) {
        p.vfork_done = true;
        wake_all(p.vfork_wait);
    }
    Process* init = find_process(1);
    // Orphans go to init.
    for (Process* c : p.children) {
        c->parent = init && init != &p ? init : nullptr;
        if (c->pdeath_signal) {
            KSigInfo info;
            info.signo = c->pdeath_signal;
            send_signal(*c, c->pdeath_signal, info);
        }
        if (c->parent) {
            c->parent->children.push_back(c);
            if (c->zombie) wake_all(c->parent->child_wait);
        }
    }
    p.children.clear();
    // A session leader's exit takes its controlling terminal away from the
    // session (SIGHUP and SIGCONT to the foreground group), as Linux does.
    if (p.pid == p.sid && console_tty_ && console_tty_->session() == p.sid) console_tty_->detach();

    if (p.pid == 1) {
        shutdown_locked();
        return;
    }
    Process* parent = p.parent;
    if (!parent || parent->zombie) return;
    const SigAction& chld = parent->sighand->actions[SIGCHLD - 1];
    const bool autoreap = p.exit_signal == SIGCHLD &&
                          (chld.handler == reinterpret_cast<u64>(SIG_IGN) ||
                           (chld.flags & SA_NOCLDWAIT));
    if (p.exit_signal > 0 && p.exit_signal <= kNsig) {
        KSigInfo info;
        info.signo = p.exit_signal;
        info.u.chld.pid = p.pid;
        info.u.chld.uid = p.uid;
        if (WIFSIGNALED(p.exit_status)) {
            info.code = WCOREDUMP(p.exit_status) ? CLD_DUMPED : CLD_KILLED;
            info.u.chld.status = WTERMSIG(p.exit_status);
        } else {
            info.code = CLD_EXITED;
            info.u.chld.status = WEXITSTATUS(p.exit_status);
        }
        send_signal(*parent, p.exit_signal, info);
    }
    wake_all(parent->child_wait);
    if (autoreap) reap(&p);
}

void Kernel::reap(Process* child) {
    if (Process* parent = child->parent) {
        std::erase(parent->children, child);
        parent->cutime_ns += child->utime_ns + child->cutime_ns;
        parent->cstime_ns += child->stime_ns + child->cstime_ns;
    }
    processes_.erase(child->pid);
}

void Kernel::shutdown_locked() {
    Process* init = find_process(1);
    if (init) init_status_ = init->exit_status;
    // Everyone else is killed, as when Linux's init dies; the vCPUs stop when
    // the last task has gone.
    KSigInfo info;
    info.signo = SIGKILL;
    for (auto& [pid, p] : processes_)
        if (pid != 1 && !p->zombie) send_signal(*p, SIGKILL, info);
}

Result<Kernel::WaitResult> Kernel::wait_child(Task& t, int idtype, int id, int options) {
    constexpr int kPAll = 0, kPPid = 1, kPPgid = 2;
    constexpr int kWNoWait = 0x0100'0000;
    Process& self = *t.process;
    for (;;) {
        bool any = false;
        for (Process* c : self.children) {
            if (idtype == kPPid && c->pid != id) continue;
            if (idtype == kPPgid && c->pgid != id) continue;
            if (idtype != kPAll && idtype != kPPid && idtype != kPPgid) return err(EINVAL);
            any = true;
            WaitResult r;
            r.pid = c->pid;
            r.uid = c->uid;
            if (c->zombie && (options & WEXITED)) {
                r.status = c->exit_status;
                if (WIFSIGNALED(r.status))
                    r.code = WCOREDUMP(r.status) ? CLD_DUMPED : CLD_KILLED;
                else
                    r.code = CLD_EXITED;
                r.utime_ns = c->utime_ns + c->cutime_ns;
                r.stime_ns = c->stime_ns + c->cstime_ns;
                if (!(options & kWNoWait)) reap(c);
                return r;
            }
            if (c->report_stop && (options & WUNTRACED)) {
                r.status = (c->stop_sig << 8) | 0x7f;
                r.code = CLD_STOPPED;
                if (!(options & kWNoWait)) c->report_stop = false;
                return r;
            }
            if (c->report_continue && (options & WCONTINUED)) {
                r.status = 0xffff;
                r.code = CLD_CONTINUED;
                if (!(options & kWNoWait)) c->report_continue = false;
                return r;
            }
        }
        if (!any) return err(ECHILD);
        if (options & WNOHANG) return WaitResult{};
        if (sleep(t, &self.child_wait, std::nullopt) == WakeReason::kInterrupted)
            return err(EINTR);
    }
}

}  // namespace vk
