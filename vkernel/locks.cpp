// Advisory file locks: the record-lock list with Linux's split and merge
// (posix_lock_inode), flock with its drop-then-take conversion
// (flock_lock_inode), and the wait-for chain of posix_locks_deadlock.

#include "vkernel/locks.h"

#include <sys/file.h>

#include <algorithm>

#include "base/assert.h"
#include "vkernel/fs/fd_table.h"
#include "vkernel/fs/file.h"

namespace vk {

namespace {

// Linux gives up walking a wait-for chain after this many steps
// (MAX_DEADLK_ITERATIONS).
constexpr int kMaxDeadlockSteps = 10;

bool overlaps(const FileLock& l, i64 start, i64 end) { return l.start <= end && start <= l.end; }

bool conflicts(const FileLock& held, const LockOwner& owner, short type, i64 start, i64 end) {
    if (held.owner.same(owner)) return false;
    if (!overlaps(held, start, end)) return false;
    return held.type == F_WRLCK || type == F_WRLCK;
}

// Ranges [a] and [b] overlap or touch (b starts right after a ends, or the reverse).
bool touches(const FileLock& a, const FileLock& b) {
    if (overlaps(a, b.start, b.end)) return true;
    if (a.end < b.start) return b.start - a.end == 1;
    return a.start - b.end == 1;
}

}  // namespace

LockManager& LockManager::global() {
    static LockManager* manager = [] {
        fs::FdTable::set_close_hook([](const fs::FdTable& table, fs::File& file) {
            global().release_posix(&file.inode(), &table);
        });
        fs::File::set_release_hook(
            [](fs::File& file) { global().release_file(&file.inode(), &file); });
        return new LockManager;  // never freed: hooks may run during static destruction
    }();
    return *manager;
}

void LockManager::wake() {
    if (waker_ && !waiters_.empty()) waker_(waiters_);
}

Result<void> LockManager::set_record(LockKey key, const LockOwner& owner, short type, i64 start,
                                     i64 end, bool will_wait) {
    VK_ASSERT(start >= 0 && start <= end);
    std::vector<FileLock>& list = records_[key];
    if (type != F_UNLCK) {
        for (const FileLock& l : list) {
            if (!conflicts(l, owner, type, start, end)) continue;
            if (will_wait && owner.cls == LockClass::kPosix && l.owner.cls == LockClass::kPosix) {
                // Would the owner we wait for, or whom it waits for, wait for us?
                const void* who = l.owner.id;
                for (int i = 0; i < kMaxDeadlockSteps; ++i) {
                    auto it = waits_for_.find(who);
                    if (it == waits_for_.end()) break;
                    who = it->second;
                    if (who == owner.id) {
                        if (list.empty()) records_.erase(key);
                        return err(EDEADLK);
                    }
                }
                waits_for_[owner.id] = l.owner.id;
            }
            if (list.empty()) records_.erase(key);
            return err(EAGAIN);
        }
    }
    // Take [start, end] out of the owner's locks, keeping what lies outside.
    std::vector<FileLock> out;
    out.reserve(list.size() + 2);
    bool changed = false;
    for (const FileLock& l : list) {
        if (!l.owner.same(owner) || !overlaps(l, start, end)) {
            out.push_back(l);
            continue;
        }
        changed = true;
        if (l.start < start) out.push_back(FileLock{l.owner, l.type, l.start, start - 1});
        if (l.end > end) out.push_back(FileLock{l.owner, l.type, end + 1, l.end});
    }
    if (type != F_UNLCK) {
        // The new lock swallows the owner's same-type locks it overlaps or touches.
        FileLock add{owner, type, start, end};
        std::vector<FileLock> kept;
        kept.reserve(out.size() + 1);
        for (const FileLock& l : out) {
            if (l.owner.same(owner) && l.type == type && touches(l, add)) {
                add.start = std::min(add.start, l.start);
                add.end = std::max(add.end, l.end);
            } else {
                kept.push_back(l);
            }
        }
        // Keep each owner's locks in order of their start.
        auto pos = std::find_if(kept.begin(), kept.end(), [&](const FileLock& l) {
            return l.owner.same(owner) && l.start > add.start;
        });
        kept.insert(pos, add);
        out = std::move(kept);
    }
    list = std::move(out);
    if (list.empty()) records_.erase(key);
    // An unlock or a downgrade may let a waiter in.
    if (changed) wake();
    return {};
}

std::optional<FileLock> LockManager::test_record(LockKey key, const LockOwner& owner, short type,
                                                 i64 start, i64 end) const {
    auto it = records_.find(key);
    if (it == records_.end()) return std::nullopt;
    for (const FileLock& l : it->second)
        if (conflicts(l, owner, type, start, end)) return l;
    return std::nullopt;
}

Result<void> LockManager::flock(LockKey key, const LockOwner& owner, int op) {
    std::vector<FileLock>& list = flocks_[key];
    const short type = op == LOCK_SH ? F_RDLCK : F_WRLCK;
    auto mine = std::find_if(list.begin(), list.end(),
                             [&](const FileLock& l) { return l.owner.same(owner); });
    if (mine != list.end()) {
        if (op != LOCK_UN && mine->type == type) return {};
        // Linux drops the old lock before it tries for the new one.
        list.erase(mine);
        wake();
    }
    Result<void> r{};
    if (op != LOCK_UN) {
        const bool busy = std::any_of(list.begin(), list.end(), [&](const FileLock& l) {
            return l.type == F_WRLCK || type == F_WRLCK;
        });
        if (busy)
            r = err(EWOULDBLOCK);
        else
            list.push_back(FileLock{owner, type, 0, kLockEof});
    }
    if (list.empty()) flocks_.erase(key);
    return r;
}

void LockManager::release_posix(LockKey key, const void* table) {
    auto it = records_.find(key);
    if (it == records_.end()) return;
    const auto n = std::erase_if(it->second, [&](const FileLock& l) {
        return l.owner.cls == LockClass::kPosix && l.owner.id == table;
    });
    if (it->second.empty()) records_.erase(it);
    if (n) wake();
}

void LockManager::release_file(LockKey key, const void* file) {
    u64 n = 0;
    if (auto it = records_.find(key); it != records_.end()) {
        n += std::erase_if(it->second, [&](const FileLock& l) {
            return l.owner.cls == LockClass::kOfd && l.owner.id == file;
        });
        if (it->second.empty()) records_.erase(it);
    }
    if (auto it = flocks_.find(key); it != flocks_.end()) {
        n += std::erase_if(it->second, [&](const FileLock& l) { return l.owner.id == file; });
        if (it->second.empty()) flocks_.erase(it);
    }
    if (n) wake();
}

void LockManager::stop_waiting(const LockOwner& owner) {
    if (owner.cls == LockClass::kPosix) waits_for_.erase(owner.id);
}

std::vector<FileLock> LockManager::locks(LockKey key) const {
    std::vector<FileLock> out;
    if (auto it = records_.find(key); it != records_.end())
        out.insert(out.end(), it->second.begin(), it->second.end());
    if (auto it = flocks_.find(key); it != flocks_.end())
        out.insert(out.end(), it->second.begin(), it->second.end());
    return out;
}

void LockManager::for_each(const std::function<void(LockKey, const FileLock&)>& f) const {
    for (const auto* table : {&records_, &flocks_})
        for (const auto& [key, list] : *table)
            for (const FileLock& l : list) f(key, l);
}

}  // namespace vk
