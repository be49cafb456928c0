#pragma once

// FdTable: a process's file descriptors (Linux's files_struct): each
// maps to an open file description (shared_ptr<File>) plus the per-
// descriptor close-on-exec flag. fork gets a copy (clone()); threads made
// with CLONE_FILES share one table through a shared_ptr. Guarded by the
// kernel lock.
//
// Limits come from the caller: `limit` is the process's RLIMIT_NOFILE
// soft limit; every descriptor handed out is below it.

#include <functional>
#include <memory>
#include <vector>

#include "base/result.h"
#include "vkernel/fs/file.h"

namespace vk::fs {

class FdTable {
public:
    FdTable() = default;
    ~FdTable();
    FdTable(const FdTable&) = delete;
    FdTable& operator=(const FdTable&) = delete;

    // The lowest free descriptor >= min_fd and < limit gets `file`.
    // EMFILE when there is none.
    Result<int> install(std::shared_ptr<File> file, bool cloexec, u64 limit, int min_fd = 0);
    // The open file description behind `fd`, or EBADF.
    Result<std::shared_ptr<File>> get(int fd) const;
    Result<bool> cloexec(int fd) const;
    Result<void> set_cloexec(int fd, bool on);

    // close(2): frees `fd` and hands back its File, so the caller decides
    // where the last reference drops (and can release record locks).
    Result<std::shared_ptr<File>> close(int fd);
    // dup(2): the lowest free descriptor; EBADF, EMFILE.
    Result<int> dup(int fd, u64 limit);
    // fcntl(F_DUPFD / F_DUPFD_CLOEXEC): the lowest free descriptor >=
    // min_fd; EINVAL when min_fd is negative or >= limit.
    Result<int> dup_min(int fd, int min_fd, bool cloexec, u64 limit);
    // dup2(2): newfd == oldfd returns it if valid; otherwise newfd is
    // closed first (silently). EBADF for a bad oldfd or newfd >= limit.
    Result<int> dup2(int oldfd, int newfd, u64 limit);
    // dup3(2): flags 0 or O_CLOEXEC (EINVAL otherwise); EINVAL when equal.
    Result<int> dup3(int oldfd, int newfd, int flags, u64 limit);
    // close_range(2) with flags 0 or CLOSE_RANGE_CLOEXEC (EINVAL for
    // first > last or other flags). CLOSE_RANGE_UNSHARE is accepted: the
    // caller unshares (clones) the table before calling.
    Result<void> close_range(u32 first, u32 last, u32 flags);

    // For fork: a table with the same descriptors and flags, sharing the
    // open file descriptions.
    std::unique_ptr<FdTable> clone() const;
    // For execve: closes every close-on-exec descriptor.
    void close_on_exec();

    // Open descriptors, in increasing order (for /proc/PID/fd).
    void for_each(const std::function<void(int fd, const std::shared_ptr<File>&, bool cloexec)>& f) const;
    // How many descriptors are open.
    u64 count() const;

    // Called for every descriptor a table closes (close, dup2/dup3 over it,
    // close_range, close-on-exec, the table's end) with the table and the
    // File: POSIX record locks belong to a table and go when any of its
    // descriptors of their file closes. Set once, by the lock manager.
    using CloseHook = void (*)(const FdTable& table, File& file);
    static void set_close_hook(CloseHook hook);

private:
    struct Entry {
        std::shared_ptr<File> file;
        bool cloexec = false;
    };
    void put(int fd, std::shared_ptr<File> file, bool cloexec);

    std::vector<Entry> fds_;  // index = fd; a null file is a free slot
};

}  // namespace vk::fs
