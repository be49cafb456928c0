#pragma once

// eventfd(2): a 64-bit counter behind a file. read(2) takes the counter (or
// 1 of it with EFD_SEMAPHORE) and waits while it is zero; write(2) adds to
// it and waits while the sum would pass 0xffff'ffff'ffff'fffe.

#include <memory>

#include "base/result.h"
#include "vkernel/fs/file.h"

namespace vk {

class Kernel;

inline constexpr int kEfdSemaphore = 1;  // EFD_SEMAPHORE

// An eventfd File with counter `initval`; `flags` may hold O_NONBLOCK
// (EFD_NONBLOCK) and kEfdSemaphore; O_CLOEXEC is the caller's business.
Result<std::shared_ptr<fs::File>> make_eventfd(Kernel& k, u64 initval, int flags);

}  // namespace vk
