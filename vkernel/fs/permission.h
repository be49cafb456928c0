#pragma once

// Permission checks of Linux's fs/namei.c and fs/attr.c, on our
// credentials: generic_permission, may_delete/may_create, sticky
// directories, ownership rules for chmod/chown/utimes, and the owner and
// mode of new inodes.

#include "base/result.h"
#include "vkernel/fs/inode.h"
#include "vkernel/fs/types.h"

namespace vk::fs {

// MAY_* bits of inode_permission.
inline constexpr int kMayExec = 1;
inline constexpr int kMayWrite = 2;
inline constexpr int kMayRead = 4;
inline constexpr int kMayAppend = 8;

// generic_permission: the owner, group or other bits, then the
// capability overrides (CAP_DAC_OVERRIDE: anything but executing a file
// with no x bit at all; CAP_DAC_READ_SEARCH: reading, and searching
// directories). EACCES when denied.
Result<void> permission(const Credentials& cred, const Inode& inode, int mask);

// inode_owner_or_capable: the caller owns the inode or has CAP_FOWNER.
bool owner_or_capable(const Credentials& cred, const Inode& inode);

// may_create: write and search permission on `dir` (EACCES).
Result<void> may_create(const Credentials& cred, const Inode& dir);

// may_delete: search and write permission on `dir`, the sticky-bit rule
// (EPERM), and the type check: `want_dir` asks for a directory (ENOTDIR
// otherwise), else EISDIR for one.
Result<void> may_delete(const Credentials& cred, const Inode& dir, const Inode& victim,
                        bool want_dir);

// protected_hardlinks (fs.protected_hardlinks = 1, Debian's default): who
// does not own `inode` may link to it only if it is a regular file that is
// not set-id and that they may read and write. EPERM otherwise.
Result<void> may_link(const Credentials& cred, const Inode& inode);

// The owner, group and mode of a new inode of type and bits `mode`
// (umask already applied) in `dir`: a set-group-ID directory gives its
// group, and its S_ISGID to new directories (inode_init_owner); S_ISGID
// on a new non-directory stays only for members of its group or holders
// of CAP_FSETID.
NewInode new_inode_owner(const Credentials& cred, const Inode& dir, u32 mode);

// chmod: EPERM unless owner or CAP_FOWNER; returns the attribute change,
// with S_ISGID dropped when the caller is not in the file's group and
// lacks CAP_FSETID.
Result<SetAttr> prepare_chmod(const Credentials& cred, const Inode& inode, u32 mode);

// chown with -1 (u32 max) meaning "leave": changing the owner needs
// CAP_CHOWN (the owner may name itself); changing the group needs
// ownership and membership of the new group, or CAP_CHOWN. A
// non-directory loses S_ISUID, and S_ISGID if group-executable or the
// caller is outside its group (notify_change's kill bits, even for root).
Result<SetAttr> prepare_chown(const Credentials& cred, const Inode& inode, u32 uid, u32 gid);

// utimensat: `times` null means both now. Setting both to now needs
// ownership, write permission, or CAP_FOWNER/CAP_DAC_OVERRIDE (EACCES);
// any other choice (even one "now" and one UTIME_OMIT) needs ownership or
// CAP_FOWNER (EPERM). EINVAL for a bad tv_nsec. Returns an empty change
// (valid == 0) when both are UTIME_OMIT.
Result<SetAttr> prepare_utimens(const Credentials& cred, const Inode& inode, const Timespec* times);

// The set-id bits a write or truncate by `cred` removes (file_remove_privs):
// S_ISUID always, S_ISGID as for chown; none with CAP_FSETID.
// Returns the new mode, or nullopt when nothing changes.
std::optional<u32> mode_after_kill_priv(const Credentials& cred, const Inode& inode);

}  // namespace vk::fs
