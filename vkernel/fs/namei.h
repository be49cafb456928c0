#pragma once

// The path walk (Linux's fs/namei.c): components, ".", "..", mount
// crossings, symlinks, search permission. Used by the Vfs; one Walker
// serves one syscall, so the 40-symlink budget spans the whole operation
// (both paths of a rename share nothing, as on Linux: each gets its own).

#include <string>
#include <string_view>

#include "base/result.h"
#include "vkernel/fs/fs_context.h"
#include "vkernel/fs/mount.h"

namespace vk::fs {

class Vfs;

// The last component of a path, not yet looked up, and the directory it
// is to be looked up in.
struct LastComponent {
    enum class Kind { kNormal, kDot, kDotDot, kRoot };
    Path dir;
    std::string name;      // empty unless kNormal
    Kind kind = Kind::kNormal;
    bool trailing_slash = false;  // "name/": must be (or become) a directory
};

class Walker {
public:
    Walker(const Vfs& vfs, const Context& ctx) : vfs_(vfs), ctx_(ctx) {}

    // Walks all but the last component of `path` from `at` (from the root
    // if absolute); checks search permission on the directory the last
    // component will be looked up in. ENOENT for "", ENAMETOOLONG for
    // kPathMax bytes or more.
    Result<LastComponent> parent(const Path& at, std::string_view path);
    // Walks the whole path (kLookup* flags).
    Result<Path> resolve(const Path& at, std::string_view path, u32 flags);
    // The place `last` names when it is ".", ".." or "/".
    Path dots(const LastComponent& last);
    // Looks `name` up in `dir` without following a symlink, and crosses
    // mounts on the result unless `cross` is false (unlink, rmdir and
    // rename act on the mount point itself). ENOENT when absent,
    // ENAMETOOLONG for a long name.
    Result<Path> child(const Path& dir, std::string_view name, bool cross = true);
    // Follows the symlink `link` met in `dir`: counts it against the
    // budget (ELOOP), reads its body (ENOENT when empty) and walks to the
    // body's last component.
    Result<LastComponent> follow(const Path& dir, const Path& link);
    // "..": stays at the caller's root and at the namespace root, steps
    // from a mount's root to its mount point first.
    Path up(const Path& p);
    // Into whatever is mounted on `p`, repeatedly.
    Path cross(Path p) const;

    const Context& context() const { return ctx_; }
    // Whether a magic link was followed (its target may lie outside the namespace).
    bool jumped() const { return jumped_; }

private:
    // One step from directory `cur` to component `name` in the middle of a
    // path: dots, lookup, symlinks (always followed); the result must be a
    // directory.
    Result<Path> step(const Path& cur, std::string_view name);

    const Vfs& vfs_;
    const Context& ctx_;
    int links_ = 0;
    bool jumped_ = false;
};

}  // namespace vk::fs
