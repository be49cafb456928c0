#pragma once

// A small world for VFS tests: guest memory, a frame allocator, a tmpfs
// root mounted in a Vfs, a root process context, and helpers that turn
// errors into test failures with the errno's name.

#include <gtest/gtest.h>

#include <memory>
#include <span>
#include <string>
#include <vector>

#include "pmap/frame_allocator.h"
#include "pmap/phys_memory.h"
#include "vkernel/fs/fd_table.h"
#include "vkernel/fs/file.h"
#include "vkernel/fs/tmpfs.h"
#include "vkernel/fs/vfs.h"

namespace vk::fs::test {

inline std::string ename(int code) { return code ? errno_name(code) : "OK"; }

// The errno name of a Result ("OK" on success), for EXPECT_EQ(ename_of(r), "ENOENT").
template <typename T>
std::string ename_of(const Result<T>& r) {
    return r ? "OK" : ename(r.error().code);
}

inline std::span<const std::byte> bytes(std::string_view s) {
    return std::as_bytes(std::span<const char>(s.data(), s.size()));
}

struct World {
    explicit World(u64 pages = 1024, TmpfsOptions opts = {})
        : mem(pmap::PhysMemory::create(pages * kPageSize).value()), frames(mem),
          tmpfs(Tmpfs::create(frames, opts)), vfs(tmpfs, 0, "tmpfs"), fs(vfs.initial_context()),
          cred(Credentials::root()) {}

    Context ctx() const { return Context{fs, cred}; }
    Context ctx_as(const Credentials& c) const { return Context{fs, c}; }
    Path cwd() const { return fs.cwd; }

    Result<std::shared_ptr<File>> open(std::string_view path, int flags, u32 mode = 0644) {
        return vfs.open(ctx(), fs.cwd, path, flags, mode);
    }
    std::shared_ptr<File> open_ok(std::string_view path, int flags, u32 mode = 0644) {
        auto f = open(path, flags, mode);
        EXPECT_TRUE(f) << path << ": " << ename_of(f);
        return f ? *f : nullptr;
    }
    void write_file(std::string_view path, std::string_view data, u32 mode = 0644) {
        auto f = open_ok(path, O_WRONLY | O_CREAT | O_TRUNC, mode);
        ASSERT_TRUE(f);
        auto n = f->write(bytes(data));
        ASSERT_TRUE(n) << ename_of(n);
        ASSERT_EQ(*n, data.size());
    }
    std::string read_file(std::string_view path) {
        auto f = open(path, O_RDONLY);
        if (!f) return "<" + ename_of(f) + ">";
        std::string out;
        std::vector<std::byte> buf(8192);
        for (;;) {
            auto n = (*f)->read(buf);
            if (!n) return "<read " + ename_of(n) + ">";
            if (*n == 0) break;
            out.append(reinterpret_cast<const char*>(buf.data()), *n);
        }
        return out;
    }
    void mkdir_ok(std::string_view path, u32 mode = 0755) {
        auto r = vfs.mkdir(ctx(), fs.cwd, path, mode);
        ASSERT_TRUE(r) << path << ": " << ename_of(r);
    }
    Result<Stat> stat(std::string_view path, int at_flags = 0) {
        return vfs.stat(ctx(), fs.cwd, path, at_flags);
    }
    Stat stat_ok(std::string_view path, int at_flags = 0) {
        auto s = stat(path, at_flags);
        EXPECT_TRUE(s) << path << ": " << ename_of(s);
        return s ? *s : Stat{};
    }
    // Names in a directory (without "." and ".."), in getdents64 order.
    std::vector<std::string> list(std::string_view path);
    Path path(std::string_view p) { return vfs.resolve(ctx(), fs.cwd, p, kLookupFollow).value(); }

    pmap::PhysMemory mem;
    pmap::FrameAllocator frames;
    std::shared_ptr<Tmpfs> tmpfs;
    Vfs vfs;
    FsContext fs;
    Credentials cred;
};

// Parses getdents64 records: (name, ino, type, d_off).
struct Dirent {
    std::string name;
    u64 ino = 0;
    u8 type = 0;
    i64 off = 0;
};
std::vector<Dirent> parse_dirents(std::span<const std::byte> buf);

}  // namespace vk::fs::test
