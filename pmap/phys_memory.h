#pragma once

#include <cstddef>

#include "base/mapping.h"
#include "base/result.h"
#include "base/types.h"
#include "base/unique_fd.h"

namespace vk::pmap {

// A guest-physical address: an offset into PhysMemory.
using PhysAddr = u64;

// Guest-physical memory: one memfd of a fixed size, mapped once, shared and
// read-write, into the vkernel (the "direct map"). KVM registers the same
// mapping as the guest's RAM. Owns the memfd and the mapping; immutable after
// creation, so it needs no lock.
class PhysMemory {
public:
    // `bytes` is rounded up to a whole page; at least one page.
    static Result<PhysMemory, HostError> create(u64 bytes);

    int fd() const { return fd_.get(); }
    u64 size() const { return size_; }
    // Host address of guest-physical `pa`. Precondition: pa < size().
    std::byte* host(PhysAddr pa) const;
    template <typename T>
    T* host_as(PhysAddr pa) const {
        // SAFETY: pa is inside the mapping (checked by host()); callers pick T
        // to match what the frame holds (page-table entries, raw bytes).
        return reinterpret_cast<T*>(host(pa));
    }
    std::byte* base() const { return map_.bytes(); }

    // Drops the host's (and so KVM's shadow MMU's) mappings of the frame at
    // `pa` without losing its contents (the memfd keeps them). This is how the
    // host makes a guest see a changed PTE on shadow-paging KVM (DESIGN.md).
    void drop_host_mapping(PhysAddr pa, u64 bytes = kPageSize) const;

private:
    PhysMemory(UniqueFd fd, Mapping map, u64 size)
        : fd_(std::move(fd)), map_(std::move(map)), size_(size) {}
    UniqueFd fd_;  // declared first: destroyed last
    Mapping map_;  // the direct map of fd_
    u64 size_ = 0;
};

}  // namespace vk::pmap
