#pragma once

// Tiny ring-3 guest programs (guest_code.S) and a helper to place them.

#include <cstddef>

#define VK_GUEST(name)                                                             \
    extern "C" const unsigned char name##_start[];                                 \
    extern "C" const unsigned char name##_end[];

VK_GUEST(g_syscall_loop)
VK_GUEST(g_xmm)
VK_GUEST(g_regs)
VK_GUEST(g_load)
VK_GUEST(g_store)
VK_GUEST(g_jump)
VK_GUEST(g_ud2)
VK_GUEST(g_div0)
VK_GUEST(g_int3)
VK_GUEST(g_hlt)
VK_GUEST(g_fs)
VK_GUEST(g_flags)
VK_GUEST(g_in)
VK_GUEST(g_out_other)
VK_GUEST(g_spin)
VK_GUEST(g_count)
VK_GUEST(g_out)
VK_GUEST(g_touch)

struct GuestCode {
    const unsigned char* start;
    std::size_t size;
};
#define VK_CODE(name) GuestCode{name##_start, static_cast<std::size_t>(name##_end - name##_start)}
