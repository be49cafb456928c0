#pragma once

// FIFOs (mkfifo, mknod S_IFIFO) met in any filesystem, and the opener of
// special inodes that are not devices: FIFOs get pipe semantics, sockets
// are ENXIO (as open(2) of a socket is on Linux).
//
// A FIFO's pipe buffer belongs to its inode while anyone has it open (the
// inode's attachment points at it weakly; the openers own it), so data
// written and not read is gone when the last opener closes, as on Linux.
//
// Opening follows fifo_open: O_RDONLY waits for a writer to open (and
// O_WRONLY for a reader) unless O_NONBLOCK; O_WRONLY|O_NONBLOCK without a
// reader is ENXIO; O_RDWR never waits. The wait sleeps the opening task
// on the pipe's wait queue and ends with ERESTARTSYS on a signal.
// Guarded by the kernel lock.

#include "vkernel/fs/vfs.h"

namespace vk {

class Kernel;

// The opener devfs_opener chains to for FIFOs and sockets.
fs::SpecialOpener fifo_opener(Kernel& k);

// Makes an anonymous pipe's end (`inode`, of pipe(2)) reopenable through
// /proc/PID/fd/N with FIFO semantics on `pipe`, as Linux's pipefs inodes are.
struct Pipe;
void attach_pipe(Kernel& k, fs::Inode& inode, const std::shared_ptr<Pipe>& pipe);

}  // namespace vk
