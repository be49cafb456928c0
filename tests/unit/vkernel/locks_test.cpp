// The lock manager alone: record-lock conflicts, split and merge, F_GETLK
// answers, POSIX vs OFD owners, flock conversion, releases, the deadlock
// chain and wakeups. The syscall side (fcntl, flock, close) is covered by
// tests/guest/file_locks.c against the host kernel.

#include "vkernel/locks.h"

#include <gtest/gtest.h>
#include <sys/file.h>

#include <string>

namespace vk {
namespace {

// Distinct addresses to stand for inodes, tables and files.
int inode_a, inode_b, table1, table2, table3, file1, file2;

const LockOwner kP1{&table1, LockClass::kPosix, 101};
const LockOwner kP2{&table2, LockClass::kPosix, 102};
const LockOwner kP3{&table3, LockClass::kPosix, 103};
const LockOwner kO1{&file1, LockClass::kOfd, -1};
const LockOwner kF1{&file1, LockClass::kFlock, 0};
const LockOwner kF2{&file2, LockClass::kFlock, 0};

// "R[0,9] W[20,eof]" for owner `o` on `key`.
std::string ranges(const LockManager& m, LockKey key, const LockOwner& o) {
    std::string s;
    for (const FileLock& l : m.locks(key)) {
        if (!l.owner.same(o)) continue;
        if (!s.empty()) s += ' ';
        s += l.type == F_RDLCK ? 'R' : 'W';
        s += '[' + std::to_string(l.start) + ',' +
             (l.end == kLockEof ? std::string("eof") : std::to_string(l.end)) + ']';
    }
    return s;
}

int code(const Result<void>& r) { return r ? 0 : r.error().code; }

TEST(Locks, ReadersShareWritersExclude) {
    LockManager m;
    EXPECT_EQ(code(m.set_record(&inode_a, kP1, F_RDLCK, 0, 99, false)), 0);
    EXPECT_EQ(code(m.set_record(&inode_a, kP2, F_RDLCK, 50, 149, false)), 0);
    EXPECT_EQ(code(m.set_record(&inode_a, kP2, F_WRLCK, 50, 149, false)), EAGAIN);
    // A failed upgrade leaves the old lock alone.
    EXPECT_EQ(ranges(m, &inode_a, kP2), "R[50,149]");
    EXPECT_EQ(code(m.set_record(&inode_a, kP2, F_WRLCK, 100, 149, false)), 0);
    EXPECT_EQ(ranges(m, &inode_a, kP2), "R[50,99] W[100,149]");
    // Another inode is another world.
    EXPECT_EQ(code(m.set_record(&inode_b, kP3, F_WRLCK, 0, kLockEof, false)), 0);
}

TEST(Locks, SplitAndMerge) {
    LockManager m;
    ASSERT_EQ(code(m.set_record(&inode_a, kP1, F_WRLCK, 0, kLockEof, false)), 0);
    ASSERT_EQ(code(m.set_record(&inode_a, kP1, F_UNLCK, 10, 19, false)), 0);
    EXPECT_EQ(ranges(m, &inode_a, kP1), "W[0,9] W[20,eof]");
    ASSERT_EQ(code(m.set_record(&inode_a, kP1, F_RDLCK, 5, 24, false)), 0);
    EXPECT_EQ(ranges(m, &inode_a, kP1), "W[0,4] R[5,24] W[25,eof]");
    // Touching same-type ranges merge; a different type splits.
    ASSERT_EQ(code(m.set_record(&inode_a, kP1, F_WRLCK, 5, 24, false)), 0);
    EXPECT_EQ(ranges(m, &inode_a, kP1), "W[0,eof]");
    ASSERT_EQ(code(m.set_record(&inode_a, kP1, F_UNLCK, 0, kLockEof, false)), 0);
    EXPECT_TRUE(m.empty());
    ASSERT_EQ(code(m.set_record(&inode_a, kP1, F_RDLCK, 0, 9, false)), 0);
    ASSERT_EQ(code(m.set_record(&inode_a, kP1, F_RDLCK, 10, 19, false)), 0);
    ASSERT_EQ(code(m.set_record(&inode_a, kP1, F_RDLCK, 30, 39, false)), 0);
    EXPECT_EQ(ranges(m, &inode_a, kP1), "R[0,19] R[30,39]");
    ASSERT_EQ(code(m.set_record(&inode_a, kP1, F_RDLCK, 20, 29, false)), 0);
    EXPECT_EQ(ranges(m, &inode_a, kP1), "R[0,39]");
}

TEST(Locks, TestReportsTheConflictingLock) {
    LockManager m;
    ASSERT_EQ(code(m.set_record(&inode_a, kP1, F_RDLCK, 10, 19, false)), 0);
    EXPECT_FALSE(m.test_record(&inode_a, kP2, F_RDLCK, 0, kLockEof));
    EXPECT_FALSE(m.test_record(&inode_a, kP1, F_WRLCK, 0, kLockEof));  // own locks never conflict
    EXPECT_FALSE(m.test_record(&inode_a, kP2, F_WRLCK, 20, 29));
    auto l = m.test_record(&inode_a, kP2, F_WRLCK, 15, 15);
    ASSERT_TRUE(l);
    EXPECT_EQ(l->owner.pid, 101);
    EXPECT_EQ(l->type, F_RDLCK);
    EXPECT_EQ(l->start, 10);
    EXPECT_EQ(l->end, 19);
}

TEST(Locks, OfdAndPosixConflictAndReleaseSeparately) {
    LockManager m;
    ASSERT_EQ(code(m.set_record(&inode_a, kO1, F_WRLCK, 0, 9, false)), 0);
    EXPECT_EQ(code(m.set_record(&inode_a, kP1, F_RDLCK, 5, 5, false)), EAGAIN);
    EXPECT_EQ(m.test_record(&inode_a, kP1, F_RDLCK, 0, 0)->owner.pid, -1);
    // Closing a descriptor drops POSIX locks only; the file's end drops OFD ones.
    m.release_posix(&inode_a, &table1);
    EXPECT_EQ(ranges(m, &inode_a, kO1), "W[0,9]");
    m.release_file(&inode_a, &file1);
    EXPECT_TRUE(m.empty());
    ASSERT_EQ(code(m.set_record(&inode_a, kP1, F_WRLCK, 0, 9, false)), 0);
    ASSERT_EQ(code(m.set_record(&inode_a, kP1, F_WRLCK, 20, 29, false)), 0);
    m.release_file(&inode_a, &table1);  // not an open file: nothing
    EXPECT_FALSE(m.empty());
    m.release_posix(&inode_a, &table1);
    EXPECT_TRUE(m.empty());
}

TEST(Locks, FlockConversionDropsFirst) {
    LockManager m;
    EXPECT_EQ(code(m.flock(&inode_a, kF1, LOCK_SH)), 0);
    EXPECT_EQ(code(m.flock(&inode_a, kF2, LOCK_SH)), 0);
    EXPECT_EQ(code(m.flock(&inode_a, kF2, LOCK_EX)), EWOULDBLOCK);
    // The failed conversion lost F2's shared lock, as on Linux.
    EXPECT_EQ(m.locks(&inode_a).size(), 1u);
    EXPECT_EQ(code(m.flock(&inode_a, kF1, LOCK_EX)), 0);
    EXPECT_EQ(code(m.flock(&inode_a, kF1, LOCK_EX)), 0);
    EXPECT_EQ(code(m.flock(&inode_a, kF2, LOCK_SH)), EWOULDBLOCK);
    // flock and record locks do not see each other.
    EXPECT_EQ(code(m.set_record(&inode_a, kP2, F_WRLCK, 0, kLockEof, false)), 0);
    EXPECT_EQ(code(m.flock(&inode_a, kF1, LOCK_UN)), 0);
    EXPECT_EQ(code(m.flock(&inode_a, kF2, LOCK_EX)), 0);
    m.release_file(&inode_a, &file2);
    m.release_posix(&inode_a, &table2);
    EXPECT_TRUE(m.empty());
}

TEST(Locks, DeadlockCycles) {
    LockManager m;
    ASSERT_EQ(code(m.set_record(&inode_a, kP1, F_WRLCK, 0, 0, false)), 0);
    ASSERT_EQ(code(m.set_record(&inode_a, kP2, F_WRLCK, 1, 1, false)), 0);
    ASSERT_EQ(code(m.set_record(&inode_a, kP3, F_WRLCK, 2, 2, false)), 0);
    // P2 waits for P1, P3 waits for P2: P1 asking for P3's byte closes the ring.
    EXPECT_EQ(code(m.set_record(&inode_a, kP2, F_WRLCK, 0, 0, true)), EAGAIN);
    EXPECT_EQ(code(m.set_record(&inode_a, kP3, F_WRLCK, 1, 1, true)), EAGAIN);
    EXPECT_EQ(code(m.set_record(&inode_a, kP1, F_WRLCK, 2, 2, true)), EDEADLK);
    EXPECT_EQ(code(m.set_record(&inode_a, kP1, F_WRLCK, 1, 1, true)), EDEADLK);
    // Without waiting there is no deadlock, only a conflict.
    EXPECT_EQ(code(m.set_record(&inode_a, kP1, F_WRLCK, 2, 2, false)), EAGAIN);
    // Once P2 stops waiting the chain is broken.
    m.stop_waiting(kP2);
    EXPECT_EQ(code(m.set_record(&inode_a, kP1, F_WRLCK, 1, 1, true)), EAGAIN);
    m.stop_waiting(kP1);
    // OFD waiters are not part of the check.
    EXPECT_EQ(code(m.set_record(&inode_a, kO1, F_WRLCK, 0, 0, true)), EAGAIN);
}

TEST(Locks, ReleasesWakeWaiters) {
    LockManager m;
    int woken = 0;
    m.set_waker([&](WaitQueue&) { woken++; });
    ASSERT_EQ(code(m.set_record(&inode_a, kP1, F_WRLCK, 0, 9, false)), 0);
    m.release_posix(&inode_a, &table1);
    EXPECT_EQ(woken, 0);  // nobody waits
    Task* fake = reinterpret_cast<Task*>(&file2);  // SAFETY: only compared, never used
    m.waiters().add(fake);
    ASSERT_EQ(code(m.set_record(&inode_a, kP1, F_WRLCK, 0, 9, false)), 0);
    EXPECT_EQ(woken, 0);  // taking a lock frees nothing
    ASSERT_EQ(code(m.set_record(&inode_a, kP1, F_RDLCK, 0, 9, false)), 0);
    EXPECT_EQ(woken, 1);  // a downgrade may
    m.release_posix(&inode_a, &table1);
    EXPECT_EQ(woken, 2);
    ASSERT_EQ(code(m.flock(&inode_a, kF1, LOCK_EX)), 0);
    m.release_file(&inode_a, &file1);
    EXPECT_EQ(woken, 3);
    m.waiters().remove(fake);
}

}  // namespace
}  // namespace vk
