#include "vkernel/fifo.h"

#include <fcntl.h>
#include <sys/stat.h>

#include "vkernel/files.h"
#include "vkernel/kernel.h"
#include "vkernel/signal_delivery.h"

namespace vk {

namespace {

// What a FIFO inode keeps between opens: its pipe while open, and how many
// readers and writers have ever opened it (a waiting opener watches the
// other side's count change, so an open and close in between still counts).
struct FifoState final : fs::InodeAttachment {
    FifoState(Kernel& kernel, bool anonymous) : k(kernel), anon(anonymous) {}
    // An anonymous pipe's ends are reopened through /proc/PID/fd/N (as
    // `echo x > /dev/stderr` does); a FIFO on a filesystem is opened by
    // fifo_opener like any special file.
    bool reopenable() const override { return anon; }
    Result<std::shared_ptr<fs::FileOps>> reopen(fs::File& file) override;

    Kernel& k;
    bool anon;
    std::weak_ptr<Pipe> pipe;
    u64 reader_opens = 0;
    u64 writer_opens = 0;
};

Result<std::shared_ptr<fs::FileOps>> open_fifo(Kernel& k, fs::File& file) {
    fs::Inode& inode = file.inode();
    auto state = std::dynamic_pointer_cast<FifoState>(inode.attachment);
    if (!state) {
        state = std::make_shared<FifoState>(k, false);
        inode.attachment = state;
    }
    std::shared_ptr<Pipe> pipe = state->pipe.lock();
    if (!pipe && state->anon) return err(ENXIO);  // both ends closed: nothing to reopen
    if (!pipe) {
        pipe = make_pipe_buffer(k);
        state->pipe = pipe;
    }
    const int acc = file.flags() & O_ACCMODE;
    const bool nonblock = file.flags() & O_NONBLOCK;
    const bool reader = acc == O_RDONLY || acc == O_RDWR;
    const bool writer = acc == O_WRONLY || acc == O_RDWR;
    // An anonymous pipe reopened never waits for a partner and never says
    // ENXIO (fifo_open's is_pipe).
    if (!state->anon && acc == O_WRONLY && nonblock && pipe_openers(*pipe).first == 0)
        return err(ENXIO);
    if (reader) state->reader_opens++;
    if (writer) state->writer_opens++;
    std::shared_ptr<BlockingOps> ops = make_pipe_ops(pipe, reader, writer);
    if (acc == O_RDWR || nonblock || state->anon) return std::shared_ptr<fs::FileOps>(std::move(ops));
    // Wait for the other side (wait_for_partner).
    Task* t = k.current_task();
    if (!t) return std::shared_ptr<fs::FileOps>(std::move(ops));
    const u64 seen = reader ? state->writer_opens : state->reader_opens;
    for (;;) {
        const auto [readers, writers] = pipe_openers(*pipe);
        if ((reader ? writers : readers) > 0) break;
        if ((reader ? state->writer_opens : state->reader_opens) != seen) break;
        if (k.sleep(*t, &pipe_waiters(*pipe), std::nullopt) == WakeReason::kInterrupted) {
            fs::File& f = file;
            ops->release(f);  // no longer an opener
            return err(kERestartSys);
        }
    }
    return std::shared_ptr<fs::FileOps>(std::move(ops));
}

Result<std::shared_ptr<fs::FileOps>> FifoState::reopen(fs::File& file) { return open_fifo(k, file); }

}  // namespace

void attach_pipe(Kernel& k, fs::Inode& inode, const std::shared_ptr<Pipe>& pipe) {
    auto state = std::make_shared<FifoState>(k, true);
    state->pipe = pipe;
    inode.attachment = std::move(state);
}

fs::SpecialOpener fifo_opener(Kernel& k) {
    return [&k](fs::File& file) -> Result<std::shared_ptr<fs::FileOps>> {
        if (S_ISFIFO(file.inode().mode())) return open_fifo(k, file);
        return err(ENXIO);
    };
}

}  // namespace vk
