#pragma once

// procfs at /proc: the vkernel's own view of itself, read-only, in the
// formats busybox ps, top, free, uptime, mount and df parse.
//
//   self, thread-self        links to the caller's PID and PID/task/TID
//   PID/ and PID/task/TID/   stat, statm, status, cmdline, comm, environ,
//                            maps, mounts, exe, cwd, root, fd/, fdinfo/
//   meminfo cpuinfo uptime loadavg stat version filesystems
//   mounts (-> self/mounts), sys/kernel/{hostname,ostype,osrelease}
//
// Content is made when a file is opened (a snapshot, like Linux's
// seq_file): reads of one open file see one consistent text. Link targets
// are computed at readlink. Directories are listed from the kernel's
// tables on each lookup; every directory keeps the inodes it handed out
// (weakly) so a lookup returns the same Inode while anyone holds it.
//
// "self": the VFS calls come with the kernel lock held from a task's fiber
// on a vCPU thread, so the caller is Kernel::current_task() (the vCPU's
// current task, found through a thread-local Cpu pointer). Off the vCPU
// threads (boot, unit tests) there is no caller and self is ENOENT.
//
// fd/N, exe, cwd and root are plain symlinks to path names (Vfs::path_name),
// not Linux's "magic" links: following fd/N of a pipe or a deleted file
// fails (ENOENT) where Linux would reach the object. Guarded by the kernel lock.

#include <memory>
#include <string>

#include "base/result.h"
#include "vkernel/fs/vfs.h"

namespace vk {

class Kernel;
struct ProcSuper;

class ProcFs final : public fs::Filesystem {
public:
    // `k` must outlive the filesystem (its inodes read the kernel's tables).
    static std::shared_ptr<ProcFs> create(Kernel& k);
    std::string_view type_name() const override { return "proc"; }
    fs::StatFs statfs() const override;

private:
    ProcFs() = default;
    std::shared_ptr<ProcSuper> sb_;
};

// Mounts a new procfs on the directory `where` (normally "/proc") of `vfs`
// (nosuid, nodev, noexec, source "proc"). `ctx` acts (root).
Result<void> mount_procfs(Kernel& k, fs::Vfs& vfs, const fs::Context& ctx, const std::string& where);

}  // namespace vk
