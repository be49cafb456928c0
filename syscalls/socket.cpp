// Socket syscalls: socket, socketpair, bind, listen, accept(4), connect,
// shutdown, send/recv in all their forms, get/setsockopt, getsockname and
// getpeername. Only AF_UNIX exists (vkernel/unix_socket.h); other families
// are EAFNOSUPPORT. Addresses, iovecs and control messages are copied in
// once here and handed to the socket as host values.

#include <fcntl.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <algorithm>
#include <cstring>
#include <vector>

#include "syscalls/syscalls.h"
#include "vkernel/kernel.h"
#include "vkernel/signal_delivery.h"
#include "vkernel/unix_socket.h"
#include "vkernel/user_memory.h"

namespace vk::sys {

namespace {

constexpr u64 kSockaddrMax = 128;        // sizeof(struct sockaddr_storage)
constexpr u64 kSunPathOffset = 2;        // offsetof(struct sockaddr_un, sun_path)
constexpr u64 kSockaddrUnSize = 110;     // sizeof(struct sockaddr_un)
constexpr u64 kControlMax = 20480;       // net.core.optmem_max
constexpr u64 kScmMaxFd = 253;           // SCM_MAX_FD
constexpr u64 kChunk = 64 * 1024;        // stream sends go in pieces of this
constexpr u64 kMaxRw = 0x7fff'f000;      // MAX_RW_COUNT
constexpr u64 kRecvMax = 256 * 1024;     // bytes one recv takes at most

struct MsgHdr {
    u64 name;
    i32 namelen;
    i32 pad0;
    u64 iov;
    u64 iovlen;
    u64 control;
    u64 controllen;
    i32 flags;
    i32 pad1;
};
static_assert(sizeof(MsgHdr) == 56);

struct CmsgHdr {
    u64 len;
    i32 level;
    i32 type;
};

struct Iovec {
    u64 base;
    u64 len;
};

struct Ucred {
    i32 pid;
    u32 uid;
    u32 gid;
};

u64 cmsg_align(u64 n) { return (n + 7) & ~u64{7}; }

UnixCred cred_of(const Task& t) {
    return UnixCred{t.process->pid, t.process->euid, t.process->egid};
}

Result<std::pair<std::shared_ptr<fs::File>, UnixSocket*>> socket_of(Task& t, u64 fd) {
    auto f = VK_TRY(file_of(t, fd));
    UnixSocket* s = UnixSocket::of(*f);
    if (!s) return err(ENOTSOCK);
    return std::make_pair(std::move(f), s);
}

// A sockaddr from the guest: the sun_path bytes of an AF_UNIX address
// (validated as unix_validate_addr does).
Result<std::string> copy_in_unix_addr(Task& t, u64 addr, u64 len, bool allow_unspec = false,
                                      bool* unspec = nullptr) {
    if (static_cast<i64>(static_cast<i32>(len)) < 0 || len > kSockaddrMax) return err(EINVAL);
    std::vector<char> buf(len);
    VK_TRY(copy_in_bytes(t.mm(), addr, buf.data(), len));
    if (len >= sizeof(u16) && allow_unspec) {
        u16 family;
        std::memcpy(&family, buf.data(), sizeof family);
        if (family == AF_UNSPEC) {
            *unspec = true;
            return std::string();
        }
    }
    if (len < kSunPathOffset || len > kSockaddrUnSize) return err(EINVAL);
    u16 family;
    std::memcpy(&family, buf.data(), sizeof family);
    if (family != AF_UNIX) return err(EINVAL);
    return std::string(buf.data() + kSunPathOffset, len - kSunPathOffset);
}

// Writes an AF_UNIX address with sun_path `name` to (addr, *lenp) as
// move_addr_to_user does: at most the guest's length, then the real length.
// `empty_len`: the length reported for an unnamed socket.
Result<void> copy_out_unix_addr(Task& t, u64 addr, u64 lenp, const std::string& name,
                                u64 empty_len) {
    if (!addr) return {};
    const i32 ulen = VK_TRY(copy_in(t.mm(), UserPtr<i32>(lenp)));
    if (ulen < 0) return err(EINVAL);
    u64 klen = empty_len;
    std::vector<char> buf(kSunPathOffset + name.size(), 0);
    const u16 family = AF_UNIX;
    std::memcpy(buf.data(), &family, sizeof family);
    std::memcpy(buf.data() + kSunPathOffset, name.data(), name.size());
    if (!name.empty()) klen = buf.size();
    const u64 n = std::min<u64>(static_cast<u64>(ulen), klen);
    if (n) VK_TRY(copy_out_bytes(t.mm(), addr, buf.data(), n));
    VK_TRY(copy_out(t.mm(), UserPtr<i32>(lenp), static_cast<i32>(klen)));
    return {};
}

Result<std::vector<Iovec>> copy_in_iovs(Task& t, u64 iov, u64 cnt, u64& total) {
    if (cnt > kIovMax) return err(EMSGSIZE);
    std::vector<Iovec> v(cnt);
    VK_TRY(copy_in_bytes(t.mm(), iov, v.data(), cnt * sizeof(Iovec)));
    total = 0;
    for (const auto& e : v) {
        if (static_cast<i64>(e.len) < 0 || e.len > 0x7fff'ffff'ffff'ffffULL - total) return err(EINVAL);
        total += e.len;
    }
    total = std::min(total, kMaxRw);
    return v;
}

// Copies bytes [off, off + out.size()) of the iovecs' concatenation in;
// returns how many could be read.
u64 gather(Task& t, const std::vector<Iovec>& iovs, u64 off, std::span<std::byte> out) {
    u64 done = 0;
    for (const auto& e : iovs) {
        if (done == out.size()) break;
        if (off >= e.len) {
            off -= e.len;
            continue;
        }
        const u64 n = std::min(e.len - off, out.size() - done);
        const u64 got = copy_in_partial(t.mm(), e.base + off, out.data() + done, n);
        done += got;
        if (got < n) break;
        off = 0;
    }
    return done;
}

// Copies `data` out across the iovecs; EFAULT if any part cannot be written.
Result<void> scatter(Task& t, const std::vector<Iovec>& iovs, std::span<const std::byte> data) {
    u64 done = 0;
    for (const auto& e : iovs) {
        if (done == data.size()) break;
        const u64 n = std::min<u64>(e.len, data.size() - done);
        VK_TRY(copy_out_bytes(t.mm(), e.base, data.data() + done, n));
        done += n;
    }
    return {};
}

// Parses sendmsg's control messages (__scm_send): SCM_RIGHTS and
// SCM_CREDENTIALS at SOL_SOCKET; other levels are ignored.
Result<UnixControl> copy_in_control(Task& t, u64 control, u64 len) {
    UnixControl ctl;
    if (!len) return ctl;
    if (len > kControlMax) return err(ENOBUFS);
    std::vector<std::byte> buf(len);
    VK_TRY(copy_in_bytes(t.mm(), control, buf.data(), len));
    u64 off = 0;
    while (off + sizeof(CmsgHdr) <= len) {
        CmsgHdr h;
        std::memcpy(&h, buf.data() + off, sizeof h);
        if (h.len < sizeof(CmsgHdr) || h.len > len - off) return err(EINVAL);
        const u64 data_len = h.len - sizeof(CmsgHdr);
        const std::byte* data = buf.data() + off + sizeof(CmsgHdr);
        if (h.level == SOL_SOCKET) {
            if (h.type == SCM_RIGHTS) {
                const u64 n = data_len / sizeof(i32);
                if (n + ctl.files.size() > kScmMaxFd) return err(EINVAL);
                for (u64 i = 0; i < n; i++) {
                    i32 fd;
                    std::memcpy(&fd, data + i * sizeof fd, sizeof fd);
                    if (fd < 0) return err(EBADF);
                    ctl.files.push_back(VK_TRY(t.process->fds->get(fd)));
                }
            } else if (h.type == SCM_CREDENTIALS) {
                if (data_len != sizeof(Ucred)) return err(EINVAL);
                Ucred u;
                std::memcpy(&u, data, sizeof u);
                const Process& p = *t.process;
                // Only root may claim another's ids (CAP_SYS_ADMIN, CAP_SETUID, CAP_SETGID).
                if (p.euid != 0 && (u.pid != p.pid || (u.uid != p.uid && u.uid != p.euid && u.uid != p.suid) ||
                                    (u.gid != p.gid && u.gid != p.egid && u.gid != p.sgid)))
                    return err(EPERM);
                ctl.cred = UnixCred{u.pid, u.uid, u.gid};
            } else {
                return err(EINVAL);
            }
        }
        off += cmsg_align(h.len);
    }
    return ctl;
}

// Writes recvmsg's control messages (scm_recv): credentials, then as many
// of the passed files as fit, installed as new descriptors. Returns the
// bytes used; sets MSG_CTRUNC in `flags` when something did not fit.
Result<u64> copy_out_control(Task& t, u64 control, u64 len, UnixReceived& r, int rflags, int& flags) {
    std::vector<std::byte> out;
    auto room = [&] { return len > out.size() ? len - out.size() : 0; };
    auto put = [&](int type, const void* data, u64 n) {
        if (room() < sizeof(CmsgHdr)) {
            flags |= MSG_CTRUNC;
            return;
        }
        const u64 full = sizeof(CmsgHdr) + n;
        const u64 take = std::min(full, room());
        if (take < full) flags |= MSG_CTRUNC;
        CmsgHdr h{take, SOL_SOCKET, type};
        std::vector<std::byte> rec(full);
        std::memcpy(rec.data(), &h, sizeof h);
        const auto* src = static_cast<const std::byte*>(data);
        std::copy(src, src + n, rec.begin() + sizeof h);
        out.insert(out.end(), rec.begin(), rec.begin() + static_cast<long>(take));
        out.resize(std::min(len, out.size() + (cmsg_align(take) - take)));
    };
    if (r.cred) {
        const Ucred u{r.cred->pid, r.cred->uid, r.cred->gid};
        put(SCM_CREDENTIALS, &u, sizeof u);
    }
    if (!r.files.empty()) {
        // scm_detach_fds: as many descriptors as the room holds; the rest close.
        const u64 fit = room() > sizeof(CmsgHdr) ? (room() - sizeof(CmsgHdr)) / sizeof(i32) : 0;
        std::vector<i32> fds;
        const u64 limit = nofile_limit(*t.process);
        for (u64 i = 0; i < std::min<u64>(fit, r.files.size()); i++) {
            auto fd = t.process->fds->install(r.files[i], rflags & MSG_CMSG_CLOEXEC, limit);
            if (!fd) break;
            fds.push_back(fd.value());
        }
        if (fds.size() < r.files.size()) flags |= MSG_CTRUNC;
        if (!fds.empty()) put(SCM_RIGHTS, fds.data(), fds.size() * sizeof(i32));
        r.files.clear();
    }
    if (!out.empty()) VK_TRY(copy_out_bytes(t.mm(), control, out.data(), out.size()));
    return out.size();
}

// The core of send, sendto and sendmsg.
Result<long> do_send(Task& t, u64 fd, const std::vector<Iovec>& iovs, u64 total, u64 addr,
                     u64 addrlen, UnixControl ctl, int flags) {
    auto [file, sock] = VK_TRY(socket_of(t, fd));
    const bool nonblock = file->nonblocking() || (flags & MSG_DONTWAIT);
    std::shared_ptr<UnixSocket> to;
    if (addr && addrlen && sock->type() == SOCK_DGRAM) {
        const std::string name = VK_TRY(copy_in_unix_addr(t, addr, addrlen));
        const fs::Credentials cred = credentials(*t.process);
        const fs::Context ctx{*t.process->fsctx, cred};
        to = VK_TRY(UnixSocket::lookup(t.kernel, ctx, t.process->fsctx->cwd, name, sock->type()));
    } else if (addr && addrlen && sock->type() == SOCK_STREAM) {
        VK_TRY(copy_in_unix_addr(t, addr, addrlen));
        return err(sock->connected() ? EISCONN : EOPNOTSUPP);
    }
    auto epipe = [&](Result<u64>& r) {
        if (!r && r.error().code == EPIPE && sock->type() == SOCK_STREAM && !(flags & MSG_NOSIGNAL)) {
            KSigInfo info;
            info.signo = SIGPIPE;
            t.kernel.send_signal_to_task(t, SIGPIPE, info);
        }
    };
    if (sock->type() != SOCK_STREAM) {
        if (total + 32 > kUnixMaxBuf * 2) return err(EMSGSIZE);
        std::vector<std::byte> buf(total);
        if (gather(t, iovs, 0, buf) != total) return err(EFAULT);
        auto r = sock->send(t, buf, to.get(), ctl, flags, nonblock);
        epipe(r);
        return static_cast<long>(VK_TRY(std::move(r)));
    }
    // A stream: piece by piece, the control with the first. A fault ends
    // it after the bytes before the fault.
    u64 sent = 0;
    std::vector<std::byte> buf;
    do {
        const u64 want = std::min(total - sent, kChunk);
        buf.resize(want);
        const u64 got = gather(t, iovs, sent, buf);
        if (got == 0 && want > 0) break;
        auto r = sock->send(t, std::span<const std::byte>(buf.data(), got), nullptr, ctl, flags,
                            nonblock);
        if (!r) {
            if (sent) break;
            epipe(r);
            return Unexpected{r.error()};
        }
        sent += r.value();
    } while (sent < total);
    if (sent == 0 && total > 0) return err(EFAULT);
    return static_cast<long>(sent);
}

// The core of recv, recvfrom and recvmsg. `hdr` (recvmsg) gets msg_flags,
// msg_namelen and msg_controllen written back at `hdr_addr`.
Result<long> do_recv(Task& t, u64 fd, const std::vector<Iovec>& iovs, u64 total, int flags,
                     u64 addr, u64 addrlenp, MsgHdr* hdr, u64 hdr_addr) {
    auto [file, sock] = VK_TRY(socket_of(t, fd));
    if (flags & MSG_OOB) return err(EOPNOTSUPP);
    const bool nonblock = file->nonblocking() || (flags & MSG_DONTWAIT);
    std::vector<std::byte> buf(std::min(total, kRecvMax));
    UnixReceived r = VK_TRY(sock->recv(t, buf, flags, nonblock));
    VK_TRY(scatter(t, iovs, std::span<const std::byte>(buf.data(), r.copied)));
    int out_flags = r.msg_flags;
    if (hdr) {
        // msg_name: the sender's address, or length 0 for an unnamed one.
        i32 namelen = 0;
        if (hdr->name && hdr->namelen > 0 && !r.from.empty()) {
            std::vector<char> a(kSunPathOffset + r.from.size(), 0);
            const u16 family = AF_UNIX;
            std::memcpy(a.data(), &family, sizeof family);
            std::memcpy(a.data() + kSunPathOffset, r.from.data(), r.from.size());
            VK_TRY(copy_out_bytes(t.mm(), hdr->name, a.data(),
                                  std::min<u64>(a.size(), static_cast<u64>(hdr->namelen))));
            namelen = static_cast<i32>(a.size());
        }
        u64 used = 0;
        if (hdr->control) used = VK_TRY(copy_out_control(t, hdr->control, hdr->controllen, r, flags, out_flags));
        else if (!r.files.empty() || r.cred) out_flags |= MSG_CTRUNC;
        VK_TRY(copy_out(t.mm(), UserPtr<i32>(hdr_addr + offsetof(MsgHdr, namelen)), namelen));
        VK_TRY(copy_out(t.mm(), UserPtr<u64>(hdr_addr + offsetof(MsgHdr, controllen)), used));
        VK_TRY(copy_out(t.mm(), UserPtr<i32>(hdr_addr + offsetof(MsgHdr, flags)), out_flags));
    } else if (addr) {
        if (r.from.empty()) {
            VK_TRY(copy_out(t.mm(), UserPtr<i32>(addrlenp), 0));
        } else {
            VK_TRY(copy_out_unix_addr(t, addr, addrlenp, r.from, 0));
        }
    }
    return static_cast<long>((flags & MSG_TRUNC) ? r.length : r.copied);
}

// Linux's order: the family, the type, then the protocol (unix_create).
Result<int> unix_type(u64 domain, u64 type_arg, u64 protocol, int& flags) {
    flags = static_cast<int>(type_arg) & (SOCK_NONBLOCK | SOCK_CLOEXEC);
    const int type = static_cast<int>(type_arg) & ~(SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (domain >= 46) return err(EAFNOSUPPORT);  // NPROTO
    if (type < 0 || type >= 11) return err(EINVAL);  // SOCK_MAX
    if (domain != AF_UNIX) return err(EAFNOSUPPORT);
    if (protocol != 0 && protocol != AF_UNIX) return err(EPROTONOSUPPORT);
    switch (type) {
    case SOCK_STREAM:
    case SOCK_DGRAM:
    case SOCK_SEQPACKET: return type;
    case SOCK_RAW: return SOCK_DGRAM;  // as Linux does for AF_UNIX
    default: return err(ESOCKTNOSUPPORT);
    }
}

}  // namespace

Result<long> sys_socket(Task& task, const SyscallArgs& a) {
    int flags = 0;
    const int type = VK_TRY(unix_type(a[0], a[1], a[2], flags));
    auto f = VK_TRY(make_unix_socket(task.kernel, type, flags & SOCK_NONBLOCK ? O_NONBLOCK : 0,
                                     cred_of(task)));
    return VK_TRY(task.process->fds->install(std::move(f), flags & SOCK_CLOEXEC,
                                             nofile_limit(*task.process)));
}

Result<long> sys_socketpair(Task& task, const SyscallArgs& a) {
    int flags = 0;
    const int type = VK_TRY(unix_type(a[0], a[1], a[2], flags));
    auto ends = VK_TRY(make_unix_socketpair(task.kernel, type, flags & SOCK_NONBLOCK ? O_NONBLOCK : 0,
                                            cred_of(task)));
    auto& fds = *task.process->fds;
    const u64 limit = nofile_limit(*task.process);
    const int x = VK_TRY(fds.install(ends.first, flags & SOCK_CLOEXEC, limit));
    auto y = fds.install(ends.second, flags & SOCK_CLOEXEC, limit);
    if (!y) {
        (void)fds.close(x);
        return Unexpected{y.error()};
    }
    const i32 pair[2] = {x, y.value()};
    if (!copy_out_bytes(task.mm(), a[3], pair, sizeof pair)) {
        (void)fds.close(x);
        (void)fds.close(y.value());
        return err(EFAULT);
    }
    return 0;
}

Result<long> sys_bind(Task& task, const SyscallArgs& a) {
    auto [file, sock] = VK_TRY(socket_of(task, a[0]));
    std::string name;
    if (a[2] != kSunPathOffset) {
        name = VK_TRY(copy_in_unix_addr(task, a[1], a[2]));
        if (name.empty()) return err(EINVAL);
    } else {
        // Just the family: autobind (if it is AF_UNIX).
        const u16 family = VK_TRY(copy_in(task.mm(), UserPtr<u16>(a[1])));
        if (family != AF_UNIX) return err(EINVAL);
    }
    const fs::Credentials cred = credentials(*task.process);
    const fs::Context ctx{*task.process->fsctx, cred};
    VK_TRY(sock->bind(task.kernel, ctx, task.process->fsctx->cwd, std::move(name)));
    return 0;
}

Result<long> sys_listen(Task& task, const SyscallArgs& a) {
    auto [file, sock] = VK_TRY(socket_of(task, a[0]));
    VK_TRY(sock->listen(static_cast<int>(a[1])));
    return 0;
}

Result<long> sys_accept4(Task& task, const SyscallArgs& a) {
    const int flags = static_cast<int>(a[3]);
    if (flags & ~(SOCK_CLOEXEC | SOCK_NONBLOCK)) return err(EINVAL);
    auto [file, sock] = VK_TRY(socket_of(task, a[0]));
    if (a[1]) VK_TRY(copy_in(task.mm(), UserPtr<i32>(a[2])));  // fail before taking a connection
    auto conn = VK_TRY(sock->accept(task, file->nonblocking()));
    auto peer_r = conn->peer_name();
    const std::string peer = peer_r ? peer_r.value() : std::string();
    auto f = VK_TRY(make_unix_socket_file(task.kernel, std::move(conn),
                                          flags & SOCK_NONBLOCK ? O_NONBLOCK : 0));
    const int fd = VK_TRY(task.process->fds->install(std::move(f), flags & SOCK_CLOEXEC,
                                                     nofile_limit(*task.process)));
    if (auto r = copy_out_unix_addr(task, a[1], a[2], peer, kSunPathOffset); !r) {
        (void)task.process->fds->close(fd);
        return Unexpected{r.error()};
    }
    return fd;
}

Result<long> sys_accept(Task& task, const SyscallArgs& a) {
    return sys_accept4(task, SyscallArgs{{a[0], a[1], a[2], 0}});
}

Result<long> sys_connect(Task& task, const SyscallArgs& a) {
    auto [file, sock] = VK_TRY(socket_of(task, a[0]));
    bool unspec = false;
    const std::string name =
        VK_TRY(copy_in_unix_addr(task, a[1], a[2], sock->type() == SOCK_DGRAM, &unspec));
    if (!unspec && name.empty()) return err(EINVAL);
    const fs::Credentials cred = credentials(*task.process);
    const fs::Context ctx{*task.process->fsctx, cred};
    VK_TRY(sock->connect(task, ctx, task.process->fsctx->cwd, name, file->nonblocking()));
    return 0;
}

Result<long> sys_shutdown(Task& task, const SyscallArgs& a) {
    auto [file, sock] = VK_TRY(socket_of(task, a[0]));
    VK_TRY(sock->shutdown(static_cast<int>(a[1])));
    return 0;
}

Result<long> sys_getsockname(Task& task, const SyscallArgs& a) {
    auto [file, sock] = VK_TRY(socket_of(task, a[0]));
    const i32 len = VK_TRY(copy_in(task.mm(), UserPtr<i32>(a[2])));
    if (len < 0) return err(EINVAL);
    VK_TRY(copy_out_unix_addr(task, a[1], a[2], sock->name(), kSunPathOffset));
    return 0;
}

Result<long> sys_getpeername(Task& task, const SyscallArgs& a) {
    auto [file, sock] = VK_TRY(socket_of(task, a[0]));
    const std::string name = VK_TRY(sock->peer_name());
    const i32 len = VK_TRY(copy_in(task.mm(), UserPtr<i32>(a[2])));
    if (len < 0) return err(EINVAL);
    VK_TRY(copy_out_unix_addr(task, a[1], a[2], name, kSunPathOffset));
    return 0;
}

Result<long> sys_sendto(Task& task, const SyscallArgs& a) {
    const std::vector<Iovec> iovs{{a[1], std::min(a[2], kMaxRw)}};
    return do_send(task, a[0], iovs, std::min(a[2], kMaxRw), a[4], a[5], UnixControl{},
                   static_cast<int>(a[3]));
}

Result<long> sys_recvfrom(Task& task, const SyscallArgs& a) {
    const u64 len = std::min(a[2], kMaxRw);
    const std::vector<Iovec> iovs{{a[1], len}};
    if (a[4]) {
        const i32 l = VK_TRY(copy_in(task.mm(), UserPtr<i32>(a[5])));
        if (l < 0) return err(EINVAL);
    }
    return do_recv(task, a[0], iovs, len, static_cast<int>(a[3]), a[4], a[5], nullptr, 0);
}

Result<long> sys_sendmsg(Task& task, const SyscallArgs& a) {
    const MsgHdr h = VK_TRY(copy_in(task.mm(), UserPtr<MsgHdr>(a[1])));
    u64 total = 0;
    const auto iovs = VK_TRY(copy_in_iovs(task, h.iov, h.iovlen, total));
    VK_TRY(socket_of(task, a[0]));
    UnixControl ctl = VK_TRY(copy_in_control(task, h.control, h.controllen));
    return do_send(task, a[0], iovs, total, h.name, h.namelen > 0 ? static_cast<u64>(h.namelen) : 0,
                   std::move(ctl), static_cast<int>(a[2]));
}

Result<long> sys_recvmsg(Task& task, const SyscallArgs& a) {
    MsgHdr h = VK_TRY(copy_in(task.mm(), UserPtr<MsgHdr>(a[1])));
    u64 total = 0;
    const auto iovs = VK_TRY(copy_in_iovs(task, h.iov, h.iovlen, total));
    return do_recv(task, a[0], iovs, total, static_cast<int>(a[2]), 0, 0, &h, a[1]);
}

Result<long> sys_getsockopt(Task& task, const SyscallArgs& a) {
    auto [file, sock] = VK_TRY(socket_of(task, a[0]));
    const int level = static_cast<int>(a[1]);
    const int opt = static_cast<int>(a[2]);
    const i32 len = VK_TRY(copy_in(task.mm(), UserPtr<i32>(a[4])));
    if (len < 0) return err(EINVAL);
    if (level != SOL_SOCKET) return err(EOPNOTSUPP);
    if (opt == SO_PEERCRED) {
        const UnixCred c = sock->peer_cred();
        const Ucred u{c.pid, c.uid, c.gid};
        const u64 n = std::min<u64>(static_cast<u64>(len), sizeof u);
        VK_TRY(copy_out_bytes(task.mm(), a[3], &u, n));
        VK_TRY(copy_out(task.mm(), UserPtr<i32>(a[4]), static_cast<i32>(n)));
        return 0;
    }
    const i32 v = VK_TRY(sock->get_int_option(opt));
    const u64 n = std::min<u64>(static_cast<u64>(len), sizeof v);
    VK_TRY(copy_out_bytes(task.mm(), a[3], &v, n));
    VK_TRY(copy_out(task.mm(), UserPtr<i32>(a[4]), static_cast<i32>(n)));
    return 0;
}

Result<long> sys_setsockopt(Task& task, const SyscallArgs& a) {
    auto [file, sock] = VK_TRY(socket_of(task, a[0]));
    if (static_cast<int>(a[1]) != SOL_SOCKET) return err(EOPNOTSUPP);
    if (static_cast<i32>(a[4]) < static_cast<i32>(sizeof(i32))) return err(EINVAL);
    const i32 v = VK_TRY(copy_in(task.mm(), UserPtr<i32>(a[3])));
    VK_TRY(sock->set_int_option(static_cast<int>(a[2]), v));
    return 0;
}

}  // namespace vk::sys
