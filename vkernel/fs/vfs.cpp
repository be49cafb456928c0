// The Vfs object: its mount table, mount(2)/umount(2), and the process
// directory calls (chdir, chroot, getcwd, path names).

#include "vkernel/fs/vfs.h"

#include <algorithm>
#include <atomic>

#include "vkernel/fs/namei.h"
#include "vkernel/fs/permission.h"

namespace vk::fs {

u64 allocate_anon_dev() {
    // 0:1 upward (minor numbers above 255 move into the high bits of
    // dev_t, as makedev encodes them).
    static std::atomic<u64> next{1};
    const u64 minor = next.fetch_add(1);
    return (minor & 0xff) | ((minor & ~u64{0xff}) << 12);
}

Vfs::Vfs(std::shared_ptr<Filesystem> root_fs, u64 mount_flags, std::string source) {
    std::shared_ptr<Dentry> root = root_fs->root();
    root_mount_ = new_mount(std::move(root_fs), std::move(root), mount_flags, std::move(source));
    root_mount_->attached_ = true;
    mounts_.push_back(root_mount_);
}

Vfs::~Vfs() {
    // Mounts hold their parents; dropping the table lets them all go.
    mounts_on_.clear();
    mounts_.clear();
}

Path Vfs::root() const { return Path{root_mount_, root_mount_->root()}; }

FsContext Vfs::initial_context(u32 umask) const {
    FsContext c;
    c.root = root();
    c.cwd = root();
    c.umask = umask & 0777;
    return c;
}

std::shared_ptr<Mount> Vfs::mounted_on(const Mount& parent, const Dentry& dentry) const {
    auto it = mounts_on_.find({&parent, &dentry});
    return it == mounts_on_.end() ? nullptr : it->second;
}

Result<Path> Vfs::resolve(const Context& ctx, const Path& at, std::string_view path,
                          u32 flags) const {
    Walker w(*this, ctx);
    return w.resolve(at, path, flags);
}

// ---- Mount table ----

std::shared_ptr<Mount> Vfs::new_mount(std::shared_ptr<Filesystem> fs, std::shared_ptr<Dentry> root,
                                      u64 flags, std::string source) {
    return std::shared_ptr<Mount>(new Mount(std::move(fs), std::move(root),
                                            flags & kMountFlagMask, next_mount_id_++,
                                            std::move(source)));
}

void Vfs::attach(const std::shared_ptr<Mount>& m, const Path& where) {
    m->parent_ = where.mount;
    m->mountpoint_ = where.dentry;
    m->attached_ = true;
    where.dentry->add_mount();
    mounts_on_[{where.mount.get(), where.dentry.get()}] = m;
    mounts_.push_back(m);
}

void Vfs::detach(const std::shared_ptr<Mount>& m) {
    mounts_on_.erase({m->parent_.get(), m->mountpoint_.get()});
    m->mountpoint_->drop_mount();
    mounts_.erase(std::find(mounts_.begin(), mounts_.end(), m));
    m->attached_ = false;
    // A detached tree has no way up: ".." at its root stays there.
    m->parent_.reset();
    m->mountpoint_.reset();
}

Result<void> Vfs::mount(const Context& ctx, const Path& at, std::string_view path,
                        std::shared_ptr<Filesystem> fs, u64 flags, std::string source) {
    if (!ctx.cred.capable(CAP_SYS_ADMIN)) return err(EPERM);
    const Path target = VK_TRY(resolve(ctx, at, path, kLookupFollow));
    if (!target.inode().is_dir()) return err(ENOTDIR);
    if (target.dentry->dead()) return err(ENOENT);
    std::shared_ptr<Dentry> root = fs->root();
    attach(new_mount(std::move(fs), std::move(root), flags, std::move(source)), target);
    return {};
}

Result<void> Vfs::bind_mount(const Context& ctx, const Path& source_at, std::string_view source,
                             const Path& at, std::string_view path, bool recursive) {
    if (!ctx.cred.capable(CAP_SYS_ADMIN)) return err(EPERM);
    const Path src = VK_TRY(resolve(ctx, source_at, source, kLookupFollow));
    const Path target = VK_TRY(resolve(ctx, at, path, kLookupFollow));
    if (src.inode().is_dir() != target.inode().is_dir()) return err(ENOTDIR);
    if (target.dentry->dead() || src.dentry->dead()) return err(ENOENT);
    auto top = new_mount(src.mount->fs_ptr(), src.dentry, src.mount->flags(), src.mount->source());
    // With MS_REC, copy the mounts inside the source tree too: pairs of
    // (original, its copy) whose children are still to be copied.
    std::vector<std::pair<std::shared_ptr<Mount>, std::shared_ptr<Mount>>> work;
    if (recursive) work.emplace_back(src.mount, top);
    attach(top, target);
    while (!work.empty()) {
        auto [orig, copy] = work.back();
        work.pop_back();
        std::vector<std::shared_ptr<Mount>> kids;
        for (const auto& m : mounts_)
            if (m->parent_ == orig && copy->root()->is_ancestor_of(*m->mountpoint_))
                kids.push_back(m);
        for (const auto& k : kids) {
            auto c = new_mount(k->fs_ptr(), k->root(), k->flags(), k->source());
            attach(c, Path{copy, k->mountpoint_});
            work.emplace_back(k, c);
        }
    }
    return {};
}

Result<void> Vfs::remount(const Context& ctx, const Path& at, std::string_view path, u64 flags) {
    if (!ctx.cred.capable(CAP_SYS_ADMIN)) return err(EPERM);
    const Path target = VK_TRY(resolve(ctx, at, path, kLookupFollow));
    if (!target.is_mount_root()) return err(EINVAL);
    target.mount->flags_ = flags & kMountFlagMask;
    return {};
}

Result<void> Vfs::umount(const Context& ctx, const Path& at, std::string_view path, int flags) {
    if (flags & ~(MNT_FORCE | MNT_DETACH | MNT_EXPIRE | UMOUNT_NOFOLLOW)) return err(EINVAL);
    if ((flags & MNT_EXPIRE) && (flags & (MNT_FORCE | MNT_DETACH))) return err(EINVAL);
    if (!ctx.cred.capable(CAP_SYS_ADMIN)) return err(EPERM);
    std::shared_ptr<Mount> m;
    {
        const Path target = VK_TRY(
            resolve(ctx, at, path, (flags & UMOUNT_NOFOLLOW) ? 0 : kLookupFollow));
        if (!target.is_mount_root() || !target.mount->attached()) return err(EINVAL);
        m = target.mount;
    }
    if (m == root_mount_) return err(EBUSY);
    if (flags & MNT_EXPIRE) return err(EAGAIN);  // first call only marks it, as on Linux
    if (!(flags & MNT_DETACH)) {
        for (const auto& c : mounts_)
            if (c->parent_ == m) return err(EBUSY);
        // References besides ours (`m`) and the table's two (mounts_ and
        // mounts_on_) are open files, cwds and roots inside the mount.
        if (m.use_count() > 3) return err(EBUSY);
    }
    // Everything under it, parents before children.
    std::vector<std::shared_ptr<Mount>> tree{m};
    for (size_t i = 0; i < tree.size(); ++i)
        for (const auto& c : mounts_)
            if (c->parent_ == tree[i]) tree.push_back(c);
    for (auto it = tree.rbegin(); it != tree.rend(); ++it) detach(*it);
    return {};
}

std::vector<MountInfo> Vfs::mounts() const {
    std::vector<MountInfo> out;
    const Path r = root();
    for (const auto& m : mounts_) {
        MountInfo info;
        info.mount = m;
        info.source = m->source();
        info.type = std::string(m->fs().type_name());
        info.flags = m->flags();
        info.mountpoint = m->parent_ ? path_name(Path{m->parent_, m->mountpoint_}, r) : "/";
        out.push_back(std::move(info));
    }
    return out;
}

// ---- Process directories and names ----

namespace {

// The components from `root` down to `path`; false when `path` is not
// below `root` (then the components run from the namespace's root).
bool components(const Path& path, const Path& root, std::vector<const std::string*>& out) {
    Path cur = path;
    for (;;) {
        if (cur == root) return true;
        if (cur.dentry == cur.mount->root()) {
            if (!cur.mount->parent()) return false;
            cur = Path{cur.mount->parent(), cur.mount->mountpoint()};
            continue;
        }
        if (!cur.dentry->parent()) return false;
        out.push_back(&cur.dentry->name());
        cur.dentry = cur.dentry->parent();
    }
}

std::string join(const std::vector<const std::string*>& parts) {
    if (parts.empty()) return "/";
    std::string s;
    for (auto it = parts.rbegin(); it != parts.rend(); ++it) {
        s += '/';
        s += **it;
    }
    return s;
}

}  // namespace

std::string Vfs::path_name(const Path& path, const Path& root) const {
    std::vector<const std::string*> parts;
    components(path, root, parts);
    std::string s = join(parts);
    if (path.dentry->dead() && path.dentry->parent()) s += " (deleted)";
    return s;
}

Result<std::string> Vfs::getcwd(const FsContext& fs) const {
    if (fs.cwd.dentry->dead()) return err(ENOENT);
    std::vector<const std::string*> parts;
    const bool reachable = components(fs.cwd, fs.root, parts);
    std::string s = join(parts);
    if (!reachable) s = "(unreachable)" + s;
    return s;
}

Result<void> Vfs::chdir(const Context& ctx, const Path& at, std::string_view path,
                        FsContext& fs) const {
    Path p = VK_TRY(resolve(ctx, at, path, kLookupFollow | kLookupDirectory));
    VK_TRY(permission(ctx.cred, p.inode(), kMayExec));
    fs.cwd = std::move(p);
    return {};
}

Result<void> Vfs::set_cwd(const Context& ctx, const Path& dir, FsContext& fs) const {
    if (!dir.inode().is_dir()) return err(ENOTDIR);
    VK_TRY(permission(ctx.cred, dir.inode(), kMayExec));
    fs.cwd = dir;
    return {};
}

Result<void> Vfs::chroot(const Context& ctx, const Path& at, std::string_view path,
                         FsContext& fs) const {
    Path p = VK_TRY(resolve(ctx, at, path, kLookupFollow | kLookupDirectory));
    VK_TRY(permission(ctx.cred, p.inode(), kMayExec));
    if (!ctx.cred.capable(CAP_SYS_CHROOT)) return err(EPERM);
    fs.root = std::move(p);
    return {};
}

}  // namespace vk::fs
