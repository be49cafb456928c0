#pragma once

// The executable image cache: the bytes of recently executed programs and,
// for ELF programs, one template object per loadable segment with every
// file-backed page already filled. An exec of a program that ran before
// then neither reads the file nor copies its pages: each new address space
// maps copy-on-write copies of the templates (VmObject::cow_copy).
// Guarded by the kernel lock, like everything exec touches.

#include <list>
#include <memory>
#include <optional>
#include <span>
#include <vector>

#include "base/types.h"
#include "pmap/frame_allocator.h"
#include "vkernel/fs/inode.h"
#include "vkernel/mm.h"

namespace vk {

// One program file as exec last read it. Immutable once made; the loader
// holds it while it builds an address space, so clearing the cache meanwhile
// (frame reclaim) leaves it usable.
struct CachedImage {
    std::shared_ptr<const std::vector<std::byte>> bytes;
    // Whether `segments` were made (an ELF program; a "#!" script has none).
    bool elf = false;
    // One per PT_LOAD segment, in program-header order. Never mapped
    // themselves: a process maps cow_copy() of each, so its writes copy and
    // the template's frames never change.
    std::vector<std::shared_ptr<const VmObject>> segments;
};

// The file bytes a segment shows: [offset, offset + length) of the file, as
// the loader gives them to VmObject (the segment's page lead included).
struct SegmentBytes {
    u64 offset = 0;
    u64 length = 0;
};

// Owns the cached images and a reference to each program's inode outside
// tmpfs (so the same inode object comes back from lookups: hostfs keeps
// live inodes only in a weak table). Bounded in entries, in guest frames
// held by templates and in host bytes; least recently used goes first.
// Guarded by the kernel lock.
class ImageCache {
public:
    struct Limits {
        std::size_t max_entries = 16;
        u64 max_pages = 0;            // template pages (guest frames)
        u64 max_bytes = 64ULL << 20;  // program bytes held in host memory
        // Templates are made only while at least this many frames are free:
        // under memory pressure the cache must not take the frames that
        // processes need (nor set off reclaim to get them).
        u64 min_free_frames = 0;
    };
    // The default limits: 16 entries, 1/16 of `frames` in template pages,
    // 64 MiB of bytes, as many frames free as the page budget. `frames`
    // must outlive the cache.
    explicit ImageCache(pmap::FrameAllocator& frames);
    ImageCache(pmap::FrameAllocator& frames, const Limits& limits);
    ~ImageCache() { clear(); }
    ImageCache(const ImageCache&) = delete;
    ImageCache& operator=(const ImageCache&) = delete;

    // The image of `inode` if its entry still describes the file: its
    // stat() now (size, mtime, ctime, ino, dev) equal to when it was read,
    // and no MAP_SHARED mapping of it since (writes through one change no
    // time stamp). A stale entry is dropped (null). A hit becomes the most
    // recently used. The caller keeps the result (shared ownership).
    std::shared_ptr<const CachedImage> find(const fs::Inode& inode);

    // Remembers `bytes`, read from `inode` after it stat'ed as `st`, with
    // templates for `segments` (an ELF program) or none (nullopt: a script),
    // replacing any entry of the inode. Returns the new image, or null when
    // it is not cached: too big for the limits, a file that may change
    // without a trace in its stat, segments outside the bytes, frames short
    // (min_free_frames) or running out while the templates are filled.
    // Null changes nothing for the caller, who loads the program from
    // `bytes` as without a cache.
    std::shared_ptr<const CachedImage> add(std::shared_ptr<fs::Inode> inode, const fs::Stat& st,
                                           std::shared_ptr<const std::vector<std::byte>> bytes,
                                           std::optional<std::span<const SegmentBytes>> segments);

    // Drops every entry (frame reclaim, which runs inside frame allocation:
    // this frees and never allocates). Template frames that no process
    // shares are free again when it returns.
    void clear();

    std::size_t entries() const { return entries_.size(); }
    u64 pages() const { return pages_; }
    u64 bytes_held() const { return bytes_; }
    const Limits& limits() const { return limits_; }

private:
    struct Entry {
        std::weak_ptr<fs::Inode> inode;  // the key
        std::shared_ptr<fs::Inode> pin;   // the same, held (see add)
        fs::Stat stat;  // as the bytes were read
        // The inode's shared object when the entry was made (see find).
        std::weak_ptr<VmObject> shared_seen;
        std::shared_ptr<const CachedImage> image;
        u64 pages = 0;
        u64 bytes = 0;
    };
    using List = std::list<Entry>;

    void erase(List::iterator it);

    pmap::FrameAllocator& frames_;
    Limits limits_;
    List entries_;  // most recently used first; a few, so looked up by a walk
    u64 pages_ = 0, bytes_ = 0;
};

}  // namespace vk
