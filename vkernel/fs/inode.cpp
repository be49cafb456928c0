#include "vkernel/fs/inode.h"

#include <time.h>

#include "vkernel/fs/file.h"
#include "vkernel/fs/mount.h"

namespace vk::fs {

Result<std::shared_ptr<FileOps>> InodeAttachment::reopen(File&) { return err(ENXIO); }


Timespec now() {
    struct timespec ts{};
    // CLOCK_REALTIME comes from the vDSO: no host syscall, never blocks.
    ::clock_gettime(CLOCK_REALTIME, &ts);
    return Timespec{ts.tv_sec, ts.tv_nsec};
}

Inode::Inode(u64 dev, u64 ino, const NewInode& init)
    : dev_(dev), ino_(ino), mode_(init.mode), uid_(init.uid), gid_(init.gid), rdev_(init.rdev) {
    const Timespec t = now();
    atime_ = mtime_ = ctime_ = btime_ = t;
}

Stat Inode::stat() const {
    Stat s;
    s.dev = dev_;
    s.ino = ino_;
    s.mode = mode_;
    s.nlink = nlink_;
    s.uid = uid_;
    s.gid = gid_;
    s.rdev = rdev_;
    s.size = size_;
    s.blocks = allocated_bytes() / 512;
    s.atime = atime_;
    s.mtime = mtime_;
    s.ctime = ctime_;
    s.btime = btime_;
    return s;
}

// Linux's answers when an inode lacks an operation (fs/namei.c).
Result<std::shared_ptr<Inode>> Inode::lookup(std::string_view) { return err(ENOTDIR); }
Result<std::shared_ptr<Inode>> Inode::create(std::string_view, const NewInode&) {
    return err(EACCES);
}
Result<std::shared_ptr<Inode>> Inode::mkdir(std::string_view, const NewInode&) {
    return err(EPERM);
}
Result<std::shared_ptr<Inode>> Inode::mknod(std::string_view, const NewInode&) {
    return err(EPERM);
}
Result<std::shared_ptr<Inode>> Inode::symlink(std::string_view, std::string_view, const NewInode&) {
    return err(EPERM);
}
Result<std::shared_ptr<Inode>> Inode::tmpfile(const NewInode&) { return err(EOPNOTSUPP); }
Result<void> Inode::link(std::string_view, const std::shared_ptr<Inode>&) { return err(EPERM); }
Result<void> Inode::unlink(std::string_view) { return err(EPERM); }
Result<void> Inode::rmdir(std::string_view) { return err(EPERM); }
Result<void> Inode::rename(std::string_view, Inode&, std::string_view, u32) { return err(EPERM); }
Result<void> Inode::iterate(u64, const DirEmit&) { return err(ENOTDIR); }
Result<std::string> Inode::readlink() { return err(EINVAL); }
Result<std::optional<Path>> Inode::jump_target() { return std::optional<Path>(); }

Result<void> Inode::setattr(const SetAttr& attr) {
    if (attr.valid & kAttrSize) return err(EPERM);
    apply_attr(attr);
    return {};
}

Result<u64> Inode::read(u64, std::span<std::byte>) { return err(EINVAL); }
Result<u64> Inode::write(u64, std::span<const std::byte>) { return err(EINVAL); }
Result<void> Inode::allocate(int, u64, u64) { return err(EOPNOTSUPP); }
Result<pmap::PhysAddr> Inode::page(u64, bool) { return err(ENODEV); }

std::optional<u64> Inode::next_data(u64 offset) const {
    if (offset >= size_) return std::nullopt;
    return offset;
}

u64 Inode::next_hole(u64) const { return size_; }

Result<std::shared_ptr<FileOps>> Inode::open(File&) {
    if (is_reg()) return regular_file_ops();
    if (is_dir()) return directory_file_ops();
    return err(ENXIO);
}

void Inode::touch(u32 which) {
    const Timespec t = now();
    if (which & kAttrAtime) atime_ = t;
    if (which & kAttrMtime) mtime_ = t;
    if (which & kAttrCtime) ctime_ = t;
}

void Inode::touch_atime_relatime() {
    const Timespec t = now();
    constexpr i64 kDay = 24 * 60 * 60;
    if (atime_ <= mtime_ || atime_ <= ctime_ || t.sec - atime_.sec >= kDay) atime_ = t;
}

void Inode::apply_attr(const SetAttr& attr) {
    if (attr.valid & kAttrUid) uid_ = attr.uid;
    if (attr.valid & kAttrGid) gid_ = attr.gid;
    if (attr.valid & kAttrMode) mode_ = (mode_ & S_IFMT) | (attr.mode & 07777);
    if (attr.valid & kAttrAtime) atime_ = attr.atime;
    if (attr.valid & kAttrMtime) mtime_ = attr.mtime;
    if (attr.valid & kAttrCtime) ctime_ = attr.ctime;
}

}  // namespace vk::fs
