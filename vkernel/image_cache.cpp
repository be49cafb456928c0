#include "vkernel/image_cache.h"

#include <algorithm>
#include <iterator>

#include "base/assert.h"

namespace vk {

namespace {

// Host files are stamped by the host kernel's coarse clock (a tick, up to
// 10 ms, between values), so a host file rewritten with the same size in
// the same tick as its previous change keeps its stat. As git does with
// "racily clean" files, one changed less than this long before it was read
// is not cached: a later rewrite then always shows in its time stamps.
// tmpfs stamps its files itself, from a nanosecond clock.
constexpr i64 kRacyNs = 100'000'000;

i64 nanoseconds(const fs::Timespec& t) { return t.sec * 1'000'000'000 + t.nsec; }

bool racy(const fs::Inode& inode, const fs::Stat& st) {
    if (inode.has_page_cache()) return false;
    const i64 changed = std::max(nanoseconds(st.mtime), nanoseconds(st.ctime));
    return nanoseconds(fs::now()) - changed < kRacyNs;  // also a stamp in the future
}

bool same_file(const fs::Stat& a, const fs::Stat& b) {
    return a.size == b.size && a.mtime == b.mtime && a.ctime == b.ctime && a.ino == b.ino &&
           a.dev == b.dev;
}

// The inode's shared object (its MAP_SHARED mappings), possibly expired or
// never made. A write through a shared mapping changes the file's frames
// without a time stamp (Linux's page_mkwrite would stamp mtime), so what we
// cannot see in the stat we see here: a shared object made since an entry
// was made is a different owner than the one the entry remembers, even after
// it is gone again.
std::weak_ptr<VmObject> shared_object(const fs::Inode& inode) {
    const auto* fm = dynamic_cast<const FileMappings*>(inode.mappings.get());
    return fm ? fm->shared : std::weak_ptr<VmObject>{};
}

bool same_owner(const std::weak_ptr<VmObject>& a, const std::weak_ptr<VmObject>& b) {
    return !a.owner_before(b) && !b.owner_before(a);
}

}  // namespace

ImageCache::ImageCache(pmap::FrameAllocator& frames)
    : ImageCache(frames, Limits{.max_pages = frames.total_frames() / 16,
                                .min_free_frames = frames.total_frames() / 16}) {}

ImageCache::ImageCache(pmap::FrameAllocator& frames, const Limits& limits)
    : frames_(frames), limits_(limits) {}

std::shared_ptr<const CachedImage> ImageCache::find(const fs::Inode& inode) {
    for (auto it = entries_.begin(); it != entries_.end();) {
        const std::shared_ptr<fs::Inode> live = it->inode.lock();
        if (!live) {
            // A removed tmpfs file nobody holds any more: it cannot be
            // executed again, and its image only takes room.
            erase(it++);
            continue;
        }
        if (live.get() != &inode) {
            ++it;
            continue;
        }
        const std::weak_ptr<VmObject> shared = shared_object(inode);
        if (!same_file(it->stat, inode.stat()) || !shared.expired() ||
            !same_owner(shared, it->shared_seen)) {
            erase(it);
            return nullptr;
        }
        entries_.splice(entries_.begin(), entries_, it);
        return it->image;
    }
    return nullptr;
}

std::shared_ptr<const CachedImage> ImageCache::add(
    std::shared_ptr<fs::Inode> inode, const fs::Stat& st,
    std::shared_ptr<const std::vector<std::byte>> bytes,
    std::optional<std::span<const SegmentBytes>> segments) {
    VK_ASSERT(inode != nullptr && bytes != nullptr);
    for (auto it = entries_.begin(); it != entries_.end(); ++it) {
        if (it->inode.lock() == inode) {
            erase(it);
            break;
        }
    }
    if (limits_.max_entries == 0 || bytes->size() > limits_.max_bytes / 2) return nullptr;
    if (racy(*inode, st)) return nullptr;
    // Mapped shared right now: it may be written through the mapping at any time.
    std::weak_ptr<VmObject> shared = shared_object(*inode);
    if (!shared.expired()) return nullptr;

    auto image = std::make_shared<CachedImage>();
    image->bytes = bytes;
    u64 pages = 0;
    if (segments) {
        image->elf = true;
        for (const SegmentBytes& s : *segments) {
            // The templates copy from these bytes: never outside them.
            if (s.offset > bytes->size() || s.length > bytes->size() - s.offset) return nullptr;
            pages += page_round_up(s.length) / kPageSize;
        }
        if (pages > limits_.max_pages / 2) return nullptr;
        if (pages > 0 && frames_.free_frames() < limits_.min_free_frames) return nullptr;
        // Frames may run out here, and the reclaim then empties the cache:
        // nothing of it is touched until the templates are complete.
        for (const SegmentBytes& s : *segments) {
            auto t = std::make_shared<VmObject>(frames_, bytes, s.offset, s.length);
            for (u64 i = 0; i < page_round_up(s.length) / kPageSize; i++)
                if (!t->page(i)) return nullptr;  // the frames made so far go with t
            image->segments.push_back(std::move(t));
        }
    }

    // Room for it, least recently used first.
    const u64 nbytes = bytes->size();
    while (!entries_.empty() &&
           (entries_.size() >= limits_.max_entries || pages_ + pages > limits_.max_pages ||
            bytes_ + nbytes > limits_.max_bytes))
        erase(std::prev(entries_.end()));

    Entry e;
    e.inode = inode;
    // hostfs keeps its live inodes only in a weak table: without our
    // reference the next lookup would make a new inode object and never
    // find the entry. A tmpfs inode lives as long as its name does, and a
    // removed file's frames must go back when its last user lets go, as
    // on Linux: held weakly.
    if (!inode->has_page_cache()) e.pin = inode;
    e.stat = st;
    e.shared_seen = std::move(shared);
    e.image = image;
    e.pages = pages;
    e.bytes = nbytes;
    entries_.push_front(std::move(e));
    pages_ += pages;
    bytes_ += nbytes;
    return image;
}

void ImageCache::erase(List::iterator it) {
    pages_ -= it->pages;
    bytes_ -= it->bytes;
    entries_.erase(it);
}

void ImageCache::clear() {
    // Moved out first: destroying an entry may destroy an inode, and
    // nothing of that may find the list half emptied.
    List gone;
    gone.swap(entries_);
    pages_ = bytes_ = 0;
}

}  // namespace vk
