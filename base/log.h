#pragma once

// Logging to the host's stderr through fmt. The vkernel's own messages start
// with "vkernel: " so they can be told from the guest's output.

#include <fmt/core.h>

#include <cstdio>

namespace vk {

template <typename... Args>
void log_error(fmt::format_string<Args...> f, Args&&... args) {
    fmt::print(stderr, "vkernel: {}\n", fmt::format(f, std::forward<Args>(args)...));
}

extern bool g_debug_log;

template <typename... Args>
void log_debug(fmt::format_string<Args...> f, Args&&... args) {
    if (g_debug_log) [[unlikely]]
        fmt::print(stderr, "vkernel[debug]: {}\n", fmt::format(f, std::forward<Args>(args)...));
}

}  // namespace vk
