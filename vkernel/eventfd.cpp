#include "vkernel/eventfd.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/stat.h>

#include <cstring>

#include "vkernel/epoll.h"
#include "vkernel/files.h"
#include "vkernel/kernel.h"

namespace vk {

namespace {

constexpr u64 kMaxCount = ~0ULL - 1;  // ULLONG_MAX - 1: the largest counter

class EventfdOps final : public BlockingOps, public EpollSource {
public:
    EventfdOps(Kernel& k, u64 count, bool semaphore) : kernel_(k), count_(count), semaphore_(semaphore) {}
    bool seekable() const override { return false; }
    WaitQueue* queue() override { return &waiters_; }

    Result<u64> read(fs::File&, std::span<std::byte> dst, u64) override {
        if (dst.size() < sizeof(u64)) return err(EINVAL);
        if (count_ == 0) return err(EAGAIN);
        const u64 v = semaphore_ ? 1 : count_;
        count_ -= v;
        reads_++;
        std::memcpy(dst.data(), &v, sizeof v);
        kernel_.wake_all(waiters_);
        return sizeof v;
    }
    Result<u64> write(fs::File&, std::span<const std::byte> src, u64) override {
        if (src.size() < sizeof(u64)) return err(EINVAL);
        u64 v;
        std::memcpy(&v, src.data(), sizeof v);
        if (v == ~0ULL) return err(EINVAL);
        if (kMaxCount - count_ < v) return err(EAGAIN);
        count_ += v;
        writes_++;
        kernel_.wake_all(waiters_);
        return sizeof v;
    }
    u32 poll(fs::File&) override {
        u32 m = 0;
        if (count_ > 0) m |= POLLIN | POLLRDNORM;
        if (count_ < kMaxCount) m |= POLLOUT | POLLWRNORM;
        return m;
    }
    Result<long> ioctl(fs::File&, u32, u64) override { return err(ENOTTY); }
    // A write wakes readers (an EPOLLIN edge), a read wakes writers (EPOLLOUT).
    u64 event_generation(u32 events) const override {
        return ((events & POLLIN) ? writes_ : 0) + ((events & POLLOUT) ? reads_ : 0);
    }

private:
    Kernel& kernel_;
    u64 count_;
    bool semaphore_;
    u64 reads_ = 0, writes_ = 0;
    WaitQueue waiters_;  // readers and writers both; woken on every change
};

}  // namespace

Result<std::shared_ptr<fs::File>> make_eventfd(Kernel& k, u64 initval, int flags) {
    auto ops = std::make_shared<EventfdOps>(k, initval, flags & kEfdSemaphore);
    return make_anon_file(k, S_IFREG, O_RDWR | (flags & O_NONBLOCK), std::move(ops));
}

}  // namespace vk
