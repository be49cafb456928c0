#pragma once

#include <cerrno>
#include <string>
#include <vector>

#include "base/result.h"
#include "vkernel/fs/vfs.h"
#include "vkernel/image_cache.h"
#include "vkernel/task.h"

namespace vk {

// Why a program could not be started: the exit status the vkernel reports
// (126 not runnable, 127 not found, 1 other) and one sentence for the user.
struct ExecError {
    int status = 1;
    std::string message;
    int err = ENOEXEC;  // what execve(2) returns for it
};

// A program ready to run: its address space and first registers.
struct LoadedImage {
    std::shared_ptr<Mm> mm;
    vmspace::UserRegs regs;
    std::string path;  // the file finally loaded (the interpreter for #!)
};

// Loads the program at `path` (resolved in `vfs` from the process's fsctx
// with its credentials, as execve(2) does) into a fresh address space: regions
// for its segments, a stack holding argv, envp and the auxiliary vector, the
// registers to start it. A `#!` script runs its interpreter (up to 4
// levels). Pages are not touched until the guest faults on them, except the
// stack's top pages. `creds` fills AT_UID and friends. With a `cache` (may
// be null), a program found there unchanged is neither read nor copied
// again (its segments are copy-on-write views of the cached pages), and
// one read is added to it; the permission checks are the same either way.
Result<LoadedImage, ExecError> load_image(vmspace::Machine& machine, const fs::Vfs& vfs,
                                          const std::string& path, std::vector<std::string> argv,
                                          const std::vector<std::string>& envp,
                                          const Process& creds, CommitCharge* commit,
                                          ImageCache* cache = nullptr);

}  // namespace vk
