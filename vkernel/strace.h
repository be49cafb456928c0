#pragma once

#include <string>

#include "vkernel/syscall_table.h"

namespace vk {

class Task;

// --strace: the call decoded from its arguments ("write(1, 0x4020, 6)"), made
// before the handler runs since a handler may change guest memory.
std::string strace_call(Task& task, u64 nr, const SyscallDesc* desc, const SyscallArgs& args);
// Prints the call with its result ("= 6", "= -1 EFAULT (Bad address)").
void strace_result(const std::string& call, long ret, bool no_return, int tid);

}  // namespace vk
