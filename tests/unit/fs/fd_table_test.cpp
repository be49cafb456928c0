// FdTable: allocation, dup family, close_range, fork and exec.

#include <linux/close_range.h>

#include "fs_test_util.h"

namespace vk::fs::test {
namespace {

constexpr u64 kLimit = 16;

struct FdTableTest : ::testing::Test {
    World w;
    std::shared_ptr<File> file(std::string_view name) {
        return w.open_ok(name, O_RDWR | O_CREAT);
    }
};

TEST_F(FdTableTest, LowestFreeAndLimit) {
    FdTable t;
    auto f = file("a");
    for (int i = 0; i < static_cast<int>(kLimit); ++i) EXPECT_EQ(t.install(f, false, kLimit).value(), i);
    EXPECT_EQ(ename_of(t.install(f, false, kLimit)), "EMFILE");
    EXPECT_EQ(t.count(), kLimit);
    ASSERT_TRUE(t.close(5));
    ASSERT_TRUE(t.close(3));
    EXPECT_EQ(t.install(f, false, kLimit).value(), 3);
    EXPECT_EQ(t.install(f, false, kLimit).value(), 5);
    // A lower limit (setrlimit) leaves existing fds alone but hands out none above it.
    ASSERT_TRUE(t.close(2));
    EXPECT_EQ(ename_of(t.install(f, false, 2)), "EMFILE");
    EXPECT_EQ(t.install(f, false, 3).value(), 2);
}

TEST_F(FdTableTest, GetCloseAndBadFds) {
    FdTable t;
    auto f = file("a");
    const int fd = t.install(f, true, kLimit).value();
    EXPECT_EQ(t.get(fd).value(), f);
    EXPECT_TRUE(t.cloexec(fd).value());
    EXPECT_EQ(ename_of(t.get(-1)), "EBADF");
    EXPECT_EQ(ename_of(t.get(7)), "EBADF");
    EXPECT_EQ(ename_of(t.get(1 << 30)), "EBADF");
    auto closed = t.close(fd);
    ASSERT_TRUE(closed);
    EXPECT_EQ(*closed, f);
    EXPECT_EQ(ename_of(t.close(fd)), "EBADF");
    EXPECT_EQ(ename_of(t.cloexec(fd)), "EBADF");
    EXPECT_EQ(ename_of(t.set_cloexec(fd, true)), "EBADF");
}

TEST_F(FdTableTest, DupSharesTheOpenFileDescription) {
    FdTable t;
    auto f = file("a");
    ASSERT_TRUE(f->write(bytes("hello")));
    const int a = t.install(f, true, kLimit).value();
    const int b = t.dup(a, kLimit).value();
    EXPECT_EQ(b, a + 1);
    EXPECT_FALSE(t.cloexec(b).value());  // FD_CLOEXEC is per descriptor
    EXPECT_EQ(t.get(a).value(), t.get(b).value());
    // Offsets and status flags are shared.
    ASSERT_TRUE(t.get(b).value()->lseek(1, SEEK_SET));
    EXPECT_EQ(t.get(a).value()->offset(), 1u);
    ASSERT_TRUE(t.get(a).value()->set_flags(O_APPEND));
    EXPECT_TRUE(t.get(b).value()->flags() & O_APPEND);
    EXPECT_EQ(ename_of(t.dup(9, kLimit)), "EBADF");
}

TEST_F(FdTableTest, DupMin) {
    FdTable t;
    auto f = file("a");
    const int a = t.install(f, false, kLimit).value();
    EXPECT_EQ(t.dup_min(a, 10, true, kLimit).value(), 10);
    EXPECT_TRUE(t.cloexec(10).value());
    EXPECT_EQ(t.dup_min(a, 10, false, kLimit).value(), 11);
    EXPECT_EQ(t.dup_min(a, 0, false, kLimit).value(), 1);
    EXPECT_EQ(ename_of(t.dup_min(a, static_cast<int>(kLimit), false, kLimit)), "EINVAL");
    EXPECT_EQ(ename_of(t.dup_min(a, -1, false, kLimit)), "EINVAL");
    EXPECT_EQ(ename_of(t.dup_min(5, 0, false, kLimit)), "EBADF");
    // Full above min: EMFILE.
    for (int i = 12; i < static_cast<int>(kLimit); ++i) ASSERT_TRUE(t.dup_min(a, 12, false, kLimit));
    EXPECT_EQ(ename_of(t.dup_min(a, 12, false, kLimit)), "EMFILE");
}

TEST_F(FdTableTest, Dup2AndDup3) {
    FdTable t;
    auto f = file("a"), g = file("b");
    const int a = t.install(f, false, kLimit).value();
    const int b = t.install(g, true, kLimit).value();
    EXPECT_EQ(t.dup2(a, a, kLimit).value(), a);  // same fd: just validated
    EXPECT_EQ(ename_of(t.dup2(9, 9, kLimit)), "EBADF");
    EXPECT_EQ(ename_of(t.dup3(a, a, 0, kLimit)), "EINVAL");
    EXPECT_EQ(ename_of(t.dup3(a, 4, O_NONBLOCK, kLimit)), "EINVAL");
    // Replaces b silently and clears its close-on-exec.
    EXPECT_EQ(t.dup2(a, b, kLimit).value(), b);
    EXPECT_EQ(t.get(b).value(), f);
    EXPECT_FALSE(t.cloexec(b).value());
    EXPECT_EQ(g.use_count(), 1);  // the old file went away
    EXPECT_EQ(t.dup3(a, 7, O_CLOEXEC, kLimit).value(), 7);
    EXPECT_TRUE(t.cloexec(7).value());
    EXPECT_EQ(ename_of(t.dup2(a, static_cast<int>(kLimit), kLimit)), "EBADF");
    EXPECT_EQ(ename_of(t.dup2(a, -3, kLimit)), "EBADF");
    EXPECT_EQ(ename_of(t.dup2(12, 3, kLimit)), "EBADF");
    // A bad oldfd leaves newfd open.
    EXPECT_TRUE(t.get(7));
    EXPECT_EQ(ename_of(t.dup2(12, 7, kLimit)), "EBADF");
    EXPECT_TRUE(t.get(7));
}

TEST_F(FdTableTest, CloseRange) {
    FdTable t;
    auto f = file("a");
    for (int i = 0; i < 10; ++i) ASSERT_TRUE(t.install(f, false, kLimit));
    EXPECT_EQ(ename_of(t.close_range(5, 4, 0)), "EINVAL");
    EXPECT_EQ(ename_of(t.close_range(0, 1, 0x80)), "EINVAL");
    ASSERT_TRUE(t.close_range(2, 3, CLOSE_RANGE_CLOEXEC));
    EXPECT_TRUE(t.cloexec(2).value());
    EXPECT_TRUE(t.cloexec(3).value());
    EXPECT_FALSE(t.cloexec(4).value());
    ASSERT_TRUE(t.close_range(5, ~0u, 0));
    EXPECT_EQ(t.count(), 5u);
    ASSERT_TRUE(t.close_range(100, 200, 0));  // nothing there: fine
    ASSERT_TRUE(t.close_range(0, 0, CLOSE_RANGE_UNSHARE));
    EXPECT_EQ(ename_of(t.get(0)), "EBADF");
}

TEST_F(FdTableTest, CloneForForkAndCloseOnExec) {
    FdTable t;
    auto f = file("a"), g = file("b");
    ASSERT_TRUE(t.install(f, false, kLimit));
    ASSERT_TRUE(t.install(g, true, kLimit));
    ASSERT_TRUE(t.dup_min(0, 8, true, kLimit));
    std::unique_ptr<FdTable> child = t.clone();
    EXPECT_EQ(child->count(), 3u);
    EXPECT_EQ(child->get(0).value(), f);
    EXPECT_TRUE(child->cloexec(1).value());
    // The child's changes do not show in the parent, but the files are shared.
    ASSERT_TRUE(child->close(0));
    EXPECT_TRUE(t.get(0));
    ASSERT_TRUE(child->get(1).value()->write(bytes("xy")));
    EXPECT_EQ(t.get(1).value()->offset(), 2u);
    child->close_on_exec();
    EXPECT_EQ(child->count(), 0u);
    t.close_on_exec();
    EXPECT_EQ(t.count(), 1u);
    std::vector<int> seen;
    t.for_each([&](int fd, const std::shared_ptr<File>& file, bool cloexec) {
        seen.push_back(fd);
        EXPECT_EQ(file, f);
        EXPECT_FALSE(cloexec);
    });
    EXPECT_EQ(seen, std::vector<int>{0});
}

}  // namespace
}  // namespace vk::fs::test
