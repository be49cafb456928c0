#pragma once

#include <cerrno>
#include <optional>
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

// What execve(2) runs. `filename` is the name the program is given
// (AT_EXECFN, a script's path argument to its interpreter, the command name).
// Without `file` the program is `lookup` resolved from `dir` (the cwd when
// unset). execveat(2) sets `dir` for a path relative to a directory
// descriptor and `file` for AT_EMPTY_PATH, and names the program
// /dev/fd/N[/path] then, as Linux does.
struct ExecTarget {
    std::string filename;
    std::string lookup;
    std::optional<fs::Path> dir;
    std::optional<fs::Path> file;
    bool nofollow = false;      // AT_SYMLINK_NOFOLLOW: a final symlink is ELOOP
    bool inaccessible = false;  // named through an O_CLOEXEC descriptor: a script is ENOENT

    static ExecTarget path(const std::string& p) { return ExecTarget{p, p, {}, {}, false, false}; }
    // The command name (comm) the program gets: the last part of `filename`,
    // or for AT_EMPTY_PATH the name of the file `loaded` (the interpreter
    // of a script), as Linux 6.14 and later do; at most 15 bytes.
    std::string comm(const fs::Path& loaded) const;
};

// A program ready to run: its address space and first registers.
struct LoadedImage {
    std::shared_ptr<Mm> mm;
    vmspace::UserRegs regs;
    std::string path;  // the file finally loaded (the interpreter for #!)
    fs::Path file;     // that file in the VFS
    // The effective ids it runs with: the file's owner and group for a
    // set-user-ID / set-group-ID file (on a mount without nosuid), else the
    // caller's. `secure` is AT_SECURE: the ids differ from the real ones.
    u32 euid = 0, egid = 0;
    bool secure = false;
};

// Loads the program `target` (resolved in `vfs` from the process's fsctx
// with its credentials, as execve(2) does) into a fresh address space: regions
// for its segments, a stack holding argv, envp and the auxiliary vector, the
// registers to start it. A `#!` script runs its interpreter (up to 4
// levels). Pages are not touched until the guest faults on them, except the
// stack's top pages. `creds` fills AT_UID and friends and, with the file's
// set-user-ID and set-group-ID bits, the image's effective ids. With a `cache` (may
// be null), a program found there unchanged is neither read nor copied
// again (its segments are copy-on-write views of the cached pages), and
// one read is added to it; the permission checks are the same either way.
Result<LoadedImage, ExecError> load_image(vmspace::Machine& machine, const fs::Vfs& vfs,
                                          const ExecTarget& target, std::vector<std::string> argv,
                                          const std::vector<std::string>& envp,
                                          const Process& creds, CommitCharge* commit,
                                          ImageCache* cache = nullptr);

}  // namespace vk
