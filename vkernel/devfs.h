#pragma once

// devfs at /dev: a tmpfs holding the device nodes (null, zero, full, random,
// urandom, tty, console), the links fd, stdin, stdout, stderr into
// /proc/self/fd, and the directories pts and shm; plus the special opener
// that gives character devices (wherever their inodes live: devfs, the
// initramfs, a mknod in tmpfs) their behaviour:
//
//   1:3 null    reads end at once, writes are swallowed
//   1:5 zero    reads give zeros, writes are swallowed
//   1:7 full    reads give zeros, writes fail with ENOSPC
//   1:8 random, 1:9 urandom   the host's getrandom(2); writes are accepted
//   5:0 tty, 5:1 console      the console: the console tty (tty.h) when
//                             the host's stdin is a terminal (/dev/tty only
//                             for its sessions); otherwise reads from the
//                             host's stdin, writes to its stdout (files.h)
//
// Other device numbers are ENXIO, as a device without a driver on Linux.
// Guarded by the kernel lock.

#include <memory>
#include <string>

#include "base/result.h"
#include "vkernel/fs/vfs.h"

namespace vk {

class Kernel;

// The opener for Vfs::set_special_opener. Inodes that are not character
// devices (FIFOs, sockets) go to `others` (ENXIO without one): the layer
// that implements them chains its opener here.
fs::SpecialOpener devfs_opener(Kernel& k, fs::SpecialOpener others = {});

// Mounts a new devfs on the directory `where` (normally "/dev") of `vfs`
// and fills it in. `ctx` acts (root, umask 0).
Result<void> mount_devfs(Kernel& k, fs::Vfs& vfs, const fs::Context& ctx, const std::string& where);

}  // namespace vk
