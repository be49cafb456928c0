// The io_uring reactor (see reactor.h for the contract).
//
// Lock order: Impl::mu_ is a leaf lock — take no other lock while holding it,
// never hold it while a callback runs or while sleeping in io_uring_enter.
// Impl::polling_ is not a lock but a claim (compare-exchange, never waited
// for): the thread that holds it is "the poller", the only one that consumes
// the completion queue and runs callbacks.
//
// Design notes.
//
// * Timers live in our own min-heap, not in io_uring (IORING_OP_TIMEOUT).
//   The poller sleeps in io_uring_wait_cqe_timeout() until the nearest
//   deadline, a relative hrtimer wait (IORING_FEAT_EXT_ARG) that costs no
//   submission. Why: add_timer/cancel_timer then never touch the submission
//   queue, so they cannot fail or run out of ring slots (10 000 sleeping
//   threads need no 10 000 SQEs and CQEs); cancel is exact and synchronous
//   (no cancel request racing a completion already in the CQ); and the only
//   kernel timer is the one the poller sleeps on. The price: a timer earlier
//   than the deadline the poller is sleeping towards must kick it (one
//   eventfd write), which makes it recompute its wait, not return.
//
// * Submission queue: any thread may submit (poll_fd, submit_read ...) under
//   mu_ and calls io_uring_submit itself, so a request starts at once even
//   while no thread polls. Completions are consumed only by the poller, so
//   the CQ needs no lock; the poller's wait passes no submissions, and
//   liburing's wait then reads nothing the submitters write.
//
// * wake(): an atomic flag plus a write to a non-blocking eventfd on which a
//   multishot IORING_OP_POLL_ADD is armed. io_uring runs a poll's completion
//   as task work of the thread that *submitted* it, so the wake poll is
//   re-armed by each new polling thread: otherwise a wake would have to go
//   through whichever vCPU armed it first (kicking that vCPU out of KVM_RUN
//   with EINTR). Polls submitted through poll_fd() have the same property:
//   the vCPU thread that asked may see one KVM_RUN return EINTR when the fd
//   becomes ready, which it treats like any other kick.
//
// * Request ids are never reused; a completion whose id is no longer in the
//   table (cancelled, or an old wake poll) is dropped. That is what makes
//   "cancel returned true ⇒ the callback never runs" hold.

#include "base/reactor.h"

#include <liburing.h>
#include <poll.h>
#include <pthread.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <unordered_map>
#include <utility>
#include <vector>

#include "base/assert.h"
#include "base/log.h"
#include "base/unique_fd.h"

namespace vk {

namespace {

using Clock = Reactor::Clock;

// user_data of requests whose completion carries nothing to deliver (the
// cancel and poll-remove requests themselves). Real ids start at 1.
constexpr u64 kNoCallback = 0;

// Linux moves at most this many bytes in one read or write (MAX_RW_COUNT);
// longer requests are clamped and complete short, as pread would.
constexpr std::size_t kMaxIo = 0x7ffff000;

// While the kernel refuses submissions (EAGAIN/EBUSY: out of memory for
// requests), the poller retries this often.
constexpr auto kBacklogRetry = std::chrono::milliseconds(1);

// How many completions to take from the CQ at a time.
constexpr unsigned kCqeBatch = 64;

[[noreturn]] void fatal(const char* what, int err) {
    log_error("reactor: {}: {}", what, std::strerror(err));
    std::abort();
}

}  // namespace

// Owns the ring (io_uring_queue_exit only in ~Impl) and the wake eventfd.
// Fields below mu_ are guarded by it; batch_ belongs to the poller.
struct Reactor::Impl {
    struct TimerEntry {
        Clock::time_point deadline;
        u64 id;
    };
    // std::*_heap keep the "largest" element first; the largest here is the
    // timer that fires first (earliest deadline, then lowest id = added first).
    struct FiresLater {
        bool operator()(const TimerEntry& a, const TimerEntry& b) const {
            return a.deadline != b.deadline ? a.deadline > b.deadline : a.id > b.id;
        }
    };
    struct Ready {
        Callback cb;
        int result;
    };

    Impl() = default;
    Impl(const Impl&) = delete;
    Impl& operator=(const Impl&) = delete;
    ~Impl();

    // Declared before ring_ for the record; the ring is torn down explicitly
    // in ~Impl, before any member (so its poll on this fd ends first).
    UniqueFd wake_fd_;
    io_uring ring_{};
    bool ring_live_ = false;

    std::atomic<bool> polling_{false};         // claimed by the thread inside run_once
    std::atomic<bool> wake_requested_{false};  // set by wake(), consumed by run_once

    std::mutex mu_;  // leaf; guards everything below except batch_
    u64 next_id_ = 1;
    std::unordered_map<u64, Callback> ops_;     // pending io_uring requests by user_data
    std::unordered_map<u64, Callback> timers_;  // pending timers by id
    std::vector<TimerEntry> timer_heap_;        // may hold cancelled ids (lazy deletion)
    u64 inflight_ = 0;                          // SQEs whose final CQE has not been seen
    // The deadline the poller sleeps towards; min() while no thread sleeps.
    Clock::time_point waiting_until_ = Clock::time_point::min();
    u64 wake_poll_id_ = 0;  // the armed multishot poll on wake_fd_, 0 if none
    pthread_t wake_armer_{};  // the host thread that submitted it

    std::vector<Ready> batch_;  // poller only (guarded by polling_)

    void kick() const;
    io_uring_sqe* sqe_locked();
    void submit_locked();
    void arm_wake_locked();
    void reap_locked();
    void handle_cqe_locked(const io_uring_cqe& cqe);
    void expire_timers_locked(Clock::time_point now);
    Clock::time_point next_deadline_locked();
    void compact_timers_locked();
    bool wait(std::chrono::nanoseconds timeout);
    void drain();
    u64 add_op_locked(Callback cb);
};

// Makes a sleeping io_uring_enter return (or the next one not sleep).
// Async-signal-safe.
void Reactor::Impl::kick() const {
    const u64 one = 1;
    // EAGAIN means the counter is near 2^64: a kick is pending anyway.
    [[maybe_unused]] const ssize_t n = ::write(wake_fd_.get(), &one, sizeof one);
}

// A free SQE, counted as in flight. Submits first if the queue is full.
io_uring_sqe* Reactor::Impl::sqe_locked() {
    io_uring_sqe* sqe = io_uring_get_sqe(&ring_);
    if (!sqe) {
        submit_locked();
        sqe = io_uring_get_sqe(&ring_);
    }
    // FIXME: a full queue the kernel keeps refusing (host out of memory) aborts;
    // a software overflow list would let requests wait instead.
    if (!sqe) fatal("io_uring_get_sqe (submission queue full, kernel refusing submissions)", EBUSY);
    ++inflight_;
    return sqe;
}

// Hands every queued SQE to the kernel. On a transient refusal they stay in
// the ring (liburing has already published them) and the poller retries.
void Reactor::Impl::submit_locked() {
    while (io_uring_sq_ready(&ring_) > 0) {
        const int r = io_uring_submit(&ring_);
        if (r > 0 || r == -EINTR) continue;  // a short count stopped at a bad SQE: go on
        if (r == 0 || r == -EAGAIN || r == -EBUSY) {
            log_debug("reactor: io_uring_submit deferred: {}", std::strerror(-r));
            // A sleeping poller must wake up to retry; a poller that is
            // running retries before it sleeps (waiting_until_ is min()).
            if (waiting_until_ != Clock::time_point::min()) {
                waiting_until_ = Clock::time_point::min();
                kick();
            }
            return;
        }
        fatal("io_uring_submit", -r);
    }
}

// Makes sure the wake poll is armed by the calling (polling) thread.
void Reactor::Impl::arm_wake_locked() {
    const pthread_t me = ::pthread_self();  // no syscall, unlike gettid()
    if (wake_poll_id_ != 0 && ::pthread_equal(wake_armer_, me)) return;
    if (wake_poll_id_ != 0) {
        io_uring_sqe* sqe = sqe_locked();
        io_uring_prep_poll_remove(sqe, wake_poll_id_);
        io_uring_sqe_set_data64(sqe, kNoCallback);
    }
    wake_poll_id_ = next_id_++;
    wake_armer_ = me;
    io_uring_sqe* sqe = sqe_locked();
    io_uring_prep_poll_multishot(sqe, wake_fd_.get(), POLLIN);
    io_uring_sqe_set_data64(sqe, wake_poll_id_);
    submit_locked();
}

// Moves every available completion into batch_ (callbacks are run later,
// without mu_).
void Reactor::Impl::reap_locked() {
    io_uring_cqe* cqes[kCqeBatch];
    for (;;) {
        const unsigned n = io_uring_peek_batch_cqe(&ring_, cqes, kCqeBatch);
        if (n == 0) return;
        for (unsigned i = 0; i < n; ++i) handle_cqe_locked(*cqes[i]);
        io_uring_cq_advance(&ring_, n);
    }
}

void Reactor::Impl::handle_cqe_locked(const io_uring_cqe& cqe) {
    const u64 id = io_uring_cqe_get_data64(&cqe);
    const bool more = (cqe.flags & IORING_CQE_F_MORE) != 0;
    if (!more) {
        VK_ASSERT(inflight_ > 0);
        --inflight_;
    }
    if (id == kNoCallback) return;
    if (id == wake_poll_id_) {
        // Reset the counter so the next write wakes the poll again. Done by
        // the poller before it reads wake_requested_, so no wake is lost.
        u64 count;
        [[maybe_unused]] const ssize_t n = ::read(wake_fd_.get(), &count, sizeof count);
        if (!more) wake_poll_id_ = 0;  // ended (cancelled, error): re-armed before the next wait
        return;
    }
    const auto it = ops_.find(id);
    if (it == ops_.end()) return;  // cancelled, or the poll of an earlier wake armer
    VK_ASSERT(!more);              // no multishot requests for callers (yet)
    batch_.push_back(Ready{std::move(it->second), cqe.res});
    ops_.erase(it);
}

void Reactor::Impl::expire_timers_locked(Clock::time_point now) {
    while (!timer_heap_.empty() && timer_heap_.front().deadline <= now) {
        std::pop_heap(timer_heap_.begin(), timer_heap_.end(), FiresLater{});
        const u64 id = timer_heap_.back().id;
        timer_heap_.pop_back();
        const auto it = timers_.find(id);
        if (it == timers_.end()) continue;  // cancelled
        batch_.push_back(Ready{std::move(it->second), 0});
        timers_.erase(it);
    }
}

Clock::time_point Reactor::Impl::next_deadline_locked() {
    while (!timer_heap_.empty() && !timers_.contains(timer_heap_.front().id)) {
        std::pop_heap(timer_heap_.begin(), timer_heap_.end(), FiresLater{});
        timer_heap_.pop_back();
    }
    return timer_heap_.empty() ? Clock::time_point::max() : timer_heap_.front().deadline;
}

// Cancelled timers stay in the heap until they reach the top; rebuild it when
// they are the majority, so a stream of cancelled far-off timeouts (the usual
// fate of a poll or futex timeout) cannot grow it without bound.
void Reactor::Impl::compact_timers_locked() {
    if (timer_heap_.size() < 64 || timer_heap_.size() < 2 * timers_.size()) return;
    std::erase_if(timer_heap_, [this](const TimerEntry& e) { return !timers_.contains(e.id); });
    std::make_heap(timer_heap_.begin(), timer_heap_.end(), FiresLater{});
}

// Sleeps in io_uring until a completion arrives or `timeout` passes. False if
// a host signal interrupted the wait.
bool Reactor::Impl::wait(std::chrono::nanoseconds timeout) {
    const auto ns = timeout.count();
    __kernel_timespec ts{};
    ts.tv_sec = ns / 1'000'000'000;
    ts.tv_nsec = ns % 1'000'000'000;
    io_uring_cqe* cqe = nullptr;
    const int r = io_uring_wait_cqe_timeout(&ring_, &cqe, &ts);
    if (r == -EINTR) return false;
    if (r == 0 || r == -ETIME || r == -EAGAIN || r == -EBUSY) return true;
    fatal("io_uring_wait_cqe_timeout", -r);
}

u64 Reactor::Impl::add_op_locked(Callback cb) {
    const u64 id = next_id_++;
    ops_.emplace(id, std::move(cb));
    return id;
}

// Cancels everything in flight and waits for the kernel to finish with it.
// Callbacks collected on the way are dropped, not run.
void Reactor::Impl::drain() {
    std::lock_guard lock(mu_);
    for (const auto& entry : ops_) {
        io_uring_sqe* sqe = sqe_locked();
        io_uring_prep_cancel64(sqe, entry.first, 0);
        io_uring_sqe_set_data64(sqe, kNoCallback);
    }
    if (wake_poll_id_ != 0) {
        io_uring_sqe* sqe = sqe_locked();
        io_uring_prep_poll_remove(sqe, wake_poll_id_);
        io_uring_sqe_set_data64(sqe, kNoCallback);
    }
    submit_locked();
    bool warned = false;
    while (inflight_ > 0) {
        if (io_uring_sq_ready(&ring_) > 0) submit_locked();
        reap_locked();
        if (inflight_ == 0) break;
        if (!wait(std::chrono::seconds(1)) || warned) continue;
        if (io_uring_cq_ready(&ring_) == 0) {
            // A read on a stuck host file can hold us here; its buffer belongs
            // to the caller, so leaving early is not safe.
            log_error("reactor: teardown waiting for {} host request(s)", inflight_);
            warned = true;
        }
    }
    batch_.clear();
}

Reactor::Impl::~Impl() {
    if (!ring_live_) return;
    drain();
    io_uring_queue_exit(&ring_);
}

Reactor::Reactor(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Reactor::Reactor(Reactor&&) noexcept = default;
Reactor& Reactor::operator=(Reactor&&) noexcept = default;
Reactor::~Reactor() = default;

Result<Reactor, HostError> Reactor::create(unsigned entries) {
    auto impl = std::make_unique<Impl>();

    const int efd = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    impl->wake_fd_ = UniqueFd(efd);
    if (efd < 0) return host_err("eventfd");

    // The kernel always installs the ring fd O_CLOEXEC. CLAMP: an `entries`
    // above the kernel's limit is lowered rather than refused.
    io_uring_params params{};
    params.flags = IORING_SETUP_CLAMP;
    const int r = io_uring_queue_init_params(entries, &impl->ring_, &params);
    if (r < 0) return host_err("io_uring_queue_init", -r);
    impl->ring_live_ = true;

    // EXT_ARG (5.11): waits with a timeout that take no SQE — without it
    // liburing would take one from the shared queue behind our back.
    // RSRC_TAGS arrived in 5.13 together with multishot poll, which wake()
    // relies on; there is no feature bit for multishot poll itself.
    constexpr unsigned kNeeded = IORING_FEAT_EXT_ARG | IORING_FEAT_RSRC_TAGS;
    if ((params.features & kNeeded) != kNeeded)
        return host_err("io_uring (Linux 5.13 or later is needed)", ENOSYS);

    return Reactor(std::move(impl));
}

Reactor::RunResult Reactor::run_once(std::chrono::nanoseconds timeout) {
    VK_ASSERT(impl_);
    Impl& s = *impl_;
    RunResult out;

    bool expected = false;
    if (!s.polling_.compare_exchange_strong(expected, true, std::memory_order_acquire)) {
        out.busy = true;
        return out;
    }
    // Released however we leave, even if a callback throws.
    struct Release {
        std::atomic<bool>& flag;
        ~Release() { flag.store(false, std::memory_order_release); }
    } release{s.polling_};
    s.batch_.clear();  // leftovers of a callback that threw are dropped

    const auto start = Clock::now();
    Clock::time_point limit = start;
    if (timeout > Clock::duration::zero())
        limit = timeout >= Clock::time_point::max() - start ? Clock::time_point::max()
                                                             : start + timeout;

    for (;;) {
        std::chrono::nanoseconds sleep{};
        {
            std::lock_guard lock(s.mu_);
            s.waiting_until_ = Clock::time_point::min();
            if (io_uring_sq_ready(&s.ring_) > 0) s.submit_locked();  // an earlier refusal
            s.arm_wake_locked();
            s.reap_locked();
            const auto now = Clock::now();
            s.expire_timers_locked(now);
            // After reap_locked has drained the eventfd: a wake() that wrote
            // before that drain set the flag before writing, so it is seen
            // here; one that writes later wakes the poll again.
            out.woken = s.wake_requested_.exchange(false, std::memory_order_acq_rel);
            if (!s.batch_.empty() || out.woken || now >= limit) break;

            auto until = std::min(limit, s.next_deadline_locked());
            if (io_uring_sq_ready(&s.ring_) > 0) until = std::min(until, now + kBacklogRetry);
            s.waiting_until_ = until;
            sleep = until - now;
        }
        // Interrupted by a host signal: collect what is ready and return.
        if (!s.wait(sleep)) limit = Clock::time_point::min();
    }

    out.callbacks = s.batch_.size();
    for (auto& ready : s.batch_) {
        Callback cb = std::move(ready.cb);
        cb(ready.result);
    }
    s.batch_.clear();
    return out;
}

void Reactor::wake() {
    impl_->wake_requested_.store(true, std::memory_order_release);
    impl_->kick();
}

TimerId Reactor::add_timer(Clock::time_point deadline, Callback cb) {
    VK_ASSERT(impl_);
    Impl& s = *impl_;
    u64 id;
    bool kick = false;
    {
        std::lock_guard lock(s.mu_);
        id = s.next_id_++;
        s.timers_.emplace(id, std::move(cb));
        s.timer_heap_.push_back(Impl::TimerEntry{deadline, id});
        std::push_heap(s.timer_heap_.begin(), s.timer_heap_.end(), Impl::FiresLater{});
        // The poller sleeps past this deadline: make it recompute its wait.
        // Recording the new deadline keeps a burst of timers to one kick.
        if (deadline < s.waiting_until_) {
            s.waiting_until_ = deadline;
            kick = true;
        }
    }
    if (kick) s.kick();
    return TimerId{id};
}

bool Reactor::cancel_timer(TimerId id) {
    VK_ASSERT(impl_);
    Impl& s = *impl_;
    std::lock_guard lock(s.mu_);
    if (s.timers_.erase(static_cast<u64>(id)) == 0) return false;
    // The poller may wake at this timer's deadline and find nothing: harmless.
    s.compact_timers_locked();
    return true;
}

PollId Reactor::poll_fd(int fd, short events, Callback cb) {
    VK_ASSERT(impl_);
    Impl& s = *impl_;
    std::lock_guard lock(s.mu_);
    const u64 id = s.add_op_locked(std::move(cb));
    io_uring_sqe* sqe = s.sqe_locked();
    io_uring_prep_poll_add(sqe, fd, static_cast<unsigned short>(events));
    io_uring_sqe_set_data64(sqe, id);
    s.submit_locked();
    return PollId{id};
}

bool Reactor::cancel_poll(PollId id) {
    VK_ASSERT(impl_);
    Impl& s = *impl_;
    std::lock_guard lock(s.mu_);
    const u64 raw = static_cast<u64>(id);
    if (s.ops_.erase(raw) == 0) return false;
    // Its completion (-ECANCELED, or a result that raced us) finds no entry
    // and is dropped; the remove only frees the kernel's side early.
    io_uring_sqe* sqe = s.sqe_locked();
    io_uring_prep_poll_remove(sqe, raw);
    io_uring_sqe_set_data64(sqe, kNoCallback);
    s.submit_locked();
    return true;
}

void Reactor::submit_read(int fd, std::span<std::byte> buf, u64 offset, Callback cb) {
    VK_ASSERT(impl_);
    Impl& s = *impl_;
    std::lock_guard lock(s.mu_);
    const u64 id = s.add_op_locked(std::move(cb));
    io_uring_sqe* sqe = s.sqe_locked();
    // SAFETY: the caller keeps buf alive until the completion (reactor.h);
    // ~Reactor waits for the kernel to finish with it.
    io_uring_prep_read(sqe, fd, buf.data(), static_cast<unsigned>(std::min(buf.size(), kMaxIo)),
                       offset);
    io_uring_sqe_set_data64(sqe, id);
    s.submit_locked();
}

void Reactor::submit_write(int fd, std::span<const std::byte> buf, u64 offset, Callback cb) {
    VK_ASSERT(impl_);
    Impl& s = *impl_;
    std::lock_guard lock(s.mu_);
    const u64 id = s.add_op_locked(std::move(cb));
    io_uring_sqe* sqe = s.sqe_locked();
    // SAFETY: as in submit_read; the kernel only reads from buf.
    io_uring_prep_write(sqe, fd, buf.data(), static_cast<unsigned>(std::min(buf.size(), kMaxIo)),
                        offset);
    io_uring_sqe_set_data64(sqe, id);
    s.submit_locked();
}

}  // namespace vk
