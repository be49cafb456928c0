#pragma once

// Filesystems, mounts and paths.
//
// A Filesystem (Linux's superblock) owns its root dentry. A Mount shows a
// filesystem (or, for a bind mount, a subtree of one) at a mount point: a
// dentry in a parent mount. A Path is a (mount, dentry) pair: the same
// dentry seen through two mounts is two different places, and ".." at the
// root of a mount steps to the mount point in the parent mount.
// Guarded by the kernel lock.

#include <sys/mount.h>

#include <memory>
#include <string>
#include <string_view>

#include "base/result.h"
#include "vkernel/fs/dentry.h"

namespace vk::fs {

// A device number (0:N, as Linux's get_anon_bdev) for a filesystem
// without a block device. Unique for the life of the process.
u64 allocate_anon_dev();

// One mounted filesystem instance.
class Filesystem {
public:
    virtual ~Filesystem() = default;
    Filesystem(const Filesystem&) = delete;
    Filesystem& operator=(const Filesystem&) = delete;

    // The type as /proc/mounts and /proc/filesystems name it ("tmpfs").
    virtual std::string_view type_name() const = 0;
    // statfs(2) numbers; `flags` is filled in by the VFS from the mount.
    virtual StatFs statfs() const = 0;

    const std::shared_ptr<Dentry>& root() const { return root_; }
    u64 dev() const { return dev_; }

protected:
    Filesystem() : dev_(allocate_anon_dev()) {}
    void set_root(std::shared_ptr<Inode> inode) { root_ = Dentry::make_root(std::move(inode)); }

private:
    u64 dev_;
    std::shared_ptr<Dentry> root_;
};

// Per-mount flags: the MS_* values of mount(2) that stay with a mount.
inline constexpr u64 kMountFlagMask =
    MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_NOATIME | MS_NODIRATIME | MS_RELATIME |
    MS_STRICTATIME;

class Vfs;

// A filesystem shown at a place in the namespace. Holds its filesystem,
// its root dentry, its parent mount and its mount point; the Vfs's mount
// table holds the mounts themselves.
class Mount {
public:
    Filesystem& fs() const { return *fs_; }
    const std::shared_ptr<Filesystem>& fs_ptr() const { return fs_; }
    // The dentry shown at the mount point: the filesystem's root, or a
    // subtree for bind mounts.
    const std::shared_ptr<Dentry>& root() const { return root_; }
    // Null for the root of the namespace.
    const std::shared_ptr<Mount>& parent() const { return parent_; }
    const std::shared_ptr<Dentry>& mountpoint() const { return mountpoint_; }
    u64 flags() const { return flags_; }
    bool read_only() const { return flags_ & MS_RDONLY; }
    // Unique id (statx's stx_mnt_id, /proc/PID/mountinfo).
    u64 id() const { return id_; }
    // What mount(2) got as its source ("tmpfs", "proc", "none").
    const std::string& source() const { return source_; }
    // False once unmounted (a lazily unmounted tree lives on while in use).
    bool attached() const { return attached_; }

private:
    friend class Vfs;
    Mount(std::shared_ptr<Filesystem> fs, std::shared_ptr<Dentry> root, u64 flags, u64 id,
          std::string source)
        : fs_(std::move(fs)), root_(std::move(root)), flags_(flags), id_(id),
          source_(std::move(source)) {}

    std::shared_ptr<Filesystem> fs_;
    std::shared_ptr<Dentry> root_;
    std::shared_ptr<Mount> parent_;
    std::shared_ptr<Dentry> mountpoint_;
    u64 flags_ = 0;
    u64 id_ = 0;
    std::string source_;
    bool attached_ = false;
};

// A place in the namespace: a dentry seen through a mount.
struct Path {
    std::shared_ptr<Mount> mount;
    std::shared_ptr<Dentry> dentry;

    Inode& inode() const { return dentry->inode(); }
    const std::shared_ptr<Inode>& inode_ptr() const { return dentry->inode_ptr(); }
    bool valid() const { return mount && dentry; }
    // The root of its mount.
    bool is_mount_root() const { return dentry == mount->root(); }
    friend bool operator==(const Path& a, const Path& b) {
        return a.mount == b.mount && a.dentry == b.dentry;
    }
};

}  // namespace vk::fs
