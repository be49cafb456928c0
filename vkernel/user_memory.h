#pragma once

// Guest addresses and the only ways across: copy_in, copy_out and friends.
// The guest is hostile: a guest address is never dereferenced on the host.

#include <concepts>
#include <string>
#include <type_traits>

#include "base/result.h"
#include "base/types.h"

namespace vk {

class Mm;

// Types that may cross the guest boundary by value.
template <typename T>
concept GuestAbi = std::is_trivially_copyable_v<T> && std::is_standard_layout_v<T>;

// A guest virtual address of a T; no operator*, on purpose.
template <typename T>
class UserPtr {
public:
    constexpr UserPtr() = default;
    constexpr explicit UserPtr(u64 a) : addr_(a) {}
    constexpr u64 addr() const { return addr_; }
    constexpr bool null() const { return addr_ == 0; }
    constexpr UserPtr operator+(u64 n) const { return UserPtr(addr_ + n * sizeof(T)); }

private:
    u64 addr_ = 0;
};

inline constexpr u64 kPathMax = 4096;
inline constexpr u64 kIovMax = 1024;
inline constexpr u64 kArgMax = 2 * 1024 * 1024;  // total argv + envp bytes, as Linux's default

// The raw crossings, implemented by Mm: they fault pages in as a real
// kernel's copyin does and stop at the first page that cannot be made
// accessible. They return the bytes copied.
u64 copy_in_partial(Mm& mm, u64 src, void* dst, u64 len);
u64 copy_out_partial(Mm& mm, u64 dst, const void* src, u64 len);

// How many bytes from `addr` (up to len) the guest could access, faulting
// pages in on the way: lets a handler check a buffer before it consumes
// input it could not give back (a read from a pipe).
u64 user_accessible(Mm& mm, u64 addr, u64 len, bool write);

// Linux's access_ok(): [addr, addr + len) lies below the top of user space.
bool user_range_ok(u64 addr, u64 len);

// Whole copies: EFAULT, and nothing copied, for a range that reaches past
// the top of user space (as Linux's copy_to_user checks first).
inline Result<void> copy_in_bytes(Mm& mm, u64 src, void* dst, u64 len) {
    if (!user_range_ok(src, len) || copy_in_partial(mm, src, dst, len) != len) return err(EFAULT);
    return {};
}
inline Result<void> copy_out_bytes(Mm& mm, u64 dst, const void* src, u64 len) {
    if (!user_range_ok(dst, len) || copy_out_partial(mm, dst, src, len) != len) return err(EFAULT);
    return {};
}

template <GuestAbi T>
Result<T> copy_in(Mm& mm, UserPtr<T> p) {
    T v;
    VK_TRY(copy_in_bytes(mm, p.addr(), &v, sizeof v));
    return v;
}

template <GuestAbi T>
Result<void> copy_out(Mm& mm, UserPtr<T> p, const T& v) {
    return copy_out_bytes(mm, p.addr(), &v, sizeof v);
}

// A NUL-terminated string of at most max - 1 bytes: ENAMETOOLONG past it
// (E2BIG for argument strings is the caller's translation), EFAULT if unreadable.
Result<std::string> copy_in_string(Mm& mm, u64 p, u64 max);

}  // namespace vk
