#include "vkernel/fs/file.h"

#include <dirent.h>
#include <linux/falloc.h>
#include <poll.h>

#include <cstring>

#include "vkernel/fs/permission.h"

namespace vk::fs {

namespace {

// MAX_RW_COUNT: one read or write moves at most this much.
constexpr u64 kMaxRwCount = 0x7fff'f000;

// rw_verify_area: an I/O whose end does not fit in loff_t is EINVAL.
Result<void> check_range(u64 pos, u64 count) {
    if (pos > kMaxFileSize || count > kMaxFileSize - pos) return err(EINVAL);
    return {};
}

// The F_GETFL view of open(2)'s flags (do_dentry_open, build_open_flags).
int stored_flags(int flags) {
    if (flags & O_PATH) return flags & (O_PATH | O_DIRECTORY | O_NOFOLLOW);
    return (flags & ~(O_CREAT | O_EXCL | O_NOCTTY | O_TRUNC | O_CLOEXEC)) | kOLargefile;
}

// Whether reads should update atime: not with O_NOATIME or a noatime mount.
bool wants_atime(const File& f, bool dir) {
    if (f.flags() & O_NOATIME) return false;
    const u64 mf = f.path().mount->flags();
    if (mf & MS_NOATIME) return false;
    if (dir && (mf & MS_NODIRATIME)) return false;
    return true;
}

void update_atime(File& f, bool dir) {
    if (!wants_atime(f, dir)) return;
    if (f.path().mount->flags() & MS_STRICTATIME)
        f.inode().touch(kAttrAtime);
    else
        f.inode().touch_atime_relatime();
}

class RegularFileOps final : public FileOps {
public:
    Result<u64> read(File& file, std::span<std::byte> dst, u64 offset) override {
        return file.inode().read(offset, dst);
    }
    Result<u64> write(File& file, std::span<const std::byte> src, u64 offset) override {
        return file.inode().write(offset, src);
    }
    MapKind map_kind(const File& file) const override {
        return file.inode().has_page_cache() ? MapKind::kPageCache : MapKind::kCopy;
    }
};

class DirectoryFileOps final : public FileOps {
public:
    Result<u64> read(File&, std::span<std::byte>, u64) override { return err(EISDIR); }
    Result<i64> seek(File& file, i64 offset, int whence) override;
    Result<u64> getdents(File& file, std::span<std::byte> buf) override;
};

// Appends one struct linux_dirent64 to buf at `*used`, if it fits.
bool put_dirent(std::span<std::byte> buf, u64* used, std::string_view name, u64 ino, u8 type,
                u64 next) {
    const u64 size = dirent64_size(name.size());
    if (*used + size > buf.size()) return false;
    // SAFETY: [*used, *used + size) lies inside buf (checked just above).
    std::byte* p = buf.data() + *used;
    std::memset(p, 0, size);
    const i64 off = static_cast<i64>(next);
    const u16 reclen = static_cast<u16>(size);
    // struct linux_dirent64: d_ino at 0, d_off at 8, d_reclen at 16,
    // d_type at 18, d_name from 19 (NUL-terminated, padded to 8).
    std::memcpy(p, &ino, 8);
    std::memcpy(p + 8, &off, 8);
    std::memcpy(p + 16, &reclen, 2);
    std::memcpy(p + 18, &type, 1);
    std::memcpy(p + 19, name.data(), name.size());
    *used += size;
    return true;
}

Result<u64> DirectoryFileOps::getdents(File& file, std::span<std::byte> buf) {
    // iterate_dir: a removed directory cannot be listed.
    if (file.path().dentry->dead()) return err(ENOENT);
    u64 used = 0;
    bool full = false;
    u64 pos = file.offset();
    const Dentry& d = *file.path().dentry;
    auto emit = [&](std::string_view name, u64 ino, u8 type, u64 next) {
        if (!put_dirent(buf, &used, name, ino, type, next)) {
            full = true;
            return false;
        }
        file.set_offset(next);
        return true;
    };
    if (pos == 0) {
        if (!emit(".", d.inode().ino(), DT_DIR, 1)) return err(EINVAL);
        pos = 1;
    }
    if (pos == 1) {
        const Inode& parent = d.parent() ? d.parent()->inode() : d.inode();
        if (!emit("..", parent.ino(), DT_DIR, 2)) return used ? Result<u64>(used) : err(EINVAL);
        pos = 2;
    }
    Result<void> r = file.inode().iterate(
        pos, [&](const DirEntry& e) { return emit(e.name, e.ino, e.type, e.next); });
    if (!r && used == 0) return Unexpected{r.release_error()};
    if (used == 0 && full) return err(EINVAL);  // not even one record fits
    update_atime(file, true);
    return used;
}

Result<i64> DirectoryFileOps::seek(File& file, i64 offset, int whence) {
    // offset_dir_llseek: SEEK_SET and SEEK_CUR to a non-negative cookie.
    if (whence == SEEK_CUR) {
        if (__builtin_add_overflow(offset, static_cast<i64>(file.offset()), &offset))
            return err(EINVAL);
    } else if (whence != SEEK_SET) {
        return err(EINVAL);
    }
    if (offset < 0) return err(EINVAL);
    file.set_offset(static_cast<u64>(offset));
    return offset;
}

}  // namespace

u64 dirent64_size(u64 name_len) { return (19 + name_len + 1 + 7) & ~u64{7}; }

std::shared_ptr<FileOps> regular_file_ops() {
    static const std::shared_ptr<FileOps> ops = std::make_shared<RegularFileOps>();
    return ops;
}

std::shared_ptr<FileOps> directory_file_ops() {
    static const std::shared_ptr<FileOps> ops = std::make_shared<DirectoryFileOps>();
    return ops;
}

// ---- FileOps defaults ----

Result<u64> FileOps::read(File&, std::span<std::byte>, u64) { return err(EINVAL); }
Result<u64> FileOps::write(File&, std::span<const std::byte>, u64) { return err(EINVAL); }
Result<u64> FileOps::getdents(File&, std::span<std::byte>) { return err(ENOTDIR); }
Result<void> FileOps::fsync(File& file, bool) { return file.inode().fsync(); }
Result<long> FileOps::ioctl(File&, u32, u64) { return err(ENOTTY); }
u32 FileOps::poll(File&) { return POLLIN | POLLOUT | POLLRDNORM | POLLWRNORM; }

Result<i64> FileOps::seek(File& file, i64 offset, int whence) {
    // generic_file_llseek_size with the inode's size and SEEK_DATA/HOLE
    // from the inode's map of data.
    const Inode& inode = file.inode();
    const i64 eof = static_cast<i64>(inode.size());
    switch (whence) {
    case SEEK_SET:
        break;
    case SEEK_CUR:
        if (__builtin_add_overflow(offset, static_cast<i64>(file.offset()), &offset))
            return err(EINVAL);
        break;
    case SEEK_END:
        if (__builtin_add_overflow(offset, eof, &offset)) return err(EINVAL);
        break;
    case SEEK_DATA: {
        if (offset < 0 || offset >= eof) return err(ENXIO);
        const std::optional<u64> d = inode.next_data(static_cast<u64>(offset));
        if (!d) return err(ENXIO);
        offset = static_cast<i64>(*d);
        break;
    }
    case SEEK_HOLE:
        if (offset < 0 || offset >= eof) return err(ENXIO);
        offset = static_cast<i64>(inode.next_hole(static_cast<u64>(offset)));
        break;
    default:
        return err(EINVAL);
    }
    if (offset < 0) return err(EINVAL);
    file.set_offset(static_cast<u64>(offset));
    return offset;
}

// ---- File ----

File::File(Path path, int flags, Credentials cred, std::shared_ptr<FileOps> ops)
    : path_(std::move(path)), ops_(std::move(ops)), cred_(std::move(cred)),
      flags_(stored_flags(flags)) {
    if (!(flags & O_PATH)) {
        const int acc = flags & O_ACCMODE;
        readable_ = acc == O_RDONLY || acc == O_RDWR;
        writable_ = acc == O_WRONLY || acc == O_RDWR;
    }
}

namespace {
File::ReleaseHook g_release_hook = nullptr;
}  // namespace

void File::set_release_hook(ReleaseHook hook) { g_release_hook = hook; }

File::~File() {
    if (g_release_hook && path_.valid()) g_release_hook(*this);
    if (ops_) ops_->release(*this);
}

Result<void> File::set_flags(int flags) {
    if (is_path()) return err(EBADF);
    constexpr int kSettable = O_APPEND | O_NONBLOCK | O_DIRECT | O_NOATIME | O_ASYNC;
    if ((flags & O_NOATIME) && !(flags_ & O_NOATIME) && !owner_or_capable(cred_, inode()))
        return err(EPERM);
    flags_ = (flags_ & ~kSettable) | (flags & kSettable);
    return {};
}

Result<u64> File::read(std::span<std::byte> dst) {
    if (is_path() || !readable_) return err(EBADF);
    if (dst.size() > kMaxRwCount) dst = dst.first(kMaxRwCount);
    if (ops_->seekable()) VK_TRY(check_range(offset_, dst.size()));
    const u64 n = VK_TRY(ops_->read(*this, dst, offset_));
    if (ops_->seekable()) offset_ += n;
    if (inode().is_reg() && !dst.empty()) update_atime(*this, false);
    return n;
}

Result<u64> File::pread(std::span<std::byte> dst, i64 offset) {
    if (offset < 0) return err(EINVAL);
    if (is_path()) return err(EBADF);
    if (!ops_->seekable()) return err(ESPIPE);
    if (!readable_) return err(EBADF);
    if (dst.size() > kMaxRwCount) dst = dst.first(kMaxRwCount);
    VK_TRY(check_range(static_cast<u64>(offset), dst.size()));
    const u64 n = VK_TRY(ops_->read(*this, dst, static_cast<u64>(offset)));
    if (inode().is_reg() && !dst.empty()) update_atime(*this, false);
    return n;
}

Result<u64> File::write(std::span<const std::byte> src) {
    if (is_path() || !writable_) return err(EBADF);
    return do_write(src, offset_, true);
}

Result<u64> File::pwrite(std::span<const std::byte> src, i64 offset) {
    if (offset < 0) return err(EINVAL);
    if (is_path()) return err(EBADF);
    if (!ops_->seekable()) return err(ESPIPE);
    if (!writable_) return err(EBADF);
    return do_write(src, static_cast<u64>(offset), false);
}

Result<u64> File::do_write(std::span<const std::byte> src, u64 offset, bool advance) {
    if (src.size() > kMaxRwCount) src = src.first(kMaxRwCount);
    if (ops_->seekable()) VK_TRY(check_range(offset, src.size()));
    Inode& ino = inode();
    const bool regular = ino.is_reg();
    if (regular) {
        if (src.empty()) return 0;
        if (flags_ & O_APPEND) offset = ino.size();
        // generic_write_check_limits.
        if (offset >= kMaxFileSize) return err(EFBIG);
        if (src.size() > kMaxFileSize - offset) src = src.first(kMaxFileSize - offset);
        // file_remove_privs, with the opener's credentials.
        if (std::optional<u32> m = mode_after_kill_priv(cred_, ino)) {
            SetAttr a;
            a.valid = kAttrMode;
            a.mode = *m;
            VK_TRY(ino.setattr(a));
        }
    }
    const u64 n = VK_TRY(ops_->write(*this, src, offset));
    if (advance && ops_->seekable()) offset_ = offset + n;
    return n;
}

Result<i64> File::lseek(i64 offset, int whence) {
    if (is_path()) return err(EBADF);
    if (!ops_->seekable()) return err(ESPIPE);
    return ops_->seek(*this, offset, whence);
}

Result<u64> File::getdents64(std::span<std::byte> buf) {
    if (is_path()) return err(EBADF);
    return ops_->getdents(*this, buf);
}

Result<void> File::fsync(bool datasync) {
    if (is_path()) return err(EBADF);
    return ops_->fsync(*this, datasync);
}

Result<void> File::truncate(i64 length) {
    // do_sys_ftruncate.
    if (length < 0) return err(EINVAL);
    if (is_path()) return err(EBADF);
    Inode& ino = inode();
    if (!ino.is_reg() || !writable_) return err(EINVAL);
    SetAttr a;
    a.valid = kAttrSize | kAttrMtime | kAttrCtime;
    a.size = static_cast<u64>(length);
    a.mtime = a.ctime = now();
    if (std::optional<u32> m = mode_after_kill_priv(cred_, ino)) {
        a.valid |= kAttrMode;
        a.mode = *m;
    }
    return ino.setattr(a);
}

Result<void> File::allocate(int mode, i64 offset, i64 len) {
    // vfs_fallocate's checks, in its order.
    if (offset < 0 || len <= 0) return err(EINVAL);
    constexpr int kKnown = FALLOC_FL_KEEP_SIZE | FALLOC_FL_PUNCH_HOLE | FALLOC_FL_NO_HIDE_STALE |
                           FALLOC_FL_COLLAPSE_RANGE | FALLOC_FL_ZERO_RANGE |
                           FALLOC_FL_INSERT_RANGE | FALLOC_FL_UNSHARE_RANGE;
    if (mode & ~kKnown) return err(EOPNOTSUPP);
    if ((mode & (FALLOC_FL_PUNCH_HOLE | FALLOC_FL_ZERO_RANGE)) ==
        (FALLOC_FL_PUNCH_HOLE | FALLOC_FL_ZERO_RANGE))
        return err(EOPNOTSUPP);
    if ((mode & FALLOC_FL_PUNCH_HOLE) && !(mode & FALLOC_FL_KEEP_SIZE)) return err(EOPNOTSUPP);
    if ((mode & FALLOC_FL_COLLAPSE_RANGE) && (mode & ~FALLOC_FL_COLLAPSE_RANGE)) return err(EINVAL);
    if ((mode & FALLOC_FL_INSERT_RANGE) && (mode & ~FALLOC_FL_INSERT_RANGE)) return err(EINVAL);
    if ((mode & FALLOC_FL_UNSHARE_RANGE) && (mode & ~(FALLOC_FL_UNSHARE_RANGE | FALLOC_FL_KEEP_SIZE)))
        return err(EINVAL);
    if (is_path() || !writable_) return err(EBADF);
    Inode& ino = inode();
    if (S_ISFIFO(ino.mode())) return err(ESPIPE);
    if (ino.is_dir()) return err(EISDIR);
    if (!ino.is_reg()) return err(ENODEV);
    i64 end = 0;
    if (__builtin_add_overflow(offset, len, &end)) return err(EFBIG);
    // file_modified() drops set-id bits as a write does.
    if (std::optional<u32> m = mode_after_kill_priv(cred_, ino)) {
        SetAttr a;
        a.valid = kAttrMode;
        a.mode = *m;
        VK_TRY(ino.setattr(a));
    }
    return ino.allocate(mode, static_cast<u64>(offset), static_cast<u64>(len));
}

Stat File::stat() const {
    Stat s = inode().stat();
    s.mount_id = path_.mount ? path_.mount->id() : 0;
    return s;
}

Result<long> File::ioctl(u32 cmd, u64 arg) {
    if (is_path()) return err(EBADF);
    return ops_->ioctl(*this, cmd, arg);
}

u32 File::poll() {
    if (is_path()) return POLLNVAL;
    return ops_->poll(*this);
}

}  // namespace vk::fs
