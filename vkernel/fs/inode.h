#pragma once

// Inode: one file-system object (file, directory, symlink, device node,
// FIFO, socket) with its attributes and the operations a filesystem
// implements on it. Guarded by the kernel lock (see types.h).

#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "base/result.h"
#include "pmap/phys_memory.h"
#include "vkernel/fs/types.h"

namespace vk::fs {

class File;
class FileOps;
struct Path;

// One entry of a directory listing, as Inode::iterate reports it.
struct DirEntry {
    std::string_view name;
    u64 ino = 0;
    u8 type = 0;   // DT_*
    u64 next = 0;  // cookie of the entry after this one (getdents64's d_off)
};

// Receives directory entries; returns false to stop (the buffer is full).
using DirEmit = std::function<bool(const DirEntry&)>;

// State a later layer hangs on an inode: a FIFO's pipe, a bound unix
// socket. The inode owns it, so it must not hold the inode (or a File or
// Path of it) in turn: that would be a reference cycle.
class InodeAttachment {
public:
    virtual ~InodeAttachment() = default;
    // For inodes that live in no mounted filesystem (an anonymous pipe, the
    // console) but that an open through /proc/PID/fd/N may reach, as
    // Linux's open of /dev/stderr does: the operations of a new open file
    // description of the same object. The default refuses (ENXIO, what
    // Linux says for a socket).
    virtual bool reopenable() const { return false; }
    virtual Result<std::shared_ptr<FileOps>> reopen(File& file);
};

// The mappings of an inode's pages into address spaces (mmap), as the memory
// layer keeps them. A filesystem calls it before it frees pages of the data,
// so that no page table still points at a frame that goes away. Must not
// hold the inode (that would be a reference cycle).
class PageMappings {
public:
    virtual ~PageMappings() = default;
    // Pages [first, last) are about to be freed or zeroed: remove them from
    // every address space. `even_private`: also drop the private copies
    // that MAP_PRIVATE mappings made of them (truncate does, hole punching
    // does not, as Linux's unmap_mapping_range `even_cows`).
    virtual void unmap_pages(u64 first, u64 last, bool even_private) = 0;
};

// A file-system object. Filesystems derive from it and override the
// operations they support; the defaults fail as Linux does when an
// inode has no such operation.
//
// Division of work, as in Linux: the VFS resolves paths, checks
// permissions, name validity, existence and file types, and decides new
// owners and modes; an operation here only does it (and fails with what
// only the filesystem knows: ENOTEMPTY, ENOSPC). Names passed in are single
// components, never "." or "..", at most kNameMax bytes. Filesystems update
// the time stamps their operations change (directory mtime/ctime on
// create, unlink and rename; file mtime/ctime on write).
//
// Lifetime: shared_ptr. A directory's entries, dentries and open files
// hold references; an inode whose nlink is 0 lives on until the last
// reference goes.
//
// Identity: lookup() must return the same Inode object for the same file
// for as long as anyone holds it (a dynamic filesystem such as procfs
// keeps its live inodes in a table). The dentry cache takes a different
// object under the same name to mean the old file was replaced.
class Inode : public std::enable_shared_from_this<Inode> {
public:
    virtual ~Inode() = default;
    Inode(const Inode&) = delete;
    Inode& operator=(const Inode&) = delete;

    u64 dev() const { return dev_; }
    u64 ino() const { return ino_; }
    u32 mode() const { return mode_; }
    u32 type() const { return mode_ & S_IFMT; }
    bool is_dir() const { return S_ISDIR(mode_); }
    bool is_reg() const { return S_ISREG(mode_); }
    bool is_symlink() const { return S_ISLNK(mode_); }
    u32 uid() const { return uid_; }
    u32 gid() const { return gid_; }
    u64 nlink() const { return nlink_; }
    u64 size() const { return size_; }
    u64 rdev() const { return rdev_; }
    Timespec atime() const { return atime_; }
    Timespec mtime() const { return mtime_; }
    Timespec ctime() const { return ctime_; }

    // The stat(2) view of this inode.
    virtual Stat stat() const;
    // Bytes of storage held (st_blocks * 512).
    virtual u64 allocated_bytes() const { return 0; }

    // ---- Directories ----
    // The entry `name`, or ENOENT.
    virtual Result<std::shared_ptr<Inode>> lookup(std::string_view name);
    // Make a regular file, a directory, a special file (S_IFCHR, S_IFBLK,
    // S_IFIFO, S_IFSOCK from init.mode), or a symlink to `target`. The
    // name does not exist yet (checked by the VFS).
    virtual Result<std::shared_ptr<Inode>> create(std::string_view name, const NewInode& init);
    virtual Result<std::shared_ptr<Inode>> mkdir(std::string_view name, const NewInode& init);
    virtual Result<std::shared_ptr<Inode>> mknod(std::string_view name, const NewInode& init);
    virtual Result<std::shared_ptr<Inode>> symlink(std::string_view name, std::string_view target,
                                                   const NewInode& init);
    // An unnamed regular file in this directory (O_TMPFILE), nlink 0.
    virtual Result<std::shared_ptr<Inode>> tmpfile(const NewInode& init);
    // Adds `name` for `target` (same filesystem, not a directory).
    virtual Result<void> link(std::string_view name, const std::shared_ptr<Inode>& target);
    // Removes the non-directory `name`.
    virtual Result<void> unlink(std::string_view name);
    // Removes the directory `name`; ENOTEMPTY if it has entries.
    virtual Result<void> rmdir(std::string_view name);
    // Moves `old_name` here to `new_name` in `new_dir` (same filesystem).
    // flags: 0 (replace a target; the VFS has checked the types match),
    // RENAME_NOREPLACE (checked by the VFS) or RENAME_EXCHANGE. The
    // filesystem fails with ENOTEMPTY for a non-empty target directory.
    virtual Result<void> rename(std::string_view old_name, Inode& new_dir,
                                std::string_view new_name, u32 flags);
    // Reports entries from `cookie` on (cookies >= 2; the VFS itself
    // reports "." and ".." as 0 and 1) until `emit` returns false.
    virtual Result<void> iterate(u64 cookie, const DirEmit& emit);
    // Whether the directory has no entries besides "." and "..".
    virtual bool empty_dir() const { return true; }

    // ---- Symlinks ----
    virtual Result<std::string> readlink();
    // A "magic link" (procfs's /proc/PID/fd/N, cwd, root) is followed by
    // jumping to the object itself, not by walking its text (Linux's
    // nd_jump_link): /proc/self/fd/1 reaches a pipe, a deleted file or a
    // file outside the caller's root. nullopt for an ordinary symlink.
    virtual Result<std::optional<Path>> jump_target();

    // ---- Attributes ----
    // Applies `attr` (a size change is a truncate of a regular file).
    virtual Result<void> setattr(const SetAttr& attr);

    // ---- Data of regular files ----
    // Reads up to dst.size() bytes at `offset` (short at end of file).
    virtual Result<u64> read(u64 offset, std::span<std::byte> dst);
    // Writes src at `offset`, growing the file; a short count when space
    // runs out after some bytes were written, ENOSPC when none were.
    virtual Result<u64> write(u64 offset, std::span<const std::byte> src);
    // fallocate(2): mode 0, FALLOC_FL_KEEP_SIZE, FALLOC_FL_PUNCH_HOLE|KEEP_SIZE.
    virtual Result<void> allocate(int mode, u64 offset, u64 len);
    // SEEK_DATA / SEEK_HOLE: the first data (hole) offset >= `offset`,
    // offset < size(); nullopt when there is no data up to the end.
    // The defaults treat the whole file as data.
    virtual std::optional<u64> next_data(u64 offset) const;
    virtual u64 next_hole(u64 offset) const;
    virtual Result<void> fsync() { return {}; }
    // The guest frame holding page `index` (bytes index*4096 ...) of the
    // data, for mmap coherent with read/write. With `create` a hole gets a
    // zeroed frame (ENOSPC past the filesystem's size, ENOMEM when frames
    // run out); without, a hole is ENOENT. The inode keeps its own frame
    // reference; mappings take none: before it frees a page the
    // filesystem calls `mappings` (PageMappings) to unmap it everywhere. The size of the file is not checked (SIGBUS
    // beyond it is the caller's rule). ENODEV for inodes without pages.
    virtual Result<pmap::PhysAddr> page(u64 index, bool create);
    // Whether page() gives the data's own frames (a page cache that mmap
    // can share); otherwise mmap copies the data through read().
    virtual bool has_page_cache() const { return false; }

    // ---- Opening ----
    // The operations of a new open file description of this inode. The
    // defaults serve regular files (through read/write above) and
    // directories (through iterate); other types fail with ENXIO.
    virtual Result<std::shared_ptr<FileOps>> open(File& file);

    // ---- For the VFS ----
    // Sets the time stamps in `which` (kAttrAtime|kAttrMtime|kAttrCtime) to now.
    void touch(u32 which);
    // Updates atime after a read, under relatime rules: only when atime is
    // not newer than mtime or ctime, or is a day old.
    void touch_atime_relatime();
    // O_TMPFILE files made without O_EXCL may be given a name by linkat().
    bool linkable() const { return linkable_; }
    void set_linkable(bool v) { linkable_ = v; }

    std::shared_ptr<InodeAttachment> attachment;
    // Set by the memory layer when the inode's pages are first mapped.
    std::shared_ptr<PageMappings> mappings;

protected:
    Inode(u64 dev, u64 ino, const NewInode& init);
    // Applies the fields of `attr` except the size (generic setattr_copy).
    void apply_attr(const SetAttr& attr);

    u64 dev_ = 0;
    u64 ino_ = 0;
    u32 mode_ = 0;
    u32 uid_ = 0, gid_ = 0;
    u64 nlink_ = 1;
    u64 size_ = 0;
    u64 rdev_ = 0;
    Timespec atime_, mtime_, ctime_, btime_;
    bool linkable_ = false;
};

}  // namespace vk::fs
