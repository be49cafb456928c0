// Clocks and sleeps, read from the host's clocks.

#include <sys/time.h>
#include <time.h>

#include "syscalls/syscalls.h"
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
        return static_cast<clockid_t>(id);
    case CLOCK_PROCESS_CPUTIME_ID:
    case CLOCK_THREAD_CPUTIME_ID:
        // The guest's CPU time is the vCPU thread's.
        return CLOCK_THREAD_CPUTIME_ID;
    default:
        return err(EINVAL);
    }
}

Result<long> sleep_for(Task& task, const Timespec& ts, u64 rem_addr) {
    if (ts.nsec < 0 || ts.nsec >= 1'000'000'000 || ts.sec < 0) return err(EINVAL);
    struct timespec req{ts.sec, ts.nsec}, rem{};
    while (::nanosleep(&req, &rem) < 0 && errno == EINTR) req = rem;
    if (rem_addr) VK_TRY(copy_out(task.mm(), UserPtr<Timespec>(rem_addr), Timespec{0, 0}));
    return 0;
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

Result<long> sys_nanosleep(Task& task, const SyscallArgs& a) {
    const Timespec ts = VK_TRY(copy_in(task.mm(), UserPtr<Timespec>(a[0])));
    return sleep_for(task, ts, a[1]);
}

Result<long> sys_clock_nanosleep(Task& task, const SyscallArgs& a) {
    constexpr u64 kTimerAbstime = 1;
    const clockid_t c = VK_TRY(host_clock(a[0]));
    Timespec ts = VK_TRY(copy_in(task.mm(), UserPtr<Timespec>(a[2])));
    if (a[1] & kTimerAbstime) {
        struct timespec now{};
        ::clock_gettime(c, &now);
        i64 ns = (ts.sec - now.tv_sec) * 1'000'000'000 + (ts.nsec - now.tv_nsec);
        if (ns < 0) ns = 0;
        ts = {ns / 1'000'000'000, ns % 1'000'000'000};
        return sleep_for(task, ts, 0);
    }
    return sleep_for(task, ts, a[3]);
}

}  // namespace vk::sys
