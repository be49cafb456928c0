#pragma once

#include <cstddef>
#include <utility>

#include "base/result.h"

namespace vk {

// Owns one host mmap() region; unmaps it on destruction. Move-only.
class Mapping {
public:
    Mapping() = default;
    Mapping(Mapping&& o) noexcept
        : addr_(std::exchange(o.addr_, nullptr)), size_(std::exchange(o.size_, 0)) {}
    Mapping& operator=(Mapping&& o) noexcept {
        if (this != &o) {
            reset();
            addr_ = std::exchange(o.addr_, nullptr);
            size_ = std::exchange(o.size_, 0);
        }
        return *this;
    }
    Mapping(const Mapping&) = delete;
    Mapping& operator=(const Mapping&) = delete;
    ~Mapping() { reset(); }

    // mmap(nullptr, size, prot, flags, fd, offset); `what` names the mapping in errors.
    static Result<Mapping, HostError> map(std::size_t size, int prot, int flags, int fd,
                                          long offset, const char* what);

    void* get() const { return addr_; }
    std::byte* bytes() const { return static_cast<std::byte*>(addr_); }
    std::size_t size() const { return size_; }
    void reset();

private:
    Mapping(void* a, std::size_t s) : addr_(a), size_(s) {}
    void* addr_ = nullptr;
    std::size_t size_ = 0;
};

}  // namespace vk
