// poll, ppoll, select, pselect6: readiness of many files at once. A task
// waits on every file's wait queue (host fds through the reactor) and
// re-checks when any of them changes, as Linux's do_poll does.

#include <poll.h>
#include <sys/select.h>

#include <algorithm>
#include <vector>

#include "syscalls/syscalls.h"
#include "vkernel/files.h"
#include "vkernel/kernel.h"
#include "vkernel/signal_delivery.h"
#include "vkernel/user_memory.h"

namespace vk::sys {

namespace {

constexpr u64 kMaxPollFds = 1024 * 1024;  // bounded by RLIMIT_NOFILE in Linux

struct PollFd {
    i32 fd;
    i16 events;
    i16 revents;
};

struct Timespec {
    i64 sec, nsec;
};

struct Timeval {
    i64 sec, usec;
};

// One round over `fds`: fills revents, returns how many are ready.
int scan(Task& t, std::vector<PollFd>& fds) {
    int ready = 0;
    for (auto& p : fds) {
        p.revents = 0;
        if (p.fd < 0) continue;
        auto f = t.process->fds->get(p.fd);
        if (!f) {
            p.revents = POLLNVAL;
        } else {
            const u32 m = f.value()->poll();
            p.revents = static_cast<i16>(m & (static_cast<u16>(p.events) | POLLERR | POLLHUP | POLLNVAL));
        }
        if (p.revents) ready++;
    }
    return ready;
}

// Waits until a file in `fds` may have changed, the deadline passes or a
// signal comes. Returns false on a signal.
bool wait_any(Task& t, const std::vector<PollFd>& fds, std::optional<Clock::time_point> deadline,
              bool* timed_out) {
    std::vector<WaitQueue*> queues;
    std::vector<std::pair<int, short>> host;
    for (const auto& p : fds) {
        if (p.fd < 0) continue;
        auto f = t.process->fds->get(p.fd);
        if (!f) continue;
        auto* ops = dynamic_cast<BlockingOps*>(&f.value()->ops());
        if (!ops) continue;
        if (ops->host_fd() >= 0) host.emplace_back(ops->host_fd(), p.events);
        else if (WaitQueue* q = ops->queue()) queues.push_back(q);
    }
    const WakeReason why = wait_on_any(t, std::move(queues), host, deadline);
    *timed_out = why == WakeReason::kTimedOut;
    return why != WakeReason::kInterrupted;
}

// The core of all four calls.
Result<int> do_poll(Task& t, std::vector<PollFd>& fds, std::optional<Clock::time_point> deadline) {
    for (;;) {
        const int n = scan(t, fds);
        if (n > 0) return n;
        if (deadline && *deadline <= Clock::now()) return 0;
        bool timed_out = false;
        if (!wait_any(t, fds, deadline, &timed_out)) return err(EINTR);
        if (timed_out) return scan(t, fds);
    }
}

std::optional<Clock::time_point> deadline_in(i64 sec, i64 nsec) {
    return Clock::now() + std::chrono::seconds(sec) + std::chrono::nanoseconds(nsec);
}

}  // namespace

Result<long> sys_poll(Task& task, const SyscallArgs& a) {
    const u64 n = a[1];
    if (n > kMaxPollFds) return err(EINVAL);
    std::vector<PollFd> fds(n);
    VK_TRY(copy_in_bytes(task.mm(), a[0], fds.data(), n * sizeof(PollFd)));
    const i64 ms = static_cast<int>(a[2]);
    std::optional<Clock::time_point> deadline;
    if (ms >= 0) deadline = deadline_in(ms / 1000, (ms % 1000) * 1'000'000);
    auto r = do_poll(task, fds, deadline);
    if (!r) return err(kERestartNoHand);
    VK_TRY(copy_out_bytes(task.mm(), a[0], fds.data(), n * sizeof(PollFd)));
    return r.value();
}

Result<long> sys_ppoll(Task& task, const SyscallArgs& a) {
    const u64 n = a[1];
    if (n > kMaxPollFds) return err(EINVAL);
    std::vector<PollFd> fds(n);
    VK_TRY(copy_in_bytes(task.mm(), a[0], fds.data(), n * sizeof(PollFd)));
    std::optional<Clock::time_point> deadline;
    if (a[2]) {
        const auto ts = VK_TRY(copy_in(task.mm(), UserPtr<Timespec>(a[2])));
        if (ts.sec < 0 || ts.nsec < 0 || ts.nsec >= 1'000'000'000) return err(EINVAL);
        deadline = deadline_in(ts.sec, ts.nsec);
    }
    VK_TRY(set_wait_sigmask(task, a[3], a[4]));
    auto r = do_poll(task, fds, deadline);
    end_wait_sigmask(task, !r);
    if (!r) return err(kERestartNoHand);
    VK_TRY(copy_out_bytes(task.mm(), a[0], fds.data(), n * sizeof(PollFd)));
    return r.value();
}

namespace {

// select's fd_sets as poll requests and back.
Result<long> do_select(Task& t, u64 nfds, u64 rd, u64 wr, u64 ex,
                       std::optional<Clock::time_point> deadline) {
    if (nfds > FD_SETSIZE * 64) return err(EINVAL);
    const u64 words = (nfds + 63) / 64;
    std::vector<u64> in[3];
    const u64 addrs[3] = {rd, wr, ex};
    for (int i = 0; i < 3; i++) {
        in[i].assign(words, 0);
        if (addrs[i]) VK_TRY(copy_in_bytes(t.mm(), addrs[i], in[i].data(), words * 8));
    }
    std::vector<PollFd> fds;
    for (u64 fd = 0; fd < nfds; fd++) {
        const u64 bit = 1ULL << (fd % 64);
        short ev = 0;
        if (in[0][fd / 64] & bit) ev |= POLLIN;
        if (in[1][fd / 64] & bit) ev |= POLLOUT;
        if (in[2][fd / 64] & bit) ev |= POLLPRI;
        if (!ev) continue;
        if (!t.process->fds->get(static_cast<int>(fd))) return err(EBADF);
        fds.push_back({static_cast<i32>(fd), ev, 0});
    }
    auto r = do_poll(t, fds, deadline);
    if (!r) return err(kERestartNoHand);
    std::vector<u64> out[3];
    for (auto& o : out) o.assign(words, 0);
    long count = 0;
    for (const auto& p : fds) {
        const u64 bit = 1ULL << (p.fd % 64);
        const u64 w = static_cast<u64>(p.fd) / 64;
        if ((p.events & POLLIN) && (p.revents & (POLLIN | POLLHUP | POLLERR))) { out[0][w] |= bit; count++; }
        if ((p.events & POLLOUT) && (p.revents & (POLLOUT | POLLERR))) { out[1][w] |= bit; count++; }
        if ((p.events & POLLPRI) && (p.revents & POLLPRI)) { out[2][w] |= bit; count++; }
    }
    for (int i = 0; i < 3; i++)
        if (addrs[i]) VK_TRY(copy_out_bytes(t.mm(), addrs[i], out[i].data(), words * 8));
    return count;
}

}  // namespace

Result<long> sys_select(Task& task, const SyscallArgs& a) {
    std::optional<Clock::time_point> deadline;
    if (a[4]) {
        const auto tv = VK_TRY(copy_in(task.mm(), UserPtr<Timeval>(a[4])));
        if (tv.sec < 0 || tv.usec < 0 || tv.usec >= 1'000'000) return err(EINVAL);
        deadline = deadline_in(tv.sec, tv.usec * 1000);
    }
    return do_select(task, a[0], a[1], a[2], a[3], deadline);
}

Result<long> sys_pselect6(Task& task, const SyscallArgs& a) {
    std::optional<Clock::time_point> deadline;
    if (a[4]) {
        const auto ts = VK_TRY(copy_in(task.mm(), UserPtr<Timespec>(a[4])));
        if (ts.sec < 0 || ts.nsec < 0 || ts.nsec >= 1'000'000'000) return err(EINVAL);
        deadline = deadline_in(ts.sec, ts.nsec);
    }
    if (a[5]) {
        struct {
            u64 set, size;
        } sig{};
        VK_TRY(copy_in_bytes(task.mm(), a[5], &sig, sizeof sig));
        VK_TRY(set_wait_sigmask(task, sig.set, sig.size));
    }
    auto r = do_select(task, a[0], a[1], a[2], a[3], deadline);
    end_wait_sigmask(task, !r);
    return r;
}

}  // namespace vk::sys
