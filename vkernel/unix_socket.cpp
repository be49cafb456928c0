#include "vkernel/unix_socket.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <map>
#include <tuple>

#include "vkernel/kernel.h"
#include "vkernel/signal_delivery.h"

namespace vk {

namespace {

constexpr int kRcvShutdown = 1;
constexpr int kSendShutdown = 2;
// What a queued message costs its sender beyond its bytes: Linux charges
// an skb's truesize (about this much for a small one) against SO_SNDBUF.
constexpr u64 kMessageOverhead = 768;
constexpr u64 kMinSndbuf = 4608;  // SOCK_MIN_SNDBUF
constexpr u64 kMinRcvbuf = 2304;  // SOCK_MIN_RCVBUF

// The name a filesystem-bound socket leaves on its inode: weak, so a
// closed socket's name refuses connections, and no cycle through the inode.
struct UnixBinding final : fs::InodeAttachment {
    std::weak_ptr<UnixSocket> socket;
};

// Abstract names, per kernel (guarded by the kernel lock).
// Linux hashes the type with the name, so each type has its own names.
using AbstractKey = std::tuple<const Kernel*, int, std::string>;
std::map<AbstractKey, std::weak_ptr<UnixSocket>>& abstract_names() {
    static std::map<AbstractKey, std::weak_ptr<UnixSocket>> names;
    return names;
}

// The filesystem path in a name: up to its first NUL.
std::string path_of(const std::string& name) { return name.substr(0, name.find('\0')); }

bool same_cred(const UnixCred& a, const UnixCred& b) {
    return a.pid == b.pid && a.uid == b.uid && a.gid == b.gid;
}

// Sleeps on `q`; false when a signal came.
bool wait_on(Task& t, WaitQueue& q) {
    return t.kernel.sleep(t, &q, std::nullopt) != WakeReason::kInterrupted;
}

}  // namespace

UnixSocket::UnixSocket(Kernel& k, int type, UnixCred owner) : kernel_(k), type_(type), cred_(owner) {}

UnixSocket::~UnixSocket() { unregister_name(); }

UnixSocket* UnixSocket::of(fs::File& f) { return dynamic_cast<UnixSocket*>(&f.ops()); }

UnixCred UnixSocket::sender_cred() const {
    if (Task* t = kernel_.current_task())
        return UnixCred{t->process->pid, t->process->euid, t->process->egid};
    return cred_;
}

void UnixSocket::unregister_name() {
    if (!abstract_registered_) return;
    abstract_registered_ = false;
    auto& names = abstract_names();
    auto it = names.find({&kernel_, type_, name_});
    if (it != names.end() && (it->second.expired() || it->second.lock().get() == this)) names.erase(it);
}

// ---- Queues and flow control ----------------------------------------------

void UnixSocket::uncharge(Message& m) {
    if (auto s = m.sender.lock()) {
        s->inflight_ -= std::min(s->inflight_, m.charge);
        kernel_.wake_all(s->waiters_);
    }
    m.charge = 0;
}

void UnixSocket::drop_front() {
    Message m = std::move(queue_.front());
    queue_.pop_front();
    uncharge(m);
    kernel_.wake_all(waiters_);
    // m's files close here, after the queue is consistent: closing one may
    // release another socket.
}

bool UnixSocket::writable() const {
    if (state_ == State::kListening) return false;
    if (inflight_ * 4 > sndbuf_) return false;
    if (type_ == SOCK_DGRAM && peer_ && peer_->peer_.get() != this &&
        peer_->queue_.size() > static_cast<u64>(kUnixMaxDgramQlen))
        return false;
    return true;
}

Result<u64> UnixSocket::try_send(std::span<const std::byte> data, UnixSocket* to, UnixControl& ctl,
                                 int flags) {
    if (flags & MSG_OOB) return err(EOPNOTSUPP);
    UnixSocket* other = nullptr;
    if (type_ == SOCK_STREAM) {
        if (to) return err(state_ == State::kConnected ? EISCONN : EOPNOTSUPP);
        if (state_ != State::kConnected || !peer_) return err(ENOTCONN);
        if (shutdown_ & kSendShutdown) return err(EPIPE);
        other = peer_.get();
        if (other->closed_ || (other->shutdown_ & kRcvShutdown)) return err(EPIPE);
        if (data.empty()) return 0;
    } else {
        if (type_ == SOCK_SEQPACKET) {
            if (state_ != State::kConnected) return err(ENOTCONN);
            to = nullptr;
        }
        other = to ? to : peer_.get();
        if (!other) return err(ENOTCONN);
        if (shutdown_ & kSendShutdown) return err(EPIPE);
        if (data.size() + 32 > sndbuf_) return err(EMSGSIZE);
        if (other->peer_ && other->peer_.get() != this && other->type_ == SOCK_DGRAM)
            return err(EPERM);
        if (other->closed_) {
            if (other == peer_.get()) {
                // The default destination died: forget it (the next send is ENOTCONN).
                peer_.reset();
                state_ = State::kUnconnected;
            }
            return err(ECONNREFUSED);
        }
        if (other->shutdown_ & kRcvShutdown) return err(EPIPE);
        if (other->peer_.get() != this && other->queue_.size() > static_cast<u64>(kUnixMaxDgramQlen))
            return err(EAGAIN);
    }
    if (inflight_ >= sndbuf_) return err(EAGAIN);
    u64 n = data.size();
    if (type_ == SOCK_STREAM) n = std::min<u64>(n, std::max<u64>(sndbuf_ - inflight_, 1));
    Message m;
    m.data.assign(data.begin(), data.begin() + static_cast<long>(n));
    m.charge = n + kMessageOverhead;
    m.files = std::move(ctl.files);
    ctl.files.clear();
    m.cred = ctl.cred ? *ctl.cred : sender_cred();
    m.from = name_;
    m.sender = weak_from_this();
    inflight_ += m.charge;
    other->queue_.push_back(std::move(m));
    kernel_.wake_all(other->waiters_);
    return n;
}

Result<UnixReceived> UnixSocket::try_recv(std::span<std::byte> dst, int flags) {
    const bool peek = flags & MSG_PEEK;
    UnixReceived r;
    if (type_ == SOCK_STREAM && state_ != State::kConnected) return err(EINVAL);
    if (type_ == SOCK_SEQPACKET && state_ != State::kConnected) return err(ENOTCONN);
    if (queue_.empty()) {
        if (error_) {
            const int e = error_;
            error_ = 0;
            return err(e);
        }
        if (shutdown_ & kRcvShutdown) return r;  // end of file
        return err(EAGAIN);
    }
    if (type_ != SOCK_STREAM) {
        Message& m = queue_.front();
        const u64 n = std::min<u64>(dst.size(), m.data.size());
        std::copy_n(m.data.begin(), n, dst.begin());
        r.copied = n;
        r.length = m.data.size();
        if (n < m.data.size()) r.msg_flags |= MSG_TRUNC;
        r.from = m.from;
        if (passcred_) r.cred = m.cred;
        if (peek) {
            r.files = m.files;
        } else {
            r.files = std::move(m.files);
            drop_front();
        }
        return r;
    }
    // A stream reads across messages: not past one that carried files,
    // and with SO_PASSCRED not across writers.
    r.from = queue_.front().from;
    const UnixCred first = queue_.front().cred;
    if (passcred_) r.cred = first;
    for (std::size_t i = 0; r.copied < dst.size() && i < queue_.size();) {
        Message& m = queue_[i];
        if (passcred_ && r.copied > 0 && !same_cred(m.cred, first)) break;
        const u64 n = std::min<u64>(m.data.size() - m.consumed, dst.size() - r.copied);
        std::copy_n(m.data.begin() + static_cast<long>(m.consumed), n, dst.begin() + static_cast<long>(r.copied));
        r.copied += n;
        const bool had_files = !m.files.empty();
        if (peek) {
            if (had_files) {
                r.files = m.files;
                break;
            }
            i++;
            continue;
        }
        m.consumed += n;
        if (had_files) r.files = std::move(m.files);
        if (m.consumed < m.data.size()) break;
        drop_front();
        if (had_files) break;
    }
    r.length = r.copied;
    return r;
}

// ---- FileOps ------------------------------------------------------------------

Result<u64> UnixSocket::read(fs::File&, std::span<std::byte> dst, u64) {
    if (dst.empty() && type_ == SOCK_STREAM) return 0;
    const UnixReceived r = VK_TRY(try_recv(dst, 0));
    return r.copied;  // files passed to read(2) are closed, as Linux does
}

Result<u64> UnixSocket::write(fs::File&, std::span<const std::byte> src, u64) {
    UnixControl none;
    return try_send(src, nullptr, none, 0);
}

u32 UnixSocket::poll(fs::File&) {
    if (state_ == State::kListening) return pending_.empty() ? 0 : (POLLIN | POLLRDNORM);
    u32 m = 0;
    if (error_) m |= POLLERR;
    if (shutdown_ == (kRcvShutdown | kSendShutdown)) m |= POLLHUP;
    if (shutdown_ & kRcvShutdown) m |= POLLRDHUP | POLLIN | POLLRDNORM;
    if (!queue_.empty()) m |= POLLIN | POLLRDNORM;
    if (connection_oriented() && state_ == State::kUnconnected) m |= POLLHUP;
    if (writable()) m |= POLLOUT | POLLWRNORM | POLLWRBAND;
    return m;
}

Result<long> UnixSocket::ioctl(fs::File&, u32 cmd, u64) {
    if (cmd == FIONREAD) {
        if (state_ == State::kListening) return err(EINVAL);
        if (type_ != SOCK_STREAM) return queue_.empty() ? 0 : static_cast<long>(queue_.front().data.size());
        u64 n = 0;
        for (const Message& m : queue_) n += m.data.size() - m.consumed;
        return static_cast<long>(n);
    }
    return err(ENOTTY);
}

void UnixSocket::release(fs::File&) { close(); }

void UnixSocket::close() {
    if (closed_) return;
    closed_ = true;
    auto self = shared_from_this();  // the last references may go below
    unregister_name();
    auto pending = std::move(pending_);
    pending_.clear();
    for (auto& s : pending) s->close();
    if (auto p = std::move(peer_)) {
        peer_.reset();
        if (connection_oriented()) {
            p->shutdown_ = kRcvShutdown | kSendShutdown;
            if (!queue_.empty() || embryo_) p->error_ = ECONNRESET;
        }
        kernel_.wake_all(p->waiters_);
    }
    auto queued = std::move(queue_);
    queue_.clear();
    for (auto& m : queued) uncharge(m);
    queued.clear();  // files in flight close here
    kernel_.wake_all(waiters_);
}

// ---- Names and connections ----------------------------------------------------

Result<void> UnixSocket::bind(Kernel& k, const fs::Context& ctx, const fs::Path& at,
                              std::string name) {
    auto& names = abstract_names();
    auto taken = [&](const std::string& n) {
        auto it = names.find({&k, type_, n});
        return it != names.end() && !it->second.expired();
    };
    // A path is made first (EADDRINUSE before EINVAL), as unix_bind_bsd does.
    if (!name.empty() && name[0] != '\0') {
        const std::string path = path_of(name);
        auto made = k.vfs().mknod(ctx, at, path, S_IFSOCK | 0777, 0);
        if (!made) return err(made.error().code == EEXIST ? EADDRINUSE : made.error().code);
        if (!name_.empty()) {
            (void)k.vfs().unlink(ctx, at, path);
            return err(EINVAL);
        }
        const fs::Path p = VK_TRY(k.vfs().resolve(ctx, at, path, 0));
        auto binding = std::make_shared<UnixBinding>();
        binding->socket = weak_from_this();
        p.inode().attachment = std::move(binding);
        name_ = path + '\0';
        return {};
    }
    if (!name_.empty()) return err(EINVAL);
    if (name.empty()) {
        // Autobind: "\0" and five hex digits, as Linux.
        static u32 next = 0;
        for (u32 tries = 0;; tries++) {
            if (tries > 0xfffff) return err(ENOSPC);
            char buf[8];
            std::snprintf(buf, sizeof buf, "%05x", next++ & 0xfffff);
            name = std::string(1, '\0') + buf;
            if (!taken(name)) break;
        }
    }
    if (taken(name)) return err(EADDRINUSE);
    names[{&k, type_, name}] = weak_from_this();
    abstract_registered_ = true;
    name_ = std::move(name);
    return {};
}

Result<std::shared_ptr<UnixSocket>> UnixSocket::lookup(Kernel& k, const fs::Context& ctx,
                                                       const fs::Path& at, const std::string& name,
                                                       int type) {
    std::shared_ptr<UnixSocket> s;
    if (name.empty()) return err(EINVAL);
    if (name[0] == '\0') {
        auto& names = abstract_names();
        auto it = names.find({&k, type, name});
        if (it != names.end()) s = it->second.lock();
    } else {
        const std::string path = path_of(name);
        const fs::Path p = VK_TRY(k.vfs().resolve(ctx, at, path, fs::kLookupFollow));
        VK_TRY(k.vfs().access(ctx, at, path, W_OK, 0));
        if (!S_ISSOCK(p.inode().mode())) return err(ECONNREFUSED);
        if (auto* b = dynamic_cast<UnixBinding*>(p.inode().attachment.get())) s = b->socket.lock();
    }
    if (!s || s->closed_) return err(ECONNREFUSED);
    if (s->type_ != type) return err(EPROTOTYPE);
    return s;
}

Result<void> UnixSocket::listen(int backlog) {
    if (type_ == SOCK_DGRAM) return err(EOPNOTSUPP);
    if (name_.empty()) return err(EINVAL);
    if (state_ == State::kConnected) return err(EINVAL);
    if (backlog < 0 || backlog > kSomaxconn) backlog = kSomaxconn;
    backlog_ = backlog;
    if (state_ != State::kListening) cred_ = sender_cred();  // SO_PEERCRED of its connections
    state_ = State::kListening;
    kernel_.wake_all(waiters_);
    return {};
}

Result<std::shared_ptr<UnixSocket>> UnixSocket::accept(Task& t, bool nonblock) {
    if (type_ == SOCK_DGRAM) return err(EOPNOTSUPP);
    for (;;) {
        if (state_ != State::kListening) return err(EINVAL);
        if (!pending_.empty()) {
            auto s = std::move(pending_.front());
            pending_.pop_front();
            s->embryo_ = false;
            kernel_.wake_all(waiters_);  // a connector waiting for room
            return s;
        }
        if (nonblock) return err(EAGAIN);
        if (!wait_on(t, waiters_)) return err(kERestartSys);
    }
}

Result<void> UnixSocket::connect(Task& t, const fs::Context& ctx, const fs::Path& at,
                                 const std::string& name, bool nonblock) {
    if (type_ == SOCK_DGRAM) {
        if (name.empty()) {  // AF_UNSPEC: dissolve the association
            peer_.reset();
            state_ = State::kUnconnected;
            return {};
        }
        auto other = VK_TRY(lookup(t.kernel, ctx, at, name, type_));
        if (other->peer_ && other->peer_.get() != this) return err(EPERM);
        peer_ = std::move(other);
        peer_cred_ = peer_->cred_;
        state_ = State::kConnected;
        kernel_.wake_all(waiters_);
        return {};
    }
    auto other = VK_TRY(lookup(t.kernel, ctx, at, name, type_));
    // unix_stream_connect's order: the listener, its queue, then our state.
    for (;;) {
        if (other->closed_ || other->state_ != State::kListening ||
            (other->shutdown_ & kRcvShutdown))
            return err(ECONNREFUSED);
        if (other->pending_.size() <= static_cast<u64>(other->backlog_)) break;
        if (nonblock) return err(EAGAIN);
        if (!wait_on(t, other->waiters_)) return err(kERestartSys);
    }
    if (state_ == State::kConnected) return err(EISCONN);
    if (state_ == State::kListening) return err(EINVAL);
    auto server = std::make_shared<UnixSocket>(kernel_, type_, other->cred_);
    server->name_ = other->name_;  // an accepted socket has the listener's name
    server->embryo_ = true;
    server->sndbuf_ = other->sndbuf_;
    server->rcvbuf_ = other->rcvbuf_;
    server->passcred_ = other->passcred_;
    server->peer_ = shared_from_this();
    server->peer_cred_ = sender_cred();
    server->state_ = State::kConnected;
    peer_ = server;
    peer_cred_ = other->cred_;
    state_ = State::kConnected;
    other->pending_.push_back(std::move(server));
    kernel_.wake_all(other->waiters_);
    kernel_.wake_all(waiters_);
    return {};
}

void UnixSocket::connect_pair(UnixSocket& other) {
    peer_ = other.shared_from_this();
    other.peer_ = shared_from_this();
    state_ = other.state_ = State::kConnected;
    peer_cred_ = other.cred_;
    other.peer_cred_ = cred_;
}

Result<std::string> UnixSocket::peer_name() const {
    if (state_ != State::kConnected || !peer_) return err(ENOTCONN);
    return peer_->name_;
}

Result<void> UnixSocket::shutdown(int how) {
    if (how < SHUT_RD || how > SHUT_RDWR) return err(EINVAL);
    const int mode = how + 1;  // SHUT_RD -> kRcvShutdown, SHUT_WR -> kSendShutdown
    shutdown_ |= mode;
    if (peer_ && connection_oriented()) {
        int peer_mode = 0;
        if (mode & kRcvShutdown) peer_mode |= kSendShutdown;
        if (mode & kSendShutdown) peer_mode |= kRcvShutdown;
        peer_->shutdown_ |= peer_mode;
        kernel_.wake_all(peer_->waiters_);
    }
    kernel_.wake_all(waiters_);
    return {};
}

// ---- Blocking send and receive ------------------------------------------------

Result<u64> UnixSocket::send(Task& t, std::span<const std::byte> data, UnixSocket* to,
                             UnixControl& ctl, int flags, bool nonblock) {
    // Hold the destination: it may close while this task sleeps.
    std::shared_ptr<UnixSocket> keep = to ? to->shared_from_this() : nullptr;
    for (;;) {
        auto r = try_send(data, to, ctl, flags);
        if (r || r.error().code != EAGAIN || nonblock) return r;
        std::vector<WaitQueue*> queues{&waiters_};
        UnixSocket* other = to ? to : peer_.get();
        if (other) queues.push_back(&other->waiters_);
        if (wait_on_any(t, queues, {}, std::nullopt) == WakeReason::kInterrupted)
            return err(kERestartSys);
    }
}

Result<UnixReceived> UnixSocket::recv(Task& t, std::span<std::byte> dst, int flags, bool nonblock) {
    auto self = shared_from_this();
    const bool waitall = (flags & MSG_WAITALL) && type_ == SOCK_STREAM && !(flags & MSG_PEEK);
    UnixReceived total;
    for (;;) {
        auto r = try_recv(dst.subspan(total.copied), flags);
        if (r) {
            const bool first = total.copied == 0;
            if (first) {
                total = std::move(r.value());
            } else {
                total.copied += r->copied;
                total.length = total.copied;
                if (!r->files.empty()) total.files = std::move(r->files);
            }
            // MSG_WAITALL keeps a stream reading until the buffer is full,
            // end of file, or files arrive.
            if (!waitall || r->copied == 0 || total.copied == dst.size() || !total.files.empty())
                return total;
            continue;
        }
        if (total.copied > 0) return total;
        if (r.error().code != EAGAIN || nonblock) return Unexpected{r.error()};
        if (!wait_on(t, waiters_)) return err(kERestartSys);
    }
}

// ---- Options ----------------------------------------------------------------

Result<int> UnixSocket::get_int_option(int opt) {
    switch (opt) {
    case SO_TYPE: return type_;
    case SO_ERROR: {
        const int e = error_;
        error_ = 0;
        return e;
    }
    case SO_SNDBUF: return static_cast<int>(sndbuf_);
    case SO_RCVBUF: return static_cast<int>(rcvbuf_);
    case SO_PASSCRED: return passcred_ ? 1 : 0;
    case SO_ACCEPTCONN: return state_ == State::kListening ? 1 : 0;
    case SO_DOMAIN: return AF_UNIX;
    case SO_PROTOCOL: return 0;
    case SO_REUSEADDR:
    case SO_KEEPALIVE:
    case SO_BROADCAST:
    case SO_DONTROUTE:
    case SO_OOBINLINE: return 0;
    case SO_RCVLOWAT:
    case SO_SNDLOWAT: return 1;
    default: return err(ENOPROTOOPT);
    }
}

Result<void> UnixSocket::set_int_option(int opt, int value) {
    // Linux takes the value as unsigned, caps it at the sysctl maximum and
    // doubles it for the bookkeeping overhead.
    const u64 v = std::min<u64>(static_cast<u32>(value), kUnixMaxBuf);
    switch (opt) {
    case SO_SNDBUF:
        sndbuf_ = std::max<u64>(v * 2, kMinSndbuf);
        kernel_.wake_all(waiters_);
        return {};
    case SO_RCVBUF: rcvbuf_ = std::max<u64>(v * 2, kMinRcvbuf); return {};
    case SO_PASSCRED: passcred_ = value != 0; return {};
    case SO_REUSEADDR:
    case SO_KEEPALIVE:
    case SO_BROADCAST:
    case SO_DONTROUTE:
    case SO_OOBINLINE:
    case SO_RCVLOWAT: return {};
    default: return err(ENOPROTOOPT);
    }
}

UnixCred UnixSocket::peer_cred() const {
    if (state_ != State::kConnected && type_ != SOCK_DGRAM) return UnixCred{0, 65534, 65534};
    return peer_cred_;
}

// ---- Making sockets -----------------------------------------------------------

Result<std::shared_ptr<fs::File>> make_unix_socket_file(Kernel& k, std::shared_ptr<UnixSocket> s,
                                                        int flags) {
    return make_anon_file(k, S_IFSOCK | 0777, O_RDWR | (flags & O_NONBLOCK), std::move(s));
}

Result<std::shared_ptr<fs::File>> make_unix_socket(Kernel& k, int type, int flags, UnixCred owner) {
    return make_unix_socket_file(k, std::make_shared<UnixSocket>(k, type, owner), flags);
}

Result<std::pair<std::shared_ptr<fs::File>, std::shared_ptr<fs::File>>> make_unix_socketpair(
    Kernel& k, int type, int flags, UnixCred owner) {
    auto a = std::make_shared<UnixSocket>(k, type, owner);
    auto b = std::make_shared<UnixSocket>(k, type, owner);
    a->connect_pair(*b);
    auto fa = VK_TRY(make_unix_socket_file(k, a, flags));
    auto fb = VK_TRY(make_unix_socket_file(k, b, flags));
    return std::make_pair(std::move(fa), std::move(fb));
}

}  // namespace vk
