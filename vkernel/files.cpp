#include "vkernel/files.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>

#include "vkernel/fifo.h"
#include "vkernel/kernel.h"
#include "vkernel/signal_delivery.h"
#include "vkernel/tty.h"
#include "vkernel/user_memory.h"

namespace vk {

namespace {

constexpr u64 kPipeCapacity = 64 * 1024;  // Linux's default pipe size
constexpr u64 kPipeBuf = 4096;            // PIPE_BUF: writes up to it are atomic

// The host's stdin, stdout or stderr, byte for byte.
class ConsoleOps final : public BlockingOps {
public:
    ConsoleOps(Kernel& k, int hfd) : kernel_(k), hfd_(hfd) {}
    bool seekable() const override { return seekable_; }
    int host_fd() const override { return hfd_; }

    Result<u64> read(fs::File&, std::span<std::byte> dst, u64) override {
        struct pollfd p{hfd_, POLLIN, 0};
        if (::poll(&p, 1, 0) == 0) return err(EAGAIN);
        const ssize_t n = kernel_.without_lock([&] { return ::read(hfd_, dst.data(), dst.size()); });
        if (n < 0) return err(errno == EWOULDBLOCK ? EAGAIN : errno);
        return static_cast<u64>(n);
    }
    Result<u64> write(fs::File&, std::span<const std::byte> src, u64) override {
        const ssize_t n = kernel_.without_lock([&] { return ::write(hfd_, src.data(), src.size()); });
        if (n < 0) return err(errno);
        return static_cast<u64>(n);
    }
    Result<i64> seek(fs::File&, i64 offset, int whence) override {
        const off_t r = ::lseek(hfd_, offset, whence);
        if (r < 0) return err(errno);
        return static_cast<i64>(r);
    }
    u32 poll(fs::File&) override {
        struct pollfd p{hfd_, POLLIN | POLLOUT, 0};
        ::poll(&p, 1, 0);
        return static_cast<u32>(p.revents);
    }
    Result<long> ioctl(fs::File&, u32 cmd, u64 arg) override {
        // Only the queries that need no guest memory are answered here; the
        // syscall layer copies TCGETS/TIOCGWINSZ results itself.
        (void)cmd;
        (void)arg;
        return err(ENOTTY);
    }

    bool seekable_ = false;

private:
    Kernel& kernel_;
    int hfd_;
};

// The console reached again through /proc/PID/fd/N (`echo x > /dev/stderr`
// when stderr is the console): a new open file description of the same host
// fd, as opening /dev/stderr on Linux reopens the file behind it.
class ConsoleReopen final : public fs::InodeAttachment {
public:
    ConsoleReopen(Kernel& k, int hfd, bool seekable) : kernel_(k), hfd_(hfd), seekable_(seekable) {}
    bool reopenable() const override { return true; }
    Result<std::shared_ptr<fs::FileOps>> reopen(fs::File&) override {
        auto ops = std::make_shared<ConsoleOps>(kernel_, hfd_);
        ops->seekable_ = seekable_;
        return std::shared_ptr<fs::FileOps>(std::move(ops));
    }

private:
    Kernel& kernel_;
    int hfd_;
    bool seekable_;
};

}  // namespace

// Not in the anonymous namespace: FIFOs (fifo.cpp) hold one by name.
struct Pipe {
    explicit Pipe(Kernel& k) : kernel(k) {}
    Kernel& kernel;
    std::deque<std::byte> data;
    u64 capacity = kPipeCapacity;
    int readers = 0, writers = 0;
    WaitQueue waiters;  // readers and writers both; woken on every change
};

namespace {

class PipeOps final : public BlockingOps {
public:
    // A FIFO opened O_RDWR is both a reader and a writer.
    PipeOps(std::shared_ptr<Pipe> p, bool reader, bool writer = false)
        : pipe_(std::move(p)), reader_(reader), writer_(writer || !reader) {
        if (reader_) pipe_->readers++;
        if (writer_) pipe_->writers++;
    }
    bool seekable() const override { return false; }
    WaitQueue* queue() override { return &pipe_->waiters; }
    bool whole_writes() const override { return true; }

    Result<u64> read(fs::File&, std::span<std::byte> dst, u64) override {
        Pipe& p = *pipe_;
        if (dst.empty()) return 0;
        if (p.data.empty()) {
            if (p.writers == 0) return 0;  // EOF
            return err(EAGAIN);
        }
        const u64 n = std::min<u64>(dst.size(), p.data.size());
        std::copy_n(p.data.begin(), n, dst.begin());
        p.data.erase(p.data.begin(), p.data.begin() + static_cast<long>(n));
        p.kernel.wake_all(p.waiters);
        return n;
    }
    Result<u64> write(fs::File&, std::span<const std::byte> src, u64) override {
        Pipe& p = *pipe_;
        if (p.readers == 0) return err(EPIPE);
        const u64 room = p.capacity - p.data.size();
        // Up to PIPE_BUF bytes go in whole or not at all.
        if (room == 0 || (src.size() <= kPipeBuf && room < src.size())) return err(EAGAIN);
        const u64 n = std::min<u64>(room, src.size());
        p.data.insert(p.data.end(), src.begin(), src.begin() + static_cast<long>(n));
        p.kernel.wake_all(p.waiters);
        return n;
    }
    u32 poll(fs::File&) override {
        const Pipe& p = *pipe_;
        u32 m = 0;
        if (reader_) {
            if (!p.data.empty()) m |= POLLIN | POLLRDNORM;
            if (p.writers == 0) m |= POLLHUP;
        }
        if (writer_) {
            if (p.capacity - p.data.size() >= kPipeBuf) m |= POLLOUT | POLLWRNORM;
            if (p.readers == 0) m |= POLLERR;
        }
        return m;
    }
    Result<long> ioctl(fs::File&, u32 cmd, u64) override {
        if (cmd == FIONREAD) return static_cast<long>(pipe_->data.size());
        return err(ENOTTY);
    }
    void release(fs::File&) override {
        if (reader_) pipe_->readers--;
        if (writer_) pipe_->writers--;
        pipe_->kernel.wake_all(pipe_->waiters);
    }
    Pipe& pipe() { return *pipe_; }

private:
    std::shared_ptr<Pipe> pipe_;
    bool reader_;
    bool writer_;
};

}  // namespace

std::shared_ptr<Pipe> make_pipe_buffer(Kernel& k) { return std::make_shared<Pipe>(k); }

std::shared_ptr<BlockingOps> make_pipe_ops(std::shared_ptr<Pipe> p, bool reader, bool writer) {
    Kernel& k = p->kernel;
    auto ops = std::make_shared<PipeOps>(p, reader, writer);
    k.wake_all(p->waiters);
    return ops;
}

std::pair<int, int> pipe_openers(const Pipe& p) { return {p.readers, p.writers}; }

WaitQueue& pipe_waiters(Pipe& p) { return p.waiters; }

Result<long> pipe_size(fs::File& f) {
    auto* ops = dynamic_cast<PipeOps*>(&f.ops());
    if (!ops) return err(EBADF);
    return static_cast<long>(ops->pipe().capacity);
}

Result<long> set_pipe_size(fs::File& f, u32 size, bool privileged) {
    auto* ops = dynamic_cast<PipeOps*>(&f.ops());
    if (!ops) return err(EBADF);
    Pipe& p = ops->pipe();
    // round_pipe_size: a page at least, else the next power of two; 0 (EINVAL) above 2 GiB.
    if (size > (u64{1} << 31)) return err(EINVAL);
    u64 bytes = kPageSize;
    while (bytes < size) bytes <<= 1;
    if (bytes > p.capacity && bytes > kPipeMaxSize && !privileged) return err(EPERM);
    // Linux counts pages in use; from an empty ring that is the bytes rounded up.
    if (p.data.size() > bytes) return err(EBUSY);
    p.capacity = bytes;
    p.kernel.wake_all(p.waiters);
    return static_cast<long>(bytes);
}

Result<std::shared_ptr<fs::File>> make_anon_file(Kernel& k, u32 mode, int flags,
                                                 std::shared_ptr<fs::FileOps> ops) {
    fs::Vfs& anon = k.anon_vfs();
    const fs::Credentials root = fs::Credentials::root();
    const fs::FsContext fsc = anon.initial_context(0);
    const fs::Context ctx{fsc, root};
    const std::string name = "anon" + std::to_string(k.next_anon_id());
    VK_TRY(anon.mknod(ctx, anon.root(), name, mode | 0600, 0));
    const fs::Path path = VK_TRY(anon.resolve(ctx, anon.root(), name, 0));
    VK_TRY(anon.unlink(ctx, anon.root(), name));  // the File keeps the inode
    return std::make_shared<fs::File>(path, flags, root, std::move(ops));
}

Result<std::shared_ptr<fs::File>> make_console_file(Kernel& k, int hfd, int flags) {
    if (host_console_is_tty() && (hfd == 0 || ::isatty(hfd) == 1)) {
        std::shared_ptr<Tty>& tty = k.console_tty();
        if (!tty) {
            // Output goes to the first of stdout, stderr, stdin that is a terminal.
            const int out = ::isatty(1) == 1 ? 1 : ::isatty(2) == 1 ? 2 : 0;
            tty = Tty::create(k, 0, out);
        }
        // An open of /dev/console when the root has one, as Linux's init
        // gets (console_on_rootfs): ttyname(3) can then name it.
        const fs::FsContext fsc = k.vfs().initial_context(0);
        const fs::Context ctx{fsc, fs::Credentials::root()};
        const int oflags = O_RDWR | (flags & ~O_ACCMODE);
        if (auto f = k.vfs().open(ctx, k.vfs().root(), "/dev/console", oflags, 0); f && tty_of(**f))
            return f;
        return make_tty_file(k, tty, O_RDWR | (flags & ~O_ACCMODE));
    }
    auto ops = std::make_shared<ConsoleOps>(k, hfd);
    struct stat st{};
    u32 mode = S_IFCHR;
    if (::fstat(hfd, &st) == 0) {
        // Show what the host fd is (a file, a pipe, a tty), as a passthrough should.
        mode = st.st_mode & S_IFMT;
        ops->seekable_ = S_ISREG(st.st_mode) || S_ISBLK(st.st_mode);
        if (mode == S_IFDIR || mode == S_IFLNK || mode == S_IFSOCK) mode = S_IFCHR;
    }
    const bool seekable = ops->seekable_;
    auto file = VK_TRY(make_anon_file(k, mode, flags, std::move(ops)));
    file->inode().attachment = std::make_shared<ConsoleReopen>(k, hfd, seekable);
    return file;
}

void attach_console(Kernel& k, const Process& init) {
    if (const std::shared_ptr<Tty>& tty = k.console_tty()) tty->attach(init);
}

Result<std::pair<std::shared_ptr<fs::File>, std::shared_ptr<fs::File>>> make_pipe(Kernel& k,
                                                                                   int flags) {
    auto p = std::make_shared<Pipe>(k);
    const int keep = flags & (O_NONBLOCK | O_DIRECT);
    auto r = VK_TRY(make_anon_file(k, S_IFIFO, O_RDONLY | keep, std::make_shared<PipeOps>(p, true)));
    auto w = VK_TRY(make_anon_file(k, S_IFIFO, O_WRONLY | keep, std::make_shared<PipeOps>(p, false)));
    attach_pipe(k, r->inode(), p);
    attach_pipe(k, w->inode(), p);
    return std::make_pair(std::move(r), std::move(w));
}

WakeReason wait_on_any(Task& t, std::vector<WaitQueue*> queues,
                       const std::vector<std::pair<int, short>>& host,
                       std::optional<Clock::time_point> deadline) {
    Kernel& k = t.kernel;
    std::sort(queues.begin(), queues.end());
    queues.erase(std::unique(queues.begin(), queues.end()), queues.end());
    for (WaitQueue* q : queues) q->add(&t);
    // Host fds: a reactor poll per fd wakes us, by tid (we may be gone).
    auto fired = std::make_shared<bool>(false);
    std::vector<PollId> polls;
    const int tid = t.tid;
    for (auto [hfd, ev] : host) {
        polls.push_back(k.reactor().poll_fd(hfd, ev, [&k, tid, fired](int) {
            std::lock_guard g(k.lock());
            *fired = true;
            if (Task* task = k.find_task(tid)) k.wake(*task);
        }));
    }
    const WakeReason why = *fired ? WakeReason::kWoken : k.sleep(t, nullptr, deadline);
    for (PollId id : polls) k.reactor().cancel_poll(id);
    for (WaitQueue* q : queues) q->remove(&t);
    return why;
}

Result<void> set_wait_sigmask(Task& t, u64 addr, u64 size) {
    if (!addr) return {};
    if (size != 8) return err(EINVAL);
    const u64 mask = VK_TRY(copy_in(t.mm(), UserPtr<u64>(addr)));
    t.saved_sigmask = t.sigmask;
    t.sigmask = mask & ~(sigbit(SIGKILL) | sigbit(SIGSTOP));
    return {};
}

void end_wait_sigmask(Task& t, bool interrupted) {
    if (!t.saved_sigmask || interrupted) return;
    t.sigmask = *t.saved_sigmask;
    t.saved_sigmask.reset();
}

namespace {

// Sleeps `t` until the file may be ready again. False: a signal came.
bool wait_ready(Task& t, fs::File& f, short events) {
    auto* ops = dynamic_cast<BlockingOps*>(&f.ops());
    if (!ops) return true;
    if (const int hfd = ops->host_fd(); hfd >= 0) return t.kernel.wait_host_fd(t, hfd, events);
    if (WaitQueue* q = ops->queue())
        return t.kernel.sleep(t, q, std::nullopt) != WakeReason::kInterrupted;
    return true;
}

}  // namespace

Result<u64> file_read(Task& t, fs::File& f, std::span<std::byte> dst) {
    for (;;) {
        auto r = f.read(dst);
        if (r || r.error().code != EAGAIN || f.nonblocking()) return r;
        if (!wait_ready(t, f, POLLIN)) return err(kERestartSys);
    }
}

Result<u64> file_write(Task& t, fs::File& f, std::span<const std::byte> src) {
    u64 done = 0;
    for (;;) {
        auto r = f.write(src.subspan(done));
        if (r) {
            done += r.value();
            auto* ops = dynamic_cast<BlockingOps*>(&f.ops());
            if (done == src.size() || !ops || !ops->whole_writes() || f.nonblocking()) return done;
            continue;  // a pipe took part of a large write: wait for room for the rest
        }
        auto* bops = dynamic_cast<BlockingOps*>(&f.ops());
        if (r.error().code == EPIPE && (!bops || bops->epipe_signals())) {
            KSigInfo info;
            info.signo = SIGPIPE;
            t.kernel.send_signal_to_task(t, SIGPIPE, info);
        }
        if (r.error().code != EAGAIN || f.nonblocking()) {
            if (done) return done;
            return Unexpected{r.error()};
        }
        if (!wait_ready(t, f, POLLOUT)) return done ? Result<u64>(done) : err(kERestartSys);
    }
}

}  // namespace vk
