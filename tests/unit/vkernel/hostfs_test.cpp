// hostfs: a host directory, read-only, mounted into a Vfs.

#include "vkernel/hostfs.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "pmap/frame_allocator.h"
#include "pmap/phys_memory.h"
#include "vkernel/fs/file.h"
#include "vkernel/fs/tmpfs.h"
#include "vkernel/fs/vfs.h"

namespace vk {
namespace {

namespace stdfs = std::filesystem;

class HostFsTest : public ::testing::Test {
protected:
    void SetUp() override {
        char tmpl[] = "/tmp/vk_hostfs_test.XXXXXX";
        ASSERT_NE(::mkdtemp(tmpl), nullptr);
        host_ = tmpl;
        stdfs::create_directories(host_ + "/sub/deeper");
        std::ofstream(host_ + "/hello.txt") << "hello, hostfs\n";
        std::ofstream(host_ + "/sub/inner") << "inner";
        stdfs::create_symlink("hello.txt", host_ + "/link");
        stdfs::create_symlink("/nowhere/at/all", host_ + "/dangling");
        ASSERT_EQ(::chmod((host_ + "/hello.txt").c_str(), 0640), 0);

        auto h = HostFs::create(host_);
        ASSERT_TRUE(h) << h.error().message();
        ASSERT_TRUE(vfs_.mkdir(ctx(), vfs_.root(), "/mnt", 0755));
        ASSERT_TRUE(vfs_.mount(ctx(), vfs_.root(), "/mnt", std::move(h.value()), MS_RDONLY, host_));
    }
    void TearDown() override { stdfs::remove_all(host_); }

    fs::Context ctx() const { return fs::Context{fsc_, cred_}; }
    std::string read(const std::string& path) {
        auto f = vfs_.open(ctx(), vfs_.root(), path, O_RDONLY, 0);
        EXPECT_TRUE(f) << path << ": " << (f ? 0 : f.error().code);
        if (!f) return {};
        std::string out;
        std::vector<std::byte> buf(5);  // small reads: the offset must advance
        for (;;) {
            auto n = f.value()->read(buf);
            EXPECT_TRUE(n);
            if (!n || *n == 0) break;
            out.append(reinterpret_cast<const char*>(buf.data()), *n);
        }
        return out;
    }
    std::vector<std::string> list(const std::string& path) {
        auto f = vfs_.open(ctx(), vfs_.root(), path, O_RDONLY | O_DIRECTORY, 0);
        EXPECT_TRUE(f);
        std::vector<std::string> names;
        if (!f) return names;
        std::vector<std::byte> buf(4096);
        for (;;) {
            auto n = f.value()->getdents64(buf);
            EXPECT_TRUE(n);
            if (!n || *n == 0) break;
            for (u64 off = 0; off < *n;) {
                u16 reclen;
                std::memcpy(&reclen, buf.data() + off + 16, 2);
                names.emplace_back(reinterpret_cast<const char*>(buf.data() + off + 19));
                off += reclen;
            }
        }
        std::sort(names.begin(), names.end());
        return names;
    }
    int error_of_create(const std::string& path) {
        auto f = vfs_.open(ctx(), vfs_.root(), path, O_WRONLY | O_CREAT, 0644);
        return f ? 0 : f.error().code;
    }

    std::string host_;
    pmap::PhysMemory mem_ = pmap::PhysMemory::create(256 * kPageSize).value();
    pmap::FrameAllocator frames_{mem_};
    fs::Vfs vfs_{fs::Tmpfs::create(frames_)};
    fs::FsContext fsc_ = vfs_.initial_context();
    fs::Credentials cred_ = fs::Credentials::root();
};

TEST_F(HostFsTest, ReadsFilesAndDirectories) {
    EXPECT_EQ(read("/mnt/hello.txt"), "hello, hostfs\n");
    EXPECT_EQ(read("/mnt/sub/inner"), "inner");
    EXPECT_EQ(read("/mnt/sub/../hello.txt"), "hello, hostfs\n");
    EXPECT_EQ(list("/mnt"), (std::vector<std::string>{".", "..", "dangling", "hello.txt", "link", "sub"}));
    EXPECT_EQ(list("/mnt/sub"), (std::vector<std::string>{".", "..", "deeper", "inner"}));
}

TEST_F(HostFsTest, StatShowsTheHostFile) {
    auto st = vfs_.stat(ctx(), vfs_.root(), "/mnt/hello.txt", 0);
    ASSERT_TRUE(st);
    struct stat h{};
    ASSERT_EQ(::stat((host_ + "/hello.txt").c_str(), &h), 0);
    EXPECT_EQ(st->size, 14u);
    EXPECT_EQ(st->mode, S_IFREG | 0640);
    EXPECT_EQ(st->ino, h.st_ino);
    EXPECT_EQ(st->mtime.sec, h.st_mtim.tv_sec);
}

TEST_F(HostFsTest, SymlinksAreFollowedInsideTheGuest) {
    EXPECT_EQ(read("/mnt/link"), "hello, hostfs\n");
    auto target = vfs_.readlink(ctx(), vfs_.root(), "/mnt/dangling");
    ASSERT_TRUE(target);
    EXPECT_EQ(*target, "/nowhere/at/all");
    // An absolute link resolves in the guest's root, not the host's.
    auto gone = vfs_.stat(ctx(), vfs_.root(), "/mnt/dangling", 0);
    ASSERT_FALSE(gone);
    EXPECT_EQ(gone.error().code, ENOENT);
}

TEST_F(HostFsTest, SameFileSameInode) {
    auto a = vfs_.resolve(ctx(), vfs_.root(), "/mnt/sub/inner", 0);
    auto b = vfs_.resolve(ctx(), vfs_.root(), "/mnt/sub/deeper/../inner", 0);
    ASSERT_TRUE(a && b);
    EXPECT_EQ(a->inode_ptr(), b->inode_ptr());
}

TEST_F(HostFsTest, ChangesAreReadOnly) {
    EXPECT_EQ(error_of_create("/mnt/new"), EROFS);
    EXPECT_EQ(error_of_create("/mnt/hello.txt"), EROFS);
    auto m = vfs_.mkdir(ctx(), vfs_.root(), "/mnt/newdir", 0755);
    ASSERT_FALSE(m);
    EXPECT_EQ(m.error().code, EROFS);
    auto u = vfs_.unlink(ctx(), vfs_.root(), "/mnt/hello.txt");
    ASSERT_FALSE(u);
    EXPECT_EQ(u.error().code, EROFS);
    EXPECT_TRUE(stdfs::exists(host_ + "/hello.txt"));
    EXPECT_FALSE(stdfs::exists(host_ + "/new"));
}

TEST_F(HostFsTest, MissingEntriesAndDirectories) {
    auto st = vfs_.stat(ctx(), vfs_.root(), "/mnt/nope", 0);
    ASSERT_FALSE(st);
    EXPECT_EQ(st.error().code, ENOENT);
    auto h = HostFs::create(host_ + "/no-such-dir");
    ASSERT_FALSE(h);
    EXPECT_EQ(h.error().err, ENOENT);
    auto f = HostFs::create(host_ + "/hello.txt");
    ASSERT_FALSE(f);
    EXPECT_EQ(f.error().err, ENOTDIR);
}

}  // namespace
}  // namespace vk
