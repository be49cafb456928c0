// Calls that change names: mkdir, mknod, symlink, link, unlink, rmdir,
// rename — Linux's do_*at() and vfs_*() in fs/namei.c, in their order of
// checks.

#include <linux/fs.h>

#include <optional>

#include "vkernel/fs/namei.h"
#include "vkernel/fs/permission.h"
#include "vkernel/fs/vfs.h"

namespace vk::fs {

namespace {

// filename_create: the last component must be a new name. "." and ".."
// exist (EEXIST); "name/" for a non-directory is ENOENT; a read-only mount
// is reported only after those.
Result<LastComponent> create_target(Walker& w, const Path& at, std::string_view path,
                                    bool want_dir) {
    LastComponent last = VK_TRY(w.parent(at, path));
    if (last.kind != LastComponent::Kind::kNormal) return err(EEXIST);
    Result<Path> existing = w.child(last.dir, last.name, false);
    if (existing) return err(EEXIST);
    if (existing.error().code != ENOENT) return Unexpected{existing.release_error()};
    if (last.trailing_slash && !want_dir) return err(ENOENT);
    if (last.dir.mount->read_only()) return err(EROFS);
    return last;
}

// may_create beyond existence: a removed directory takes no new names
// (ENOENT), then write and search permission.
Result<void> check_create(const Context& ctx, const Path& dir) {
    if (dir.dentry->dead()) return err(ENOENT);
    return may_create(ctx.cred, dir.inode());
}

}  // namespace

Result<void> Vfs::mkdir(const Context& ctx, const Path& at, std::string_view path,
                        u32 mode) const {
    Walker w(*this, ctx);
    const LastComponent last = VK_TRY(create_target(w, at, path, true));
    VK_TRY(check_create(ctx, last.dir));
    // vfs_mkdir keeps only the permission and sticky bits of `mode`.
    const u32 bits = mode & (0777 | S_ISVTX) & ~ctx.fs.umask;
    const NewInode init = new_inode_owner(ctx.cred, last.dir.inode(), S_IFDIR | bits);
    VK_TRY(last.dir.inode().mkdir(last.name, init));
    return {};
}

Result<void> Vfs::mknod(const Context& ctx, const Path& at, std::string_view path, u32 mode,
                        u64 dev) const {
    // may_mknod, before the path is looked at.
    switch (mode & S_IFMT) {
    case 0:
        mode |= S_IFREG;
        break;
    case S_IFREG:
    case S_IFCHR:
    case S_IFBLK:
    case S_IFIFO:
    case S_IFSOCK:
        break;
    case S_IFDIR:
        return err(EPERM);
    default:
        return err(EINVAL);
    }
    Walker w(*this, ctx);
    const LastComponent last = VK_TRY(create_target(w, at, path, false));
    VK_TRY(check_create(ctx, last.dir));
    // A character device 0:0 is a whiteout, which anyone may make.
    const bool whiteout = S_ISCHR(mode) && dev == 0;
    if ((S_ISCHR(mode) || S_ISBLK(mode)) && !whiteout && !ctx.cred.capable(CAP_MKNOD))
        return err(EPERM);
    NewInode init = new_inode_owner(ctx.cred, last.dir.inode(),
                                    (mode & S_IFMT) | (mode & 07777 & ~ctx.fs.umask));
    if (S_ISCHR(mode) || S_ISBLK(mode)) init.rdev = dev;
    if (S_ISREG(mode))
        VK_TRY(last.dir.inode().create(last.name, init));
    else
        VK_TRY(last.dir.inode().mknod(last.name, init));
    return {};
}

Result<void> Vfs::symlink(const Context& ctx, std::string_view target, const Path& at,
                          std::string_view path) const {
    // getname() of the target comes first.
    if (target.empty()) return err(ENOENT);
    if (target.size() >= kPathMax) return err(ENAMETOOLONG);
    Walker w(*this, ctx);
    const LastComponent last = VK_TRY(create_target(w, at, path, false));
    VK_TRY(check_create(ctx, last.dir));
    const NewInode init = new_inode_owner(ctx.cred, last.dir.inode(), S_IFLNK | 0777);
    VK_TRY(last.dir.inode().symlink(last.name, target, init));
    return {};
}

Result<void> Vfs::link(const Context& ctx, const Path& old_at, std::string_view old_path,
                       const Path& new_at, std::string_view new_path, int at_flags) const {
    if (at_flags & ~(AT_SYMLINK_FOLLOW | AT_EMPTY_PATH)) return err(EINVAL);
    u32 lookup = (at_flags & AT_SYMLINK_FOLLOW) ? kLookupFollow : 0;
    // linkat(AT_EMPTY_PATH) needs CAP_DAC_READ_SEARCH; without it an
    // empty path is just a missing name.
    if ((at_flags & AT_EMPTY_PATH) && ctx.cred.capable(CAP_DAC_READ_SEARCH)) lookup |= kLookupEmpty;
    Walker wo(*this, ctx);
    const Path old = VK_TRY(wo.resolve(old_at, old_path, lookup));
    Walker wn(*this, ctx);
    const LastComponent last = VK_TRY(create_target(wn, new_at, new_path, false));
    if (old.mount != last.dir.mount) return err(EXDEV);
    VK_TRY(may_link(ctx.cred, old.inode()));
    // vfs_link.
    VK_TRY(check_create(ctx, last.dir));
    Inode& ino = old.inode();
    if (ino.dev() != last.dir.inode().dev()) return err(EXDEV);
    if (ino.is_dir()) return err(EPERM);
    if (ino.nlink() == 0 && !ino.linkable()) return err(ENOENT);
    VK_TRY(last.dir.inode().link(last.name, old.inode_ptr()));
    ino.set_linkable(false);
    return {};
}

Result<void> Vfs::unlink(const Context& ctx, const Path& at, std::string_view path) const {
    Walker w(*this, ctx);
    const LastComponent last = VK_TRY(w.parent(at, path));
    if (last.kind != LastComponent::Kind::kNormal) return err(EISDIR);
    if (last.dir.mount->read_only()) return err(EROFS);
    const Path victim = VK_TRY(w.child(last.dir, last.name, false));
    if (last.trailing_slash) return err(victim.inode().is_dir() ? EISDIR : ENOTDIR);
    VK_TRY(may_delete(ctx.cred, last.dir.inode(), victim.inode(), false));
    if (victim.dentry->mount_count() > 0) return err(EBUSY);
    VK_TRY(last.dir.inode().unlink(last.name));
    victim.dentry->kill();
    return {};
}

Result<void> Vfs::rmdir(const Context& ctx, const Path& at, std::string_view path) const {
    Walker w(*this, ctx);
    const LastComponent last = VK_TRY(w.parent(at, path));
    switch (last.kind) {
    case LastComponent::Kind::kDotDot:
        return err(ENOTEMPTY);
    case LastComponent::Kind::kDot:
        return err(EINVAL);
    case LastComponent::Kind::kRoot:
        return err(EBUSY);
    case LastComponent::Kind::kNormal:
        break;
    }
    if (last.dir.mount->read_only()) return err(EROFS);
    const Path victim = VK_TRY(w.child(last.dir, last.name, false));
    VK_TRY(may_delete(ctx.cred, last.dir.inode(), victim.inode(), true));
    if (victim.dentry->mount_count() > 0) return err(EBUSY);
    VK_TRY(last.dir.inode().rmdir(last.name));
    victim.dentry->kill();
    return {};
}

Result<void> Vfs::rename(const Context& ctx, const Path& old_at, std::string_view old_path,
                         const Path& new_at, std::string_view new_path, u32 flags) const {
    // do_renameat2.
    if (flags & ~(RENAME_NOREPLACE | RENAME_EXCHANGE | RENAME_WHITEOUT)) return err(EINVAL);
    if ((flags & (RENAME_NOREPLACE | RENAME_WHITEOUT)) && (flags & RENAME_EXCHANGE))
        return err(EINVAL);
    if (flags & RENAME_WHITEOUT) {
        // Whiteouts serve overlay filesystems, which we do not have.
        if (!ctx.cred.capable(CAP_MKNOD)) return err(EPERM);
        return err(EINVAL);
    }
    const bool exchange = flags & RENAME_EXCHANGE;
    Walker wo(*this, ctx);
    Walker wn(*this, ctx);
    const LastComponent o = VK_TRY(wo.parent(old_at, old_path));
    const LastComponent n = VK_TRY(wn.parent(new_at, new_path));
    if (o.dir.mount != n.dir.mount) return err(EXDEV);
    if (o.kind != LastComponent::Kind::kNormal) return err(EBUSY);
    if (n.kind != LastComponent::Kind::kNormal)
        return err((flags & RENAME_NOREPLACE) ? EEXIST : EBUSY);
    if (o.dir.mount->read_only()) return err(EROFS);
    const Path src = VK_TRY(wo.child(o.dir, o.name, false));
    std::optional<Path> dst;
    if (Result<Path> d = wn.child(n.dir, n.name, false))
        dst = std::move(*d);
    else if (d.error().code != ENOENT)
        return Unexpected{d.release_error()};
    if ((flags & RENAME_NOREPLACE) && dst) return err(EEXIST);
    if (exchange) {
        if (!dst) return err(ENOENT);
        if (!dst->inode().is_dir() && n.trailing_slash) return err(ENOTDIR);
    }
    const bool is_dir = src.inode().is_dir();
    if (!is_dir) {
        // Trailing slashes need a directory.
        if (o.trailing_slash) return err(ENOTDIR);
        if (!exchange && n.trailing_slash) return err(ENOTDIR);
    }
    // lock_rename's "trap": the source may not be an ancestor of the new
    // parent (EINVAL), the target not an ancestor of the old parent.
    if (o.dir.dentry != n.dir.dentry) {
        if (src.dentry->is_ancestor_of(*n.dir.dentry)) return err(EINVAL);
        if (dst && dst->dentry->is_ancestor_of(*o.dir.dentry))
            return err(exchange ? EINVAL : ENOTEMPTY);
    }

    // vfs_rename.
    if (dst && dst->inode_ptr() == src.inode_ptr()) return {};  // one inode, two names
    VK_TRY(may_delete(ctx.cred, o.dir.inode(), src.inode(), is_dir));
    if (!dst)
        VK_TRY(check_create(ctx, n.dir));
    else
        VK_TRY(may_delete(ctx.cred, n.dir.inode(), dst->inode(),
                          exchange ? dst->inode().is_dir() : is_dir));
    if (o.dir.inode_ptr() != n.dir.inode_ptr()) {
        // A directory that changes parents gets its ".." rewritten.
        if (is_dir) VK_TRY(permission(ctx.cred, src.inode(), kMayWrite));
        if (exchange && dst->inode().is_dir())
            VK_TRY(permission(ctx.cred, dst->inode(), kMayWrite));
    }
    if (src.dentry->mount_count() > 0 || (dst && dst->dentry->mount_count() > 0)) return err(EBUSY);
    VK_TRY(o.dir.inode().rename(o.name, n.dir.inode(), n.name, exchange ? RENAME_EXCHANGE : 0));
    if (exchange) {
        Dentry::exchange(src.dentry, dst->dentry);
    } else {
        if (dst) dst->dentry->kill();
        src.dentry->move_to(n.dir.dentry, n.name);
    }
    return {};
}

}  // namespace vk::fs
