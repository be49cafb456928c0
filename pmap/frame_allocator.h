#pragma once

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

    u64 total_frames() const { return total_; }
    u64 free_frames() const;
    const PhysMemory& memory() const { return mem_; }

private:
    u64 index(PhysAddr pa) const;

    const PhysMemory& mem_;
    PhysAddr first_;
    u64 total_;
    mutable std::mutex mu_;                 // leaf lock
    std::vector<u32> refs_;                 // guarded by mu_; index = (pa - first_) / 4096
    std::vector<u32> free_list_;            // guarded by mu_; frame indexes
    u64 never_used_ = 0;                    // guarded by mu_; frames [never_used_, total_) untouched
};

}  // namespace vk::pmap
