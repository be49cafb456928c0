#pragma once

// AF_UNIX sockets: SOCK_STREAM, SOCK_DGRAM and SOCK_SEQPACKET inside the
// vkernel, following Linux's net/unix/af_unix.c.
//
// A UnixSocket is the FileOps of its open file (an S_IFSOCK inode of the
// anonymous filesystem). Its receive queue holds the messages others sent
// it: bytes, the files of SCM_RIGHTS and the sender's credentials. A
// stream reads across messages (but stops after one that carried files);
// datagrams and seqpackets read one message per call.
//
// Names: a filesystem name is an S_IFSOCK inode made by bind(2) whose
// attachment points back at the socket (weakly: a closed socket leaves a
// name that refuses connections, as on Linux); abstract names
// (sun_path[0] == 0) live in a per-kernel table.
//
// Connections: connect(2) makes the server's end at once (an "embryo") and
// queues it on the listener; accept(2) takes it. A connection is pending
// while the listener's queue is longer than its backlog.
//
// Flow control follows Linux's write-memory accounting: each socket counts
// the bytes (plus a per-message overhead) it has queued at others and may
// send while that is below its SO_SNDBUF.
//
// Blocking calls (connect, accept, send, recv) sleep the task on wait
// queues and end with ERESTARTSYS when a signal comes; the FileOps
// read/write never block (the syscall layer waits on queue()).
//
// Ownership: connected peers hold each other by shared_ptr; the cycle is
// broken when either file is released. Sockets in flight inside another
// socket's queue (SCM_RIGHTS of a socket) live until that queue goes; a
// socket sent through itself is not collected (Linux has a garbage
// collector for that; we do not yet). Guarded by the kernel lock.

#include <sys/socket.h>

#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "base/result.h"
#include "vkernel/files.h"
#include "vkernel/fs/fs_context.h"

namespace vk {

class Kernel;
class Task;

inline constexpr u64 kUnixDefaultBuf = 212992;  // net.core.wmem_default / rmem_default
inline constexpr u64 kUnixMaxBuf = 212992;      // net.core.wmem_max / rmem_max
inline constexpr int kUnixMaxDgramQlen = 10;    // net.unix.max_dgram_qlen
inline constexpr int kSomaxconn = 4096;          // net.core.somaxconn

// Who sent a message or made a connection: SO_PEERCRED, SCM_CREDENTIALS.
struct UnixCred {
    i32 pid = 0;
    u32 uid = 0;
    u32 gid = 0;
};

// What travels beside the bytes of one message.
struct UnixControl {
    std::vector<std::shared_ptr<fs::File>> files;  // SCM_RIGHTS
    std::optional<UnixCred> cred;                   // SCM_CREDENTIALS (the sender's own)
};

// What one recv took.
struct UnixReceived {
    u64 copied = 0;     // bytes put in the buffer
    u64 length = 0;     // the whole datagram's length (streams: == copied)
    int msg_flags = 0;  // MSG_TRUNC
    std::string from;   // the sender's name (sun_path bytes; empty: unnamed)
    std::vector<std::shared_ptr<fs::File>> files;
    std::optional<UnixCred> cred;  // when the receiver has SO_PASSCRED
};

class UnixSocket final : public BlockingOps, public std::enable_shared_from_this<UnixSocket> {
public:
    UnixSocket(Kernel& k, int type, UnixCred owner);
    ~UnixSocket() override;

    int type() const { return type_; }
    // The socket behind an open file, or null.
    static UnixSocket* of(fs::File& f);

    // ---- FileOps: read(2)/write(2) and readiness; they never block ----
    bool seekable() const override { return false; }
    WaitQueue* queue() override { return &waiters_; }
    bool whole_writes() const override { return type_ == SOCK_STREAM; }
    bool epipe_signals() const override { return type_ == SOCK_STREAM; }
    Result<u64> read(fs::File& f, std::span<std::byte> dst, u64) override;
    Result<u64> write(fs::File& f, std::span<const std::byte> src, u64) override;
    u32 poll(fs::File& f) override;
    Result<long> ioctl(fs::File& f, u32 cmd, u64 arg) override;
    void release(fs::File& f) override;

    // ---- The socket calls. `name` is the sun_path bytes the caller gave
    // (addrlen - 2 of them); ctx/at resolve filesystem names. ----
    // bind(2); an empty name autobinds (an abstract "\0xxxxx").
    Result<void> bind(Kernel& k, const fs::Context& ctx, const fs::Path& at, std::string name);
    Result<void> listen(int backlog);
    // accept(2): the next connection's server end; blocks unless `nonblock`.
    Result<std::shared_ptr<UnixSocket>> accept(Task& t, bool nonblock);
    // connect(2): streams and seqpackets connect (blocking while the
    // listener's queue is full, unless `nonblock`: EAGAIN); datagram
    // sockets set their default destination (an empty name dissolves it).
    Result<void> connect(Task& t, const fs::Context& ctx, const fs::Path& at,
                         const std::string& name, bool nonblock);
    Result<void> shutdown(int how);
    // sendmsg(2) of `data` to the peer or, for datagrams, to `to`; blocks
    // for room unless `nonblock`. A stream takes what fits (at least one
    // byte) and returns that count; the control goes with the first byte.
    // EPIPE is returned as is: SIGPIPE is the caller's business.
    Result<u64> send(Task& t, std::span<const std::byte> data, UnixSocket* to, UnixControl& ctl,
                     int flags, bool nonblock);
    // recvmsg(2) into `dst`: MSG_PEEK, MSG_TRUNC, MSG_WAITALL, blocking
    // unless `nonblock`.
    Result<UnixReceived> recv(Task& t, std::span<std::byte> dst, int flags, bool nonblock);
    // A datagram destination by name, as sendto(2) finds it.
    static Result<std::shared_ptr<UnixSocket>> lookup(Kernel& k, const fs::Context& ctx,
                                                      const fs::Path& at, const std::string& name,
                                                      int type);

    // getsockname / getpeername (ENOTCONN): sun_path bytes, empty if unnamed.
    const std::string& name() const { return name_; }
    Result<std::string> peer_name() const;

    // ---- Options (SOL_SOCKET) ----
    Result<int> get_int_option(int opt);
    Result<void> set_int_option(int opt, int value);
    // SO_PEERCRED: the peer's credentials at connect time.
    UnixCred peer_cred() const;
    bool connected() const { return state_ == State::kConnected; }
    // socketpair(2): connects this new socket with another new one.
    void connect_pair(UnixSocket& other);

private:
    enum class State { kUnconnected, kListening, kConnected };
    struct Message {
        std::vector<std::byte> data;
        u64 consumed = 0;  // streams: bytes already read
        u64 charge = 0;    // what the sender's in-flight count holds for it
        std::vector<std::shared_ptr<fs::File>> files;
        UnixCred cred;
        std::string from;
        std::weak_ptr<UnixSocket> sender;
    };

    Result<u64> try_send(std::span<const std::byte> data, UnixSocket* to, UnixControl& ctl,
                         int flags);
    Result<UnixReceived> try_recv(std::span<std::byte> dst, int flags);
    // Takes a message off the queue, giving its charge back to its sender.
    void drop_front();
    void uncharge(Message& m);
    void close();
    void unregister_name();
    bool connection_oriented() const { return type_ != SOCK_DGRAM; }
    bool writable() const;
    UnixCred sender_cred() const;

    Kernel& kernel_;
    const int type_;
    State state_ = State::kUnconnected;
    bool closed_ = false;
    int shutdown_ = 0;  // kRcvShutdown | kSendShutdown of this end
    int error_ = 0;     // SO_ERROR, reported once
    bool embryo_ = false;  // a server end not yet accepted
    std::string name_;
    bool abstract_registered_ = false;
    std::shared_ptr<UnixSocket> peer_;
    UnixCred cred_;       // the creator's (or the listener's owner for a server end)
    UnixCred peer_cred_;  // the other end's at connect time
    std::deque<Message> queue_;
    u64 inflight_ = 0;  // charge of what this socket has queued at others
    u64 sndbuf_ = kUnixDefaultBuf, rcvbuf_ = kUnixDefaultBuf;
    bool passcred_ = false;
    // Listening: server ends of connections not yet accepted.
    std::deque<std::shared_ptr<UnixSocket>> pending_;
    int backlog_ = 0;
    WaitQueue waiters_;  // readers, writers, acceptors, connectors: woken on every change
};

// socket(2) / socketpair(2) for AF_UNIX. `type` without flags; `flags`
// O_NONBLOCK or 0 (the caller installs the files, with O_CLOEXEC).
Result<std::shared_ptr<fs::File>> make_unix_socket(Kernel& k, int type, int flags, UnixCred owner);
Result<std::pair<std::shared_ptr<fs::File>, std::shared_ptr<fs::File>>> make_unix_socketpair(
    Kernel& k, int type, int flags, UnixCred owner);
// The open file of an accepted connection.
Result<std::shared_ptr<fs::File>> make_unix_socket_file(Kernel& k, std::shared_ptr<UnixSocket> s,
                                                        int flags);

}  // namespace vk
