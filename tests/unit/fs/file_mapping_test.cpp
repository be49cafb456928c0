// File mappings over tmpfs without KVM: the memory objects of MAP_SHARED and
// MAP_PRIVATE (vkernel/mm.h) show the file's own frames, copy on write,
// lose their private copies when the file is truncated (not when a hole is
// punched), and give every frame back.

#include <linux/falloc.h>

#include <cstring>

#include "fs_test_util.h"
#include "vkernel/mm.h"

namespace vk::fs::test {
namespace {

struct Mapped {
    World w;
    std::shared_ptr<File> f;
    std::shared_ptr<Inode> inode;
    u64 free0 = 0;

    // A file of `pages` pages, page i filled with the byte 'a' + i.
    explicit Mapped(u64 pages) {
        free0 = w.frames.free_frames();
        f = w.open_ok("f", O_RDWR | O_CREAT);
        for (u64 i = 0; i < pages; i++) {
            std::string s(kPageSize, static_cast<char>('a' + i));
            EXPECT_TRUE(f->pwrite(bytes(s), static_cast<i64>(i * kPageSize)));
        }
        inode = f->inode().shared_from_this();
    }
    char at(pmap::PhysAddr pa, u64 off = 0) { return static_cast<char>(w.mem.host(pa)[off]); }
    char file_at(u64 off) {
        std::byte b{};
        auto n = f->pread(std::span(&b, 1), static_cast<i64>(off));
        return n && *n == 1 ? static_cast<char>(b) : '?';
    }
};

TEST(FileMapping, SharedObjectIsTheFilesPages) {
    Mapped m(2);
    auto a = VmObject::file_shared(m.w.frames, m.inode);
    auto b = VmObject::file_shared(m.w.frames, m.inode);
    EXPECT_EQ(a, b) << "one shared object per inode (futex keys depend on it)";
    auto p = a->page(1, false);
    ASSERT_TRUE(p);
    EXPECT_FALSE(p->own);
    EXPECT_EQ(p->pa, m.inode->page(1, false).value());
    // A write through the frame is what read(2) sees, and the other way.
    m.w.mem.host(p->pa)[5] = std::byte{'X'};
    EXPECT_EQ(m.file_at(kPageSize + 5), 'X');
    ASSERT_TRUE(m.f->pwrite(bytes("Y"), 6));
    EXPECT_EQ(m.at(a->page(0).value().pa, 6), 'Y');
    EXPECT_EQ(a->resident(), 0u) << "the shared object owns no pages";
}

TEST(FileMapping, HolesAndEndOfFile) {
    Mapped m(1);
    ASSERT_TRUE(m.f->truncate(3 * kPageSize + 10));
    auto o = VmObject::file_shared(m.w.frames, m.inode);
    // Fault-around (no create) does not fill holes; the faulting page does.
    auto hole = o->page(2, false);
    ASSERT_FALSE(hole);
    EXPECT_EQ(hole.error().code, ENOENT);
    auto made = o->page(2, true);
    ASSERT_TRUE(made);
    EXPECT_EQ(m.at(made->pa, 100), 0);
    EXPECT_FALSE(o->beyond_eof(3)) << "the partial last page is inside";
    EXPECT_TRUE(o->beyond_eof(4));
}

TEST(FileMapping, PrivateCopiesOnWriteOnly) {
    Mapped m(3);
    auto o = VmObject::file_private(m.w.frames, m.inode);
    auto p = o->page(1);
    ASSERT_TRUE(p);
    EXPECT_FALSE(p->own) << "read: the file's frame, mapped read-only";
    const u64 free1 = m.w.frames.free_frames();
    auto copy = o->make_private(1);
    ASSERT_TRUE(copy);
    EXPECT_NE(*copy, p->pa);
    EXPECT_EQ(m.w.frames.free_frames(), free1 - 1);
    EXPECT_EQ(m.at(*copy, 7), 'b');
    m.w.mem.host(*copy)[7] = std::byte{'Z'};
    EXPECT_EQ(m.file_at(kPageSize + 7), 'b') << "the file does not see a private write";
    // A second write fault keeps the same copy.
    EXPECT_EQ(o->make_private(1).value(), *copy);
    // Fork: the child shares the copy until one of them writes.
    auto child = o->cow_copy();
    EXPECT_EQ(m.w.frames.refcount(*copy), 2u);
    auto child_copy = child->make_private(1);
    ASSERT_TRUE(child_copy);
    EXPECT_NE(*child_copy, *copy);
    EXPECT_EQ(m.at(*child_copy, 7), 'Z');
    child.reset();
    o.reset();
    EXPECT_EQ(m.w.frames.free_frames(), free1);
}

TEST(FileMapping, TruncateDropsPrivateCopiesPunchKeepsThem) {
    Mapped m(4);
    auto o = VmObject::file_private(m.w.frames, m.inode);
    auto child = o->cow_copy();
    ASSERT_TRUE(o->make_private(1));
    ASSERT_TRUE(o->make_private(3));
    ASSERT_TRUE(child->make_private(3));
    // Punching page 1 zeroes the file's page but keeps the private copy.
    ASSERT_TRUE(m.f->allocate(FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, kPageSize, kPageSize));
    EXPECT_TRUE(o->lookup(1));
    // Truncating to 1.5 pages drops copies of pages 2.. in every object.
    ASSERT_TRUE(m.f->truncate(kPageSize + kPageSize / 2));
    EXPECT_TRUE(o->lookup(1));
    EXPECT_FALSE(o->lookup(3));
    EXPECT_FALSE(child->lookup(3));
    EXPECT_TRUE(o->beyond_eof(2));
    EXPECT_FALSE(o->beyond_eof(1));
    o.reset();
    child.reset();
    m.f.reset();
    m.inode.reset();
    ASSERT_TRUE(m.w.vfs.unlink(m.w.ctx(), m.w.cwd(), "f"));
    EXPECT_EQ(m.w.frames.free_frames(), m.free0) << "every frame comes back";
}

}  // namespace
}  // namespace vk::fs::test
