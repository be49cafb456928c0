#include "vkernel/fs/namei.h"

#include <optional>

#include "vkernel/fs/permission.h"
#include "vkernel/fs/vfs.h"

namespace vk::fs {

Result<LastComponent> Walker::parent(const Path& at, std::string_view path) {
    if (path.empty()) return err(ENOENT);
    if (path.size() >= kPathMax) return err(ENAMETOOLONG);
    Path cur;
    if (path[0] == '/') {
        cur = ctx_.fs.root;
    } else {
        cur = at;
        if (!cur.inode().is_dir()) return err(ENOTDIR);
    }
    const size_t n = path.size();
    size_t i = 0;
    while (i < n && path[i] == '/') ++i;
    if (i == n) {
        LastComponent last;
        last.dir = std::move(cur);
        last.kind = LastComponent::Kind::kRoot;
        return last;
    }
    for (;;) {
        size_t j = i;
        while (j < n && path[j] != '/') ++j;
        const std::string_view comp = path.substr(i, j - i);
        size_t k = j;
        while (k < n && path[k] == '/') ++k;
        // Linux checks search permission on each directory before it
        // looks a component up in it, the last one included.
        VK_TRY(permission(ctx_.cred, cur.inode(), kMayExec));
        if (k == n) {
            LastComponent last;
            last.dir = std::move(cur);
            last.trailing_slash = j < n;
            if (comp == ".") {
                last.kind = LastComponent::Kind::kDot;
            } else if (comp == "..") {
                last.kind = LastComponent::Kind::kDotDot;
            } else {
                last.name = std::string(comp);
            }
            return last;
        }
        cur = VK_TRY(step(cur, comp));
        i = k;
    }
}

Result<Path> Walker::step(const Path& cur, std::string_view name) {
    if (name == ".") return cur;
    if (name == "..") return up(cur);
    Path next = VK_TRY(child(cur, name));
    if (next.inode().is_symlink()) {
        // A symlink in the middle of a path is always followed.
        LastComponent last = VK_TRY(follow(cur, next));
        for (;;) {
            if (last.kind != LastComponent::Kind::kNormal) {
                next = dots(last);
                break;
            }
            next = VK_TRY(child(last.dir, last.name));
            if (!next.inode().is_symlink()) break;
            last = VK_TRY(follow(last.dir, next));
        }
    }
    if (!next.inode().is_dir()) return err(ENOTDIR);
    return next;
}

Result<Path> Walker::resolve(const Path& at, std::string_view path, u32 flags) {
    if (path.empty()) {
        if (flags & kLookupEmpty) return at;
        return err(ENOENT);
    }
    LastComponent last = VK_TRY(parent(at, path));
    for (;;) {
        // "name/" asks for a directory, through a symlink if need be.
        if (last.trailing_slash) flags |= kLookupFollow | kLookupDirectory;
        if (last.kind != LastComponent::Kind::kNormal) {
            Path p = dots(last);
            // Only a magic link's target can be other than a directory here.
            if ((flags & kLookupDirectory) && !p.inode().is_dir()) return err(ENOTDIR);
            return p;
        }
        Path p = VK_TRY(child(last.dir, last.name));
        if (p.inode().is_symlink() && (flags & kLookupFollow)) {
            last = VK_TRY(follow(last.dir, p));
            continue;
        }
        if ((flags & kLookupDirectory) && !p.inode().is_dir()) return err(ENOTDIR);
        return p;
    }
}

Path Walker::dots(const LastComponent& last) {
    switch (last.kind) {
    case LastComponent::Kind::kDotDot:
        return up(last.dir);
    case LastComponent::Kind::kRoot:
    case LastComponent::Kind::kDot:
    case LastComponent::Kind::kNormal:
        break;
    }
    return last.dir;
}

Result<Path> Walker::child(const Path& dir, std::string_view name, bool cross_mounts) {
    if (name.size() > kNameMax) return err(ENAMETOOLONG);
    std::shared_ptr<Inode> inode = VK_TRY(dir.inode().lookup(name));
    Path p{dir.mount, dir.dentry->child(name, inode)};
    return cross_mounts ? cross(std::move(p)) : p;
}

Result<LastComponent> Walker::follow(const Path& dir, const Path& link) {
    if (++links_ > kMaxSymlinks) return err(ELOOP);
    if (std::optional<Path> to = VK_TRY(link.inode().jump_target())) {
        // A magic link ends at its object, which may be any kind of file:
        // it stands where a "." would, with nothing left to look up.
        jumped_ = true;
        LastComponent last;
        last.dir = std::move(*to);
        last.kind = LastComponent::Kind::kDot;
        return last;
    }
    const std::string body = VK_TRY(link.inode().readlink());
    if (body.empty()) return err(ENOENT);
    // A relative body is walked from the directory holding the link.
    return parent(dir, body);
}

Path Walker::up(const Path& p) {
    Path cur = p;
    for (;;) {
        if (cur == ctx_.fs.root) return cur;  // a chroot's ".." stays put
        if (cur.dentry != cur.mount->root()) {
            // A dentry moved out from under its mount's root (rename) has
            // no way up inside the mount; stay, as Linux does.
            if (!cur.dentry->parent()) return cur;
            cur.dentry = cur.dentry->parent();
            break;
        }
        if (!cur.mount->parent()) return cur;  // the namespace's root
        // From a mount's root to the mount point, then on up from there.
        cur = Path{cur.mount->parent(), cur.mount->mountpoint()};
    }
    return cross(std::move(cur));
}

Path Walker::cross(Path p) const {
    while (p.dentry->mount_count() > 0) {
        std::shared_ptr<Mount> m = vfs_.mounted_on(*p.mount, *p.dentry);
        if (!m) break;
        p = Path{m, m->root()};
    }
    return p;
}

}  // namespace vk::fs
