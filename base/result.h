#pragma once

// One result type for the whole vkernel, shaped like std::expected so it can
// become an alias when the toolchain has C++23.
//
// Kernel code returns Result<T> carrying a Linux errno; host-setup code
// returns Result<T, HostError> naming the failed operation.

#include <cerrno>
#include <string>
#include <type_traits>
#include <utility>
#include <variant>

#include "base/assert.h"

namespace vk {

// A Linux errno value (positive), as the guest will see it negated.
struct Errno {
    int code = 0;
    constexpr bool operator==(const Errno&) const = default;
};

// Name of errno value (e.g. "ENOENT"), or "E?" for unknown values.
const char* errno_name(int code);

// A failed host operation: what was attempted (an ioctl name, "open /dev/kvm")
// and the host errno it failed with. message() is a sentence fragment such as
// "KVM_CREATE_VM: Permission denied".
struct HostError {
    std::string op;
    int err = 0;
    std::string message() const;
};

// Wraps an error so Result's constructor can tell it from a value.
template <typename E>
struct Unexpected {
    E error;
};
template <typename E>
Unexpected(E) -> Unexpected<E>;

inline Unexpected<Errno> err(int code) { return Unexpected<Errno>{Errno{code}}; }
inline Unexpected<HostError> host_err(std::string op, int code = errno) {
    return Unexpected<HostError>{HostError{std::move(op), code}};
}

template <typename T, typename E = Errno>
class [[nodiscard]] Result {
public:
    using value_type = T;
    using error_type = E;

    template <typename U = T>
        requires std::is_constructible_v<T, U&&>
    Result(U&& v) : v_(std::in_place_index<0>, std::forward<U>(v)) {}
    template <typename G>
        requires std::is_constructible_v<E, G&&>
    Result(Unexpected<G> e) : v_(std::in_place_index<1>, std::move(e.error)) {}

    bool has_value() const { return v_.index() == 0; }
    explicit operator bool() const { return has_value(); }

    T& value() & { VK_ASSERT(has_value()); return std::get<0>(v_); }
    const T& value() const& { VK_ASSERT(has_value()); return std::get<0>(v_); }
    T&& value() && { VK_ASSERT(has_value()); return std::get<0>(std::move(v_)); }
    T* operator->() { return &value(); }
    const T* operator->() const { return &value(); }
    T& operator*() & { return value(); }

    const E& error() const { VK_ASSERT(!has_value()); return std::get<1>(v_); }
    E&& release_error() { VK_ASSERT(!has_value()); return std::get<1>(std::move(v_)); }

private:
    std::variant<T, E> v_;
};

template <typename E>
class [[nodiscard]] Result<void, E> {
public:
    using value_type = void;
    using error_type = E;

    Result() = default;
    template <typename G>
        requires std::is_constructible_v<E, G&&>
    Result(Unexpected<G> e) : error_(std::move(e.error)), ok_(false) {}

    bool has_value() const { return ok_; }
    explicit operator bool() const { return ok_; }
    void value() const { VK_ASSERT(ok_); }
    const E& error() const { VK_ASSERT(!ok_); return error_; }
    E&& release_error() { VK_ASSERT(!ok_); return std::move(error_); }

private:
    E error_{};
    bool ok_ = true;
};

}  // namespace vk

// Evaluates a Result; on error returns it from the enclosing function,
// otherwise yields the value (SerenityOS's TRY). Uses a GNU statement
// expression, which g++ and clang both accept.
#define VK_TRY(expr)                                                               \
    ({                                                                             \
        auto&& vk_try_r_ = (expr);                                                 \
        if (!vk_try_r_.has_value()) [[unlikely]]                                   \
            return ::vk::Unexpected{vk_try_r_.release_error()};                    \
        std::move(vk_try_r_).value();                                              \
    })
