// procfs: the global files and the tree, on a Kernel that runs no process
// (so there is no caller: /proc/self is ENOENT). Per-process files are
// covered by the e2e tests (root.proc_*). Needs /dev/kvm (skips without).

#include "vkernel/procfs.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "vkernel/kernel.h"

namespace vk {
namespace {

class ProcFsTest : public ::testing::Test {
protected:
    void SetUp() override {
        if (::access("/dev/kvm", R_OK | W_OK) != 0) GTEST_SKIP() << "needs /dev/kvm";
        static const SyscallTable table{};
        KernelOptions o;
        o.memory = 64ULL << 20;
        o.cpus = 2;
        auto k = Kernel::create(o, table);
        ASSERT_TRUE(k) << k.error().message();
        k_ = std::move(k.value());
        fsc_ = k_->vfs().initial_context(0);
            ASSERT_TRUE(k_->vfs().mkdir(ctx(), k_->vfs().root(), "/proc", 0555));
        ASSERT_TRUE(mount_procfs(*k_, k_->vfs(), ctx(), "/proc"));
    }
    fs::Context ctx() const { return fs::Context{fsc_, cred_}; }
    std::string read(const std::string& path) {
        auto f = k_->vfs().open(ctx(), k_->vfs().root(), path, O_RDONLY, 0);
        EXPECT_TRUE(f) << path;
        if (!f) return {};
        std::string out;
        std::vector<std::byte> buf(7);  // small reads: the snapshot is read piecewise
        for (;;) {
            auto n = f.value()->read(buf);
            EXPECT_TRUE(n);
            if (!n || *n == 0) break;
            out.append(reinterpret_cast<const char*>(buf.data()), *n);
        }
        return out;
    }

    std::unique_ptr<Kernel> k_;
    fs::FsContext fsc_;
    fs::Credentials cred_ = fs::Credentials::root();
};

TEST_F(ProcFsTest, MeminfoShowsTheGuestMemory) {
    const std::string m = read("/proc/meminfo");
    EXPECT_EQ(m.substr(0, m.find('\n')), "MemTotal:          65536 kB");
    EXPECT_NE(m.find("\nMemFree:  "), std::string::npos);
    EXPECT_NE(m.find("\nCached:  "), std::string::npos);
}

TEST_F(ProcFsTest, GlobalFiles) {
    EXPECT_EQ(read("/proc/sys/kernel/ostype"), "Linux\n");
    EXPECT_EQ(read("/proc/sys/kernel/osrelease"), "6.1.0-vkernel\n");
    EXPECT_EQ(read("/proc/version").rfind("Linux version 6.1.0-vkernel", 0), 0u);
    const std::string cpu = read("/proc/cpuinfo");
    EXPECT_NE(cpu.find("processor\t: 0\n"), std::string::npos);
    EXPECT_NE(cpu.find("processor\t: 1\n"), std::string::npos);
    EXPECT_EQ(read("/proc/loadavg"), "0.00 0.00 0.00 0/0 0\n");
    const std::string stat = read("/proc/stat");
    EXPECT_EQ(stat.rfind("cpu  ", 0), 0u);
    EXPECT_NE(stat.find("\ncpu1 "), std::string::npos);
    EXPECT_NE(stat.find("\nbtime "), std::string::npos);
    EXPECT_NE(read("/proc/filesystems").find("nodev\tproc\n"), std::string::npos);
    EXPECT_NE(read("/proc/uptime").find('.'), std::string::npos);
}

TEST_F(ProcFsTest, MountsOfTheNamespace) {
    auto link = k_->vfs().readlink(ctx(), k_->vfs().root(), "/proc/mounts");
    ASSERT_TRUE(link);
    EXPECT_EQ(*link, "self/mounts");
    // No calling task off the vCPUs: self does not resolve.
    auto self = k_->vfs().readlink(ctx(), k_->vfs().root(), "/proc/self");
    ASSERT_FALSE(self);
    EXPECT_EQ(self.error().code, ENOENT);
    auto st = k_->vfs().statfs(ctx(), k_->vfs().root(), "/proc");
    ASSERT_TRUE(st);
    EXPECT_EQ(st->type, 0x9fa0u);
}

TEST_F(ProcFsTest, ReadOnlyAndStableInodes) {
    auto& vfs = k_->vfs();
    EXPECT_FALSE(vfs.mkdir(ctx(), vfs.root(), "/proc/x", 0755));
    EXPECT_FALSE(vfs.unlink(ctx(), vfs.root(), "/proc/version"));
    EXPECT_FALSE(vfs.open(ctx(), vfs.root(), "/proc/nope", O_RDONLY, 0));
    EXPECT_FALSE(vfs.open(ctx(), vfs.root(), "/proc/1/stat", O_RDONLY, 0));
    auto f = vfs.open(ctx(), vfs.root(), "/proc/meminfo", O_RDONLY, 0);  // held: same inode
    auto a = vfs.stat(ctx(), vfs.root(), "/proc/meminfo", 0);
    auto b = vfs.stat(ctx(), vfs.root(), "/proc/meminfo", 0);
    ASSERT_TRUE(a && b && f);
    EXPECT_EQ(a->ino, b->ino);
    EXPECT_TRUE(S_ISREG(a->mode));
    auto d = vfs.open(ctx(), vfs.root(), "/proc", O_RDONLY | O_DIRECTORY, 0);
    ASSERT_TRUE(d);
    std::vector<std::byte> buf(4096);
    auto n = d.value()->getdents64(buf);
    ASSERT_TRUE(n);
    const std::string names(reinterpret_cast<const char*>(buf.data()), *n);
    for (const char* want : {"self", "thread-self", "meminfo", "cpuinfo", "sys", "mounts"})
        EXPECT_NE(names.find(want), std::string::npos) << want;
}

}  // namespace
}  // namespace vk
