#pragma once

#include <string>
#include <vector>

#include "base/result.h"
#include "vkernel/task.h"

namespace vk {

// Why a program could not be started: the exit status the vkernel reports
// (126 not runnable, 127 not found, 1 other) and one sentence for the user.
struct ExecError {
    int status = 1;
    std::string message;
};

// Loads the static ELF executable at host path `path` into a fresh address
// space for `task`'s process: regions for its segments, a stack holding argv,
// envp and the auxiliary vector, the registers to start it. Pages are not
// touched until the guest faults on them, except the stack's top pages.
Result<void, ExecError> load_program(Task& task, vmspace::Machine& machine,
                                     const std::string& path,
                                     const std::vector<std::string>& argv,
                                     const std::vector<std::string>& envp);

}  // namespace vk
