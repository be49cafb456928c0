#include "base/fiber.h"

#include <boost/context/protected_fixedsize_stack.hpp>

#include <mutex>
#include <vector>

#include "base/assert.h"

namespace vk {

namespace ctx = boost::context;

namespace {

// Guarded stacks of the default size, kept for the next fiber: every guest
// thread and process has a fiber, and mapping, guarding and unmapping a
// stack costs three host syscalls (mmap, mprotect, munmap) per fork or
// pthread_create. Other sizes are not pooled.
class StackPool {
public:
    static StackPool& get() {
        static StackPool* pool = new StackPool;  // never destroyed: fibers may outlive statics
        return *pool;
    }
    bool take(ctx::stack_context& sc) {
        std::lock_guard lock(mu_);
        if (free_.empty()) return false;
        sc = free_.back();
        free_.pop_back();
        return true;
    }
    bool give(const ctx::stack_context& sc) {
        std::lock_guard lock(mu_);
        if (free_.size() >= kKeep) return false;
        free_.push_back(sc);
        return true;
    }

private:
    static constexpr std::size_t kKeep = 64;
    std::mutex mu_;
    std::vector<ctx::stack_context> free_;
};

// A Boost.Context stack allocator drawing default-size stacks from the pool.
class PooledStack {
public:
    explicit PooledStack(std::size_t size) : size_(size), inner_(size) {}
    ctx::stack_context allocate() {
        ctx::stack_context sc;
        if (size_ == Fiber::kDefaultStack && StackPool::get().take(sc)) return sc;
        return inner_.allocate();
    }
    void deallocate(ctx::stack_context& sc) noexcept {
        if (size_ == Fiber::kDefaultStack && StackPool::get().give(sc)) return;
        inner_.deallocate(sc);
    }

private:
    std::size_t size_;
    ctx::protected_fixedsize_stack inner_;
};

}  // namespace

Fiber::Fiber(std::function<void()> body, std::size_t stack) : body_(std::move(body)) {
    ctx_ = ctx::fiber(std::allocator_arg, PooledStack(stack),
                      [this](ctx::fiber&& caller) {
                          caller_ = std::move(caller);
                          body_();
                          done_ = true;
                          return std::move(caller_);
                      });
}

Fiber::~Fiber() { VK_ASSERT(done_ || ctx_); }

void Fiber::resume() {
    VK_ASSERT(!done_);
    ctx_ = std::move(ctx_).resume();
}

void Fiber::suspend() { caller_ = std::move(caller_).resume(); }

}  // namespace vk
