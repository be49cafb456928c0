#pragma once

// Processes and threads. A Process owns what its threads share (memory map,
// signal handlers, credentials, fds); a Task is one thread: a fiber with its
// saved user registers and FPU state. All fields are guarded by the kernel
// lock unless a comment says otherwise.

#include <array>
#include <chrono>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "base/fiber.h"
#include "base/types.h"
#include "vkernel/fs/fd_table.h"
#include "vkernel/fs/fs_context.h"
#include "vkernel/mm.h"
#include "vkernel/rseq.h"
#include "vkernel/signal_frame.h"
#include "vkernel/wait_queue.h"
#include "vmspace/trap.h"
#include "vmspace/vcpu.h"

namespace vk {

class Kernel;
struct Cpu;
using Clock = std::chrono::steady_clock;

// struct k_sigaction as rt_sigaction(2) passes it on x86-64.
struct SigAction {
    u64 handler = 0;  // SIG_DFL
    u64 flags = 0;
    u64 restorer = 0;
    u64 mask = 0;
};

inline constexpr int kNsig = 64;
inline constexpr u64 sigbit(int sig) { return 1ULL << (sig - 1); }

// Linux's siginfo_t, as signal_frame.h defines it for the frames.
using KSigInfo = SigInfo;

// Pending signals' information. Standard signals (1-31) are pending at most
// once; real-time signals (32-64) queue, one entry per send.
struct SigQueue {
    std::array<KSigInfo, kNsig> std_info{};
    std::deque<KSigInfo> rt;

    // Adds `sig` to `mask` and the queue; false if a standard signal was
    // already pending (it is then merged).
    bool add(u64& mask, int sig, const KSigInfo& info) {
        KSigInfo i = info;
        i.signo = sig;
        if (sig >= 32) {
            rt.push_back(i);
        } else {
            if (mask & (1ULL << (sig - 1))) return false;
            std_info[sig - 1] = i;
        }
        mask |= 1ULL << (sig - 1);
        return true;
    }
    // Takes one instance of pending `sig`, clearing its bit when none is left.
    KSigInfo take(u64& mask, int sig) {
        KSigInfo out;
        if (sig >= 32) {
            bool more = false;
            bool found = false;
            for (auto it = rt.begin(); it != rt.end();) {
                if (it->signo != sig) {
                    ++it;
                    continue;
                }
                if (!found) {
                    out = *it;
                    found = true;
                    it = rt.erase(it);
                } else {
                    more = true;
                    break;
                }
            }
            if (!more) mask &= ~(1ULL << (sig - 1));
            return out;
        }
        mask &= ~(1ULL << (sig - 1));
        return std_info[sig - 1];
    }
    // Drops every instance of `sig`.
    void drop(u64& mask, int sig) {
        mask &= ~(1ULL << (sig - 1));
        std::erase_if(rt, [sig](const KSigInfo& i) { return i.signo == sig; });
    }
};

// Signal handlers, shared by threads (and by CLONE_SIGHAND children).
struct SigHand {
    std::array<SigAction, kNsig> actions{};
};

enum class TaskState { kRunnable, kRunning, kBlocked, kDead };
enum class WakeReason { kNone, kWoken, kInterrupted, kTimedOut };

class Process {
public:
    int pid = 0, pgid = 0, sid = 0;
    // Gave up its session's controlling terminal (TIOCNOTTY by a member that
    // is not the leader): the others keep it. Inherited by fork.
    bool no_ctty = false;
    Process* parent = nullptr;         // null only for init
    std::vector<Process*> children;    // owned by the kernel's process table
    std::vector<Task*> threads;        // live threads
    u32 uid = 0, euid = 0, suid = 0, gid = 0, egid = 0, sgid = 0;
    u32 fsuid = 0, fsgid = 0;  // what file checks use; follow euid/egid unless setfs[ug]id
    std::vector<u32> groups;   // supplementary groups, sorted (setgroups)
    std::shared_ptr<Mm> mm;
    std::shared_ptr<SigHand> sighand;
    std::string exe;   // path it was started from
    // execve's argv and envp, each string NUL-terminated and concatenated
    // (/proc/PID/cmdline and environ); copied by fork.
    std::string cmdline, environ;
    Clock::time_point start_time = Clock::now();  // /proc/PID/stat's starttime
    std::shared_ptr<fs::FdTable> fds;      // shared by CLONE_FILES
    std::shared_ptr<fs::FsContext> fsctx;  // root, cwd, umask; shared by CLONE_FS
    // getrlimit/setrlimit values: {soft, hard} per RLIMIT_*.
    std::array<std::array<u64, 2>, 16> rlimits{};

    // Signals sent to the process as a whole.
    u64 shared_pending = 0;
    SigQueue shared_q;

    bool exiting = false;       // a group exit is under way
    bool zombie = false;        // all threads gone, waiting to be reaped
    int exit_status = 0;        // wait status: (code << 8) | signal (| 0x80 for core)
    bool stopped = false;       // job control stop
    // ITIMER_REAL / alarm(2): the kernel timer and its interval.
    u64 itimer_id = 0;
    Clock::time_point itimer_deadline{};
    std::chrono::nanoseconds itimer_interval{0};
    bool report_stop = false, report_continue = false;  // for WUNTRACED / WCONTINUED
    int stop_sig = 0;
    int exit_signal = 17;       // SIGCHLD to the parent at exit (clone's low byte)
    int pdeath_signal = 0;
    WaitQueue child_wait;       // parents sleeping in wait4/waitid
    WaitQueue vfork_wait;       // a vfork parent until exec or exit
    bool vfork_done = true;
    // New threads run before their creator returns from clone (Kernel::
    // run_child_first) until one of them sleeps meanwhile: it then waits
    // for something its creator holds (musl's thread-list lock), and the
    // process's later threads start after their creator instead.
    bool threads_child_first = true;
    int child_first_probe = 0;  // the tid of a new thread running while its creator waits
    u64 utime_ns = 0, stime_ns = 0;
    u64 cutime_ns = 0, cstime_ns = 0;  // reaped children's
};

// Capabilities as Linux's emulation of root gives them without file
// capabilities: all are permitted while any of the uids is 0; they are
// effective while the euid is 0, and the file-system ones (CAP_CHOWN,
// CAP_DAC_*, CAP_FOWNER, CAP_FSETID, ...) follow the fsuid instead.
inline constexpr u64 kAllCaps = (u64{1} << 41) - 1;  // CAP_CHOWN .. CAP_CHECKPOINT_RESTORE
u64 permitted_caps(const Process& p);
u64 effective_caps(const Process& p);
// The credentials file checks use: fsuid, fsgid, the supplementary groups
// and the effective capabilities.
fs::Credentials credentials(const Process& p);

class Task {
public:
    Task(Kernel& k, Process* p) : kernel(k), process(p) {}
    Mm& mm() { return *process->mm; }

    Kernel& kernel;
    Process* process;
    int tid = 0;
    vmspace::UserRegs regs;
    vmspace::Vcpu::FpuState fpu;   // valid when this task does not own a vCPU's FPU
    std::unique_ptr<Fiber> fiber;
    TaskState state = TaskState::kRunnable;
    Cpu* cpu = nullptr;            // the vCPU running it (kRunning)
    // Another vCPU than `cpu` takes it from the run queue only after this
    // (Kernel::run_child_first).
    Clock::time_point steal_after{};
    // sched_setaffinity: the vCPUs it may run on, a bit per vCPU index.
    u64 affinity = ~u64{0};
    bool may_run_on(unsigned cpu_id) const { return cpu_id < 64 && ((affinity >> cpu_id) & 1); }

    // Sleeping.
    WaitQueue* sleeping_on = nullptr;
    bool interruptible = false;
    WakeReason wake_reason = WakeReason::kNone;

    // Signals.
    u64 sigmask = 0;
    u64 pending = 0;
    SigQueue pending_q;
    std::optional<u64> saved_sigmask;  // sigsuspend / ppoll restore on return
    u64 altstack_sp = 0, altstack_size = 0;
    u32 altstack_flags = 0;

    u64 clear_child_tid = 0;
    u64 robust_list = 0, robust_len = 0;
    RseqState rseq;  // rseq(2) registration (vkernel/rseq.h)
    std::string comm;  // prctl(PR_SET_NAME)
    bool exiting = false;  // leave at the next return to the trap loop
    int exit_code = 0;     // exit(2)'s argument
    bool regs_replaced = false;  // execve/rt_sigreturn set all registers: keep rax
    // The last CPU fault, for the signal frame and the fatal-signal report.
    std::string fault_detail;
    u64 fault_trapno = 0, fault_error = 0, fault_cr2 = 0;
    int pending_fault = 0;  // the signal a CPU fault forced, until delivered
    u64 orig_rax = 0;       // the syscall number, for restarting it
    // restart_syscall(2) state of an interrupted sleep (ERESTART_RESTARTBLOCK).
    std::optional<Clock::time_point> restart_deadline;
    u64 restart_rem = 0;
    bool in_syscall = false;
    u64 blocked_ns = 0;  // asleep during the current trap's handling
};

}  // namespace vk
