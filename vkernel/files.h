#pragma once

// Kernel-made files that live in no directory: the console (the host's
// stdio) and pipes. Each gets an inode in a private tmpfs ("anonfs") so it
// is an ordinary fs::File with a path, mode and inode number.

#include <chrono>
#include <deque>
#include <optional>
#include <vector>
#include <memory>

#include "base/result.h"
#include "vkernel/fs/file.h"
#include "vkernel/fs/vfs.h"
#include "vkernel/task.h"
#include "vkernel/wait_queue.h"

namespace vk {

class Kernel;
class Task;

// FileOps that may make a reader or writer wait: the syscall layer sleeps on
// `queue` (or, for a host fd, in the reactor) and retries.
class BlockingOps : public fs::FileOps {
public:
    // The queue woken when the file becomes readable or writable, or null.
    virtual WaitQueue* queue() { return nullptr; }
    // A host fd whose readiness the reactor can wait for, or -1.
    virtual int host_fd() const { return -1; }
    // True for pipes: a blocking write waits until all of it is taken.
    // Others return what one write took (an eventfd takes 8 bytes).
    virtual bool whole_writes() const { return false; }
    // Whether EPIPE from write(2) also raises SIGPIPE (not for datagram
    // and seqpacket sockets).
    virtual bool epipe_signals() const { return true; }
};

// An anonymous inode of `mode` (S_IFIFO, S_IFCHR ...) and a File on it.
Result<std::shared_ptr<fs::File>> make_anon_file(Kernel& k, u32 mode, int flags,
                                                 std::shared_ptr<fs::FileOps> ops);

// The console: guest fd `hfd` (0-2) of init. When the host's stdin is a
// terminal, fd 0 and every fd whose host fd is a terminal are the console
// tty (tty.h; made on first use); otherwise, and for a host fd that is a
// file or a pipe, the host fd is passed through byte for byte.
Result<std::shared_ptr<fs::File>> make_console_file(Kernel& k, int hfd, int flags);

// Makes the console tty (if there is one) the controlling terminal of
// `init`'s session, its group in the foreground, as a getty would.
void attach_console(Kernel& k, const Process& init);

// pipe(2): the read end and the write end.
Result<std::pair<std::shared_ptr<fs::File>, std::shared_ptr<fs::File>>> make_pipe(Kernel& k,
                                                                                   int flags);

// The buffer of a pipe or a FIFO, shared by its ends (FIFOs: fifo.cpp).
struct Pipe;
std::shared_ptr<Pipe> make_pipe_buffer(Kernel& k);
// FileOps of one opener of `p`, counted as a reader and/or a writer while
// open; its making wakes the pipe's waiters (a FIFO open waiting for a partner).
std::shared_ptr<BlockingOps> make_pipe_ops(std::shared_ptr<Pipe> p, bool reader, bool writer);
// (readers, writers) open now.
std::pair<int, int> pipe_openers(const Pipe& p);
WaitQueue& pipe_waiters(Pipe& p);

// /proc/sys/fs/pipe-max-size: the largest F_SETPIPE_SZ without CAP_SYS_RESOURCE.
inline constexpr u64 kPipeMaxSize = 1 << 20;

// F_GETPIPE_SZ: the capacity of the pipe behind `f`; EBADF if not a pipe.
Result<long> pipe_size(fs::File& f);
// F_SETPIPE_SZ (pipe_set_size): `size` rounded up to a power-of-two number
// of pages (at least one); EINVAL above 2 GiB, EPERM for growing past
// kPipeMaxSize unless `privileged` (CAP_SYS_RESOURCE), EBUSY when the pipe
// holds more than the new size. Returns the new capacity.
Result<long> set_pipe_size(fs::File& f, u32 size, bool privileged);

// Sleeps `t` until one of `queues` is woken, a host fd of `host` (fd,
// poll events) is ready, the deadline passes (kTimedOut) or a signal comes
// (kInterrupted): the wait of poll, select and epoll_wait.
WakeReason wait_on_any(Task& t, std::vector<WaitQueue*> queues,
                       const std::vector<std::pair<int, short>>& host,
                       std::optional<std::chrono::steady_clock::time_point> deadline);

// A temporary signal mask for the length of a wait (ppoll, pselect6,
// epoll_pwait): set from the guest's sigset at `addr` (none if 0), and put
// back after, unless a signal interrupted the wait (the handler's frame
// restores it then).
Result<void> set_wait_sigmask(Task& t, u64 addr, u64 size);
void end_wait_sigmask(Task& t, bool interrupted);

// read/write with the waiting a blocking file needs: EAGAIN from the ops
// means "sleep and retry" unless the file is O_NONBLOCK; a signal ends the
// wait with ERESTARTSYS (the syscall restarts or fails with EINTR).
Result<u64> file_read(Task& t, fs::File& f, std::span<std::byte> dst);
Result<u64> file_write(Task& t, fs::File& f, std::span<const std::byte> src);

}  // namespace vk
