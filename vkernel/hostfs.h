#pragma once

// hostfs: a host directory shown read-only inside the guest (`--bind
// HOSTDIR:GUESTDIR`), so programs built on the host run in the vkernel at
// the same paths. A passthrough over host openat/fstatat/getdents64/pread/
// readlinkat from an O_PATH descriptor per inode; every change is EROFS
// (the mount is also MS_RDONLY, so the VFS refuses most of them first).
//
// Inode numbers are the host's; owners and modes are the host's (the guest
// runs as root, so it can read what the vkernel can). Host calls are made
// with the kernel lock held: they are short reads of local files, and the
// bind mount exists for tests and bringing programs in, not for speed.
// Files cannot be mmapped (Inode::page is ENODEV): copy them into tmpfs.
// Guarded by the kernel lock.

#include <map>
#include <memory>
#include <string>
#include <utility>

#include "base/result.h"
#include "base/unique_fd.h"
#include "vkernel/fs/inode.h"
#include "vkernel/fs/mount.h"

namespace vk {

// What all inodes of one hostfs share: the device number and the live
// inodes by host (st_dev, st_ino), so a lookup returns the same Inode for
// the same host file while anyone holds it.
struct HostFsSuper;

class HostFs final : public fs::Filesystem {
public:
    // Opens the host directory `dir` (following symlinks).
    static Result<std::shared_ptr<HostFs>, HostError> create(const std::string& dir);
    std::string_view type_name() const override { return "hostfs"; }
    fs::StatFs statfs() const override;

private:
    HostFs() = default;
    std::shared_ptr<HostFsSuper> sb_;
    int root_fd_ = -1;  // the root inode's O_PATH fd (owned by the inode)
};

}  // namespace vk
