#pragma once

// futex(2): sleeping on a 32-bit word of guest memory. Waiters are keyed by
// what the word is: the backing object and offset for shared mappings (so
// processes sharing memory meet), the address space and address otherwise.

#include <optional>

#include "base/result.h"
#include "base/types.h"
#include "vkernel/kernel.h"

namespace vk {

// Wakes up to n waiters on `addr` in `mm` whose bitset intersects `bitset`.
int futex_wake(Kernel& k, Mm& mm, u64 addr, int n, u32 bitset);

// A dying (or exec'ing) thread's robust futexes, as Linux's exit_robust_list:
// every lock on its robust list (set_robust_list) still owned by its tid, and
// the one it was taking or dropping (list_op_pending), gets FUTEX_OWNER_DIED
// and one waiter woken, so the next locker sees EOWNERDEAD. Best effort over
// guest memory: a bad list ends the walk, as on Linux (at most 2048 entries).
void exit_robust_list(Kernel& k, Task& t);

// The futex syscall; `op` with FUTEX_PRIVATE_FLAG and FUTEX_CLOCK_REALTIME.
Result<long> do_futex(Task& t, u64 addr, int op, u32 val, u64 timeout_or_val2, u64 addr2,
                      u32 val3);

}  // namespace vk
