#pragma once

// A process's memory: the map of regions (the truth) and the vmspace whose
// page table caches it. Page faults and the user-copy helpers come here.

#include <algorithm>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "base/result.h"
#include "base/types.h"
#include "pmap/frame_allocator.h"
#include "vmspace/vmspace.h"

namespace vk {

// Region protection: the PROT_* values of mmap(2).
inline constexpr u32 kProtRead = 1, kProtWrite = 2, kProtExec = 4;

// Pages of memory a region shows, indexed by page number within the object.
// Anonymous objects start as zero pages; file objects read the first
// `file_len` bytes from `file` at `file_off`, zero beyond. Holds one frame
// reference per page it owns.
class VmObject {
public:
    VmObject(pmap::FrameAllocator& frames, std::shared_ptr<const std::vector<std::byte>> file = {},
             u64 file_off = 0, u64 file_len = 0)
        : frames_(frames), file_(std::move(file)), file_off_(file_off), file_len_(file_len) {}
    ~VmObject();
    VmObject(const VmObject&) = delete;
    VmObject& operator=(const VmObject&) = delete;

    // The frame of page `index`, made (zeroed or filled from the file) on first use.
    Result<pmap::PhysAddr> page(u64 index);
    // The frame of page `index` if it exists.
    std::optional<pmap::PhysAddr> lookup(u64 index) const;
    // Gives page `index` a private copy if its frame is shared with another
    // object (copy-on-write after fork); returns the frame to map writable.
    Result<pmap::PhysAddr> make_private(u64 index);
    // A new object with the same contents that shares every frame
    // (references taken), for the child of a fork.
    std::shared_ptr<VmObject> cow_copy() const;
    // Frees pages [first, last) (madvise(MADV_DONTNEED) of a private anonymous range).
    void drop_pages(u64 first, u64 last);
    u64 resident() const { return pages_.size(); }
    bool has_file() const { return file_ != nullptr; }

private:
    pmap::FrameAllocator& frames_;
    std::shared_ptr<const std::vector<std::byte>> file_;
    u64 file_off_ = 0, file_len_ = 0;
    std::unordered_map<u64, pmap::PhysAddr> pages_;
};

// Memory promised to processes, counted in pages so that running out is
// ENOMEM from mmap, brk and fork rather than a kill at fault time (Linux's
// strict overcommit, vm.overcommit_memory=2). Private writable and shared
// anonymous mappings are charged; the stack grows uncharged, as on Linux.
// Guarded by the kernel lock.
struct CommitCharge {
    u64 limit = 0;  // pages
    u64 used = 0;
    bool charge(u64 pages) {
        if (pages > limit - used) return false;
        used += pages;
        return true;
    }
    void uncharge(u64 pages) { used -= std::min(used, pages); }
};

// [start, end) with one protection, showing `object` from byte `offset`.
struct Region {
    u64 start = 0, end = 0;
    u32 prot = 0;
    std::shared_ptr<VmObject> object;
    u64 offset = 0;       // page aligned, into object
    bool shared = false;  // MAP_SHARED: fork shares the object instead of copying
    bool charged = false;  // counted in the CommitCharge (set by Mm::map)
    bool uncharged_ok = false;  // never charged (the stack)
    std::string name;     // for diagnostics: "[stack]", "[heap]", a path
};

enum class Access { kRead, kWrite, kExec };

// Why a fault could not be resolved, as SIGSEGV's si_code would say.
enum class FaultError { kMapErr, kAccErr, kNoMem };

// Owns a process's regions and its VmSpace. Serialized by the kernel lock.
class Mm {
public:
    // `commit` (may be null: no limit) must outlive the Mm.
    static Result<std::unique_ptr<Mm>> create(vmspace::Machine& machine, CommitCharge* commit);
    // The child's memory for fork: shared regions keep their objects, private
    // ones get copy-on-write copies, and this Mm's writable private pages
    // become read-only so that either side's first write copies.
    Result<std::shared_ptr<Mm>> fork(vmspace::Machine& machine);
    ~Mm();

    vmspace::VmSpace& space() { return *space_; }
    pmap::FrameAllocator& frames() { return frames_; }

    // Maps `r` (page aligned, non-empty, below the user top), replacing
    // whatever was mapped in its range, as MAP_FIXED does. ENOMEM when the
    // commit limit would be passed (nothing is unmapped then).
    Result<void> map(Region r);
    // Unmaps [start, end); holes are fine.
    void unmap(u64 start, u64 end);
    // Sets the protection of [start, end): ENOMEM if part of it is unmapped.
    Result<void> protect(u64 start, u64 end, u32 prot);
    // Zeroes private anonymous pages in [start, end) (MADV_DONTNEED).
    Result<void> discard(u64 start, u64 end);
    // mremap(2): resizes [old, old + old_len) (one region), in place when it
    // can, else (may_move) at a new address or at `fixed`. Returns the
    // address. EFAULT if the range is not one region, ENOMEM if it cannot
    // grow, EINVAL for bad arguments.
    Result<u64> remap(u64 old, u64 old_len, u64 new_len, bool may_move, std::optional<u64> fixed);
    // A free range of `len` bytes, searched top-down from the mmap base.
    Result<u64> find_free(u64 len) const;
    const Region* find(u64 va) const;

    // Brings the page at `va` in for `access`, and with it up to
    // kFaultAround neighbouring pages of the same region.
    Result<void, FaultError> fault(u64 va, Access access);

    // brk(2) state.
    u64 brk_start = 0, brk = 0;
    u64 mmap_base = 0x7f00'0000'0000ULL;
    u64 stack_top = 0;

    static constexpr u64 kFaultAround = 16;
    static constexpr u64 kUserMin = 0x1'0000;          // mmap_min_addr
    static constexpr u64 kUserTop = 0x7fff'ffff'f000ULL;  // as Linux's TASK_SIZE

    const std::map<u64, Region>& regions() const { return regions_; }

private:
    Mm(pmap::FrameAllocator& frames, std::unique_ptr<vmspace::VmSpace> s, CommitCharge* c)
        : frames_(frames), space_(std::move(s)), commit_(c) {}
    static bool chargeable(const Region& r);
    // Splits the region containing `va` so that a region starts at `va`.
    void split_at(u64 va);

    pmap::FrameAllocator& frames_;
    std::unique_ptr<vmspace::VmSpace> space_;
    std::map<u64, Region> regions_;  // keyed by start
    CommitCharge* commit_;
};

}  // namespace vk
