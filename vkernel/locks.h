#pragma once

// Advisory file locks, keyed by inode: flock(2) locks, POSIX record locks
// (fcntl F_SETLK/F_SETLKW/F_GETLK) and open file description ("OFD")
// record locks (F_OFD_*), with Linux's semantics (fs/locks.c):
//
// * flock locks belong to an open file description: dup and fork share
//   them, and they go when its last descriptor closes. A conversion
//   (shared <-> exclusive) drops the old lock first, so a failed LOCK_NB
//   conversion leaves the file unlocked, as on Linux.
// * POSIX record locks belong to a descriptor table (Linux's
//   files_struct): fork does not pass them on, and closing ANY descriptor
//   of the file in that table drops all of them on that file. Ranges of one
//   owner are split and merged; F_GETLK reports the owner's pid.
// * OFD record locks are ranges like POSIX ones but belong to the open file
//   description, as flock locks do; they conflict with POSIX locks.
//   F_GETLK reports pid -1 for them.
//
// Nothing here sleeps: a conflicting request gets EAGAIN and the syscall
// layer sleeps on waiters() and retries; every release wakes that queue.
// A POSIX owner about to wait is recorded with the owner it waits for, so
// the two-owner (and longer) wait cycles are found (EDEADLK).
//
// Guarded by the kernel lock. The manager is one per host process
// (global()): its keys are inode addresses, unique while the inode lives,
// and every lock goes before its inode can (files hold their inodes).

#include <fcntl.h>

#include <functional>
#include <limits>
#include <map>
#include <optional>
#include <vector>

#include "base/result.h"
#include "base/types.h"
#include "vkernel/wait_queue.h"

namespace vk {

// The address of the locked fs::Inode (/proc/locks casts it back).
using LockKey = const void*;

// OFFSET_MAX: a range that runs to the end of the file (l_len 0).
inline constexpr i64 kLockEof = std::numeric_limits<i64>::max();

enum class LockClass : u8 { kPosix, kOfd, kFlock };

// Who holds a lock: a descriptor table (POSIX) or an open file description
// (OFD, flock). `pid` is what F_GETLK reports (-1 for OFD locks).
struct LockOwner {
    const void* id = nullptr;
    LockClass cls = LockClass::kPosix;
    i32 pid = 0;
    bool same(const LockOwner& o) const { return id == o.id && cls == o.cls; }
};

struct FileLock {
    LockOwner owner;
    short type = F_RDLCK;  // F_RDLCK or F_WRLCK
    i64 start = 0;         // first byte
    i64 end = kLockEof;    // last byte, inclusive
};

class LockManager {
public:
    LockManager() = default;
    LockManager(const LockManager&) = delete;
    LockManager& operator=(const LockManager&) = delete;

    // The manager of this host process. The first call also makes descriptor
    // closes and open-file releases drop locks (fs::FdTable and fs::File hooks).
    static LockManager& global();

    // ---- Record locks (POSIX and OFD owners) ----
    // F_SETLK: `type` F_RDLCK, F_WRLCK or F_UNLCK on [start, end]
    // (0 <= start <= end). EAGAIN when another owner's lock conflicts.
    // With `will_wait` (F_SETLKW) a POSIX owner is recorded as waiting for
    // the conflicting owner, or gets EDEADLK when that owner waits
    // (directly or along a chain) for it.
    Result<void> set_record(LockKey key, const LockOwner& owner, short type, i64 start, i64 end,
                            bool will_wait);
    // F_GETLK: the first lock of another owner that conflicts with `type`
    // on [start, end], or none.
    std::optional<FileLock> test_record(LockKey key, const LockOwner& owner, short type,
                                        i64 start, i64 end) const;

    // ---- flock ----
    // `op` LOCK_SH, LOCK_EX or LOCK_UN (without LOCK_NB). EWOULDBLOCK on
    // conflict (the caller waits and retries unless LOCK_NB).
    Result<void> flock(LockKey key, const LockOwner& owner, int op);

    // ---- Releases ----
    // A descriptor of `key` closed in descriptor table `table`: its POSIX locks go.
    void release_posix(LockKey key, const void* table);
    // The open file description `file` of `key` went away: its OFD and flock locks go.
    void release_file(LockKey key, const void* file);
    // The waiting POSIX owner stopped waiting (got its lock, or a signal).
    void stop_waiting(const LockOwner& owner);

    // Where lock waiters sleep; woken (through the waker) on every release.
    WaitQueue& waiters() { return waiters_; }
    // How to wake waiters() (the kernel's wake_all); until set, nothing is woken.
    void set_waker(std::function<void(WaitQueue&)> waker) { waker_ = std::move(waker); }

    // The locks held on `key`: record locks, then flock locks (for tests and /proc/locks).
    std::vector<FileLock> locks(LockKey key) const;
    // Every lock held, by inode: record locks, then flock locks (/proc/locks).
    void for_each(const std::function<void(LockKey, const FileLock&)>& f) const;
    bool empty() const { return records_.empty() && flocks_.empty(); }

private:
    void wake();

    std::map<LockKey, std::vector<FileLock>> records_;  // POSIX and OFD ranges
    std::map<LockKey, std::vector<FileLock>> flocks_;   // one per owner, whole file
    // POSIX owner -> the POSIX owner whose lock it waits for (deadlock check).
    std::map<const void*, const void*> waits_for_;
    WaitQueue waiters_;
    std::function<void(WaitQueue&)> waker_;
};

}  // namespace vk
