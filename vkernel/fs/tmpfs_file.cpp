// tmpfs regular files: data in guest frames, one per resident page.

#include <linux/falloc.h>

#include <algorithm>
#include <cstring>
#include <vector>

#include "vkernel/fs/tmpfs.h"

namespace vk::fs {

namespace {

// Frame exhaustion seen by write(2) and fallocate(2) is "no space", as
// for a tmpfs that reached its size.
Unexpected<Errno> no_space(const Errno& e) { return err(e.code == ENOMEM ? ENOSPC : e.code); }

}  // namespace

TmpfsFile::~TmpfsFile() {
    // Nothing maps a file nobody holds: the last mapping may be going away
    // right now (its Mm in the middle of tearing down), so do not call it.
    mappings.reset();
    drop_pages(0, UINT64_MAX);
}

Result<pmap::PhysAddr> TmpfsFile::page(u64 index, bool create) {
    return get_page(index, create, create);
}

Result<pmap::PhysAddr> TmpfsFile::get_page(u64 index, bool create, bool data) {
    if (auto it = pages_.find(index); it != pages_.end()) {
        it->second.data |= data;
        return it->second.pa;
    }
    if (!create) return err(ENOENT);
    if (sb_->pages >= sb_->max_pages) return err(ENOSPC);
    const pmap::PhysAddr pa = VK_TRY(sb_->frames.alloc());
    pages_.emplace(index, Page{pa, data});
    ++sb_->pages;
    return pa;
}

void TmpfsFile::drop_pages(u64 first, u64 last, bool even_private) {
    auto it = pages_.lower_bound(first);
    if (it == pages_.end() || it->first >= last) {
        // No frame to free, but private copies beyond a new end still go.
        if (mappings && even_private) mappings->unmap_pages(first, last, true);
        return;
    }
    // No page table may point at a frame once it is freed.
    if (mappings) mappings->unmap_pages(first, last, even_private);
    while (it != pages_.end() && it->first < last) {
        sb_->frames.unref(it->second.pa);
        --sb_->pages;
        it = pages_.erase(it);
    }
}

void TmpfsFile::zero_range(u64 index, u64 from, u64 to) {
    auto it = pages_.find(index);
    if (it == pages_.end() || from >= to) return;
    // SAFETY: the frame is ours (we hold a reference) and [from, to) lies
    // within its 4 KiB.
    std::memset(sb_->frames.memory().host(it->second.pa) + from, 0, to - from);
}

Result<u64> TmpfsFile::read(u64 offset, std::span<std::byte> dst) {
    if (offset >= size_) return 0;
    const u64 n = std::min<u64>(dst.size(), size_ - offset);
    u64 done = 0;
    while (done < n) {
        const u64 pos = offset + done;
        const u64 in = pos % kPageSize;
        const u64 chunk = std::min(kPageSize - in, n - done);
        auto it = pages_.find(pos / kPageSize);
        if (it == pages_.end()) {
            // SAFETY: done + chunk <= n <= dst.size().
            std::memset(dst.data() + done, 0, chunk);  // a hole
        } else {
            // SAFETY: a frame we hold; [in, in + chunk) is inside it, and
            // done + chunk <= dst.size().
            std::memcpy(dst.data() + done, sb_->frames.memory().host(it->second.pa) + in, chunk);
        }
        done += chunk;
    }
    return n;
}

Result<u64> TmpfsFile::write(u64 offset, std::span<const std::byte> src) {
    u64 done = 0;
    while (done < src.size()) {
        const u64 pos = offset + done;
        const u64 in = pos % kPageSize;
        const u64 chunk = std::min<u64>(kPageSize - in, src.size() - done);
        Result<pmap::PhysAddr> pa = get_page(pos / kPageSize, true, true);
        if (!pa) {
            if (done > 0) break;  // partial success wins
            return no_space(pa.error());
        }
        // SAFETY: a frame we hold; [in, in + chunk) is inside it, and
        // done + chunk <= src.size().
        std::memcpy(sb_->frames.memory().host(*pa) + in, src.data() + done, chunk);
        done += chunk;
    }
    if (done > 0) {
        size_ = std::max(size_, offset + done);
        touch(kAttrMtime | kAttrCtime);
    }
    return done;
}

void TmpfsFile::resize(u64 new_size) {
    if (new_size < size_) {
        // Drop whole pages past the end, zero the tail of the last one so
        // that growing the file again shows zeros.
        drop_pages((new_size + kPageSize - 1) / kPageSize, UINT64_MAX);
        if (new_size % kPageSize) zero_range(new_size / kPageSize, new_size % kPageSize, kPageSize);
    } else if (new_size > size_ && size_ % kPageSize) {
        // Bytes past the old end (written through a mapping) must read as zero.
        zero_range(size_ / kPageSize, size_ % kPageSize, kPageSize);
    }
    size_ = new_size;
}

Result<void> TmpfsFile::setattr(const SetAttr& attr) {
    if (attr.valid & kAttrSize) {
        if (attr.size > kMaxFileSize) return err(EFBIG);
        if (attr.size != size_) {
            resize(attr.size);
            // shmem_setattr: a size change stamps mtime and ctime.
            touch(kAttrMtime | kAttrCtime);
        }
    }
    apply_attr(attr);
    return {};
}

Result<void> TmpfsFile::allocate(int mode, u64 offset, u64 len) {
    if (mode & ~(FALLOC_FL_KEEP_SIZE | FALLOC_FL_PUNCH_HOLE)) return err(EOPNOTSUPP);
    const u64 end = offset + len;  // the caller checked for overflow
    if (mode & FALLOC_FL_PUNCH_HOLE) {
        const u64 first_full = (offset + kPageSize - 1) / kPageSize;
        const u64 last_full = end / kPageSize;  // exclusive
        if (first_full < last_full) drop_pages(first_full, last_full, false);
        if (offset / kPageSize == (end - 1) / kPageSize) {
            // Within one page (which may also be a whole page, handled above).
            if (first_full >= last_full)
                zero_range(offset / kPageSize, offset % kPageSize, (end - 1) % kPageSize + 1);
        } else {
            if (offset % kPageSize) zero_range(offset / kPageSize, offset % kPageSize, kPageSize);
            if (end % kPageSize) zero_range(end / kPageSize, 0, end % kPageSize);
        }
        touch(kAttrMtime | kAttrCtime);
        return {};
    }
    const u64 first = offset / kPageSize;
    const u64 last = (end + kPageSize - 1) / kPageSize;  // exclusive
    if (last - first > sb_->max_pages) return err(ENOSPC);
    std::vector<u64> added;
    for (u64 i = first; i < last; ++i) {
        if (pages_.count(i)) continue;
        Result<pmap::PhysAddr> pa = get_page(i, true, false);
        if (!pa) {
            // Undo what this call allocated, as shmem_fallocate does.
            for (u64 a : added) drop_pages(a, a + 1);
            return no_space(pa.error());
        }
        added.push_back(i);
    }
    if (!(mode & FALLOC_FL_KEEP_SIZE) && end > size_) size_ = end;
    // shmem_fallocate calls file_modified(): mtime and ctime, whatever the mode.
    touch(kAttrMtime | kAttrCtime);
    return {};
}

std::optional<u64> TmpfsFile::next_data(u64 offset) const {
    auto it = pages_.lower_bound(offset / kPageSize);
    while (it != pages_.end() && !it->second.data) ++it;
    if (it == pages_.end()) return std::nullopt;
    const u64 start = std::max(offset, it->first * kPageSize);
    if (start >= size_) return std::nullopt;
    return start;
}

u64 TmpfsFile::next_hole(u64 offset) const {
    u64 index = offset / kPageSize;
    for (auto it = pages_.find(index); it != pages_.end() && it->first == index && it->second.data;
         ++it)
        ++index;
    return std::min(size_, std::max(offset, index * kPageSize));
}

}  // namespace vk::fs
