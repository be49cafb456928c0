#pragma once

// VK_ASSERT is for states the code makes impossible; a failure aborts with the
// condition and its place. It is never used for guest-caused errors.

namespace vk::detail {
[[noreturn]] void assert_fail(const char* cond, const char* file, int line, const char* func);
}  // namespace vk::detail

#define VK_ASSERT(cond)                                                            \
    do {                                                                           \
        if (!(cond)) [[unlikely]]                                                  \
            ::vk::detail::assert_fail(#cond, __FILE__, __LINE__, __func__);        \
    } while (0)
