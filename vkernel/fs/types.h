#pragma once

// Vocabulary of the VFS: limits, time stamps, credentials, stat results and
// attribute changes.
//
// Open flags, AT_* flags, S_IF* modes, RENAME_* and FALLOC_FL_* are the
// host's <fcntl.h>/<sys/stat.h> values: the host and the guest are both
// x86-64 Linux, so they are the guest ABI too (checked below).
//
// Locking (the whole fs/ folder): every object here is guarded by the one
// big kernel lock. Callers hold it across each call; nothing in fs/ blocks
// the host thread or switches fibers.

#include <fcntl.h>
#include <linux/capability.h>
#include <sys/stat.h>

#include <compare>
#include <vector>

#include "base/types.h"

namespace vk::fs {

inline constexpr u64 kNameMax = 255;      // NAME_MAX: longest path component
inline constexpr u64 kPathMax = 4096;     // PATH_MAX, counting the NUL
inline constexpr int kMaxSymlinks = 40;   // MAXSYMLINKS: links followed per lookup
inline constexpr u64 kMaxFileSize = static_cast<u64>(INT64_MAX);  // MAX_LFS_FILESIZE

// The kernel's O_LARGEFILE: 64-bit processes get it on every open and see
// it in F_GETFL. (glibc defines O_LARGEFILE as 0 on x86-64.)
inline constexpr int kOLargefile = 0100000;

// __O_TMPFILE alone (O_TMPFILE includes O_DIRECTORY).
inline constexpr int kOTmpfileBit = O_TMPFILE & ~O_DIRECTORY;

static_assert(O_CREAT == 0100 && O_EXCL == 0200 && O_TRUNC == 01000 && O_APPEND == 02000 &&
                  O_NONBLOCK == 04000 && O_DIRECTORY == 0200000 && O_NOFOLLOW == 0400000 &&
                  O_CLOEXEC == 02000000 && O_PATH == 010000000 && O_TMPFILE == 020200000,
              "open flags must be the x86-64 Linux ABI values");
static_assert(AT_FDCWD == -100 && AT_SYMLINK_NOFOLLOW == 0x100 && AT_REMOVEDIR == 0x200 &&
                  AT_SYMLINK_FOLLOW == 0x400 && AT_EMPTY_PATH == 0x1000 && AT_EACCESS == 0x200,
              "AT_* flags must be the x86-64 Linux ABI values");

// A point in time as struct timespec carries it.
struct Timespec {
    i64 sec = 0;
    i64 nsec = 0;
    friend constexpr auto operator<=>(const Timespec&, const Timespec&) = default;
};

// utimensat(2)'s special tv_nsec values.
inline constexpr i64 kUtimeNow = (1L << 30) - 1;
inline constexpr i64 kUtimeOmit = (1L << 30) - 2;

// The current CLOCK_REALTIME (what Linux's current_time() gives inodes).
Timespec now();

// The identity a file-system operation is checked against: Linux's fsuid,
// fsgid, supplementary groups and effective capabilities (CAP_* numbers).
struct Credentials {
    u32 uid = 0;
    u32 gid = 0;
    std::vector<u32> groups;
    u64 caps = 0;

    // uid 0 with every capability, as init starts.
    static Credentials root();
    // An unprivileged user: no capabilities.
    static Credentials user(u32 uid, u32 gid, std::vector<u32> groups = {});

    bool capable(int cap) const { return cap >= 0 && cap < 64 && (caps >> cap) & 1; }
    // Whether `g` is the fsgid or a supplementary group (in_group_p).
    bool in_group(u32 g) const;
};

// stat(2)/statx(2) results, before the syscall layer lays them out.
struct Stat {
    u64 dev = 0;
    u64 ino = 0;
    u32 mode = 0;
    u64 nlink = 0;
    u32 uid = 0;
    u32 gid = 0;
    u64 rdev = 0;
    u64 size = 0;
    u64 blksize = kPageSize;
    u64 blocks = 0;  // 512-byte units allocated
    Timespec atime, mtime, ctime, btime;
    u64 mount_id = 0;  // statx's stx_mnt_id
};

// statfs(2) results.
struct StatFs {
    u64 type = 0;     // magic, e.g. TMPFS_MAGIC
    u64 bsize = kPageSize;
    u64 blocks = 0, bfree = 0, bavail = 0;
    u64 files = 0, ffree = 0;
    u64 fsid = 0;
    u64 namelen = kNameMax;
    u64 frsize = kPageSize;
    u64 flags = 0;    // ST_* from the mount (ST_RDONLY, ST_NOSUID ...)
};

// Which attributes a SetAttr changes.
inline constexpr u32 kAttrMode = 1u << 0;
inline constexpr u32 kAttrUid = 1u << 1;
inline constexpr u32 kAttrGid = 1u << 2;
inline constexpr u32 kAttrSize = 1u << 3;
inline constexpr u32 kAttrAtime = 1u << 4;
inline constexpr u32 kAttrMtime = 1u << 5;
inline constexpr u32 kAttrCtime = 1u << 6;

// An attribute change already decided by the VFS (permissions checked,
// set-id bits computed). A filesystem applies it as given.
struct SetAttr {
    u32 valid = 0;  // kAttr* bits
    u32 mode = 0;   // permission bits only (07777); the file type never changes
    u32 uid = 0, gid = 0;
    u64 size = 0;
    Timespec atime, mtime, ctime;
};

// What a new inode starts with: type and permission bits, owner and device
// number (special files). The VFS fills it in (umask applied,
// set-group-ID directories honoured).
struct NewInode {
    u32 mode = 0;
    u32 uid = 0, gid = 0;
    u64 rdev = 0;
};

// d_type of getdents64 for a mode.
constexpr u8 dirent_type(u32 mode) { return static_cast<u8>((mode & S_IFMT) >> 12); }

}  // namespace vk::fs
