// Clocks and sleeps, read from the host's clocks.

#include <sys/time.h>
#include <time.h>

#include "syscalls/syscalls.h"
#include "vkernel/kernel.h"
#include "vkernel/signal_delivery.h"
#include "vkernel/user_memory.h"

namespace vk::sys {

namespace {

struct Timespec {
    i64 sec, nsec;
};
struct Timeval {
    i64 sec, usec;
};

Result<clockid_t> host_clock(u64 id) {
    switch (id) {
    case CLOCK_REALTIME:
    case CLOCK_MONOTONIC:
    case CLOCK_MONOTONIC_RAW:
    case CLOCK_REALTIME_COARSE:
    case CLOCK_MONOTONIC_COARSE:
    case CLOCK_BOOTTIME:
    case CLOCK_TAI:
        return static_cast<clockid_t>(id);
    case CLOCK_PROCESS_CPUTIME_ID:
    case CLOCK_THREAD_CPUTIME_ID:
        // The guest's CPU time is the vCPU thread's.
        return CLOCK_THREAD_CPUTIME_ID;
    default:
        return err(EINVAL);
    }
}

// Sleeps until `deadline`. A signal with a handler ends the sleep with EINTR
// and the time left in `rem_addr` (if given), as nanosleep(2) says; one that
// runs no handler (a stop and continue) lets it go on via restart_syscall.
Result<long> sleep_until(Task& task, Clock::time_point deadline, u64 rem_addr) {
    const WakeReason why = task.kernel.sleep(task, nullptr, deadline);
    if (why != WakeReason::kInterrupted) return 0;
    task.restart_deadline = deadline;
    task.restart_rem = rem_addr;
    if (rem_addr) {
        auto left = std::chrono::duration_cast<std::chrono::nanoseconds>(deadline - Clock::now());
        if (left.count() < 0) left = {};
        const Timespec rem{static_cast<i64>(left.count() / 1'000'000'000),
                           static_cast<i64>(left.count() % 1'000'000'000)};
        VK_TRY(copy_out(task.mm(), UserPtr<Timespec>(rem_addr), rem));
    }
    return err(kERestartRestartBlock);
}

Result<Clock::duration> duration_of(const Timespec& ts) {
    if (ts.nsec < 0 || ts.nsec >= 1'000'000'000 || ts.sec < 0) return err(EINVAL);
    return std::chrono::duration_cast<Clock::duration>(std::chrono::seconds(ts.sec) +
                                                       std::chrono::nanoseconds(ts.nsec));
}

}  // namespace

Result<long> sys_clock_gettime(Task& task, const SyscallArgs& a) {
    const clockid_t c = VK_TRY(host_clock(a[0]));
    struct timespec ts{};
    ::clock_gettime(c, &ts);
    VK_TRY(copy_out(task.mm(), UserPtr<Timespec>(a[1]), Timespec{ts.tv_sec, ts.tv_nsec}));
    return 0;
}

Result<long> sys_clock_getres(Task& task, const SyscallArgs& a) {
    const clockid_t c = VK_TRY(host_clock(a[0]));
    struct timespec ts{};
    ::clock_getres(c, &ts);
    if (a[1]) VK_TRY(copy_out(task.mm(), UserPtr<Timespec>(a[1]), Timespec{ts.tv_sec, ts.tv_nsec}));
    return 0;
}

Result<long> sys_gettimeofday(Task& task, const SyscallArgs& a) {
    struct timespec ts{};
    ::clock_gettime(CLOCK_REALTIME, &ts);
    if (a[0])
        VK_TRY(copy_out(task.mm(), UserPtr<Timeval>(a[0]), Timeval{ts.tv_sec, ts.tv_nsec / 1000}));
    if (a[1]) {
        const i32 tz[2] = {0, 0};  // UTC, no DST
        VK_TRY(copy_out_bytes(task.mm(), a[1], tz, sizeof tz));
    }
    return 0;
}

Result<long> sys_time(Task& task, const SyscallArgs& a) {
    const i64 now = ::time(nullptr);
    if (a[0]) VK_TRY(copy_out(task.mm(), UserPtr<i64>(a[0]), now));
    return now;
}

Result<long> sys_restart_syscall(Task& task, const SyscallArgs&) {
    if (!task.restart_deadline) return err(EINTR);
    const auto deadline = *task.restart_deadline;
    task.restart_deadline.reset();
    return sleep_until(task, deadline, task.restart_rem);
}

Result<long> sys_nanosleep(Task& task, const SyscallArgs& a) {
    const Timespec ts = VK_TRY(copy_in(task.mm(), UserPtr<Timespec>(a[0])));
    const auto d = VK_TRY(duration_of(ts));
    return sleep_until(task, Clock::now() + d, a[1]);
}

Result<long> sys_clock_nanosleep(Task& task, const SyscallArgs& a) {
    constexpr u64 kTimerAbstime = 1;
    const clockid_t c = VK_TRY(host_clock(a[0]));
    if (a[0] == CLOCK_THREAD_CPUTIME_ID) return err(EINVAL);
    const Timespec ts = VK_TRY(copy_in(task.mm(), UserPtr<Timespec>(a[2])));
    const auto d = VK_TRY(duration_of(ts));
    if (a[1] & kTimerAbstime) {
        // An absolute time on clock c, as a deadline on the steady clock.
        struct timespec now{};
        ::clock_gettime(c, &now);
        const auto now_d = std::chrono::seconds(now.tv_sec) + std::chrono::nanoseconds(now.tv_nsec);
        auto left = std::chrono::duration_cast<Clock::duration>(d - now_d);
        if (left.count() < 0) left = {};
        auto r = sleep_until(task, Clock::now() + left, 0);
        if (!r) return err(kERestartNoHand);  // an absolute sleep restarts as is
        return 0;
    }
    auto r = sleep_until(task, Clock::now() + d, a[3]);
    if (!r) return Unexpected{r.error()};  // clock_nanosleep returns the error, not -1
    return 0;
}

}  // namespace vk::sys
