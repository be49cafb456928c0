#pragma once

// Differential testing against the host kernel: a script of file-system
// operations runs in a fresh directory on the host's tmpfs (/dev/shm), in
// a forked child chrooted there with the script's credentials, and in the
// same layout on our tmpfs, chrooted alike, with simulated credentials. The errno of every operation (and
// what a successful stat, open or readlink reports) must match, and so
// must the trees left behind.
//
// Acting as several users needs root on the host; without it, or without
// a tmpfs at /dev/shm, unavailable() says why and the tests skip.

#include <string>
#include <vector>

#include "fs_test_util.h"

namespace vk::fs::test {

struct Op {
    enum Kind {
        kOpen,      // a, flags, mode
        kMkdir,     // a, mode
        kMknod,     // a, mode (with type), num = dev
        kRmdir,     // a
        kUnlink,    // a
        kRename,    // a -> b, flags (renameat2)
        kLink,      // a -> b, flags (AT_SYMLINK_FOLLOW)
        kSymlink,   // target a, at b
        kChmod,     // a, mode, flags (AT_SYMLINK_NOFOLLOW only with fchmodat2)
        kChown,     // a, mode = uid, gid, flags
        kTruncate,  // a, num
        kStat,      // a, flags
        kAccess,    // a, flags = mode, num = at flags
        kReadlink,  // a
        kUtimes,    // a, num = seconds (both times), or -1 for "now"
        kWrite,     // a opened with flags (| O_WRONLY), write b
        kPwrite,    // a opened O_WRONLY | flags, pwrite b at num
        kFallocate, // a opened O_RDWR, fallocate(mode = flags, offset num, length `mode`)
        kSeek,      // a opened O_RDONLY, lseek(num, whence = flags)
    };
    Kind kind;
    std::string a, b;
    int flags = 0;
    u32 mode = 0;
    u32 gid = 0;
    i64 num = 0;
    std::string describe() const;
};

Op op_open(std::string p, int flags, u32 mode = 0644);
Op op_mkdir(std::string p, u32 mode = 0755);
Op op_mknod(std::string p, u32 mode, i64 dev = 0);
Op op_rmdir(std::string p);
Op op_unlink(std::string p);
Op op_rename(std::string a, std::string b, int flags = 0);
Op op_link(std::string a, std::string b, int flags = 0);
Op op_symlink(std::string target, std::string p);
Op op_chmod(std::string p, u32 mode);
Op op_chown(std::string p, u32 uid, u32 gid, int flags = 0);
Op op_truncate(std::string p, i64 len);
Op op_stat(std::string p, int flags = 0);
Op op_access(std::string p, int mode, int at_flags = 0);
Op op_readlink(std::string p);
Op op_utimes(std::string p, i64 sec);
Op op_write(std::string p, std::string data, int flags = 0);
Op op_pwrite(std::string p, std::string data, i64 offset, int flags = 0);
Op op_fallocate(std::string p, int mode, i64 offset, u32 len);
Op op_seek(std::string p, i64 offset, int whence);

// Who runs a script.
struct Who {
    u32 uid = 0;
    u32 gid = 0;
    std::vector<u32> groups;
    bool root() const { return uid == 0; }
};
inline const Who kAsRoot{};

class HostCompare {
public:
    // Empty when the host can take part; else the reason it cannot.
    static std::string unavailable();

    HostCompare();
    ~HostCompare();
    HostCompare(const HostCompare&) = delete;
    HostCompare& operator=(const HostCompare&) = delete;

    // Results, one line per op.
    std::vector<std::string> run_host(const std::vector<Op>& ops, const Who& who);
    std::vector<std::string> run_ours(const std::vector<Op>& ops, const Who& who);
    // Every entry below the work directory's parent: path, type, mode,
    // links, size, owner, link target.
    std::string tree_host() const;
    std::string tree_ours();

    // Runs `setup` as root and `script` as `who` on both sides; reports
    // every difference. Returns false if any.
    bool same(const std::vector<Op>& setup, const std::vector<Op>& script, const Who& who);

private:
    std::string base_;  // host: /dev/shm/vkfs-XXXXXX, the child's root; scripts run in /w
    World w_;
    FsContext fs_;      // ours: root /t, cwd /t/w
};

}  // namespace vk::fs::test
