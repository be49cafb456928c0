#include "vkernel/futex.h"

#include <linux/futex.h>

#include <map>
#include <tuple>
#include <vector>

#include "vkernel/user_memory.h"

namespace vk {

namespace {

struct FutexKey {
    const void* space;  // a VmObject (shared) or an Mm (private)
    u64 offset;
    bool operator<(const FutexKey& o) const { return std::tie(space, offset) < std::tie(o.space, o.offset); }
    bool operator==(const FutexKey& o) const = default;
};

struct Waiter {
    Task* task;
    FutexKey key;
    u32 bitset;
    bool woken = false;
};

// All futex waiters of the kernel, guarded by the kernel lock.
struct FutexTable {
    std::multimap<FutexKey, Waiter*> waiters;
};

FutexTable& table() {
    static FutexTable t;
    return t;
}

Result<FutexKey> key_of(Mm& mm, u64 addr) {
    if (addr & 3) return err(EINVAL);
    const Region* r = mm.find(addr);
    if (!r) return err(EFAULT);
    if (r->shared) return FutexKey{r->object.get(), r->offset + (addr - r->start)};
    return FutexKey{&mm, addr};
}

struct Timespec {
    i64 sec, nsec;
};

}  // namespace

int futex_wake(Kernel& k, Mm& mm, u64 addr, int n, u32 bitset) {
    auto key = key_of(mm, addr);
    if (!key) return 0;
    auto& w = table().waiters;
    int woken = 0;
    for (auto it = w.lower_bound(key.value()); it != w.end() && it->first == key.value() && woken < n;) {
        Waiter* waiter = it->second;
        if (!(waiter->bitset & bitset)) {
            ++it;
            continue;
        }
        waiter->woken = true;
        it = w.erase(it);
        k.wake(*waiter->task);
        woken++;
    }
    return woken;
}

Result<long> do_futex(Task& t, u64 addr, int op, u32 val, u64 timeout_or_val2, u64 addr2,
                      u32 val3) {
    Kernel& k = t.kernel;
    Mm& mm = t.mm();
    const int cmd = op & FUTEX_CMD_MASK;
    const bool realtime = op & FUTEX_CLOCK_REALTIME;
    switch (cmd) {
    case FUTEX_WAIT:
    case FUTEX_WAIT_BITSET: {
        const u32 bitset = cmd == FUTEX_WAIT ? FUTEX_BITSET_MATCH_ANY : val3;
        if (bitset == 0) return err(EINVAL);
        std::optional<Clock::time_point> deadline;
        if (timeout_or_val2) {
            const auto ts = VK_TRY(copy_in(mm, UserPtr<Timespec>(timeout_or_val2)));
            if (ts.sec < 0 || ts.nsec < 0 || ts.nsec >= 1'000'000'000) return err(EINVAL);
            const auto d = std::chrono::seconds(ts.sec) + std::chrono::nanoseconds(ts.nsec);
            if (cmd == FUTEX_WAIT) {
                deadline = Clock::now() + std::chrono::duration_cast<Clock::duration>(d);
            } else if (realtime) {
                // An absolute CLOCK_REALTIME deadline, turned into a steady one.
                const auto now_rt = std::chrono::system_clock::now().time_since_epoch();
                deadline = Clock::now() + std::chrono::duration_cast<Clock::duration>(d - now_rt);
            } else {
                deadline = Clock::time_point(std::chrono::duration_cast<Clock::duration>(d));
            }
        }
        const FutexKey key = VK_TRY(key_of(mm, addr));
        const u32 cur = VK_TRY(copy_in(mm, UserPtr<u32>(addr)));
        if (cur != val) return err(EAGAIN);
        Waiter w{&t, key, bitset};
        auto it = table().waiters.emplace(key, &w);
        const WakeReason why = k.sleep(t, nullptr, deadline);
        if (!w.woken) {
            // Requeue may have moved us: find our entry wherever it is.
            auto& all = table().waiters;
            for (auto i = all.begin(); i != all.end(); ++i)
                if (i->second == &w) {
                    all.erase(i);
                    break;
                }
            (void)it;
            if (why == WakeReason::kTimedOut) return err(ETIMEDOUT);
            return err(EINTR);
        }
        return 0;
    }
    case FUTEX_WAKE:
        return futex_wake(k, mm, addr, static_cast<int>(val), FUTEX_BITSET_MATCH_ANY);
    case FUTEX_WAKE_BITSET:
        if (val3 == 0) return err(EINVAL);
        return futex_wake(k, mm, addr, static_cast<int>(val), val3);
    case FUTEX_REQUEUE:
    case FUTEX_CMP_REQUEUE: {
        const FutexKey key = VK_TRY(key_of(mm, addr));
        const FutexKey key2 = VK_TRY(key_of(mm, addr2));
        if (cmd == FUTEX_CMP_REQUEUE) {
            const u32 cur = VK_TRY(copy_in(mm, UserPtr<u32>(addr)));
            if (cur != val3) return err(EAGAIN);
        }
        const int nwake = static_cast<int>(val);
        const int nrequeue = static_cast<int>(timeout_or_val2);
        if (nwake < 0 || nrequeue < 0) return err(EINVAL);
        auto& w = table().waiters;
        std::vector<Waiter*> queue;  // in arrival order, taken out first
        for (auto it = w.lower_bound(key); it != w.end() && it->first == key;) {
            queue.push_back(it->second);
            it = w.erase(it);
        }
        int woken = 0, moved = 0;
        for (Waiter* waiter : queue) {
            if (woken < nwake) {
                waiter->woken = true;
                k.wake(*waiter->task);
                woken++;
                continue;
            }
            if (moved < nrequeue) {
                waiter->key = key2;
                moved++;
            }
            w.emplace(waiter->key, waiter);
        }
        return woken + moved;
    }
    case FUTEX_WAKE_OP:
    case FUTEX_LOCK_PI:
    case FUTEX_UNLOCK_PI:
    case FUTEX_TRYLOCK_PI:
    case FUTEX_WAIT_REQUEUE_PI:
    case FUTEX_CMP_REQUEUE_PI:
        return err(ENOSYS);
    default:
        return err(ENOSYS);
    }
}

}  // namespace vk
