#include "pmap/frame_allocator.h"

#include <cerrno>
#include <cstring>

#include "base/assert.h"

namespace vk::pmap {

FrameAllocator::FrameAllocator(const PhysMemory& mem, PhysAddr first)
    : mem_(mem), first_(first), total_(0) {
    VK_ASSERT(page_aligned(first) && first <= mem.size());
    total_ = (mem.size() - first) / kPageSize;
    // Frame indexes are stored as u32 in the free list.
    VK_ASSERT(total_ <= (u64{1} << 32));
    // Only the counts are set up here; guest frames are first touched when
    // they are handed out (never_used_ walks up through them).
    refs_.assign(total_, 0);
}

u64 FrameAllocator::index(PhysAddr pa) const {
    VK_ASSERT(page_aligned(pa) && pa >= first_ && (pa - first_) / kPageSize < total_);
    return (pa - first_) / kPageSize;
}

Result<PhysAddr> FrameAllocator::alloc_uninit() {
    // Out of frames: first the quarantine (a shadow flush away), then
    // whatever the reclaimer gives back, then ENOMEM.
    for (int attempt = 0;; ++attempt) {
        {
            std::lock_guard guard(mu_);
            u64 i;
            if (!free_list_.empty()) {
                // Most recently freed first: its page is likely still in the host's caches.
                i = free_list_.back();
                free_list_.pop_back();
            } else if (never_used_ < total_) {
                i = never_used_++;
            } else {
                if (attempt == 2 || (attempt == 1 && !reclaim_)) return err(ENOMEM);
                i = total_;
            }
            if (i < total_) {
                VK_ASSERT(refs_[i] == 0);
                refs_[i] = 1;
                return first_ + i * kPageSize;
            }
        }
        if (attempt == 1) reclaim_();
        release_quarantine();
    }
}

Result<PhysAddr> FrameAllocator::alloc() {
    const PhysAddr pa = VK_TRY(alloc_uninit());
    // Outside the lock: the frame is ours alone until we return it.
    std::memset(mem_.host(pa), 0, kPageSize);
    return pa;
}

void FrameAllocator::ref(PhysAddr pa) {
    std::lock_guard guard(mu_);
    u32& count = refs_[index(pa)];
    VK_ASSERT(count > 0 && count < UINT32_MAX);
    ++count;
}

void FrameAllocator::quarantine_tables(ForgetShadows forget, std::size_t batch) {
    std::lock_guard guard(mu_);
    forget_ = std::move(forget);
    batch_ = batch;
}

void FrameAllocator::unref_table(PhysAddr pa) {
    bool full = false;
    {
        std::lock_guard guard(mu_);
        if (!forget_) {
            const u64 i = index(pa);
            VK_ASSERT(refs_[i] > 0);
            if (--refs_[i] == 0) free_list_.push_back(static_cast<u32>(i));
            return;
        }
        const u64 i = index(pa);
        VK_ASSERT(refs_[i] == 1);  // page-table frames are never shared
        refs_[i] = 0;
        quarantine_.push_back(static_cast<u32>(i));
        full = quarantine_.size() >= batch_;
    }
    if (full) release_quarantine();
}

void FrameAllocator::release_quarantine() {
    std::vector<u32> frames;
    ForgetShadows forget;
    {
        std::lock_guard guard(mu_);
        if (quarantine_.empty()) return;
        frames.swap(quarantine_);
        forget = forget_;
    }
    // Frames freed from here on wait for the next flush; these are free
    // only once the hypervisor has forgotten their shadows.
    forget();
    std::lock_guard guard(mu_);
    free_list_.insert(free_list_.end(), frames.begin(), frames.end());
    ++flushes_;
}

std::size_t FrameAllocator::quarantined() const {
    std::lock_guard guard(mu_);
    return quarantine_.size();
}

u64 FrameAllocator::shadow_flushes() const {
    std::lock_guard guard(mu_);
    return flushes_;
}

u32 FrameAllocator::unref(PhysAddr pa) {
    std::lock_guard guard(mu_);
    const u64 i = index(pa);
    VK_ASSERT(refs_[i] > 0);
    if (--refs_[i] == 0) free_list_.push_back(static_cast<u32>(i));
    return refs_[i];
}

u32 FrameAllocator::refcount(PhysAddr pa) const {
    std::lock_guard guard(mu_);
    return refs_[index(pa)];
}

u64 FrameAllocator::free_frames() const {
    std::lock_guard guard(mu_);
    // Quarantined frames count as free: an allocation that needs them gets them.
    return free_list_.size() + quarantine_.size() + (total_ - never_used_);
}

}  // namespace vk::pmap
