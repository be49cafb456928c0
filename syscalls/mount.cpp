// mount(2) and umount2(2): new tmpfs, proc and devtmpfs mounts, bind
// mounts, remounts and unmounts over the Vfs mount table, with
// path_mount()'s order of checks (fs/namespace.c): the target is looked up
// first (ENOENT), then the capability (EPERM), then the kind of change.

#include <sys/mount.h>

#include <charconv>
#include <string_view>

#include "syscalls/syscalls.h"
#include "vkernel/devfs.h"
#include "vkernel/fs/tmpfs.h"
#include "vkernel/kernel.h"
#include "vkernel/procfs.h"
#include "vkernel/user_memory.h"

namespace vk::sys {

namespace {

constexpr u64 kMountDataMax = 4096;  // copy_mount_options: one page
constexpr u64 kMsMgcMask = 0xffff0000;
constexpr u64 kMsMgcVal = 0xc0ed0000;
constexpr u64 kPropagation = MS_SHARED | MS_PRIVATE | MS_SLAVE | MS_UNBINDABLE;

// A number with an optional k/m/g/t suffix (memparse).
std::optional<u64> parse_size(std::string_view v) {
    u64 n = 0;
    auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
    if (ec != std::errc() || p == v.data()) return std::nullopt;
    std::string_view rest(p, static_cast<std::size_t>(v.data() + v.size() - p));
    int shift = 0;
    if (!rest.empty()) {
        switch (rest[0] | 0x20) {
        case 'k': shift = 10; break;
        case 'm': shift = 20; break;
        case 'g': shift = 30; break;
        case 't': shift = 40; break;
        default: return std::nullopt;
        }
        rest.remove_prefix(1);
    }
    if (!rest.empty() || (shift && n > (~u64{0} >> shift))) return std::nullopt;
    return n << shift;
}

std::optional<u32> parse_uns(std::string_view v, int base) {
    u32 n = 0;
    auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), n, base);
    if (ec != std::errc() || p != v.data() + v.size() || v.empty()) return std::nullopt;
    return n;
}

// The comma-separated data of a tmpfs mount (shmem_parse_one), plus the
// generic "ro"/"rw"/"sync"... that any filesystem takes. EINVAL for the rest.
Result<fs::TmpfsOptions> tmpfs_options(const std::string& data, u64 total_frames, u64& flags) {
    fs::TmpfsOptions o;
    std::string_view rest = data;
    while (!rest.empty()) {
        const auto comma = rest.find(',');
        const std::string_view item = rest.substr(0, comma);
        rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
        if (item.empty()) continue;
        const auto eq = item.find('=');
        const std::string_view key = item.substr(0, eq);
        const std::string_view val = eq == std::string_view::npos ? std::string_view() : item.substr(eq + 1);
        if (key == "ro") {
            flags |= MS_RDONLY;
        } else if (key == "rw") {
            flags &= ~u64{MS_RDONLY};
        } else if (key == "sync" || key == "async" || key == "dirsync" || key == "lazytime" ||
                   key == "nolazytime") {
            // superblock flags that change nothing in memory
        } else if (key == "size") {
            u64 bytes = 0;
            if (!val.empty() && val.back() == '%') {
                const auto pct = parse_size(val.substr(0, val.size() - 1));
                if (!pct) return err(EINVAL);
                bytes = total_frames * kPageSize / 100 * *pct;
            } else {
                const auto n = parse_size(val);
                if (!n) return err(EINVAL);
                bytes = *n;
            }
            o.max_pages = (bytes + kPageSize - 1) / kPageSize;
        } else if (key == "nr_blocks") {
            const auto n = parse_size(val);
            if (!n) return err(EINVAL);
            o.max_pages = *n;
        } else if (key == "nr_inodes") {
            const auto n = parse_size(val);
            if (!n) return err(EINVAL);
            o.max_inodes = *n;
        } else if (key == "mode") {
            const auto m = parse_uns(val, 8);
            if (!m) return err(EINVAL);
            o.root_mode = *m & 07777;
        } else if (key == "uid" || key == "gid") {
            const auto id = parse_uns(val, 10);
            if (!id) return err(EINVAL);
            (key == "uid" ? o.root_uid : o.root_gid) = *id;
        } else {
            return err(EINVAL);  // "tmpfs: Unknown parameter"
        }
    }
    return o;
}

// A new filesystem of type `type` (do_new_mount); ENODEV for types we do not have.
Result<std::shared_ptr<fs::Filesystem>> new_filesystem(Kernel& k, const std::string& type,
                                                       const std::string& data, u64& flags) {
    if (type == "tmpfs") {
        const fs::TmpfsOptions o = VK_TRY(tmpfs_options(data, k.frames().total_frames(), flags));
        return std::shared_ptr<fs::Filesystem>(fs::Tmpfs::create(k.frames(), o));
    }
    if (type == "proc") return std::shared_ptr<fs::Filesystem>(ProcFs::create(k));
    return err(ENODEV);
}

}  // namespace

Result<long> sys_mount(Task& task, const SyscallArgs& a) {
    Mm& mm = task.mm();
    std::optional<std::string> type, source;
    std::string data;
    if (a[2]) type = VK_TRY(copy_in_string(mm, a[2], kPageSize));
    if (a[0]) source = VK_TRY(copy_in_string(mm, a[0], kPathMax));
    if (a[4]) data = VK_TRY(copy_in_string(mm, a[4], kMountDataMax));
    const std::string target = VK_TRY(copy_in_string(mm, a[1], kPathMax));
    u64 flags = a[3];
    if ((flags & kMsMgcMask) == kMsMgcVal) flags &= ~kMsMgcMask;

    Kernel& k = task.kernel;
    Process& p = *task.process;
    const fs::Credentials cred = credentials(p);
    const fs::Context ctx{*p.fsctx, cred};
    fs::Vfs& vfs = k.vfs();
    const fs::Path where = VK_TRY(vfs.resolve(ctx, p.fsctx->cwd, target, fs::kLookupFollow));
    if (flags & MS_NOUSER) return err(EINVAL);
    if (!cred.capable(CAP_SYS_ADMIN)) return err(EPERM);

    if (flags & MS_REMOUNT) {
        // Per-mount flags only (MS_BIND) or the filesystem's too: for us both
        // are the mount's flags. The atime mode stays unless one is given.
        if (!where.is_mount_root()) return err(EINVAL);
        if (!(flags & MS_BIND) && !data.empty() && where.mount->fs().type_name() == "tmpfs")
            VK_TRY(tmpfs_options(data, k.frames().total_frames(), flags));  // checked, not applied
        constexpr u64 kAtime = MS_NOATIME | MS_NODIRATIME | MS_RELATIME | MS_STRICTATIME;
        if (!(flags & kAtime)) flags |= where.mount->flags() & kAtime;
        VK_TRY(vfs.remount(ctx, p.fsctx->cwd, target, flags));
        return 0;
    }
    if (flags & MS_BIND) {
        if (!source || source->empty()) return err(EINVAL);
        VK_TRY(vfs.bind_mount(ctx, p.fsctx->cwd, *source, p.fsctx->cwd, target, flags & MS_REC));
        return 0;
    }
    if (flags & kPropagation) {
        // One mount namespace and no propagation: nothing to change.
        if (!where.is_mount_root()) return err(EINVAL);
        return 0;
    }
    if (flags & MS_MOVE) return err(EINVAL);  // FIXME: MS_MOVE is not supported yet

    if (!type) return err(EINVAL);
    const std::string src = source ? *source : "none";
    if (*type == "devtmpfs") {
        if (!where.inode().is_dir()) return err(ENOTDIR);
        // A fresh devfs, populated as at boot; mount_devfs takes a path from the root.
        VK_TRY(mount_devfs(k, vfs, ctx, vfs.path_name(where, vfs.root())));
        return 0;
    }
    std::shared_ptr<fs::Filesystem> fsys = VK_TRY(new_filesystem(k, *type, data, flags));
    // relatime unless told otherwise (path_mount's default).
    if (!(flags & (MS_NOATIME | MS_STRICTATIME))) flags |= MS_RELATIME;
    VK_TRY(vfs.mount(ctx, p.fsctx->cwd, target, std::move(fsys), flags, src));
    return 0;
}

Result<long> sys_umount2(Task& task, const SyscallArgs& a) {
    const int flags = static_cast<int>(a[1]);
    if (flags & ~(MNT_FORCE | MNT_DETACH | MNT_EXPIRE | UMOUNT_NOFOLLOW)) return err(EINVAL);
    const std::string target = VK_TRY(copy_in_string(task.mm(), a[0], kPathMax));
    Process& p = *task.process;
    const fs::Credentials cred = credentials(p);
    const fs::Context ctx{*p.fsctx, cred};
    fs::Vfs& vfs = task.kernel.vfs();
    // The lookup comes before the permission check, as in ksys_umount.
    VK_TRY(vfs.resolve(ctx, p.fsctx->cwd, target, (flags & UMOUNT_NOFOLLOW) ? 0 : fs::kLookupFollow));
    VK_TRY(vfs.umount(ctx, p.fsctx->cwd, target, flags));
    return 0;
}

}  // namespace vk::sys
