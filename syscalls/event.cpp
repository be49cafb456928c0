// eventfd and epoll: the files live in vkernel/eventfd.* and vkernel/epoll.*;
// here are the descriptors, guest memory and the waiting. epoll_wait sleeps
// on every watched file's wait queue (host fds through the reactor) as
// poll.cpp does, and rescans when any of them changes.

#include <fcntl.h>
#include <sys/epoll.h>
#include <sys/stat.h>

#include <algorithm>
#include <climits>
#include <cstring>
#include <vector>

#include "syscalls/syscalls.h"
#include "vkernel/epoll.h"
#include "vkernel/eventfd.h"
#include "vkernel/kernel.h"
#include "vkernel/signal_delivery.h"
#include "vkernel/user_memory.h"

namespace vk::sys {

namespace {

// struct epoll_event is packed on x86-64: 12 bytes.
constexpr u64 kEventSize = 12;
constexpr int kMaxEvents = INT_MAX / kEventSize;  // EP_MAX_EVENTS

struct Timespec {
    i64 sec, nsec;
};

Result<long> install(Task& t, std::shared_ptr<fs::File> f, bool cloexec) {
    return VK_TRY(t.process->fds->install(std::move(f), cloexec, nofile_limit(*t.process)));
}

// The epoll ops behind `epfd`: EBADF, or EINVAL for another kind of file.
Result<std::pair<std::shared_ptr<fs::File>, EpollOps*>> epoll_of(Task& t, u64 epfd) {
    auto f = VK_TRY(file_of(t, epfd));
    auto* ops = dynamic_cast<EpollOps*>(&f->ops());
    if (!ops) return err(EINVAL);
    return std::make_pair(std::move(f), ops);
}

// Sleeps until a watched file may have changed, the deadline passes or a
// signal comes (kInterrupted).
WakeReason wait_sources(Task& t, EpollOps& ep, std::optional<Clock::time_point> deadline) {
    std::vector<WaitQueue*> queues;
    std::vector<std::pair<int, short>> host;
    std::vector<std::shared_ptr<fs::File>> keep;  // the queues' owners, alive while we sleep
    ep.sources(queues, host, keep);
    return wait_on_any(t, std::move(queues), host, deadline);
}

// The core of the epoll_wait family: ready events copied out to `out`.
Result<long> do_wait(Task& t, u64 epfd, u64 out, u64 max, std::optional<Clock::time_point> deadline) {
    if (static_cast<i64>(static_cast<int>(max)) <= 0 || static_cast<int>(max) > kMaxEvents)
        return err(EINVAL);
    const int n = static_cast<int>(max);
    auto [file, ep] = VK_TRY(epoll_of(t, epfd));
    std::vector<EpollEvent> evs;
    for (;;) {
        evs = ep->collect(n);
        if (!evs.empty()) break;
        if (deadline && *deadline <= Clock::now()) break;
        const WakeReason why = wait_sources(t, *ep, deadline);
        if (why == WakeReason::kInterrupted) return err(EINTR);
        if (why == WakeReason::kTimedOut) {
            evs = ep->collect(n);
            break;
        }
    }
    for (std::size_t i = 0; i < evs.size(); i++) {
        std::byte raw[kEventSize];
        std::memcpy(raw, &evs[i].events, 4);
        std::memcpy(raw + 4, &evs[i].data, 8);
        if (!copy_out_bytes(t.mm(), out + i * kEventSize, raw, kEventSize)) {
            if (i) return static_cast<long>(i);
            return err(EFAULT);
        }
    }
    return static_cast<long>(evs.size());
}

std::optional<Clock::time_point> deadline_ms(int ms) {
    if (ms < 0) return std::nullopt;
    return Clock::now() + std::chrono::milliseconds(ms);
}

Result<long> pwait(Task& t, const SyscallArgs& a, std::optional<Clock::time_point> deadline) {
    VK_TRY(set_wait_sigmask(t, a[4], a[5]));
    auto r = do_wait(t, a[0], a[1], a[2], deadline);
    end_wait_sigmask(t, !r && r.error().code == EINTR);
    return r;
}

}  // namespace

Result<long> sys_eventfd2(Task& task, const SyscallArgs& a) {
    const int flags = static_cast<int>(a[1]);
    if (flags & ~(O_CLOEXEC | O_NONBLOCK | kEfdSemaphore)) return err(EINVAL);
    auto f = VK_TRY(make_eventfd(task.kernel, static_cast<u32>(a[0]), flags));
    return install(task, std::move(f), flags & O_CLOEXEC);
}

Result<long> sys_eventfd(Task& task, const SyscallArgs& a) {
    SyscallArgs b{{a[0], 0}};
    return sys_eventfd2(task, b);
}

Result<long> sys_epoll_create1(Task& task, const SyscallArgs& a) {
    const int flags = static_cast<int>(a[0]);
    if (flags & ~EPOLL_CLOEXEC) return err(EINVAL);
    auto f = VK_TRY(make_epoll(task.kernel));
    return install(task, std::move(f), flags & EPOLL_CLOEXEC);
}

Result<long> sys_epoll_create(Task& task, const SyscallArgs& a) {
    if (static_cast<int>(a[0]) <= 0) return err(EINVAL);
    SyscallArgs b{{0}};
    return sys_epoll_create1(task, b);
}

Result<long> sys_epoll_ctl(Task& task, const SyscallArgs& a) {
    const int op = static_cast<int>(a[1]);
    EpollEvent ev{0, 0};
    if (op != EPOLL_CTL_DEL) {
        std::byte raw[kEventSize];
        VK_TRY(copy_in_bytes(task.mm(), a[3], raw, kEventSize));
        std::memcpy(&ev.events, raw, 4);
        std::memcpy(&ev.data, raw + 4, 8);
    }
    auto epf = VK_TRY(file_of(task, a[0]));
    auto target = VK_TRY(file_of(task, a[2]));
    // Files without poll (regular files, directories) cannot be watched;
    // nor can the console when the host's fd behind it is a file.
    auto* bops = dynamic_cast<BlockingOps*>(&target->ops());
    if (!bops) return err(EPERM);
    if (struct stat st{}; bops->host_fd() >= 0 && ::fstat(bops->host_fd(), &st) == 0 &&
                          (S_ISREG(st.st_mode) || S_ISDIR(st.st_mode)))
        return err(EPERM);
    auto* ep = dynamic_cast<EpollOps*>(&epf->ops());
    if (!ep) return err(EINVAL);
    VK_TRY(ep->ctl(task.kernel, epf, op, static_cast<int>(a[2]), target, ev));
    return 0;
}

Result<long> sys_epoll_wait(Task& task, const SyscallArgs& a) {
    return do_wait(task, a[0], a[1], a[2], deadline_ms(static_cast<int>(a[3])));
}

Result<long> sys_epoll_pwait(Task& task, const SyscallArgs& a) {
    return pwait(task, a, deadline_ms(static_cast<int>(a[3])));
}

Result<long> sys_epoll_pwait2(Task& task, const SyscallArgs& a) {
    std::optional<Clock::time_point> deadline;
    if (a[3]) {
        const auto ts = VK_TRY(copy_in(task.mm(), UserPtr<Timespec>(a[3])));
        if (ts.sec < 0 || ts.nsec < 0 || ts.nsec >= 1'000'000'000) return err(EINVAL);
        deadline = Clock::now() + std::chrono::seconds(ts.sec) + std::chrono::nanoseconds(ts.nsec);
    }
    return pwait(task, a, deadline);
}

}  // namespace vk::sys
