#include "vkernel/fs/fd_table.h"

#include <linux/close_range.h>

#include <algorithm>

namespace vk::fs {

namespace {
FdTable::CloseHook g_close_hook = nullptr;
}  // namespace

void FdTable::set_close_hook(CloseHook hook) { g_close_hook = hook; }

FdTable::~FdTable() {
    if (!g_close_hook) return;
    for (Entry& e : fds_)
        if (e.file) g_close_hook(*this, *e.file);
}

void FdTable::put(int fd, std::shared_ptr<File> file, bool cloexec) {
    const auto i = static_cast<size_t>(fd);
    if (i >= fds_.size()) fds_.resize(i + 1);
    // Take the old file out before the slot is overwritten: its last
    // reference may run FileOps::release, which must see a consistent table.
    std::shared_ptr<File> old = std::move(fds_[i].file);
    fds_[i] = Entry{std::move(file), cloexec};
    if (old && g_close_hook) g_close_hook(*this, *old);
}

Result<int> FdTable::install(std::shared_ptr<File> file, bool cloexec, u64 limit, int min_fd) {
    VK_ASSERT(file && min_fd >= 0);
    for (u64 fd = static_cast<u64>(min_fd); fd < limit; ++fd) {
        if (fd >= fds_.size() || !fds_[fd].file) {
            put(static_cast<int>(fd), std::move(file), cloexec);
            return static_cast<int>(fd);
        }
    }
    return err(EMFILE);
}

Result<std::shared_ptr<File>> FdTable::get(int fd) const {
    if (fd < 0 || static_cast<size_t>(fd) >= fds_.size() || !fds_[fd].file) return err(EBADF);
    return fds_[fd].file;
}

Result<bool> FdTable::cloexec(int fd) const {
    VK_TRY(get(fd));
    return fds_[fd].cloexec;
}

Result<void> FdTable::set_cloexec(int fd, bool on) {
    VK_TRY(get(fd));
    fds_[fd].cloexec = on;
    return {};
}

Result<std::shared_ptr<File>> FdTable::close(int fd) {
    std::shared_ptr<File> f = VK_TRY(get(fd));
    fds_[fd] = Entry{};
    while (!fds_.empty() && !fds_.back().file) fds_.pop_back();
    if (g_close_hook) g_close_hook(*this, *f);
    return f;
}

Result<int> FdTable::dup(int fd, u64 limit) {
    std::shared_ptr<File> f = VK_TRY(get(fd));
    return install(std::move(f), false, limit);
}

Result<int> FdTable::dup_min(int fd, int min_fd, bool cloexec, u64 limit) {
    std::shared_ptr<File> f = VK_TRY(get(fd));
    // The argument is unsigned in Linux: a negative one is huge.
    if (min_fd < 0 || static_cast<u64>(min_fd) >= limit) return err(EINVAL);
    return install(std::move(f), cloexec, limit, min_fd);
}

Result<int> FdTable::dup2(int oldfd, int newfd, u64 limit) {
    if (oldfd == newfd) {
        VK_TRY(get(oldfd));
        return newfd;
    }
    return dup3(oldfd, newfd, 0, limit);
}

Result<int> FdTable::dup3(int oldfd, int newfd, int flags, u64 limit) {
    if (flags & ~O_CLOEXEC) return err(EINVAL);
    if (oldfd == newfd) return err(EINVAL);
    if (newfd < 0 || static_cast<u64>(newfd) >= limit) return err(EBADF);
    std::shared_ptr<File> f = VK_TRY(get(oldfd));
    put(newfd, std::move(f), flags & O_CLOEXEC);
    return newfd;
}

Result<void> FdTable::close_range(u32 first, u32 last, u32 flags) {
    if (flags & ~(CLOSE_RANGE_UNSHARE | CLOSE_RANGE_CLOEXEC)) return err(EINVAL);
    if (first > last) return err(EINVAL);
    const u64 end = std::min<u64>(u64{last} + 1, fds_.size());
    for (u64 fd = first; fd < end; ++fd) {
        if (!fds_[fd].file) continue;
        if (flags & CLOSE_RANGE_CLOEXEC) {
            fds_[fd].cloexec = true;
        } else {
            std::shared_ptr<File> old = std::move(fds_[fd].file);
            fds_[fd] = Entry{};
            if (g_close_hook) g_close_hook(*this, *old);
        }
    }
    while (!fds_.empty() && !fds_.back().file) fds_.pop_back();
    return {};
}

std::unique_ptr<FdTable> FdTable::clone() const {
    auto t = std::make_unique<FdTable>();
    t->fds_ = fds_;
    return t;
}

void FdTable::close_on_exec() {
    for (Entry& e : fds_) {
        if (e.file && e.cloexec) {
            std::shared_ptr<File> old = std::move(e.file);
            e = Entry{};
            if (g_close_hook) g_close_hook(*this, *old);
        }
    }
    while (!fds_.empty() && !fds_.back().file) fds_.pop_back();
}

void FdTable::for_each(
    const std::function<void(int fd, const std::shared_ptr<File>&, bool cloexec)>& f) const {
    for (size_t fd = 0; fd < fds_.size(); ++fd)
        if (fds_[fd].file) f(static_cast<int>(fd), fds_[fd].file, fds_[fd].cloexec);
}

u64 FdTable::count() const {
    return static_cast<u64>(
        std::count_if(fds_.begin(), fds_.end(), [](const Entry& e) { return e.file != nullptr; }));
}

}  // namespace vk::fs
