#pragma once

// A guest thread's kernel context: a fiber with its own guarded stack
// (Boost.Context), resumed by a vCPU thread's scheduler and suspended at
// blocking points. A fiber may be resumed by a different host thread than
// the one it last ran on: code inside it must not cache thread_local state
// across suspend().

#include <boost/context/fiber.hpp>

#include <functional>

namespace vk {

class Fiber {
public:
    static constexpr std::size_t kDefaultStack = 256 * 1024;

    // The body runs on the first resume(); the fiber is finished when it returns.
    explicit Fiber(std::function<void()> body, std::size_t stack = kDefaultStack);
    Fiber(const Fiber&) = delete;
    Fiber& operator=(const Fiber&) = delete;
    // Precondition: finished() or never started (a suspended fiber would be
    // unwound with boost's forced_unwind, which the kernel never relies on).
    ~Fiber();

    // Runs the fiber until it calls suspend() or its body returns. Called
    // from outside the fiber.
    void resume();
    // Called from inside the fiber: returns control to the resume() caller.
    void suspend();
    bool finished() const { return done_; }

private:
    boost::context::fiber ctx_;     // the fiber while it is not running
    boost::context::fiber caller_;  // whoever resumed it, while it runs
    std::function<void()> body_;
    bool done_ = false;
};

}  // namespace vk
