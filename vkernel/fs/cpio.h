#pragma once

// Unpacking an initramfs: a cpio archive in the "newc" format (magic
// 070701, or 070702 with checksums), as `find . | cpio -o -H newc` writes
// it and as Linux's init/initramfs.c reads it. Concatenated archives
// (with zero padding between them) are unpacked one after the other.
//
// Written by hand: the format is 110 bytes of ASCII header per entry, and
// libarchive (the one Debian library for it) would bring a dependency and
// callbacks for less than this file's size; the kernel does the same.

#include <span>
#include <string>

#include "base/result.h"
#include "vkernel/fs/vfs.h"

namespace vk::fs {

// What an unpack made.
struct CpioStats {
    u64 dirs = 0;
    u64 files = 0;
    u64 symlinks = 0;
    u64 hardlinks = 0;   // names linked to an earlier entry of the archive
    u64 specials = 0;    // device nodes, FIFOs, sockets (mknod)
    u64 data_bytes = 0;  // bytes of file data written
};

// Unpacks `archive` into the directory `dir` as root: names are taken
// relative to `dir` (leading "/" and "./" dropped), symlinks in the
// archive cannot lead outside it (`dir` acts as the root during the
// unpack), missing parent directories are made with mode 0755, and modes,
// owners, device numbers and mtimes come from the archive. Files in the
// archive replace what is there (a directory only if it is empty).
//
// Device nodes, FIFOs and sockets become special inodes (mode and rdev
// kept); the layers that implement them attach behaviour through
// Vfs::set_special_opener.
//
// A damaged archive is a sentence naming the problem and its byte offset
// ("initramfs: truncated header at offset 1234"); entries before it stay
// unpacked. Never aborts on bad input.
Result<CpioStats, std::string> unpack_cpio(const Vfs& vfs, const Path& dir,
                                           std::span<const std::byte> archive);

}  // namespace vk::fs
