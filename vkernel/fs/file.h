#pragma once

// File: an open file description (Linux's struct file), shared by every
// descriptor that dup(2), fork(2) or SCM_RIGHTS made from one open(2): it
// carries the offset and the status flags. FileOps is what a kind of file
// (regular, directory, device, pipe, socket) does with it.
//
// I/O moves bytes through host spans: the syscall layer copies between
// guest memory and its own buffers; nothing here sees a guest address.
// Guarded by the kernel lock (the offset needs no lock of its own).

#include <memory>
#include <span>

#include "base/result.h"
#include "vkernel/fs/mount.h"
#include "vkernel/fs/types.h"

namespace vk::fs {

class File;

// How mmap(2) maps a file (Linux's f_op->mmap, reduced to the kinds we have).
enum class MapKind {
    kNone,       // no mmap: ENODEV
    kPageCache,  // the inode's own frames (Inode::page): shared and private mappings
    kCopy,       // private copies of the data read through Inode::read (read-only filesystems)
    kAnonymous,  // anonymous memory (/dev/zero)
};

// The behaviour of one kind of open file. The defaults fail as Linux does
// for a file without that operation. Owned by the File (shared_ptr so a
// stateless implementation can serve many files).
class FileOps {
public:
    virtual ~FileOps() = default;
    // Reads into `dst` at `offset` (streams ignore it). Returns the bytes
    // read; 0 is end of file. A stream with nothing to read returns EAGAIN
    // and the syscall layer decides whether to wait (see poll()).
    virtual Result<u64> read(File& file, std::span<std::byte> dst, u64 offset);
    // Writes `src` at `offset` (streams ignore it); returns bytes written.
    virtual Result<u64> write(File& file, std::span<const std::byte> src, u64 offset);
    // False for pipes, sockets and ttys: no offset, lseek/pread/pwrite ESPIPE.
    virtual bool seekable() const { return true; }
    // lseek(2); the default serves files with a size (SEEK_SET, SEEK_CUR,
    // SEEK_END, SEEK_DATA, SEEK_HOLE).
    virtual Result<i64> seek(File& file, i64 offset, int whence);
    // getdents64(2) records into `buf`; ENOTDIR unless a directory.
    virtual Result<u64> getdents(File& file, std::span<std::byte> buf);
    virtual Result<void> fsync(File& file, bool datasync);
    // A device- or file-specific ioctl. The generic ones (FIOCLEX,
    // FIONCLEX, FIONBIO, FIOASYNC) belong to the syscall layer. `arg` is
    // raw: an implementation that needs guest memory gets it copied by its
    // syscall-layer caller. ENOTTY by default.
    virtual Result<long> ioctl(File& file, u32 cmd, u64 arg);
    // Readiness, as poll(2)'s revents bits.
    virtual u32 poll(File& file);
    // How mmap(2) maps this file; the default has no mmap.
    virtual MapKind map_kind(const File& /*file*/) const { return MapKind::kNone; }
    // The open file description is going away (last reference dropped).
    virtual void release(File& /*file*/) {}
};

// FileOps of regular files whose inode implements read/write.
std::shared_ptr<FileOps> regular_file_ops();
// FileOps of directories whose inode implements iterate.
std::shared_ptr<FileOps> directory_file_ops();

// An open file description. Made by Vfs::open (or by a later layer for
// pipes and sockets, with an anonymous path); owns its FileOps.
class File {
public:
    // `flags` as open(2) got them; the File keeps the F_GETFL view.
    // `cred` is the opener's (Linux's f_cred), used for set-id clearing on
    // write. `ops` may be null at first and given once by set_ops() (an
    // open hook sees the File before it has its FileOps).
    File(Path path, int flags, Credentials cred, std::shared_ptr<FileOps> ops = nullptr);
    ~File();
    File(const File&) = delete;
    File& operator=(const File&) = delete;

    const Path& path() const { return path_; }
    Inode& inode() const { return path_.inode(); }
    FileOps& ops() const { return *ops_; }
    void set_ops(std::shared_ptr<FileOps> ops) { ops_ = std::move(ops); }
    const Credentials& cred() const { return cred_; }

    // What fcntl(F_GETFL) reports: access mode, status flags, O_LARGEFILE.
    int flags() const { return flags_; }
    // fcntl(F_SETFL): only O_APPEND, O_ASYNC, O_DIRECT, O_NOATIME and
    // O_NONBLOCK change; the rest of `flags` is ignored. EPERM for
    // O_NOATIME on a file the opener does not own.
    Result<void> set_flags(int flags);
    bool readable() const { return readable_; }
    bool writable() const { return writable_; }
    bool is_path() const { return flags_ & O_PATH; }
    bool nonblocking() const { return flags_ & O_NONBLOCK; }

    u64 offset() const { return offset_; }
    void set_offset(u64 off) { offset_ = off; }

    // read(2)/write(2) at the file offset, advancing it. O_APPEND writes go
    // to the end of file.
    Result<u64> read(std::span<std::byte> dst);
    Result<u64> write(std::span<const std::byte> src);
    // pread64(2)/pwrite64(2): the offset is not used or changed. As on
    // Linux, pwrite on an O_APPEND file appends.
    Result<u64> pread(std::span<std::byte> dst, i64 offset);
    Result<u64> pwrite(std::span<const std::byte> src, i64 offset);
    Result<i64> lseek(i64 offset, int whence);
    Result<u64> getdents64(std::span<std::byte> buf);
    Result<void> fsync(bool datasync);
    // ftruncate(2).
    Result<void> truncate(i64 length);
    // fallocate(2).
    Result<void> allocate(int mode, i64 offset, i64 len);
    // fstat(2).
    Stat stat() const;
    Result<long> ioctl(u32 cmd, u64 arg);
    u32 poll();

    // Called as an open file description goes away, before its FileOps
    // release: flock and OFD locks belong to it. Set once, by the lock manager.
    using ReleaseHook = void (*)(File& file);
    static void set_release_hook(ReleaseHook hook);

private:
    Result<u64> do_write(std::span<const std::byte> src, u64 offset, bool advance);

    Path path_;
    std::shared_ptr<FileOps> ops_;
    Credentials cred_;
    int flags_ = 0;
    bool readable_ = false;
    bool writable_ = false;
    u64 offset_ = 0;
};

// getdents64's record layout (struct linux_dirent64), for packing records.
// Returns the bytes the record for `name` takes (8-aligned).
u64 dirent64_size(u64 name_len);

}  // namespace vk::fs
