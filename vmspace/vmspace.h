#pragma once

#include <atomic>
#include <memory>
#include <optional>
#include <vector>

#include "base/result.h"
#include "base/types.h"
#include "pmap/page_table.h"
#include "vmspace/fast_syscall.h"
#include "vmspace/machine.h"

namespace vk::vmspace {

// A guest address space (DragonFly's vmspace): a user page table whose upper
// half is the machine's shared one. The page table is a cache of what the
// kernel decides; any of it may be removed and refilled on faults.
//
// Owns its page-table frames, not the frames it maps: a caller keeps a frame
// alive while it is entered here. Calls are serialized by the owner (the
// kernel lock); run() on several vCPUs may use it at the same time.
class VmSpace {
public:
    static Result<std::unique_ptr<VmSpace>> create(Machine& machine);
    // Unmaps everything first, so no vCPU keeps a translation into frames
    // (or page-table frames) that will be reused.
    ~VmSpace();

    // Maps the user page at `va`. Replacing a present mapping makes the old
    // one unreachable before the next run(). EINVAL, ENOMEM.
    Result<void> enter(u64 va, pmap::PhysAddr frame, u32 prot,
                       const pmap::PteVisitor& replaced = nullptr);
    // Unmaps [start, end); the guest cannot reach those pages on its next run.
    void remove(u64 start, u64 end, const pmap::PteVisitor& removed = nullptr);
    // Changes the protection of mapped pages in [start, end).
    void protect(u64 start, u64 end, u32 prot, const pmap::PteVisitor& changed = nullptr);
    std::optional<pmap::PteInfo> extract(u64 va) const { return table_.extract(va); }
    // Each present user page in [start, end), unchanged.
    void visit(u64 start, u64 end, const pmap::PteVisitor& v) const { table_.visit(start, end, v); }
    // Drops the whole page table (it is a cache); pages come back on faults.
    void drop_all(const pmap::PteVisitor& removed = nullptr);

    // pread/pwrite of guest virtual memory through the page table, as the
    // guest's user mode would see it: read needs user-readable pages, write
    // user-writable ones. Both stop at the first page that does not allow the
    // access and return the bytes copied (a short count, possibly 0).
    u64 read(u64 va, void* dst, u64 len) const;
    u64 write(u64 va, const void* src, u64 len);
    // Like write, but also into read-only user pages (loaders, debuggers).
    u64 write_force(u64 va, const void* src, u64 len);

    pmap::PhysAddr root() const { return table_.root(); }
    // Unique for the machine's lifetime: a vCPU tells spaces apart by it, since
    // a new space may get a freed one's address and root frame.
    u64 id() const { return id_; }
    Machine& machine() const { return machine_; }
    u64 table_frames() const { return table_.table_frames(); }
    // vCPU `vcpu`'s slot and XSAVE area in this space's data page for it
    // (fast_syscall.h), or null when that vCPU has no fast path.
    FastSlot* fast_slot(unsigned vcpu) const;
    std::byte* fast_area(unsigned vcpu) const;
    // Maps the fast syscall pages again after drop_all(); the owner calls
    // it before each run() (the stub must not fault on them). ENOMEM.
    Result<void> ensure_fast_pages();

    // Bumped when a live mapping was downgraded on a KVM whose TLB needs a
    // CR3 reload; a vCPU that loaded an older generation reloads before running.
    u64 tlb_generation() const { return tlb_gen_.load(std::memory_order_acquire); }

private:
    VmSpace(Machine& m, pmap::PageTable t, u64 id) : machine_(m), table_(std::move(t)), id_(id) {}
    // Makes the loss of mappings visible to vCPUs: collects the old frames
    // while a page-table operation runs, then flushes them in one pass.
    void invalidate(const pmap::PteInfo& old);
    void flush_invalidated();
    u64 copy(u64 va, void* buf, u64 len, bool to_guest, u32 need) const;

    Machine& machine_;
    pmap::PageTable table_;
    u64 id_;
    std::atomic<u64> tlb_gen_{0};
    std::vector<pmap::PhysAddr> stale_;  // frames whose host mapping must be dropped (PVM)
    std::vector<pmap::PhysAddr> fast_data_;  // a data page per fast vCPU; owned
    bool fast_mapped_ = false;
};

}  // namespace vk::vmspace
