#include "base/fiber.h"

#include <boost/context/protected_fixedsize_stack.hpp>

#include "base/assert.h"

namespace vk {

namespace ctx = boost::context;

Fiber::Fiber(std::function<void()> body, std::size_t stack) : body_(std::move(body)) {
    ctx_ = ctx::fiber(std::allocator_arg, ctx::protected_fixedsize_stack(stack),
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
