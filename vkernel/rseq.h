#pragma once

// Restartable sequences (rseq(2)), as Linux's kernel/rseq.c defines them.
//
// A thread registers a `struct rseq` in its own memory. Whenever it returns
// to user mode after it left its vCPU (blocked, preempted, moved to another
// vCPU) or got a signal, the kernel writes the vCPU number into that area,
// and if the thread was inside a critical section (the `struct rseq_cs` its
// area points at covers the user RIP) sends it to the section's abort
// handler instead. Everything here is plain reads and writes of guest memory
// through the page tables: no VM exit, and threads that did not register pay
// one test of a flag.
//
// The decisions (descriptor checks, fixup, registration rules) are pure
// functions over GuestReader/GuestWriter so they can be tested without a
// guest; the Task-level entry points at the end apply them to a thread.

#include "base/result.h"
#include "base/types.h"
#include "vkernel/signal_frame.h"  // GuestReader, GuestWriter

namespace vk {

class Task;

// Linux's include/uapi/linux/rseq.h, as the guest lays it out.
inline constexpr u32 kRseqOrigSize = 32;     // the first struct rseq, with padding
inline constexpr u32 kRseqFeatureSize = 28;  // offsetof(struct rseq, end): AT_RSEQ_FEATURE_SIZE
inline constexpr u32 kRseqAlign = 32;        // __alignof__(struct rseq): AT_RSEQ_ALIGN
inline constexpr u32 kRseqFlagUnregister = 1;
inline constexpr u32 kRseqCpuIdUninitialized = 0xffff'ffff;  // RSEQ_CPU_ID_UNINITIALIZED (-1)
// Offsets in struct rseq.
inline constexpr u64 kRseqOffCpuIdStart = 0;  // u32 cpu_id_start, then u32 cpu_id
inline constexpr u64 kRseqOffRseqCs = 8;      // u64 rseq_cs
inline constexpr u64 kRseqOffFlags = 16;      // u32 flags (deprecated: must be 0)
inline constexpr u64 kRseqOffNodeId = 20;     // u32 node_id, then u32 mm_cid

// struct rseq_cs: one critical section, [start_ip, start_ip + post_commit_offset).
struct RseqCs {
    u32 version = 0;
    u32 flags = 0;
    u64 start_ip = 0;
    u64 post_commit_offset = 0;
    u64 abort_ip = 0;
};
static_assert(sizeof(RseqCs) == 32);

// A thread's registration (Task::rseq, kernel lock) and what happened to the
// thread since it last ran user code.
struct RseqState {
    u64 area = 0;  // guest address of its struct rseq; 0: not registered
    u32 len = 0;   // the length it registered
    u32 sig = 0;   // the signature each abort handler must be preceded by
    // The ids (and a section) must be seen to before user mode: Linux's
    // TIF_NOTIFY_RESUME for rseq.
    bool resume = false;
    // Preempted, migrated or signalled since a section was last decided on:
    // Linux's rseq_event_mask. Only with it set does a section abort.
    bool event = false;

    // The thread left its vCPU (it blocked or was preempted).
    void note_switch() {
        if (area) resume = event = true;
    }
};

// --- The decisions (no Task, no kernel) -------------------------------------

// Linux's checks of a struct rseq_cs copied in from the guest (rseq_get_rseq_cs,
// less the signature): EINVAL for a version other than 0, addresses at or
// above `user_top`, a section that wraps around, or abort_ip inside it.
Result<void> rseq_check_cs(const RseqCs& cs, u64 user_top);

// Whether `ip` is inside the section (start_ip <= ip < start_ip + post_commit_offset).
inline bool rseq_in_cs(const RseqCs& cs, u64 ip) { return ip - cs.start_ip < cs.post_commit_offset; }

// Linux's rseq_ip_fixup for a thread at `ip` whose area is `st.area`: reads
// the rseq_cs pointer; outside any section it is cleared (lazily, as Linux
// does); inside one, with `st.event` set, it is cleared and the new RIP is
// the section's abort_ip (st.event is reset whenever a section is decided
// on). Returns the RIP to resume at (`ip` when nothing changes), or an errno
// (EFAULT, EINVAL for a bad descriptor or signature): the thread then gets
// SIGSEGV.
Result<u64> rseq_ip_fixup(RseqState& st, u64 ip, u64 user_top, const GuestReader& read,
                          const GuestWriter& write);

// Writes cpu_id_start = cpu_id = `cpu`, node_id = 0 and mm_cid = `mm_cid`
// into the area at `area` (rseq_update_cpu_node_id).
Result<void> rseq_write_ids(u64 area, u32 cpu, u32 mm_cid, const GuestWriter& write);

// What unregistering leaves: cpu_id_start = 0, cpu_id = -1, node_id = mm_cid = 0.
Result<void> rseq_reset_ids(u64 area, const GuestWriter& write);

// rseq(2) on `st` as Linux's sys_rseq decides it: EINVAL, EPERM, EBUSY,
// EFAULT as documented in rseq(2). A registration clears a stale rseq_cs
// and writes the ids for `cpu` at once, so an area the guest cannot write
// fails with EFAULT here instead of killing the thread on its way out.
Result<void> rseq_syscall(RseqState& st, u64 area, u32 len, u32 flags, u32 sig, u32 cpu,
                          u64 user_top, const GuestReader& read, const GuestWriter& write);

// What a new thread or process starts with (Linux's rseq_fork): nothing when
// it shares the address space (threads, vfork), else the parent's
// registration (the child's copy of the area), to be brought up to date on
// its first return to user mode.
RseqState rseq_fork(const RseqState& parent, bool shares_vm);

// --- On a task (kernel lock held, the task running on its vCPU) ----------------

// rseq(2) for the calling task.
Result<long> rseq_register(Task& t, u64 area, u32 len, u32 flags, u32 sig);

// Before the task returns to user mode with t.rseq.resume set: the section
// fixup and the ids. False if the area or its descriptor is bad: SIGSEGV is
// then pending (forced) and signals must be delivered again first.
bool rseq_resume(Task& t);

// Before a handler frame for `sig` is built (Linux's rseq_signal_deliver):
// the frame must hold abort_ip, not the interrupted RIP. A bad area or
// descriptor forces SIGSEGV; while delivering SIGSEGV itself that is fatal:
// the process is killed and the result is false.
bool rseq_signal_deliver(Task& t, int sig);

}  // namespace vk
