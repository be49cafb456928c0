#pragma once

// The vkernel: guest memory, the KVM machine, N vCPU host threads that run
// guest threads (fibers) from one run queue, the process table and timers.
//
// Lock order: kmu_ (the kernel lock) → FrameAllocator::mu_ (leaf).
// kmu_ guards all kernel state. A vCPU thread holds it while it runs kernel
// code (its scheduler or a task's fiber) and releases it inside KVM_RUN, while
// idle, and around blocking host calls (without_lock).

#include <atomic>
#include <bitset>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "base/reactor.h"
#include "base/result.h"
#include "pmap/frame_allocator.h"
#include "pmap/phys_memory.h"
#include "vkernel/fs/tmpfs.h"
#include "vkernel/fs/vfs.h"
#include "vkernel/image_cache.h"
#include "vkernel/loader.h"
#include "vkernel/syscall_table.h"
#include "vkernel/task.h"
#include "vkernel/vdso.h"
#include "vmspace/machine.h"
#include "vmspace/vcpu.h"

namespace vk {

class Tty;

struct KernelOptions {
    u64 memory = 256ULL << 20;  // -m
    unsigned cpus = 1;          // -n
    bool strace = false;        // --strace
    // Answer rt_sigprocmask, gettid, getpid and set_robust_list in the
    // guest where the KVM allows it (PVM; vmspace/fast_syscall.h). Off with
    // --strace, which must see every call, and with --no-fast-syscalls.
    bool fast_syscalls = true;
    // --bind HOSTDIR:GUESTDIR: host directories shown read-only (hostfs).
    std::vector<std::pair<std::string, std::string>> binds;
    std::string hostname = "vkernel";  // --hostname; sethostname(2) changes it
    bool stats = false;                // --stats: print the counters below at exit
};

// What the vkernel did, counted (kernel lock): every VM exit by kind, and
// the costly parts of switching threads on a vCPU. On a host where an exit
// costs tens of microseconds these counts explain the benchmarks.
struct KernelStats {
    u64 syscalls = 0;
    u64 page_faults = 0;
    u64 exceptions = 0;   // other CPU exceptions
    u64 interrupts = 0;   // preemption kicks and other interrupted runs
    u64 fpu_switches = 0; // FPU state saved and loaded through vCPU ioctls
    u64 pmap_drops = 0;   // page tables of idle processes dropped for memory
};

// One vCPU and the host thread that runs it.
struct Cpu {
    unsigned id = 0;
    std::unique_ptr<vmspace::Vcpu> vcpu;
    std::thread thread;
    Task* current = nullptr;         // kernel lock
    Task* fpu_owner = nullptr;       // whose FPU state the vCPU holds (kernel lock)
    std::atomic<bool> in_guest{false};
};

// What clone(2) asks for, decoded.
struct CloneArgs {
    u64 flags = 0;
    u64 stack = 0;
    u64 parent_tid = 0;
    u64 child_tid = 0;
    u64 tls = 0;
    int exit_signal = 0;
};

class Kernel {
public:
    static Result<std::unique_ptr<Kernel>, HostError> create(const KernelOptions& opts,
                                                            const SyscallTable& table);
    ~Kernel();

    // Prepares the root before run(): unpacks the cpio (newc) `archive`
    // (may be empty; `name` is its file, for messages) into the root tmpfs
    // and mounts the --bind directories. A failure is one sentence for the user.
    Result<void, std::string> boot(std::span<const std::byte> archive, const std::string& name);

    // Starts init and runs the vCPUs until init exits. `command` is a path
    // in the guest root, or a name looked up in PATH (from `envp`, else
    // /bin:/sbin:/usr/bin:/usr/sbin) like execvp; empty: /sbin/init if
    // present, else /bin/sh. `argv` empty: just the program's path.
    // Returns init's wait status (exit code << 8, or the killing signal).
    Result<int, ExecError> run(const std::string& command, std::vector<std::string> argv,
                               const std::vector<std::string>& envp);

    const KernelOptions& options() const { return opts_; }
    // uname's nodename (kernel lock).
    const std::string& hostname() const { return opts_.hostname; }
    void set_hostname(std::string name) { opts_.hostname = std::move(name); }
    vmspace::Machine& machine() { return *machine_; }
    pmap::FrameAllocator& frames() { return frames_; }
    u64 memory_bytes() const { return mem_.size(); }
    u64 uptime_seconds() const;
    Clock::time_point boot_time() const { return boot_time_; }
    // The task whose kernel code runs on the calling host thread (its vCPU's
    // current task), or null off the vCPU threads (boot, timers, tests).
    // Kernel lock held. procfs resolves /proc/self with it.
    Task* current_task() const;
    const KernelStats& stats() const { return stats_; }
    // Out of frames: drops the page tables of every process that is not in
    // guest mode and not the caller's (they are a cache, refilled by
    // faults). Called by the frame allocator with the kernel lock held.
    void drop_idle_pmaps();
    // One line per kind of cost, for --stats; after run() has returned.
    std::string stats_report() const;
    // The XSAVE components guest threads have and their image size (the
    // same on every vCPU): signal frames carry that image.
    const vmspace::Machine::XsaveLayout& xsave_layout() const { return machine_->xsave_layout(); }
    unsigned cpu_count() const { return static_cast<unsigned>(cpus_.size()); }
    std::size_t process_count() const { return processes_.size(); }

    // The mount namespace every process sees, and the private one that
    // holds anonymous inodes (pipes, the console).
    fs::Vfs& vfs() { return *vfs_; }
    fs::Vfs& anon_vfs() { return *anon_vfs_; }
    u64 next_anon_id() { return next_anon_++; }
    // The console tty (tty.h) when the host's stdin is a terminal, else null.
    std::shared_ptr<Tty>& console_tty() { return console_tty_; }

    // --- Scheduling (kernel lock held) -------------------------------------
    // Puts the calling task to sleep on `wq` (may be null) until woken, its
    // deadline passes, or (if interruptible) a signal arrives.
    WakeReason sleep(Task& t, WaitQueue* wq, std::optional<Clock::time_point> deadline,
                     bool interruptible = true);
    void wake(Task& t, WakeReason why = WakeReason::kWoken);
    void wake_all(WaitQueue& wq);
    // Wakes at most n tasks of wq matching pred; returns how many.
    int wake_some(WaitQueue& wq, int n, const std::function<bool(Task&)>& pred);
    void yield(Task& t);
    // Right after clone: lets `child` run on the parent's vCPU before the
    // parent returns from the call. An idle vCPU takes the parent meanwhile:
    // the child, usually the critical path (an exec, a short thread),
    // starts without waiting for another host thread to wake.
    void run_child_first(Task& parent, Task& child);
    // Runs a blocking host call without the kernel lock. The task stays on
    // its vCPU meanwhile.
    template <typename F>
    auto without_lock(F&& f) {
        kmu_.unlock();
        struct Relock {
            std::mutex& m;
            ~Relock() { m.lock(); }
        } relock{kmu_};
        return f();
    }

    // Timers: the callback runs with the kernel lock held, on the reactor's
    // thread. cancel_timer is exact: after it the callback never runs.
    u64 add_timer(Clock::time_point deadline, std::function<void()> fn);
    bool cancel_timer(u64 id);

    // Host fd readiness without blocking a vCPU: sleeps the task until `fd`
    // has one of `events` (poll(2) bits), or a signal arrives (false).
    bool wait_host_fd(Task& t, int fd, short events);

    // --- Processes (process.cpp) -------------------------------------------
    Process* find_process(int pid);
    Task* find_task(int tid);
    const std::map<int, std::unique_ptr<Process>>& processes() const { return processes_; }
    Result<int> clone_task(Task& parent, const CloneArgs& args);
    // Replaces the process image; on success the task continues at the new entry.
    Result<void> exec(Task& t, const ExecTarget& target, std::vector<std::string> argv,
                      const std::vector<std::string>& envp);
    // Ends the calling thread / its whole process with wait status `status`.
    void exit_thread(Task& t, int code);
    void exit_group(Task& t, int status);
    // wait4/waitid core: the first child matching (idtype, id) with a
    // reportable state; blocks unless WNOHANG.
    struct WaitResult {
        int pid = 0;
        int status = 0;  // wait status
        int code = 0;    // CLD_EXITED, CLD_KILLED ...
        u32 uid = 0;
        u64 utime_ns = 0, stime_ns = 0;
    };
    Result<WaitResult> wait_child(Task& t, int idtype, int id, int options);

    // --- Signals (signals.cpp) ---------------------------------------------
    void send_signal(Process& p, int sig, const KSigInfo& info);
    void send_signal_to_task(Task& t, int sig, const KSigInfo& info);
    bool signal_pending(const Task& t) const;
    // Whether a thread running guest code must come back to the kernel: a
    // signal it does not block (as the guest sees its mask), an exit, or a
    // vCPU its affinity no longer allows.
    bool needs_kernel(const Task& t) const;
    // After sched_setaffinity changed t.affinity: a queued task may now suit
    // an idle vCPU that passed it over; a running one may have to move.
    void affinity_changed(Task& t);
    // A thread's blocked signals: while it runs guest code with fast
    // syscalls they live in its vCPU's slot (vmspace/fast_syscall.h).
    u64 live_sigmask(const Task& t) const;
    // Tells the slots of `p`'s threads in guest mode what is now pending.
    void refresh_fast_pending(Process& p);
    // Makes a thread notice a signal: interrupts its sleep or its guest code.
    void notify_signal(Task& t);
    // A synchronous signal from a CPU fault: it cannot be blocked or ignored
    // (Linux's force_sig_info).
    void force_signal(Task& t, int sig, const KSigInfo& info);
    // Delivers pending signals before the task returns to user mode.
    void deliver_signals(Task& t);
    // Ends `task`'s process as if by signal `sig` with a one-line report.
    void kill_by_signal(Task& task, int sig, const std::string& detail);
    void notify_parent_of_stop(Process& p, int code, int status);

    // After p's break or rlimits change: the fast syscall slots of every
    // vCPU answer brk(0) and prlimit64 with the new values
    // (vmspace/fast_syscall.h).
    void publish_fast_state(const Process& p);

    std::mutex& lock() { return kmu_; }
    Reactor& reactor() { return *reactor_; }

private:
    Kernel(const KernelOptions& o, const SyscallTable& t, pmap::PhysMemory mem)
        : opts_(o), table_(t), mem_(std::move(mem)), frames_(mem_) {}
    void cpu_loop(Cpu& cpu);
    void task_main(Task& t);
    void ticker_loop();
    void switch_fpu(Cpu& cpu, Task& t);
    static const vmspace::VmSpace* fpu_space(const Task& t);
    // The thread's slot before and after a run (fast syscalls).
    // `alone`: t is its address space's only user (brk may move in the guest).
    bool fast_enter(Task& t, Cpu& cpu, vmspace::VmSpace& space, bool alone);
    // `mm`: the memory the run used (another thread's exec may have replaced
    // the process's meanwhile).
    void fast_leave(Task& t, Cpu& cpu, Mm& mm, bool alone);
    // p's rlimits into the limits table of its space's page for `cpu`.
    static void publish_limits(const Process& p, vmspace::VmSpace& space, unsigned cpu);
    void dispatch_syscall(Task& task);
    void handle_fault(Task& task, const vmspace::Trap& trap);
    void handle_exception(Task& task, const vmspace::Trap& trap);
    void start_task(Task& t);
    // Wakes an idle vCPU for a task just queued (every idle one if the
    // task's affinity excludes some).
    void notify_idle(const Task& t);
    void release_task(Task* t);
    void finish_process(Process& p);
    void reap(Process* child);
    void shutdown_locked();
    int alloc_pid();

    KernelOptions opts_;
    const SyscallTable& table_;
    Clock::time_point boot_time_ = Clock::now();
    // Declaration order is destruction order reversed: processes go before
    // the vCPUs, the machine, the frames and finally the memory itself.
    pmap::PhysMemory mem_;
    pmap::FrameAllocator frames_;
    std::unique_ptr<vmspace::Machine> machine_;
    std::vector<std::unique_ptr<Cpu>> cpus_;
    std::unique_ptr<Vdso> vdso_;  // null if it could not be set up: no process gets one
    KernelStats stats_;
    std::unique_ptr<fs::Vfs> vfs_;
    std::unique_ptr<fs::Vfs> anon_vfs_;
    u64 next_anon_ = 1;
    // Recently executed programs (after frames_: it holds frames; guarded by kmu_).
    ImageCache image_cache_{frames_};

    std::mutex kmu_;                        // the kernel lock
    std::condition_variable idle_cv_;       // idle vCPUs
    std::deque<Task*> runq_;
    std::map<int, std::unique_ptr<Process>> processes_;
    std::map<int, std::unique_ptr<Task>> tasks_;
    // Pending timers by id, with the reactor timer that fires each.
    std::map<u64, std::pair<TimerId, std::function<void()>>> timers_;
    std::optional<Reactor> reactor_;  // its callbacks take kmu_ themselves
    std::shared_ptr<Tty> console_tty_;  // after reactor_: let go of before it
    u64 next_timer_ = 1;
    int next_pid_ = 1;
    bool stopping_ = false;
    int init_status_ = 0;
    CommitCharge commit_;
    std::bitset<kSyscallCount + 1> reported_;  // unknown syscalls already reported
};

// Linux name of signal `sig` ("SIGSEGV"), or "signal N".
std::string signal_name(int sig);

}  // namespace vk
