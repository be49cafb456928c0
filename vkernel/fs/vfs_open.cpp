// open(2) and friends: Linux's path_openat, open_last_lookups, do_open,
// may_open and do_tmpfile, in their order of checks.

#include <algorithm>

#include "vkernel/fs/namei.h"
#include "vkernel/fs/permission.h"
#include "vkernel/fs/vfs.h"

namespace vk::fs {

namespace {

// ACC_MODE: the access an open asks for (mode 3 asks for both).
int access_mode(int flags) {
    switch (flags & O_ACCMODE) {
    case O_RDONLY:
        return kMayRead;
    case O_WRONLY:
        return kMayWrite;
    default:
        return kMayRead | kMayWrite;
    }
}

bool special(const Inode& i) {
    return S_ISCHR(i.mode()) || S_ISBLK(i.mode()) || S_ISFIFO(i.mode()) || S_ISSOCK(i.mode());
}

// may_open: what the file type allows, then inode_permission. Returns
// the flags with O_TRUNC dropped where it does not apply.
Result<int> may_open(const Context& ctx, const Path& path, int acc, int flags) {
    const Inode& ino = path.inode();
    switch (ino.type()) {
    case S_IFLNK:
        return err(ELOOP);
    case S_IFDIR:
        if (acc & kMayWrite) return err(EISDIR);
        if (acc & kMayExec) return err(EACCES);
        break;
    case S_IFBLK:
    case S_IFCHR:
        if (path.mount->flags() & MS_NODEV) return err(EACCES);
        [[fallthrough]];
    case S_IFIFO:
    case S_IFSOCK:
        if (acc & kMayExec) return err(EACCES);
        flags &= ~O_TRUNC;
        break;
    case S_IFREG:
        if ((acc & kMayExec) && (path.mount->flags() & MS_NOEXEC)) return err(EACCES);
        break;
    default:
        break;
    }
    // A read-only mount refuses writes to files, directories and symlinks
    // before the permission bits are looked at (inode_permission).
    if ((acc & kMayWrite) && path.mount->read_only() && !special(ino)) return err(EROFS);
    VK_TRY(permission(ctx.cred, ino, acc));
    if ((flags & O_NOATIME) && !owner_or_capable(ctx.cred, ino)) return err(EPERM);
    return flags;
}

// Whether `p` is in the namespace whose attached mounts are `mounts`. A
// magic link (/proc/PID/fd/N) can reach a kernel-made file of no namespace:
// a pipe, a socket, the console. Opening one of those again by path works
// when its inode's attachment can reopen it (a pipe through fifo_open, the
// console); otherwise it is ENXIO, as Linux says for a socket.
bool in_namespace(const std::vector<std::shared_ptr<Mount>>& mounts, const Path& p) {
    return std::find(mounts.begin(), mounts.end(), p.mount) != mounts.end();
}

}  // namespace

namespace {

// Whether an open through a magic link may reach this inode outside every
// mount: only objects that know how to open themselves again.
bool reopenable(const Path& p) {
    const Inode& ino = p.inode();
    return ino.attachment && ino.attachment->reopenable();
}

}  // namespace

Result<void> Vfs::attach_ops(File& file) const {
    Inode& ino = file.inode();
    std::shared_ptr<FileOps> ops;
    if (file.is_path()) {
        // O_PATH files do no I/O: every call fails before reaching these.
        static const std::shared_ptr<FileOps> none = std::make_shared<FileOps>();
        ops = none;
    } else if (ino.attachment && ino.attachment->reopenable()) {
        ops = VK_TRY(ino.attachment->reopen(file));
    } else if (special(ino) && special_opener_) {
        ops = VK_TRY(special_opener_(file));
    } else {
        ops = VK_TRY(ino.open(file));
    }
    file.set_ops(std::move(ops));
    return {};
}

Result<std::shared_ptr<File>> Vfs::finish_open(const Context& ctx, const Path& path, int flags,
                                               int acc, bool created) const {
    Inode& ino = path.inode();
    // do_open.
    if (flags & O_CREAT) {
        if ((flags & O_EXCL) && !created) return err(EEXIST);
        if (ino.is_dir()) return err(EISDIR);
    }
    if ((flags & O_DIRECTORY) && !ino.is_dir()) return err(ENOTDIR);
    bool truncate = false;
    if (created) {
        // A file this call made is opened without further checks.
        flags &= ~O_TRUNC;
    } else {
        flags = VK_TRY(may_open(ctx, path, acc, flags));
        truncate = ino.is_reg() && (flags & O_TRUNC);
    }
    auto file = std::make_shared<File>(path, flags, ctx.cred);
    VK_TRY(attach_ops(*file));
    if (truncate) {
        // handle_truncate: size 0, mtime and ctime now, set-id bits dropped.
        SetAttr a;
        a.valid = kAttrSize | kAttrMtime | kAttrCtime;
        a.mtime = a.ctime = now();
        if (std::optional<u32> m = mode_after_kill_priv(ctx.cred, ino)) {
            a.valid |= kAttrMode;
            a.mode = *m;
        }
        VK_TRY(ino.setattr(a));
    }
    return file;
}

Result<std::shared_ptr<File>> Vfs::open_tmpfile(const Context& ctx, const Path& at,
                                                std::string_view path, int flags, u32 lookup,
                                                u32 mode) const {
    Walker w(*this, ctx);
    const Path dir = VK_TRY(w.resolve(at, path, lookup | kLookupDirectory));
    if (dir.mount->read_only()) return err(EROFS);
    VK_TRY(permission(ctx.cred, dir.inode(), kMayWrite | kMayExec));
    const NewInode init =
        new_inode_owner(ctx.cred, dir.inode(), S_IFREG | (mode & ~ctx.fs.umask & 07777));
    std::shared_ptr<Inode> inode = VK_TRY(dir.inode().tmpfile(init));
    // Without O_EXCL, linkat(AT_EMPTY_PATH) may give it a name later.
    inode->set_linkable(!(flags & O_EXCL));
    Path p{dir.mount, Dentry::make_anonymous(dir.dentry, inode)};
    auto file = std::make_shared<File>(std::move(p), flags, ctx.cred);
    VK_TRY(attach_ops(*file));
    return file;
}

Result<std::shared_ptr<File>> Vfs::open(const Context& ctx, const Path& at, std::string_view path,
                                        int flags, u32 mode) const {
    // build_open_how / build_open_flags.
    if (flags & O_PATH) flags &= O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC;
    const bool will_create = (flags & O_CREAT) || (flags & kOTmpfileBit);
    mode = will_create ? (mode & 07777) : 0;
    if ((flags & O_CREAT) && (flags & O_DIRECTORY)) return err(EINVAL);
    int acc = access_mode(flags);
    if (flags & kOTmpfileBit) {
        if (!(flags & O_DIRECTORY)) return err(EINVAL);
        if (!(acc & kMayWrite)) return err(EINVAL);
    }
    if (flags & O_PATH) acc = 0;
    if (flags & O_TRUNC) acc |= kMayWrite;
    if (flags & O_APPEND) acc |= kMayAppend;
    // O_CREAT|O_EXCL never follows a symlink at the end.
    const bool follow = !(flags & O_NOFOLLOW) && !((flags & O_CREAT) && (flags & O_EXCL));
    u32 lookup = follow ? kLookupFollow : 0;
    if (flags & O_DIRECTORY) lookup |= kLookupDirectory;

    if (flags & kOTmpfileBit) return open_tmpfile(ctx, at, path, flags, lookup, mode);

    Walker w(*this, ctx);
    if (flags & O_PATH) {
        const Path p = VK_TRY(w.resolve(at, path, lookup));
        auto file = std::make_shared<File>(p, flags, ctx.cred);
        VK_TRY(attach_ops(*file));
        return file;
    }
    if (!(flags & O_CREAT)) {
        const Path p = VK_TRY(w.resolve(at, path, lookup));
        if (w.jumped() && !in_namespace(mounts_, p) && !reopenable(p)) return err(ENXIO);
        return finish_open(ctx, p, flags, acc, false);
    }

    // O_CREAT: walk to the last component, then find or make it,
    // following symlinks that end the path (unless O_EXCL).
    LastComponent last = VK_TRY(w.parent(at, path));
    for (;;) {
        if (last.kind != LastComponent::Kind::kNormal) {
            // A directory (EISDIR), or what a magic link reached.
            const Path p = w.dots(last);
            if (w.jumped() && !in_namespace(mounts_, p) && !reopenable(p)) return err(ENXIO);
            return finish_open(ctx, p, flags, acc, false);
        }
        if (last.trailing_slash) return err(EISDIR);
        Result<Path> found = w.child(last.dir, last.name);
        if (found) {
            if (flags & O_EXCL) return err(EEXIST);
            if (found->inode().is_symlink() && follow) {
                last = VK_TRY(w.follow(last.dir, *found));
                continue;
            }
            return finish_open(ctx, *found, flags, acc, false);
        }
        if (found.error().code != ENOENT) return Unexpected{found.release_error()};
        // lookup_open: create it.
        if (last.dir.dentry->dead()) return err(ENOENT);
        if (last.dir.mount->read_only()) return err(EROFS);
        VK_TRY(may_create(ctx.cred, last.dir.inode()));
        const NewInode init = new_inode_owner(ctx.cred, last.dir.inode(),
                                              S_IFREG | (mode & ~ctx.fs.umask & 07777));
        std::shared_ptr<Inode> inode = VK_TRY(last.dir.inode().create(last.name, init));
        const Path p{last.dir.mount, last.dir.dentry->child(last.name, inode)};
        return finish_open(ctx, p, flags, acc, true);
    }
}

Result<std::shared_ptr<File>> Vfs::open_path(const Context& ctx, const Path& path,
                                             int flags) const {
    if (flags & O_PATH) {
        flags &= O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC;
        auto file = std::make_shared<File>(path, flags, ctx.cred);
        VK_TRY(attach_ops(*file));
        return file;
    }
    flags &= ~(O_CREAT | O_EXCL | kOTmpfileBit);
    int acc = access_mode(flags);
    if (flags & O_TRUNC) acc |= kMayWrite;
    if (flags & O_APPEND) acc |= kMayAppend;
    return finish_open(ctx, path, flags, acc, false);
}

Result<void> Vfs::may_exec(const Context& ctx, const Path& path) const {
    const Inode& ino = path.inode();
    if (!ino.is_reg()) return err(EACCES);
    if (path.mount->flags() & MS_NOEXEC) return err(EACCES);
    return permission(ctx.cred, ino, kMayExec);
}

}  // namespace vk::fs
