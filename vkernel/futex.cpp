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

namespace {

// Linux's handle_futex_death for a non-PI futex word at `addr`.
void futex_death(Kernel& k, Mm& mm, u64 addr, u32 tid, bool pending) {
    if (addr & 3) return;
    // The word changes under us only by guest atomics: compare-and-swap it
    // in place, through the frame, as the guest's own lock code would.
    if (!mm.fault(addr, Access::kWrite)) return;
    const auto pte = mm.space().extract(page_round_down(addr));
    if (!pte || !(pte->prot & pmap::kProtWrite)) return;
    // SAFETY: addr is 4-byte aligned, so the word lies inside this frame,
    // which the page table maps writable to this process.
    auto* word = reinterpret_cast<u32*>(mm.frames().memory().host(pte->frame) + (addr & (kPageSize - 1)));
    u32 uval = __atomic_load_n(word, __ATOMIC_SEQ_CST);
    for (;;) {
        // A lock dropped (word 0) while its unlock was pending may have
        // left a waiter asleep: wake one (Linux's special case).
        if (pending && uval == 0) {
            futex_wake(k, mm, addr, 1, FUTEX_BITSET_MATCH_ANY);
            return;
        }
        if ((uval & FUTEX_TID_MASK) != tid) return;
        const u32 mval = (uval & FUTEX_WAITERS) | FUTEX_OWNER_DIED;
        if (__atomic_compare_exchange_n(word, &uval, mval, false, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST))
            break;
    }
    if (uval & FUTEX_WAITERS) futex_wake(k, mm, addr, 1, FUTEX_BITSET_MATCH_ANY);
}

}  // namespace

void exit_robust_list(Kernel& k, Task& t) {
    const u64 head = t.robust_list;
    t.robust_list = 0;
    if (!head || !t.process || !t.process->mm) return;
    Mm& mm = *t.process->mm;
    // struct robust_list_head { list.next; long futex_offset; list_op_pending; }
    u64 h[3];
    if (!copy_in_bytes(mm, head, h, sizeof h)) return;
    const i64 offset = static_cast<i64>(h[1]);
    // Bit 0 of each pointer marks a PI futex, which we do not have.
    const u64 pending = h[2] & ~u64{1};
    const bool pending_pi = h[2] & 1;
    u64 entry = h[0];
    const u32 tid = static_cast<u32>(t.tid);
    for (int limit = 2048; (entry & ~u64{1}) != head && limit > 0; limit--) {
        u64 next = 0;
        const bool pi = entry & 1;
        entry &= ~u64{1};
        if (!copy_in_bytes(mm, entry, &next, sizeof next)) return;
        if (entry != pending && !pi) futex_death(k, mm, entry + static_cast<u64>(offset), tid, false);
        entry = next;
    }
    if (pending && !pending_pi) futex_death(k, mm, pending + static_cast<u64>(offset), tid, true);
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
