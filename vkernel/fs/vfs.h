#pragma once

// Vfs: a mount namespace and the path-based file operations on it — what
// the *at() syscalls do once their arguments are copied in.
//
// Every operation takes a Context (the caller's root, umask and
// credentials) and a starting directory `at`: the caller's cwd for
// AT_FDCWD, else the Path of the directory file descriptor. Paths are
// host strings (the syscall layer copies them in, bounded by kPathMax).
// Errors are Linux's errno values for each corner case, in Linux's order
// of checks (fs/namei.c, fs/open.c); the unit tests compare them with the
// host kernel.
//
// AT_EMPTY_PATH is how the f*() calls reach the same code: fchmod(fd) is
// chmod(ctx, file.path(), "", mode, AT_EMPTY_PATH). Which calls take an
// O_PATH descriptor is the syscall layer's business (Linux: fstat, fstatfs,
// fchdir and the *at() dirfds do; fchmod, fchown, ftruncate, read and
// write are EBADF).
//
// Guarded by the kernel lock; no call blocks.

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/result.h"
#include "vkernel/fs/file.h"
#include "vkernel/fs/fs_context.h"
#include "vkernel/fs/mount.h"

namespace vk::fs {

// Flags of Vfs::resolve.
inline constexpr u32 kLookupFollow = 1;     // follow a symlink in the last component
inline constexpr u32 kLookupDirectory = 2;  // the result must be a directory (ENOTDIR)
inline constexpr u32 kLookupEmpty = 4;      // "" names `at` itself (AT_EMPTY_PATH)

// Opens device nodes, FIFOs and sockets met in a filesystem: given the new
// File (path, flags), returns its FileOps. Set by the layers that
// implement them (devfs, pipes); without one such files give ENXIO, as a
// device without a driver does on Linux.
using SpecialOpener = std::function<Result<std::shared_ptr<FileOps>>(File& file)>;

// One line of /proc/mounts.
struct MountInfo {
    std::shared_ptr<Mount> mount;
    std::string source;      // "tmpfs"
    std::string mountpoint;  // "/dev", from the namespace root
    std::string type;        // "tmpfs"
    u64 flags = 0;           // MS_* of the mount
};

class Vfs {
public:
    // A namespace whose root mount shows `root_fs`.
    Vfs(std::shared_ptr<Filesystem> root_fs, u64 mount_flags = 0, std::string source = "rootfs");
    ~Vfs();
    Vfs(const Vfs&) = delete;
    Vfs& operator=(const Vfs&) = delete;

    // The root of the namespace (what init starts with as root and cwd).
    Path root() const;
    // A context for the first process: root and cwd at the namespace root.
    FsContext initial_context(u32 umask = 022) const;

    // ---- Lookup ----
    // Resolves `path` from `at` (kLookup* flags).
    Result<Path> resolve(const Context& ctx, const Path& at, std::string_view path, u32 flags) const;

    // ---- Opening ----
    // open/openat/creat: `flags` as open(2) takes them, `mode` for O_CREAT
    // and O_TMPFILE (the umask is applied here). O_CLOEXEC is the fd
    // table's business and is ignored.
    Result<std::shared_ptr<File>> open(const Context& ctx, const Path& at, std::string_view path,
                                       int flags, u32 mode) const;
    // Opens an already resolved path (a /proc/PID/fd link, the program of
    // an execve): the checks and effects of open(2) without O_CREAT.
    Result<std::shared_ptr<File>> open_path(const Context& ctx, const Path& path, int flags) const;
    // May `path` be executed: a regular file on a mount without MS_NOEXEC,
    // with an x bit the caller may use (EACCES otherwise).
    Result<void> may_exec(const Context& ctx, const Path& path) const;
    void set_special_opener(SpecialOpener opener) { special_opener_ = std::move(opener); }

    // ---- Namespace changes ----
    Result<void> mkdir(const Context& ctx, const Path& at, std::string_view path, u32 mode) const;
    // mknod: S_IFREG (or 0), S_IFCHR, S_IFBLK, S_IFIFO, S_IFSOCK.
    Result<void> mknod(const Context& ctx, const Path& at, std::string_view path, u32 mode,
                       u64 dev) const;
    Result<void> symlink(const Context& ctx, std::string_view target, const Path& at,
                         std::string_view path) const;
    // linkat: at_flags AT_SYMLINK_FOLLOW, AT_EMPTY_PATH.
    Result<void> link(const Context& ctx, const Path& old_at, std::string_view old_path,
                      const Path& new_at, std::string_view new_path, int at_flags) const;
    Result<void> unlink(const Context& ctx, const Path& at, std::string_view path) const;
    Result<void> rmdir(const Context& ctx, const Path& at, std::string_view path) const;
    // renameat2: flags RENAME_NOREPLACE, RENAME_EXCHANGE (RENAME_WHITEOUT: EINVAL).
    Result<void> rename(const Context& ctx, const Path& old_at, std::string_view old_path,
                        const Path& new_at, std::string_view new_path, u32 flags) const;

    // ---- Attributes ----
    // fstatat: at_flags AT_SYMLINK_NOFOLLOW, AT_EMPTY_PATH.
    Result<Stat> stat(const Context& ctx, const Path& at, std::string_view path, int at_flags) const;
    // readlinkat (an empty path names `at`, as with an O_PATH fd).
    Result<std::string> readlink(const Context& ctx, const Path& at, std::string_view path) const;
    // faccessat2: mode F_OK or R_OK|W_OK|X_OK; at_flags AT_SYMLINK_NOFOLLOW,
    // AT_EMPTY_PATH. Checked against ctx.cred: access(2) passes the real
    // ids, AT_EACCESS the effective ones — the caller picks.
    Result<void> access(const Context& ctx, const Path& at, std::string_view path, int mode,
                        int at_flags) const;
    Result<void> chmod(const Context& ctx, const Path& at, std::string_view path, u32 mode,
                       int at_flags) const;
    // uid/gid u32(-1): unchanged.
    Result<void> chown(const Context& ctx, const Path& at, std::string_view path, u32 uid, u32 gid,
                       int at_flags) const;
    // utimensat: `times` is null (both now) or two entries (atime, mtime)
    // whose nsec may be kUtimeNow or kUtimeOmit.
    Result<void> utimens(const Context& ctx, const Path& at, std::string_view path,
                         const Timespec* times, int at_flags) const;
    // truncate(2).
    Result<void> truncate(const Context& ctx, const Path& at, std::string_view path,
                          i64 length) const;
    // statfs(2) (fstatfs: statfs_of(file.path())).
    Result<StatFs> statfs(const Context& ctx, const Path& at, std::string_view path) const;
    StatFs statfs_of(const Path& path) const;

    // ---- Process directories ----
    // chdir(2): a directory with search permission.
    Result<void> chdir(const Context& ctx, const Path& at, std::string_view path,
                       FsContext& fs) const;
    // fchdir(2): `dir` is the fd's path (ENOTDIR, EACCES).
    Result<void> set_cwd(const Context& ctx, const Path& dir, FsContext& fs) const;
    // chroot(2): CAP_SYS_CHROOT and search permission.
    Result<void> chroot(const Context& ctx, const Path& at, std::string_view path,
                        FsContext& fs) const;
    // getcwd(2): the cwd from the caller's root; ENOENT if it was removed;
    // "(unreachable)/..." when the cwd is outside the root.
    Result<std::string> getcwd(const FsContext& fs) const;
    // The name of `path` seen from `root` (d_path): " (deleted)" appended
    // for removed files; for /proc/PID/{cwd,root,fd/N}.
    std::string path_name(const Path& path, const Path& root) const;

    // ---- Mounts (CAP_SYS_ADMIN) ----
    // Mounts `fs` on the directory `path` with MS_* `flags`.
    Result<void> mount(const Context& ctx, const Path& at, std::string_view path,
                       std::shared_ptr<Filesystem> fs, u64 flags, std::string source);
    // Bind mount (MS_BIND): `source` (a directory, or a file onto a file)
    // shown again at `path`; `recursive` (MS_REC) takes the mounts under it.
    Result<void> bind_mount(const Context& ctx, const Path& source_at, std::string_view source,
                            const Path& at, std::string_view path, bool recursive);
    // MS_REMOUNT: replaces the per-mount flags of the mount rooted at `path`.
    Result<void> remount(const Context& ctx, const Path& at, std::string_view path,
                         u64 flags);
    // umount2: flags MNT_DETACH (lazy), MNT_FORCE (ignored),
    // UMOUNT_NOFOLLOW. EBUSY while something has a file, a cwd or a root
    // in it, or something is mounted below it (unless MNT_DETACH).
    Result<void> umount(const Context& ctx, const Path& at, std::string_view path, int flags);
    // Attached mounts, parents before children (for /proc/mounts).
    std::vector<MountInfo> mounts() const;

    // The mount on `dentry` in `parent`, or null.
    std::shared_ptr<Mount> mounted_on(const Mount& parent, const Dentry& dentry) const;

private:
    std::shared_ptr<Mount> new_mount(std::shared_ptr<Filesystem> fs, std::shared_ptr<Dentry> root,
                                     u64 flags, std::string source);
    void attach(const std::shared_ptr<Mount>& m, const Path& where);
    void detach(const std::shared_ptr<Mount>& m);
    Result<std::shared_ptr<File>> finish_open(const Context& ctx, const Path& path, int flags,
                                              int acc, bool created) const;
    Result<std::shared_ptr<File>> open_tmpfile(const Context& ctx, const Path& at,
                                               std::string_view path, int flags, u32 lookup,
                                               u32 mode) const;
    // Attaches the FileOps of `file` from its inode (or the special opener).
    Result<void> attach_ops(File& file) const;

    // The mount table: (parent mount, mount point) -> the mount on it.
    std::map<std::pair<const Mount*, const Dentry*>, std::shared_ptr<Mount>> mounts_on_;
    std::vector<std::shared_ptr<Mount>> mounts_;  // attached, in mount order
    u64 next_mount_id_ = 1;
    std::shared_ptr<Mount> root_mount_;
    SpecialOpener special_opener_;
};

}  // namespace vk::fs
