// Path syscalls: open and the *at() family, directory listing, stat and
// statx, attributes, the working directory and root, truncate and sync,
// statfs, memfd_create, and the copy loops sendfile and copy_file_range.
// Each handler copies its arguments in, finds its starting directory as
// Linux's path_init does, and calls fs::Vfs; the VFS owns every policy.

#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/sysmacros.h>
#include <sys/time.h>
#include <utime.h>

#include <algorithm>
#include <cstring>
#include <vector>

#include "syscalls/syscalls.h"
#include "vkernel/files.h"
#include "vkernel/kernel.h"
#include "vkernel/user_memory.h"

namespace vk::sys {

namespace {

constexpr u64 kChunk = 64 * 1024;
constexpr u64 kMaxRw = 0x7fff'f000;  // MAX_RW_COUNT

// The open flags open(2) and openat(2) keep (VALID_OPEN_FLAGS); others are
// silently dropped, openat2 rejects them.
constexpr int kValidOpenFlags = O_ACCMODE | O_CREAT | O_EXCL | O_NOCTTY | O_TRUNC | O_APPEND |
                                O_NONBLOCK | O_DSYNC | O_SYNC | FASYNC | O_DIRECT |
                                fs::kOLargefile | O_DIRECTORY | O_NOFOLLOW | O_NOATIME |
                                O_CLOEXEC | O_PATH | fs::kOTmpfileBit;

// A descriptor as fdget() sees it: O_PATH files are EBADF.
Result<std::shared_ptr<fs::File>> io_file_of(Task& t, u64 fd) {
    auto f = VK_TRY(file_of(t, fd));
    if (f->is_path()) return err(EBADF);
    return f;
}

Result<std::string> path_arg(Task& t, u64 addr) { return copy_in_string(t.mm(), addr, kPathMax); }

// path_init: where a walk of `path` starts. Absolute paths ignore dirfd;
// an empty path is ENOENT (before the fd is looked at) unless the call
// allows AT_EMPTY_PATH; a relative path starts at the cwd for AT_FDCWD,
// else at dirfd (which may be O_PATH; the walk gives ENOTDIR for a file).
Result<fs::Path> start(Process& p, u64 dirfd_arg, std::string_view path, bool empty_ok) {
    if (!path.empty() && path[0] == '/') return p.fsctx->cwd;
    if (path.empty() && !empty_ok) return err(ENOENT);
    const int dirfd = static_cast<int>(dirfd_arg);
    if (dirfd == AT_FDCWD) return p.fsctx->cwd;
    return VK_TRY(p.fds->get(dirfd))->path();
}

constexpr u64 kFdCwd = static_cast<u64>(static_cast<i64>(AT_FDCWD));

// Everything a handler needs to call the Vfs for the calling process.
struct Caller {
    Process& p;
    fs::Credentials cred;
    fs::Context ctx;
    fs::Vfs& vfs;

    explicit Caller(Task& t)
        : p(*t.process), cred(credentials(p)), ctx{*p.fsctx, cred}, vfs(t.kernel.vfs()) {}
    Caller(const Caller&) = delete;
    Caller& operator=(const Caller&) = delete;
};

// ---- open ----

Result<long> do_open(Task& task, u64 dirfd, u64 path_addr, int flags, u32 mode) {
    const auto path = VK_TRY(path_arg(task, path_addr));
    Caller c(task);
    const fs::Path at = VK_TRY(start(c.p, dirfd, path, false));
    flags |= fs::kOLargefile;  // force_o_largefile() on 64-bit
    auto file = VK_TRY(c.vfs.open(c.ctx, at, path, flags, mode));
    return VK_TRY(c.p.fds->install(std::move(file), flags & O_CLOEXEC, nofile_limit(c.p)));
}

// ---- stat ----

struct statx to_statx(const fs::Stat& s) {
    struct statx x{};
    x.stx_mask = STATX_BASIC_STATS | STATX_BTIME | STATX_MNT_ID;
    x.stx_blksize = static_cast<u32>(s.blksize);
    x.stx_nlink = static_cast<u32>(s.nlink);
    x.stx_uid = s.uid;
    x.stx_gid = s.gid;
    x.stx_mode = static_cast<u16>(s.mode);
    x.stx_ino = s.ino;
    x.stx_size = s.size;
    x.stx_blocks = s.blocks;
    auto ts = [](const fs::Timespec& t) {
        struct statx_timestamp r{};
        r.tv_sec = t.sec;
        r.tv_nsec = static_cast<u32>(t.nsec);
        return r;
    };
    x.stx_atime = ts(s.atime);
    x.stx_btime = ts(s.btime);
    x.stx_ctime = ts(s.ctime);
    x.stx_mtime = ts(s.mtime);
    x.stx_rdev_major = gnu_dev_major(s.rdev);
    x.stx_rdev_minor = gnu_dev_minor(s.rdev);
    x.stx_dev_major = gnu_dev_major(s.dev);
    x.stx_dev_minor = gnu_dev_minor(s.dev);
    x.stx_mnt_id = s.mount_id;
    return x;
}

struct statfs to_host_statfs(const fs::StatFs& s) {
    struct statfs r{};
    r.f_type = static_cast<__fsword_t>(s.type);
    r.f_bsize = static_cast<__fsword_t>(s.bsize);
    r.f_blocks = s.blocks;
    r.f_bfree = s.bfree;
    r.f_bavail = s.bavail;
    r.f_files = s.files;
    r.f_ffree = s.ffree;
    r.f_fsid.__val[0] = static_cast<int>(s.fsid & 0xffff'ffff);
    r.f_fsid.__val[1] = static_cast<int>(s.fsid >> 32);
    r.f_namelen = static_cast<__fsword_t>(s.namelen);
    r.f_frsize = static_cast<__fsword_t>(s.frsize);
    r.f_flags = static_cast<__fsword_t>(s.flags);
    return r;
}

// ---- credentials for access(2) ----

// access(2) checks with the real ids and the supplementary groups; root's
// capabilities stay only for real uid 0 (cap_clear unless
// SECURE_NO_SETUID_FIXUP, as Linux does).
fs::Credentials real_credentials(const Process& p) {
    fs::Credentials c = fs::Credentials::user(p.uid, p.gid, p.groups);
    if (p.uid == 0) c.caps = permitted_caps(p);
    return c;
}

// ---- utimes ----

Result<long> do_utimes(Task& task, u64 dirfd, u64 path_addr, const fs::Timespec* times,
                       int flags) {
    Caller c(task);
    if (path_addr == 0 && static_cast<int>(dirfd) != AT_FDCWD) {
        // do_utimes_fd: the file itself; flags must be 0.
        if (flags) return err(EINVAL);
        auto f = VK_TRY(io_file_of(task, dirfd));
        VK_TRY(c.vfs.utimens(c.ctx, f->path(), "", times, AT_EMPTY_PATH));
        return 0;
    }
    if (flags & ~(AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH)) return err(EINVAL);
    const auto path = VK_TRY(path_arg(task, path_addr));
    const fs::Path at = VK_TRY(start(c.p, dirfd, path, flags & AT_EMPTY_PATH));
    VK_TRY(c.vfs.utimens(c.ctx, at, path, times, flags));
    return 0;
}

// struct timeval[2] (futimesat, utimes) into utimens times; null = now.
Result<long> utimes_from_timeval(Task& task, u64 dirfd, u64 path_addr, u64 tv_addr) {
    if (!tv_addr) return do_utimes(task, dirfd, path_addr, nullptr, 0);
    struct timeval tv[2];
    VK_TRY(copy_in_bytes(task.mm(), tv_addr, tv, sizeof tv));
    fs::Timespec t[2];
    for (int i = 0; i < 2; ++i) {
        if (tv[i].tv_usec < 0 || tv[i].tv_usec >= 1'000'000) return err(EINVAL);
        t[i] = {tv[i].tv_sec, tv[i].tv_usec * 1000};
    }
    return do_utimes(task, dirfd, path_addr, t, 0);
}

// ---- copying between files ----

// Reads up to `buf.size()` bytes of `in` at `*pos` (a positioned read) or
// at its offset (pos null), waiting for a stream.
Result<u64> read_some(Task& t, fs::File& in, std::span<std::byte> buf, const i64* pos) {
    if (pos) return in.pread(buf, *pos);
    return file_read(t, in, buf);
}

// The loop of sendfile and copy_file_range: chunks through a bounce buffer
// from `in` (at *in_pos, or its offset) to `out` (at *out_pos, or its
// offset, waiting for a pipe or the console). A short write puts the unsent
// bytes back by moving the input position. Partial success wins.
Result<long> copy_loop(Task& t, fs::File& in, i64* in_pos, fs::File& out, i64* out_pos, u64 len) {
    len = std::min(len, kMaxRw);
    std::vector<std::byte> tmp(std::min(len, kChunk));
    u64 done = 0;
    // An input read at its own offset is read positioned from there, so a
    // short write can leave the offset just after what was sent.
    i64 own_pos = 0;
    const bool seek_in = !in_pos && in.ops().seekable();
    if (seek_in) {
        own_pos = static_cast<i64>(in.offset());
        in_pos = &own_pos;
    }
    Result<long> res = 0;
    while (done < len) {
        const u64 want = std::min(len - done, kChunk);
        auto r = read_some(t, in, std::span(tmp.data(), want), in_pos);
        if (!r) {
            if (!done) res = Unexpected{r.error()};
            break;
        }
        const u64 got = r.value();
        if (got == 0) break;
        u64 sent = 0;
        while (sent < got) {
            const std::span<const std::byte> src(tmp.data() + sent, got - sent);
            auto w = out_pos ? out.pwrite(src, *out_pos) : file_write(t, out, src);
            if (!w || w.value() == 0) {
                if (!done && !sent) res = w ? Result<long>(0) : Unexpected{w.error()};
                break;
            }
            sent += w.value();
            if (out_pos) *out_pos += static_cast<i64>(w.value());
        }
        done += sent;
        if (in_pos) *in_pos += static_cast<i64>(sent);
        if (sent < got) break;
        if (!in.ops().seekable()) break;  // a stream gave what it had: do not wait again
    }
    if (seek_in) in.set_offset(static_cast<u64>(own_pos));
    if (done) return static_cast<long>(done);
    return res;
}

}  // namespace

// ---- open ----

Result<long> sys_open(Task& task, const SyscallArgs& a) {
    return do_open(task, kFdCwd, a[0], static_cast<int>(a[1]) & kValidOpenFlags,
                   static_cast<u32>(a[2]));
}

Result<long> sys_openat(Task& task, const SyscallArgs& a) {
    return do_open(task, a[0], a[1], static_cast<int>(a[2]) & kValidOpenFlags,
                   static_cast<u32>(a[3]));
}

Result<long> sys_creat(Task& task, const SyscallArgs& a) {
    return do_open(task, kFdCwd, a[0], O_CREAT | O_WRONLY | O_TRUNC, static_cast<u32>(a[1]));
}

Result<long> sys_openat2(Task& task, const SyscallArgs& a) {
    // copy_struct_from_user: at least the first version; a larger struct
    // must be zero past what we know.
    const u64 size = a[3];
    if (size < sizeof(struct open_how)) return err(EINVAL);
    if (size > kPageSize) return err(E2BIG);
    std::vector<std::byte> raw(size);
    VK_TRY(copy_in_bytes(task.mm(), a[2], raw.data(), size));
    if (std::any_of(raw.begin() + sizeof(struct open_how), raw.end(),
                    [](std::byte b) { return b != std::byte{0}; }))
        return err(E2BIG);
    struct open_how how;
    std::memcpy(&how, raw.data(), sizeof how);
    // build_open_flags' checks for openat2.
    if (how.flags & ~static_cast<u64>(static_cast<u32>(kValidOpenFlags))) return err(EINVAL);
    if (how.resolve & ~u64{RESOLVE_NO_XDEV | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_SYMLINKS |
                           RESOLVE_BENEATH | RESOLVE_IN_ROOT | RESOLVE_CACHED})
        return err(EINVAL);
    const int flags = static_cast<int>(how.flags);
    if ((flags & O_CREAT) || (flags & fs::kOTmpfileBit) == fs::kOTmpfileBit) {
        if (how.mode & ~u64{07777}) return err(EINVAL);
    } else if (how.mode) {
        return err(EINVAL);
    }
    if ((flags & O_PATH) && (flags & ~(O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)))
        return err(EINVAL);
    if ((how.resolve & RESOLVE_BENEATH) && (how.resolve & RESOLVE_IN_ROOT)) return err(EINVAL);
    // The walker has no RESOLVE_* restrictions yet.
    if (how.resolve) return err(EINVAL);
    return do_open(task, a[0], a[1], flags, static_cast<u32>(how.mode));
}

// ---- directories ----

Result<long> sys_getdents64(Task& task, const SyscallArgs& a) {
    auto f = VK_TRY(file_of(task, a[0]));
    const u64 count = std::min<u64>(static_cast<u32>(a[2]), kChunk);
    if (count && user_accessible(task.mm(), a[1], count, true) < count) return err(EFAULT);
    std::vector<std::byte> tmp(count);
    const u64 n = VK_TRY(f->getdents64(tmp));
    VK_TRY(copy_out_bytes(task.mm(), a[1], tmp.data(), n));
    return static_cast<long>(n);
}

Result<long> sys_mkdirat(Task& task, const SyscallArgs& a) {
    const auto path = VK_TRY(path_arg(task, a[1]));
    Caller c(task);
    const fs::Path at = VK_TRY(start(c.p, a[0], path, false));
    VK_TRY(c.vfs.mkdir(c.ctx, at, path, static_cast<u32>(a[2])));
    return 0;
}

Result<long> sys_mkdir(Task& task, const SyscallArgs& a) {
    return sys_mkdirat(task, SyscallArgs{{kFdCwd, a[0], a[1]}});
}

Result<long> sys_mknodat(Task& task, const SyscallArgs& a) {
    const auto path = VK_TRY(path_arg(task, a[1]));
    Caller c(task);
    const fs::Path at = VK_TRY(start(c.p, a[0], path, false));
    // The device number arrives in the 32-bit encoding stat reports.
    VK_TRY(c.vfs.mknod(c.ctx, at, path, static_cast<u32>(a[2]), static_cast<u32>(a[3])));
    return 0;
}

Result<long> sys_mknod(Task& task, const SyscallArgs& a) {
    return sys_mknodat(task, SyscallArgs{{kFdCwd, a[0], a[1], a[2]}});
}

Result<long> sys_unlinkat(Task& task, const SyscallArgs& a) {
    const int flags = static_cast<int>(a[2]);
    if (flags & ~AT_REMOVEDIR) return err(EINVAL);
    const auto path = VK_TRY(path_arg(task, a[1]));
    Caller c(task);
    const fs::Path at = VK_TRY(start(c.p, a[0], path, false));
    if (flags & AT_REMOVEDIR)
        VK_TRY(c.vfs.rmdir(c.ctx, at, path));
    else
        VK_TRY(c.vfs.unlink(c.ctx, at, path));
    return 0;
}

Result<long> sys_unlink(Task& task, const SyscallArgs& a) {
    return sys_unlinkat(task, SyscallArgs{{kFdCwd, a[0], 0}});
}

Result<long> sys_rmdir(Task& task, const SyscallArgs& a) {
    return sys_unlinkat(task, SyscallArgs{{kFdCwd, a[0], AT_REMOVEDIR}});
}

Result<long> sys_renameat2(Task& task, const SyscallArgs& a) {
    const u32 flags = static_cast<u32>(a[4]);
    if (flags & ~u32{RENAME_NOREPLACE | RENAME_EXCHANGE | RENAME_WHITEOUT}) return err(EINVAL);
    if ((flags & RENAME_NOREPLACE) && (flags & RENAME_EXCHANGE)) return err(EINVAL);
    const auto from = VK_TRY(path_arg(task, a[1]));
    const auto to = VK_TRY(path_arg(task, a[3]));
    Caller c(task);
    const fs::Path from_at = VK_TRY(start(c.p, a[0], from, false));
    const fs::Path to_at = VK_TRY(start(c.p, a[2], to, false));
    VK_TRY(c.vfs.rename(c.ctx, from_at, from, to_at, to, flags));
    return 0;
}

Result<long> sys_renameat(Task& task, const SyscallArgs& a) {
    return sys_renameat2(task, SyscallArgs{{a[0], a[1], a[2], a[3], 0}});
}

Result<long> sys_rename(Task& task, const SyscallArgs& a) {
    return sys_renameat2(task, SyscallArgs{{kFdCwd, a[0], kFdCwd, a[1], 0}});
}

Result<long> sys_linkat(Task& task, const SyscallArgs& a) {
    const int flags = static_cast<int>(a[4]);
    if (flags & ~(AT_SYMLINK_FOLLOW | AT_EMPTY_PATH)) return err(EINVAL);
    const auto from = VK_TRY(path_arg(task, a[1]));
    const auto to = VK_TRY(path_arg(task, a[3]));
    Caller c(task);
    // Without CAP_DAC_READ_SEARCH AT_EMPTY_PATH is ignored (ENOENT for "").
    const bool empty_ok = (flags & AT_EMPTY_PATH) && c.cred.capable(CAP_DAC_READ_SEARCH);
    const fs::Path from_at = VK_TRY(start(c.p, a[0], from, empty_ok));
    const fs::Path to_at = VK_TRY(start(c.p, a[2], to, false));
    VK_TRY(c.vfs.link(c.ctx, from_at, from, to_at, to, flags));
    return 0;
}

Result<long> sys_link(Task& task, const SyscallArgs& a) {
    return sys_linkat(task, SyscallArgs{{kFdCwd, a[0], kFdCwd, a[1], 0}});
}

Result<long> sys_symlinkat(Task& task, const SyscallArgs& a) {
    const auto target = VK_TRY(path_arg(task, a[0]));
    const auto path = VK_TRY(path_arg(task, a[2]));
    Caller c(task);
    if (target.empty()) return err(ENOENT);
    const fs::Path at = VK_TRY(start(c.p, a[1], path, false));
    VK_TRY(c.vfs.symlink(c.ctx, target, at, path));
    return 0;
}

Result<long> sys_symlink(Task& task, const SyscallArgs& a) {
    return sys_symlinkat(task, SyscallArgs{{a[0], kFdCwd, a[1]}});
}

Result<long> sys_readlinkat(Task& task, const SyscallArgs& a) {
    const auto path = VK_TRY(path_arg(task, a[1]));
    if (static_cast<i32>(a[3]) <= 0) return err(EINVAL);
    Caller c(task);
    const fs::Path at = VK_TRY(start(c.p, a[0], path, true));
    const std::string target = VK_TRY(c.vfs.readlink(c.ctx, at, path));
    const u64 n = std::min<u64>(static_cast<u32>(a[3]), target.size());
    VK_TRY(copy_out_bytes(task.mm(), a[2], target.data(), n));
    return static_cast<long>(n);
}

// ---- stat ----

Result<long> sys_stat(Task& task, const SyscallArgs& a) {
    return sys_newfstatat(task, SyscallArgs{{kFdCwd, a[0], a[1], 0}});
}

Result<long> sys_lstat(Task& task, const SyscallArgs& a) {
    return sys_newfstatat(task, SyscallArgs{{kFdCwd, a[0], a[1], AT_SYMLINK_NOFOLLOW}});
}

Result<long> sys_statx(Task& task, const SyscallArgs& a) {
    const int flags = static_cast<int>(a[2]);
    const u32 mask = static_cast<u32>(a[3]);
    if (flags & ~(AT_SYMLINK_NOFOLLOW | AT_NO_AUTOMOUNT | AT_EMPTY_PATH | AT_STATX_SYNC_TYPE))
        return err(EINVAL);
    if ((flags & AT_STATX_SYNC_TYPE) == AT_STATX_SYNC_TYPE) return err(EINVAL);
    if (mask & STATX__RESERVED) return err(EINVAL);
    // Linux 6.11: a null path with AT_EMPTY_PATH names dirfd.
    std::string path;
    if (a[1] || !(flags & AT_EMPTY_PATH)) path = VK_TRY(path_arg(task, a[1]));
    Caller c(task);
    const fs::Path at = VK_TRY(start(c.p, a[0], path, flags & AT_EMPTY_PATH));
    const fs::Stat st =
        VK_TRY(c.vfs.stat(c.ctx, at, path, flags & (AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH)));
    VK_TRY(copy_out(task.mm(), UserPtr<struct statx>(a[4]), to_statx(st)));
    return 0;
}

Result<long> sys_statfs(Task& task, const SyscallArgs& a) {
    const auto path = VK_TRY(path_arg(task, a[0]));
    Caller c(task);
    const fs::Path at = VK_TRY(start(c.p, kFdCwd, path, false));
    const fs::StatFs s = VK_TRY(c.vfs.statfs(c.ctx, at, path));
    VK_TRY(copy_out(task.mm(), UserPtr<struct statfs>(a[1]), to_host_statfs(s)));
    return 0;
}

Result<long> sys_fstatfs(Task& task, const SyscallArgs& a) {
    auto f = VK_TRY(file_of(task, a[0]));  // O_PATH allowed (fdget_raw)
    const fs::StatFs s = task.kernel.vfs().statfs_of(f->path());
    VK_TRY(copy_out(task.mm(), UserPtr<struct statfs>(a[1]), to_host_statfs(s)));
    return 0;
}

// ---- permissions and owners ----

Result<long> sys_fchmodat2(Task& task, const SyscallArgs& a) {
    const int flags = static_cast<int>(a[3]);
    if (flags & ~(AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH)) return err(EINVAL);
    const auto path = VK_TRY(path_arg(task, a[1]));
    Caller c(task);
    const fs::Path at = VK_TRY(start(c.p, a[0], path, flags & AT_EMPTY_PATH));
    VK_TRY(c.vfs.chmod(c.ctx, at, path, static_cast<u32>(a[2]), flags));
    return 0;
}

Result<long> sys_fchmodat(Task& task, const SyscallArgs& a) {
    return sys_fchmodat2(task, SyscallArgs{{a[0], a[1], a[2], 0}});
}

Result<long> sys_chmod(Task& task, const SyscallArgs& a) {
    return sys_fchmodat2(task, SyscallArgs{{kFdCwd, a[0], a[1], 0}});
}

Result<long> sys_fchmod(Task& task, const SyscallArgs& a) {
    auto f = VK_TRY(io_file_of(task, a[0]));
    Caller c(task);
    VK_TRY(c.vfs.chmod(c.ctx, f->path(), "", static_cast<u32>(a[1]), AT_EMPTY_PATH));
    return 0;
}

Result<long> sys_fchownat(Task& task, const SyscallArgs& a) {
    const int flags = static_cast<int>(a[4]);
    if (flags & ~(AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH)) return err(EINVAL);
    const auto path = VK_TRY(path_arg(task, a[1]));
    Caller c(task);
    const fs::Path at = VK_TRY(start(c.p, a[0], path, flags & AT_EMPTY_PATH));
    VK_TRY(c.vfs.chown(c.ctx, at, path, static_cast<u32>(a[2]), static_cast<u32>(a[3]), flags));
    return 0;
}

Result<long> sys_chown(Task& task, const SyscallArgs& a) {
    return sys_fchownat(task, SyscallArgs{{kFdCwd, a[0], a[1], a[2], 0}});
}

Result<long> sys_lchown(Task& task, const SyscallArgs& a) {
    return sys_fchownat(task, SyscallArgs{{kFdCwd, a[0], a[1], a[2], AT_SYMLINK_NOFOLLOW}});
}

Result<long> sys_fchown(Task& task, const SyscallArgs& a) {
    auto f = VK_TRY(io_file_of(task, a[0]));
    Caller c(task);
    VK_TRY(c.vfs.chown(c.ctx, f->path(), "", static_cast<u32>(a[1]), static_cast<u32>(a[2]),
                       AT_EMPTY_PATH));
    return 0;
}

Result<long> sys_faccessat2(Task& task, const SyscallArgs& a) {
    const int mode = static_cast<int>(a[2]);
    const int flags = static_cast<int>(a[3]);
    if (mode & ~(R_OK | W_OK | X_OK)) return err(EINVAL);
    if (flags & ~(AT_EACCESS | AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH)) return err(EINVAL);
    const auto path = VK_TRY(path_arg(task, a[1]));
    Process& p = *task.process;
    const fs::Credentials cred = (flags & AT_EACCESS) ? credentials(p) : real_credentials(p);
    const fs::Context ctx{*p.fsctx, cred};
    const fs::Path at = VK_TRY(start(p, a[0], path, flags & AT_EMPTY_PATH));
    VK_TRY(task.kernel.vfs().access(ctx, at, path, mode, flags));
    return 0;
}

Result<long> sys_faccessat(Task& task, const SyscallArgs& a) {
    return sys_faccessat2(task, SyscallArgs{{a[0], a[1], a[2], 0}});
}

Result<long> sys_access(Task& task, const SyscallArgs& a) {
    return sys_faccessat2(task, SyscallArgs{{kFdCwd, a[0], a[1], 0}});
}

// ---- cwd and root ----

Result<long> sys_chdir(Task& task, const SyscallArgs& a) {
    const auto path = VK_TRY(path_arg(task, a[0]));
    Caller c(task);
    const fs::Path at = VK_TRY(start(c.p, kFdCwd, path, false));
    VK_TRY(c.vfs.chdir(c.ctx, at, path, *c.p.fsctx));
    return 0;
}

Result<long> sys_fchdir(Task& task, const SyscallArgs& a) {
    auto f = VK_TRY(file_of(task, a[0]));  // O_PATH allowed
    Caller c(task);
    VK_TRY(c.vfs.set_cwd(c.ctx, f->path(), *c.p.fsctx));
    return 0;
}

Result<long> sys_getcwd(Task& task, const SyscallArgs& a) {
    const std::string cwd = VK_TRY(task.kernel.vfs().getcwd(*task.process->fsctx));
    const u64 len = cwd.size() + 1;
    if (len > a[1]) return err(ERANGE);
    VK_TRY(copy_out_bytes(task.mm(), a[0], cwd.c_str(), len));
    return static_cast<long>(len);
}

Result<long> sys_chroot(Task& task, const SyscallArgs& a) {
    const auto path = VK_TRY(path_arg(task, a[0]));
    Caller c(task);
    const fs::Path at = VK_TRY(start(c.p, kFdCwd, path, false));
    VK_TRY(c.vfs.chroot(c.ctx, at, path, *c.p.fsctx));
    return 0;
}

// ---- size and sync ----

Result<long> sys_truncate(Task& task, const SyscallArgs& a) {
    const auto path = VK_TRY(path_arg(task, a[0]));
    Caller c(task);
    const fs::Path at = VK_TRY(start(c.p, kFdCwd, path, false));
    VK_TRY(c.vfs.truncate(c.ctx, at, path, static_cast<i64>(a[1])));
    return 0;
}

Result<long> sys_ftruncate(Task& task, const SyscallArgs& a) {
    auto f = VK_TRY(file_of(task, a[0]));
    VK_TRY(f->truncate(static_cast<i64>(a[1])));
    return 0;
}

Result<long> sys_fallocate(Task& task, const SyscallArgs& a) {
    auto f = VK_TRY(file_of(task, a[0]));
    VK_TRY(f->allocate(static_cast<int>(a[1]), static_cast<i64>(a[2]), static_cast<i64>(a[3])));
    return 0;
}

Result<long> sys_fsync(Task& task, const SyscallArgs& a) {
    auto f = VK_TRY(file_of(task, a[0]));
    VK_TRY(f->fsync(false));
    return 0;
}

Result<long> sys_fdatasync(Task& task, const SyscallArgs& a) {
    auto f = VK_TRY(file_of(task, a[0]));
    VK_TRY(f->fsync(true));
    return 0;
}

Result<long> sys_sync(Task&, const SyscallArgs&) { return 0; }  // memory-only filesystems

Result<long> sys_syncfs(Task& task, const SyscallArgs& a) {
    VK_TRY(io_file_of(task, a[0]));
    return 0;
}

// ---- times ----

Result<long> sys_utimensat(Task& task, const SyscallArgs& a) {
    if (!a[2]) return do_utimes(task, a[0], a[1], nullptr, static_cast<int>(a[3]));
    struct timespec ts[2];
    VK_TRY(copy_in_bytes(task.mm(), a[2], ts, sizeof ts));
    // "Nothing to do, we must not even check the path."
    if (ts[0].tv_nsec == UTIME_OMIT && ts[1].tv_nsec == UTIME_OMIT) return 0;
    const fs::Timespec t[2] = {{ts[0].tv_sec, ts[0].tv_nsec}, {ts[1].tv_sec, ts[1].tv_nsec}};
    return do_utimes(task, a[0], a[1], t, static_cast<int>(a[3]));
}

Result<long> sys_futimesat(Task& task, const SyscallArgs& a) {
    return utimes_from_timeval(task, a[0], a[1], a[2]);
}

Result<long> sys_utimes(Task& task, const SyscallArgs& a) {
    return utimes_from_timeval(task, kFdCwd, a[0], a[1]);
}

Result<long> sys_utime(Task& task, const SyscallArgs& a) {
    if (!a[1]) return do_utimes(task, kFdCwd, a[0], nullptr, 0);
    const struct utimbuf b = VK_TRY(copy_in(task.mm(), UserPtr<struct utimbuf>(a[1])));
    const fs::Timespec t[2] = {{b.actime, 0}, {b.modtime, 0}};
    return do_utimes(task, kFdCwd, a[0], t, 0);
}

// ---- memfd ----

Result<long> sys_memfd_create(Task& task, const SyscallArgs& a) {
    const u32 flags = static_cast<u32>(a[1]);
    constexpr u32 kNoexecSeal = 0x8, kExec = 0x10;  // MFD_NOEXEC_SEAL, MFD_EXEC (Linux 6.3)
    constexpr u32 kKnown = MFD_CLOEXEC | MFD_ALLOW_SEALING | MFD_HUGETLB | kNoexecSeal | kExec;
    if (flags & ~kKnown) return err(EINVAL);
    if ((flags & kExec) && (flags & kNoexecSeal)) return err(EINVAL);
    if (flags & MFD_HUGETLB) return err(EINVAL);  // no hugetlbfs
    // The name only shows in /proc/PID/fd ("memfd:NAME"): 249 bytes at most.
    auto name = copy_in_string(task.mm(), a[0], 250);
    if (!name) return err(name.error().code == ENAMETOOLONG ? EINVAL : name.error().code);
    Process& p = *task.process;
    fs::Vfs& vfs = task.kernel.vfs();
    // An unlinked tmpfs file in the namespace root, owned by the caller,
    // mode 0777 whatever the umask (shmem_file_setup's S_IRWXUGO). The
    // caller's capabilities are raised so the root's permissions do not
    // matter: a memfd is not made in any directory on Linux.
    fs::Credentials cred = credentials(p);
    cred.caps = fs::Credentials::root().caps;
    const fs::FsContext fsc{vfs.root(), vfs.root(), 0};
    const fs::Context ctx{fsc, cred};
    auto file = VK_TRY(vfs.open(ctx, vfs.root(), ".", O_TMPFILE | O_RDWR | fs::kOLargefile, 0777));
    return VK_TRY(p.fds->install(std::move(file), flags & MFD_CLOEXEC, nofile_limit(p)));
}

// ---- copying ----

Result<long> sys_sendfile(Task& task, const SyscallArgs& a) {
    auto in = VK_TRY(file_of(task, a[1]));
    auto out = VK_TRY(file_of(task, a[0]));
    if (!in->readable()) return err(EBADF);
    if (!out->writable()) return err(EBADF);
    if (out->flags() & O_APPEND) return err(EINVAL);
    i64 pos = 0;
    if (a[2]) {
        pos = VK_TRY(copy_in(task.mm(), UserPtr<i64>(a[2])));
        if (!in->ops().seekable()) return err(ESPIPE);
        if (pos < 0) return err(EINVAL);
    }
    const u64 count = a[3];
    if (static_cast<i64>(count) < 0) return err(EINVAL);
    if (count == 0) return 0;
    auto r = copy_loop(task, *in, a[2] ? &pos : nullptr, *out, nullptr, count);
    if (a[2]) VK_TRY(copy_out(task.mm(), UserPtr<i64>(a[2]), pos));
    return r;
}

Result<long> sys_copy_file_range(Task& task, const SyscallArgs& a) {
    if (a[5]) return err(EINVAL);  // flags
    auto in = VK_TRY(file_of(task, a[0]));
    auto out = VK_TRY(file_of(task, a[2]));
    i64 in_pos = 0, out_pos = 0;
    if (a[1]) in_pos = VK_TRY(copy_in(task.mm(), UserPtr<i64>(a[1])));
    if (a[3]) out_pos = VK_TRY(copy_in(task.mm(), UserPtr<i64>(a[3])));
    if (in->is_path() || out->is_path()) return err(EBADF);
    // generic_copy_file_checks, in its order.
    const u32 tin = in->inode().mode() & S_IFMT, tout = out->inode().mode() & S_IFMT;
    if (tin == S_IFDIR || tout == S_IFDIR) return err(EISDIR);
    if (tin != S_IFREG || tout != S_IFREG) return err(EINVAL);
    if (!in->readable() || !out->writable() || (out->flags() & O_APPEND)) return err(EBADF);
    if (!a[1]) in_pos = static_cast<i64>(in->offset());
    if (!a[3]) out_pos = static_cast<i64>(out->offset());
    if (in_pos < 0 || out_pos < 0) return err(EINVAL);
    u64 len = std::min(a[4], kMaxRw);
    const u64 size = in->inode().stat().size;
    len = static_cast<u64>(in_pos) >= size ? 0 : std::min(len, size - static_cast<u64>(in_pos));
    if (&in->inode() == &out->inode() && len &&
        in_pos < out_pos + static_cast<i64>(len) && out_pos < in_pos + static_cast<i64>(len))
        return err(EINVAL);
    if (len == 0) return 0;
    auto r = copy_loop(task, *in, &in_pos, *out, &out_pos, len);
    if (r && r.value() > 0) {
        if (a[1])
            VK_TRY(copy_out(task.mm(), UserPtr<i64>(a[1]), in_pos));
        else
            in->set_offset(static_cast<u64>(in_pos));
        if (a[3])
            VK_TRY(copy_out(task.mm(), UserPtr<i64>(a[3]), out_pos));
        else
            out->set_offset(static_cast<u64>(out_pos));
    }
    return r;
}

}  // namespace vk::sys
