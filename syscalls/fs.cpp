// File syscalls on the only files there are yet: guest fds 0-2, which are the
// host's stdin, stdout and stderr (the VFS replaces this).

#include <poll.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <termios.h>
#include <unistd.h>

#include <algorithm>
#include <vector>

#include "syscalls/syscalls.h"
#include "vkernel/kernel.h"
#include "vkernel/signal_delivery.h"
#include "vkernel/user_memory.h"

namespace vk::sys {

namespace {

constexpr u64 kChunk = 64 * 1024;
constexpr int kAtEmptyPath = 0x1000;
constexpr int kAtFdcwd = -100;

Result<int> host_fd(Task& task, u64 fd) {
    if (fd >= task.process->host_fds.size() || task.process->host_fds[fd] < 0) return err(EBADF);
    return task.process->host_fds[fd];
}

Result<long> host_ret(long r) {
    if (r < 0) return err(errno);
    return r;
}

// write(2) of guest [buf, buf + len) to host fd `hfd`. A partial copy-in
// writes what could be read, as Linux does for files and ttys; a pipe or
// socket takes data in whole 4 KiB pages and drops the page where the copy
// failed, so there only whole pages of the readable prefix are written.
Result<long> write_guest(Task& task, int hfd, u64 buf, u64 len) {
    struct stat st{};
    const bool paged = ::fstat(hfd, &st) == 0 && (S_ISFIFO(st.st_mode) || S_ISSOCK(st.st_mode));
    std::vector<std::byte> tmp(std::min(len, kChunk));
    u64 done = 0;
    while (done < len) {
        const u64 want = std::min(len - done, kChunk);
        u64 got = copy_in_partial(task.mm(), buf + done, tmp.data(), want);
        const bool faulted = got < want;
        if (faulted && paged) got = page_round_down(got);
        if (got == 0) break;
        const ssize_t n = task.kernel.without_lock([&] { return ::write(hfd, tmp.data(), got); });
        if (n < 0) {
            if (done > 0) return static_cast<long>(done);
            return err(errno);
        }
        done += static_cast<u64>(n);
        if (static_cast<u64>(n) < want) break;
    }
    if (done == 0 && len > 0) return err(EFAULT);
    return static_cast<long>(done);
}

// read(2) into guest memory: the buffer is checked before host input is
// consumed, so a bad pointer loses no input.
Result<long> read_guest(Task& task, int hfd, u64 buf, u64 len) {
    const u64 ok = user_accessible(task.mm(), buf, std::min(len, kChunk), true);
    if (ok == 0 && len > 0) return err(EFAULT);
    std::vector<std::byte> tmp(ok);
    // Wait for input in the reactor, so other guest threads run meanwhile.
    struct pollfd pfd{hfd, POLLIN, 0};
    if (::poll(&pfd, 1, 0) == 0 && !task.kernel.wait_host_fd(task, hfd, POLLIN))
        return err(kERestartSys);
    const ssize_t n = task.kernel.without_lock([&] { return ::read(hfd, tmp.data(), ok); });
    if (n < 0) return err(errno);
    VK_TRY(copy_out_bytes(task.mm(), buf, tmp.data(), static_cast<u64>(n)));
    return n;
}

struct Iovec {
    u64 base;
    u64 len;
};

Result<std::vector<Iovec>> copy_in_iov(Task& task, u64 iov, u64 cnt) {
    if (cnt > kIovMax) return err(EINVAL);
    std::vector<Iovec> v(cnt);
    VK_TRY(copy_in_bytes(task.mm(), iov, v.data(), cnt * sizeof(Iovec)));
    u64 total = 0;
    for (const auto& e : v) {
        if (e.len > 0x7fff'ffff'ffff'ffffULL - total) return err(EINVAL);
        total += e.len;
    }
    return v;
}

}  // namespace

Result<long> sys_read(Task& task, const SyscallArgs& a) {
    const int hfd = VK_TRY(host_fd(task, a[0]));
    return read_guest(task, hfd, a[1], a[2]);
}

Result<long> sys_write(Task& task, const SyscallArgs& a) {
    const int hfd = VK_TRY(host_fd(task, a[0]));
    return write_guest(task, hfd, a[1], a[2]);
}

Result<long> sys_readv(Task& task, const SyscallArgs& a) {
    const int hfd = VK_TRY(host_fd(task, a[0]));
    const auto iov = VK_TRY(copy_in_iov(task, a[1], a[2]));
    long total = 0;
    for (const auto& e : iov) {
        if (e.len == 0) continue;
        auto r = read_guest(task, hfd, e.base, e.len);
        if (!r) return total > 0 ? Result<long>(total) : r;
        total += r.value();
        if (static_cast<u64>(r.value()) < e.len) break;
    }
    return total;
}

Result<long> sys_writev(Task& task, const SyscallArgs& a) {
    const int hfd = VK_TRY(host_fd(task, a[0]));
    const auto iov = VK_TRY(copy_in_iov(task, a[1], a[2]));
    long total = 0;
    for (const auto& e : iov) {
        if (e.len == 0) continue;
        auto r = write_guest(task, hfd, e.base, e.len);
        if (!r) return total > 0 ? Result<long>(total) : r;
        total += r.value();
        if (static_cast<u64>(r.value()) < e.len) break;
    }
    return total;
}

Result<long> sys_close(Task& task, const SyscallArgs& a) {
    VK_TRY(host_fd(task, a[0]));
    // The host's stdio stays open for the vkernel's own messages.
    task.process->host_fds[a[0]] = -1;
    return 0;
}

namespace {

// dup2/dup3 within the three stdio slots: the new slot shares the host fd.
Result<long> dup_into(Task& task, u64 oldfd, u64 newfd) {
    const int hfd = VK_TRY(host_fd(task, oldfd));
    if (newfd >= task.process->host_fds.size()) return err(EBADF);  // no fd table yet
    task.process->host_fds[newfd] = hfd;
    return static_cast<long>(newfd);
}

}  // namespace

Result<long> sys_dup(Task& task, const SyscallArgs& a) {
    const int hfd = VK_TRY(host_fd(task, a[0]));
    for (u64 i = 0; i < task.process->host_fds.size(); i++) {
        if (task.process->host_fds[i] < 0) {
            task.process->host_fds[i] = hfd;
            return static_cast<long>(i);
        }
    }
    return err(EMFILE);
}

Result<long> sys_dup2(Task& task, const SyscallArgs& a) {
    if (a[0] == a[1]) {
        VK_TRY(host_fd(task, a[0]));
        return static_cast<long>(a[1]);
    }
    return dup_into(task, a[0], a[1]);
}

Result<long> sys_dup3(Task& task, const SyscallArgs& a) {
    constexpr u64 kOCloexec = 02000000;
    if (a[0] == a[1] || (a[2] & ~kOCloexec)) return err(EINVAL);
    return dup_into(task, a[0], a[1]);
}

Result<long> sys_readlink(Task& task, const SyscallArgs& a) {
    VK_TRY(copy_in_string(task.mm(), a[0], kPathMax));
    return err(ENOENT);  // there is no filesystem yet, so no links
}

Result<long> sys_lseek(Task& task, const SyscallArgs& a) {
    const int hfd = VK_TRY(host_fd(task, a[0]));
    return host_ret(::lseek(hfd, static_cast<off_t>(a[1]), static_cast<int>(a[2])));
}

Result<long> sys_fstat(Task& task, const SyscallArgs& a) {
    const int hfd = VK_TRY(host_fd(task, a[0]));
    struct stat st{};
    if (::fstat(hfd, &st) < 0) return err(errno);
    VK_TRY(copy_out(task.mm(), UserPtr<struct stat>(a[1]), st));
    return 0;
}

Result<long> sys_newfstatat(Task& task, const SyscallArgs& a) {
    const int dirfd = static_cast<int>(a[0]);
    const auto path = VK_TRY(copy_in_string(task.mm(), a[1], kPathMax));
    if (path.empty() && (a[3] & kAtEmptyPath) && dirfd != kAtFdcwd) {
        SyscallArgs b{{a[0], a[2]}};
        return sys_fstat(task, b);
    }
    if (path.empty()) return err(ENOENT);
    return err(ENOENT);  // no filesystem yet
}

Result<long> sys_ioctl(Task& task, const SyscallArgs& a) {
    const int hfd = VK_TRY(host_fd(task, a[0]));
    switch (a[1]) {
    case TCGETS: {
        struct termios t{};
        if (::ioctl(hfd, TCGETS, &t) < 0) return err(errno);
        VK_TRY(copy_out(task.mm(), UserPtr<struct termios>(a[2]), t));
        return 0;
    }
    case TIOCGWINSZ: {
        struct winsize w{};
        if (::ioctl(hfd, TIOCGWINSZ, &w) < 0) return err(errno);
        VK_TRY(copy_out(task.mm(), UserPtr<struct winsize>(a[2]), w));
        return 0;
    }
    default:
        return err(ENOTTY);  // what Linux answers for a request the driver does not know
    }
}

}  // namespace vk::sys
