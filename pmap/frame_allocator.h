#pragma once

#include <functional>
#include <mutex>
#include <vector>

#include "base/result.h"
#include "base/types.h"
#include "pmap/phys_memory.h"

namespace vk::pmap {

// Hands out 4 KiB frames of a PhysMemory, each with a reference count.
// Owns the free list and the counts; guarded by mu_, a leaf lock (take no
// other lock while holding it). Running out is ENOMEM, never an abort.
class FrameAllocator {
public:
    // Manages frames in [first, mem.size()); `first` is page aligned. Frames
    // below `first` are reserved for the caller (e.g. fixed boot structures).
    explicit FrameAllocator(const PhysMemory& mem, PhysAddr first = 0);

    // A frame with refcount 1 and all bytes zero, or ENOMEM.
    Result<PhysAddr> alloc();
    // A frame with refcount 1 and undefined contents, or ENOMEM (for callers
    // that overwrite the whole page anyway).
    Result<PhysAddr> alloc_uninit();

    // Precondition for ref/unref: `pa` is an allocated frame (refcount > 0).
    void ref(PhysAddr pa);
    // Drops one reference; the frame is free again when it reaches zero.
    // Returns the count left.
    u32 unref(PhysAddr pa);
    u32 refcount(PhysAddr pa) const;

    // Page-table frames under a shadow-paging hypervisor (PVM): the
    // hypervisor keeps shadow pages keyed by the guest frame of each table
    // it has walked, and host writes to guest memory never reach them, so a
    // frame that was a page table must not become one again (anywhere)
    // while its old shadow lives: the stale shadow would translate through
    // another space's tables. With quarantine on, unref_table() keeps freed
    // table frames aside; every `batch` of them, `forget` (which must make
    // the hypervisor drop every shadow page) runs and they are freed. Also
    // run when the allocator would otherwise say ENOMEM.
    using ForgetShadows = std::function<void()>;
    void quarantine_tables(ForgetShadows forget, std::size_t batch);
    // Called (without mu_) when no frame is left, before ENOMEM: it may
    // free frames (the kernel drops the page tables of idle processes,
    // which are a cache). Set once, before use by other threads.
    void set_reclaim(std::function<void()> reclaim) { reclaim_ = std::move(reclaim); }
    // unref() for a frame that was used as a page table.
    void unref_table(PhysAddr pa);
    // Quarantined frames waiting for the next flush, and flushes so far.
    std::size_t quarantined() const;
    u64 shadow_flushes() const;

    u64 total_frames() const { return total_; }
    // Free frames, those in quarantine included (see quarantine_tables).
    u64 free_frames() const;
    const PhysMemory& memory() const { return mem_; }

private:
    u64 index(PhysAddr pa) const;
    // Runs forget_ and frees the quarantined frames. Without mu_ held.
    void release_quarantine();

    const PhysMemory& mem_;
    PhysAddr first_;
    u64 total_;
    mutable std::mutex mu_;                 // leaf lock
    std::vector<u32> refs_;                 // guarded by mu_; index = (pa - first_) / 4096
    std::vector<u32> free_list_;            // guarded by mu_; frame indexes
    u64 never_used_ = 0;                    // guarded by mu_; frames [never_used_, total_) untouched
    ForgetShadows forget_;                  // set once, before use by other threads
    std::function<void()> reclaim_;         // set once, before use by other threads
    std::size_t batch_ = 0;
    std::vector<u32> quarantine_;           // guarded by mu_; freed table frames (refcount 0)
    u64 flushes_ = 0;                       // guarded by mu_
};

}  // namespace vk::pmap
