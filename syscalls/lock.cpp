// File locks: flock(2) and fcntl's record-lock commands (F_GETLK, F_SETLK,
// F_SETLKW and the F_OFD_* forms). The locks themselves live in
// vkernel/locks.h; here are the argument checks of fs/locks.c, in Linux's
// order, and the interruptible wait.

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include "syscalls/syscalls.h"
#include "vkernel/kernel.h"
#include "vkernel/locks.h"
#include "vkernel/signal_delivery.h"
#include "vkernel/user_memory.h"

namespace vk::sys {

namespace {

// struct flock as x86-64 Linux lays it out (also struct flock64).
struct GuestFlock {
    i16 l_type;
    i16 l_whence;
    i64 l_start;
    i64 l_len;
    i32 l_pid;
    i32 pad;
};
static_assert(sizeof(GuestFlock) == 32);

LockManager& locks_for(Kernel& k) {
    LockManager& m = LockManager::global();
    m.set_waker([&k](WaitQueue& q) { k.wake_all(q); });
    return m;
}

struct Range {
    i64 start = 0;
    i64 end = kLockEof;
};

// flock64_to_posix_lock: l_whence/l_start/l_len to an inclusive range.
Result<Range> to_range(fs::File& f, const GuestFlock& l) {
    i64 base = 0;
    switch (l.l_whence) {
    case SEEK_SET: break;
    case SEEK_CUR: base = static_cast<i64>(f.offset()); break;
    case SEEK_END: base = static_cast<i64>(f.stat().size); break;
    default: return err(EINVAL);
    }
    if (l.l_start > kLockEof - base) return err(EOVERFLOW);
    Range r;
    r.start = base + l.l_start;
    if (r.start < 0) return err(EINVAL);
    if (l.l_len > 0) {
        if (l.l_len - 1 > kLockEof - r.start) return err(EOVERFLOW);
        r.end = r.start + (l.l_len - 1);
    } else if (l.l_len < 0) {
        if (r.start + l.l_len < 0) return err(EINVAL);
        r.end = r.start - 1;
        r.start += l.l_len;
    }
    if (l.l_type != F_RDLCK && l.l_type != F_WRLCK && l.l_type != F_UNLCK) return err(EINVAL);
    return r;
}

// Waits on the lock manager's queue until `attempt` stops failing with
// `busy`, unless `wait` is false. A signal ends the wait with
// ERESTARTSYS (EINTR, or a restart under SA_RESTART).
template <typename F>
Result<long> lock_wait(Task& t, LockManager& m, bool wait, int busy, F&& attempt) {
    for (;;) {
        Result<void> r = attempt();
        if (r) return 0;
        if (r.error().code != busy || !wait) return Unexpected{r.error()};
        if (t.kernel.sleep(t, &m.waiters(), std::nullopt) == WakeReason::kInterrupted)
            return err(kERestartSys);
    }
}

}  // namespace

Result<long> fcntl_lock(Task& task, fs::File& f, u64 cmd, u64 arg) {
    if (f.is_path()) return err(EBADF);
    GuestFlock l = VK_TRY(copy_in(task.mm(), UserPtr<GuestFlock>(arg)));
    const bool ofd = cmd == F_OFD_GETLK || cmd == F_OFD_SETLK || cmd == F_OFD_SETLKW;
    LockOwner owner;
    if (ofd) {
        owner = LockOwner{&f, LockClass::kOfd, -1};
    } else {
        owner = LockOwner{task.process->fds.get(), LockClass::kPosix, task.process->pid};
    }
    LockManager& m = locks_for(task.kernel);
    const LockKey key = &f.inode();

    if (cmd == F_GETLK || cmd == F_OFD_GETLK) {
        if (l.l_type != F_RDLCK && l.l_type != F_WRLCK) return err(EINVAL);
        const Range r = VK_TRY(to_range(f, l));
        if (ofd && l.l_pid != 0) return err(EINVAL);
        const auto held = m.test_record(key, owner, l.l_type, r.start, r.end);
        if (!held) {
            l.l_type = F_UNLCK;  // the rest stays as the caller gave it
        } else {
            l.l_type = held->type;
            l.l_whence = SEEK_SET;
            l.l_start = held->start;
            l.l_len = held->end == kLockEof ? 0 : held->end - held->start + 1;
            l.l_pid = held->owner.pid;
        }
        VK_TRY(copy_out(task.mm(), UserPtr<GuestFlock>(arg), l));
        return 0;
    }

    const Range r = VK_TRY(to_range(f, l));
    if (l.l_type == F_RDLCK && !f.readable()) return err(EBADF);
    if (l.l_type == F_WRLCK && !f.writable()) return err(EBADF);
    if (ofd && l.l_pid != 0) return err(EINVAL);
    const bool wait = cmd == F_SETLKW || cmd == F_OFD_SETLKW;
    Result<long> res = lock_wait(task, m, wait, EAGAIN, [&] {
        return m.set_record(key, owner, l.l_type, r.start, r.end, wait);
    });
    if (wait) m.stop_waiting(owner);
    return res;
}

Result<long> sys_flock(Task& task, const SyscallArgs& a) {
    auto f = VK_TRY(file_of(task, a[0]));
    if (f->is_path()) return err(EBADF);
    // LOCK_MAND is gone from Linux: it is accepted and ignored (flock_translate_cmd).
    constexpr int kLockMand = 32;
    if (a[1] & kLockMand) return 0;
    const int op = static_cast<int>(a[1]) & ~LOCK_NB;
    if (op != LOCK_SH && op != LOCK_EX && op != LOCK_UN) return err(EINVAL);
    const bool wait = !(a[1] & LOCK_NB);
    LockManager& m = locks_for(task.kernel);
    const LockOwner owner{f.get(), LockClass::kFlock, task.process->pid};
    return lock_wait(task, m, wait, EWOULDBLOCK,
                     [&] { return m.flock(&f->inode(), owner, op); });
}

}  // namespace vk::sys
