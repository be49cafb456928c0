#include "vkernel/kernel.h"

#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <sys/auxv.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <signal.h>

#include <cstring>

#include "base/log.h"
#include "vkernel/devfs.h"
#include "vkernel/fifo.h"
#include "vkernel/files.h"
#include "vkernel/fs/cpio.h"
#include "vkernel/hostfs.h"
#include "vkernel/procfs.h"
#include "vkernel/rseq.h"
#include "vkernel/signal_delivery.h"
#include "vkernel/strace.h"
#include "vkernel/vdso.h"

namespace vk {

using vmspace::Trap;
using vmspace::TrapKind;

namespace {
constexpr auto kSlice = std::chrono::milliseconds(10);
// How long a parent that run_child_first put behind its child is left to
// the child's vCPU before an idle vCPU takes it: a short child (a glibc
// thread's whole life, ~60 us here) is over by then, and the parent needs
// no move (a wake of another host thread, a full register and FPU load).
constexpr auto kStealDelay = std::chrono::microseconds(150);
// The vCPU the calling host thread runs (set once, at the top of cpu_loop).
// A fiber may move between vCPU threads, so it is read afresh in each
// current_task() call (out of line), never cached across a switch.
thread_local Cpu* tls_cpu = nullptr;
}  // namespace

Task* Kernel::current_task() const { return tls_cpu ? tls_cpu->current : nullptr; }

std::string signal_name(int sig) {
    const char* abbrev = sigabbrev_np(sig);
    return abbrev ? std::string("SIG") + abbrev : "signal " + std::to_string(sig);
}

Result<std::unique_ptr<Kernel>, HostError> Kernel::create(const KernelOptions& opts,
                                                         const SyscallTable& table) {
    auto mem = VK_TRY(pmap::PhysMemory::create(opts.memory));
    std::unique_ptr<Kernel> k(new Kernel(opts, table, std::move(mem)));
    k->machine_ = VK_TRY(vmspace::Machine::create(k->mem_, k->frames_));
    k->reactor_.emplace(VK_TRY(Reactor::create()));
    // Frames are allocated with the kernel lock held (or before any vCPU runs).
    // Out of frames: the image cache goes first (losing it costs each
    // program one exec as slow as without a cache), the page tables of idle
    // processes only if that freed nothing (rebuilding those costs a fault,
    // a VM exit, per page each process touches again).
    k->frames_.set_reclaim([kp = k.get()] {
        kp->image_cache_.clear();
        if (kp->frames_.free_frames() == 0) kp->drop_idle_pmaps();
    });
    k->vfs_ = std::make_unique<fs::Vfs>(fs::Tmpfs::create(k->frames_));
    k->anon_vfs_ = std::make_unique<fs::Vfs>(fs::Tmpfs::create(k->frames_), 0, "anon");
    // Leave room for page tables and the vkernel's own frames: 1/16 of memory.
    const u64 total = k->frames_.total_frames();
    k->commit_.limit = total - total / 16 - std::min<u64>(total / 4, 256);
    k->machine_->request_fast_syscalls(opts.fast_syscalls && !opts.strace);
    for (unsigned i = 0; i < std::max(1u, opts.cpus); i++) {
        auto cpu = std::make_unique<Cpu>();
        cpu->id = i;
        cpu->vcpu = VK_TRY(vmspace::Vcpu::create(*k->machine_, i));
        k->cpus_.push_back(std::move(cpu));
    }
    std::vector<vmspace::Vcpu*> vcpus;  // the vDSO reads their TSCs before any runs
    for (auto& c : k->cpus_) vcpus.push_back(c->vcpu.get());
    k->vdso_ = Vdso::create(*k->machine_, vcpus);
    return k;
}

Kernel::~Kernel() {
    // Every task has finished by now (run() waits for it); what is left are
    // records: zombies nobody reaped and their memory.
    tasks_.clear();
    processes_.clear();
    vfs_.reset();
    anon_vfs_.reset();
}

u64 Kernel::uptime_seconds() const {
    return static_cast<u64>(
        std::chrono::duration_cast<std::chrono::seconds>(Clock::now() - boot_time_).count());
}

int Kernel::alloc_pid() {
    // Linux hands out increasing pids and wraps; a vkernel lives short enough
    // that we only skip those still in use.
    for (;;) {
        const int pid = next_pid_++;
        if (next_pid_ > 4'194'304) next_pid_ = 2;
        if (!tasks_.count(pid) && !processes_.count(pid)) return pid;
    }
}

namespace {

// mkdir -p `path` from the root of `vfs` as root.
Result<void> make_dirs(fs::Vfs& vfs, const fs::Context& ctx, const std::string& path) {
    for (std::size_t pos = 1; pos <= path.size(); pos++) {
        if (pos != path.size() && path[pos] != '/') continue;
        const std::string prefix = path.substr(0, pos);
        if (prefix.empty() || prefix.back() == '/') continue;
        auto made = vfs.mkdir(ctx, vfs.root(), prefix, 0755);
        if (!made && made.error().code != EEXIST) return made;
    }
    return {};
}

// The program `cmd` names, as execvp(3) finds it: a name without a slash is
// looked for in each directory of PATH (from `envp`, else the default);
// with none given, /sbin/init if the root has one, else /bin/sh.
Result<std::string, ExecError> find_command(const fs::Vfs& vfs, const fs::Context& ctx,
                                            const std::string& cmd,
                                            const std::vector<std::string>& envp) {
    auto runnable = [&](const std::string& p) -> Result<void> {
        const fs::Path where = VK_TRY(vfs.resolve(ctx, ctx.fs.cwd, p, fs::kLookupFollow));
        return vfs.may_exec(ctx, where);
    };
    if (cmd.empty()) return runnable("/sbin/init") ? std::string("/sbin/init") : std::string("/bin/sh");
    if (cmd.find('/') != std::string::npos) return cmd;
    std::string path = "/bin:/sbin:/usr/bin:/usr/sbin";
    for (const auto& e : envp)
        if (e.rfind("PATH=", 0) == 0) path = e.substr(5);
    bool denied = false;
    std::size_t start = 0;
    for (;;) {
        const std::size_t end = path.find(':', start);
        std::string dir = path.substr(start, end == std::string::npos ? std::string::npos : end - start);
        if (dir.empty()) dir = ".";
        const std::string candidate = dir + "/" + cmd;
        auto ok = runnable(candidate);
        if (ok) return candidate;
        denied |= ok.error().code == EACCES;
        if (end == std::string::npos) break;
        start = end + 1;
    }
    if (denied) return Unexpected{ExecError{126, cmd + ": permission denied", EACCES}};
    return Unexpected{ExecError{127, cmd + ": command not found", ENOENT}};
}

}  // namespace

Result<void, std::string> Kernel::boot(std::span<const std::byte> archive,
                                       const std::string& name) {
    std::lock_guard g(kmu_);
    const fs::FsContext fsc = vfs_->initial_context(0);
    const fs::Credentials root = fs::Credentials::root();
    const fs::Context ctx{fsc, root};
    if (!archive.empty()) {
        auto unpacked = fs::unpack_cpio(*vfs_, vfs_->root(), archive);
        if (!unpacked)
            return Unexpected{"the root filesystem archive " + name + " is damaged: " +
                              unpacked.error()};
    }
    // Character devices anywhere get their drivers; /dev gets a devfs when
    // the root has that directory.
    vfs_->set_special_opener(devfs_opener(*this, fifo_opener(*this)));
    if (auto dev = vfs_->resolve(ctx, vfs_->root(), "/dev", fs::kLookupDirectory); dev)
        if (auto made = mount_devfs(*this, *vfs_, ctx, "/dev"); !made)
            return Unexpected{std::string("cannot set up /dev: ") + std::strerror(made.error().code)};
    if (auto proc = vfs_->resolve(ctx, vfs_->root(), "/proc", fs::kLookupDirectory); proc)
        if (auto made = mount_procfs(*this, *vfs_, ctx, "/proc"); !made)
            return Unexpected{std::string("cannot mount /proc: ") + std::strerror(made.error().code)};
    for (const auto& [host, guest] : opts_.binds) {
        auto hfs = HostFs::create(host);
        if (!hfs) return Unexpected{"--bind " + host + ": " + hfs.error().message()};
        if (auto made = make_dirs(*vfs_, ctx, guest); !made)
            return Unexpected{"--bind: cannot make the mount point " + guest + ": " +
                              std::strerror(made.error().code)};
        auto mounted = vfs_->mount(ctx, vfs_->root(), guest, std::move(hfs.value()), MS_RDONLY, host);
        if (!mounted)
            return Unexpected{"--bind: cannot mount " + host + " on " + guest + ": " +
                              std::strerror(mounted.error().code)};
    }
    return {};
}


Result<int, ExecError> Kernel::run(const std::string& command, std::vector<std::string> argv,
                                   const std::vector<std::string>& envp) {
    std::unique_lock lk(kmu_);
    const int pid = alloc_pid();
    auto proc = std::make_unique<Process>();
    proc->pid = proc->pgid = proc->sid = pid;
    proc->sighand = std::make_shared<SigHand>();
    proc->fsctx = std::make_shared<fs::FsContext>(vfs_->initial_context());
    proc->fds = std::make_shared<fs::FdTable>();
    std::string path;
    {
        const fs::Credentials root = fs::Credentials::root();
        auto found = find_command(*vfs_, fs::Context{*proc->fsctx, root}, command, envp);
        if (!found) return Unexpected{found.error()};
        path = std::move(found.value());
    }
    if (argv.empty()) argv.push_back(path);
    for (int fd = 0; fd < 3; fd++) {
        auto f = make_console_file(*this, fd, fd == 0 ? O_RDONLY : O_WRONLY);
        if (!f) return Unexpected{ExecError{1, "cannot set up the console"}};
        (void)proc->fds->install(std::move(f.value()), false, 1024);
    }
    attach_console(*this, *proc);
    auto task = std::make_unique<Task>(*this, proc.get());
    task->tid = pid;
    vmspace::Vcpu::init_fpu(task->fpu);
    Task* t = task.get();
    proc->threads.push_back(t);
    Process* p = proc.get();
    processes_.emplace(pid, std::move(proc));
    tasks_.emplace(pid, std::move(task));
    if (vdso_) vdso_->start(*this);  // clock parameters before the first exec
    const ExecTarget target = ExecTarget::path(path);
    auto img = load_image(*machine_, *vfs_, target, argv, envp, *p, &commit_, &image_cache_);
    if (!img) {
        processes_.clear();
        tasks_.clear();
        return Unexpected{img.error()};
    }
    p->mm = std::move(img->mm);
    p->exe = vfs_->path_name(img->file, p->fsctx->root);
    for (const auto& s : argv) p->cmdline.append(s).push_back('\0');
    for (const auto& s : envp) p->environ.append(s).push_back('\0');
    t->regs = img->regs;
    t->comm = target.comm(img->file);
    start_task(*t);
    lk.unlock();

    std::thread ticker([this] { ticker_loop(); });
    for (auto& cpu : cpus_) {
        Cpu* c = cpu.get();
        c->thread = std::thread([this, c] { cpu_loop(*c); });
    }
    for (auto& cpu : cpus_) cpu->thread.join();
    {
        std::lock_guard g(kmu_);
        stopping_ = true;
    }
    reactor_->wake();
    ticker.join();
    return init_status_;
}

void Kernel::start_task(Task& t) {
    t.fiber = std::make_unique<Fiber>([this, &t] { task_main(t); });
    t.state = TaskState::kRunnable;
    runq_.push_back(&t);
    notify_idle(t);
}

void Kernel::affinity_changed(Task& t) {
    if (t.state == TaskState::kRunnable)
        notify_idle(t);
    else if (t.state == TaskState::kRunning && t.cpu && !t.may_run_on(t.cpu->id) && &t != current_task())
        t.cpu->vcpu->kick();
}

void Kernel::notify_idle(const Task& t) {
    // An idle vCPU the task may not run on would go back to sleep and leave
    // the task waiting: with an affinity, every idle vCPU looks.
    if (t.affinity == ~u64{0})
        idle_cv_.notify_one();
    else
        idle_cv_.notify_all();
}

void Kernel::cpu_loop(Cpu& cpu) {
    // The kick signal must be blocked in this thread before its first KVM_RUN.
    tls_cpu = &cpu;
    std::unique_lock lk(kmu_);
    while (!stopping_) {
        if (runq_.empty() && tasks_.empty()) break;  // everything has exited
        // The first task in the queue this vCPU may run (sched_setaffinity),
        // leaving a parent that waits behind its child (run_child_first) to
        // the child's vCPU for a moment.
        const auto now = Clock::now();
        Clock::time_point until = Clock::time_point::max();
        const auto it = std::find_if(runq_.begin(), runq_.end(), [&](const Task* q) {
            if (!q->may_run_on(cpu.id)) return false;
            if (q->cpu && q->cpu != &cpu && now < q->steal_after) {
                until = std::min(until, q->steal_after);
                return false;
            }
            return true;
        });
        if (it == runq_.end()) {
            if (until == Clock::time_point::max())
                idle_cv_.wait(lk);
            else
                idle_cv_.wait_until(lk, until);
            continue;
        }
        Task* t = *it;
        runq_.erase(it);
        t->state = TaskState::kRunning;
        t->cpu = &cpu;
        cpu.current = t;
        t->fiber->resume();
        t->rseq.note_switch();  // it left the vCPU: rseq is seen to on its return
        cpu.current = nullptr;
        if (t->fiber->finished()) release_task(t);
    }
    stopping_ = true;
    idle_cv_.notify_all();
}

void Kernel::release_task(Task* t) {
    for (auto& c : cpus_) {
        if (c->fpu_owner == t) c->fpu_owner = nullptr;
        c->vcpu->forget_fpu(t->fpu);
    }
    tasks_.erase(t->tid);
    if (tasks_.empty()) {
        stopping_ = true;
        idle_cv_.notify_all();
    }
}

std::string Kernel::stats_report() const {
    u64 loads = 0;
    for (const auto& c : cpus_) loads += c->vcpu->full_loads();
    const KernelStats& s = stats_;
    return fmt::format("vkernel: {} VM exits: {} syscalls, {} page faults, {} other exceptions, "
                       "{} interrupts; {} special-register loads, {} FPU switches, "
                       "{} shadow page-table flushes, {} idle page tables dropped; "
                       "fast syscalls {}",
                       s.syscalls + s.page_faults + s.exceptions + s.interrupts, s.syscalls,
                       s.page_faults, s.exceptions, s.interrupts, loads, s.fpu_switches,
                       frames_.shadow_flushes(), s.pmap_drops,
                       machine_->fast_syscalls() ? "on" : "off");
}

void Kernel::drop_idle_pmaps() {
    // Not the caller's own space (it may be mid-way through a page-table
    // edit), nor one a vCPU is running: while we hold the kernel lock no
    // vCPU can enter the guest, so in_guest is stable.
    const Task* self = current_task();
    const Mm* busy = self && self->process ? self->process->mm.get() : nullptr;
    std::vector<const Mm*> running;
    for (const auto& c : cpus_)
        if (c->in_guest.load(std::memory_order_acquire) && c->current && c->current->process)
            running.push_back(c->current->process->mm.get());
    for (const auto& [pid, p] : processes_) {
        Mm* mm = p->mm.get();
        if (!mm || mm == busy || std::find(running.begin(), running.end(), mm) != running.end())
            continue;
        mm->space().drop_all();
        ++stats_.pmap_drops;
    }
}

namespace {

// Whether user mode may use wrfsbase and rdfsbase here: the host kernel's
// CR4.FSGSBASE, which a PVM guest's user mode runs under.
bool host_fsgsbase() {
    static const bool ok = (::getauxval(AT_HWCAP2) & 2) != 0;  // HWCAP2_FSGSBASE
    return ok;
}

}  // namespace

bool Kernel::fast_enter(Task& t, Cpu& cpu, vmspace::VmSpace& space, bool alone) {
    vmspace::FastSlot* s = space.fast_slot(cpu.id);
    if (!s) return true;
    // Only fast pages dropped with the page tables needs a frame; without
    // one the thread cannot run (its fast syscalls would fault).
    if (!space.ensure_fast_pages()) {
        kill_by_signal(t, SIGKILL, " (out of guest memory for its fast syscall pages)");
        return false;
    }
    const Process& p = *t.process;
    s->mask = t.sigmask;
    s->pending = t.pending | p.shared_pending;
    s->tid = static_cast<u64>(t.tid);
    s->pid = static_cast<u64>(p.pid);
    s->cpu = cpu.id;
    s->fsgsbase = host_fsgsbase();
    s->rseq_area = t.rseq.area;
    s->brk = p.mm->brk;
    s->brk_alone = alone;
    publish_limits(p, space, cpu.id);
    if (s->random_left < vmspace::kFastRandomBytes / 2 || s->random_left > vmspace::kFastRandomBytes) {
        // A fresh space, or the pool half used: fill it. (Never the bytes
        // of another space: each space has its own data pages.)
        if (::getrandom(s->random, sizeof s->random, GRND_NONBLOCK) ==
            static_cast<ssize_t>(sizeof s->random))
            s->random_left = sizeof s->random;
        else
            s->random_left = 0;  // the calls go to the host
    }
    return true;
}

void Kernel::publish_limits(const Process& p, vmspace::VmSpace& space, unsigned cpu) {
    vmspace::FastSlot* s = space.fast_slot(cpu);
    if (!s) return;
    // Limits not yet set up (the first process, before its first
    // prlimit64) are the host's to answer.
    s->limits_valid = p.rlimits[RLIMIT_STACK][1] != 0;
    if (!s->limits_valid) return;
    static_assert(sizeof p.rlimits == vmspace::kFastLimits * 16);
    std::memcpy(reinterpret_cast<std::byte*>(s) + vmspace::kFastLimitsOffset, p.rlimits.data(),
                sizeof p.rlimits);
}

void Kernel::publish_fast_state(const Process& p) {
    // Another vCPU may run one of p's threads right now, and answer its
    // brk(0) or prlimit64 from its slot: each vCPU's slot of p's space gets
    // the new values before the call that changed them returns.
    if (!p.mm) return;
    vmspace::VmSpace& space = p.mm->space();
    for (const auto& c : cpus_) {
        vmspace::FastSlot* s = space.fast_slot(c->id);
        if (!s) continue;
        s->brk = p.mm->brk;
        publish_limits(p, space, c->id);
    }
}

void Kernel::fast_leave(Task& t, Cpu& cpu, Mm& mm, bool alone) {
    vmspace::FastSlot* s = mm.space().fast_slot(cpu.id);
    if (!s) return;
    const u64 before = t.sigmask;
    // The guest can write its slot: SIGKILL and SIGSTOP stay unblocked
    // whatever it says.
    t.sigmask = s->mask & ~(sigbit(SIGKILL) | sigbit(SIGSTOP));
    if (s->robust_set) {  // set_robust_list answered in the guest
        t.robust_list = s->robust_head;
        t.robust_len = 24;
        s->robust_set = 0;
    }
    if (s->ctid_set) {  // set_tid_address
        t.clear_child_tid = s->ctid;
        s->ctid_set = 0;
    }
    // brk moved within its last page by the stub (only when alone); the
    // guest can write the slot, so the host checks the same bounds.
    if (s->brk != mm.brk) {
        if (alone && s->brk >= mm.brk && s->brk <= page_round_up(mm.brk)) mm.brk = s->brk;
        s->brk = mm.brk;
    }
    if (s->rseq_set) {  // a first rseq registration, checked and made by the stub
        const u64 area = s->rseq_area;
        if (!t.rseq.area && area && area % kRseqAlign == 0 && area <= Mm::kUserTop - kRseqOrigSize) {
            t.rseq.area = area;
            t.rseq.len = kRseqOrigSize;
            t.rseq.sig = static_cast<u32>(s->rseq_sig);
            t.rseq.resume = false;  // the stub wrote the ids
            t.rseq.event = true;    // as rseq_syscall leaves it
        }
        s->rseq_set = 0;
    }
    // Newly blocked signals pending for the whole process go to a thread
    // that takes them, as Linux's retarget_shared_pending.
    Process& p = *t.process;
    if (p.shared_pending & t.sigmask & ~before) {
        for (Task* o : p.threads)
            if (o != &t && (p.shared_pending & ~live_sigmask(*o))) notify_signal(*o);
    }
}

const vmspace::VmSpace* Kernel::fpu_space(const Task& t) {
    // Where a thread's FPU state passes on a fast-syscall vCPU: its
    // process's space (a process being torn down has none).
    return t.process && t.process->mm ? &t.process->mm->space() : nullptr;
}

void Kernel::switch_fpu(Cpu& cpu, Task& t) {
    if (cpu.fpu_owner == &t) return;
    ++stats_.fpu_switches;
    if (cpu.fpu_owner) (void)cpu.vcpu->save_fpu(cpu.fpu_owner->fpu, fpu_space(*cpu.fpu_owner));
    (void)cpu.vcpu->load_fpu(t.fpu, fpu_space(t));
    cpu.fpu_owner = &t;
}

void Kernel::task_main(Task& t) {
    for (;;) {
        deliver_signals(t);
        if (t.exiting) break;
        if (!t.may_run_on(t.cpu->id)) {
            yield(t);  // its affinity changed: another vCPU takes it
            continue;
        }
        if (t.rseq.resume && !rseq_resume(t)) continue;  // rseq ids, section abort
        Cpu& cpu = *t.cpu;
        switch_fpu(cpu, t);
        std::shared_ptr<Mm> mm = t.process->mm;  // alive across the unlocked run
        // The only user of its memory: the process's reference and `mm` here
        // are all (a thread or a vfork child sharing it holds one more).
        const bool alone = t.process->threads.size() == 1 && mm.use_count() == 2;
        if (!fast_enter(t, cpu, mm->space(), alone)) continue;
        cpu.in_guest.store(true, std::memory_order_release);
        kmu_.unlock();
        const auto t0 = Clock::now();
        auto trap = cpu.vcpu->run(mm->space(), t.regs);
        const auto t1 = Clock::now();
        kmu_.lock();
        cpu.in_guest.store(false, std::memory_order_release);
        fast_leave(t, cpu, *mm, alone);
        // Guest time is user time; the handling below is system time.
        t.process->utime_ns += static_cast<u64>((t1 - t0).count());
        if (!trap) {
            log_error("{}", trap.error().message());
            kill_by_signal(t, SIGKILL, " (the vkernel could not run it)");
            continue;
        }
        Process* proc = t.process;
        t.blocked_ns = 0;
        switch (trap->kind) {
        case TrapKind::kSyscall:
            ++stats_.syscalls;
            dispatch_syscall(t);
            break;
        case TrapKind::kPageFault:
            ++stats_.page_faults;
            handle_fault(t, trap.value());
            break;
        case TrapKind::kException:
            ++stats_.exceptions;
            handle_exception(t, trap.value());
            break;
        case TrapKind::kInterrupted:
            ++stats_.interrupts;
            if (g_debug_log) {
                u8 code[4] = {};
                const u64 n = t.mm().space().read(t.regs.rip, code, 4);
                auto pte = t.mm().space().extract(page_round_down(t.regs.rip));
                log_debug("pid {} interrupted at {:#x} code[{}] {:02x} {:02x} {:02x} {:02x} pte {:#x} prot {} refs {}",
                          t.tid, t.regs.rip, n, code[0], code[1], code[2], code[3],
                          pte ? pte->frame : 0, pte ? pte->prot : 0,
                          pte ? frames_.refcount(pte->frame) : 0);
            }
            if (!runq_.empty()) yield(t);
            break;
        }
        // A live thread keeps its process alive; time asleep is not CPU time.
        const u64 handled = static_cast<u64>((Clock::now() - t1).count());
        if (!proc->zombie) proc->stime_ns += handled - std::min(handled, t.blocked_ns);
    }
    exit_thread(t, t.exit_code);
    // The fiber ends here; cpu_loop releases the task.
    t.state = TaskState::kDead;
}

void Kernel::yield(Task& t) {
    Cpu& cpu = *t.cpu;
    if (cpus_.size() > 1 && cpu.fpu_owner == &t) {
        (void)cpu.vcpu->save_fpu(t.fpu, fpu_space(t));
        cpu.fpu_owner = nullptr;
    }
    t.state = TaskState::kRunnable;
    runq_.push_back(&t);
    if (!t.may_run_on(cpu.id)) notify_idle(t);  // moving away (sched_setaffinity)
    const auto t0 = Clock::now();
    t.fiber->suspend();
    t.blocked_ns += static_cast<u64>((Clock::now() - t0).count());
}

void Kernel::run_child_first(Task& parent, Task& child) {
    Cpu* cpu = parent.cpu;
    if (!cpu || !parent.fiber || !child.may_run_on(cpu->id)) return;
    Process& p = *parent.process;
    const bool thread = child.process == &p;
    if (thread && !p.threads_child_first) return;
    auto it = std::find(runq_.begin(), runq_.end(), &child);
    if (it == runq_.end()) return;
    runq_.erase(it);
    if (thread) p.child_first_probe = child.tid;
    // The child's registers are a copy of ours, FPU state included (saved
    // by clone_task): the vCPU holds them already, no load is needed.
    if (cpu->fpu_owner == &parent) cpu->fpu_owner = &child;
    parent.steal_after = Clock::now() + kStealDelay;
    parent.state = TaskState::kRunnable;
    runq_.push_front(&parent);
    runq_.push_front(&child);
    const auto t0 = Clock::now();
    parent.fiber->suspend();
    parent.blocked_ns += static_cast<u64>((Clock::now() - t0).count());
    if (thread) p.child_first_probe = 0;
}

WakeReason Kernel::sleep(Task& t, WaitQueue* wq, std::optional<Clock::time_point> deadline,
                         bool interruptible) {
    // A thread run before its creator returned from clone sleeps: see
    // Process::threads_child_first.
    if (t.process && t.process->child_first_probe == t.tid) t.process->threads_child_first = false;
    if (interruptible && (signal_pending(t) || t.exiting)) return WakeReason::kInterrupted;
    if (deadline && *deadline <= Clock::now()) return WakeReason::kTimedOut;
    u64 timer = 0;
    if (deadline) timer = add_timer(*deadline, [this, &t] { wake(t, WakeReason::kTimedOut); });
    if (wq) wq->add(&t);
    t.sleeping_on = wq;
    t.interruptible = interruptible;
    t.wake_reason = WakeReason::kNone;
    t.state = TaskState::kBlocked;
    Cpu& cpu = *t.cpu;
    if (cpus_.size() > 1 && cpu.fpu_owner == &t) {
        // Another vCPU may run this task next: its FPU state must be in memory.
        (void)cpu.vcpu->save_fpu(t.fpu, fpu_space(t));
        cpu.fpu_owner = nullptr;
    }
    const auto t0 = Clock::now();
    t.fiber->suspend();
    t.blocked_ns += static_cast<u64>((Clock::now() - t0).count());
    if (wq) wq->remove(&t);
    t.sleeping_on = nullptr;
    if (timer) cancel_timer(timer);
    return t.wake_reason;
}

void Kernel::wake(Task& t, WakeReason why) {
    if (t.state != TaskState::kBlocked) return;
    if (why == WakeReason::kInterrupted && !t.interruptible) return;
    if (t.sleeping_on) {
        t.sleeping_on->remove(&t);
        t.sleeping_on = nullptr;
    }
    t.wake_reason = why;
    t.state = TaskState::kRunnable;
    runq_.push_back(&t);
    notify_idle(t);
}

void Kernel::wake_all(WaitQueue& wq) {
    auto waiters = wq.waiters();
    for (Task* t : waiters) wake(*t);
}

int Kernel::wake_some(WaitQueue& wq, int n, const std::function<bool(Task&)>& pred) {
    int woken = 0;
    auto waiters = wq.waiters();
    for (Task* t : waiters) {
        if (woken >= n) break;
        if (!pred(*t)) continue;
        wake(*t);
        woken++;
    }
    return woken;
}

u64 Kernel::add_timer(Clock::time_point deadline, std::function<void()> fn) {
    const u64 id = next_timer_++;
    // The reactor's callback runs without the kernel lock and may race with
    // cancel_timer: it looks the timer up again under the lock, so a
    // cancelled one is simply gone.
    const TimerId rid = reactor_->add_timer(deadline, [this, id](int) {
        std::lock_guard g(kmu_);
        auto it = timers_.find(id);
        if (it == timers_.end()) return;
        auto fn = std::move(it->second.second);
        timers_.erase(it);
        fn();
    });
    timers_.emplace(id, std::make_pair(rid, std::move(fn)));
    return id;
}

bool Kernel::cancel_timer(u64 id) {
    auto it = timers_.find(id);
    if (it == timers_.end()) return false;
    reactor_->cancel_timer(it->second.first);
    timers_.erase(it);
    return true;
}

bool Kernel::wait_host_fd(Task& t, int fd, short events) {
    // The callback may run after we gave up (a cancel that lost the race):
    // it holds its own flag and finds the task again by tid.
    auto ready = std::make_shared<bool>(false);
    const int tid = t.tid;
    const PollId pid = reactor_->poll_fd(fd, events, [this, tid, ready](int) {
        std::lock_guard g(kmu_);
        *ready = true;
        if (Task* task = find_task(tid)) wake(*task);
    });
    while (!*ready) {
        if (sleep(t, nullptr, std::nullopt) == WakeReason::kInterrupted && !*ready) {
            reactor_->cancel_poll(pid);
            return false;
        }
    }
    return true;
}

// The ticker is the reactor's poller: it fires timers and host I/O
// completions, and preempts: while tasks wait in the run queue it kicks
// vCPUs that are running guest code, once per slice. It also kicks a vCPU
// whose thread has a signal to take or an exit to make: a kick that came
// while Vcpu::run was finishing a trap or the FPU restore entry is absorbed
// there (the run continues), and a thread that never traps would otherwise
// run on with a SIGKILL pending.
void Kernel::ticker_loop() {
    auto next_tick = Clock::now() + kSlice;
    for (;;) {
        const auto now = Clock::now();
        if (now < next_tick) reactor_->run_once(next_tick - now);
        std::lock_guard g(kmu_);
        if (stopping_) return;
        if (Clock::now() >= next_tick) {
            next_tick = Clock::now() + kSlice;
            for (auto& c : cpus_) {
                if (!c->in_guest.load(std::memory_order_acquire)) continue;
                if (!runq_.empty() || (c->current && needs_kernel(*c->current))) c->vcpu->kick();
            }
            // And idle vCPUs look at the queue again: one that passed a
            // task over may run it now (a backstop; wakeups notify them).
            if (!runq_.empty()) idle_cv_.notify_all();
        }
    }
}

void Kernel::dispatch_syscall(Task& task) {
    auto& r = task.regs;
    const u64 nr = r.rax;
    const SyscallArgs args{{r.rdi, r.rsi, r.rdx, r.r10, r.r8, r.r9}};
    const SyscallDesc* desc = nr < kSyscallCount ? &table_[nr] : nullptr;
    std::string before;
    if (opts_.strace) before = strace_call(task, nr, desc, args);

    Result<long> res = err(ENOSYS);
    task.orig_rax = nr;
    if (desc && desc->fn) {
        task.in_syscall = true;
        res = desc->fn(task, args);
        task.in_syscall = false;
    } else {
        const u64 slot = nr < kSyscallCount ? nr : kSyscallCount;
        if (!reported_[slot]) {
            reported_[slot] = true;
            if (desc && desc->name)
                log_error("unsupported syscall {} ({}) returns ENOSYS", desc->name, nr);
            else
                log_error("unknown syscall {} returns ENOSYS", nr);
        }
    }
    long ret = res ? res.value() : -static_cast<long>(res.error().code);
    if (opts_.strace) strace_result(before, ret, task.exiting, task.tid);
    if (ret <= -kERestartSys && ret >= -kERestartRestartBlock && !task.regs_replaced) {
        // Interrupted: a signal decides (deliver_signals); with none
        // deliverable after all, the call simply restarts.
        r.rax = static_cast<u64>(ret);
        return;
    }
    // A successful execve or rt_sigreturn has set every register itself.
    if (!task.regs_replaced) r.rax = static_cast<u64>(ret);
    task.regs_replaced = false;
}

void Kernel::handle_fault(Task& task, const Trap& trap) {
    const Access access = trap.exec() ? Access::kExec : trap.write() ? Access::kWrite : Access::kRead;
    auto res = task.mm().fault(trap.address, access);
    log_debug("pid {} fault {:#x} rip {:#x} err {:#x} -> {}", task.tid, trap.address, task.regs.rip,
              trap.error_code, res ? "ok" : "fail");
    if (res) return;
    if (res.error() == FaultError::kNoMem) {
        kill_by_signal(task, SIGKILL, " (out of guest memory; raise -m)");
        return;
    }
    KSigInfo info;
    const bool bus = res.error() == FaultError::kBus;  // a file page beyond its end
    info.signo = bus ? SIGBUS : SIGSEGV;
    info.code = res.error() == FaultError::kMapErr ? 1 : 2;  // SEGV_MAPERR, SEGV_ACCERR, BUS_ADRERR
    info.u.fault.addr = trap.address;
    task.fault_detail = fmt::format(" (fault address {:#x}, rip {:#x}, {})", trap.address,
                                    task.regs.rip, bus ? "BUS_ADRERR"
                                                   : info.code == 1 ? "SEGV_MAPERR" : "SEGV_ACCERR");
    task.fault_trapno = trap.vector;
    task.fault_error = trap.error_code;
    task.fault_cr2 = trap.address;
    force_signal(task, info.signo, info);
}

void Kernel::handle_exception(Task& task, const Trap& trap) {
    KSigInfo info;
    int sig;
    switch (trap.vector) {
    case vmspace::kVecDivide: sig = SIGFPE; info.code = 1; break;  // FPE_INTDIV
    case vmspace::kVecX87:
    case vmspace::kVecSimd: sig = SIGFPE; info.code = 0; break;
    case vmspace::kVecDebug:
    case vmspace::kVecBreakpoint: sig = SIGTRAP; info.code = 0x80; break;  // SI_KERNEL
    case vmspace::kVecInvalidOpcode: sig = SIGILL; info.code = 2; break;   // ILL_ILLOPN
    case vmspace::kVecAlignment: sig = SIGBUS; info.code = 1; break;       // BUS_ADRALN
    default: sig = SIGSEGV; info.code = 0x80; break;  // #GP and friends: SI_KERNEL, as Linux
    }
    info.signo = sig;
    if (sig == SIGFPE || sig == SIGILL) info.u.fault.addr = task.regs.rip;
    task.fault_detail = fmt::format(" (vector {}, error code {:#x}, rip {:#x})", trap.vector,
                                    trap.error_code, task.regs.rip);
    task.fault_trapno = trap.vector;
    task.fault_error = trap.error_code;
    task.fault_cr2 = 0;
    force_signal(task, sig, info);
}

}  // namespace vk
