#include "vkernel/devfs.h"

#include <poll.h>
#include <sys/random.h>
#include <sys/sysmacros.h>

#include <algorithm>
#include <cstring>

#include "vkernel/files.h"
#include "vkernel/fs/tmpfs.h"
#include "vkernel/kernel.h"
#include "vkernel/tty.h"

namespace vk {

namespace {

// null, zero and full: memory devices (drivers/char/mem.c). lseek succeeds
// and leaves the offset at 0, as Linux's null_lseek does.
class MemOps final : public fs::FileOps {
public:
    enum Kind { kNull, kZero, kFull };
    explicit MemOps(Kind k) : kind_(k) {}
    Result<u64> read(fs::File&, std::span<std::byte> dst, u64) override {
        if (kind_ == kNull) return 0;
        std::fill(dst.begin(), dst.end(), std::byte{0});
        return dst.size();
    }
    Result<u64> write(fs::File&, std::span<const std::byte> src, u64) override {
        if (kind_ == kFull) return err(ENOSPC);
        return src.size();
    }
    Result<i64> seek(fs::File& f, i64, int) override {
        f.set_offset(0);
        return 0;
    }
    u32 poll(fs::File&) override { return POLLIN | POLLOUT | POLLRDNORM | POLLWRNORM; }
    // Only /dev/zero maps (as anonymous memory), as mmap_zero in Linux.
    fs::MapKind map_kind(const fs::File&) const override {
        return kind_ == kZero ? fs::MapKind::kAnonymous : fs::MapKind::kNone;
    }

private:
    Kind kind_;
};

// random and urandom: the host's entropy pool.
class RandomOps final : public fs::FileOps {
public:
    bool seekable() const override { return false; }
    Result<u64> read(fs::File&, std::span<std::byte> dst, u64) override {
        u64 done = 0;
        while (done < dst.size()) {
            const ssize_t n = ::getrandom(dst.data() + done, dst.size() - done, 0);
            if (n < 0 && errno == EINTR) continue;
            if (n < 0) return done ? Result<u64>(done) : err(errno);
            done += static_cast<u64>(n);
        }
        return done;
    }
    Result<u64> write(fs::File&, std::span<const std::byte> src, u64) override {
        return src.size();  // mixing into the pool is the host's business
    }
    Result<i64> seek(fs::File&, i64, int) override { return 0; }
    u32 poll(fs::File&) override { return POLLIN | POLLOUT | POLLRDNORM | POLLWRNORM; }
};

// tty and console: the console files of files.h, one for input (host fd 0)
// and one for output (host fd 1).
class TtyOps final : public BlockingOps {
public:
    TtyOps(std::shared_ptr<fs::File> in, std::shared_ptr<fs::File> out)
        : in_(std::move(in)), out_(std::move(out)) {}
    bool seekable() const override { return false; }
    int host_fd() const override { return 0; }  // readers wait for host stdin
    Result<u64> read(fs::File&, std::span<std::byte> dst, u64 off) override {
        return in_->ops().read(*in_, dst, off);
    }
    Result<u64> write(fs::File&, std::span<const std::byte> src, u64 off) override {
        return out_->ops().write(*out_, src, off);
    }
    Result<long> ioctl(fs::File&, u32 cmd, u64 arg) override {
        return in_->ops().ioctl(*in_, cmd, arg);
    }
    u32 poll(fs::File&) override {
        return (in_->ops().poll(*in_) & (POLLIN | POLLRDNORM | POLLHUP)) |
               (out_->ops().poll(*out_) & (POLLOUT | POLLWRNORM | POLLERR));
    }

private:
    std::shared_ptr<fs::File> in_, out_;
};

}  // namespace

fs::SpecialOpener devfs_opener(Kernel& k, fs::SpecialOpener others) {
    static const auto null_ops = std::make_shared<MemOps>(MemOps::kNull);
    static const auto zero_ops = std::make_shared<MemOps>(MemOps::kZero);
    static const auto full_ops = std::make_shared<MemOps>(MemOps::kFull);
    static const auto random_ops = std::make_shared<RandomOps>();
    return [&k, others = std::move(others)](fs::File& file) -> Result<std::shared_ptr<fs::FileOps>> {
        const fs::Inode& ino = file.inode();
        if (ino.type() != S_IFCHR) return others ? others(file) : err(ENXIO);
        const unsigned maj = major(ino.rdev()), min = minor(ino.rdev());
        if (maj == 1) {
            switch (min) {
            case 3: return std::shared_ptr<fs::FileOps>(null_ops);
            case 5: return std::shared_ptr<fs::FileOps>(zero_ops);
            case 7: return std::shared_ptr<fs::FileOps>(full_ops);
            case 8:
            case 9: return std::shared_ptr<fs::FileOps>(random_ops);
            default: return err(ENXIO);
            }
        }
        if (maj == 5 && (min == 0 || min == 1)) {
            if (const std::shared_ptr<Tty>& tty = k.console_tty()) {
                // /dev/tty is the caller's controlling terminal (ENXIO
                // without one, as Linux); /dev/console is the console.
                const Task* t = k.current_task();
                if (min == 0 && t && !tty->is_ctty_of(*t->process)) return err(ENXIO);
                return tty_file_ops(k, tty);
            }
            auto in = VK_TRY(make_console_file(k, 0, O_RDONLY));
            auto out = VK_TRY(make_console_file(k, 1, O_WRONLY));
            return std::shared_ptr<fs::FileOps>(
                std::make_shared<TtyOps>(std::move(in), std::move(out)));
        }
        return err(ENXIO);
    };
}

Result<void> mount_devfs(Kernel& k, fs::Vfs& vfs, const fs::Context& ctx, const std::string& where) {
    fs::TmpfsOptions o;
    o.root_mode = 0755;
    o.max_pages = 256;  // 1 MiB: nodes and links, not data
    VK_TRY(vfs.mount(ctx, vfs.root(), where, fs::Tmpfs::create(k.frames(), o), MS_NOSUID, "devtmpfs"));
    const fs::Path dev = VK_TRY(vfs.resolve(ctx, vfs.root(), where, fs::kLookupFollow | fs::kLookupDirectory));
    struct Node {
        const char* name;
        u32 mode;
        unsigned maj, min;
    };
    static constexpr Node nodes[] = {
        {"null", 0666, 1, 3},   {"zero", 0666, 1, 5},    {"full", 0666, 1, 7},
        {"random", 0666, 1, 8}, {"urandom", 0666, 1, 9}, {"tty", 0666, 5, 0},
        {"console", 0600, 5, 1},
    };
    for (const Node& n : nodes)
        VK_TRY(vfs.mknod(ctx, dev, n.name, S_IFCHR | n.mode, makedev(n.maj, n.min)));
    VK_TRY(vfs.symlink(ctx, "/proc/self/fd", dev, "fd"));
    VK_TRY(vfs.symlink(ctx, "/proc/self/fd/0", dev, "stdin"));
    VK_TRY(vfs.symlink(ctx, "/proc/self/fd/1", dev, "stdout"));
    VK_TRY(vfs.symlink(ctx, "/proc/self/fd/2", dev, "stderr"));
    VK_TRY(vfs.mkdir(ctx, dev, "pts", 0755));
    VK_TRY(vfs.mkdir(ctx, dev, "shm", 01777));
    VK_TRY(vfs.chmod(ctx, dev, "shm", 01777, 0));
    return {};
}

}  // namespace vk
