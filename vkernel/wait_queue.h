#pragma once

#include <algorithm>
#include <vector>

namespace vk {

class Task;

// Tasks sleeping until something happens. Guarded by the kernel lock; the
// sleeping and waking itself is Kernel::sleep / Kernel::wake.
class WaitQueue {
public:
    void add(Task* t) { waiters_.push_back(t); }
    void remove(Task* t) { waiters_.erase(std::remove(waiters_.begin(), waiters_.end(), t), waiters_.end()); }
    bool empty() const { return waiters_.empty(); }
    // The sleepers, for the waker to walk (it removes those it wakes).
    std::vector<Task*>& waiters() { return waiters_; }

private:
    std::vector<Task*> waiters_;
};

}  // namespace vk
