#include "vkernel/kernel.h"

#include <signal.h>

#include <cstring>

#include "base/log.h"
#include "vkernel/strace.h"

namespace vk {

using vmspace::Trap;
using vmspace::TrapKind;

std::string signal_name(int sig) {
    const char* abbrev = sigabbrev_np(sig);
    return abbrev ? std::string("SIG") + abbrev : "signal " + std::to_string(sig);
}

Result<std::unique_ptr<Kernel>, HostError> Kernel::create(const KernelOptions& opts,
                                                         const SyscallTable& table) {
    auto mem = VK_TRY(pmap::PhysMemory::create(opts.memory));
    std::unique_ptr<Kernel> k(new Kernel(opts, table, std::move(mem)));
    k->machine_ = VK_TRY(vmspace::Machine::create(k->mem_, k->frames_));
    k->vcpu_ = VK_TRY(vmspace::Vcpu::create(*k->machine_, 0));
    return k;
}

u64 Kernel::uptime_seconds() const {
    return static_cast<u64>(std::chrono::duration_cast<std::chrono::seconds>(
                                std::chrono::steady_clock::now() - boot_time_)
                                .count());
}

Kernel::~Kernel() {
    init_task_.reset();
    init_.reset();
}

void Kernel::kill_by_signal(Task& task, int sig, const std::string& detail) {
    Process& p = task.process;
    if (p.exited) return;
    log_error("{}: killed by {}{}", p.exe, signal_name(sig), detail);
    p.exited = true;
    p.exit_status = sig;
}

Result<int, ExecError> Kernel::run(const std::string& path, const std::vector<std::string>& argv,
                                   const std::vector<std::string>& envp) {
    init_ = std::make_unique<Process>();
    init_task_ = std::make_unique<Task>(*this, *init_);
    Task& task = *init_task_;
    VK_TRY(load_program(task, *machine_, path, argv, envp));

    while (!init_->exited) {
        auto trap = vcpu_->run(task.mm().space(), task.regs);
        if (!trap) return Unexpected{ExecError{1, trap.error().message()}};
        switch (trap->kind) {
        case TrapKind::kSyscall: dispatch_syscall(task); break;
        case TrapKind::kPageFault: handle_fault(task, trap.value()); break;
        case TrapKind::kException: handle_exception(task, trap.value()); break;
        case TrapKind::kInterrupted: break;
        }
    }
    return init_->exit_status;
}

void Kernel::dispatch_syscall(Task& task) {
    auto& r = task.regs;
    const u64 nr = r.rax;
    const SyscallArgs args{{r.rdi, r.rsi, r.rdx, r.r10, r.r8, r.r9}};
    const SyscallDesc* desc = nr < kSyscallCount ? &table_[nr] : nullptr;
    std::string before;
    if (opts_.strace) before = strace_call(task, nr, desc, args);

    Result<long> res = err(ENOSYS);
    if (desc && desc->fn) {
        res = desc->fn(task, args);
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
    const long ret = res ? res.value() : -static_cast<long>(res.error().code);
    if (opts_.strace) strace_result(before, ret, task.process.exited);
    r.rax = static_cast<u64>(ret);
}

void Kernel::handle_fault(Task& task, const Trap& trap) {
    const Access access = trap.exec() ? Access::kExec : trap.write() ? Access::kWrite : Access::kRead;
    auto res = task.mm().fault(trap.address, access);
    if (res) return;
    if (res.error() == FaultError::kNoMem) {
        kill_by_signal(task, SIGKILL, " (out of guest memory; raise -m)");
        return;
    }
    kill_by_signal(task, SIGSEGV,
                   fmt::format(" (fault address {:#x}, rip {:#x}, {})", trap.address, task.regs.rip,
                               res.error() == FaultError::kMapErr ? "SEGV_MAPERR" : "SEGV_ACCERR"));
}

void Kernel::handle_exception(Task& task, const Trap& trap) {
    int sig;
    switch (trap.vector) {
    case vmspace::kVecDivide:
    case vmspace::kVecX87:
    case vmspace::kVecSimd: sig = SIGFPE; break;
    case vmspace::kVecDebug:
    case vmspace::kVecBreakpoint: sig = SIGTRAP; break;
    case vmspace::kVecInvalidOpcode: sig = SIGILL; break;
    case vmspace::kVecAlignment: sig = SIGBUS; break;
    default: sig = SIGSEGV; break;  // #GP, #SS, #NP, bound ... as Linux does
    }
    kill_by_signal(task, sig,
                   fmt::format(" (vector {}, error code {:#x}, rip {:#x})", trap.vector,
                               trap.error_code, task.regs.rip));
}

}  // namespace vk
