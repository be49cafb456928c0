// Descriptor syscalls: read and write and their vector/positional forms,
// lseek, close, the dup family, fcntl, pipe, ioctl and fstat. Files come
// from the process's fd table; bytes cross through bounce buffers.

#include <fcntl.h>
#include <linux/close_range.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <termios.h>

#include <algorithm>
#include <vector>

#include "syscalls/syscalls.h"
#include "vkernel/files.h"
#include "vkernel/kernel.h"
#include "vkernel/signal_delivery.h"
#include "vkernel/tty.h"
#include "vkernel/user_memory.h"

namespace vk::sys {

namespace {

constexpr u64 kChunk = 64 * 1024;
constexpr u64 kMaxRw = 0x7fff'f000;  // MAX_RW_COUNT

bool is_stream(fs::File& f) {
    const u32 type = f.stat().mode & S_IFMT;
    return type == S_IFIFO || type == S_IFSOCK;
}

// write(2) of guest [buf, buf + len): copied in chunks. A partial copy-in
// writes what could be read, as Linux does for files and ttys; a pipe or
// socket takes data in whole 4 KiB pages and drops the page where the copy
// failed, so there only whole pages of the readable prefix are written.
Result<long> write_from(Task& t, fs::File& f, u64 buf, u64 len, std::optional<i64> pos) {
    len = std::min(len, kMaxRw);
    if (!f.writable()) return err(EBADF);
    std::vector<std::byte> tmp(std::min(len, kChunk));
    u64 done = 0;
    while (done < len) {
        const u64 want = std::min(len - done, kChunk);
        u64 got = copy_in_partial(t.mm(), buf + done, tmp.data(), want);
        const bool faulted = got < want;
        if (faulted && is_stream(f)) got = page_round_down(got);
        if (got == 0) break;
        const std::span<const std::byte> src(tmp.data(), got);
        auto r = pos ? f.pwrite(src, *pos + static_cast<i64>(done)) : file_write(t, f, src);
        if (!r) {
            if (done) return static_cast<long>(done);
            return Unexpected{r.error()};
        }
        done += r.value();
        if (r.value() < got || faulted) break;
    }
    if (done == 0 && len > 0) return err(EFAULT);
    return static_cast<long>(done);
}

// read(2) into guest memory: the buffer is checked before input is
// consumed, so a bad pointer loses nothing.
Result<long> read_into(Task& t, fs::File& f, u64 buf, u64 len, std::optional<i64> pos) {
    len = std::min(len, kMaxRw);
    if (!f.readable()) return err(EBADF);
    if (len == 0) return 0;
    const u64 ok = user_accessible(t.mm(), buf, std::min(len, kChunk), true);
    if (ok == 0) return err(EFAULT);
    std::vector<std::byte> tmp(ok);
    const std::span<std::byte> dst(tmp.data(), ok);
    const u64 n = VK_TRY(pos ? f.pread(dst, *pos) : file_read(t, f, dst));
    VK_TRY(copy_out_bytes(t.mm(), buf, tmp.data(), n));
    return static_cast<long>(n);
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

template <typename F>
Result<long> each_iov(Task& t, u64 iov, u64 cnt, F&& one) {
    const auto v = VK_TRY(copy_in_iov(t, iov, cnt));
    long total = 0;
    for (const auto& e : v) {
        if (e.len == 0) continue;
        auto r = one(e.base, e.len, total);
        if (!r) return total > 0 ? Result<long>(total) : r;
        total += r.value();
        if (static_cast<u64>(r.value()) < e.len) break;
    }
    return total;
}

}  // namespace

Result<long> sys_read(Task& task, const SyscallArgs& a) {
    auto f = VK_TRY(file_of(task, a[0]));
    return read_into(task, *f, a[1], a[2], std::nullopt);
}

Result<long> sys_write(Task& task, const SyscallArgs& a) {
    auto f = VK_TRY(file_of(task, a[0]));
    return write_from(task, *f, a[1], a[2], std::nullopt);
}

Result<long> sys_pread64(Task& task, const SyscallArgs& a) {
    auto f = VK_TRY(file_of(task, a[0]));
    if (static_cast<i64>(a[3]) < 0) return err(EINVAL);
    return read_into(task, *f, a[1], a[2], static_cast<i64>(a[3]));
}

Result<long> sys_pwrite64(Task& task, const SyscallArgs& a) {
    auto f = VK_TRY(file_of(task, a[0]));
    if (static_cast<i64>(a[3]) < 0) return err(EINVAL);
    return write_from(task, *f, a[1], a[2], static_cast<i64>(a[3]));
}

Result<long> sys_readv(Task& task, const SyscallArgs& a) {
    auto f = VK_TRY(file_of(task, a[0]));
    return each_iov(task, a[1], a[2], [&](u64 base, u64 len, long) {
        return read_into(task, *f, base, len, std::nullopt);
    });
}

Result<long> sys_writev(Task& task, const SyscallArgs& a) {
    auto f = VK_TRY(file_of(task, a[0]));
    return each_iov(task, a[1], a[2], [&](u64 base, u64 len, long) {
        return write_from(task, *f, base, len, std::nullopt);
    });
}

Result<long> sys_preadv(Task& task, const SyscallArgs& a) {
    auto f = VK_TRY(file_of(task, a[0]));
    const i64 pos = static_cast<i64>(a[3]);
    if (pos < 0) return err(EINVAL);
    return each_iov(task, a[1], a[2], [&](u64 base, u64 len, long done) {
        return read_into(task, *f, base, len, pos + done);
    });
}

Result<long> sys_pwritev(Task& task, const SyscallArgs& a) {
    auto f = VK_TRY(file_of(task, a[0]));
    const i64 pos = static_cast<i64>(a[3]);
    if (pos < 0) return err(EINVAL);
    return each_iov(task, a[1], a[2], [&](u64 base, u64 len, long done) {
        return write_from(task, *f, base, len, pos + done);
    });
}

Result<long> sys_lseek(Task& task, const SyscallArgs& a) {
    auto f = VK_TRY(file_of(task, a[0]));
    return VK_TRY(f->lseek(static_cast<i64>(a[1]), static_cast<int>(a[2])));
}

Result<long> sys_close(Task& task, const SyscallArgs& a) {
    if (a[0] > 0x7fff'ffff) return err(EBADF);
    VK_TRY(task.process->fds->close(static_cast<int>(a[0])));
    return 0;
}

Result<long> sys_close_range(Task& task, const SyscallArgs& a) {
    if (a[2] & ~u64{CLOSE_RANGE_CLOEXEC | CLOSE_RANGE_UNSHARE}) return err(EINVAL);
    if (a[0] > a[1]) return err(EINVAL);
    if ((a[2] & CLOSE_RANGE_UNSHARE) && task.process->fds.use_count() > 1)
        task.process->fds = std::shared_ptr<fs::FdTable>(task.process->fds->clone());
    VK_TRY(task.process->fds->close_range(static_cast<u32>(a[0]), static_cast<u32>(a[1]),
                                          static_cast<u32>(a[2])));
    return 0;
}

Result<long> sys_dup(Task& task, const SyscallArgs& a) {
    if (a[0] > 0x7fff'ffff) return err(EBADF);
    return VK_TRY(task.process->fds->dup(static_cast<int>(a[0]), nofile_limit(*task.process)));
}

Result<long> sys_dup2(Task& task, const SyscallArgs& a) {
    if (a[0] > 0x7fff'ffff || a[1] > 0x7fff'ffff) return err(EBADF);
    return VK_TRY(task.process->fds->dup2(static_cast<int>(a[0]), static_cast<int>(a[1]),
                                          nofile_limit(*task.process)));
}

Result<long> sys_dup3(Task& task, const SyscallArgs& a) {
    if (a[0] > 0x7fff'ffff || a[1] > 0x7fff'ffff) return err(EBADF);
    return VK_TRY(task.process->fds->dup3(static_cast<int>(a[0]), static_cast<int>(a[1]),
                                          static_cast<int>(a[2]), nofile_limit(*task.process)));
}

Result<long> sys_pipe2(Task& task, const SyscallArgs& a) {
    const int flags = static_cast<int>(a[1]);
    if (flags & ~(O_CLOEXEC | O_NONBLOCK | O_DIRECT)) return err(EINVAL);
    auto ends = VK_TRY(make_pipe(task.kernel, flags));
    auto& fds = *task.process->fds;
    const u64 limit = nofile_limit(*task.process);
    const int r = VK_TRY(fds.install(ends.first, flags & O_CLOEXEC, limit));
    auto w = fds.install(ends.second, flags & O_CLOEXEC, limit);
    if (!w) {
        (void)fds.close(r);
        return Unexpected{w.error()};
    }
    const i32 pair[2] = {r, w.value()};
    if (!copy_out_bytes(task.mm(), a[0], pair, sizeof pair)) {
        (void)fds.close(r);
        (void)fds.close(w.value());
        return err(EFAULT);
    }
    return 0;
}

Result<long> sys_pipe(Task& task, const SyscallArgs& a) {
    SyscallArgs b{{a[0], 0}};
    return sys_pipe2(task, b);
}

Result<long> sys_fcntl(Task& task, const SyscallArgs& a) {
    auto& fds = *task.process->fds;
    if (a[0] > 0x7fff'ffff) return err(EBADF);
    const int fd = static_cast<int>(a[0]);
    auto f = VK_TRY(fds.get(fd));
    const u64 limit = nofile_limit(*task.process);
    switch (a[1]) {
    case F_DUPFD:
    case F_DUPFD_CLOEXEC:
        if (a[2] > 0x7fff'ffff) return err(EINVAL);
        return VK_TRY(fds.dup_min(fd, static_cast<int>(a[2]), a[1] == F_DUPFD_CLOEXEC, limit));
    case F_GETFD: return VK_TRY(fds.cloexec(fd)) ? FD_CLOEXEC : 0;
    case F_SETFD: VK_TRY(fds.set_cloexec(fd, a[2] & FD_CLOEXEC)); return 0;
    case F_GETFL: return f->flags();
    case F_SETFL: VK_TRY(f->set_flags(static_cast<int>(a[2]))); return 0;
    case F_GETPIPE_SZ: return VK_TRY(pipe_size(*f));
    case F_SETPIPE_SZ:
        return VK_TRY(set_pipe_size(*f, static_cast<u32>(a[2]),
                                    credentials(*task.process).capable(CAP_SYS_RESOURCE)));
    case F_GETLK:
    case F_SETLK:
    case F_SETLKW:
    case F_OFD_GETLK:
    case F_OFD_SETLK:
    case F_OFD_SETLKW:
        return fcntl_lock(task, *f, a[1], a[2]);
    default:
        return err(EINVAL);
    }
}

namespace {

// The tty ioctls: arguments are copied in once, results copied out; the
// policy (job control, sessions) is the Tty's.
Result<long> tty_ioctl(Task& task, Tty& tty, u64 cmd, u64 arg) {
    Mm& mm = task.mm();
    switch (cmd) {
    case TCGETS: VK_TRY(copy_out(mm, UserPtr<KTermios>(arg), tty.ldisc().termios())); return 0;
    case TCSETS:
    case TCSETSW:  // output is written through: nothing to drain
    case TCSETSF: {
        const KTermios t = VK_TRY(copy_in(mm, UserPtr<KTermios>(arg)));
        VK_TRY(tty.set_termios(task, t, cmd == TCSETSF));
        return 0;
    }
    case TIOCGPGRP: {
        const i32 pgrp = VK_TRY(tty.foreground_pgrp(task));
        VK_TRY(copy_out(mm, UserPtr<i32>(arg), pgrp));
        return 0;
    }
    case TIOCSPGRP: {
        const i32 pgrp = VK_TRY(copy_in(mm, UserPtr<i32>(arg)));
        VK_TRY(tty.set_pgrp(task, pgrp));
        return 0;
    }
    case TIOCGSID: {
        const i32 sid = VK_TRY(tty.session_of(task));
        VK_TRY(copy_out(mm, UserPtr<i32>(arg), sid));
        return 0;
    }
    case TIOCSCTTY: VK_TRY(tty.set_ctty(task, arg == 1)); return 0;
    case TIOCNOTTY: VK_TRY(tty.give_up_ctty(task)); return 0;
    case TIOCGWINSZ: VK_TRY(copy_out(mm, UserPtr<KWinsize>(arg), tty.winsize())); return 0;
    case TIOCSWINSZ: tty.set_winsize(VK_TRY(copy_in(mm, UserPtr<KWinsize>(arg)))); return 0;
    case FIONREAD:
    case TIOCOUTQ: {
        const i32 n = cmd == FIONREAD ? static_cast<i32>(tty.ldisc().available()) : 0;
        VK_TRY(copy_out(mm, UserPtr<i32>(arg), n));
        return 0;
    }
    case TCFLSH: VK_TRY(tty.flush(task, static_cast<int>(arg))); return 0;
    case TCXONC: VK_TRY(tty.flow(task, static_cast<int>(arg))); return 0;
    case TCSBRK:
    case TCSBRKP: return 0;  // tcdrain and breaks: output is already out
    default: return err(ENOTTY);
    }
}

}  // namespace

Result<long> sys_ioctl(Task& task, const SyscallArgs& a) {
    auto& fds = *task.process->fds;
    if (a[0] > 0x7fff'ffff) return err(EBADF);
    const int fd = static_cast<int>(a[0]);
    auto f = VK_TRY(fds.get(fd));
    switch (a[1]) {
    case FIOCLEX: VK_TRY(fds.set_cloexec(fd, true)); return 0;
    case FIONCLEX: VK_TRY(fds.set_cloexec(fd, false)); return 0;
    case FIONBIO: {
        const i32 on = VK_TRY(copy_in(task.mm(), UserPtr<i32>(a[2])));
        VK_TRY(f->set_flags(on ? (f->flags() | O_NONBLOCK) : (f->flags() & ~O_NONBLOCK)));
        return 0;
    }
    default: break;
    }
    if (Tty* tty = tty_of(*f)) return tty_ioctl(task, *tty, a[1], a[2]);
    // A console passed through (the host's stdin is no terminal) answers the
    // terminal queries from the host fd: ENOTTY for a file or a pipe.
    auto* ops = dynamic_cast<BlockingOps*>(&f->ops());
    const int hfd = ops ? ops->host_fd() : -1;
    if (hfd >= 0 && a[1] == TCGETS) {
        struct termios t{};
        // SAFETY: TCGETS fills glibc's struct termios (tcgetattr).
        if (::tcgetattr(hfd, &t) < 0) return err(errno);
        KTermios k;
        k.c_iflag = t.c_iflag;
        k.c_oflag = t.c_oflag;
        k.c_cflag = t.c_cflag;
        k.c_lflag = t.c_lflag;
        k.c_line = t.c_line;
        std::copy_n(t.c_cc, sizeof k.c_cc, k.c_cc);
        VK_TRY(copy_out(task.mm(), UserPtr<KTermios>(a[2]), k));
        return 0;
    }
    if (hfd >= 0 && a[1] == TIOCGWINSZ) {
        struct winsize w{};
        // SAFETY: TIOCGWINSZ writes one struct winsize.
        if (::ioctl(hfd, TIOCGWINSZ, &w) < 0) return err(errno);
        VK_TRY(copy_out(task.mm(), UserPtr<struct winsize>(a[2]), w));
        return 0;
    }
    if (a[1] == FIONREAD) {
        const long n = VK_TRY(f->ioctl(FIONREAD, 0));
        VK_TRY(copy_out(task.mm(), UserPtr<i32>(a[2]), static_cast<i32>(n)));
        return 0;
    }
    return VK_TRY(f->ioctl(static_cast<u32>(a[1]), a[2]));
}

namespace {

struct stat to_host_stat(const fs::Stat& s) {
    struct stat st{};
    st.st_dev = s.dev;
    st.st_ino = s.ino;
    st.st_mode = s.mode;
    st.st_nlink = s.nlink;
    st.st_uid = s.uid;
    st.st_gid = s.gid;
    st.st_rdev = s.rdev;
    st.st_size = static_cast<off_t>(s.size);
    st.st_blksize = static_cast<blksize_t>(s.blksize);
    st.st_blocks = static_cast<blkcnt_t>(s.blocks);
    st.st_atim = {s.atime.sec, s.atime.nsec};
    st.st_mtim = {s.mtime.sec, s.mtime.nsec};
    st.st_ctim = {s.ctime.sec, s.ctime.nsec};
    return st;
}

}  // namespace

Result<long> sys_fstat(Task& task, const SyscallArgs& a) {
    auto f = VK_TRY(file_of(task, a[0]));
    VK_TRY(copy_out(task.mm(), UserPtr<struct stat>(a[1]), to_host_stat(f->stat())));
    return 0;
}

Result<long> sys_newfstatat(Task& task, const SyscallArgs& a) {
    const int dirfd = static_cast<int>(a[0]);
    const auto path = VK_TRY(copy_in_string(task.mm(), a[1], kPathMax));
    const int flags = static_cast<int>(a[3]);
    if (flags & ~(AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW | AT_NO_AUTOMOUNT)) return err(EINVAL);
    Process& p = *task.process;
    fs::Path at = p.fsctx->cwd;
    if (dirfd != AT_FDCWD && (path.empty() || path[0] != '/')) at = VK_TRY(p.fds->get(dirfd))->path();
    const fs::Credentials cred = credentials(p);
    const fs::Context ctx{*p.fsctx, cred};
    const fs::Stat st = VK_TRY(task.kernel.vfs().stat(ctx, at, path, flags));
    VK_TRY(copy_out(task.mm(), UserPtr<struct stat>(a[2]), to_host_stat(st)));
    return 0;
}

Result<long> sys_readlink(Task& task, const SyscallArgs& a) {
    const auto path = VK_TRY(copy_in_string(task.mm(), a[0], kPathMax));
    if (static_cast<i64>(a[2]) <= 0) return err(EINVAL);
    Process& p = *task.process;
    const fs::Credentials cred = credentials(p);
    const fs::Context ctx{*p.fsctx, cred};
    const std::string target = VK_TRY(task.kernel.vfs().readlink(ctx, p.fsctx->cwd, path));
    const u64 n = std::min<u64>(a[2], target.size());
    VK_TRY(copy_out_bytes(task.mm(), a[1], target.data(), n));
    return static_cast<long>(n);
}

Result<long> sys_umask(Task& task, const SyscallArgs& a) {
    const u32 old = task.process->fsctx->umask;
    task.process->fsctx->umask = static_cast<u32>(a[0]) & 0777;
    return old;
}

}  // namespace vk::sys
