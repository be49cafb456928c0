// Calls that read or change attributes: stat, readlink, access, chmod,
// chown, utimensat, truncate, statfs.

#include <sys/statvfs.h>
#include <unistd.h>

#include "vkernel/fs/namei.h"
#include "vkernel/fs/permission.h"
#include "vkernel/fs/vfs.h"

namespace vk::fs {

namespace {

// The lookup flags of the *at() calls that take AT_SYMLINK_NOFOLLOW and
// AT_EMPTY_PATH.
u32 at_lookup(int at_flags) {
    u32 f = (at_flags & AT_SYMLINK_NOFOLLOW) ? 0 : kLookupFollow;
    if (at_flags & AT_EMPTY_PATH) f |= kLookupEmpty;
    return f;
}

}  // namespace

Result<Stat> Vfs::stat(const Context& ctx, const Path& at, std::string_view path,
                       int at_flags) const {
    if (at_flags & ~(AT_SYMLINK_NOFOLLOW | AT_NO_AUTOMOUNT | AT_EMPTY_PATH | AT_STATX_SYNC_TYPE))
        return err(EINVAL);
    const Path p = VK_TRY(resolve(ctx, at, path, at_lookup(at_flags)));
    Stat s = p.inode().stat();
    s.mount_id = p.mount->id();
    return s;
}

Result<std::string> Vfs::readlink(const Context& ctx, const Path& at, std::string_view path) const {
    const Path p = VK_TRY(resolve(ctx, at, path, kLookupEmpty));
    // do_readlinkat: an empty path names the fd itself, which is ENOENT
    // when it is not a symlink.
    if (!p.inode().is_symlink()) return err(path.empty() ? ENOENT : EINVAL);
    if (!(p.mount->flags() & MS_NOATIME)) p.inode().touch_atime_relatime();
    return p.inode().readlink();
}

Result<void> Vfs::access(const Context& ctx, const Path& at, std::string_view path, int mode,
                         int at_flags) const {
    if (mode & ~(R_OK | W_OK | X_OK)) return err(EINVAL);
    if (at_flags & ~(AT_EACCESS | AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH)) return err(EINVAL);
    const Path p = VK_TRY(resolve(ctx, at, path, at_lookup(at_flags)));
    int mask = 0;
    if (mode & R_OK) mask |= kMayRead;
    if (mode & W_OK) mask |= kMayWrite;
    if (mode & X_OK) mask |= kMayExec;
    VK_TRY(permission(ctx.cred, p.inode(), mask));
    // "SuS v2 requires we report a read only fs too."
    const u32 t = p.inode().type();
    const bool special = t == S_IFCHR || t == S_IFBLK || t == S_IFIFO || t == S_IFSOCK;
    if ((mode & W_OK) && !special && p.mount->read_only()) return err(EROFS);
    return {};
}

Result<void> Vfs::chmod(const Context& ctx, const Path& at, std::string_view path, u32 mode,
                        int at_flags) const {
    if (at_flags & ~(AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH)) return err(EINVAL);
    const Path p = VK_TRY(resolve(ctx, at, path, at_lookup(at_flags)));
    if (p.mount->read_only()) return err(EROFS);
    // Symlinks have no mode of their own (fchmodat2 with AT_SYMLINK_NOFOLLOW).
    if (p.inode().is_symlink()) return err(EOPNOTSUPP);
    const SetAttr a = VK_TRY(prepare_chmod(ctx.cred, p.inode(), mode));
    return p.inode().setattr(a);
}

Result<void> Vfs::chown(const Context& ctx, const Path& at, std::string_view path, u32 uid, u32 gid,
                        int at_flags) const {
    if (at_flags & ~(AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH)) return err(EINVAL);
    const Path p = VK_TRY(resolve(ctx, at, path, at_lookup(at_flags)));
    if (p.mount->read_only()) return err(EROFS);
    const SetAttr a = VK_TRY(prepare_chown(ctx.cred, p.inode(), uid, gid));
    return p.inode().setattr(a);
}

Result<void> Vfs::utimens(const Context& ctx, const Path& at, std::string_view path,
                          const Timespec* times, int at_flags) const {
    if (times) {
        for (int i = 0; i < 2; ++i) {
            const i64 ns = times[i].nsec;
            if (ns != kUtimeNow && ns != kUtimeOmit && (ns < 0 || ns > 999'999'999))
                return err(EINVAL);
        }
    }
    if (at_flags & ~(AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH)) return err(EINVAL);
    const Path p = VK_TRY(resolve(ctx, at, path, at_lookup(at_flags)));
    if (times && times[0].nsec == kUtimeOmit && times[1].nsec == kUtimeOmit) return {};
    if (p.mount->read_only()) return err(EROFS);
    const SetAttr a = VK_TRY(prepare_utimens(ctx.cred, p.inode(), times));
    return p.inode().setattr(a);
}

Result<void> Vfs::truncate(const Context& ctx, const Path& at, std::string_view path,
                           i64 length) const {
    if (length < 0) return err(EINVAL);
    const Path p = VK_TRY(resolve(ctx, at, path, kLookupFollow));
    // vfs_truncate.
    Inode& ino = p.inode();
    if (ino.is_dir()) return err(EISDIR);
    if (!ino.is_reg()) return err(EINVAL);
    if (p.mount->read_only()) return err(EROFS);
    VK_TRY(permission(ctx.cred, ino, kMayWrite));
    SetAttr a;
    a.valid = kAttrSize;
    a.size = static_cast<u64>(length);
    if (std::optional<u32> m = mode_after_kill_priv(ctx.cred, ino)) {
        a.valid |= kAttrMode;
        a.mode = *m;
    }
    return ino.setattr(a);
}

Result<StatFs> Vfs::statfs(const Context& ctx, const Path& at, std::string_view path) const {
    const Path p = VK_TRY(resolve(ctx, at, path, kLookupFollow));
    return statfs_of(p);
}

StatFs Vfs::statfs_of(const Path& path) const {
    StatFs s = path.mount->fs().statfs();
    // calculate_f_flags: the mount's flags as ST_* bits, plus ST_VALID.
    const u64 mf = path.mount->flags();
    constexpr u64 kStValid = 0x20;
    s.flags = kStValid;
    if (mf & MS_RDONLY) s.flags |= ST_RDONLY;
    if (mf & MS_NOSUID) s.flags |= ST_NOSUID;
    if (mf & MS_NODEV) s.flags |= ST_NODEV;
    if (mf & MS_NOEXEC) s.flags |= ST_NOEXEC;
    if (mf & MS_NOATIME) s.flags |= ST_NOATIME;
    if (mf & MS_NODIRATIME) s.flags |= ST_NODIRATIME;
    if (!(mf & (MS_NOATIME | MS_STRICTATIME))) s.flags |= ST_RELATIME;
    return s;
}

}  // namespace vk::fs
