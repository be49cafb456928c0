#include "vkernel/hostfs.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <string>
#include <vector>

namespace vk {

namespace {

fs::Timespec ts(const struct timespec& t) { return {t.tv_sec, t.tv_nsec}; }

class HostInode;

}  // namespace

struct HostFsSuper {
    u64 dev = 0;
    std::map<std::pair<u64, u64>, std::weak_ptr<HostInode>> inodes;
};

namespace {

fs::NewInode new_inode(const struct stat& st) {
    fs::NewInode n;
    n.mode = st.st_mode;
    n.uid = st.st_uid;
    n.gid = st.st_gid;
    n.rdev = st.st_rdev;
    return n;
}

class HostInode final : public fs::Inode {
public:
    HostInode(std::shared_ptr<HostFsSuper> sb, UniqueFd fd, const struct stat& st)
        : Inode(sb->dev, st.st_ino, new_inode(st)), sb_(std::move(sb)), fd_(std::move(fd)),
          key_(st.st_dev, st.st_ino) {
        refresh(st);
    }
    ~HostInode() override {
        auto it = sb_->inodes.find(key_);
        if (it != sb_->inodes.end() && it->second.expired()) sb_->inodes.erase(it);
    }

    int fd() const { return fd_.get(); }

    void refresh(const struct stat& st) {
        mode_ = st.st_mode;
        uid_ = st.st_uid;
        gid_ = st.st_gid;
        nlink_ = st.st_nlink;
        size_ = static_cast<u64>(st.st_size);
        rdev_ = st.st_rdev;
        blocks_ = static_cast<u64>(st.st_blocks);
        atime_ = ts(st.st_atim);
        mtime_ = ts(st.st_mtim);
        ctime_ = ts(st.st_ctim);
        btime_ = mtime_;
    }

    fs::Stat stat() const override {
        fs::Stat s = Inode::stat();
        struct stat st{};
        if (::fstatat(fd_.get(), "", &st, AT_EMPTY_PATH) == 0) {
            s.mode = st.st_mode;
            s.nlink = st.st_nlink;
            s.uid = st.st_uid;
            s.gid = st.st_gid;
            s.size = static_cast<u64>(st.st_size);
            s.blocks = static_cast<u64>(st.st_blocks);
            s.atime = ts(st.st_atim);
            s.mtime = ts(st.st_mtim);
            s.ctime = ts(st.st_ctim);
        }
        return s;
    }
    u64 allocated_bytes() const override { return blocks_ * 512; }

    Result<std::shared_ptr<fs::Inode>> lookup(std::string_view name) override {
        if (!is_dir()) return err(ENOTDIR);
        const std::string n(name);
        struct stat st{};
        if (::fstatat(fd_.get(), n.c_str(), &st, AT_SYMLINK_NOFOLLOW) < 0) return err(errno);
        const std::pair<u64, u64> key(st.st_dev, st.st_ino);
        if (auto it = sb_->inodes.find(key); it != sb_->inodes.end())
            if (auto live = it->second.lock()) {
                live->refresh(st);
                return std::shared_ptr<fs::Inode>(live);
            }
        UniqueFd fd(::openat(fd_.get(), n.c_str(), O_PATH | O_NOFOLLOW | O_CLOEXEC));
        if (!fd.valid()) return err(errno);
        auto inode = std::make_shared<HostInode>(sb_, std::move(fd), st);
        sb_->inodes[key] = inode;
        return std::shared_ptr<fs::Inode>(inode);
    }

    Result<void> iterate(u64 cookie, const fs::DirEmit& emit) override {
        if (!is_dir()) return err(ENOTDIR);
        auto entries = VK_TRY(list());
        for (u64 i = cookie < 2 ? 0 : cookie - 2; i < entries.size(); i++) {
            const Entry& e = entries[i];
            if (!emit(fs::DirEntry{e.name, e.ino, e.type, i + 3})) break;
        }
        return {};
    }
    bool empty_dir() const override {
        auto entries = list();
        return entries && entries->empty();
    }

    Result<std::string> readlink() override {
        if (!is_symlink()) return err(EINVAL);
        std::string buf(fs::kPathMax, '\0');
        const ssize_t n = ::readlinkat(fd_.get(), "", buf.data(), buf.size());
        if (n < 0) return err(errno);
        buf.resize(static_cast<std::size_t>(n));
        return buf;
    }

    Result<u64> read(u64 offset, std::span<std::byte> dst) override {
        if (!data_fd_.valid()) {
            // An O_PATH fd cannot be read: reopen the same file through /proc.
            const std::string self = "/proc/self/fd/" + std::to_string(fd_.get());
            data_fd_ = UniqueFd(::open(self.c_str(), O_RDONLY | O_CLOEXEC));
            if (!data_fd_.valid()) return err(errno);
        }
        for (;;) {
            const ssize_t n = ::pread(data_fd_.get(), dst.data(), dst.size(),
                                      static_cast<off_t>(offset));
            if (n < 0 && errno == EINTR) continue;
            if (n < 0) return err(errno);
            return static_cast<u64>(n);
        }
    }

    // Read-only: every change is EROFS.
    Result<std::shared_ptr<fs::Inode>> create(std::string_view, const fs::NewInode&) override { return err(EROFS); }
    Result<std::shared_ptr<fs::Inode>> mkdir(std::string_view, const fs::NewInode&) override { return err(EROFS); }
    Result<std::shared_ptr<fs::Inode>> mknod(std::string_view, const fs::NewInode&) override { return err(EROFS); }
    Result<std::shared_ptr<fs::Inode>> symlink(std::string_view, std::string_view,
                                               const fs::NewInode&) override { return err(EROFS); }
    Result<std::shared_ptr<fs::Inode>> tmpfile(const fs::NewInode&) override { return err(EROFS); }
    Result<void> link(std::string_view, const std::shared_ptr<fs::Inode>&) override { return err(EROFS); }
    Result<void> unlink(std::string_view) override { return err(EROFS); }
    Result<void> rmdir(std::string_view) override { return err(EROFS); }
    Result<void> rename(std::string_view, fs::Inode&, std::string_view, u32) override { return err(EROFS); }
    Result<void> setattr(const fs::SetAttr&) override { return err(EROFS); }
    Result<u64> write(u64, std::span<const std::byte>) override { return err(EROFS); }
    Result<void> allocate(int, u64, u64) override { return err(EROFS); }

private:
    struct Entry {
        std::string name;
        u64 ino;
        u8 type;
    };
    // The whole directory, without "." and "..", in the host's order.
    Result<std::vector<Entry>> list() const {
        UniqueFd dir(::openat(fd_.get(), ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
        if (!dir.valid()) return err(errno);
        std::vector<Entry> out;
        alignas(8) char buf[16384];
        for (;;) {
            const long n = ::syscall(SYS_getdents64, dir.get(), buf, sizeof buf);
            if (n < 0) return err(errno);
            if (n == 0) break;
            for (long off = 0; off < n;) {
                auto* d = reinterpret_cast<struct dirent64*>(buf + off);
                off += d->d_reclen;
                const std::string_view name(d->d_name);
                if (name == "." || name == "..") continue;
                out.push_back(Entry{std::string(name), d->d_ino, d->d_type});
            }
        }
        return out;
    }

    std::shared_ptr<HostFsSuper> sb_;
    UniqueFd fd_;              // O_PATH, never followed
    mutable UniqueFd data_fd_;  // O_RDONLY, opened on the first read
    std::pair<u64, u64> key_;
    u64 blocks_ = 0;
};

}  // namespace

Result<std::shared_ptr<HostFs>, HostError> HostFs::create(const std::string& dir) {
    UniqueFd fd(::open(dir.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
    if (!fd.valid()) return host_err("open " + dir);
    struct stat st{};
    if (::fstat(fd.get(), &st) < 0) return host_err("stat " + dir);
    std::shared_ptr<HostFs> h(new HostFs());
    h->sb_ = std::make_shared<HostFsSuper>();
    h->sb_->dev = h->dev();
    h->root_fd_ = fd.get();
    auto root = std::make_shared<HostInode>(h->sb_, std::move(fd), st);
    h->sb_->inodes[{static_cast<u64>(st.st_dev), static_cast<u64>(st.st_ino)}] = root;
    h->set_root(root);
    return h;
}

fs::StatFs HostFs::statfs() const {
    fs::StatFs s;
    struct statfs h{};
    if (::fstatfs(root_fd_, &h) == 0) {
        s.type = static_cast<u64>(h.f_type);
        s.bsize = static_cast<u64>(h.f_bsize);
        s.blocks = h.f_blocks;
        s.bfree = h.f_bfree;
        s.bavail = h.f_bavail;
        s.files = h.f_files;
        s.ffree = h.f_ffree;
        s.namelen = static_cast<u64>(h.f_namelen);
        s.frsize = static_cast<u64>(h.f_frsize);
    }
    s.fsid = dev();
    return s;
}

}  // namespace vk
