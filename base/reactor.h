#pragma once

// The io_uring reactor: host timers, host fd readiness and host file I/O for
// the whole vkernel, driven by whichever vCPU thread is idle.
//
// An idle vCPU thread calls run_once() without the kernel lock. It blocks in
// io_uring until a completion, the nearest timer, a wake() or its own timeout,
// then runs the callbacks of what completed, on its own thread, and returns.
// Only one thread polls at a time: another thread's run_once() returns
// at once with `busy` set, and that thread must wait some other way (e.g. on
// the scheduler's idle condition variable).
//
// Nothing fires unless some thread calls run_once(): a vCPU that is running
// guest code should call run_once(0ns) on its scheduler tick so timers and
// completions are not starved while every vCPU is busy.
//
// <liburing.h> stays in reactor.cpp (STYLE.md §1); this header shows none of it.

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <span>

#include "base/result.h"
#include "base/types.h"

namespace vk {

// Names one pending timer; never reused by the same reactor.
enum class TimerId : u64 {};
// Names one pending poll_fd(); never reused by the same reactor.
enum class PollId : u64 {};

// Owns one io_uring instance, its wake eventfd and every pending timer and
// request. Move-only; a moved-from Reactor may only be destroyed or assigned.
//
// Thread safety: every member function may be called from any thread, at the
// same time as another thread is inside run_once(). Internally one leaf mutex
// guards the submission queue, the table of pending requests and the timer
// heap; it is never held while a callback runs or while a thread sleeps in
// io_uring, so callbacks may call any member function (run_once() from a
// callback returns `busy`).
//
// Callbacks run on the thread inside run_once(), one at a time, never
// concurrently with each other, and with no reactor lock held.
class Reactor {
public:
    using Callback = std::function<void(int result)>;
    using Clock = std::chrono::steady_clock;

    // What one run_once() call did.
    struct RunResult {
        bool busy = false;          // another thread was polling: nothing was done
        bool woken = false;         // a wake() was consumed
        std::size_t callbacks = 0;  // callbacks invoked (timers and completions)
    };

    // Sets up an io_uring with `entries` submission slots and a wake eventfd.
    // Needs Linux 5.13+ (IORING_FEAT_EXT_ARG for sub-millisecond waits without
    // a timeout request, multishot poll for wake()). Fails with a HostError
    // naming the call ("io_uring_queue_init: Operation not permitted") where
    // io_uring is missing or forbidden (ENOSYS, EPERM in some sandboxes, or
    // kernel.io_uring_disabled); there is no fallback.
    static Result<Reactor, HostError> create(unsigned entries = 256);

    Reactor(Reactor&&) noexcept;
    Reactor& operator=(Reactor&&) noexcept;
    Reactor(const Reactor&) = delete;
    Reactor& operator=(const Reactor&) = delete;
    // Cancels every pending request and waits until the kernel has let go of
    // them (so no read can still write into a caller's buffer), then tears the
    // ring down. Pending callbacks are not run. Precondition: no other thread
    // is using the reactor.
    ~Reactor();

    // Waits up to `timeout` (0 or less: do not block) for a completion, a
    // timer, or a wake(); runs the callbacks of everything that is ready, and
    // returns. May also return early with nothing done (a host signal).
    // Returns at once with `busy` if another thread is inside run_once().
    RunResult run_once(std::chrono::nanoseconds timeout);

    // Makes the current run_once() — or, if no thread is polling, the next
    // one — return promptly with `woken` set. Async-signal-safe: an atomic
    // store and an eventfd write.
    void wake();

    // Runs cb(0) from run_once() once Clock::now() >= deadline (never early;
    // a deadline in the past fires at the next run_once()). Timers with equal
    // deadlines fire in the order they were added.
    TimerId add_timer(Clock::time_point deadline, Callback cb);
    // True if the timer had not fired: its callback will never run. False if
    // it fired, is firing (its callback may be running on the polling thread
    // right now), was already cancelled, or never existed.
    bool cancel_timer(TimerId id);

    // One-shot readiness wait on a host fd (IORING_OP_POLL_ADD): cb gets the
    // revents mask (POLLIN, POLLOUT, POLLHUP ...) once any of `events` holds,
    // or -errno (e.g. -EBADF). The fd may be closed after cancel_poll() or
    // after cb has run; io_uring holds its own reference until then.
    PollId poll_fd(int fd, short events, Callback cb);
    // True if the poll had not completed: its callback will never run. False
    // if it completed (callback ran or is running) or was already cancelled.
    bool cancel_poll(PollId id);

    // pread()/pwrite() of `buf` at `offset` of a host fd, through io_uring.
    // cb gets the byte count (possibly short) or -errno. The caller owns buf
    // and must keep it alive until cb has run or the reactor is destroyed.
    // There is no cancel: the kernel may be copying into buf already.
    void submit_read(int fd, std::span<std::byte> buf, u64 offset, Callback cb);
    void submit_write(int fd, std::span<const std::byte> buf, u64 offset, Callback cb);

private:
    struct Impl;
    explicit Reactor(std::unique_ptr<Impl> impl);

    // Heap-allocated so the ring, the mutex and the atomics keep their
    // addresses when the Reactor moves (the kernel holds no pointers into
    // them, but other threads do).
    std::unique_ptr<Impl> impl_;
};

}  // namespace vk
