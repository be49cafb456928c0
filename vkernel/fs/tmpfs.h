#pragma once

// tmpfs: a filesystem that lives in guest memory. Regular-file data is
// kept in guest frames from a pmap::FrameAllocator, one frame reference
// per resident page, so the same frames can be mapped into processes
// (mmap coherent with read/write). Holes read as zero and take no frames.
// Guarded by the kernel lock.

#include <map>
#include <memory>
#include <string>

#include "pmap/frame_allocator.h"
#include "vkernel/fs/inode.h"
#include "vkernel/fs/mount.h"

namespace vk::fs {

inline constexpr u64 kTmpfsMagic = 0x01021994;  // TMPFS_MAGIC
// tmpfs counts 20 bytes of directory size per entry (BOGO_DIRENT_SIZE).
inline constexpr u64 kTmpfsDirentSize = 20;

// mount -t tmpfs -o size=,nr_inodes=,mode=,uid=,gid=
struct TmpfsOptions {
    u64 max_pages = 0;   // 0: half of the allocator's frames (Linux: half the RAM)
    u64 max_inodes = 0;  // 0: as many as max_pages
    u32 root_mode = 01777;
    u32 root_uid = 0;
    u32 root_gid = 0;
};

// What all inodes of one tmpfs share: the frames, the limits and the
// counters. Inodes hold it by shared_ptr so it outlives the last of them,
// even after the Tmpfs object is gone.
struct TmpfsSuper {
    TmpfsSuper(pmap::FrameAllocator& f, u64 d) : frames(f), dev(d) {}
    pmap::FrameAllocator& frames;
    u64 dev;
    u64 max_pages = 0, max_inodes = 0;
    u64 pages = 0;   // data frames held by files
    u64 inodes = 0;  // live inodes
    u64 next_ino = 1;
};

class Tmpfs final : public Filesystem {
public:
    // `frames` must outlive every inode of the filesystem (it is the
    // kernel's allocator, which outlives all of them).
    static std::shared_ptr<Tmpfs> create(pmap::FrameAllocator& frames,
                                         const TmpfsOptions& opts = {});
    std::string_view type_name() const override { return "tmpfs"; }
    StatFs statfs() const override;
    u64 pages_used() const { return sb_->pages; }
    u64 inodes_used() const { return sb_->inodes; }

private:
    explicit Tmpfs(std::shared_ptr<TmpfsSuper> sb) : sb_(std::move(sb)) {}
    std::shared_ptr<TmpfsSuper> sb_;
};

// Base of tmpfs inodes: numbering and the inode count.
class TmpfsInode : public Inode {
public:
    ~TmpfsInode() override { --sb_->inodes; }
    // Link counts are kept by the directories of the same filesystem.
    void set_nlink(u64 n) { nlink_ = n; }

protected:
    TmpfsInode(std::shared_ptr<TmpfsSuper> sb, const NewInode& init)
        : Inode(sb->dev, sb->next_ino++, init), sb_(std::move(sb)) {
        ++sb_->inodes;
    }
    std::shared_ptr<TmpfsSuper> sb_;
};

// A regular file: its data pages, page index -> frame.
class TmpfsFile final : public TmpfsInode {
public:
    TmpfsFile(std::shared_ptr<TmpfsSuper> sb, const NewInode& init) : TmpfsInode(std::move(sb), init) {}
    ~TmpfsFile() override;

    u64 allocated_bytes() const override { return pages_.size() * kPageSize; }
    Result<void> setattr(const SetAttr& attr) override;
    Result<u64> read(u64 offset, std::span<std::byte> dst) override;
    Result<u64> write(u64 offset, std::span<const std::byte> src) override;
    Result<void> allocate(int mode, u64 offset, u64 len) override;
    std::optional<u64> next_data(u64 offset) const override;
    u64 next_hole(u64 offset) const override;
    Result<pmap::PhysAddr> page(u64 index, bool create) override;
    bool has_page_cache() const override { return true; }

    u64 resident_pages() const { return pages_.size(); }

private:
    // Frees pages [first, last) and the frames behind them, after removing
    // them from every mapping (and, with `even_private`, the private copies
    // mappings made of them).
    void drop_pages(u64 first, u64 last, bool even_private = true);
    // Zeroes bytes [from, to) of page `index` if it is resident.
    void zero_range(u64 index, u64 from, u64 to);
    void resize(u64 new_size);

    // A resident page. fallocate() makes pages that hold no data yet
    // (SEEK_DATA skips them, as Linux's !uptodate folios); a write or a
    // mapping makes them data.
    struct Page {
        pmap::PhysAddr pa;
        bool data;
    };
    // Finds or makes page `index`; `data` marks it as holding data.
    Result<pmap::PhysAddr> get_page(u64 index, bool create, bool data);

    std::map<u64, Page> pages_;  // one frame reference each
};

// A directory: entries by name, and in creation order by a stable
// cookie (the getdents64 offset; cookies start at 2 after "." and "..").
class TmpfsDir final : public TmpfsInode {
public:
    TmpfsDir(std::shared_ptr<TmpfsSuper> sb, const NewInode& init);
    ~TmpfsDir() override;

    Result<std::shared_ptr<Inode>> lookup(std::string_view name) override;
    Result<std::shared_ptr<Inode>> create(std::string_view name, const NewInode& init) override;
    Result<std::shared_ptr<Inode>> mkdir(std::string_view name, const NewInode& init) override;
    Result<std::shared_ptr<Inode>> mknod(std::string_view name, const NewInode& init) override;
    Result<std::shared_ptr<Inode>> symlink(std::string_view name, std::string_view target,
                                           const NewInode& init) override;
    Result<std::shared_ptr<Inode>> tmpfile(const NewInode& init) override;
    Result<void> link(std::string_view name, const std::shared_ptr<Inode>& target) override;
    Result<void> unlink(std::string_view name) override;
    Result<void> rmdir(std::string_view name) override;
    Result<void> rename(std::string_view old_name, Inode& new_dir, std::string_view new_name,
                        u32 flags) override;
    Result<void> iterate(u64 cookie, const DirEmit& emit) override;
    bool empty_dir() const override { return by_name_.empty(); }

private:
    struct Entry {
        std::string name;
        std::shared_ptr<Inode> inode;
    };
    Result<void> check_new(std::shared_ptr<TmpfsSuper>& sb) const;
    void add(std::string_view name, std::shared_ptr<Inode> inode);
    std::shared_ptr<Inode> remove(std::string_view name);
    Entry* find(std::string_view name);
    void changed();  // mtime and ctime to now

    std::map<u64, Entry> by_cookie_;
    std::map<std::string, u64, std::less<>> by_name_;
    u64 next_cookie_ = 2;
    bool removed_ = false;  // rmdir'ed: nothing may be created in it
};

}  // namespace vk::fs
