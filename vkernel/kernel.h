#pragma once

#include <bitset>
#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "base/result.h"
#include "pmap/frame_allocator.h"
#include "pmap/phys_memory.h"
#include "vkernel/loader.h"
#include "vkernel/syscall_table.h"
#include "vkernel/task.h"
#include "vmspace/machine.h"
#include "vmspace/vcpu.h"

namespace vk {

struct KernelOptions {
    u64 memory = 256ULL << 20;  // -m
    bool strace = false;        // --strace
};

// The vkernel: guest memory, the KVM machine, its vCPU and the processes on
// it. For now one process with one thread runs to completion on the calling
// host thread.
class Kernel {
public:
    static Result<std::unique_ptr<Kernel>, HostError> create(const KernelOptions& opts,
                                                            const SyscallTable& table);
    ~Kernel();

    // Starts the program at host path `path` and runs it until it exits.
    // Returns its wait status (exit code << 8, or the killing signal).
    Result<int, ExecError> run(const std::string& path, const std::vector<std::string>& argv,
                               const std::vector<std::string>& envp);

    const KernelOptions& options() const { return opts_; }
    vmspace::Machine& machine() { return *machine_; }
    pmap::FrameAllocator& frames() { return frames_; }
    u64 memory_bytes() const { return mem_.size(); }
    // Seconds since this vkernel booted (sysinfo, /proc/uptime).
    u64 uptime_seconds() const;

    // Ends `task`'s process as if by signal `sig` with a one-line report.
    void kill_by_signal(Task& task, int sig, const std::string& detail);

private:
    Kernel(const KernelOptions& o, const SyscallTable& t, pmap::PhysMemory mem)
        : opts_(o), table_(t), mem_(std::move(mem)), frames_(mem_) {}
    void dispatch_syscall(Task& task);
    void handle_fault(Task& task, const vmspace::Trap& trap);
    void handle_exception(Task& task, const vmspace::Trap& trap);

    KernelOptions opts_;
    std::chrono::steady_clock::time_point boot_time_ = std::chrono::steady_clock::now();
    const SyscallTable& table_;
    // Declaration order is destruction order reversed: processes go before
    // the vCPU, the machine, the frames and finally the memory itself.
    pmap::PhysMemory mem_;
    pmap::FrameAllocator frames_;
    std::unique_ptr<vmspace::Machine> machine_;
    std::unique_ptr<vmspace::Vcpu> vcpu_;
    std::unique_ptr<Process> init_;
    std::unique_ptr<Task> init_task_;
    std::bitset<kSyscallCount + 1> reported_;  // unknown syscalls already reported
};

// Linux name of signal `sig` ("SIGSEGV"), or "signal N".
std::string signal_name(int sig);

}  // namespace vk
