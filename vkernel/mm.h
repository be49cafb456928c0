#pragma once

// A process's memory: the map of regions (the truth) and the vmspace whose
// page table caches it. Page faults and the user-copy helpers come here.

#include <algorithm>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include "base/result.h"
#include "base/types.h"
#include "pmap/frame_allocator.h"
#include "vkernel/fs/inode.h"
#include "vmspace/vmspace.h"

namespace vk {

// Region protection: the PROT_* values of mmap(2).
inline constexpr u32 kProtRead = 1, kProtWrite = 2, kProtExec = 4;

namespace fs {
class File;
class Inode;
}  // namespace fs

class FileMappings;
class Mm;

// Pages of memory a region shows, indexed by page number within the object.
// Kinds:
//  * anonymous: zero pages;
//  * ELF bytes: the first `file_len` bytes of `file` from `file_off`, zero
//    beyond (the loader's copy of a segment);
//  * a file's shared object (MAP_SHARED of a file with a page cache): the
//    file's own frames, one object per inode, no pages of its own;
//  * a file's private object (MAP_PRIVATE, or any mapping of a file without
//    a page cache): the file's frames read-only until written, then private
//    copies; files without a page cache are copied through read().
// Holds one frame reference per page it owns (never for the file's frames,
// which the file keeps; the file removes them from every page table before
// freeing them, see FileMappings). Guarded by the kernel lock.
class VmObject {
public:
    VmObject(pmap::FrameAllocator& frames, std::shared_ptr<const std::vector<std::byte>> file = {},
             u64 file_off = 0, u64 file_len = 0)
        : frames_(frames), file_(std::move(file)), file_off_(file_off), file_len_(file_len) {}
    // The private object of a new mapping of `inode`.
    static std::shared_ptr<VmObject> file_private(pmap::FrameAllocator& frames,
                                                  std::shared_ptr<fs::Inode> inode);
    // The shared object of `inode`'s page cache (the same one for every
    // MAP_SHARED mapping of it, so futex keys match across processes).
    static std::shared_ptr<VmObject> file_shared(pmap::FrameAllocator& frames,
                                                 std::shared_ptr<fs::Inode> inode);
    ~VmObject();
    VmObject(const VmObject&) = delete;
    VmObject& operator=(const VmObject&) = delete;

    // A frame and whether this object owns it (a private page; the others
    // are the file's and must never be written through a private mapping).
    struct Page {
        pmap::PhysAddr pa;
        bool own;
    };
    // The frame of page `index`. With `create`, made on first use (zeroed,
    // filled from the ELF bytes, the file's frame, a copy of the file);
    // without, a page-cache file object gives only pages the file has
    // (ENOENT: none) while the others still make theirs. ENOMEM when frames run out;
    // other errors (ENOSPC of a full tmpfs, a host read error) are SIGBUS.
    Result<Page> page(u64 index, bool create = true);
    // The frame of page `index` if this object owns it.
    std::optional<pmap::PhysAddr> lookup(u64 index) const;
    // Gives page `index` a private copy unless this object is its only
    // owner (copy-on-write after fork, or of a file's page); returns the
    // frame to map writable.
    Result<pmap::PhysAddr> make_private(u64 index);
    // A new object with the same contents that shares every frame
    // (references taken), for the child of a fork.
    std::shared_ptr<VmObject> cow_copy() const;
    // Frees owned pages [first, last) (madvise(MADV_DONTNEED) of a private
    // range; a truncated file's private copies).
    void drop_pages(u64 first, u64 last);
    u64 resident() const { return pages_.size(); }
    bool has_file() const { return file_ != nullptr || inode_ != nullptr; }
    // Whether page `index` lies wholly beyond the end of the mapped file
    // (an access there is SIGBUS).
    bool beyond_eof(u64 index) const;
    const FileMappings* file_mappings() const { return fmap_.get(); }
    const std::shared_ptr<FileMappings>& file_mappings_ptr() const { return fmap_; }

private:
    // The file's page `index` read into a new frame (files without a page cache).
    Result<pmap::PhysAddr> read_copy(u64 index);

    pmap::FrameAllocator& frames_;
    std::shared_ptr<const std::vector<std::byte>> file_;
    u64 file_off_ = 0, file_len_ = 0;
    std::shared_ptr<fs::Inode> inode_;     // file objects
    std::shared_ptr<FileMappings> fmap_;   // file objects of an inode with a page cache
    bool shared_file_ = false;             // the inode's shared object: owns no pages
    std::unordered_map<u64, pmap::PhysAddr> pages_;
};

// Everything that maps one inode's page cache (Linux's address_space
// i_mmap): its shared object, its private objects (for their copies), and
// every Mm that has mapped it (an Mm leaves when destroyed; one that has
// since unmapped the file just finds nothing). Owned by the inode
// (Inode::mappings) and by the objects and Mms that use it; it holds none of
// them, so there is no cycle. Guarded by the kernel lock.
class FileMappings final : public fs::PageMappings {
public:
    // The inode's FileMappings, made on first use.
    static std::shared_ptr<FileMappings> of(fs::Inode& inode);
    void unmap_pages(u64 first, u64 last, bool even_private) override;

    std::weak_ptr<VmObject> shared;
    std::set<VmObject*> privates;
    std::set<Mm*> mms;
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
    u32 max_prot = kProtRead | kProtWrite | kProtExec;  // what mprotect may grant (VM_MAY*)
    std::string name;     // for diagnostics: "[stack]", "[heap]", a path
    std::shared_ptr<fs::File> file;  // the mapped file (its path, device, inode for /proc)
};

enum class Access { kRead, kWrite, kExec };

// Why a fault could not be resolved, as SIGSEGV's si_code would say.
// kBus: a file page beyond the end of the file, or one the file cannot
// give (SIGBUS, BUS_ADRERR).
enum class FaultError { kMapErr, kAccErr, kNoMem, kBus };

// Owns a process's regions and its VmSpace. Serialized by the kernel lock.
class Mm {
public:
    // `commit` (may be null: no limit) must outlive the Mm.
    static Result<std::unique_ptr<Mm>> create(vmspace::Machine& machine, CommitCharge* commit);
    // The child's memory for fork: shared regions keep their objects, private
    // ones get copy-on-write copies, and this Mm's writable private pages
    // become read-only so that either side's first write copies. On
    // shadow-paging KVM, when `copy_ahead` (no other thread can write our
    // pages meanwhile) and at most kForkCopyAhead pages of private writable
    // regions are mapped, the child gets its own copies of those instead and
    // ours stay as they are.
    Result<std::shared_ptr<Mm>> fork(vmspace::Machine& machine, bool copy_ahead);
    ~Mm();

    vmspace::VmSpace& space() { return *space_; }
    pmap::FrameAllocator& frames() { return frames_; }

    // Maps `r` (page aligned, non-empty, below the user top), replacing
    // whatever was mapped in its range, as MAP_FIXED does. ENOMEM when the
    // commit limit would be passed (nothing is unmapped then).
    Result<void> map(Region r);
    // Unmaps [start, end); holes are fine.
    void unmap(u64 start, u64 end);
    // Removes pages [first, last) of the file behind `fm` from the page
    // table (the file is about to free or zero them).
    void unmap_file_pages(const FileMappings& fm, u64 first, u64 last);
    // Sets the protection of [start, end): ENOMEM if part of it is
    // unmapped, EACCES if a region may not get `prot` (max_prot).
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
    static constexpr std::size_t kForkCopyAhead = 64;
    static constexpr u64 kUserMin = 0x1'0000;          // mmap_min_addr
    static constexpr u64 kUserTop = 0x7fff'ffff'f000ULL;  // as Linux's TASK_SIZE

    const std::map<u64, Region>& regions() const { return regions_; }

private:
    Mm(pmap::FrameAllocator& frames, std::unique_ptr<vmspace::VmSpace> s, CommitCharge* c)
        : frames_(frames), space_(std::move(s)), commit_(c) {}
    static bool chargeable(const Region& r);
    // Splits the region containing `va` so that a region starts at `va`.
    void split_at(u64 va);
    // Joins the FileMappings of `r`'s file, if any, so truncate finds us.
    void note_file(const Region& r);

    pmap::FrameAllocator& frames_;
    std::unique_ptr<vmspace::VmSpace> space_;
    std::map<u64, Region> regions_;  // keyed by start
    CommitCharge* commit_;
    std::set<std::shared_ptr<FileMappings>> files_;  // those we joined; left in ~Mm
};

}  // namespace vk
