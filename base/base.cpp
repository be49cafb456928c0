#include <sys/mman.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "base/assert.h"
#include "base/log.h"
#include "base/mapping.h"
#include "base/result.h"
#include "base/unique_fd.h"

namespace vk {

bool g_debug_log = false;

namespace detail {
void assert_fail(const char* cond, const char* file, int line, const char* func) {
    std::fprintf(stderr, "vkernel: internal error: assertion `%s` failed in %s at %s:%d\n", cond,
                 func, file, line);
    std::abort();
}
}  // namespace detail

const char* errno_name(int code) {
    const char* n = strerrorname_np(code);
    return n ? n : "E?";
}

std::string HostError::message() const { return op + ": " + std::strerror(err); }

void UniqueFd::reset(int fd) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = fd;
}

Result<Mapping, HostError> Mapping::map(std::size_t size, int prot, int flags, int fd, long offset,
                                        const char* what) {
    // SAFETY: a fresh mapping chosen by the kernel; we own it from here on.
    void* a = ::mmap(nullptr, size, prot, flags, fd, offset);
    if (a == MAP_FAILED) return host_err(std::string("mmap ") + what);
    return Mapping(a, size);
}

void Mapping::reset() {
    if (addr_) ::munmap(addr_, size_);
    addr_ = nullptr;
    size_ = 0;
}

}  // namespace vk
