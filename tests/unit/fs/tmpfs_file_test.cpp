// tmpfs regular files: data in guest frames, holes, truncate, fallocate,
// SEEK_DATA/SEEK_HOLE, running out of space, and no frame leaks.

#include <linux/falloc.h>

#include <cstring>

#include "fs_test_util.h"

namespace vk::fs::test {
namespace {

TmpfsFile& tmpfs_file(World& w, std::string_view name) {
    return dynamic_cast<TmpfsFile&>(w.path(name).inode());
}

std::string read_at(File& f, i64 off, size_t n) {
    std::string s(n, '?');
    auto r = f.pread(std::as_writable_bytes(std::span(s.data(), s.size())), off);
    if (!r) return "<" + ename_of(r) + ">";
    s.resize(*r);
    return s;
}

TEST(TmpfsFile, DataLivesInGuestFrames) {
    World w;
    const u64 free0 = w.frames.free_frames();
    auto f = w.open_ok("f", O_RDWR | O_CREAT);
    ASSERT_TRUE(f->pwrite(bytes("hello"), 4094));
    TmpfsFile& t = tmpfs_file(w, "f");
    EXPECT_EQ(t.resident_pages(), 2u);
    EXPECT_EQ(w.frames.free_frames(), free0 - 2);
    // The bytes are in the frames, readable through PhysMemory::host().
    const pmap::PhysAddr p0 = t.page(0, false).value();
    const pmap::PhysAddr p1 = t.page(1, false).value();
    EXPECT_EQ(w.frames.refcount(p0), 1u);
    EXPECT_EQ(std::memcmp(w.mem.host(p0) + 4094, "he", 2), 0);
    EXPECT_EQ(std::memcmp(w.mem.host(p1), "llo", 3), 0);
    // Writing through the frame (as a shared mapping would) shows in read().
    std::memcpy(w.mem.host(p1) + 1, "LL", 2);
    EXPECT_EQ(read_at(*f, 4094, 10), "helLL");
    // A hole is ENOENT without create, a fresh zeroed frame with it.
    EXPECT_EQ(ename_of(t.page(7, false)), "ENOENT");
    const pmap::PhysAddr p7 = t.page(7, true).value();
    EXPECT_EQ(*w.mem.host(p7), std::byte{0});
    EXPECT_EQ(t.resident_pages(), 3u);
    EXPECT_EQ(t.page(7, true).value(), p7);
    f.reset();
    ASSERT_TRUE(w.vfs.unlink(w.ctx(), w.cwd(), "f"));
    EXPECT_EQ(w.frames.free_frames(), free0);
}

TEST(TmpfsFile, SparseFilesReadZerosWithoutAllocating) {
    World w;
    const u64 free0 = w.frames.free_frames();
    auto f = w.open_ok("sparse", O_RDWR | O_CREAT);
    ASSERT_TRUE(f->pwrite(bytes("end"), 100 * kPageSize));
    EXPECT_EQ(f->stat().size, 100 * kPageSize + 3);
    EXPECT_EQ(f->stat().blocks, 8u);  // one page resident
    EXPECT_EQ(w.frames.free_frames(), free0 - 1);
    std::string got = read_at(*f, 5 * kPageSize, 2 * kPageSize);
    EXPECT_EQ(got, std::string(2 * kPageSize, '\0'));
    EXPECT_EQ(w.frames.free_frames(), free0 - 1);  // reading a hole takes no frame
    EXPECT_EQ(read_at(*f, 100 * kPageSize - 1, 10), std::string("\0end", 4));
    // A file far past 4 GiB works too (no 32-bit offsets).
    ASSERT_TRUE(f->pwrite(bytes("far"), i64{1} << 40));
    EXPECT_EQ(read_at(*f, (i64{1} << 40) - 1, 8), std::string("\0far", 4));
    EXPECT_EQ(f->stat().size, (u64{1} << 40) + 3);
}

TEST(TmpfsFile, TruncateFreesPagesAndZeroesTheTail) {
    World w;
    const u64 free0 = w.frames.free_frames();
    auto f = w.open_ok("t", O_RDWR | O_CREAT);
    std::string big(3 * kPageSize, 'x');
    ASSERT_TRUE(f->write(bytes(big)));
    EXPECT_EQ(w.frames.free_frames(), free0 - 3);
    ASSERT_TRUE(f->truncate(kPageSize + 10));
    EXPECT_EQ(w.frames.free_frames(), free0 - 2);
    EXPECT_EQ(f->stat().size, kPageSize + 10);
    // Growing again shows zeros where the old data was.
    ASSERT_TRUE(f->truncate(3 * kPageSize));
    EXPECT_EQ(read_at(*f, kPageSize + 8, 4), std::string("xx\0\0", 4));
    EXPECT_EQ(w.frames.free_frames(), free0 - 2);  // growing allocates nothing
    ASSERT_TRUE(f->truncate(0));
    EXPECT_EQ(w.frames.free_frames(), free0);
    EXPECT_EQ(ename_of(f->truncate(-1)), "EINVAL");
}

TEST(TmpfsFile, FallocateModes) {
    World w;
    const u64 free0 = w.frames.free_frames();
    auto f = w.open_ok("fa", O_RDWR | O_CREAT);
    // Mode 0: allocates and extends.
    ASSERT_TRUE(f->allocate(0, 100, 2 * kPageSize));
    EXPECT_EQ(f->stat().size, 100 + 2 * kPageSize);
    EXPECT_EQ(w.frames.free_frames(), free0 - 3);
    EXPECT_EQ(read_at(*f, 0, 5), std::string(5, '\0'));
    // KEEP_SIZE: allocates past the end without changing the size.
    ASSERT_TRUE(f->allocate(FALLOC_FL_KEEP_SIZE, 10 * kPageSize, kPageSize));
    EXPECT_EQ(f->stat().size, 100 + 2 * kPageSize);
    EXPECT_EQ(f->stat().blocks, 4 * 8u);
    // PUNCH_HOLE|KEEP_SIZE: whole pages go, partial ones are zeroed.
    std::string data(3 * kPageSize, 'd');
    ASSERT_TRUE(f->pwrite(bytes(data), 0));
    ASSERT_TRUE(f->allocate(FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 10, 2 * kPageSize));
    EXPECT_EQ(read_at(*f, 8, 4), std::string("dd\0\0", 4));
    EXPECT_EQ(read_at(*f, 2 * kPageSize + 8, 4), std::string("\0\0dd", 4));
    EXPECT_EQ(ename_of(tmpfs_file(w, "fa").page(1, false)), "ENOENT");
    EXPECT_EQ(f->stat().size, 3 * kPageSize);
    // Punching inside one page only zeroes.
    ASSERT_TRUE(f->allocate(FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 2 * kPageSize + 100, 8));
    EXPECT_EQ(read_at(*f, 2 * kPageSize + 99, 10), std::string("d\0\0\0\0\0\0\0\0d", 10));
    // Errors as vfs_fallocate and shmem_fallocate give them.
    EXPECT_EQ(ename_of(f->allocate(FALLOC_FL_PUNCH_HOLE, 0, 1)), "EOPNOTSUPP");
    EXPECT_EQ(ename_of(f->allocate(FALLOC_FL_ZERO_RANGE, 0, 1)), "EOPNOTSUPP");
    EXPECT_EQ(ename_of(f->allocate(FALLOC_FL_COLLAPSE_RANGE | FALLOC_FL_KEEP_SIZE, 0, 1)), "EINVAL");
    EXPECT_EQ(ename_of(f->allocate(0, -1, 1)), "EINVAL");
    EXPECT_EQ(ename_of(f->allocate(0, 0, 0)), "EINVAL");
    EXPECT_EQ(ename_of(f->allocate(0, INT64_MAX, 2)), "EFBIG");
    EXPECT_EQ(ename_of(f->allocate(0x1000, 0, 1)), "EOPNOTSUPP");
    auto ro = w.open_ok("fa", O_RDONLY);
    EXPECT_EQ(ename_of(ro->allocate(0, 0, 1)), "EBADF");
    f.reset();
    ro.reset();
    ASSERT_TRUE(w.vfs.unlink(w.ctx(), w.cwd(), "fa"));
    EXPECT_EQ(w.frames.free_frames(), free0);
}

TEST(TmpfsFile, SeekDataAndHole) {
    World w;
    auto f = w.open_ok("s", O_RDWR | O_CREAT);
    ASSERT_TRUE(f->pwrite(bytes("a"), 2 * kPageSize + 5));  // page 2 resident
    ASSERT_TRUE(f->pwrite(bytes("b"), 5 * kPageSize));      // page 5 resident, size 5p+1
    EXPECT_EQ(f->lseek(0, SEEK_DATA).value(), static_cast<i64>(2 * kPageSize));
    EXPECT_EQ(f->lseek(2 * kPageSize + 7, SEEK_DATA).value(), static_cast<i64>(2 * kPageSize + 7));
    EXPECT_EQ(f->lseek(3 * kPageSize, SEEK_DATA).value(), static_cast<i64>(5 * kPageSize));
    EXPECT_EQ(f->lseek(0, SEEK_HOLE).value(), 0);
    EXPECT_EQ(f->lseek(2 * kPageSize + 1, SEEK_HOLE).value(), static_cast<i64>(3 * kPageSize));
    // The end of file counts as a hole.
    EXPECT_EQ(f->lseek(5 * kPageSize, SEEK_HOLE).value(), static_cast<i64>(5 * kPageSize + 1));
    EXPECT_EQ(ename_of(f->lseek(5 * kPageSize + 1, SEEK_DATA)), "ENXIO");
    EXPECT_EQ(ename_of(f->lseek(5 * kPageSize + 1, SEEK_HOLE)), "ENXIO");
    EXPECT_EQ(ename_of(f->lseek(-1, SEEK_DATA)), "ENXIO");
    // Data only past the end (fallocate KEEP_SIZE) is not data.
    auto g = w.open_ok("k", O_RDWR | O_CREAT);
    ASSERT_TRUE(g->truncate(10));
    ASSERT_TRUE(g->allocate(FALLOC_FL_KEEP_SIZE, kPageSize, kPageSize));
    EXPECT_EQ(ename_of(g->lseek(0, SEEK_DATA)), "ENXIO");
}

TEST(TmpfsFile, OutOfFramesIsEnospcAndPartialWritesWin) {
    World w(64);  // 64 frames in all
    const u64 free0 = w.frames.free_frames();
    auto f = w.open_ok("big", O_RDWR | O_CREAT);
    std::string chunk(16 * kPageSize, 'z');
    u64 total = 0;
    for (;;) {
        auto n = f->write(bytes(chunk));
        if (!n) {
            EXPECT_EQ(ename_of(n), "ENOSPC");
            break;
        }
        total += *n;
        ASSERT_LE(total, 64 * kPageSize);
    }
    // The default size limit is half of the frames, as on Linux.
    EXPECT_EQ(total, 32 * kPageSize);
    EXPECT_EQ(w.tmpfs->pages_used(), 32u);
    StatFs s = w.vfs.statfs_of(w.path("."));
    EXPECT_EQ(s.type, kTmpfsMagic);
    EXPECT_EQ(s.blocks, 32u);
    EXPECT_EQ(s.bfree, 0u);
    // fallocate that cannot finish undoes its own allocations.
    ASSERT_TRUE(f->truncate(20 * kPageSize));
    const u64 used = w.tmpfs->pages_used();
    auto g = w.open_ok("g", O_RDWR | O_CREAT);
    EXPECT_EQ(ename_of(g->allocate(0, 0, 30 * kPageSize)), "ENOSPC");
    EXPECT_EQ(w.tmpfs->pages_used(), used);
    EXPECT_EQ(g->stat().size, 0u);
    f.reset();
    g.reset();
    ASSERT_TRUE(w.vfs.unlink(w.ctx(), w.cwd(), "big"));
    ASSERT_TRUE(w.vfs.unlink(w.ctx(), w.cwd(), "g"));
    EXPECT_EQ(w.frames.free_frames(), free0);
}

TEST(TmpfsFile, FrameAllocatorExhaustionBeforeTheLimit) {
    World w(64, TmpfsOptions{.max_pages = 1000});
    // Another user of guest memory takes most frames.
    std::vector<pmap::PhysAddr> taken;
    while (w.frames.free_frames() > 3) taken.push_back(w.frames.alloc().value());
    auto f = w.open_ok("x", O_RDWR | O_CREAT);
    std::string data(5 * kPageSize, 'q');
    EXPECT_EQ(f->write(bytes(data)).value(), 3 * kPageSize);
    EXPECT_EQ(ename_of(f->write(bytes(data))), "ENOSPC");
    EXPECT_EQ(ename_of(tmpfs_file(w, "x").page(9, true)), "ENOMEM");
    for (auto pa : taken) w.frames.unref(pa);
}

TEST(TmpfsFile, FramesOfUnlinkedOpenFilesLiveUntilClose) {
    World w;
    const u64 free0 = w.frames.free_frames();
    auto f = w.open_ok("u", O_RDWR | O_CREAT);
    ASSERT_TRUE(f->write(bytes(std::string(2 * kPageSize, 'u'))));
    ASSERT_TRUE(w.vfs.unlink(w.ctx(), w.cwd(), "u"));
    EXPECT_EQ(f->stat().nlink, 0u);
    EXPECT_EQ(read_at(*f, 0, 2), "uu");
    EXPECT_EQ(w.frames.free_frames(), free0 - 2);
    // A mapping's own reference keeps a frame after the file lets it go.
    const pmap::PhysAddr pa = f->inode().page(0, false).value();
    w.frames.ref(pa);
    f.reset();
    EXPECT_EQ(w.frames.free_frames(), free0 - 1);
    EXPECT_EQ(w.frames.unref(pa), 0u);
    EXPECT_EQ(w.frames.free_frames(), free0);
}

TEST(TmpfsFile, WholeTreeReleasedWithTheFilesystem) {
    World w(256);
    const u64 free0 = w.frames.free_frames();
    auto t2 = Tmpfs::create(w.frames);
    w.mkdir_ok("mnt");
    ASSERT_TRUE(w.vfs.mount(w.ctx(), w.cwd(), "mnt", t2, 0, "tmpfs"));
    w.mkdir_ok("mnt/d");
    w.mkdir_ok("mnt/d/e");
    w.write_file("mnt/d/e/f", std::string(3 * kPageSize, 'f'));
    w.write_file("mnt/d/g", "g");
    ASSERT_TRUE(w.vfs.link(w.ctx(), w.cwd(), "mnt/d/g", w.cwd(), "mnt/h", 0));
    EXPECT_EQ(w.frames.free_frames(), free0 - 4);
    EXPECT_EQ(t2->inodes_used(), 5u);
    ASSERT_TRUE(w.vfs.umount(w.ctx(), w.cwd(), "mnt", 0));
    EXPECT_EQ(w.frames.free_frames(), free0 - 4);  // t2 still holds it
    t2.reset();
    EXPECT_EQ(w.frames.free_frames(), free0);
}

TEST(TmpfsFile, DeepTreesAreTornDownWithoutRecursion) {
    // Deeper than any fiber stack would survive if destruction recursed.
    World w(64, TmpfsOptions{.max_inodes = 300000});
    constexpr int kDepth = 100000;
    Path cur = w.path(".");
    for (int i = 0; i < kDepth; ++i) {
        ASSERT_TRUE(w.vfs.mkdir(w.ctx(), cur, "d", 0755));
        cur = w.vfs.resolve(w.ctx(), cur, "d", 0).value();
    }
    w.fs.cwd = cur;  // a dentry chain kDepth long
    EXPECT_EQ(w.tmpfs->inodes_used(), static_cast<u64>(kDepth) + 1);
    cur = Path{};
    w.fs.cwd = w.fs.root;  // drops the dentry chain
    ASSERT_TRUE(w.vfs.rename(w.ctx(), w.cwd(), "d", w.cwd(), "gone", 0));
    // Destroying World drops the root: the inode tree goes iteratively.
}

}  // namespace
}  // namespace vk::fs::test
