#include "vkernel/rseq.h"

#include <signal.h>

#include "vkernel/kernel.h"
#include "vkernel/user_memory.h"

namespace vk {

Result<void> rseq_check_cs(const RseqCs& cs, u64 user_top) {
    const u64 end = cs.start_ip + cs.post_commit_offset;  // may wrap: checked below
    if (cs.version > 0 || cs.start_ip >= user_top || end >= user_top || cs.abort_ip >= user_top)
        return err(EINVAL);
    if (end < cs.start_ip) return err(EINVAL);
    // The abort handler must be outside the section it aborts.
    if (rseq_in_cs(cs, cs.abort_ip)) return err(EINVAL);
    return {};
}

Result<u64> rseq_ip_fixup(RseqState& st, u64 ip, u64 user_top, const GuestReader& read,
                          const GuestWriter& write) {
    const u64 cs_field = st.area + kRseqOffRseqCs;
    u64 ptr = 0;
    VK_TRY(read(cs_field, &ptr, sizeof ptr));
    // No section: Linux stores 0 over the 0 again; we spare the write.
    if (!ptr) return ip;
    if (ptr >= user_top) return err(EINVAL);
    RseqCs cs;
    VK_TRY(read(ptr, &cs, sizeof cs));
    VK_TRY(rseq_check_cs(cs, user_top));
    // Every descriptor the thread points at must carry the signature, inside
    // its section or not: an attacker cannot send it to arbitrary code.
    u32 sig = 0;
    VK_TRY(read(cs.abort_ip - sizeof sig, &sig, sizeof sig));
    if (sig != st.sig) return err(EINVAL);
    const u64 zero = 0;
    if (!rseq_in_cs(cs, ip)) {
        // Past its section: the pointer is cleared lazily, here.
        VK_TRY(write(cs_field, &zero, sizeof zero));
        return ip;
    }
    // The RSEQ_CS_FLAG_NO_RESTART_* flags are deprecated: Linux refuses them
    // (and any other bit) in the descriptor and in the area.
    if (cs.flags) return err(EINVAL);
    u32 flags = 0;
    VK_TRY(read(st.area + kRseqOffFlags, &flags, sizeof flags));
    if (flags) return err(EINVAL);
    const bool event = st.event;
    st.event = false;
    if (!event) return ip;
    VK_TRY(write(cs_field, &zero, sizeof zero));
    return cs.abort_ip;
}

Result<void> rseq_write_ids(u64 area, u32 cpu, u32 mm_cid, const GuestWriter& write) {
    const u32 cpus[2] = {cpu, cpu};  // cpu_id_start, cpu_id
    const u32 node_cid[2] = {0, mm_cid};
    VK_TRY(write(area + kRseqOffCpuIdStart, cpus, sizeof cpus));
    return write(area + kRseqOffNodeId, node_cid, sizeof node_cid);
}

Result<void> rseq_reset_ids(u64 area, const GuestWriter& write) {
    const u32 cpus[2] = {0, kRseqCpuIdUninitialized};
    const u32 node_cid[2] = {0, 0};
    VK_TRY(write(area + kRseqOffCpuIdStart, cpus, sizeof cpus));
    return write(area + kRseqOffNodeId, node_cid, sizeof node_cid);
}

Result<void> rseq_syscall(RseqState& st, u64 area, u32 len, u32 flags, u32 sig, u32 cpu,
                          u64 user_top, const GuestReader& read, const GuestWriter& write) {
    if (flags & kRseqFlagUnregister) {
        if (flags & ~kRseqFlagUnregister) return err(EINVAL);
        if (!st.area || st.area != area || len != st.len) return err(EINVAL);
        if (sig != st.sig) return err(EPERM);
        VK_TRY(rseq_reset_ids(st.area, write));
        st = RseqState{};
        return {};
    }
    if (flags) return err(EINVAL);
    if (st.area) {
        if (st.area != area || len != st.len) return err(EINVAL);
        if (sig != st.sig) return err(EPERM);
        return err(EBUSY);
    }
    // The original 32-byte struct or a longer one (which then holds every
    // field of AT_RSEQ_FEATURE_SIZE), aligned as AT_RSEQ_ALIGN says.
    if (len < kRseqOrigSize || area % kRseqAlign) return err(EINVAL);
    // access_ok(): the whole area below the top of user space.
    if (len > user_top || area > user_top - len) return err(EFAULT);
    // A stale section pointer (a libc that reuses areas) would fault on the
    // way out: Linux clears it.
    u64 cs = 0;
    VK_TRY(read(area + kRseqOffRseqCs, &cs, sizeof cs));
    const u64 zero = 0;
    if (cs) VK_TRY(write(area + kRseqOffRseqCs, &zero, sizeof zero));
    VK_TRY(rseq_write_ids(area, cpu, cpu, write));
    st.area = area;
    st.len = len;
    st.sig = sig;
    st.resume = false;  // the ids are written; no section can be running
    // Linux's event mask is set by every switch, registered or not, so a
    // thread that has ever been scheduled has it: so does ours.
    st.event = true;
    return {};
}

RseqState rseq_fork(const RseqState& parent, bool shares_vm) {
    if (shares_vm) return RseqState{};
    RseqState child = parent;
    // The child starts on a vCPU of its own choosing (Linux: rseq_migrate in
    // wake_up_new_task).
    child.note_switch();
    return child;
}

namespace {

GuestReader reader_of(Task& t) {
    Mm& mm = t.mm();
    return [&mm](u64 addr, void* data, u64 len) { return copy_in_bytes(mm, addr, data, len); };
}

GuestWriter writer_of(Task& t) {
    Mm& mm = t.mm();
    return [&mm](u64 addr, const void* data, u64 len) { return copy_out_bytes(mm, addr, data, len); };
}

// getcpu(2)'s answer; it also serves as the concurrency id (mm_cid), which
// only has to be below the number of vCPUs.
u32 cpu_of(const Task& t) { return t.cpu ? t.cpu->id : 0; }

constexpr const char* kBadRseq = " (bad rseq area or critical section)";

// Linux's force_sig(SIGSEGV) from the rseq code (si_code SI_KERNEL).
void force_segv(Task& t) {
    KSigInfo info;
    info.signo = SIGSEGV;
    info.code = 0x80;  // SI_KERNEL
    t.fault_detail = kBadRseq;
    t.kernel.force_signal(t, SIGSEGV, info);
}

// The fixup at t's RIP and the ids: false if the area or descriptor is bad.
bool fixup_and_update(Task& t) {
    RseqState& st = t.rseq;
    const GuestWriter write = writer_of(t);
    auto ip = rseq_ip_fixup(st, t.regs.rip, Mm::kUserTop, reader_of(t), write);
    if (!ip) return false;
    t.regs.rip = ip.value();
    const u32 cpu = cpu_of(t);
    return rseq_write_ids(st.area, cpu, cpu, write).has_value();
}

}  // namespace

Result<long> rseq_register(Task& t, u64 area, u32 len, u32 flags, u32 sig) {
    VK_TRY(rseq_syscall(t.rseq, area, len, flags, sig, cpu_of(t), Mm::kUserTop, reader_of(t),
                        writer_of(t)));
    return 0;
}

bool rseq_resume(Task& t) {
    t.rseq.resume = false;
    if (!t.rseq.area || fixup_and_update(t)) return true;
    force_segv(t);
    // Still to be seen to: the SIGSEGV is delivered first, and delivering
    // it finds the same fault (which is then fatal), as on Linux.
    t.rseq.resume = true;
    return false;
}

bool rseq_signal_deliver(Task& t, int sig) {
    if (!t.rseq.area) return true;
    t.rseq.event = true;
    if (fixup_and_update(t)) {
        t.rseq.resume = false;  // done for this return to user mode
        return true;
    }
    if (sig == SIGSEGV) {
        // Linux's force_sigsegv(SIGSEGV): fatal, whatever the handler.
        t.kernel.kill_by_signal(t, SIGSEGV, kBadRseq);
        return false;
    }
    force_segv(t);
    t.rseq.resume = true;  // SIGSEGV follows before user code runs
    return true;
}

}  // namespace vk
