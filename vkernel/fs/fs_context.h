#pragma once

// FsContext: a process's root and working directory and its umask
// (Linux's fs_struct). fork copies it; clone(CLONE_FS) shares one (hold it
// by shared_ptr). Guarded by the kernel lock.

#include "vkernel/fs/mount.h"
#include "vkernel/fs/types.h"

namespace vk::fs {

struct FsContext {
    Path root;   // chroot(2) changes it; ".." never climbs above it
    Path cwd;
    u32 umask = 022;
};

// Who performs a path operation: the process's FsContext (for "/" and
// the umask) and the credentials checks are made against (fsuid, fsgid,
// groups, capabilities). Both outlive the call.
struct Context {
    const FsContext& fs;
    const Credentials& cred;
};

}  // namespace vk::fs
